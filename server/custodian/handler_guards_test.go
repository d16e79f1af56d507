package custodian_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/custodian"
)

// The handler refuses a bad key, wallet id, generation, method or pair
// digest itself, with its own status and message, before the store is
// asked. The store refuses most of the same inputs too, but with another
// status or message, or not at all (a wallet id the API never accepts), so
// each case tells the handler's check apart from the store's.
func TestHandlerRefusesBeforeTheStore(t *testing.T) {
	ctx := context.Background()
	e := (&env{source: filepath.Join(t.TempDir(), "duet.db")}).replica(t)
	org, _ := apikey.NewID(rand.Reader)
	key, err := e.store.CreateAccount(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	c := custodian.NewClient(e.srv.URL, key, e.srv.Client())
	completePair(t, c, "w", custodian.MethodPassword, []byte("share"), []byte("ct"))
	before, err := c.Status(ctx, "w")
	if err != nil {
		t.Fatal(err)
	}

	long := strings.Repeat("a", 65)
	hex32 := strings.Repeat("ab", 32)
	start := func(pd string) string { return `{"share":"AAAA","pairDigest":"` + pd + `"}` }
	complete := func(pd string) string { return `{"ciphertext":"AAAA","pairDigest":"` + pd + `"}` }
	const (
		noBearer = "missing bearer custodian API key"
		badID    = "invalid wallet id"
		badPD    = "pairDigest must be 64 hex digits"
	)
	badMethod := func(m string) string {
		return fmt.Sprintf("unknown backup method %q, want password, passkey, custom or app", m)
	}
	badGen := func(g string) string { return fmt.Sprintf("invalid generation %q", g) }
	cases := []struct {
		name, method, path, auth, body string
		status                         int
		code, message                  string
	}{
		// Without the "Bearer " prefix even a valid key is refused.
		{"valid key without Bearer", "GET", "wallets/w", key, "", 401, "unauthorized", noBearer},
		{"no Authorization", "GET", "wallets/w", "", "", 401, "unauthorized", noBearer},

		{"wallet id of 65 characters", "GET", "wallets/" + long, "Bearer " + key, "", 400, "bad_request", badID},
		{"wallet id with a space", "GET", "wallets/w%20x", "Bearer " + key, "", 400, "bad_request", badID},
		{"new backup of a 65-character wallet id", "POST", "wallets/" + long + "/backups/password", "Bearer " + key, start(hex32), 400, "bad_request", badID},
		{"new backup of a wallet id with a dot", "POST", "wallets/w.x/backups/password", "Bearer " + key, start(hex32), 400, "bad_request", badID},

		{"generation 0", "GET", "wallets/w/shares/0", "Bearer " + key, "", 400, "bad_request", badGen("0")},
		{"generation text", "GET", "wallets/w/shares/x", "Bearer " + key, "", 400, "bad_request", badGen("x")},
		// ParseUint gives 2^62-1 with its range error: the error alone refuses it.
		{"generation 2^62", "GET", "wallets/w/shares/4611686018427387904", "Bearer " + key, "", 400, "bad_request", badGen("4611686018427387904")},
		{"verified generation 0", "POST", "wallets/w/backups/password/0/verified", "Bearer " + key, "", 400, "bad_request", badGen("0")},

		{"new backup by sms", "POST", "wallets/w/backups/sms", "Bearer " + key, start(hex32), 400, "bad_request", badMethod("sms")},
		{"removal of sms", "DELETE", "wallets/w/backups/sms", "Bearer " + key, "", 400, "bad_request", badMethod("sms")},
		{"backup by sms", "GET", "wallets/w/backups/sms", "Bearer " + key, "", 400, "bad_request", badMethod("sms")},

		{"pair digest of 2 bytes", "POST", "wallets/w/backups/password", "Bearer " + key, start("abcd"), 400, "bad_request", badPD},
		{"pair digest of 33 bytes", "POST", "wallets/w/backups/password", "Bearer " + key, start(hex32 + "ab"), 400, "bad_request", badPD},
		// DecodeString gives the 32 bytes before the odd digit with its error.
		{"pair digest of 65 digits", "POST", "wallets/w/backups/password", "Bearer " + key, start(hex32 + "a"), 400, "bad_request", badPD},
		{"pair digest not hex", "POST", "wallets/w/backups/password/2/complete", "Bearer " + key, complete(hex32[:62] + "zz"), 400, "bad_request", badPD},
		{"completion digest of 65 digits", "POST", "wallets/w/backups/password/2/complete", "Bearer " + key, complete(hex32 + "a"), 400, "bad_request", badPD},
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
		var body struct {
			Error struct{ Code, Message string }
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || err != nil || body.Error.Code != tc.code || body.Error.Message != tc.message {
			t.Errorf("%s: %d %+v (%v), want %d %s %q", tc.name, resp.StatusCode, body.Error, err, tc.status, tc.code, tc.message)
		}
	}

	after, err := c.Status(ctx, "w")
	if err != nil || fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("refused requests changed the wallet:\n before %+v\n after  %+v (%v)", before, after, err)
	}
	for _, id := range []string{long, "w.x"} {
		if st, err := e.store.Status(ctx, org, id); err != nil || len(st.Shares) != 0 || len(st.Backups) != 0 {
			t.Errorf("wallet %q after refused backups: %+v (%v), want nothing held", id, st, err)
		}
	}
}

func TestValidWalletID(t *testing.T) {
	for id, want := range map[string]bool{
		"":                       false,
		"w":                      true,
		strings.Repeat("a", 64):  true,
		strings.Repeat("a", 65):  false,
		strings.Repeat("a", 200): false,
		"Az09_-":                 true,
		"a b":                    false,
		"a/b":                    false,
		"a.b":                    false,
		"é":                      false,
		"a\x00":                  false,
	} {
		if got := custodian.ValidWalletID(id); got != want {
			t.Errorf("ValidWalletID(%q) = %v, want %v", id, got, want)
		}
	}
}
