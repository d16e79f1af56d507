package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// profile is one headless Chromium with its own user data folder, and so its
// own IndexedDB, localStorage and Web Locks: to Duet, a separate device.
type profile struct {
	name string
	tab  context.Context

	mu      sync.Mutex
	console []string
}

// chromium returns the browser the tests run, failing the test with what to
// do if there is none: a browser test that silently skips proves nothing.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("DUET_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("DUET_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium for the browser tests: set DUET_CHROMIUM, or install chromium (make deps)")
	return ""
}

// newProfile starts a browser with a fresh profile; it stops with t.
func newProfile(t *testing.T, name string) *profile {
	t.Helper()
	exe := chromium(t)
	// Not t.TempDir: Chromium's helper processes may still write to the
	// profile for a moment after the browser exits, which would fail the
	// test in TempDir's cleanup for no fault of Duet's.
	dir, err := os.MkdirTemp("", "duet-e2e-profile-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		// Tests run as root in containers, where the sandbox cannot start.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(dir),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	p := &profile{name: name, tab: tab}
	t.Cleanup(func() {
		// Closing the first tab's context this way closes the browser
		// gracefully and waits for it to exit.
		if err := chromedp.Cancel(tab); err != nil {
			t.Logf("%s: closing Chromium: %v", name, err)
		}
		cancelTab()
		cancelAlloc()
		removeProfile(t, dir)
		if t.Failed() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if len(p.console) > 0 {
				t.Logf("%s: page console:\n%s", name, tail(strings.Join(p.console, "\n"), 100))
			}
		}
	})
	chromedp.ListenTarget(tab, func(ev any) {
		var line string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			args := make([]string, 0, len(ev.Args))
			for _, a := range ev.Args {
				if len(a.Value) > 0 {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			line = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " "))
		case *runtime.EventExceptionThrown:
			line = "uncaught: " + ev.ExceptionDetails.Error()
		default:
			return
		}
		p.mu.Lock()
		p.console = append(p.console, line)
		p.mu.Unlock()
	})
	// The first Run starts the browser, which lives as long as the context
	// of that Run: the tab's, not a step's timeout.
	if err := chromedp.Run(tab); err != nil {
		t.Fatalf("%s: starting Chromium: %v", name, err)
	}
	return p
}

