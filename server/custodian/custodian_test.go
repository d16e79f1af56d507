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
	store *custodian.Store
	db    *sqldb.DB
	srv   *httptest.Server
}

// eachBackend runs test against the custodian API served over HTTP, once on
// SQLite and once on PostgreSQL.
func eachBackend(t *testing.T, test func(t *testing.T, e *env)) {
	run := func(t *testing.T, source string) {
		ctx := context.Background()
		db, err := sqldb.Open(ctx, source)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		sealer, _ := seal.New(bytes.Repeat([]byte{9}, seal.KeySize))
		st, err := custodian.OpenStore(ctx, custodian.Config{DB: db, Sealer: sealer})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(custodian.NewHandler(st, slog.New(slog.NewTextHandler(io.Discard, nil))))
		t.Cleanup(srv.Close)
		test(t, &env{store: st, db: db, srv: srv})
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

func TestBackupFlow(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.account(t)
		const w = "wallet1"
		share := []byte("custodian backup share b_C")
		ct := []byte("ciphertext of b_D under K_password")

		digest, err := c.PutShare(ctx, w, 1, share)
		if err != nil {
			t.Fatal(err)
		}
		if digest != sha256.Sum256(share) {
			t.Fatal("PutShare digest is not the SHA-256 of the share")
		}
		if _, err := c.Share(ctx, w, 1); !errors.Is(err, custodian.ErrNotFound) {
			t.Errorf("unconfirmed share handed out: %v", err)
		}
		if err := c.ConfirmShare(ctx, w, 1, sha256.Sum256([]byte("something else"))); !errors.Is(err, custodian.ErrDigestMismatch) {
			t.Errorf("confirm with a wrong digest: %v, want ErrDigestMismatch", err)
		}
		if err := c.ConfirmShare(ctx, w, 1, digest); err != nil {
			t.Fatal(err)
		}
		st, err := c.Status(ctx, w)
		if err != nil || len(st.BackedUp) != 0 || len(st.Shares) != 1 || !st.Shares[0].Confirmed {
			t.Fatalf("status with share only: %+v, %v; want no method backed up", st, err)
		}

		d2, err := c.PutBackup(ctx, w, custodian.MethodPassword, 1, ct)
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := c.Status(ctx, w); len(st.BackedUp) != 0 {
			t.Fatalf("backed up before the ciphertext is confirmed: %+v", st)
		}
		if err := c.ConfirmBackup(ctx, w, custodian.MethodPassword, 1, d2); err != nil {
			t.Fatal(err)
		}
		st, err = c.Status(ctx, w)
		if err != nil || len(st.BackedUp) != 1 || st.BackedUp[0] != custodian.MethodPassword {
			t.Fatalf("status after both confirmed: %+v, %v; want backed up for password", st, err)
		}
		b, err := c.Backup(ctx, w, custodian.MethodPassword)
		if err != nil || !bytes.Equal(b.Ciphertext, ct) || b.Generation != 1 {
			t.Fatalf("Backup = %+v, %v", b, err)
		}
		if got, err := c.Share(ctx, w, 1); err != nil || !bytes.Equal(got, share) {
			t.Fatalf("Share = %q, %v", got, err)
		}
		if _, err := c.Backup(ctx, w, custodian.MethodPasskey); !errors.Is(err, custodian.ErrNotFound) {
			t.Errorf("passkey backup that was never made: %v, want ErrNotFound", err)
		}

		// Confirmed contents never change; the same bytes again are fine.
		if _, err := c.PutShare(ctx, w, 1, []byte("another share")); !errors.Is(err, custodian.ErrConfirmed) {
			t.Errorf("overwriting a confirmed share: %v, want ErrConfirmed", err)
		}
		if _, err := c.PutShare(ctx, w, 1, share); err != nil {
			t.Errorf("re-uploading the same share: %v", err)
		}

		// A backup of a newer generation replaces the method's old one once
		// confirmed, and counts only with a confirmed share of its generation.
		d3, err := c.PutBackup(ctx, w, custodian.MethodPassword, 2, []byte("newer ciphertext"))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.ConfirmBackup(ctx, w, custodian.MethodPassword, 2, d3); err != nil {
			t.Fatal(err)
		}
		if st, _ := c.Status(ctx, w); len(st.BackedUp) != 0 || len(st.Backups) != 1 || st.Backups[0].Generation != 2 {
			t.Fatalf("status with a generation-2 backup and no generation-2 share: %+v", st)
		}
		d4, _ := c.PutShare(ctx, w, 2, []byte("share 2"))
		if err := c.ConfirmShare(ctx, w, 2, d4); err != nil {
			t.Fatal(err)
		}
		if st, _ := c.Status(ctx, w); len(st.BackedUp) != 1 {
			t.Fatalf("status after confirming share 2: %+v", st)
		}
	})
}

