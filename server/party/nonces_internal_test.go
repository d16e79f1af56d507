package party

import (
	"math/big"
	"testing"
	"time"

	"github.com/duetwallet/duet/internal/fixtures"
	"github.com/duetwallet/duet/mpc/paillier"
)

func fixtureKey(t *testing.T, i int) *paillier.PublicKey {
	t.Helper()
	p, q := fixtures.SafePrimePair(i)
	pk, err := paillier.NewPublicKey(new(big.Int).Mul(p, q))
	if err != nil {
		t.Fatal(err)
	}
	return pk
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
	h := &Handler{Nonces: 2}
	k0, k1 := fixtureKey(t, 0), fixtureKey(t, 1)
	same, err := paillier.NewPublicKey(k0.N())
	if err != nil {
		t.Fatal(err)
	}
	p0 := h.noncePool(k0)
	if p0 == nil || h.noncePool(same) != p0 || !p0.PublicKey().Equal(k0) || p0.Cap() != 2 {
		t.Fatal("one N does not map to one pool of its key")
	}
	if p1 := h.noncePool(k1); p1 == p0 || !p1.PublicKey().Equal(k1) {
		t.Fatal("two keys share a pool")
	}
	h.fillNonces(k0)
	h.fillNonces(same)
	waitFills(t, h)
	if p0.Len() != 2 || h.noncePool(k1).Len() != 0 {
		t.Fatalf("after filling k0: k0 holds %d, k1 %d; want 2 and 0", p0.Len(), h.noncePool(k1).Len())
	}
	if none := (&Handler{Nonces: -1}); none.noncePool(k0) != nil {
		t.Fatal("a handler with Nonces < 0 keeps nonces")
	}
	if (&Handler{}).nonceCount() != defaultNonces {
		t.Fatal("the default count is not used")
	}
}

func TestNonceRegistryBounded(t *testing.T) {
	h := &Handler{Nonces: 1}
	k0 := fixtureKey(t, 0)
	first := h.noncePool(k0)
	n := new(big.Int).Set(k0.N())
	for range maxNonceKeys {
		n.Add(n, big.NewInt(2))
		pk, err := paillier.NewPublicKey(n)
		if err != nil {
			t.Fatal(err)
		}
		h.noncePool(pk)
	}
	if len(h.nonces.pools) != maxNonceKeys || len(h.nonces.order) != maxNonceKeys {
		t.Fatalf("registry holds %d keys, want %d", len(h.nonces.pools), maxNonceKeys)
	}
	if h.noncePool(k0) == first {
		t.Fatal("the least recently used key was not dropped")
	}
}
