package party_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/server/api"
	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/custodian"
	"github.com/duetwallet/duet/server/internal/pgtest"
	"github.com/duetwallet/duet/server/internal/sqldb"
	"github.com/duetwallet/duet/server/party"
	"github.com/duetwallet/duet/server/seal"
	"github.com/duetwallet/duet/server/store"
	"github.com/duetwallet/duet/wire"
)

// A replica is one server instance: its own database handle, stores,
// custodian stub, API and party Handler, over the database it shares with
// the other replicas.
type replica struct {
	srv     *httptest.Server
	store   *store.SQLStore
	db      *sqldb.DB
	handler *party.Handler
	// done receives once each time a session of this replica has ended.
	done chan struct{}
}

// replicas is a cluster of server instances on one database, with one
// organization and one client.
type replicas struct {
	t        *testing.T
	r        []*replica
	clientID string
	client   string
	orgKey   string
}

// eachDatabase runs test on a fresh SQLite database and on a fresh
// PostgreSQL database, each served by two replicas.
func eachDatabase(t *testing.T, test func(t *testing.T, c *replicas)) {
	t.Run("sqlite", func(t *testing.T) {
		test(t, newReplicas(t, filepath.Join(t.TempDir(), "duet.db"), 2))
	})
	t.Run("postgres", func(t *testing.T) {
		pg, err := pgtest.Start()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := pg.Stop(); err != nil {
				t.Error(err)
			}
		})
		source, err := pg.NewDatabase(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		test(t, newReplicas(t, source, 2))
	})
}

func newReplicas(t *testing.T, source string, n int) *replicas {
	t.Helper()
	ctx := context.Background()
	c := &replicas{t: t}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for range n {
		db, err := sqldb.Open(ctx, source)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		master, _ := seal.New(bytes.Repeat([]byte{1}, seal.KeySize))
		cusKey, _ := seal.New(bytes.Repeat([]byte{2}, seal.KeySize))
		st, err := store.Open(ctx, store.Config{DB: db, Sealer: master})
		if err != nil {
			t.Fatal(err)
		}
		cs, err := custodian.OpenStore(ctx, custodian.Config{DB: db, Sealer: cusKey})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewUnstartedServer(nil)
		dir := &api.CustodianDirectory{BaseURL: "http://" + ts.Listener.Addr().String(), Keys: st}
		srv := api.NewServer(api.Config{Store: st, Custodians: dir, Log: log})
		srv.Handle(custodian.PathPrefix, custodian.NewHandler(cs, log))
		r := &replica{store: st, db: db, done: make(chan struct{}, 16)}
		r.handler = &party.Handler{
			Store: st, Custodian: dir.For, Primes: &fixturePrimes{idx: []int{0, 1}}, Log: log,
			FrameTimeout: 30 * time.Second, Limits: party.Limits{ShareChanges: 1 << 20, Aborts: 1 << 20},
		}
		srv.Handle("/v1/session", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			r.handler.ServeHTTP(w, req)
			r.done <- struct{}{}
		}))
		ts.Config.Handler = srv
		ts.Start()
		t.Cleanup(ts.Close)
		dir.HTTP = ts.Client()
		r.srv = ts
		c.r = append(c.r, r)
	}
	st := c.r[0].store
	orgID, _ := apikey.NewID(rand.Reader)
	// Every replica's custodian stub shares the database, so one account
	// serves them all.
	cs, err := custodian.OpenStore(ctx, custodian.Config{DB: c.r[0].db, Sealer: mustSealer(2)})
	if err != nil {
		t.Fatal(err)
	}
	ck, err := cs.CreateAccount(ctx, orgID)
	if err != nil {
		t.Fatal(err)
	}
	if c.orgKey, err = st.CreateOrganization(ctx, orgID, "test org", ck); err != nil {
		t.Fatal(err)
	}
	cl, key, err := st.CreateClient(ctx, orgID)
	if err != nil {
		t.Fatal(err)
	}
	c.clientID, c.client = cl.ID, key
	return c
}