func TestOrganizationsAreIsolated(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a, b := e.account(t), e.account(t)
		d, err := a.PutShare(ctx, "w", 1, []byte("a's share"))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.ConfirmShare(ctx, "w", 1, d); err != nil {
			t.Fatal(err)
		}
		for name, err := range map[string]error{
			"status":    func() error { _, err := b.Status(ctx, "w"); return err }(),
			"share":     func() error { _, err := b.Share(ctx, "w", 1); return err }(),
			"put share": func() error { _, err := b.PutShare(ctx, "w", 2, []byte("b's")); return err }(),
			"eject":     b.AuthorizeEject(ctx, "w"),
		} {
			if !errors.Is(err, custodian.ErrNotFound) {
				t.Errorf("another organization's %s: %v, want ErrNotFound", name, err)
			}
		}
		st, err := a.Status(ctx, "w")
		if err != nil || len(st.Shares) != 1 || st.EjectAuthorized {
			t.Errorf("owner's view after the other organization tried: %+v, %v", st, err)
		}
		bad := custodian.NewClient(e.srv.URL, "duet_cus_"+strings.Repeat("0", 32)+"_"+strings.Repeat("A", 43), e.srv.Client())
		if _, err := bad.Status(ctx, "w"); !errors.Is(err, custodian.ErrUnauthenticated) {
			t.Errorf("unknown key: %v, want ErrUnauthenticated", err)
		}
	})
}

func TestEject(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.account(t)
		d, _ := c.PutShare(ctx, "w", 1, []byte("b_C"))
		if err := c.ConfirmShare(ctx, "w", 1, d); err != nil {
			t.Fatal(err)
		}
		if _, err := c.EjectShare(ctx, "w", 1); !errors.Is(err, custodian.ErrEjectNotAuthorized) {
			t.Fatalf("eject share before authorisation: %v, want ErrEjectNotAuthorized", err)
		}
		if err := c.AuthorizeEject(ctx, "w"); err != nil {
			t.Fatal(err)
		}
		got, err := c.EjectShare(ctx, "w", 1)
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
		d, _ := c.PutShare(ctx, "w", 1, []byte("share"))
		if err := c.ConfirmShare(ctx, "w", 1, d); err != nil {
			t.Fatal(err)
		}
		before, _ := c.Status(ctx, "w")

		huge := `{"share":"` + strings.Repeat("A", 1<<20) + `"}`
		cases := []struct {
			name, method, path, auth, body string
			status                         int
		}{
			{"no key", "GET", "wallets/w", "", "", 401},
			{"wrong key", "PUT", "wallets/w/shares/2", "Bearer duet_cus_nope", `{"share":"AAAA"}`, 401},
			{"bad json", "PUT", "wallets/w/shares/2", "Bearer " + key, `{"share":`, 400},
			{"unknown field", "PUT", "wallets/w/shares/2", "Bearer " + key, `{"share":"AAAA","x":1}`, 400},
			{"trailing data", "PUT", "wallets/w/shares/2", "Bearer " + key, `{"share":"AAAA"} {}`, 400},
			{"not base64", "PUT", "wallets/w/shares/2", "Bearer " + key, `{"share":"%%%"}`, 400},
			{"empty share", "PUT", "wallets/w/shares/2", "Bearer " + key, `{"share":""}`, 400},
			{"generation 0", "PUT", "wallets/w/shares/0", "Bearer " + key, `{"share":"AAAA"}`, 400},
			{"generation text", "PUT", "wallets/w/shares/x", "Bearer " + key, `{"share":"AAAA"}`, 400},
			{"bad method", "PUT", "wallets/w/backups/sms/2", "Bearer " + key, `{"ciphertext":"AAAA"}`, 400},
			{"bad digest", "POST", "wallets/w/shares/1/confirm", "Bearer " + key, `{"digest":"zz"}`, 400},
			{"bad wallet id", "GET", "wallets/w%20x", "Bearer " + key, "", 400},
			{"too large", "PUT", "wallets/w/shares/2", "Bearer " + key, huge, 413},
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
		d1, _ := c.PutShare(ctx, "w", 1, share)
		d2, _ := c.PutShare(ctx, "w", 2, []byte("share 2"))
		c.ConfirmShare(ctx, "w", 1, d1)
		c.ConfirmShare(ctx, "w", 2, d2)
		if _, err := c.PutBackup(ctx, "w", custodian.MethodApp, 1, ct); err != nil {
			t.Fatal(err)
		}
		var sealedShare, sealedBackup []byte
		e.db.QueryRowContext(ctx, `SELECT sealed FROM custodian_shares WHERE generation = 1`).Scan(&sealedShare)
		e.db.QueryRowContext(ctx, `SELECT sealed FROM custodian_backups`).Scan(&sealedBackup)
		if len(sealedShare) == 0 || bytes.Contains(sealedShare, share) || bytes.Contains(sealedBackup, ct) {
			t.Fatal("custodian data stored in the clear")
		}
		// Generation 1's blob moved into generation 2's row must not open.
		if _, err := e.db.ExecContext(ctx, `UPDATE custodian_shares SET sealed = $1 WHERE generation = 2`, sealedShare); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.Share(ctx, orgOf(t, e), "w", 2); !errors.Is(err, seal.ErrAuthentication) {
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
