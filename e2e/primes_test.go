package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// spareState is the part of deviceState() about what the device keeps
// ahead of time.
type spareState struct {
	HasShare      bool `json:"hasShare"`
	SparePrimes   int  `json:"sparePrimes"`
	Presignatures int  `json:"presignatures"`
}

func (p *profile) spares(t *testing.T) spareState {
	t.Helper()
	var st spareState
	p.mustCall(t, time.Minute, `return await duet.deviceState();`, &st)
	return st
}

// waitSpares polls deviceState() until the device holds at least n sets of
// spare primes, and returns the state then.
func (p *profile) waitSpares(t *testing.T, n int) spareState {
	t.Helper()
	deadline := time.Now().Add(createTimeout)
	for {
		st := p.spares(t)
		if st.SparePrimes >= n {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d sets of spare primes after %v, want %d", p.name, st.SparePrimes, createTimeout, n)
		}
		time.Sleep(time.Second)
	}
}

// waitSpareEvent waits until the spare prime search has reported a set
// found: it reports after the set is stored.
func (p *profile) waitSpareEvent(t *testing.T) {
	t.Helper()
	p.waitFor(t, time.Minute, "a set of spare primes reported", `globalThis.e2e.log.some((e) => e.operation === 'sparePrimes' && /found a set/.test(e.detail))`)
}

// spareEvents returns the details of the spare prime search's progress
// events.
func spareEvents(evs []progressEvent) []string {
	var out []string
	for _, ev := range evs {
		if ev.Operation == "sparePrimes" && ev.Phase == "primes" {
			out = append(out, ev.Detail)
		}
	}
	return out
}

// TestSparePrimes: the SDK searches for the device's next Paillier primes
// as soon as it connects, in nested workers, without any wallet call; they
// stay in the sealed store across a reload, and the wallet's aux-info takes
// a set of them instead of searching.
func TestSparePrimes(t *testing.T) {
	useServer(t)
	keys := fetchDevKeys(t)
	apiKey := createClient(t, keys.OrgAPIKey)
	a := newProfile(t, "spare primes")
	a.open(t, "/e2e.html")
	if st := a.connectSearching(t, apiKey); st.OnDevice {
		t.Fatalf("fresh profile: %+v, want no wallet", st)
	}
	found := a.waitSpares(t, 1)
	if found.HasShare {
		t.Fatalf("spare primes came with a wallet: %+v", found)
	}
	a.waitSpareEvent(t)
	details := spareEvents(a.takeProgress(t))
	if len(details) < 2 || !strings.Contains(details[0], "nested worker") || !strings.Contains(details[1], "found a set") {
		t.Errorf("spare prime progress: %q, want a search in nested workers and a set found", details)
	}
	for _, d := range details {
		if strings.Contains(d, "device worker") || strings.Contains(d, "stopped") {
			t.Errorf("spare prime search did not run in nested workers: %q", details)
		}
	}

	// A reload keeps them: they are in the sealed store. This connect
	// searches no more, so that the count below is the store's alone.
	a.do(t, time.Minute, chromedp.Reload())
	a.connectWith(t, apiKey, "sparePrimes: false,")
	kept := a.spares(t)
	if kept.SparePrimes < found.SparePrimes {
		t.Fatalf("after a reload: %d sets of spare primes, had %d", kept.SparePrimes, found.SparePrimes)
	}
	if evs := spareEvents(a.takeProgress(t)); len(evs) != 0 {
		t.Errorf("connect with sparePrimes false searched: %q", evs)
	}

	// The wallet's aux-info uses a set and searches for none.
	a.mustCall(t, createTimeout, `
await duet.createWallet();
if (!(await duet.isSigningReady())) {
  await new Promise((resolve) => duet.on('signingReady', resolve));
}`, nil)
	after := a.spares(t)
	if !after.HasShare || after.SparePrimes != kept.SparePrimes-1 {
		t.Errorf("after createWallet and aux-info: %+v, want %d sets of spare primes", after, kept.SparePrimes-1)
	}
	evs := a.takeProgress(t)
	if !hasRound(evs, "prepareSigning", "refresh") {
		t.Errorf("no aux-info after createWallet: %+v", evs)
	}
	if hasPhase(evs, "prepareSigning", "primes") || hasPhase(evs, "createWallet", "primes") {
		t.Errorf("aux-info searched for primes though the device held spare ones: %+v", evs)
	}
	msg := "Duet e2e: signed with aux-info from spare primes"
	var sig string
	a.mustCall(t, sessionTimeout, `return await duet.signMessage(`+jsString(msg)+`);`, &sig)
	var address string
	a.mustCall(t, time.Minute, `return duet.address;`, &address)
	wantPersonalSig(t, []byte(msg), sig, address)

	// With the search on again, the set used is replaced.
	a.do(t, time.Minute, chromedp.Reload())
	a.connectSearching(t, apiKey)
	a.waitSpares(t, kept.SparePrimes)
}

// noNestedWorkersCSP is the policy of the device worker's script in
// TestSparePrimesWithoutNestedWorkers: the worker may compile WebAssembly
// but start no worker of its own.
const noNestedWorkersCSP = "script-src 'self' 'wasm-unsafe-eval'; worker-src 'none'; object-src 'none'; base-uri 'none'"

// TestSparePrimesWithoutNestedWorkers: where the device worker's
// Content-Security-Policy refuses nested workers, the SDK says so in its
// progress and searches in the device worker itself.
func TestSparePrimesWithoutNestedWorkers(t *testing.T) {
	useServer(t)
	keys := fetchDevKeys(t)
	apiKey := createClient(t, keys.OrgAPIKey)

	// Through the same proxy, duetd's own policy allows them.
	allowed := cspProxy(t, "script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'")
	b := newProfile(t, "nested workers allowed")
	b.do(t, time.Minute, chromedp.Navigate(allowed.URL+"/e2e.html"))
	b.connectSearching(t, apiKey)
	b.waitFor(t, time.Minute, "the spare prime search to start", `globalThis.e2e.log.some((e) => e.operation === 'sparePrimes')`)
	if details := spareEvents(b.takeProgress(t)); len(details) == 0 || !strings.HasPrefix(details[0], "searching for spare primes in ") {
		t.Fatalf("spare prime progress under duetd's policy: %q, want a search in nested workers", details)
	}
	b.mustCall(t, time.Minute, `duet.close();`, nil)

	proxy := cspProxy(t, noNestedWorkersCSP)
	a := newProfile(t, "no nested workers")
	a.do(t, time.Minute, chromedp.Navigate(proxy.URL+"/e2e.html"))
	a.connectSearching(t, apiKey)
	a.waitSpares(t, 1)
	a.waitSpareEvent(t)
	details := spareEvents(a.takeProgress(t))
	if len(details) < 2 || !strings.Contains(details[0], "nested workers are unavailable") ||
		!strings.Contains(details[0], "Content-Security-Policy (worker-src)") || !strings.Contains(details[0], "device worker") {
		t.Errorf("spare prime progress under %q: %q, want the fallback named", noNestedWorkersCSP, details)
	}
	t.Logf("fallback progress: %q", details)
}

// cspProxy serves duetd's routes from another origin, with the device
// worker's script under policy.
func cspProxy(t *testing.T, policy string) *httptest.Server {
	t.Helper()
	target, err := url.Parse(duet.url)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(r *http.Response) error {
		if path.Base(r.Request.URL.Path) == "worker.js" {
			r.Header.Set("Content-Security-Policy", policy)
		}
		return nil
	}
	s := httptest.NewServer(rp)
	t.Cleanup(s.Close)
	return s
}
