package party_test

import (
	"context"
	"crypto/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/server/internal/pgtest"
	"github.com/duetwallet/duet/server/party"
	"github.com/duetwallet/duet/wire"
)

// clock is a settable clock for the limits.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingPrimes counts the safe-prime pairs the server takes.
type countingPrimes struct {
	fixturePrimes
	taken atomic.Int64
}

func (c *countingPrimes) Primes(ctx context.Context) (*mpc.Primes, error) {
	c.taken.Add(1)
	return c.fixturePrimes.Primes(ctx)
}

func wsURL(e *env) string { return "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/v1/session" }

// rawSession opens a session with a hand-made Hello and returns the socket.
func rawSession(t *testing.T, e *env, hello *wire.Hello) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(ctx(t), wsURL(e), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	c.SetReadLimit(-1)
	if err := c.Write(ctx(t), websocket.MessageBinary, hello.Frame().Marshal()); err != nil {
		t.Fatal(err)
	}
	return c
}

// readUntilError reads frames until the server's Error frame and returns it,
// or nil if the socket closes first.
func readUntilError(t *testing.T, c *websocket.Conn) *wire.Error {
	t.Helper()
	for {
		_, b, err := c.Read(ctx(t))
		if err != nil {
			return nil
		}
		f, err := wire.ParseFrame(b)
		if err != nil {
			t.Fatalf("server sent a frame that does not decode: %v", err)
		}
		if f.Type == wire.TypeError {
			e, err := wire.ParseError(f)
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
	}
}

// signHello opens a signing session of e's client with the wallet's active
// generation.
func signHello(t *testing.T, e *env) *wire.Hello {
	t.Helper()
	w, err := e.store.WalletByClient(ctx(t), e.clientID)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, 32)
	rand.Read(nonce)
	return &wire.Hello{APIKey: e.client, Op: wire.OpSign, Nonce: nonce, Gens: wire.Generations{Active: w.ActiveGeneration}, Digest: make([]byte, 32), Device: onlyDevice(t, e)}
}

