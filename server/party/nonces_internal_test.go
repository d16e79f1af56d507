package party

import (
	"math/big"
	"testing"
	"time"

	"github.com/duetwallet/duet/internal/fixtures"
	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/paillier"
)

func fixtureKey(t *testing.T, i int) *paillier.SecretKey {
	t.Helper()
	p, q := fixtures.SafePrimePair(i)
	sk, err := paillier.NewSecretKey(p, q)
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

// auxShare is a share with only the Paillier keys that the nonces need.
func auxShare(own *paillier.SecretKey, peer *paillier.PublicKey) *mpc.KeyShare {
	return &mpc.KeyShare{Aux: &mpc.Aux{Paillier: own, PeerPaillier: peer}}
}

// waitFills waits for the background filler to finish its queue.
func waitFills(t *testing.T, h *Handler) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		h.nonces.mu.Lock()
		running := h.nonces.running
		h.nonces.mu.Unlock()
		if !running {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("nonce fills still running after two minutes")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNonceRegistry(t *testing.T) {
	h := &Handler{}
	server, device, other := fixtureKey(t, 0), fixtureKey(t, 1), fixtureKey(t, 2)
	share := auxShare(server, device.Public())
	peer, own := h.noncePools(share)
	if peer == nil || own == nil || !peer.PublicKey().Equal(device.Public()) || !own.PublicKey().Equal(server.Public()) {
		t.Fatal("the pools are not of the share's two keys")
	}
	if peer.Cap() != mpc.PeerNoncesPerRun || own.Cap() != mpc.OwnNoncesPerRun {
		t.Fatalf("pool sizes %d and %d, want one run's", peer.Cap(), own.Cap())
	}
	// Another share of the same keys (the next session's) finds the same
	// pools; a wallet with another device key gets its own.
	sameKeys := auxShare(fixtureKey(t, 0), device.Public())
	if p2, o2 := h.noncePools(sameKeys); p2 != peer || o2 != own {
		t.Fatal("one key maps to two pools")
	}
	if p3, _ := h.noncePools(auxShare(server, other.Public())); p3 == peer {
		t.Fatal("two device keys share a pool")
	}
	h.fillNonces(share)
	h.fillNonces(sameKeys)
	waitFills(t, h)
	if peer.Len() != mpc.PeerNoncesPerRun || own.Len() != mpc.OwnNoncesPerRun {
		t.Fatalf("after filling: %d and %d nonces", peer.Len(), own.Len())
	}
	if p, o := (&Handler{Nonces: -1}).noncePools(share); p != nil || o != nil {
		t.Fatal("a handler with Nonces < 0 keeps nonces")
	}
	if (&Handler{Nonces: 2}).nonceRuns() != 2 || (&Handler{}).nonceRuns() != 1 {
		t.Fatal("Nonces does not set the runs' worth kept")
	}
}

func TestNonceRegistryBounded(t *testing.T) {
	h := &Handler{}
	first := fixtureKey(t, 0).Public()
	r := &h.nonces
	r.mu.Lock()
	defer r.mu.Unlock()
	p0 := r.poolLocked(first, 1, false)
	n := new(big.Int).Set(first.N())
	for range maxNonceKeys {
		n.Add(n, big.NewInt(2))
		pk, err := paillier.NewPublicKey(n)
		if err != nil {
			t.Fatal(err)
		}
		r.poolLocked(pk, 1, false)
	}
	if len(r.pools) != maxNonceKeys || len(r.order) != maxNonceKeys {
		t.Fatalf("registry holds %d keys, want %d", len(r.pools), maxNonceKeys)
	}
	if r.poolLocked(first, 1, false) == p0 {
		t.Fatal("the least recently used key was not dropped")
	}
}
