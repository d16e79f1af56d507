package party_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/server/api"
	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/custodian"
	"github.com/duetwallet/duet/server/internal/sqldb"
	"github.com/duetwallet/duet/server/party"
	"github.com/duetwallet/duet/server/seal"
	"github.com/duetwallet/duet/server/store"
)

// The tests here make the session handler's store or the organization's
// custodian fail, or answer something a correct one never would, one call
// at a time, and check the code and message the device gets: each is the
// session's own check on what the store or custodian gave it.

var errBroken = errors.New("store: the disk is on fire")

// faults says which calls of the session handler's store and custodian fail.
// The zero value fails none.
type faults struct {
	mu    sync.Mutex
	calls map[string]error // store method → the error it returns
	once  map[string]bool  // store methods that fail on their next call only
	// wallet, when set, rewrites what WalletByClient returns.
	wallet func(store.Wallet, error) (store.Wallet, error)
	// share, when set, rewrites every share the store loads.
	share func(store.Share) store.Share
	// noCustodian makes the handler find no custodian for the organization.
	noCustodian bool
	// routes answers the custodian requests whose "METHOD path" matches in
	// place of the custodian.
	routes map[*regexp.Regexp]func(w http.ResponseWriter, r *http.Request, next http.Handler)
}

func (f *faults) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls, f.once, f.wallet, f.share, f.noCustodian, f.routes = nil, nil, nil, nil, false, nil
}

// failOnce makes the next call of method fail, and the ones after it not.
func (f *faults) failOnce(method string, err error) {
	f.fail(method, err)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.once == nil {
		f.once = map[string]bool{}
	}
	f.once[method] = true
}

func (f *faults) fail(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]error{}
	}
	f.calls[method] = err
}

func (f *faults) route(pattern string, h func(w http.ResponseWriter, r *http.Request, next http.Handler)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.routes == nil {
		f.routes = map[*regexp.Regexp]func(http.ResponseWriter, *http.Request, http.Handler){}
	}
	f.routes[regexp.MustCompile(pattern)] = h
}

func (f *faults) err(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.calls[method]
	if f.once[method] {
		delete(f.calls, method)
		delete(f.once, method)
	}
	return err
}

// custodian serves the custodian API through the faults' routes.
func (f *faults) custodian(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		var h func(http.ResponseWriter, *http.Request, http.Handler)
		for re, fn := range f.routes {
			if re.MatchString(r.Method + " " + r.URL.Path) {
				h = fn
			}
		}
		f.mu.Unlock()
		if h == nil {
			next.ServeHTTP(w, r)
			return
		}
		h(w, r, next)
	})
}

// answer replies with status and a JSON body, without asking the custodian.
func answer(status int, body string) func(http.ResponseWriter, *http.Request, http.Handler) {
	return func(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// rewrite lets the custodian answer and changes fields of its JSON answer.
func rewrite(edit func(map[string]any)) func(http.ResponseWriter, *http.Request, http.Handler) {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			panic(err)
		}
		edit(m)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		json.NewEncoder(w).Encode(m)
	}
}

// faultStore is the session handler's store with faults.
type faultStore struct {
	store.Store
	f *faults
}

func (s faultStore) AuthenticateClient(ctx context.Context, key string) (store.Client, error) {
	if err := s.f.err("AuthenticateClient"); err != nil {
		return store.Client{}, err
	}
	return s.Store.AuthenticateClient(ctx, key)
}

func (s faultStore) WalletByClient(ctx context.Context, clientID string) (store.Wallet, error) {
	if err := s.f.err("WalletByClient"); err != nil {
		return store.Wallet{}, err
	}
	w, err := s.Store.WalletByClient(ctx, clientID)
	s.f.mu.Lock()
	edit := s.f.wallet
	s.f.mu.Unlock()
	if edit != nil {
		return edit(w, err)
	}
	return w, err
}

func (s faultStore) Wallet(ctx context.Context, id string) (store.Wallet, error) {
	if err := s.f.err("Wallet"); err != nil {
		return store.Wallet{}, err
	}
	return s.Store.Wallet(ctx, id)
}

func (s faultStore) LockWallet(ctx context.Context, walletID, holder string, lease time.Duration) error {
	if err := s.f.err("LockWallet"); err != nil {
		return err
	}
	return s.Store.LockWallet(ctx, walletID, holder, lease)
}

