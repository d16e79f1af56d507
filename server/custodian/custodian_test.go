package custodian_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/custodian"
	"github.com/duetwallet/duet/server/internal/pgtest"
	"github.com/duetwallet/duet/server/internal/sqldb"
	"github.com/duetwallet/duet/server/seal"
)

var pg *pgtest.Server

func TestMain(m *testing.M) {
	var err error
	pg, err = pgtest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "custodian tests need PostgreSQL:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := pg.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

type env struct {
	source string
	store  *custodian.Store
	db     *sqldb.DB
	srv    *httptest.Server
}

var testKey = bytes.Repeat([]byte{9}, seal.KeySize)

// replica opens the environment's database once more, as a second server
// would, and serves the custodian API over it.
func (e *env) replica(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, e.source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, _ := seal.New(testKey)
	st, err := custodian.OpenStore(ctx, custodian.Config{DB: db, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(custodian.NewHandler(st, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	return &env{source: e.source, store: st, db: db, srv: srv}
}

// eachBackend runs test against the custodian API served over HTTP, once on
// SQLite and once on PostgreSQL.
func eachBackend(t *testing.T, test func(t *testing.T, e *env)) {
	run := func(t *testing.T, source string) {
		test(t, (&env{source: source}).replica(t))
	}
	t.Run("sqlite", func(t *testing.T) { run(t, filepath.Join(t.TempDir(), "duet.db")) })
	t.Run("postgres", func(t *testing.T) {
		source, err := pg.NewDatabase(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		run(t, source)
	})
}

// account opens a custodian account for a new organization and returns a
// client acting for it.
func (e *env) account(t *testing.T) *custodian.Client {
	t.Helper()
	org, _ := apikey.NewID(rand.Reader)
	key, err := e.store.CreateAccount(context.Background(), org)
	if err != nil {
		t.Fatal(err)
	}
	return custodian.NewClient(e.srv.URL, key, e.srv.Client())
}

func digest(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

func TestBackupFlow(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.account(t)
		const w = "wallet1"
		share, ct, pair := []byte("custodian backup share b_C"), []byte("ciphertext of b_D under K_password"), digest("pair 1")

		gen, err := c.StartBackup(ctx, w, custodian.MethodPassword, share, pair)
		if err != nil || gen != 1 {
			t.Fatalf("StartBackup = %d, %v; want generation 1", gen, err)
		}
		if _, err := c.Share(ctx, w, gen); !errors.Is(err, custodian.ErrNotFound) {
			t.Errorf("unconfirmed share handed out: %v", err)
		}
		st, err := c.Status(ctx, w)
		if err != nil || len(st.BackedUp) != 0 || len(st.Shares) != 1 || st.Shares[0].Confirmed || st.Shares[0].Method != custodian.MethodPassword {
			t.Fatalf("status with a started backup: %+v, %v; want one unconfirmed share, nothing backed up", st, err)
		}
		if err := c.CompleteBackup(ctx, w, custodian.MethodPassword, gen, ct, digest("another pair")); !errors.Is(err, custodian.ErrDigestMismatch) {
			t.Errorf("completing with another pair's digest: %v, want ErrDigestMismatch", err)
		}
		if err := c.CompleteBackup(ctx, w, custodian.MethodPasskey, gen, ct, pair); !errors.Is(err, custodian.ErrDigestMismatch) {
			t.Errorf("completing under another method: %v, want ErrDigestMismatch", err)
		}
		if err := c.CompleteBackup(ctx, w, custodian.MethodPassword, gen+1, ct, pair); !errors.Is(err, custodian.ErrNotFound) {
			t.Errorf("completing a generation never started: %v, want ErrNotFound", err)
		}
		if st, _ := c.Status(ctx, w); len(st.BackedUp) != 0 || len(st.Backups) != 0 {
			t.Fatalf("refused completions changed the status: %+v", st)
		}
		if err := c.CompleteBackup(ctx, w, custodian.MethodPassword, gen, ct, pair); err != nil {
			t.Fatal(err)
		}
		st, err = c.Status(ctx, w)
		if err != nil || len(st.BackedUp) != 1 || st.BackedUp[0] != custodian.MethodPassword {
			t.Fatalf("status after completion: %+v, %v; want backed up for password", st, err)
		}
		b, err := c.Backup(ctx, w, custodian.MethodPassword)
		if err != nil || !bytes.Equal(b.Ciphertext, ct) || b.Generation != gen || !bytes.Equal(b.PairDigest, pair) {
			t.Fatalf("Backup = %+v, %v", b, err)
		}
		if got, err := c.Share(ctx, w, gen); err != nil || !bytes.Equal(got, share) {
			t.Fatalf("Share = %q, %v", got, err)
		}
		if _, err := c.Backup(ctx, w, custodian.MethodPasskey); !errors.Is(err, custodian.ErrNotFound) {
			t.Errorf("passkey backup that was never made: %v, want ErrNotFound", err)
		}
		// Completing again with the same ciphertext is a no-op; other bytes
		// never replace a confirmed backup.
		if err := c.CompleteBackup(ctx, w, custodian.MethodPassword, gen, ct, pair); err != nil {
			t.Errorf("completing twice: %v", err)
		}
		if err := c.CompleteBackup(ctx, w, custodian.MethodPassword, gen, []byte("junk"), pair); !errors.Is(err, custodian.ErrConfirmed) {
			t.Errorf("replacing a confirmed ciphertext: %v, want ErrConfirmed", err)
		}

		// An interrupted backup leaves the previous pair in force; a newer
		// pair, once complete, deletes the method's older halves, the
		// interrupted one's included, and leaves other methods alone.
		interrupted, err := c.StartBackup(ctx, w, custodian.MethodPassword, []byte("interrupted b_C"), digest("pair 2"))
		if err != nil {
			t.Fatal(err)
		}
		appGen, err := c.StartBackup(ctx, w, custodian.MethodApp, []byte("app b_C"), digest("app pair"))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.CompleteBackup(ctx, w, custodian.MethodApp, appGen, []byte("app ct"), digest("app pair")); err != nil {
			t.Fatal(err)
		}
		if b, err := c.Backup(ctx, w, custodian.MethodPassword); err != nil || b.Generation != gen {
			t.Fatalf("password backup while a newer one is interrupted: %+v, %v; want generation %d", b, err, gen)
		}
		newer, err := c.StartBackup(ctx, w, custodian.MethodPassword, []byte("b_C 3"), digest("pair 3"))
		if err != nil || newer <= interrupted || newer <= appGen {
			t.Fatalf("StartBackup = %d, %v; want a generation above %d and %d", newer, err, interrupted, appGen)
		}
		if err := c.CompleteBackup(ctx, w, custodian.MethodPassword, newer, []byte("ct 3"), digest("pair 3")); err != nil {
			t.Fatal(err)
		}
		st, _ = c.Status(ctx, w)
		var gens []uint64
		for _, sh := range st.Shares {
			gens = append(gens, sh.Generation)
		}
		if fmt.Sprint(gens) != fmt.Sprint([]uint64{appGen, newer}) || len(st.Backups) != 2 || fmt.Sprint(st.BackedUp) != "[app password]" {
			t.Fatalf("after a newer password pair: %+v; want only the app pair and the newest password pair", st)
		}
		if err := c.CompleteBackup(ctx, w, custodian.MethodPassword, interrupted, []byte("late"), digest("pair 2")); !errors.Is(err, custodian.ErrNotFound) {
			t.Errorf("completing a superseded pair: %v, want ErrNotFound", err)
		}
	})
}

// TestConcurrentBackups runs many backups of one wallet and method at once on
// two replicas. Whatever the order, the custodian ends with one complete
// pair, both halves of which come from the same backup, the newest one that
// completed; a confirmed share is never replaced by another's bytes.
func TestConcurrentBackups(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		orgID, _ := apikey.NewID(rand.Reader)
		key, err := e.store.CreateAccount(ctx, orgID)
		if err != nil {
			t.Fatal(err)
		}
		other := e.replica(t)
		clients := []*custodian.Client{
			custodian.NewClient(e.srv.URL, key, e.srv.Client()),
			custodian.NewClient(other.srv.URL, key, other.srv.Client()),
		}
		const racers = 12
		type result struct {
			gen uint64
			err error
		}
		results := make([]result, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				c := clients[i%2]
				pair := digest(fmt.Sprint("pair ", i))
				gen, err := c.StartBackup(ctx, "w", custodian.MethodPassword, fmt.Appendf(nil, "b_C %d", i), pair)
				if err == nil {
					err = c.CompleteBackup(ctx, "w", custodian.MethodPassword, gen, fmt.Appendf(nil, "ct %d", i), pair)
				}
				results[i] = result{gen, err}
			})
		}
		wg.Wait()
		winner, newest := -1, uint64(0)
		seen := map[uint64]bool{}
		for i, r := range results {
			if r.gen == 0 || seen[r.gen] {
				t.Fatalf("racer %d got generation %d (%v); want a fresh one each", i, r.gen, r.err)
			}
			seen[r.gen] = true
			switch {
			case r.err == nil:
				if r.gen > newest {
					winner, newest = i, r.gen
				}
			case !errors.Is(r.err, custodian.ErrNotFound):
				t.Errorf("racer %d: %v", i, r.err)
			}
		}
		if winner < 0 {
			t.Fatal("no backup completed")
		}
		b, err := clients[0].Backup(ctx, "w", custodian.MethodPassword)
		if err != nil || b.Generation != newest || string(b.Ciphertext) != fmt.Sprint("ct ", winner) || !bytes.Equal(b.PairDigest, digest(fmt.Sprint("pair ", winner))) {
			t.Fatalf("backup = %+v, %v; want racer %d's at generation %d", b, err, winner, newest)
		}
		share, err := clients[1].Share(ctx, "w", b.Generation)
		if err != nil || string(share) != fmt.Sprint("b_C ", winner) {
			t.Fatalf("share of the backup = %q, %v; want racer %d's", share, err, winner)
		}
		st, err := clients[0].Status(ctx, "w")
		if err != nil || len(st.Backups) != 1 || fmt.Sprint(st.BackedUp) != "[password]" {
			t.Fatalf("status = %+v, %v; want one password pair", st, err)
		}
		for _, sh := range st.Shares {
			if sh.Generation < newest {
				t.Errorf("share of generation %d survived the newer pair %d", sh.Generation, newest)
			}
		}
	})
}

func TestOrganizationsAreIsolated(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a, b := e.account(t), e.account(t)
		gen, err := a.StartBackup(ctx, "w", custodian.MethodPassword, []byte("a's share"), digest("a"))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.CompleteBackup(ctx, "w", custodian.MethodPassword, gen, []byte("a's ct"), digest("a")); err != nil {
			t.Fatal(err)
		}
		for name, err := range map[string]error{
			"status": func() error { _, err := b.Status(ctx, "w"); return err }(),
			"share":  func() error { _, err := b.Share(ctx, "w", gen); return err }(),
			"backup": func() error { _, err := b.Backup(ctx, "w", custodian.MethodPassword); return err }(),
			"start": func() error {
				_, err := b.StartBackup(ctx, "w", custodian.MethodPassword, []byte("b's"), digest("b"))
				return err
			}(),
			"complete": b.CompleteBackup(ctx, "w", custodian.MethodPassword, gen, []byte("b's ct"), digest("a")),
			"eject":    b.AuthorizeEject(ctx, "w"),
		} {
			if !errors.Is(err, custodian.ErrNotFound) {
				t.Errorf("another organization's %s: %v, want ErrNotFound", name, err)
			}
		}
		st, err := a.Status(ctx, "w")
		if err != nil || len(st.Shares) != 1 || len(st.BackedUp) != 1 || st.EjectAuthorized {
			t.Errorf("owner's view after the other organization tried: %+v, %v", st, err)
		}
		bad := custodian.NewClient(e.srv.URL, "duet_cus_"+strings.Repeat("0", 32)+"_"+strings.Repeat("A", 43), e.srv.Client())
		if _, err := bad.Status(ctx, "w"); !errors.Is(err, custodian.ErrUnauthenticated) {
			t.Errorf("unknown key: %v, want ErrUnauthenticated", err)
		}
	})
}

