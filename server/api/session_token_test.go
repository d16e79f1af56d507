package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duetwallet/duet/server/api"
	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/seal"
	"github.com/duetwallet/duet/server/store"
)

// clock is a settable clock for the store and the API.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (e *env) mintToken(orgKey, clientID, body string) api.SessionToken {
	e.t.Helper()
	var tok api.SessionToken
	e.mustDo("POST", "/v1/clients/"+clientID+"/session-tokens", orgKey, body, 201, &tok)
	if !strings.HasPrefix(tok.Token, apikey.SessionTokenPrefix+clientID+"_") {
		e.t.Fatalf("minted token %q does not name client %s", tok.Token, clientID)
	}
	return tok
}

// Only an organization's key mints, only for its own clients, and the
// token stands for the client's key on the client routes until it expires.
func TestSessionTokens(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)}
	e := newEnv(t, options{now: clk.Now})
	path := "/v1/clients/" + e.clientAID + "/session-tokens"
	before := e.snapshot()

	// Not with a client key, a client's token, no key, or another
	// organization's key.
	e.expectError("POST", path, e.clientA, "", 401, "unauthorized")
	e.expectError("POST", path, "", "", 401, "unauthorized")
	e.expectError("POST", path, e.orgB, "", 403, "forbidden")
	e.expectError("POST", "/v1/clients/"+strings.Repeat("0", 32)+"/session-tokens", e.orgA, "", 404, "not_found")
	e.expectError("POST", "/v1/clients/nothex/session-tokens", e.orgA, "", 400, "bad_request")
	for _, body := range []string{`{"ttlSeconds":59}`, `{"ttlSeconds":86401}`, `{"ttlSeconds":"600"}`, `{"ttl":600}`} {
		e.expectError("POST", path, e.orgA, body, 400, "bad_request")
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("refused mints changed the store:\n%s\nthen\n%s", before, after)
	}

	// The default lifetime, and one the body asks for.
	def := e.mintToken(e.orgA, e.clientAID, "")
	if want := clk.Now().Add(api.DefaultSessionTokenTTL); !def.ExpiresAt.Equal(want) {
		t.Errorf("default expiresAt = %v, want %v", def.ExpiresAt, want)
	}
	tok := e.mintToken(e.orgA, e.clientAID, `{"ttlSeconds":120}`)
	if want := clk.Now().Add(2 * time.Minute); !tok.ExpiresAt.Equal(want) {
		t.Errorf("expiresAt = %v, want %v", tok.ExpiresAt, want)
	}
	e.expectError("POST", path, tok.Token, "", 401, "unauthorized")

	// The token is the client's on the client routes, and no one else's.
	var w api.WalletInfo
	e.mustDo("GET", "/v1/wallet", tok.Token, "", 200, &w)
	if w.Exists {
		t.Fatalf("GET /v1/wallet with a token = %+v, want no wallet", w)
	}
	walletID := e.committedWallet(e.clientAID).ID
	e.mustDo("GET", "/v1/wallets/"+walletID, tok.Token, "", 200, &w)
	if w.WalletID != walletID {
		t.Fatalf("GET /v1/wallets/%s with a token = %+v", walletID, w)
	}
	e.expectError("GET", "/v1/wallets/"+e.committedWallet(e.clientBID).ID, tok.Token, "", 403, "forbidden")

	// At its expiry it stops, with a code that says so.
	clk.advance(2*time.Minute - time.Second)
	e.mustDo("GET", "/v1/wallet", tok.Token, "", 200, nil)
	clk.advance(time.Second)
	e.expectError("GET", "/v1/wallet", tok.Token, "", 401, api.CodeTokenExpired)
	e.mustDo("GET", "/v1/wallet", def.Token, "", 200, nil)
	e.mustDo("GET", "/v1/wallet", e.clientA, "", 200, nil)
}

// A token whose MAC does not match, or signed under another master key, is
// refused as an invalid key, never as expired; so is any edit of its
// client or expiry.
func TestSessionTokenForgeries(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)}
	e := newEnv(t, options{now: clk.Now})
	tok := e.mintToken(e.orgA, e.clientAID, `{"ttlSeconds":600}`)
	id, exp, mac, err := apikey.ParseSessionToken(tok.Token)
	if err != nil || id != e.clientAID || !exp.Equal(tok.ExpiresAt) {
		t.Fatalf("ParseSessionToken(%q) = %s, %v, %v", tok.Token, id, exp, err)
	}
	other, _ := seal.New(bytes.Repeat([]byte{9}, seal.KeySize))
	otherMAC := other.MAC(seal.Binding{Purpose: seal.PurposeSessionToken, WalletID: id}, apikey.SessionTokenMessage(id, exp))
	flipped := append([]byte(nil), mac...)
	flipped[0] ^= 1
	later := exp.Add(time.Hour)
	forged := map[string]string{
		"flipped MAC":        apikey.FormatSessionToken(id, exp, flipped),
		"other master key":   apikey.FormatSessionToken(id, exp, otherMAC),
		"later expiry":       apikey.FormatSessionToken(id, later, mac),
		"other client":       apikey.FormatSessionToken(e.clientBID, exp, mac),
		"truncated":          tok.Token[:len(tok.Token)-1],
		"leading zero":       strings.Replace(tok.Token, fmt.Sprintf("_%d_", exp.Unix()), fmt.Sprintf("_0%d_", exp.Unix()), 1),
		"padded MAC":         tok.Token + "=",
		"client key kind":    strings.Replace(tok.Token, "duet_cst_", "duet_cli_", 1),
		"non-canonical MAC":  apikey.SessionTokenPrefix + id + fmt.Sprintf("_%d_", exp.Unix()) + base64.RawURLEncoding.EncodeToString(mac)[:42] + "B",
		"expired and forged": apikey.FormatSessionToken(id, exp.Add(-time.Hour), mac),
	}
	for name, key := range forged {
		e.expectError("GET", "/v1/wallet", key, "", 401, "unauthorized")
		if t.Failed() {
			t.Fatalf("%s: %q accepted or told apart", name, key)
		}
	}
	e.mustDo("GET", "/v1/wallet", tok.Token, "", 200, nil)

	// A genuine token of a client that no longer exists is refused too.
	tokB := e.mintToken(e.orgB, e.clientBID, "")
	e.mustDo("GET", "/v1/wallet", tokB.Token, "", 200, nil)
	if _, err := e.db.ExecContext(context.Background(), `DELETE FROM clients WHERE id = $1`, e.clientBID); err != nil {
		t.Fatal(err)
	}
	e.expectError("GET", "/v1/wallet", tokB.Token, "", 401, "unauthorized")
	if _, err := e.store.MintSessionToken(context.Background(), e.clientBID, clk.Now().Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("MintSessionToken for a deleted client: %v, want ErrNotFound", err)
	}
}