// badFrame opens a signing session and answers the server's first protocol
// message with a frame that does not decode: one abort the client caused.
func badFrame(t *testing.T, e *env) {
	t.Helper()
	c := rawSession(t, e, signHello(t, e))
	_, b, err := c.Read(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if f, err := wire.ParseFrame(b); err != nil || f.Type != wire.TypeWelcome {
		t.Fatalf("first frame: %v, %v; want welcome", f, err)
	}
	garbage := (&wire.Frame{Type: wire.TypeMPC, Body: []byte{1, 2, 3}}).Marshal()
	if err := c.Write(ctx(t), websocket.MessageBinary, garbage); err != nil {
		t.Fatal(err)
	}
	if we := readUntilError(t, c); we == nil || we.Code != wire.CodeBadFrame {
		t.Fatalf("bad frame answered with %v, want %s", we, wire.CodeBadFrame)
	}
}

// notBlamed runs sessions that fail without the client being to blame for
// an abort: a dropped socket, a bad argument, and the device's own Error
// frame.
func notBlamed(t *testing.T, e *env) {
	t.Helper()
	c := rawSession(t, e, signHello(t, e))
	if _, _, err := c.Read(ctx(t)); err != nil {
		t.Fatal(err)
	}
	c.CloseNow()

	h := signHello(t, e)
	h.Digest = h.Digest[:31]
	if we := readUntilError(t, rawSession(t, e, h)); we == nil || we.Code != wire.CodeInvalidArgument {
		t.Fatalf("short digest answered with %v, want %s", we, wire.CodeInvalidArgument)
	}

	c = rawSession(t, e, signHello(t, e))
	if _, _, err := c.Read(ctx(t)); err != nil {
		t.Fatal(err)
	}
	ef := (&wire.Error{Code: wire.CodeProtocolAbort, Message: "the device gives up"}).Frame().Marshal()
	if err := c.Write(ctx(t), websocket.MessageBinary, ef); err != nil {
		t.Fatal(err)
	}
	readUntilError(t, c)
}

func wantRateLimited(t *testing.T, what string, err error) {
	t.Helper()
	if bridge.Code(err) != wire.CodeRateLimited {
		t.Fatalf("%s: %v, want %s", what, err, wire.CodeRateLimited)
	}
	if !strings.Contains(err.Error(), "try again after") {
		t.Fatalf("%s: %q does not say when to retry", what, err)
	}
}

func TestShareChangeLimit(t *testing.T) {
	clk := newClock()
	primes := &countingPrimes{fixturePrimes: fixturePrimes{idx: []int{0, 1}}}
	e := newEnvWith(t, envConfig{
		limits: party.Limits{ShareChanges: 3, ShareChangeWindow: time.Hour, Aborts: 100},
		now:    clk.Now, primes: primes,
	})
	dev := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	pw := &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"}
	// Signing is not a share change: it never counts.
	for range 4 {
		mustSign(t, dev, info.Address, "not counted")
	}
	if _, err := dev.Refresh(ctx(t)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		clk.Advance(10 * time.Minute)
		if err := dev.Backup(ctx(t), pw); err != nil {
			t.Fatal(err)
		}
	}

	// The window is used up: a fourth backup, a refresh and a recovery on a
	// new device are refused before any work, and nothing changes.
	before := dev.Store.(*memStore).Snapshot()
	w0, _ := e.store.WalletByClient(ctx(t), e.clientID)
	st0, _ := e.cus.Status(ctx(t), mustOrg(t, e), w0.ID)
	taken := primes.taken.Load()
	wantRateLimited(t, "fourth backup", dev.Backup(ctx(t), pw))
	_, err = dev.Refresh(ctx(t))
	wantRateLimited(t, "refresh", err)
	newDev := e.newDevice(e.srv.URL)
	_, err = newDev.Recover(ctx(t), pw)
	wantRateLimited(t, "recovery", err)
	if n := primes.taken.Load(); n != taken {
		t.Fatalf("refused sessions took %d prime pairs", n-taken)
	}
	if !equalSnapshots(before, dev.Store.(*memStore).Snapshot()) {
		t.Fatal("refused sessions changed the device's state")
	}
	if st := newDev.Store.(*memStore).Snapshot(); len(st) != 0 {
		t.Fatalf("refused recovery stored %d items", len(st))
	}
	w1, err := e.store.WalletByClient(ctx(t), e.clientID)
	if err != nil || w1.ActiveGeneration != w0.ActiveGeneration || w1.PendingGeneration != 0 {
		t.Fatalf("server wallet after refusals: %+v, %v; before: %+v", w1, err, w0)
	}
	if st1, _ := e.cus.Status(ctx(t), mustOrg(t, e), w0.ID); len(st1.Shares) != len(st0.Shares) {
		t.Fatalf("custodian holds %d shares after refusals, %d before", len(st1.Shares), len(st0.Shares))
	}
	mustSign(t, dev, info.Address, "still signs")

	// Refusals did not count: the window's end lets backups through again.
	clk.Advance(40 * time.Minute)
	if err := dev.Backup(ctx(t), pw); err != nil {
		t.Fatalf("backup in the next window: %v", err)
	}
	mustSign(t, dev, info.Address, "next window")
}

// The limits of another wallet are its own.
func TestShareChangeLimitIsPerWallet(t *testing.T) {
	e := newEnvWith(t, envConfig{limits: party.Limits{ShareChanges: 1, Aborts: 100}})
	a := e.newDevice(e.srv.URL)
	if _, err := keygenReady(ctx(t), a); err != nil {
		t.Fatal(err)
	}
	c, key, err := e.store.CreateClient(ctx(t), mustOrg(t, e))
	if err != nil {
		t.Fatal(err)
	}
	b := e.newDevice(e.srv.URL)
	b.APIKey = key
	if _, err := keygenReady(ctx(t), b); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Refresh(ctx(t)); err != nil {
		t.Fatal(err)
	}
	_, err = a.Refresh(ctx(t))
	wantRateLimited(t, "second refresh of wallet A", err)
	if _, err := b.Refresh(ctx(t)); err != nil {
		t.Fatalf("first refresh of wallet B (client %s): %v", c.ID, err)
	}
}

func mustOrg(t *testing.T, e *env) string {
	c, err := e.store.Client(ctx(t), e.clientID)
	if err != nil {
		t.Fatal(err)
	}
	return c.OrganizationID
}

func TestAbortLockout(t *testing.T) {
	clk := newClock()
	const aborts, lockout = 3, 15 * time.Minute
	e := newEnvWith(t, envConfig{
		limits: party.Limits{ShareChanges: 100, Aborts: aborts, AbortWindow: 10 * time.Minute, Lockout: lockout},
		now:    clk.Now,
	})
	dev := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	// Failures that are not the client's aborts never lock it out.
	for range aborts {
		notBlamed(t, e)
	}
	mustSign(t, dev, info.Address, "drops do not count")

	for i := range aborts {
		badFrame(t, e)
		if i < aborts-1 {
			mustSign(t, dev, info.Address, "below the limit")
		}
	}
	_, err = dev.Sign(ctx(t), [32]byte{1})
	wantRateLimited(t, "sign after the aborts", err)
	_, err = dev.Refresh(ctx(t))
	wantRateLimited(t, "refresh after the aborts", err)
	// A restart, on the same database, keeps the lockout.
	r := e.restart(t)
	_, err = withURL(dev, r.srv.URL).Sign(ctx(t), [32]byte{1})
	wantRateLimited(t, "sign after a restart", err)

	clk.Advance(lockout - time.Second)
	_, err = withURL(dev, r.srv.URL).Sign(ctx(t), [32]byte{1})
	wantRateLimited(t, "sign just before the lockout ends", err)
	clk.Advance(time.Second)
	mustSign(t, withURL(dev, r.srv.URL), info.Address, "lockout over")
	// The count started over: one more abort does not lock out again.
	badFrame(t, r)
	mustSign(t, withURL(dev, r.srv.URL), info.Address, "one abort after the lockout")
}

// Two replicas on one PostgreSQL database share the counts: aborts and
// share changes made on either count on both.
func TestLimitsSharedOnPostgres(t *testing.T) {
	pg, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() })
	source, err := pg.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	const aborts, changes, lockout = 4, 2, 15 * time.Minute
	a := newEnvWith(t, envConfig{
		source: source, now: clk.Now,
		limits: party.Limits{ShareChanges: changes, Aborts: aborts, AbortWindow: 10 * time.Minute, Lockout: lockout},
	})
	b := a.restart(t)
	devA := a.newDevice(a.srv.URL)
	info, err := keygenReady(ctx(t), devA)
	if err != nil {
		t.Fatal(err)
	}
	devB := withURL(devA, b.srv.URL)

	if _, err := devA.Refresh(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := devB.Refresh(ctx(t)); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*bridge.Device{devA, devB} {
		_, err := d.Refresh(ctx(t))
		wantRateLimited(t, "refresh over the limit", err)
	}
	mustSign(t, devB, info.Address, "signs after refused refreshes")

	for i := range aborts {
		badFrame(t, []*env{a, b}[i%2])
	}
	for _, d := range []*bridge.Device{devA, devB} {
		_, err := d.Sign(ctx(t), [32]byte{1})
		wantRateLimited(t, "sign after aborts on both replicas", err)
	}
	clk.Advance(lockout)
	mustSign(t, devA, info.Address, "lockout over on A")
	mustSign(t, devB, info.Address, "lockout over on B")
	// The share-change window (an hour) has not ended yet.
	_, err = devA.Refresh(ctx(t))
	wantRateLimited(t, "refresh within the hour", err)
	clk.Advance(time.Hour)
	if _, err := devB.Refresh(ctx(t)); err != nil {
		t.Fatalf("refresh in the next window: %v", err)
	}
}