// completePair stores a complete pair through the client.
func completePair(t *testing.T, c *custodian.Client, wallet, method string, share, ct []byte) uint64 {
	t.Helper()
	ctx := context.Background()
	pair := digest(string(share))
	gen, err := c.StartBackup(ctx, wallet, method, share, pair)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CompleteBackup(ctx, wallet, method, gen, ct, pair); err != nil {
		t.Fatal(err)
	}
	return gen
}

func TestEject(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.account(t)
		gen := completePair(t, c, "w", custodian.MethodPassword, []byte("b_C"), []byte("ct"))
		if _, err := c.EjectShare(ctx, "w", gen); !errors.Is(err, custodian.ErrEjectNotAuthorized) {
			t.Fatalf("eject share before authorisation: %v, want ErrEjectNotAuthorized", err)
		}
		if err := c.AuthorizeEject(ctx, "w"); err != nil {
			t.Fatal(err)
		}
		got, err := c.EjectShare(ctx, "w", gen)
		if err != nil || string(got) != "b_C" {
			t.Fatalf("EjectShare = %q, %v", got, err)
		}
		if st, _ := c.Status(ctx, "w"); !st.EjectAuthorized || st.EjectAuthorizedAt == nil {
			t.Errorf("status after authorisation: %+v", st)
		}
	})
}

