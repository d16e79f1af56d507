package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/seal"
)

// failFastBound is how long Duet.connect may take to refuse a wrong key or
// an unreachable server: the user-visible contract is "at once", well
// before the device module would have loaded.
const failFastBound = 3 * time.Second

// connectFailure is what a rejected Duet.connect reports in the page.
type connectFailure struct {
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Ms      float64 `json:"ms"`
}

func (p *profile) connectFails(t *testing.T, options string) connectFailure {
	t.Helper()
	var f connectFailure
	p.mustCall(t, time.Minute, `
const { Duet } = await import('/duet.js');
const t0 = performance.now();
try {
  const d = await Duet.connect(`+options+`);
  d.close();
  return { code: 'RESOLVED', message: '', ms: performance.now() - t0 };
} catch (e) {
  return { code: String(e.code), message: String(e.message), ms: performance.now() - t0 };
}`, &f)
	return f
}

// Duet.connect asks the server first: a wrong or malformed key and an
// unreachable server reject at once, with a code and a message for people.
func TestConnectFailsFast(t *testing.T) {
	useServer(t)
	keys := fetchDevKeys(t)
	p := newProfile(t, "fail fast")
	p.open(t, "/e2e.html")
	id := clientIDFromKey(t, keys.ClientAPIKey)
	wrong := "duet_cli_" + id + "_" + strings.Repeat("A", 43)
	cases := []struct {
		name, options, code string
	}{
		{"wrong key", `{ apiKey: ` + jsString(wrong) + ` }`, "UNAUTHORIZED"},
		{"malformed key", `{ apiKey: 'not-a-key' }`, "UNAUTHORIZED"},
		{"organization key", `{ apiKey: ` + jsString(keys.OrgAPIKey) + ` }`, "UNAUTHORIZED"},
		{"unreachable server", `{ apiKey: ` + jsString(keys.ClientAPIKey) + `, url: 'http://127.0.0.1:` + freePort(t) + `' }`, "NETWORK"},
	}
	for _, c := range cases {
		f := p.connectFails(t, c.options)
		if f.Code != c.code {
			t.Errorf("%s: connect gave %s (%s), want %s", c.name, f.Code, f.Message, c.code)
		}
		if f.Ms > float64(failFastBound/time.Millisecond) {
			t.Errorf("%s: connect took %.0f ms to refuse, want under %v", c.name, f.Ms, failFastBound)
		}
		for _, internal := range []string{"bridge:", "wire:", "mpc:", "store:", "websocket:"} {
			if strings.Contains(f.Message, internal) {
				t.Errorf("%s: message %q names an internal package", c.name, f.Message)
			}
		}
		t.Logf("%s: %s in %.0f ms: %s", c.name, f.Code, f.Ms, f.Message)
	}
	// The right key still connects.
	if st := p.connect(t, keys.ClientAPIKey); st.Generation != 0 && st.Address == "" {
		t.Fatalf("connect with the right key: %+v", st)
	}
}

// tokenBackend stands for an app's backend that mints client session
// tokens. Tokens this short cannot be had from POST /v1/clients/{id}/
// session-tokens (a minute at least), so it mints them as the server does,
// with the server's master key, to see them expire within the test.
type tokenBackend struct {
	*httptest.Server
	calls atomic.Int32
	ttl   atomic.Int64 // of the next tokens, in nanoseconds
}

func startTokenBackend(t *testing.T, clientID string, ttl time.Duration) *tokenBackend {
	t.Helper()
	key, err := seal.LoadKeyFile(filepath.Join(duet.data, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	b := new(tokenBackend)
	b.ttl.Store(int64(ttl))
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		b.calls.Add(1)
		// Whole seconds, as the server's own tokens: the expiry is the
		// first whole second at least ttl from now.
		exp := time.Now().Add(time.Duration(b.ttl.Load()) + time.Second).Truncate(time.Second)
		mac := sealer.MAC(seal.Binding{Purpose: seal.PurposeSessionToken, WalletID: clientID}, apikey.SessionTokenMessage(clientID, exp))
		fmt.Fprint(w, apikey.FormatSessionToken(clientID, exp, mac))
	}))
	t.Cleanup(b.Close)
	return b
}

// A session token that expires is renewed through getSessionToken without
// the app noticing: when the server refuses it (the page's clock is behind,
// so the SDK believes it fresh) on an HTTP route and at a session's start,
// and before it expires by the page's own clock (set ahead).
func TestSessionTokenRefresh(t *testing.T) {
	useServer(t)
	keys := fetchDevKeys(t)
	clientKey := createClient(t, keys.OrgAPIKey)
	clientID := clientIDFromKey(t, clientKey)
	const ttl = 2 * time.Second
	backend := startTokenBackend(t, clientID, ttl)
	expire := func() { time.Sleep(ttl + 2*time.Second) }
	wantCalls := func(step string, n int32) {
		t.Helper()
		if got := backend.calls.Load(); got != n {
			t.Fatalf("%s: getSessionToken called %d times, want %d", step, got, n)
		}
	}

	p := newProfile(t, "session tokens")
	p.open(t, "/e2e.html")
	p.mustCall(t, 3*time.Minute, `
const realNow = Date.now;
globalThis.skew = -3600e3;
Date.now = () => realNow() + globalThis.skew;
const { Duet } = await import('/duet.js');
globalThis.e2e = { log: [], duet: null };
globalThis.e2e.duet = await Duet.connect({
  autoApprove: true,
  getSessionToken: async () => (await fetch(`+jsString(backend.URL)+`)).text(),
});
return null;`, nil)
	wantCalls("connect", 1)

	expire()
	var exists bool
	p.mustCall(t, time.Minute, `return await duet.doesWalletExist();`, &exists)
	if exists {
		t.Fatal("a new client has a wallet")
	}
	wantCalls("HTTP route after expiry", 2)

	// The renewed token must outlive the session's preparation (its primes
	// come before its Hello).
	backend.ttl.Store(int64(5 * time.Minute))
	expire()
	var created struct {
		Address string `json:"address"`
	}
	p.mustCall(t, sessionTimeout, `return await duet.createWallet();`, &created)
	wantChecksummed(t, created.Address)
	wantCalls("session after expiry", 3)
	if w := serverWallet(t, clientKey); !w.Exists || !sameAddress(w.Address, created.Address) {
		t.Fatalf("server's wallet %+v, want %s", w, created.Address)
	}

	// With the page's clock past the token's expiry, the SDK renews before
	// the server would refuse.
	p.mustCall(t, time.Minute, `globalThis.skew = 600e3; return null;`, nil)
	before := backend.calls.Load()
	msg := "Duet e2e: signed with a renewed session token"
	var sig string
	p.mustCall(t, sessionTimeout, `return await duet.signMessage(`+jsString(msg)+`);`, &sig)
	wantPersonalSig(t, []byte(msg), sig, created.Address)
	if got := backend.calls.Load(); got != before+1 {
		t.Fatalf("signing with a token expired by the page's clock: getSessionToken called %d times before, %d after, want one more", before, got)
	}
}
