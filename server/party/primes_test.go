package party_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/internal/fixtures"
	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/server/party"
	"github.com/duetwallet/duet/wire"
)

// newFixturePool is a PrimePool whose one worker hands out the fixture
// pairs it is fed on the returned channel, and nothing else.
func newFixturePool(t *testing.T, size int) (*party.PrimePool, chan<- int) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	feed := make(chan int)
	pool := party.NewPrimePool(ctx, party.PrimePoolConfig{Size: size, Workers: 1, Generate: func(ctx context.Context) (*mpc.Primes, error) {
		select {
		case i := <-feed:
			p, q := fixtures.SafePrimePair(i)
			return &mpc.Primes{P: p, Q: q}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}})
	return pool, feed
}

// TestPrimesReturnedWhenDeviceLeaves cuts refreshes before and after the
// server's new modulus is revealed: a device that leaves before gets the
// pair back to the pool, however often it does so; the pair is spent only
// once revealed.
func TestPrimesReturnedWhenDeviceLeaves(t *testing.T) {
	c := newReplicas(t, filepath.Join(t.TempDir(), "duet.db"), 1)
	r := c.r[0]
	pool, feed := newFixturePool(t, 4)
	r.handler.Primes = pool
	// Three pairs, then the worker waits on the feed for good.
	for _, i := range []int{0, 1, 0} {
		feed <- i
	}
	waitLen(t, pool, 3)
	dev := c.device(r.srv.URL, nil)
	// Key generation and its aux-info: two sessions, one pair.
	if _, err := keygenReady(ctx(t), dev); err != nil {
		t.Fatal(err)
	}
	<-r.done
	<-r.done
	if n := pool.Len(); n != 2 {
		t.Fatalf("after a creation: %d pairs in the pool, want 2", n)
	}
	target := replicaURL(r)
	// Messages of a refresh session: 1 Hello, 2 Welcome, then our
	// commitment and the device's, in either order; once the device's has
	// reached the server, our opening reveals the modulus. Cut at 2 or 3,
	// nothing of the device's refresh reaches the server: a client that
	// opens and abandons refreshes again and again drains nothing.
	for _, cut := range []int64{2, 3, 3, 3, 3, 3} {
		proxy := httptest.NewServer(&cutProxy{target: target, cutAt: cut})
		if _, err := withURL(dev, proxy.URL).Refresh(ctx(t)); err == nil {
			t.Fatalf("refresh cut at message %d succeeded", cut)
		}
		<-r.done
		proxy.Close()
		if n := pool.Len(); n != 2 {
			t.Fatalf("refresh cut at message %d: %d pairs in the pool, want 2", cut, n)
		}
	}
	// Cut at 6, both commitments have crossed: the modulus went out.
	proxy := httptest.NewServer(&cutProxy{target: target, cutAt: 6})
	defer proxy.Close()
	if _, err := withURL(dev, proxy.URL).Refresh(ctx(t)); err == nil {
		t.Fatal("refresh cut at message 6 succeeded")
	}
	<-r.done
	if n := pool.Len(); n != 1 {
		t.Fatalf("refresh cut after the modulus went out: %d pairs in the pool, want 1", n)
	}
	// The wallet still refreshes and signs, with the pool's last pair.
	info, err := dev.Refresh(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	<-r.done
	mustSign(t, dev, info.Address, "after the cuts")
}

// waitLen waits until the pool holds n pairs (its worker fills it in the
// background).
func waitLen(t *testing.T, pool *party.PrimePool, n int) {
	t.Helper()
	for pool.Len() < n {
		select {
		case <-ctx(t).Done():
			t.Fatalf("pool stuck at %d pairs, want %d", pool.Len(), n)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestPrimePairLimit: a client's sessions reveal at most PrimePairs new
// Paillier keys per window; the session over the limit is refused before
// the server's modulus goes out, and the wallet is unharmed.
func TestPrimePairLimit(t *testing.T) {
	e := newEnvWith(t, envConfig{limits: party.Limits{ShareChanges: 100, Aborts: 100, PrimePairs: 2}})
	dev := e.newDevice(e.srv.URL)
	// The aux-info after key generation reveals the first key.
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Refresh(ctx(t)); err != nil {
		t.Fatal(err)
	}
	_, err = dev.Refresh(ctx(t))
	if bridge.Code(err) != wire.CodeRateLimited {
		t.Fatalf("third new Paillier key: %v, want RATE_LIMITED", err)
	}
	w, err := e.store.WalletByClient(ctx(t), e.clientID)
	if err != nil || w.ActiveGeneration != 3 || w.PendingGeneration != 0 {
		t.Fatalf("after the refusal: %+v %v", w, err)
	}
	mustSign(t, dev, info.Address, "after the refusal")
}
