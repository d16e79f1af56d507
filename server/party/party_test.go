package party_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/internal/fixtures"
	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/server/api"
	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/custodian"
	"github.com/duetwallet/duet/server/internal/sqldb"
	"github.com/duetwallet/duet/server/party"
	"github.com/duetwallet/duet/server/seal"
	"github.com/duetwallet/duet/server/store"
	"github.com/duetwallet/duet/wire"
)

// fixturePrimes hands out the pre-generated safe-prime pairs of the given
// indices in turn, so that the two parties never share a modulus.
type fixturePrimes struct {
	mu   sync.Mutex
	idx  []int
	next int
}

func (f *fixturePrimes) Primes(context.Context) (*mpc.Primes, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, q := fixtures.SafePrimePair(f.idx[f.next%len(f.idx)])
	f.next++
	return &mpc.Primes{P: p, Q: q}, nil
}

type env struct {
	t        *testing.T
	srv      *httptest.Server
	db       *sqldb.DB
	store    *store.SQLStore
	cus      *custodian.Store
	orgID    string
	orgKey   string
	clientID string
	client   string
	cfg      envConfig
}

// envConfig says how to start a test server.
type envConfig struct {
	source string // the database: a fresh SQLite file if empty
	// limits of the session handler; the zero value gives limits large
	// enough for tests that run many sessions.
	limits party.Limits
	now    func() time.Time
	primes party.PrimeSource
}

func newEnv(t *testing.T) *env { return newEnvWith(t, envConfig{}) }

// newEnvWith starts a server and makes an organization with one client.
func newEnvWith(t *testing.T, cfg envConfig) *env {
	t.Helper()
	ctx := context.Background()
	if cfg.source == "" {
		cfg.source = filepath.Join(t.TempDir(), "duet.db")
	}
	e := startEnv(t, cfg)
	orgID, _ := apikey.NewID(rand.Reader)
	e.orgID = orgID
	ck, err := e.cus.CreateAccount(ctx, orgID)
	if err != nil {
		t.Fatal(err)
	}
	if e.orgKey, err = e.store.CreateOrganization(ctx, orgID, "test org", ck); err != nil {
		t.Fatal(err)
	}
	c, key, err := e.store.CreateClient(ctx, orgID)
	if err != nil {
		t.Fatal(err)
	}
	e.clientID, e.client = c.ID, key
	return e
}

// restart starts another server (its own store, custodian and session
// handler) on e's database, as a restart of duetd or a second replica would,
// and returns it as an env of e's organization and client.
func (e *env) restart(t *testing.T) *env {
	t.Helper()
	r := startEnv(t, e.cfg)
	r.orgID, r.orgKey, r.clientID, r.client = e.orgID, e.orgKey, e.clientID, e.client
	return r
}

func startEnv(t *testing.T, cfg envConfig) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, cfg.source)
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
	limits := cfg.limits
	if limits == (party.Limits{}) {
		limits = party.Limits{ShareChanges: 1 << 20, Aborts: 1 << 20}
	}
	primes := cfg.primes
	if primes == nil {
		primes = &fixturePrimes{idx: []int{0, 1}}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ts := httptest.NewUnstartedServer(nil)
	dir := &api.CustodianDirectory{BaseURL: "http://" + ts.Listener.Addr().String(), Keys: st}
	srv := api.NewServer(api.Config{Store: st, Custodians: dir, Log: log})
	srv.Handle(custodian.PathPrefix, custodian.NewHandler(cs, log))
	srv.Handle("/v1/session", &party.Handler{
		Store: st, Custodian: dir.For, Primes: primes, Log: log,
		FrameTimeout: 30 * time.Second, Limits: limits, Now: cfg.now,
	})
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	dir.HTTP = ts.Client()
	return &env{t: t, srv: ts, db: db, store: st, cus: cs, cfg: cfg}
}

// memStore is a device's store, in memory.
type memStore = bridge.MemoryStore