// removeProfile deletes a profile folder once the browser's last helper
// process has let go of it.
func removeProfile(t *testing.T, dir string) {
	var err error
	for range 50 {
		if err = os.RemoveAll(dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("leaving the browser profile %s: %v", dir, err)
}

// newTab opens another tab of p's browser: the same profile, so the same
// IndexedDB and Web Locks, as a user's second tab of the app.
func (p *profile) newTab(t *testing.T) *profile {
	t.Helper()
	tab, cancel := chromedp.NewContext(p.tab)
	t.Cleanup(cancel)
	if err := chromedp.Run(tab); err != nil {
		t.Fatalf("%s: opening a tab: %v", p.name, err)
	}
	return &profile{name: p.name + ", second tab", tab: tab}
}

// refuseRequests makes the browser fail the page's requests that match
// pattern as a server that does not answer would (connection refused),
// until the returned function is called.
func (p *profile) refuseRequests(t *testing.T, pattern string) (restore func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(p.tab)
	chromedp.ListenTarget(ctx, func(ev any) {
		if ev, ok := ev.(*fetch.EventRequestPaused); ok {
			go func() {
				c := chromedp.FromContext(p.tab)
				fetch.FailRequest(ev.RequestID, network.ErrorReasonConnectionRefused).Do(cdp.WithExecutor(p.tab, c.Target))
			}()
		}
	})
	p.do(t, 30*time.Second, fetch.Enable().WithPatterns([]*fetch.RequestPattern{{URLPattern: pattern}}))
	return func() {
		p.do(t, 30*time.Second, fetch.Disable())
		cancel()
	}
}

// do runs browser actions within timeout.
func (p *profile) do(t *testing.T, timeout time.Duration, actions ...chromedp.Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.tab, timeout)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
}

// open loads a page of the server.
func (p *profile) open(t *testing.T, path string) {
	t.Helper()
	p.do(t, time.Minute, chromedp.Navigate(duet.url+path))
}

// jsError is a rejection seen in the page: a DuetError's code and message.
type jsError struct {
	Code    string
	Message string
}

func (e *jsError) Error() string { return e.Code + ": " + e.Message }

// call runs body, the statements of an async JavaScript function in which
// `duet` is the page's Duet (after connect), and decodes its return value
// into out. A rejection or throw comes back as a *jsError.
func (p *profile) call(t *testing.T, timeout time.Duration, body string, out any) *jsError {
	t.Helper()
	expr := `(async () => {
  try {
    const duet = globalThis.e2e?.duet;
    const value = await (async () => {` + body + `})();
    return { ok: true, value: value === undefined ? null : value };
  } catch (e) {
    return { ok: false, code: String(e?.code ?? ''), message: String(e?.message ?? e) };
  }
})()`
	var raw []byte
	ctx, cancel := context.WithTimeout(p.tab, timeout)
	defer cancel()
	err := chromedp.Run(ctx, chromedp.Evaluate(expr, &raw, func(e *runtime.EvaluateParams) *runtime.EvaluateParams {
		return e.WithAwaitPromise(true)
	}))
	if err != nil {
		t.Fatalf("%s: evaluating %q: %v", p.name, firstLine(body), err)
	}
	var r struct {
		OK      bool            `json:"ok"`
		Value   json.RawMessage `json:"value"`
		Code    string          `json:"code"`
		Message string          `json:"message"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("%s: result of %q: %v (%s)", p.name, firstLine(body), err, raw)
	}
	if !r.OK {
		return &jsError{Code: r.Code, Message: r.Message}
	}
	if out != nil {
		if err := json.Unmarshal(r.Value, out); err != nil {
			t.Fatalf("%s: result of %q: %v (%s)", p.name, firstLine(body), err, r.Value)
		}
	}
	return nil
}

// mustCall is call for a step that must succeed.
func (p *profile) mustCall(t *testing.T, timeout time.Duration, body string, out any) {
	t.Helper()
	if err := p.call(t, timeout, body, out); err != nil {
		t.Fatalf("%s: %s: %v", p.name, firstLine(body), err)
	}
}

// wantCode is call for a step that must reject with code.
func (p *profile) wantCode(t *testing.T, timeout time.Duration, body, code string) {
	t.Helper()
	err := p.call(t, timeout, body, nil)
	if err == nil {
		t.Fatalf("%s: %s: succeeded, want %s", p.name, firstLine(body), code)
	}
	if err.Code != code {
		t.Fatalf("%s: %s: got %v, want code %s", p.name, firstLine(body), err, code)
	}
	t.Logf("%s: %s: rejected as expected: %v", p.name, firstLine(body), err)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// waitFor polls a JavaScript condition until it is true.
func (p *profile) waitFor(t *testing.T, timeout time.Duration, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		ctx, cancel := context.WithTimeout(p.tab, 30*time.Second)
		err := chromedp.Run(ctx, chromedp.Evaluate(`Boolean(`+cond+`)`, &ok))
		cancel()
		if err != nil {
			t.Fatalf("%s: waiting for %s: %v", p.name, what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: gave up waiting for %s after %v", p.name, what, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// text returns an element's text content.
func (p *profile) text(t *testing.T, id string) string {
	t.Helper()
	var s string
	p.do(t, 30*time.Second, chromedp.Evaluate(`document.getElementById(`+jsString(id)+`).textContent`, &s))
	return strings.TrimSpace(s)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic("e2e: internal error: " + err.Error())
	}
	return string(b)
}

// walletState is what the SDK reports about the device after connect or
// deviceState().
type walletState struct {
	OnDevice   bool   `json:"hasShare"`
	Stale      bool   `json:"stale"`
	Removed    bool   `json:"removed"`
	Address    string `json:"address"`
	Generation uint64 `json:"generation"`
}

// connect loads the SDK in the page and connects with apiKey, recording
// every progress event with its time in the page. Signatures are approved
// without asking (autoApprove): the approval point has tests of its own.
// The search for spare primes the SDK starts at connect is off: on a
// machine of two cores it would compete with every test's sessions, and
// TestSparePrimes, which turns it on (connectSearching), has it as its
// subject.
func (p *profile) connect(t *testing.T, apiKey string) walletState {
	t.Helper()
	return p.connectWith(t, apiKey, "sparePrimes: false,")
}

// connectSearching is connect with the SDK's default: the search for spare
// primes starts once connected.
func (p *profile) connectSearching(t *testing.T, apiKey string) walletState {
	t.Helper()
	return p.connectWith(t, apiKey, "")
}

// connectWith connects with more options of Duet.connect, given as the
// source of object properties ("background: false").
func (p *profile) connectWith(t *testing.T, apiKey, options string) walletState {
	t.Helper()
	var st walletState
	p.mustCall(t, 3*time.Minute, `
const { Duet } = await import('/duet.js');
const log = [];
globalThis.e2e = { log, duet: null };
const d = await Duet.connect({ `+options+` apiKey: `+jsString(apiKey)+`, autoApprove: true, onProgress: (ev) => log.push({ ...ev, at: performance.now() }) });
globalThis.e2e.duet = d;
return { hasShare: d.isWalletOnDevice(), address: d.address, generation: (await d.deviceState()).generation };
`, &st)
	return st
}

// deviceState reads the device's store again.
func (p *profile) deviceState(t *testing.T) walletState {
	t.Helper()
	var st walletState
	p.mustCall(t, time.Minute, `return await duet.deviceState();`, &st)
	return st
}

// progressEvent is one event the SDK passed to onProgress.
type progressEvent struct {
	Operation string  `json:"operation"`
	Phase     string  `json:"phase"`
	Protocol  string  `json:"protocol"`
	Round     int     `json:"round"`
	Detail    string  `json:"detail"`
	At        float64 `json:"at"` // ms, performance.now() in the page
}

// takeProgress returns and clears the progress events recorded since the
// last call.
func (p *profile) takeProgress(t *testing.T) []progressEvent {
	t.Helper()
	var evs []progressEvent
	p.mustCall(t, 30*time.Second, `return globalThis.e2e.log.splice(0);`, &evs)
	return evs
}
