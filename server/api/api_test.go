package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duetwallet/duet/server/api"
	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/custodian"
	"github.com/duetwallet/duet/server/internal/sqldb"
	"github.com/duetwallet/duet/server/seal"
	"github.com/duetwallet/duet/server/store"
)

// env is a whole server over a fresh SQLite database: the API, the custodian
// stub reached over real HTTP, and two organizations with a client each.
type env struct {
	t     *testing.T
	db    *sqldb.DB
	store *store.SQLStore
	cus   *custodian.Store
	srv   *httptest.Server
	dir   *api.CustodianDirectory

	orgA, orgB       string // org API keys
	orgAID, orgBID   string
	clientA, clientB string // client API keys
	clientAID        string
	clientBID        string
}

type options struct {
	dev     *api.DevKeys
	origins []string
	static  http.Handler
	// custodianURL, if set, replaces the in-server custodian.
	custodianURL   string
	bodyTimeout    time.Duration
	frameAncestors string
	loopbackOnly   bool
	ready          func(context.Context) error
	rateLimit      *api.RateLimit
	// now, if set, is the clock of the store and the API.
	now func() time.Time
}

func newEnv(t *testing.T, opts options) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, filepath.Join(t.TempDir(), "duet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	master, _ := seal.New(bytes.Repeat([]byte{1}, seal.KeySize))
	cusKey, _ := seal.New(bytes.Repeat([]byte{2}, seal.KeySize))
	st, err := store.Open(ctx, store.Config{DB: db, Sealer: master, Now: opts.now})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := custodian.OpenStore(ctx, custodian.Config{DB: db, Sealer: cusKey})
	if err != nil {
		t.Fatal(err)
	}
	origins, err := api.ParseOrigins(opts.origins)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	if opts.custodianURL != "" {
		base = opts.custodianURL
	}
	dir := &api.CustodianDirectory{BaseURL: base, Keys: st}
	srv := api.NewServer(api.Config{Store: st, Custodians: dir, Log: log, Origins: origins, Dev: opts.dev, Static: opts.static,
		BodyTimeout: opts.bodyTimeout, FrameAncestors: opts.frameAncestors, LoopbackOnly: opts.loopbackOnly, Ready: opts.ready, Now: opts.now,
		RateLimit: opts.rateLimit})
	srv.Handle(custodian.PathPrefix, custodian.NewHandler(cs, log))
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	dir.HTTP = ts.Client()

	e := &env{t: t, db: db, store: st, cus: cs, srv: ts, dir: dir}
	e.orgAID, e.orgA = e.newOrg("A")
	e.orgBID, e.orgB = e.newOrg("B")
	e.clientAID, e.clientA = e.newClient(e.orgA)
	e.clientBID, e.clientB = e.newClient(e.orgB)
	return e
}