// TestBadRequests sends malformed requests and checks each gets a JSON error
// with the right status and leaves the custodian's data as it was.
func TestBadRequests(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		org, _ := apikey.NewID(rand.Reader)
		key, _ := e.store.CreateAccount(ctx, org)
		c := custodian.NewClient(e.srv.URL, key, e.srv.Client())
		completePair(t, c, "w", custodian.MethodPassword, []byte("share"), []byte("ct"))
		before, _ := c.Status(ctx, "w")

		pd := `"pairDigest":"` + strings.Repeat("ab", 32) + `"`
		huge := `{"share":"` + strings.Repeat("A", 1<<20) + `",` + pd + `}`
		start := "wallets/w/backups/password"
		cases := []struct {
			name, method, path, auth, body string
			status                         int
		}{
			{"no key", "GET", "wallets/w", "", "", 401},
			{"wrong key", "POST", start, "Bearer duet_cus_nope", `{"share":"AAAA",` + pd + `}`, 401},
			{"bad json", "POST", start, "Bearer " + key, `{"share":`, 400},
			{"unknown field", "POST", start, "Bearer " + key, `{"share":"AAAA",` + pd + `,"x":1}`, 400},
			{"trailing data", "POST", start, "Bearer " + key, `{"share":"AAAA",` + pd + `} {}`, 400},
			{"not base64", "POST", start, "Bearer " + key, `{"share":"%%%",` + pd + `}`, 400},
			{"empty share", "POST", start, "Bearer " + key, `{"share":"",` + pd + `}`, 400},
			{"no pair digest", "POST", start, "Bearer " + key, `{"share":"AAAA"}`, 400},
			{"short pair digest", "POST", start, "Bearer " + key, `{"share":"AAAA","pairDigest":"abcd"}`, 400},
			{"bad method", "POST", "wallets/w/backups/sms", "Bearer " + key, `{"share":"AAAA",` + pd + `}`, 400},
			{"generation 0", "POST", start + "/0/complete", "Bearer " + key, `{"ciphertext":"AAAA",` + pd + `}`, 400},
			{"generation text", "POST", start + "/x/complete", "Bearer " + key, `{"ciphertext":"AAAA",` + pd + `}`, 400},
			{"empty ciphertext", "POST", start + "/1/complete", "Bearer " + key, `{"ciphertext":"",` + pd + `}`, 400},
			{"bad wallet id", "GET", "wallets/w%20x", "Bearer " + key, "", 400},
			{"too large", "POST", start, "Bearer " + key, huge, 413},
			{"old share upload", "PUT", "wallets/w/shares/2", "Bearer " + key, `{"share":"AAAA"}`, 404},
			{"old backup upload", "PUT", start + "/2", "Bearer " + key, `{"ciphertext":"AAAA"}`, 404},
			{"old confirmation", "POST", start + "/1/confirm", "Bearer " + key, `{"digest":"` + strings.Repeat("0", 64) + `"}`, 404},
			{"unknown route", "DELETE", "wallets/w", "Bearer " + key, "", 404},
		}
		for _, tc := range cases {
			req, _ := http.NewRequest(tc.method, e.srv.URL+custodian.PathPrefix+tc.path, strings.NewReader(tc.body))
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var env struct {
				Error struct{ Code, Message string }
			}
			err = json.NewDecoder(resp.Body).Decode(&env)
			resp.Body.Close()
			if resp.StatusCode != tc.status || err != nil || env.Error.Code == "" {
				t.Errorf("%s: status %d, error %+v (%v); want %d with a JSON error", tc.name, resp.StatusCode, env.Error, err, tc.status)
			}
		}
		after, err := c.Status(ctx, "w")
		if err != nil || fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("status changed by bad requests:\n before %+v\n after  %+v (%v)", before, after, err)
		}
	})
}