func mustSealer(b byte) *seal.Sealer {
	s, err := seal.New(bytes.Repeat([]byte{b}, seal.KeySize))
	if err != nil {
		panic(err)
	}
	return s
}

func (c *replicas) device(url string, st *memStore) *bridge.Device {
	if st == nil {
		st = &memStore{}
	}
	return &bridge.Device{
		URL: url, APIKey: c.client, Store: st,
		Primes:       (&fixturePrimes{idx: []int{2, 3}}).Primes,
		FrameTimeout: 30 * time.Second,
	}
}

// drain forgets the session ends recorded so far.
func (r *replica) drain() {
	for {
		select {
		case <-r.done:
		default:
			return
		}
	}
}

func (c *replicas) wallet() store.Wallet {
	c.t.Helper()
	w, err := c.r[0].store.WalletByClient(context.Background(), c.clientID)
	if err != nil {
		c.t.Fatal(err)
	}
	return w
}

// resetListener hands out connections that fail, as a connection reset by
// the peer would, every write that comes after the server read something
// following its own first write: on a session socket, the first write is
// the handshake's answer, the read after it the device's Hello, and so the
// write that fails is the Welcome.
type resetListener struct{ net.Listener }

func (l resetListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &resetConn{Conn: c}, nil
}

type resetConn struct {
	net.Conn
	mu          sync.Mutex
	wrote, read bool
}

func (c *resetConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	if c.wrote && n > 0 {
		c.read = true
	}
	c.mu.Unlock()
	return n, err
}

func (c *resetConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	reset := c.wrote && c.read
	c.wrote = true
	c.mu.Unlock()
	if reset {
		return 0, &net.OpError{Op: "write", Net: "tcp", Err: syscall.ECONNRESET}
	}
	return c.Conn.Write(b)
}

// TestLockFreedWhenWelcomeFails is breakage (2): a refresh or recovery whose
// Welcome cannot be sent (the device's connection reset right after Hello)
// used to keep the wallet's change lock, and every later refresh or recovery
// got BUSY until the process restarted.
func TestLockFreedWhenWelcomeFails(t *testing.T) {
	eachDatabase(t, func(t *testing.T, c *replicas) {
		a, b := c.r[0], c.r[1]
		dev := c.device(a.srv.URL, nil)
		info, err := keygenReady(ctx(t), dev)
		if err != nil {
			t.Fatal(err)
		}
		pw := &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"}
		if err := dev.Backup(ctx(t), pw); err != nil {
			t.Fatal(err)
		}
		// A second front end of replica a whose connections reset.
		resetting := httptest.NewUnstartedServer(a.srv.Config.Handler)
		resetting.Listener = resetListener{resetting.Listener}
		resetting.Start()
		t.Cleanup(resetting.Close)

		for _, op := range []string{"refresh", "recover"} {
			a.drain()
			var err error
			if op == "refresh" {
				_, err = withURL(dev, resetting.URL).Refresh(ctx(t))
			} else {
				_, err = c.device(resetting.URL, nil).Recover(ctx(t), pw)
			}
			if err == nil {
				t.Fatalf("%s through a resetting connection succeeded", op)
			}
			<-a.done // the session has ended on the server
			var n int
			if err := a.db.QueryRow(`SELECT COUNT(*) FROM wallet_locks WHERE expires_at > $1`, time.Now().UnixMilli()).Scan(&n); err != nil || n != 0 {
				t.Fatalf("after the failed %s: %d wallet locks held (%v), want none", op, n, err)
			}
			// The same replica and the other one both serve the next change.
			for _, r := range []*replica{a, b} {
				next, err := withURL(dev, r.srv.URL).Refresh(ctx(t))
				if err != nil {
					t.Fatalf("refresh after the failed %s: %v", op, err)
				}
				if next.Address != info.Address {
					t.Fatalf("refresh moved the address to %s", next.Address)
				}
			}
		}
		mustSign(t, dev, info.Address, "still mine")
	})
}

