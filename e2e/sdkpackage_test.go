//go:build sdkpackage

package e2e

import (
	"crypto/rand"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// The policies the example app is served under. strictCSP is the one the
// SDK promises to work under; the other two each refuse one thing the SDK
// needs, and connect must then fail with CSP_BLOCKED.
const (
	strictCSP   = "script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'"
	noWorkerCSP = "script-src 'self' 'wasm-unsafe-eval'; worker-src 'none'"
	noWasmCSP   = "script-src 'self'; worker-src 'self'"
)

// TestSDKPackage drives the example app of web/examples/wagmi-react, built
// by `vite build` against the npm package that `npm pack` made (make
// test-sdk does both and names the build in DUET_SDK_APP), in Chromium:
// served from its own origin with a strict CSP, it connects through the
// wagmi connector, signs a message and sends a transaction on geth --dev.
func TestSDKPackage(t *testing.T) {
	dist := os.Getenv("DUET_SDK_APP")
	if dist == "" {
		t.Fatal("DUET_SDK_APP is not set: it names the example app's vite build (make test-sdk builds it)")
	}
	if _, err := os.Stat(filepath.Join(dist, "index.html")); err != nil {
		t.Fatalf("DUET_SDK_APP: %v", err)
	}
	chain := startGeth(t)
	keys := fetchDevKeys(t)
	apiKey := createClient(t, keys.OrgAPIKey)

	var csp atomic.Value
	csp.Store(strictCSP)
	app := httptest.NewServer(staticWithCSP(dist, &csp))
	t.Cleanup(app.Close)
	q := url.Values{"duet": {duet.url}, "rpc": {chain.url}, "apiKey": {apiKey}}
	page := app.URL + "/?" + q.Encode()

	p := newProfile(t, "app")
	const sessionTimeout = 3 * time.Minute

	// A policy that refuses what the SDK needs fails connect with a code
	// that names it, shown where the user looks.
	for _, c := range []struct{ name, policy, directive string }{
		{"worker-src 'none'", noWorkerCSP, "worker-src"},
		{"no wasm-unsafe-eval", noWasmCSP, "wasm-unsafe-eval"},
	} {
		csp.Store(c.policy)
		p.do(t, time.Minute, chromedp.Navigate(page))
		p.waitFor(t, time.Minute, "the connect button", `document.getElementById('connect') && !document.getElementById('connect').disabled`)
		p.do(t, time.Minute, chromedp.Click("#connect", chromedp.ByID))
		p.waitFor(t, time.Minute, "an error under "+c.name, `document.getElementById('error')`)
		msg := p.text(t, "error")
		if !strings.HasPrefix(msg, "CSP_BLOCKED: ") || !strings.Contains(msg, c.directive) {
			t.Errorf("under %s, connect failed with %q, want CSP_BLOCKED naming %s", c.name, msg, c.directive)
		}
	}

	csp.Store(strictCSP)
	p.do(t, time.Minute, chromedp.Navigate(page))
	p.waitFor(t, time.Minute, "the connect button", `document.getElementById('connect') && !document.getElementById('connect').disabled`)
	start := time.Now()
	p.do(t, time.Minute, chromedp.Click("#connect", chromedp.ByID))
	p.waitFor(t, sessionTimeout, "the connected address", `document.getElementById('address') || document.getElementById('error')`)
	if p.exists(t, "error") {
		t.Fatalf("connect: %s", p.text(t, "error"))
	}
	address := p.text(t, "address")
	wantChecksummed(t, address)
	t.Logf("connected through wagmi in %v (wallet created): %s", time.Since(start).Round(time.Millisecond), address)
	if w := serverWallet(t, apiKey); !sameAddress(w.Address, address) {
		t.Fatalf("server's wallet %s, page shows %s", w.Address, address)
	}

	dev := chain.devAccount(t)
	chain.mine(t, chain.send(t, map[string]any{"from": dev, "to": address, "value": hexutil.EncodeBig(ether(10))}))
	p.waitFor(t, time.Minute, "the balance of 10 ether", `document.getElementById('balance')?.textContent === '10'`)

	// Sign: the SDK's own approval dialog asks, the app checks the signature
	// with viem's verifyMessage, and the test checks it again here.
	message := p.value(t, "message")
	p.do(t, time.Minute, chromedp.Click("#sign", chromedp.ByID))
	p.approve(t)
	p.waitFor(t, sessionTimeout, "the signature", `document.getElementById('verified')?.textContent.match(/true|false/) || document.getElementById('error')`)
	if p.exists(t, "error") {
		t.Fatalf("sign: %s", p.text(t, "error"))
	}
	if v := p.text(t, "verified"); v != "true" {
		t.Fatalf("viem's verifyMessage says %s", v)
	}
	wantPersonalSig(t, []byte(message), p.text(t, "signature"), address)

	// Send the app's default amount, 0.01 ether, to a fresh address.
	if a := p.value(t, "amount"); a != "0.01" {
		t.Fatalf("the app's amount is %q, want 0.01", a)
	}
	var r [20]byte
	rand.Read(r[:])
	recipient := common.BytesToAddress(r[:])
	p.do(t, time.Minute, chromedp.SendKeys("#to", recipient.Hex(), chromedp.ByID))
	p.waitFor(t, time.Minute, "the send button", `!document.getElementById('send').disabled`)
	p.do(t, time.Minute, chromedp.Click("#send", chromedp.ByID))
	p.approve(t)
	p.waitFor(t, sessionTimeout, "the receipt", `document.getElementById('tx-status')?.textContent === 'success' || document.getElementById('error')`)
	if p.exists(t, "error") {
		t.Fatalf("send: %s", p.text(t, "error"))
	}
	rc := chain.mine(t, p.text(t, "tx-hash"))
	if rc.Status != "0x1" || !sameAddress(rc.From, address) {
		t.Fatalf("receipt: status %s from %s, want 0x1 from %s", rc.Status, rc.From, address)
	}
	want := new(big.Int).Div(ether(1), big.NewInt(100))
	if got := chain.balance(t, recipient.Hex()); got.Cmp(want) != 0 {
		t.Fatalf("recipient balance %v, want %v", got, want)
	}
	if p.exists(t, "error") {
		t.Fatalf("the page shows an error: %s", p.text(t, "error"))
	}

	// EIP-6963: a page of the same origin (so the same wallet on this
	// device) starts Duet itself and lets wagmi find it among the injected
	// wallets; wagmi is not connected before it asks, and its connect()
	// then succeeds.
	p.do(t, time.Minute, chromedp.Navigate(app.URL+"/injected/?"+q.Encode()))
	p.waitFor(t, sessionTimeout, "the EIP-6963 page's result", `document.getElementById('result')?.textContent`)
	var injected struct {
		OK            bool     `json:"ok"`
		Name          string   `json:"name"`
		Message       string   `json:"message"`
		ConnectorName string   `json:"connectorName"`
		Before        string   `json:"before"`
		After         string   `json:"after"`
		Accounts      []string `json:"accounts"`
		ChainID       int      `json:"chainId"`
	}
	p.do(t, 30*time.Second, chromedp.Evaluate(`JSON.parse(document.getElementById('result').textContent)`, &injected))
	if !injected.OK {
		t.Fatalf("wagmi through EIP-6963: %s: %s", injected.Name, injected.Message)
	}
	if injected.ConnectorName != "Duet" || injected.Before != "disconnected" || injected.After != "connected" ||
		len(injected.Accounts) != 1 || !sameAddress(injected.Accounts[0], address) || injected.ChainID != 1337 {
		t.Fatalf("wagmi through EIP-6963: %+v, want Duet connected only when asked, with %s on chain 1337", injected, address)
	}
}

// staticWithCSP serves dir as a production host would: every response
// carries the Content-Security-Policy that csp holds at that moment, and
// nothing is cached, so that each policy applies to a fresh load.
func staticWithCSP(dir string, csp *atomic.Value) http.Handler {
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp.Load().(string))
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		if path.Ext(r.URL.Path) == ".wasm" {
			h.Set("Content-Type", "application/wasm")
		}
		files.ServeHTTP(w, r)
	})
}

// exists reports whether the page has an element with id.
func (p *profile) exists(t *testing.T, id string) bool {
	t.Helper()
	var ok bool
	p.do(t, 30*time.Second, chromedp.Evaluate(`document.getElementById(`+jsString(id)+`) !== null`, &ok))
	return ok
}

// value returns an input's value.
func (p *profile) value(t *testing.T, id string) string {
	t.Helper()
	var s string
	p.do(t, 30*time.Second, chromedp.Evaluate(`document.getElementById(`+jsString(id)+`).value`, &s))
	return s
}

// approve clicks Approve in the SDK's confirmation dialog.
func (p *profile) approve(t *testing.T) {
	t.Helper()
	p.waitFor(t, time.Minute, "the approval dialog", `document.querySelector('.duet-approval-approve')`)
	p.do(t, time.Minute, chromedp.Click(".duet-approval-approve", chromedp.ByQuery))
}