func TestSealedAtRest(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.account(t)
		share := []byte("plain custodian share")
		ct := []byte("plain backup ciphertext")
		g1 := completePair(t, c, "w", custodian.MethodApp, share, ct)
		g2 := completePair(t, c, "w", custodian.MethodPassword, []byte("share 2"), []byte("ct 2"))
		var sealedShare, sealedBackup []byte
		e.db.QueryRowContext(ctx, `SELECT sealed FROM custodian_shares WHERE generation = $1`, g1).Scan(&sealedShare)
		e.db.QueryRowContext(ctx, `SELECT sealed FROM custodian_backups WHERE generation = $1`, g1).Scan(&sealedBackup)
		if len(sealedShare) == 0 || bytes.Contains(sealedShare, share) || bytes.Contains(sealedBackup, ct) {
			t.Fatal("custodian data stored in the clear")
		}
		// Generation 1's blob moved into generation 2's row must not open.
		if _, err := e.db.ExecContext(ctx, `UPDATE custodian_shares SET sealed = $1 WHERE generation = $2`, sealedShare, g2); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.Share(ctx, orgOf(t, e), "w", g2); !errors.Is(err, seal.ErrAuthentication) {
			t.Errorf("share moved to another generation: %v, want seal.ErrAuthentication", err)
		}
	})
}