// ackGate relays a device's session to a server and holds the device's Ack
// frame until released, so a test can run another session in between.
type ackGate struct {
	target  string
	held    chan struct{} // closed when an Ack is being held
	release chan struct{} // close to let it through
	once    sync.Once
}

func newAckGate(target string) *ackGate {
	return &ackGate{target: target, held: make(chan struct{}), release: make(chan struct{})}
}

func (g *ackGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer in.CloseNow()
	in.SetReadLimit(-1)
	out, _, err := websocket.Dial(r.Context(), g.target, nil)
	if err != nil {
		return
	}
	defer out.CloseNow()
	out.SetReadLimit(-1)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	relay := func(from, to *websocket.Conn, hold bool) {
		defer cancel()
		for {
			typ, b, err := from.Read(ctx)
			if err != nil {
				return
			}
			if f, err := wire.ParseFrame(b); hold && err == nil && f.Type == wire.TypeAck {
				g.once.Do(func() { close(g.held) })
				select {
				case <-g.release:
				case <-ctx.Done():
					return
				}
			}
			if to.Write(ctx, typ, b) != nil {
				return
			}
		}
	}
	go relay(in, out, true)
	relay(out, in, false)
}

// TestConcurrentRefreshOnTwoReplicas is breakage (1): two devices (or two
// tabs) refresh one wallet at once through two replicas. A second refresh
// used to drop the first one's pending generation and store its own, and the
// first device's Ack then activated the other session's share, leaving no
// matching pair. Now the second refresh is refused while the first holds the
// wallet's lock, and whatever the order, one device ends up signing.
func TestConcurrentRefreshOnTwoReplicas(t *testing.T) {
	eachDatabase(t, func(t *testing.T, c *replicas) {
		a, b := c.r[0], c.r[1]
		first := c.device(a.srv.URL, nil)
		info, err := keygenReady(ctx(t), first)
		if err != nil {
			t.Fatal(err)
		}
		// A second device holding the same share, as a second tab would.
		second := c.device(b.srv.URL, copyStore(first.Store.(*memStore)))

		wsURL := func(r *replica) string { return "ws" + strings.TrimPrefix(r.srv.URL, "http") + "/v1/session" }
		gateA, gateB := newAckGate(wsURL(a)), newAckGate(wsURL(b))
		pa, pb := httptest.NewServer(gateA), httptest.NewServer(gateB)
		defer pa.Close()
		defer pb.Close()

		type result struct {
			info *bridge.WalletInfo
			err  error
		}
		resA, resB := make(chan result, 1), make(chan result, 1)
		go func() { r, err := withURL(first, pa.URL).Refresh(ctx(t)); resA <- result{r, err} }()
		<-gateA.held // a's new generation is pending, its Ack in flight
		go func() { r, err := withURL(second, pb.URL).Refresh(ctx(t)); resB <- result{r, err} }()
		var rb result
		bFinished := false
		select {
		case rb = <-resB:
			bFinished = true
		case <-gateB.held:
		}
		close(gateA.release)
		ra := <-resA
		close(gateB.release)
		if !bFinished {
			rb = <-resB
		}
		if ra.err != nil {
			t.Errorf("the first refresh, which held the lock: %v", ra.err)
		}
		if bridge.Code(rb.err) != wire.CodeBusy {
			t.Errorf("the concurrent refresh: %v, want BUSY", rb.err)
		}
		w := c.wallet()
		next := info.Generation + 1
		if w.ActiveGeneration != next || w.PendingGeneration != 0 {
			t.Errorf("wallet after both: %+v, want generation %d active and nothing pending", w, next)
		}
		// The first device holds the active pair and signs.
		mustSign(t, first, info.Address, "after the race")
		if st, _ := first.State(ctx(t)); st == nil || st.Generation != next {
			t.Errorf("first device state %+v, want generation %d", st, next)
		}
	})
}

