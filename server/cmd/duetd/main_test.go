package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duetwallet/duet/server/internal/pgtest"
	"github.com/duetwallet/duet/server/party"
)

var pg *pgtest.Server

func TestMain(m *testing.M) {
	var err error
	pg, err = pgtest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "duetd tests need PostgreSQL:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := pg.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

func noEnv(string) string { return "" }

func orgCreateCmd(t *testing.T, getenv func(string) string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := runContext(context.Background(), append([]string{"org", "create"}, args...), &out, io.Discard, getenv)
	return out.String(), err
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestOrgCreateAndMasterKey(t *testing.T) {
	data := t.TempDir()
	out, err := orgCreateCmd(t, noEnv, "--name", "Acme", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	key := lastLine(out)
	if !regexp.MustCompile(`^duet_org_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$`).MatchString(key) {
		t.Fatalf("last line %q is not an org API key", key)
	}

	masterPath := filepath.Join(data, "master.key")
	info, err := os.Stat(masterPath)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 || info.Size() != 32 {
		t.Fatalf("master.key: mode %v size %d, want 0600 and 32 bytes", info.Mode().Perm(), info.Size())
	}
	master, _ := os.ReadFile(masterPath)
	custodianKey, err := os.ReadFile(filepath.Join(data, "custodian.key"))
	if err != nil || bytes.Equal(master, custodianKey) {
		t.Fatalf("custodian.key missing or equal to the master key: %v", err)
	}

	// A second run reuses the key and the database: the first key still works.
	out2, err := orgCreateCmd(t, noEnv, "--name", "Beta", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(masterPath); !bytes.Equal(again, master) {
		t.Fatal("second run replaced the master key")
	}
	if lastLine(out2) == key {
		t.Fatal("two organizations got the same key")
	}
	st, err := (&storageFlags{data: data}).open(context.Background(), noEnv, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, k := range []string{key, lastLine(out2)} {
		if _, err := st.store.AuthenticateOrganization(context.Background(), k); err != nil {
			t.Errorf("key from org create does not authenticate: %v", err)
		}
	}
}

func TestOrgCreateErrors(t *testing.T) {
	data := t.TempDir()
	if _, err := orgCreateCmd(t, noEnv, "--data", data); err == nil {
		t.Error("org create without --name succeeded")
	}
	if _, err := orgCreateCmd(t, noEnv, "--name", "A", "--data", data, "--master-key-file", filepath.Join(data, "absent.key")); err == nil {
		t.Error("a --master-key-file that does not exist was accepted")
	}
	if _, err := orgCreateCmd(t, noEnv, "--name", "A", "--data", data, "--db", "mysql://x"); err == nil {
		t.Error("a non-PostgreSQL --db URL was accepted")
	}
	if err := runContext(context.Background(), []string{"frobnicate"}, io.Discard, io.Discard, noEnv); err == nil {
		t.Error("unknown command accepted")
	}
}

func TestMasterKeyFromEnvironment(t *testing.T) {
	data := t.TempDir()
	hexKey := hex.EncodeToString(bytes.Repeat([]byte{5}, 32))
	env := func(name string) string {
		if name == "DUET_MASTER_KEY" {
			return hexKey
		}
		return ""
	}
	if _, err := orgCreateCmd(t, env, "--name", "Acme", "--data", data); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, "master.key")); !os.IsNotExist(err) {
		t.Errorf("master.key written although $DUET_MASTER_KEY was set: %v", err)
	}
	// What was sealed under the environment's key does not open under
	// another: the organization's custodian credential is sealed.
	other := func(name string) string {
		if name == "DUET_MASTER_KEY" {
			return hex.EncodeToString(bytes.Repeat([]byte{6}, 32))
		}
		return ""
	}
	st, err := (&storageFlags{data: data}).open(context.Background(), other, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var orgID string
	if err := st.db.QueryRow(`SELECT id FROM organizations`).Scan(&orgID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.store.CustodianKey(context.Background(), orgID); err == nil {
		t.Error("custodian credential opened under a different master key")
	}
}

// syncBuffer is a bytes.Buffer safe for the server goroutine to write while
// the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServe runs "duetd serve" in the background and returns its base URL
// and a function that stops it and returns run's error.
func startServe(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	return startServeLog(t, io.Discard, args...)
}

// startServeLog is startServe with duetd's log written to stderr.
func startServeLog(t *testing.T, stderr io.Writer, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runContext(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), &out, stderr, noEnv)
	}()
	re := regexp.MustCompile(`listening on (http://\S+)`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			stop := func() error {
				cancel()
				return <-done
			}
			return m[1], stop
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve exited early: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("serve did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func getJSON(t *testing.T, method, url, key string, want int, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, body, want)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
}

type devKeys struct{ ClientAPIKey, OrgAPIKey string }

// readDevKeys reads the demo keys --dev keeps in the data folder: the
// organization's key is there and nowhere on the wire.
func readDevKeys(t *testing.T, data string) devKeys {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "dev-keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f devKeysFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return devKeys{ClientAPIKey: f.ClientAPIKey, OrgAPIKey: f.OrgAPIKey}
}

// exerciseDev checks a --dev server end to end: the demo client key it
// serves works, the organization key in the data folder works and is not
// served, and the SDK and demo page are served.
func exerciseDev(t *testing.T, base, data string) devKeys {
	t.Helper()
	var served map[string]string
	getJSON(t, "GET", base+"/dev/client-key", "", 200, &served)
	keys := readDevKeys(t, data)
	if len(served) != 1 || served["clientApiKey"] != keys.ClientAPIKey || keys.OrgAPIKey == "" {
		t.Fatalf("GET /dev/client-key = %v, want only the demo client key", served)
	}
	var wallet struct{ Exists bool }
	getJSON(t, "GET", base+"/v1/wallet", keys.ClientAPIKey, 200, &wallet)
	var client struct{ ClientID, ClientAPIKey string }
	getJSON(t, "POST", base+"/v1/clients", keys.OrgAPIKey, 201, &client)
	getJSON(t, "GET", base+"/v1/wallet", client.ClientAPIKey, 200, &wallet)
	getJSON(t, "GET", base+"/v1/wallet", "", 401, nil)
	// The demo client may have its eject authorised once it has a wallet;
	// another client of the demo organization may not.
	getJSON(t, "POST", base+"/dev/eject", keys.ClientAPIKey, 404, nil)
	getJSON(t, "POST", base+"/dev/eject", client.ClientAPIKey, 403, nil)
	return keys
}

func staticDirs(t *testing.T) (js, web string) {
	root := t.TempDir()
	js, web = filepath.Join(root, "js"), filepath.Join(root, "web")
	os.MkdirAll(js, 0o755)
	os.MkdirAll(web, 0o755)
	os.WriteFile(filepath.Join(js, "duet.js"), []byte("export class Duet {}"), 0o644)
	os.WriteFile(filepath.Join(web, "index.html"), []byte("<title>Duet demo</title>"), 0o644)
	return js, web
}

func TestServeDev(t *testing.T) {
	data := t.TempDir()
	js, web := staticDirs(t)
	args := []string{"--dev", "--data", data, "--js", js, "--web", web}
	base, stop := startServe(t, args...)
	keys := exerciseDev(t, base, data)
	for path, want := range map[string]string{"/duet.js": "export class Duet {}", "/": "<title>Duet demo</title>"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != want {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, body)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("serve after shutdown: %v", err)
	}

	// Restarting keeps the same demo organization and client.
	base, stop = startServe(t, args...)
	again := exerciseDev(t, base, data)
	if again != keys {
		t.Errorf("demo keys changed across restarts: %+v then %+v", keys, again)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestServeWithoutDevHasNoDevRoute(t *testing.T) {
	base, stop := startServe(t, "--data", t.TempDir())
	defer stop()
	getJSON(t, "GET", base+"/dev/client-key", "", 404, nil)
}

func TestServePostgres(t *testing.T) {
	source, err := pg.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	base, stop := startServe(t, "--dev", "--data", data, "--db", source)
	exerciseDev(t, base, data)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, "duet.db")); !os.IsNotExist(err) {
		t.Errorf("SQLite file created although --db named PostgreSQL: %v", err)
	}
	// org create against the same PostgreSQL database.
	out, err := orgCreateCmd(t, noEnv, "--name", "Acme", "--data", data, "--db", source)
	if err != nil || !strings.HasPrefix(lastLine(out), "duet_org_") {
		t.Fatalf("org create on PostgreSQL: %q, %v", out, err)
	}
}

func TestLimitFlags(t *testing.T) {
	parse := func(args ...string) (party.Limits, error) {
		flags := flag.NewFlagSet("test", flag.ContinueOnError)
		flags.SetOutput(io.Discard)
		var lf limitFlags
		lf.register(flags)
		if err := flags.Parse(args); err != nil {
			return party.Limits{}, err
		}
		return lf.limits()
	}
	def, err := parse()
	want := party.Limits{ShareChanges: 6, ShareChangeWindow: time.Hour, Aborts: 5, AbortWindow: 10 * time.Minute, Lockout: 15 * time.Minute}
	if err != nil || def != want {
		t.Fatalf("defaults: %+v, %v; want %+v", def, err, want)
	}
	got, err := parse("--limit-share-changes", "300", "--limit-share-change-window", "2h",
		"--limit-aborts", "9", "--limit-abort-window", "1m", "--limit-lockout", "30s")
	want = party.Limits{ShareChanges: 300, ShareChangeWindow: 2 * time.Hour, Aborts: 9, AbortWindow: time.Minute, Lockout: 30 * time.Second}
	if err != nil || got != want {
		t.Fatalf("parsed %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range [][]string{
		{"--limit-share-changes", "0"}, {"--limit-aborts", "-1"},
		{"--limit-share-change-window", "0s"}, {"--limit-abort-window", "-1m"}, {"--limit-lockout", "0s"},
	} {
		if _, err := parse(bad...); err == nil {
			t.Errorf("%q accepted", bad)
		}
		// serve refuses them before it opens anything.
		data := filepath.Join(t.TempDir(), "data")
		err := runContext(context.Background(), append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data}, bad...), io.Discard, io.Discard, noEnv)
		if err == nil || !strings.Contains(err.Error(), "--limit-") {
			t.Errorf("serve %q: %v", bad, err)
		}
		if _, err := os.Stat(data); !os.IsNotExist(err) {
			t.Errorf("serve %q made the data folder: %v", bad, err)
		}
	}
}