func (e *env) newOrg(name string) (id, key string) {
	ctx := context.Background()
	id, _ = apikey.NewID(rand.Reader)
	ck, err := e.cus.CreateAccount(ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	key, err = e.store.CreateOrganization(ctx, id, name, ck)
	if err != nil {
		e.t.Fatal(err)
	}
	return id, key
}

func (e *env) newClient(orgKey string) (id, key string) {
	var out struct{ ClientID, ClientAPIKey string }
	e.mustDo("POST", "/v1/clients", orgKey, "", 201, &out)
	if out.ClientID == "" || !strings.HasPrefix(out.ClientAPIKey, "duet_cli_") {
		e.t.Fatalf("POST /v1/clients gave %+v", out)
	}
	return out.ClientID, out.ClientAPIKey
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// do sends a request and returns the status and body.
func (e *env) do(method, path, key, body string, hdr ...string) (int, []byte, http.Header) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, data, resp.Header
}

func (e *env) mustDo(method, path, key, body string, want int, out any) {
	e.t.Helper()
	status, data, _ := e.do(method, path, key, body)
	if status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
}

// expectError checks that a request fails with status and code, in the JSON
// error envelope.
func (e *env) expectError(method, path, key, body string, status int, code string) {
	e.t.Helper()
	got, data, hdr := e.do(method, path, key, body)
	var eb errorBody
	if err := json.Unmarshal(data, &eb); err != nil || got != status || eb.Error.Code != code || eb.Error.Message == "" || hdr.Get("Content-Type") != "application/json" {
		e.t.Errorf("%s %s: status %d %s, want %d with code %q", method, path, got, data, status, code)
	}
}

// snapshot describes every row of every table, to show that failed requests
// change nothing.
func (e *env) snapshot() string {
	e.t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT id, name FROM organizations ORDER BY id`,
		`SELECT id, org_id FROM clients ORDER BY id`,
		`SELECT id, client_id, COALESCE(active_generation, 0), COALESCE(pending_generation, 0) FROM wallets ORDER BY id`,
		`SELECT wallet_id, generation, state, sealed, digest FROM server_shares ORDER BY wallet_id, generation`,
		`SELECT wallet_id, holder, expires_at FROM wallet_locks ORDER BY wallet_id`,
		`SELECT wallet_id, org_id, COALESCE(eject_authorized_at, 0) FROM custodian_wallets ORDER BY wallet_id`,
		`SELECT wallet_id, generation, COALESCE(method, ''), pair_digest, sealed, COALESCE(confirmed_at, 0) FROM custodian_shares ORDER BY wallet_id, generation`,
		`SELECT wallet_id, method, generation, pair_digest, sealed, COALESCE(confirmed_at, 0) FROM custodian_backups ORDER BY wallet_id, method, generation`,
	} {
		rows, err := e.db.Query(q)
		if err != nil {
			e.t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				e.t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		rows.Close()
	}
	return b.String()
}

// committedWallet plays a finished key generation for a client: the wallet
// exists with generation 1 active.
func (e *env) committedWallet(clientID string) store.Wallet {
	e.t.Helper()
	ctx := context.Background()
	id, _ := apikey.NewID(rand.Reader)
	w := store.Wallet{ID: id, ClientID: clientID, PublicKey: []byte{0x02, 0xab}, Address: "0x1111111111111111111111111111111111111111"}
	if err := e.store.CreateWallet(ctx, w, 1, []byte("x_P"), genDigest(1)); err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.Activate(ctx, id, 1, genDigest(1)); err != nil {
		e.t.Fatal(err)
	}
	return w
}

func TestCreateClientAndAuth(t *testing.T) {
	e := newEnv(t, options{})
	before := e.snapshot()
	e.expectError("POST", "/v1/clients", "", "", 401, "unauthorized")
	e.expectError("POST", "/v1/clients", "duet_org_nonsense", "", 401, "unauthorized")
	e.expectError("POST", "/v1/clients", e.clientA, "", 401, "unauthorized")
	wrong := []byte(e.orgA)
	wrong[len(wrong)-3] ^= 1
	e.expectError("POST", "/v1/clients", string(wrong), "", 401, "unauthorized")
	e.expectError("POST", "/v1/clients", e.orgA, "{", 400, "bad_request")
	e.expectError("POST", "/v1/clients", e.orgA, `{"admin":true}`, 400, "bad_request")
	e.expectError("GET", "/v1/wallet", e.orgA, "", 401, "unauthorized")
	if after := e.snapshot(); after != before {
		t.Errorf("failed requests changed stored state:\n%s\nvs\n%s", before, after)
	}
	// The server keeps serving: a good request still works.
	id, key := e.newClient(e.orgA)
	if id == e.clientAID || key == e.clientA {
		t.Error("second client got the first client's id or key")
	}
	var info api.WalletInfo
	e.mustDo("GET", "/v1/wallet", key, "", 200, &info)
	if info.Exists {
		t.Errorf("new client has a wallet: %+v", info)
	}
}

func TestWalletQueries(t *testing.T) {
	e := newEnv(t, options{})
	ctx := context.Background()
	w := store.Wallet{ID: "w-a", ClientID: e.clientAID, PublicKey: []byte{0x03, 0x01}, Address: "0x2222222222222222222222222222222222222222"}
	if err := e.store.CreateWallet(ctx, w, 1, []byte("x_P"), genDigest(1)); err != nil {
		t.Fatal(err)
	}
	var info api.WalletInfo
	e.mustDo("GET", "/v1/wallet", e.clientA, "", 200, &info)
	if info.Exists {
		t.Fatalf("wallet whose creation has not committed reported as existing: %+v", info)
	}
	e.expectError("GET", "/v1/wallets/w-a", e.clientA, "", 404, api.CodeNoWallet)
	if err := e.store.Activate(ctx, "w-a", 1, genDigest(1)); err != nil {
		t.Fatal(err)
	}
	e.mustDo("GET", "/v1/wallet", e.clientA, "", 200, &info)
	want := api.WalletInfo{Exists: true, WalletID: "w-a", Address: w.Address, PublicKey: "0301", Generation: 1}
	if info != want {
		t.Fatalf("GET /v1/wallet = %+v, want %+v", info, want)
	}
	e.mustDo("GET", "/v1/wallets/w-a", e.clientA, "", 200, &info)
	if info != want {
		t.Fatalf("GET /v1/wallets/w-a = %+v, want %+v", info, want)
	}
	e.expectError("GET", "/v1/wallets/w-a", e.clientB, "", 403, "forbidden")
	e.expectError("GET", "/v1/wallets/w-a/backup", e.clientB, "", 403, "forbidden")
	e.expectError("GET", "/v1/wallets/nope", e.clientA, "", 404, api.CodeNoWallet)
	e.expectError("GET", "/v1/wallets/bad%20id", e.clientA, "", 400, "bad_request")
	e.expectError("GET", "/v1/wallets/w-a", "", "", 401, "unauthorized")
	e.expectError("GET", "/v1/nowhere", e.clientA, "", 404, "not_found")
}

// completeBackup plays the server party's side of a backup session: b_C
// goes to the custodian, then the device's ciphertext, for one pair.
func (e *env) completeBackup(orgID, walletID, method string, share, ct []byte, pair []byte) uint64 {
	e.t.Helper()
	ctx := context.Background()
	cc, err := e.dir.For(ctx, orgID)
	if err != nil {
		e.t.Fatal(err)
	}
	gen, err := cc.StartBackup(ctx, walletID, method, share, pair)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cc.CompleteBackup(ctx, walletID, method, gen, ct, pair); err != nil {
		e.t.Fatal(err)
	}
	return gen
}

// TestBackupThroughServer checks what the device can read of a backup that
// the server party wrote, and that a backup counts only while the custodian
// holds both halves of one pair.
func TestBackupThroughServer(t *testing.T) {
	e := newEnv(t, options{})
	w := e.committedWallet(e.clientAID)
	path := "/v1/wallets/" + w.ID
	ct := []byte("b_D sealed under K_password")

	var st api.BackupStatus
	e.mustDo("GET", path+"/backup", e.clientA, "", 200, &st)
	if st.BackedUp || len(st.RecoveryMethods) != 0 {
		t.Fatalf("fresh wallet backed up: %+v", st)
	}
	e.expectError("GET", path+"/backups/password", e.clientA, "", 404, "not_found")

	pair := sha256.Sum256([]byte("pair 1"))
	gen := e.completeBackup(e.orgAID, w.ID, "password", []byte("b_C"), ct, pair[:])
	e.mustDo("GET", path+"/backup", e.clientA, "", 200, &st)
	if !st.BackedUp || len(st.RecoveryMethods) != 1 || st.RecoveryMethods[0] != "password" {
		t.Fatalf("backup status after a complete pair: %+v", st)
	}
	var b custodian.Backup
	e.mustDo("GET", path+"/backups/password", e.clientA, "", 200, &b)
	if !bytes.Equal(b.Ciphertext, ct) || b.Generation != gen || !bytes.Equal(b.PairDigest, pair[:]) {
		t.Fatalf("fetched backup %+v", b)
	}
	e.expectError("GET", path+"/backups/passkey", e.clientA, "", 404, "not_found")
	e.expectError("GET", path+"/backups/password", e.clientB, "", 403, "forbidden")
	e.expectError("GET", path+"/backups/sms", e.clientA, "", 400, "bad_request")

	// Each half tampered with in turn: the pair no longer counts, and the
	// device gets no ciphertext to recover with.
	for _, table := range []string{"custodian_shares", "custodian_backups"} {
		other := sha256.Sum256([]byte("another pair"))
		if _, err := e.db.Exec(`UPDATE `+table+` SET pair_digest = $1 WHERE wallet_id = $2`, other[:], w.ID); err != nil {
			t.Fatal(err)
		}
		e.mustDo("GET", path+"/backup", e.clientA, "", 200, &st)
		if st.BackedUp || len(st.RecoveryMethods) != 0 {
			t.Errorf("%s half of another pair: reported as %+v", table, st)
		}
		e.expectError("GET", path+"/backups/password", e.clientA, "", 404, "not_found")
		if _, err := e.db.Exec(`UPDATE `+table+` SET pair_digest = $1 WHERE wallet_id = $2`, pair[:], w.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.db.Exec(`DELETE FROM custodian_shares WHERE wallet_id = $1`, w.ID); err != nil {
		t.Fatal(err)
	}
	e.mustDo("GET", path+"/backup", e.clientA, "", 200, &st)
	if st.BackedUp {
		t.Errorf("backed up without the custodian share: %+v", st)
	}
}

// TestNoClientRouteWritesBackups tries every backup path, with every method
// and several generations, under every HTTP method, with the client API key
// that sits in the browser: nothing may write, confirm, replace or delete a
// backup, and the stored tables stay exactly as they were.
func TestNoClientRouteWritesBackups(t *testing.T) {
	e := newEnv(t, options{})
	w := e.committedWallet(e.clientAID)
	pair := sha256.Sum256([]byte("pair"))
	e.completeBackup(e.orgAID, w.ID, "password", []byte("b_C"), []byte("b_D sealed"), pair[:])
	var st api.BackupStatus
	e.mustDo("GET", "/v1/wallets/"+w.ID+"/backup", e.clientA, "", 200, &st)
	if !st.BackedUp {
		t.Fatalf("setup: not backed up: %+v", st)
	}

	junk := []byte("junk")
	junkSum := sha256.Sum256(junk)
	bodies := []string{
		"",
		`{"ciphertext":"` + base64.StdEncoding.EncodeToString(junk) + `"}`,
		`{"digest":"` + hex.EncodeToString(junkSum[:]) + `"}`,
		`{"ciphertext":"` + base64.StdEncoding.EncodeToString(junk) + `","pairDigest":"` + hex.EncodeToString(junkSum[:]) + `"}`,
		`{"share":"` + base64.StdEncoding.EncodeToString(junk) + `","pairDigest":"` + hex.EncodeToString(junkSum[:]) + `"}`,
	}
	gens := []string{"0", "1", "2", "3", "4611686018427387903", "18446744073709551615"}
	var paths []string
	for _, wallet := range []string{w.ID, e.committedWallet(e.clientBID).ID} {
		base := "/v1/wallets/" + wallet
		paths = append(paths, base, base+"/backup", base+"/backups", base+"/shares", base+"/eject")
		for _, m := range []string{"password", "passkey", "app", "custom", "sms"} {
			paths = append(paths, base+"/backups/"+m)
			for _, g := range gens {
				paths = append(paths, base+"/backups/"+m+"/"+g, base+"/backups/"+m+"/"+g+"/confirm",
					base+"/backups/"+m+"/"+g+"/complete", base+"/backups/"+m+"/"+g+"/verified")
			}
		}
		for _, g := range gens {
			paths = append(paths, base+"/shares/"+g, base+"/shares/"+g+"/confirm", base+"/eject/shares/"+g)
		}
	}
	before := e.snapshot()
	requests := 0
	for _, p := range paths {
		for _, method := range []string{"PUT", "POST", "DELETE", "PATCH"} {
			for _, body := range bodies {
				status, data, _ := e.do(method, p, e.clientA, body)
				requests++
				if status < 400 || status >= 500 {
					t.Fatalf("%s %s with %s: status %d %s, want a refusal", method, p, body, status, data)
				}
			}
		}
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("%d refused requests changed stored state:\n%s\nvs\n%s", requests, before, after)
	}
	e.mustDo("GET", "/v1/wallets/"+w.ID+"/backup", e.clientA, "", 200, &st)
	if !st.BackedUp || len(st.RecoveryMethods) != 1 {
		t.Fatalf("after the attempts: %+v", st)
	}
}

func TestEjectAuthorization(t *testing.T) {
	e := newEnv(t, options{})
	w := e.committedWallet(e.clientAID)
	pair := sha256.Sum256([]byte("pair"))
	gen := e.completeBackup(e.orgAID, w.ID, "password", []byte("b_C"), []byte("b_D sealed"), pair[:])
	sharePath := fmt.Sprintf("/v1/wallets/%s/eject/shares/%d", w.ID, gen)

	before := e.snapshot()
	e.expectError("GET", sharePath, e.clientA, "", 403, api.CodeEjectNotAuthorized)
	e.expectError("POST", "/v1/clients/"+e.clientAID+"/eject", e.orgB, "", 403, "forbidden")
	e.expectError("POST", "/v1/clients/"+e.clientAID+"/eject", e.clientA, "", 401, "unauthorized")
	e.expectError("POST", "/v1/clients/"+strings.Repeat("a", 32)+"/eject", e.orgA, "", 404, "not_found")
	e.expectError("POST", "/v1/clients/not-an-id/eject", e.orgA, "", 400, "bad_request")
	e.expectError("POST", "/v1/clients/"+e.clientBID+"/eject", e.orgB, "", 404, api.CodeNoWallet)
	if after := e.snapshot(); after != before {
		t.Fatalf("refused eject requests changed stored state:\n%s\nvs\n%s", before, after)
	}

	var out struct {
		WalletID        string
		EjectAuthorized bool
	}
	e.mustDo("POST", "/v1/clients/"+e.clientAID+"/eject", e.orgA, "", 200, &out)
	if out.WalletID != w.ID || !out.EjectAuthorized {
		t.Fatalf("eject answer %+v", out)
	}
	var got struct {
		Generation uint64
		Share      []byte
	}
	e.mustDo("GET", sharePath, e.clientA, "", 200, &got)
	if string(got.Share) != "b_C" || got.Generation != 1 {
		t.Fatalf("eject share %+v", got)
	}
	e.expectError("GET", sharePath, e.clientB, "", 403, "forbidden")
}

func TestDevRoute(t *testing.T) {
	e := newEnv(t, options{})
	e.expectError("GET", "/dev/client-key", "", "", 404, "not_found")
	e.expectError("POST", "/dev/eject", e.clientA, "", 404, "not_found")

	// The Server keeps the pointer: the demo keys are filled in once the
	// environment has made its organizations and clients.
	keys := &api.DevKeys{}
	e = newEnv(t, options{dev: keys})
	keys.ClientAPIKey, keys.OrgAPIKey = e.clientA, e.orgA
	status, body, _ := e.do("GET", "/dev/client-key", "", "")
	var got map[string]string
	if err := json.Unmarshal(body, &got); err != nil || status != 200 || len(got) != 1 || got["clientApiKey"] != e.clientA {
		t.Fatalf("GET /dev/client-key = %d %s, want the demo client key alone", status, body)
	}
	if strings.Contains(string(body), e.orgA) {
		t.Fatal("GET /dev/client-key hands out the organization key")
	}

	// POST /dev/eject authorises the demo client's eject, and no one else's.
	w := e.committedWallet(e.clientAID)
	_, otherKey := e.newClient(e.orgA)
	before := e.snapshot()
	e.expectError("POST", "/dev/eject", "", "", 401, "unauthorized")
	e.expectError("POST", "/dev/eject", e.orgA, "", 401, "unauthorized")
	e.expectError("POST", "/dev/eject", otherKey, "", 403, "forbidden")
	e.expectError("POST", "/dev/eject", e.clientB, "", 403, "forbidden")
	if after := e.snapshot(); after != before {
		t.Fatal("refused dev eject requests changed stored state")
	}
	var out struct {
		ClientID, WalletID string
		EjectAuthorized    bool
	}
	e.mustDo("POST", "/dev/eject", e.clientA, "", 200, &out)
	if out.ClientID != e.clientAID || out.WalletID != w.ID || !out.EjectAuthorized {
		t.Fatalf("POST /dev/eject = %+v", out)
	}
	var st api.BackupStatus
	e.mustDo("GET", "/v1/wallets/"+w.ID+"/backup", e.clientA, "", 200, &st)
	if !st.EjectAuthorized {
		t.Fatal("eject not authorised at the custodian after POST /dev/eject")
	}
}

// TestLoopbackOnly checks dev mode's defence against DNS rebinding: a
// request naming another host is refused before any route runs.
func TestLoopbackOnly(t *testing.T) {
	keys := &api.DevKeys{}
	e := newEnv(t, options{dev: keys, loopbackOnly: true})
	keys.ClientAPIKey, keys.OrgAPIKey = e.clientA, e.orgA
	port := e.srv.Listener.Addr().(*net.TCPAddr).Port
	for _, host := range []string{"evil.example", fmt.Sprintf("rebind.evil.example:%d", port), "127.0.0.1.evil.example", "localhost.evil.example:80", "0.0.0.0", "[::]:80", "192.168.1.10:8080"} {
		for _, path := range []string{"/dev/client-key", "/v1/wallet", "/"} {
			status, body, hdr := e.do("GET", path, e.clientA, "", "Host", host)
			if status != 403 || strings.Contains(string(body), "duet_cli_") || hdr.Get("Content-Security-Policy") == "" {
				t.Errorf("Host %s, GET %s: %d %s, want 403", host, path, status, body)
			}
		}
	}
	for _, host := range []string{fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("localhost:%d", port), "LocalHost", fmt.Sprintf("[::1]:%d", port), "127.0.0.2"} {
		var got api.DevKeys
		status, body, _ := e.do("GET", "/dev/client-key", "", "", "Host", host)
		if err := json.Unmarshal(body, &got); status != 200 || err != nil || got.ClientAPIKey != e.clientA {
			t.Errorf("Host %s: %d %s, want the demo key", host, status, body)
		}
	}
	for host, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.9.9.9:1": true, "::1": true, "[::1]": true, "[::1]:8080": true,
		"": false, "0.0.0.0:80": false, "::": false, "[::]:80": false, "localhost.": false, "example.com": false, "10.0.0.1": false, "[fe80::1%lo]:80": false,
	} {
		if got := api.LoopbackHost(host); got != want {
			t.Errorf("LoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestCORS(t *testing.T) {
	e := newEnv(t, options{origins: append([]string{"https://app.example"}, api.DevOrigins...)})
	preflight := func(origin string) (int, http.Header) {
		status, _, hdr := e.do("OPTIONS", "/v1/wallet", "", "", "Origin", origin, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization")
		return status, hdr
	}
	for _, origin := range []string{"https://app.example", "http://127.0.0.1:5173", "http://localhost:8080"} {
		status, hdr := preflight(origin)
		if status != 204 || hdr.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(hdr.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Errorf("preflight from %s: %d %v", origin, status, hdr)
		}
		_, _, hdr = e.do("GET", "/v1/wallet", e.clientA, "", "Origin", origin)
		if hdr.Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("GET from %s: no Access-Control-Allow-Origin", origin)
		}
	}
	for _, origin := range []string{"https://evil.example", "http://127.0.0.1.evil.example:80", "https://app.example:8443", "http://localhost"} {
		if status, hdr := preflight(origin); status != 403 || hdr.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from %s: %d %v, want 403 without CORS headers", origin, status, hdr)
		}
		if _, _, hdr := e.do("GET", "/v1/wallet", e.clientA, "", "Origin", origin); hdr.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("GET from %s allowed", origin)
		}
	}
	if _, err := api.ParseOrigins([]string{"localhost:8080"}); err == nil {
		t.Error("origin without a scheme accepted")
	}
	o, _ := api.ParseOrigins(api.DevOrigins)
	if p := strings.Join(o.HostPatterns(), " "); !strings.Contains(p, "127.0.0.1:*") || !strings.Contains(p, "localhost:*") {
		t.Errorf("HostPatterns = %q", p)
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, options{})
	before := e.snapshot()
	e.expectError("POST", "/v1/clients", e.orgA, `{"x":"`+strings.Repeat("A", 64<<10)+`"}`, 413, "too_large")
	if after := e.snapshot(); after != before {
		t.Fatal("oversized requests changed stored state")
	}
}

func TestCustodianUnreachable(t *testing.T) {
	// A listener that is closed at once: nothing answers there.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	e := newEnv(t, options{custodianURL: dead.URL})
	w := e.committedWallet(e.clientAID)
	e.expectError("GET", "/v1/wallets/"+w.ID+"/backup", e.clientA, "", 502, api.CodeCustodianFailed)
	var info api.WalletInfo
	e.mustDo("GET", "/v1/wallet", e.clientA, "", 200, &info)
	if !info.Exists {
		t.Error("wallet query failed while the custodian is down")
	}
}

func TestStaticFiles(t *testing.T) {
	root := t.TempDir()
	js, web := filepath.Join(root, "js"), filepath.Join(root, "web")
	for path, content := range map[string]string{
		"js/duet.js":       "export const Duet = 1;",
		"js/index.html":    "sdk must not shadow",
		"web/index.html":   "<h1>demo</h1>",
		"web/duet.wasm":    "\x00asm",
		"web/duet.js":      "shadowed by the SDK",
		"secret.txt":       "outside both folders",
		"web/sub/page.txt": "nested",
	} {
		p := filepath.Join(root, path)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The SDK folder has no index.html in a real tree; here it has one to
	// show the order of lookup applies to every file.
	e := newEnv(t, options{static: api.StaticFiles(js, web)})
	for _, tc := range []struct{ path, body, ctype string }{
		{"/duet.js", "export const Duet = 1;", "text/javascript"},
		{"/duet.wasm", "\x00asm", "application/wasm"},
		{"/sub/page.txt", "nested", "text/plain"},
		{"/", "sdk must not shadow", "text/html"},
	} {
		status, body, hdr := e.do("GET", tc.path, "", "")
		if status != 200 || string(body) != tc.body || !strings.HasPrefix(hdr.Get("Content-Type"), tc.ctype) {
			t.Errorf("GET %s: %d %q %q", tc.path, status, body, hdr.Get("Content-Type"))
		}
	}
	for _, p := range []string{"/../secret.txt", "/%2e%2e/secret.txt", "/sub", "/missing.js"} {
		if status, body, _ := e.do("GET", p, "", ""); status != 404 || strings.Contains(string(body), "outside") {
			t.Errorf("GET %s: %d %q, want 404", p, status, body)
		}
	}
}

// TestHandleClientSeam mounts a handler the way the MPC session socket will
// be mounted, and checks it sees the authenticated client, whether the key
// comes as a bearer header or, on a WebSocket handshake, as a subprotocol.
func TestHandleClientSeam(t *testing.T) {
	e := newEnv(t, options{})
	var seen []string
	srv := e.srv.Config.Handler.(*api.Server)
	srv.HandleClient("GET /v1/session", func(w http.ResponseWriter, r *http.Request, c store.Client) {
		seen = append(seen, c.ID)
		w.WriteHeader(http.StatusNoContent)
	})
	if status, _, _ := e.do("GET", "/v1/session", e.clientA, ""); status != 204 {
		t.Fatalf("bearer: status %d", status)
	}
	ws := []string{"Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Protocol", "duet.v1, " + api.WebSocketKeyProtocolPrefix + e.clientB}
	if status, _, _ := e.do("GET", "/v1/session", "", "", ws...); status != 204 {
		t.Fatalf("subprotocol: status %d", status)
	}
	if len(seen) != 2 || seen[0] != e.clientAID || seen[1] != e.clientBID {
		t.Fatalf("handler saw clients %v, want [%s %s]", seen, e.clientAID, e.clientBID)
	}
	// The subprotocol counts only on a WebSocket handshake.
	e.expectError("GET", "/v1/session", "", "", 401, "unauthorized")
	if status, _, _ := e.do("GET", "/v1/session", "", "", "Sec-WebSocket-Protocol", api.WebSocketKeyProtocolPrefix+e.clientA); status != 401 {
		t.Errorf("key subprotocol without Upgrade: status %d, want 401", status)
	}
	e.expectError("GET", "/v1/session", e.orgA, "", 401, "unauthorized")
	if len(seen) != 2 {
		t.Errorf("handler ran for unauthenticated requests: %v", seen)
	}
}

// genDigest stands for the digest of a pair's public data, for wallets made
// here with one share per generation.
func genDigest(gen uint64) []byte {
	d := sha256.Sum256(fmt.Appendf(nil, "pair of generation %d", gen))
	return d[:]
}

// TestWalletDevices: the organization lists a wallet's devices with its org
// key; another organization, a client key and a wallet not yet committed
// get no list.
func TestWalletDevices(t *testing.T) {
	e := newEnv(t, options{})
	ctx := context.Background()
	w := e.committedWallet(e.clientAID)
	const other = "0123456789abcdef0123456789abcdef"
	if err := e.store.PutPendingShare(ctx, w.ID, store.NewShare{Device: other, Generation: 2, Data: []byte("x"), Digest: genDigest(2)}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Activate(ctx, w.ID, 2, genDigest(2)); err != nil {
		t.Fatal(err)
	}
	if err := e.store.TouchDevice(ctx, w.ID, other); err != nil {
		t.Fatal(err)
	}
	var got struct {
		WalletID string       `json:"walletId"`
		Devices  []api.Device `json:"devices"`
	}
	e.mustDo("GET", "/v1/wallets/"+w.ID+"/devices", e.orgA, "", 200, &got)
	if got.WalletID != w.ID || len(got.Devices) != 2 || got.Devices[0].ID != "" || got.Devices[0].Generation != 1 || got.Devices[0].LastUsedAt != nil ||
		got.Devices[1].ID != other || got.Devices[1].Generation != 2 || got.Devices[1].LastUsedAt == nil {
		t.Fatalf("devices: %+v", got)
	}
	e.expectError("GET", "/v1/wallets/"+w.ID+"/devices", e.orgB, "", 404, api.CodeNoWallet)
	e.expectError("GET", "/v1/wallets/"+w.ID+"/devices", e.clientA, "", 401, "unauthorized")
	e.expectError("GET", "/v1/wallets/nope/devices", e.orgA, "", 404, api.CodeNoWallet)
	e.expectError("GET", "/v1/wallets/bad%20id/devices", e.orgA, "", 400, "bad_request")
	pending := store.Wallet{ID: "w-pending", ClientID: e.clientBID, PublicKey: []byte{2, 1}, Address: "0x3333333333333333333333333333333333333333"}
	if err := e.store.CreateWallet(ctx, pending, 1, []byte("x"), genDigest(1)); err != nil {
		t.Fatal(err)
	}
	e.expectError("GET", "/v1/wallets/w-pending/devices", e.orgB, "", 404, api.CodeNoWallet)
}