// TestConcurrentBackupsOnTwoReplicas backs one wallet up twice at once
// through two replicas. Each ends with success or a clear BUSY, and the
// wallet keeps one complete pair it recovers from.
func TestConcurrentBackupsOnTwoReplicas(t *testing.T) {
	eachDatabase(t, func(t *testing.T, c *replicas) {
		a, b := c.r[0], c.r[1]
		first := c.device(a.srv.URL, nil)
		info, err := keygenReady(ctx(t), first)
		if err != nil {
			t.Fatal(err)
		}
		second := c.device(b.srv.URL, copyStore(first.Store.(*memStore)))
		pw := &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, d := range []*bridge.Device{first, second} {
			wg.Go(func() { errs[i] = d.Backup(ctx(t), pw) })
		}
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case bridge.Code(err) != wire.CodeBusy:
				t.Errorf("backup %d: %v, want success or BUSY", i, err)
			}
		}
		if ok == 0 {
			t.Fatal("neither backup completed")
		}
		var shares, backups int
		c.r[0].db.QueryRow(`SELECT COUNT(*) FROM custodian_shares WHERE confirmed_at IS NOT NULL`).Scan(&shares)
		c.r[0].db.QueryRow(`SELECT COUNT(*) FROM custodian_backups`).Scan(&backups)
		if shares != 1 || backups != 1 {
			t.Errorf("custodian holds %d confirmed shares and %d ciphertexts, want one pair", shares, backups)
		}
		rec, err := c.device(b.srv.URL, nil).Recover(ctx(t), pw)
		if err != nil || rec.Address != info.Address {
			t.Fatalf("recovery after concurrent backups: %+v, %v", rec, err)
		}
	})
}

// TestTamperedBackupHalf changes one half of the backup pair in the
// database: the backup is no longer reported, and recovery refuses with
// NOT_BACKED_UP instead of failing inside the protocol.
func TestTamperedBackupHalf(t *testing.T) {
	e := newEnv(t)
	dev := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	pw := &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"}
	if err := dev.Backup(ctx(t), pw); err != nil {
		t.Fatal(err)
	}
	db := e.db
	status := func() []string {
		cc, err := (&api.CustodianDirectory{BaseURL: e.srv.URL, Keys: e.store, HTTP: e.srv.Client()}).For(ctx(t), e.orgID)
		if err != nil {
			t.Fatal(err)
		}
		st, err := cc.Status(ctx(t), info.WalletID)
		if err != nil {
			t.Fatal(err)
		}
		return st.BackedUp
	}
	if got := status(); len(got) != 1 {
		t.Fatalf("backed up = %v, want password", got)
	}
	var pair []byte
	if err := db.QueryRow(`SELECT pair_digest FROM custodian_shares`).Scan(&pair); err != nil {
		t.Fatal(err)
	}
	other := bytes.Repeat([]byte{0xee}, len(pair))
	set := func(table string, d []byte) {
		if _, err := db.Exec(`UPDATE `+table+` SET pair_digest = $1`, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name          string
		shares, blobs []byte
		reported      bool
	}{
		{"share of another pair", other, pair, false},
		{"ciphertext of another pair", pair, other, false},
		// Both rows agree with each other but not with b_C itself.
		{"both digests rewritten", other, other, true},
	} {
		set("custodian_shares", tc.shares)
		set("custodian_backups", tc.blobs)
		if got := status(); (len(got) == 1) != tc.reported {
			t.Errorf("%s: backed up = %v", tc.name, got)
		}
		fresh := e.newDevice(e.srv.URL)
		_, err := fresh.Recover(ctx(t), pw)
		if bridge.Code(err) != wire.CodeNotBackedUp {
			t.Errorf("%s: recovery %v, want NOT_BACKED_UP", tc.name, err)
		}
		if st := fresh.Store.(*memStore).Snapshot(); len(st) != 0 {
			t.Errorf("%s: refused recovery stored %d items", tc.name, len(st))
		}
	}
	set("custodian_shares", pair)
	set("custodian_backups", pair)
	mustSign(t, dev, info.Address, "still mine")
	if _, err := e.newDevice(e.srv.URL).Recover(ctx(t), pw); err != nil {
		t.Fatalf("recovery with the pair restored: %v", err)
	}
}