// copyStore is a second store holding what st holds, as a second tab of
// the same browser would see it.
func copyStore(st *memStore) *memStore {
	c := &memStore{}
	for k, v := range st.Snapshot() {
		c.Put(context.Background(), k, v)
	}
	return c
}

// newDevice is a device of the env's client talking to url.
func (e *env) newDevice(url string) *bridge.Device {
	return &bridge.Device{
		URL: url, APIKey: e.client, Store: &memStore{},
		Primes:       (&fixturePrimes{idx: []int{2, 3}}).Primes,
		FrameTimeout: 30 * time.Second,
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// mustSign signs a digest on the device and checks with go-ethereum that the
// signature recovers to the wallet's address.
func mustSign(t *testing.T, d *bridge.Device, address string, msg string) {
	t.Helper()
	digest := [32]byte(crypto.Keccak256([]byte(msg)))
	sig, err := d.Sign(ctx(t), digest)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	pub, err := crypto.SigToPub(digest[:], sig.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got := crypto.PubkeyToAddress(*pub); got != common.HexToAddress(address) {
		t.Fatalf("signature recovers to %s, want %s", got, address)
	}
}

func TestWalletLifecycle(t *testing.T) {
	e := newEnv(t)
	dev := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	if info.Generation != 2 || !common.IsHexAddress(info.Address) {
		t.Fatalf("keygen and aux-info gave %+v", info)
	}
	if _, err := keygenReady(ctx(t), dev); bridge.Code(err) != wire.CodeWalletExists {
		t.Fatalf("second keygen: %v", err)
	}
	mustSign(t, dev, info.Address, "hello")

	// Backup with a password; a recovery attempt with the wrong password
	// fails cleanly and changes nothing.
	pw := &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"}
	if err := dev.Backup(ctx(t), pw); err != nil {
		t.Fatal(err)
	}
	newDev := e.newDevice(e.srv.URL)
	wrong := &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "incorrect horse"}
	if _, err := newDev.Recover(ctx(t), wrong); bridge.Code(err) != wire.CodeWrongPassword {
		t.Fatalf("recover with a wrong password: %v", err)
	}
	if st := newDev.Store.(*memStore).Snapshot(); len(st) != 0 {
		t.Fatalf("failed recovery stored %d items", len(st))
	}
	mustSign(t, dev, info.Address, "still mine")

	// Recover on a new device: same address; the old device's share is
	// retired and it cannot sign any more.
	rec, err := newDev.Recover(ctx(t), pw)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Address != info.Address || rec.Generation != 3 {
		t.Fatalf("recovered %+v, want address %s at generation 3", rec, info.Address)
	}
	mustSign(t, newDev, info.Address, "recovered")
	if _, err := dev.Sign(ctx(t), [32]byte{1}); bridge.Code(err) != wire.CodeDeviceRemoved {
		t.Fatalf("old device signing after recovery: %v, want DEVICE_REMOVED", err)
	}
	// The share is kept: the old device reports DEVICE_REMOVED again.
	if _, err := dev.Sign(ctx(t), [32]byte{1}); bridge.Code(err) != wire.CodeDeviceRemoved {
		t.Fatalf("old device signing again: %v, want DEVICE_REMOVED", err)
	}
	if st, _ := dev.State(ctx(t)); st == nil || !st.Stale {
		t.Fatalf("old device after recovery: %+v, want its share kept and marked stale", st)
	}

	// Proactive refresh keeps the address.
	ref, err := newDev.Refresh(ctx(t))
	if err != nil || ref.Address != info.Address || ref.Generation != 4 {
		t.Fatalf("refresh: %+v, %v", ref, err)
	}
	mustSign(t, newDev, info.Address, "refreshed")

	// Eject needs the organization's authorisation.
	if _, err := newDev.Eject(ctx(t), pw); bridge.Code(err) != wire.CodeEjectNotAuthorized {
		t.Fatalf("eject before authorisation: %v", err)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/clients/"+e.clientID+"/eject", nil)
	req.Header.Set("Authorization", "Bearer "+e.orgKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("authorise eject: %v %v", resp.Status, err)
	}
	resp.Body.Close()
	if _, err := newDev.Eject(ctx(t), wrong); bridge.Code(err) != wire.CodeWrongPassword {
		t.Fatalf("eject with a wrong password: %v", err)
	}
	key, err := newDev.Eject(ctx(t), pw)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := crypto.ToECDSA(key)
	if err != nil {
		t.Fatal(err)
	}
	if got := crypto.PubkeyToAddress(priv.PublicKey); got != common.HexToAddress(info.Address) {
		t.Fatalf("ejected key is for %s, want %s", got, info.Address)
	}
}

func TestSessionRefusesBadClients(t *testing.T) {
	e := newEnv(t)
	dev := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	before := dev.Store.(*memStore).Snapshot()

	bad := e.newDevice(e.srv.URL)
	bad.APIKey = "duet_cli_" + strings.Repeat("0", 32) + "_" + strings.Repeat("A", 43)
	if _, err := bad.Sign(ctx(t), [32]byte{}); bridge.Code(err) != wire.CodeUnauthorized {
		t.Fatalf("wrong key: %v", err)
	}
	// Garbage and oversized frames end the session with an error and
	// change nothing; the server keeps serving.
	wsURL := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/v1/session"
	for _, frame := range [][]byte{{0xff, 0x01}, {wire.Version, byte(wire.TypeHello), 1, 2, 3}, bytes.Repeat([]byte{1}, wire.MaxFrame+10)} {
		c, _, err := websocket.Dial(ctx(t), wsURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(ctx(t), websocket.MessageBinary, frame)
		_, _, err = c.Read(ctx(t))
		if err == nil {
			// An Error frame came back; the socket closes after it.
			_, _, err = c.Read(ctx(t))
		}
		if err == nil {
			t.Fatal("session stayed open after a bad frame")
		}
		c.CloseNow()
	}
	if !equalSnapshots(before, dev.Store.(*memStore).Snapshot()) {
		t.Fatal("device state changed")
	}
	w, err := e.store.WalletByClient(ctx(t), e.clientID)
	if err != nil || w.ActiveGeneration != info.Generation || w.PendingGeneration != 0 {
		t.Fatalf("server state changed: %+v %v", w, err)
	}
	mustSign(t, dev, info.Address, "still serving")

	// A client session token opens sessions as the client key does, until
	// it expires.
	key := dev.APIKey
	tok, err := e.store.MintSessionToken(ctx(t), e.clientID, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	dev.APIKey = tok
	mustSign(t, dev, info.Address, "with a session token")
	if dev.APIKey, err = e.store.MintSessionToken(ctx(t), e.clientID, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = dev.Sign(ctx(t), [32]byte{2})
	var we *wire.Error
	if bridge.Code(err) != wire.CodeUnauthorized || !errors.As(err, &we) || !strings.Contains(we.Message, "expired") {
		t.Fatalf("expired session token: %v, want UNAUTHORIZED saying it expired", err)
	}
	dev.APIKey = key
	if !equalSnapshots(before, dev.Store.(*memStore).Snapshot()) {
		t.Fatal("device state changed")
	}
}

func equalSnapshots(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(b[k], v) {
			return false
		}
	}
	return true
}

// cutProxy relays WebSocket messages between a device and the server and
// drops both sockets after a given number of messages (in either direction).
type cutProxy struct {
	target string
	cutAt  int64 // 0 = never
	count  atomic.Int64
}

func (p *cutProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer in.CloseNow()
	in.SetReadLimit(-1)
	out, _, err := websocket.Dial(r.Context(), p.target, nil)
	if err != nil {
		return
	}
	defer out.CloseNow()
	out.SetReadLimit(-1)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	relay := func(from, to *websocket.Conn) {
		defer cancel()
		for {
			typ, b, err := from.Read(ctx)
			if err != nil {
				return
			}
			n := p.count.Add(1)
			if p.cutAt != 0 && n >= p.cutAt {
				in.CloseNow()
				out.CloseNow()
				return
			}
			if to.Write(ctx, typ, b) != nil {
				return
			}
		}
	}
	go relay(in, out)
	relay(out, in)
}

// The socket is cut at every message of backup, recovery and refresh; after
// each cut the wallet still signs — on the new device if the server
// committed the recovery, on the old one if it did not, never both.
func TestSocketCutsKeepTheWallet(t *testing.T) {
	if testing.Short() {
		t.Skip("cuts the socket at every message of three operations")
	}
	e := newEnv(t)
	target := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/v1/session"
	dev := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	pw := &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"}
	if err := dev.Backup(ctx(t), pw); err != nil {
		t.Fatal(err)
	}

	type op struct {
		name string
		run  func(d *bridge.Device) error
	}
	var holder = dev // the device that holds the wallet
	ops := []op{
		{"backup", func(d *bridge.Device) error { return d.Backup(ctx(t), pw) }},
		{"refresh", func(d *bridge.Device) error { _, err := d.Refresh(ctx(t)); return err }},
		{"recover", nil},
	}
	for _, o := range ops {
		// Count the messages of an uncut run first.
		probe := &cutProxy{target: target}
		ps := httptest.NewServer(probe)
		var err error
		if o.run != nil {
			err = o.run(withURL(holder, ps.URL))
		} else {
			fresh := e.newDevice(ps.URL)
			_, err = fresh.Recover(ctx(t), pw)
			holder = withURL(fresh, e.srv.URL)
		}
		ps.Close()
		if err != nil {
			t.Fatalf("%s uncut: %v", o.name, err)
		}
		total := probe.count.Load()
		if total < 6 {
			t.Fatalf("%s: only %d messages", o.name, total)
		}
		for n := int64(1); n <= total; n++ {
			proxy := &cutProxy{target: target, cutAt: n}
			ps := httptest.NewServer(proxy)
			if o.run != nil {
				if err := o.run(withURL(holder, ps.URL)); err == nil && n < total {
					t.Fatalf("%s cut at %d/%d succeeded", o.name, n, total)
				}
				mustSign(t, holder, info.Address, o.name)
			} else {
				fresh := e.newDevice(ps.URL)
				fresh.Recover(ctx(t), pw)
				freshDirect := withURL(fresh, e.srv.URL)
				errNew := trySign(t, freshDirect, info.Address)
				errOld := trySign(t, holder, info.Address)
				switch {
				case errNew == nil && errOld != nil:
					holder = freshDirect
				case errOld == nil && errNew != nil:
				default:
					t.Fatalf("recover cut at %d/%d: new device %v, old device %v", n, total, errNew, errOld)
				}
			}
			ps.Close()
		}
	}
}

func withURL(d *bridge.Device, url string) *bridge.Device {
	c := *d
	c.URL = url
	return &c
}

func trySign(t *testing.T, d *bridge.Device, address string) error {
	digest := [32]byte(crypto.Keccak256([]byte("probe")))
	sig, err := d.Sign(ctx(t), digest)
	if err != nil {
		return err
	}
	pub, err := crypto.SigToPub(digest[:], sig.Bytes())
	if err != nil {
		return err
	}
	if crypto.PubkeyToAddress(*pub) != common.HexToAddress(address) {
		return errors.New("signature recovers to another address")
	}
	return nil
}

// keygenReady creates the wallet and runs its aux-info, as the SDK does in
// the background after createWallet resolves; the share is signing-ready at
// generation 2.
func keygenReady(ctx context.Context, d *bridge.Device) (*bridge.WalletInfo, error) {
	if _, err := d.Keygen(ctx); err != nil {
		return nil, err
	}
	return d.FinishAux(ctx)
}
