package party_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/internal/fixtures"
	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/server/metrics"
	"github.com/duetwallet/duet/server/party"
	"github.com/duetwallet/duet/server/store"
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
// server's new modulus is revealed: a device that leaves before its
// commitment reached the server takes no pair, however often it does so;
// the pair is spent only once revealed.
func TestPrimesReturnedWhenDeviceLeaves(t *testing.T) {
	c := newReplicas(t, filepath.Join(t.TempDir(), "duet.db"), 1)
	r := c.r[0]
	pool, feed := newFixturePool(t, 4)
	src := &poolTakes{PrimePool: pool}
	r.handler.Primes = src
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
	taken := src.taken.Load()
	target := replicaURL(r)
	// Messages of a refresh session: 1 Hello, 2 Welcome, 3 the device's
	// commitment, which the server waits for before it takes a pair; then
	// 4 ours, and the two openings in either order. Cut at 2 or 3, the
	// device's commitment never reaches the server: a client that opens and
	// abandons refreshes again and again takes nothing from the pool.
	for _, cut := range []int64{2, 3, 3, 3, 3, 3} {
		proxy := httptest.NewServer(&cutProxy{target: target, cutAt: cut})
		if _, err := withURL(dev, proxy.URL).Refresh(ctx(t)); err == nil {
			t.Fatalf("refresh cut at message %d succeeded", cut)
		}
		<-r.done
		proxy.Close()
		if n, took := pool.Len(), src.taken.Load()-taken; n != 2 || took != 0 {
			t.Fatalf("refresh cut at message %d: %d pairs in the pool and %d taken, want 2 and none", cut, n, took)
		}
	}
	// Cut at 6, both openings have been sent: the modulus went out.
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

// poolTakes counts the pairs sessions take from a pool and tells
// waiting of each session that asks for one.
type poolTakes struct {
	*party.PrimePool
	taken   atomic.Int64
	waiting chan struct{} // if set, gets a value as a session asks (never blocks)
}

func (c *poolTakes) Primes(ctx context.Context) (*mpc.Primes, error) {
	if c.waiting != nil {
		select {
		case c.waiting <- struct{}{}:
		default:
		}
	}
	p, err := c.PrimePool.Primes(ctx)
	if err == nil {
		c.taken.Add(1)
	}
	return p, err
}

// refreshWallet creates a signing-ready wallet on r through a device of
// c and returns the wallet and the generation the device holds.
func refreshWallet(t *testing.T, c *replicas, r *replica) (store.Wallet, *bridge.Device) {
	t.Helper()
	dev := c.device(r.srv.URL, nil)
	if _, err := keygenReady(ctx(t), dev); err != nil {
		t.Fatal(err)
	}
	<-r.done
	<-r.done
	return c.wallet(), dev
}

// openRefresh starts a refresh of w by hand: Hello, then the server's
// Welcome. It returns the socket and the session id of the run.
func openRefresh(t *testing.T, c *replicas, r *replica, w store.Wallet) (*websocket.Conn, []byte) {
	t.Helper()
	nonce := make([]byte, 32)
	rand.Read(nonce)
	ds, err := r.handler.Store.Devices(ctx(t), w.ID)
	if err != nil || len(ds) != 1 {
		t.Fatalf("the wallet's devices: %v, %v; want one", ds, err)
	}
	device, err := hex.DecodeString(ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	hello := &wire.Hello{APIKey: c.client, Op: wire.OpRefresh, Nonce: nonce, Gens: wire.Generations{Active: w.ActiveGeneration}, Device: device}
	ws, f := openSession(t, r, hello)
	welcome, err := wire.ParseWelcome(f)
	if err != nil {
		t.Fatalf("refresh: want Welcome: %v", err)
	}
	return ws, mpc.NewSessionID(mpc.ProtocolRefresh, w.ID, w.ActiveGeneration, mpc.Device, nonce, mpc.Server, welcome.Nonce)
}

// commitment is a round-1 refresh message of the device: the server
// checks only its envelope and size before it answers.
func commitment(sid []byte) *wire.Frame {
	v := make([]byte, 32)
	rand.Read(v)
	return wire.MPCFrame(&mpc.Message{SessionID: sid, Protocol: mpc.ProtocolRefresh, Round: 1, From: mpc.Device, Payload: v})
}

// readError reads frames until the server's Error frame and returns its
// code ("" if the socket closed without one).
func readError(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	for {
		_, b, err := ws.Read(ctx(t))
		if err != nil {
			return ""
		}
		f, err := wire.ParseFrame(b)
		if err != nil {
			t.Fatal(err)
		}
		if f.Type == wire.TypeError {
			e, err := wire.ParseError(f)
			if err != nil {
				t.Fatal(err)
			}
			// Gone without the close handshake, which the server
			// would otherwise wait for.
			ws.CloseNow()
			return e.Code
		}
	}
}

// TestPrimesTakenAfterCommitment: the server takes a pair from the pool
// only once the device's first protocol message has arrived. A device that
// says Hello and leaves, or whose first frame is not a protocol message,
// takes none; one whose first message fails the protocol's checks gives
// the pair back. The pool is as full after each as before.
func TestPrimesTakenAfterCommitment(t *testing.T) {
	c := newReplicas(t, filepath.Join(t.TempDir(), "duet.db"), 1)
	r := c.r[0]
	pool, feed := newFixturePool(t, 4)
	src := &poolTakes{PrimePool: pool}
	r.handler.Primes = src
	for _, i := range []int{0, 1, 0} {
		feed <- i
	}
	waitLen(t, pool, 3)
	w, _ := refreshWallet(t, c, r)
	level, taken := pool.Len(), src.taken.Load()
	cases := []struct {
		name  string
		first func(sid []byte) []byte // nil: leave after Welcome
		code  string
		takes int64
	}{
		{"hello and leave", nil, "", 0},
		{"another frame type", func([]byte) []byte {
			return (&wire.Ack{Gen: w.ActiveGeneration, Digest: make([]byte, 32)}).Frame().Marshal()
		}, wire.CodeBadFrame, 0},
		{"no frame at all", func([]byte) []byte { return []byte{0xff, 0, 1} }, wire.CodeBadFrame, 0},
		{"not a protocol message", func([]byte) []byte {
			return (&wire.Frame{Type: wire.TypeMPC, Body: []byte("not a message")}).Marshal()
		}, wire.CodeBadFrame, 0},
		{"round 2 first", func(sid []byte) []byte {
			return wire.MPCFrame(&mpc.Message{SessionID: sid, Protocol: mpc.ProtocolRefresh, Round: 2, From: mpc.Device, Payload: []byte{1}}).Marshal()
		}, wire.CodeProtocolAbort, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ws, sid := openRefresh(t, c, r, w)
			code := ""
			if tc.first == nil {
				ws.CloseNow()
			} else {
				if err := ws.Write(ctx(t), websocket.MessageBinary, tc.first(sid)); err != nil {
					t.Fatal(err)
				}
				code = readError(t, ws)
			}
			<-r.done
			if code != tc.code {
				t.Errorf("the server answered %q, want %q", code, tc.code)
			}
			if got := src.taken.Load() - taken; got != tc.takes {
				t.Errorf("the session took %d pairs, want %d", got, tc.takes)
			}
			taken = src.taken.Load()
			if n := pool.Len(); n != level {
				t.Errorf("%d pairs in the pool after the session, want %d", n, level)
			}
		})
	}
	if after := c.wallet(); after.ActiveGeneration != w.ActiveGeneration || after.PendingGeneration != 0 {
		t.Errorf("the wallet moved: %+v, want generation %d and nothing pending", after, w.ActiveGeneration)
	}
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

// stallingStore holds a session that counts a prime pair against its
// client's limit (the store's "primes" events) until the session's context
// ends, and tells entered when one does.
type stallingStore struct {
	store.Store
	stall   atomic.Bool
	entered chan struct{}
}

func (s *stallingStore) TakeEvent(ctx context.Context, kind, subject string, now time.Time, limit int, window time.Duration) (time.Time, error) {
	if kind == "primes" && s.stall.Load() {
		s.entered <- struct{}{}
		<-ctx.Done()
		return time.Time{}, ctx.Err()
	}
	return s.Store.TakeEvent(ctx, kind, subject, now, limit, window)
}

// TestSessionEndsWhenSocketDies: a device that closes its socket while the
// server, reading nothing from it, waits for a prime pair or for the store
// ends its session there and then: the session gives back the pair it
// took, its slot among its client's sessions and the wallet's lock. Without
// that, each wait here would last as long as the test.
func TestSessionEndsWhenSocketDies(t *testing.T) {
	c := newReplicas(t, filepath.Join(t.TempDir(), "duet.db"), 1)
	r := c.r[0]
	reg := metrics.New()
	r.handler.Metrics = reg.Sessions
	r.handler.MaxSessionsPerClient = 1
	pool, feed := newFixturePool(t, 4)
	src := &poolTakes{PrimePool: pool, waiting: make(chan struct{}, 16)}
	r.handler.Primes = src
	st := &stallingStore{Store: r.store, entered: make(chan struct{})}
	r.handler.Store = st
	feed <- 0
	waitLen(t, pool, 1)
	w, dev := refreshWallet(t, c, r)
	if n := pool.Len(); n != 0 {
		t.Fatalf("%d pairs left after the creation, want none", n)
	}

	// released checks that the session left the wallet's lock and its
	// client's slot free, and the pool at level pairs.
	released := func(t *testing.T, level int) {
		t.Helper()
		if err := r.store.LockWallet(ctx(t), w.ID, "probe", time.Minute); err != nil {
			t.Errorf("the wallet's lock is still held: %v", err)
		} else if err := r.store.UnlockWallet(ctx(t), w.ID, "probe"); err != nil {
			t.Fatal(err)
		}
		slot, err := r.store.TakeSessionSlot(ctx(t), c.clientID, "probe", 1, time.Minute)
		if err != nil {
			t.Errorf("the client's only session slot is still taken: %v", err)
		} else if err := r.store.ReleaseSessionSlot(ctx(t), c.clientID, slot, "probe"); err != nil {
			t.Fatal(err)
		}
		if n := pool.Len(); n != level {
			t.Errorf("%d pairs in the pool, want %d", n, level)
		}
	}

	t.Run("waiting for a prime pair", func(t *testing.T) {
		for len(src.waiting) > 0 {
			<-src.waiting
		}
		ws, sid := openRefresh(t, c, r, w)
		if err := ws.Write(ctx(t), websocket.MessageBinary, commitment(sid).Marshal()); err != nil {
			t.Fatal(err)
		}
		<-src.waiting // the pool is empty: the session waits
		ws.CloseNow()
		<-r.done
		if n := src.taken.Load(); n != 1 {
			t.Fatalf("%d pairs taken, want only the creation's", n)
		}
		released(t, 0)
	})

	t.Run("waiting for the store", func(t *testing.T) {
		feed <- 1
		waitLen(t, pool, 1)
		st.stall.Store(true)
		defer st.stall.Store(false)
		ws, sid := openRefresh(t, c, r, w)
		if err := ws.Write(ctx(t), websocket.MessageBinary, commitment(sid).Marshal()); err != nil {
			t.Fatal(err)
		}
		// The server took the pair and committed to it.
		_, b, err := ws.Read(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		f, err := wire.ParseFrame(b)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := wire.ParseMPC(f); err != nil || m.Protocol != mpc.ProtocolRefresh || m.Round != 1 {
			t.Fatalf("the server's answer to the commitment: %v, %v", m, err)
		}
		if n := src.taken.Load(); n != 2 {
			t.Fatalf("%d pairs taken, want the creation's and this session's", n)
		}
		<-st.entered
		ws.CloseNow()
		<-r.done
		released(t, 1)
	})

	if got := scrape(t, reg); !strings.Contains(got, `duet_sessions_total{operation="refresh",outcome="disconnected"} 2`) {
		t.Errorf("metrics do not count two disconnected refreshes:\n%s", grepLines(got, "duet_sessions_total"))
	}
	// The wallet refreshes with the pair the second session gave back.
	info, err := dev.Refresh(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	<-r.done
	if n := pool.Len(); n != 0 {
		t.Errorf("%d pairs in the pool after the refresh, want none", n)
	}
	mustSign(t, dev, info.Address, "after the dead sockets")
}

// grepLines returns the lines of text that contain substr.
func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