func (s faultStore) DropPending(ctx context.Context, walletID string, gen uint64) error {
	if err := s.f.err("DropPending"); err != nil {
		return err
	}
	return s.Store.DropPending(ctx, walletID, gen)
}

func (s faultStore) Share(ctx context.Context, walletID string, gen uint64) (store.Share, error) {
	if err := s.f.err("Share"); err != nil {
		return store.Share{}, err
	}
	sh, err := s.Store.Share(ctx, walletID, gen)
	s.f.mu.Lock()
	edit := s.f.share
	s.f.mu.Unlock()
	if err == nil && edit != nil {
		sh = edit(sh)
	}
	return sh, err
}

// DeviceShare is what a session loads its device's share with; it fails
// and is edited as Share is.
func (s faultStore) DeviceShare(ctx context.Context, walletID, deviceID string) (store.Share, error) {
	if err := s.f.err("Share"); err != nil {
		return store.Share{}, err
	}
	sh, err := s.Store.DeviceShare(ctx, walletID, deviceID)
	s.f.mu.Lock()
	edit := s.f.share
	s.f.mu.Unlock()
	if err == nil && edit != nil {
		sh = edit(sh)
	}
	return sh, err
}

// CreateDeviceWallet fails as CreateWallet does.
func (s faultStore) CreateDeviceWallet(ctx context.Context, w store.Wallet, sh store.NewShare) error {
	if err := s.f.err("CreateWallet"); err != nil {
		return err
	}
	return s.Store.CreateDeviceWallet(ctx, w, sh)
}

// PutPendingShare fails as PutPending does.
func (s faultStore) PutPendingShare(ctx context.Context, walletID string, sh store.NewShare) error {
	if err := s.f.err("PutPending"); err != nil {
		return err
	}
	return s.Store.PutPendingShare(ctx, walletID, sh)
}

func (s faultStore) Devices(ctx context.Context, walletID string) ([]store.Device, error) {
	if err := s.f.err("Devices"); err != nil {
		return nil, err
	}
	ds, err := s.Store.Devices(ctx, walletID)
	if err == nil && s.f.err("Devices:corrupt") != nil {
		ds = append(ds, store.Device{ID: "not hex"})
	}
	return ds, err
}

func (s faultStore) RemoveDevice(ctx context.Context, walletID, deviceID string) error {
	if err := s.f.err("RemoveDevice"); err != nil {
		return err
	}
	return s.Store.RemoveDevice(ctx, walletID, deviceID)
}

func (s faultStore) Activate(ctx context.Context, walletID string, gen uint64, digest []byte) error {
	if err := s.f.err("Activate"); err != nil {
		return err
	}
	return s.Store.Activate(ctx, walletID, gen, digest)
}

func (s faultStore) CreateWallet(ctx context.Context, w store.Wallet, gen uint64, share, digest []byte) error {
	if err := s.f.err("CreateWallet"); err != nil {
		return err
	}
	return s.Store.CreateWallet(ctx, w, gen, share, digest)
}

func (s faultStore) PutPending(ctx context.Context, walletID string, gen uint64, share, digest []byte) error {
	if err := s.f.err("PutPending"); err != nil {
		return err
	}
	return s.Store.PutPending(ctx, walletID, gen, share, digest)
}

// newFaultEnv is newEnv with a session handler whose store and custodian
// fail as the returned faults say. The env's store and custodian store are
// the real ones underneath, for the test to look at.
func newFaultEnv(t *testing.T) (*env, *faults) {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, filepath.Join(t.TempDir(), "duet.db"))
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
	f := &faults{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ts := httptest.NewUnstartedServer(nil)
	dir := &api.CustodianDirectory{BaseURL: "http://" + ts.Listener.Addr().String(), Keys: st}
	srv := api.NewServer(api.Config{Store: st, Custodians: dir, Log: log})
	srv.Handle(custodian.PathPrefix, f.custodian(custodian.NewHandler(cs, log)))
	srv.Handle("/v1/session", &party.Handler{
		Store: faultStore{Store: st, f: f},
		Custodian: func(ctx context.Context, org string) (*custodian.Client, error) {
			f.mu.Lock()
			down := f.noCustodian
			f.mu.Unlock()
			if down {
				return nil, errors.New("no custodian key")
			}
			return dir.For(ctx, org)
		},
		Primes: &fixturePrimes{idx: []int{0, 1}}, Log: log,
		FrameTimeout: 30 * time.Second, Limits: party.Limits{ShareChanges: 1 << 20, Aborts: 1 << 20},
	})
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	dir.HTTP = ts.Client()
	e := &env{t: t, srv: ts, db: db, store: st, cus: cs}

	orgID, _ := apikey.NewID(rand.Reader)
	e.orgID = orgID
	ck, err := cs.CreateAccount(ctx, orgID)
	if err != nil {
		t.Fatal(err)
	}
	if e.orgKey, err = st.CreateOrganization(ctx, orgID, "test org", ck); err != nil {
		t.Fatal(err)
	}
	c, key, err := st.CreateClient(ctx, orgID)
	if err != nil {
		t.Fatal(err)
	}
	e.clientID, e.client = c.ID, key
	return e, f
}

