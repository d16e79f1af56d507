package custodian_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/custodian"
	"github.com/duetwallet/duet/server/internal/sqldb"
	"github.com/duetwallet/duet/server/seal"
)

// A well-formed custodian key of an organization that has an account, but
// not the secret the account was made with, is refused: over HTTP with 401
// unauthorized, and the account's data stays as it was.
func TestWrongSecretOfKnownAccount(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		org, _ := apikey.NewID(rand.Reader)
		key, err := e.store.CreateAccount(ctx, org)
		if err != nil {
			t.Fatal(err)
		}
		owner := custodian.NewClient(e.srv.URL, key, e.srv.Client())
		pair := bytes.Repeat([]byte{7}, 32)
		g, err := owner.StartBackup(ctx, "w", "password", []byte("share"), pair)
		if err != nil {
			t.Fatal(err)
		}
		if err := owner.CompleteBackup(ctx, "w", "password", g, []byte("ciphertext"), pair); err != nil {
			t.Fatal(err)
		}
		before, _ := owner.Status(ctx, "w")

		forged, _, err := apikey.New(rand.Reader, apikey.Custodian, org)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := e.store.Authenticate(ctx, forged); !errors.Is(err, custodian.ErrUnauthenticated) || got != "" {
			t.Fatalf("Authenticate(forged key of %s) = %q, %v; want ErrUnauthenticated", org, got, err)
		}
		for _, req := range []struct{ method, path, body string }{
			{"GET", "wallets/w", ""},
			{"GET", "wallets/w/shares/1", ""},
			{"POST", "wallets/w/backups/password", `{"share":"AAAA","pairDigest":"AAAA"}`},
			{"POST", "wallets/w/eject", ""},
		} {
			r, _ := http.NewRequest(req.method, e.srv.URL+custodian.PathPrefix+req.path, bytes.NewReader([]byte(req.body)))
			r.Header.Set("Authorization", "Bearer "+forged)
			resp, err := e.srv.Client().Do(r)
			if err != nil {
				t.Fatal(err)
			}
			var env struct {
				Error struct{ Code, Message string }
			}
			json.NewDecoder(resp.Body).Decode(&env)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || env.Error.Code != "unauthorized" {
				t.Errorf("%s %s with a forged key: %d %+v, want 401 unauthorized", req.method, req.path, resp.StatusCode, env.Error)
			}
		}
		after, err := owner.Status(ctx, "w")
		if err != nil || fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("forged key changed the account:\n before %+v\n after  %+v (%v)", before, after, err)
		}
	})
}

// A malformed key is refused before the database is asked: on a store whose
// database is closed it still gets ErrUnauthenticated, where a well-formed
// key gets the database's error.
func TestMalformedKeyAsksNoQuery(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, filepath.Join(t.TempDir(), "duet.db"))
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := seal.New(bytes.Repeat([]byte{9}, seal.KeySize))
	st, err := custodian.OpenStore(ctx, custodian.Config{DB: db, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	org, _ := apikey.NewID(rand.Reader)
	wellFormed, _, _ := apikey.New(rand.Reader, apikey.Custodian, org)
	clientKey, _, _ := apikey.New(rand.Reader, apikey.Client, org)
	db.Close()
	if _, err := st.Authenticate(ctx, wellFormed); err == nil || errors.Is(err, custodian.ErrUnauthenticated) {
		t.Fatalf("well-formed key on a closed database: %v, want the database's error", err)
	}
	for _, key := range []string{"", "duet_cus_nope", clientKey, wellFormed + "A"} {
		if _, err := st.Authenticate(ctx, key); !errors.Is(err, custodian.ErrUnauthenticated) {
			t.Errorf("key %q: %v, want ErrUnauthenticated", key, err)
		}
	}
}
