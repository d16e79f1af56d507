package bridge

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/duetwallet/duet/internal/fixtures"
	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/paillier"
)

func fixtureKey(t *testing.T, i int) *paillier.SecretKey {
	t.Helper()
	sk, err := paillier.NewSecretKey(fixtures.SafePrimePair(i))
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

// TestDropNoncesOfRetiredShare: retiring a share wipes the module's nonces
// under its two keys, keeps those of a key the new share still uses, and
// leaves other keys' pools alone.
func TestDropNoncesOfRetiredShare(t *testing.T) {
	nonces.mu.Lock()
	saved := nonces.pools
	nonces.pools = nil
	nonces.mu.Unlock()
	t.Cleanup(func() {
		nonces.mu.Lock()
		nonces.pools = saved
		nonces.mu.Unlock()
	})
	k := []*paillier.SecretKey{fixtureKey(t, 0), fixtureKey(t, 1), fixtureKey(t, 2), fixtureKey(t, 3)}
	share := func(own, peer int) *mpc.KeyShare {
		return &mpc.KeyShare{Aux: &mpc.Aux{Paillier: k[own], PeerPaillier: k[peer].PublicKey}}
	}
	pools := make([]*paillier.NoncePool, len(k))
	for i, sk := range k {
		pools[i] = noncePool(sk.PublicKey, 1)
		if n, err := pools[i].Fill(context.Background(), rand.Reader); err != nil || n != 1 {
			t.Fatalf("fill %d: %d, %v", i, n, err)
		}
	}
	// The retired share used keys 0 (own) and 1 (the peer's); the new one
	// keeps the peer's key 1 and has its own key 2. Key 3 is no share's.
	dropNonces(share(0, 1), share(2, 1))
	for i, want := range []int{0, 1, 1, 1} {
		if got := pools[i].Len(); got != want {
			t.Errorf("pool of key %d holds %d nonces, want %d", i, got, want)
		}
	}
	if len(nonces.pools) != 3 {
		t.Errorf("the module keeps %d pools, want 3", len(nonces.pools))
	}
	// A removed device keeps nothing of its share.
	dropNonces(share(2, 1), nil)
	if pools[1].Len() != 0 || pools[2].Len() != 0 || pools[3].Len() != 1 {
		t.Errorf("after removal: %d %d %d nonces, want 0 0 1", pools[1].Len(), pools[2].Len(), pools[3].Len())
	}
	// A share without aux-info has no nonces.
	dropNonces(&mpc.KeyShare{}, nil)
	if pools[3].Len() != 1 {
		t.Error("a share without aux-info dropped another key's nonces")
	}
}