// wantRefused checks that err carries code and a message holding msg.
func wantRefused(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	if bridge.Code(err) != code || err == nil || !strings.Contains(err.Error(), msg) {
		t.Errorf("%s: %v, want %s with %q", what, err, code, msg)
	}
}

// A session whose store fails tells the device which step failed, with
// SERVER_ERROR, and the wallet is as it was and still signs once the store
// is back; where the store answers something that is no wallet or no share,
// the session says so.
func TestSessionStoreFaults(t *testing.T) {
	e, f := newFaultEnv(t)
	dev := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	before := walletState(t, e)
	unchanged := func(what string) {
		t.Helper()
		if w := walletState(t, e); w.ActiveGeneration != before.ActiveGeneration || w.PendingGeneration != 0 {
			t.Fatalf("%s changed the wallet: %+v, before %+v", what, w, before)
		}
	}
	sign := func() error {
		_, err := dev.Sign(ctx(t), [32]byte{7})
		return err
	}
	refresh := func() error {
		_, err := dev.Refresh(ctx(t))
		return err
	}

	// Each store call fails once only: a session that went on past the
	// failure would find what it needs on a second try, which it must not
	// make.
	for _, tc := range []struct {
		what, method string
		err          error
		op           func() error
		code, msg    string
	}{
		// A store that reports the client's key unknown as not found:
		// the device is told its key is invalid, not that the server broke.
		{"client not found", "AuthenticateClient", store.ErrNotFound, sign, "UNAUTHORIZED", "invalid client API key"},
		{"authentication", "AuthenticateClient", errBroken, sign, "SERVER_ERROR", "authentication failed"},
		{"loading the wallet", "WalletByClient", errBroken, sign, "SERVER_ERROR", "loading the wallet failed"},
		{"reloading the wallet under the lock", "Wallet", errBroken, refresh, "SERVER_ERROR", "loading the wallet failed"},
		{"locking the wallet", "LockWallet", errBroken, refresh, "SERVER_ERROR", "locking the wallet failed"},
		{"loading the share", "Share", errBroken, sign, "SERVER_ERROR", "loading the server share failed"},
		{"storing the pending generation", "PutPending", errBroken, refresh, "SERVER_ERROR", "storing the pending generation failed"},
	} {
		f.failOnce(tc.method, tc.err)
		err := tc.op()
		f.reset()
		wantRefused(t, tc.what, err, tc.code, tc.msg)
		unchanged(tc.what)
	}

	// A stored share that does not decode.
	f.mu.Lock()
	f.share = func(sh store.Share) store.Share { sh.Data = []byte("not a share"); return sh }
	f.mu.Unlock()
	err = sign()
	f.reset()
	wantRefused(t, "corrupt share", err, "SERVER_ERROR", "stored server share is corrupt")
	unchanged("a corrupt share")

	// A store that fails but hands back the wallet it read: recovery does
	// not take it for the client's wallet.
	f.mu.Lock()
	f.wallet = func(w store.Wallet, _ error) (store.Wallet, error) { return w, errBroken }
	f.mu.Unlock()
	_, err = e.newDevice(e.srv.URL).Recover(ctx(t), &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"})
	f.reset()
	wantRefused(t, "recovery with a failing wallet lookup", err, "NO_WALLET", "no wallet for this client")
	unchanged("a failing wallet lookup")

	// A pending generation left by an interrupted change, which the next
	// locked session drops, and the drop fails.
	share, err := e.store.Share(ctx(t), before.ID, before.ActiveGeneration)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.PutPending(ctx(t), before.ID, before.ActiveGeneration+1, share.Data, bytes.Repeat([]byte{3}, 32)); err != nil {
		t.Fatal(err)
	}
	f.fail("DropPending", errBroken)
	err = refresh()
	f.reset()
	wantRefused(t, "dropping a pending generation", err, "SERVER_ERROR", "dropping a pending generation failed")
	if w := walletState(t, e); w.ActiveGeneration != before.ActiveGeneration || w.PendingGeneration != before.ActiveGeneration+1 {
		t.Fatalf("a failed drop changed the wallet: %+v", w)
	}
	if err := e.store.DropPending(ctx(t), before.ID, before.ActiveGeneration+1); err != nil {
		t.Fatal(err)
	}

	// Activation fails after the device acknowledged: the generation stays
	// pending, and the next session settles it.
	for _, tc := range []struct {
		err       error
		code, msg string
	}{
		{store.ErrNotPending, "BUSY", "is no longer pending"},
		{errBroken, "SERVER_ERROR", "activating generation"},
	} {
		f.fail("Activate", tc.err)
		err := refresh()
		f.reset()
		wantRefused(t, "activation", err, tc.code, tc.msg)
		if w := walletState(t, e); w.ActiveGeneration != before.ActiveGeneration {
			t.Fatalf("a failed activation changed the active generation: %+v", w)
		}
		mustSign(t, dev, info.Address, "after a failed activation")
	}
	mustSign(t, dev, info.Address, "after the store faults")
}

// Key generation: a failing lookup or drop of an unfinished wallet, and a
// store that does not take the new wallet.
func TestKeygenStoreFaults(t *testing.T) {
	e, f := newFaultEnv(t)
	dev := e.newDevice(e.srv.URL)

	f.fail("WalletByClient", errBroken)
	_, err := dev.Keygen(ctx(t))
	f.reset()
	wantRefused(t, "keygen with a failing lookup", err, "SERVER_ERROR", "loading the wallet failed")

	for _, tc := range []struct {
		err       error
		code, msg string
	}{
		{errBroken, "SERVER_ERROR", "storing the wallet failed"},
		{store.ErrWalletExists, "WALLET_EXISTS", "this client already has a wallet"},
	} {
		f.fail("CreateWallet", tc.err)
		_, err := e.newDevice(e.srv.URL).Keygen(ctx(t))
		f.reset()
		wantRefused(t, "keygen whose wallet is not stored", err, tc.code, tc.msg)
		if _, err := e.store.WalletByClient(ctx(t), e.clientID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a refused keygen left a wallet: %v", err)
		}
	}

	// An unfinished creation, whose drop fails.
	id, _ := apikey.NewID(rand.Reader)
	w := store.Wallet{ID: id, ClientID: e.clientID, PublicKey: []byte{2, 1}, Address: "0x00000000000000000000000000000000000000aa"}
	if err := e.store.CreateWallet(ctx(t), w, 1, []byte("share 1"), make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	f.fail("DropPending", errBroken)
	_, err = dev.Keygen(ctx(t))
	f.reset()
	wantRefused(t, "keygen over an unfinished wallet", err, "SERVER_ERROR", "dropping an unfinished wallet failed")
	if got, err := e.store.WalletByClient(ctx(t), e.clientID); err != nil || got.ID != id || got.PendingGeneration != 1 {
		t.Fatalf("a refused keygen changed the unfinished wallet: %+v, %v", got, err)
	}

	// With the store back, the same device makes its wallet.
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	mustSign(t, dev, info.Address, "after the keygen faults")
}

// A custodian that fails, or answers what a correct one never would, for
// backup, recovery and eject.
func TestSessionCustodianFaults(t *testing.T) {
	e, f := newFaultEnv(t)
	dev := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	pw := &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"}
	backupOf := func() []string { return backedUp(t, e) }

	// Backup.
	f.mu.Lock()
	f.noCustodian = true
	f.mu.Unlock()
	err = dev.Backup(ctx(t), pw)
	f.reset()
	wantRefused(t, "backup without a custodian", err, "SERVER_ERROR", "custodian store unavailable")

	const internal = `{"error":{"code":"internal","message":"refused"}}`
	for _, tc := range []struct {
		what, route string
		status      int
		body        string
		code, msg   string
	}{
		{"custodian refuses b_C", `^POST .*/backups/password$`, 500, internal, "SERVER_ERROR", "the custodian store did not take the share"},
		{"newer backup completed", `^POST .*/backups/password/\d+/complete$`, 404, `{"error":{"code":"not_found","message":"no such backup"}}`, "BUSY", "a newer password backup of this wallet completed first"},
		{"custodian fails to confirm", `^POST .*/backups/password/\d+/complete$`, 500, internal, "SERVER_ERROR", "the custodian store did not confirm the backup"},
	} {
		f.route(tc.route, answer(tc.status, tc.body))
		err := dev.Backup(ctx(t), pw)
		f.reset()
		wantRefused(t, tc.what, err, tc.code, tc.msg)
		if got := backupOf(); len(got) != 0 {
			t.Fatalf("%s: backed up %q", tc.what, got)
		}
	}
	if err := dev.Backup(ctx(t), pw); err != nil {
		t.Fatal(err)
	}
	w := walletState(t, e)
	other := e.newDevice(e.srv.URL)
	recover := func() error { _, err := other.Recover(ctx(t), pw); return err }
	eject := func() error { _, err := other.Eject(ctx(t), pw); return err }
	wantRefused(t, "eject the organization has not authorised", eject(), "EJECT_NOT_AUTHORIZED", "has not authorised eject")
	if err := e.cus.AuthorizeEject(ctx(t), e.orgID, w.ID); err != nil {
		t.Fatal(err)
	}

	// Recovery and eject: the backup the custodian reports, and its share.
	const backupRoute, shareRoute, ejectRoute = `^GET .*/backups/password$`, `^GET .*/wallets/[^/]+/shares/\d+$`, `^GET .*/eject/shares/\d+$`
	unconfirmed := rewrite(func(m map[string]any) { m["confirmed"] = false })
	otherPair := rewrite(func(m map[string]any) { m["pairDigest"] = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=" })
	for _, tc := range []struct {
		what, route string
		h           func(http.ResponseWriter, *http.Request, http.Handler)
		op          func() error
		code, msg   string
	}{
		{"recovery of an unconfirmed backup", backupRoute, unconfirmed, recover, "NOT_BACKED_UP", "no complete password backup pair"},
		{"eject of an unconfirmed backup", backupRoute, unconfirmed, eject, "NOT_BACKED_UP", "no complete password backup pair"},
		{"custodian fails the backup", backupRoute, answer(500, `{"error":{"code":"internal","message":"x"}}`), recover, "SERVER_ERROR", "custodian store unavailable"},
		{"custodian share missing", shareRoute, answer(500, `{"error":{"code":"internal","message":"x"}}`), recover, "NOT_BACKED_UP", "the custodian share of this backup is missing"},
		{"custodian share corrupt", shareRoute, answer(200, `{"generation":1,"share":"AAAA"}`), recover, "SERVER_ERROR", "the custodian share is corrupt"},
		{"recovery of another pair", backupRoute, otherPair, recover, "NOT_BACKED_UP", "the custodian's share is not of the password backup's pair"},
		{"eject refused by code alone", ejectRoute, answer(409, `{"error":{"code":"eject_not_authorized","message":"x"}}`), eject, "EJECT_NOT_AUTHORIZED", "has not authorised eject"},
		{"eject refused by status alone", ejectRoute, answer(403, `{"error":{"code":"forbidden","message":"x"}}`), eject, "EJECT_NOT_AUTHORIZED", "has not authorised eject"},
		{"eject share unavailable", ejectRoute, answer(500, `{"error":{"code":"internal","message":"x"}}`), eject, "SERVER_ERROR", "custodian store unavailable"},
		{"eject share corrupt", ejectRoute, answer(200, `{"generation":1,"share":"AAAA"}`), eject, "SERVER_ERROR", "the custodian share is corrupt"},
		{"eject of another pair", backupRoute, otherPair, eject, "NOT_BACKED_UP", "the custodian's share is not of the password backup's pair"},
	} {
		f.route(tc.route, tc.h)
		err := tc.op()
		f.reset()
		wantRefused(t, tc.what, err, tc.code, tc.msg)
		if got := walletState(t, e); got.ActiveGeneration != w.ActiveGeneration || got.PendingGeneration != 0 {
			t.Fatalf("%s changed the wallet: %+v, before %+v", tc.what, got, w)
		}
	}
	mustSign(t, dev, info.Address, "after the custodian faults")
}