// orgOf finds the organization that owns wallet "w".
func orgOf(t *testing.T, e *env) string {
	var org string
	if err := e.db.QueryRowContext(context.Background(), `SELECT org_id FROM custodian_wallets WHERE wallet_id = 'w'`).Scan(&org); err != nil {
		t.Fatal(err)
	}
	return org
}

// RemoveMethod deletes both halves of one method's backups and nothing of
// another method's; RecordVerified marks only the confirmed pair it names.
// Another organization can do neither.
func TestRemoveMethodAndRecordVerified(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a, b := e.account(t), e.account(t)
		pw := completePair(t, a, "w", custodian.MethodPassword, []byte("pw share"), []byte("pw ct"))
		cu := completePair(t, a, "w", custodian.MethodCustom, []byte("custom share"), []byte("custom ct"))
		if _, err := a.StartBackup(ctx, "w", custodian.MethodCustom, []byte("unfinished"), digest("unfinished")); err != nil {
			t.Fatal(err)
		}

		if err := b.RemoveMethod(ctx, "w", custodian.MethodCustom); !errors.Is(err, custodian.ErrNotFound) {
			t.Fatalf("another organization's removal: %v, want ErrNotFound", err)
		}
		if err := b.RecordVerified(ctx, "w", custodian.MethodPassword, pw); !errors.Is(err, custodian.ErrNotFound) {
			t.Fatalf("another organization's drill record: %v, want ErrNotFound", err)
		}
		if err := a.RecordVerified(ctx, "w", custodian.MethodPassword, cu); !errors.Is(err, custodian.ErrNotFound) {
			t.Fatalf("drill record of another method's generation: %v, want ErrNotFound", err)
		}
		if err := a.RemoveMethod(ctx, "w", "sms"); !errors.Is(err, custodian.ErrInvalid) {
			t.Fatalf("removal of an unknown method: %v, want ErrInvalid", err)
		}
		if err := a.RecordVerified(ctx, "w", custodian.MethodPassword, pw); err != nil {
			t.Fatal(err)
		}

		if err := a.RemoveMethod(ctx, "w", custodian.MethodCustom); err != nil {
			t.Fatal(err)
		}
		st, err := a.Status(ctx, "w")
		if err != nil {
			t.Fatal(err)
		}
		if len(st.BackedUp) != 1 || st.BackedUp[0] != custodian.MethodPassword {
			t.Fatalf("backed up after removing custom: %v", st.BackedUp)
		}
		for _, sh := range st.Shares {
			if sh.Method == custodian.MethodCustom {
				t.Fatalf("a custom share is left: %+v", sh)
			}
		}
		if len(st.Backups) != 1 || st.Backups[0].Method != custodian.MethodPassword || st.Backups[0].VerifiedAt == nil {
			t.Fatalf("backups after removal: %+v", st.Backups)
		}
		if _, err := a.Backup(ctx, "w", custodian.MethodCustom); !errors.Is(err, custodian.ErrNotFound) {
			t.Fatalf("custom backup after removal: %v, want ErrNotFound", err)
		}
		if _, err := a.Share(ctx, "w", pw); err != nil {
			t.Fatalf("the password pair's share after removing custom: %v", err)
		}
	})
}
