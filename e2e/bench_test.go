//go:build duetbench

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/internal/fixtures"
	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/server/api"
)

// The speed benchmark of make bench (build tag duetbench): the SDK in
// headless Chromium against the duetd of TestMain on loopback, and the
// server's throughput with native Go devices. It writes its figures as JSON
// to $DUET_BENCH_OUT; tools/benchtable prints them with the mpc benchmarks.

// benchFigure is one measured quantity: the median of its samples, or
// nothing with a note saying why.
type benchFigure struct {
	Name    string    `json:"name"`
	Unit    string    `json:"unit"`
	Median  *float64  `json:"median"`
	P99     *float64  `json:"p99,omitempty"`
	Samples []float64 `json:"samples,omitempty"`
	Target  string    `json:"target,omitempty"`
	Note    string    `json:"note,omitempty"`
}

type benchReport struct {
	mu      sync.Mutex
	Figures []benchFigure `json:"figures"`
}

func (r *benchReport) add(f benchFigure) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(f.Samples) > 0 && f.Median == nil {
		m := quantile(f.Samples, 0.5)
		f.Median = &m
	}
	r.Figures = append(r.Figures, f)
}

// quantile is the nearest-rank quantile of xs.
func quantile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func TestBench(t *testing.T) {
	out := os.Getenv("DUET_BENCH_OUT")
	if out == "" {
		t.Fatal("DUET_BENCH_OUT must name the file for the figures (make bench sets it)")
	}
	useServer(t)
	rep := &benchReport{}
	runs := envInt("DUET_BENCH_RUNS", 5)
	t.Run("module", func(t *testing.T) { benchModule(t, rep, runs) })
	t.Run("browser", func(t *testing.T) { benchBrowser(t, rep, runs) })
	t.Run("server", func(t *testing.T) { benchServer(t, rep) })
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// benchModule measures duet.wasm as served: its size under each encoding,
// what Chromium transfers, and compiling and instantiating it there.
func benchModule(t *testing.T, rep *benchReport, runs int) {
	// As a deployment would serve it: compressed ahead of time at the best
	// qualities (duetd precompress).
	webDir := filepath.Join(filepath.Dir(duet.data), "web")
	for _, name := range []string{"duet.wasm", "wasm_exec.js"} {
		if err := api.Precompress(filepath.Join(webDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	size := func(encoding string) float64 {
		req, _ := http.NewRequest(http.MethodGet, duet.url+"/duet.wasm", nil)
		req.Header.Set("Accept-Encoding", encoding)
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /duet.wasm (%s): %d, %v", encoding, resp.StatusCode, err)
		}
		if got := resp.Header.Get("Content-Encoding"); got != encoding && !(encoding == "identity" && got == "") {
			t.Fatalf("GET /duet.wasm (%s): Content-Encoding %q", encoding, got)
		}
		return float64(n) / 1e6
	}
	for _, enc := range []string{"identity", "gzip", "br"} {
		f := benchFigure{Name: "module size, " + enc, Unit: "MB", Samples: []float64{size(enc)}}
		if enc == "br" {
			f.Target = "≤ 2"
		}
		rep.add(f)
	}

	p := newProfile(t, "module")
	p.open(t, "/e2e.html")
	var transfer, compile []float64
	encoding := ""
	for range runs {
		var m struct {
			Transfer float64 `json:"transfer"`
			Ms       float64 `json:"ms"`
			Encoding string  `json:"encoding"`
		}
		p.mustCall(t, 2*time.Minute, `
if (!globalThis.Go) {
  await new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = '/wasm_exec.js'; s.onload = resolve; s.onerror = reject;
    document.head.appendChild(s);
  });
}
const names = await (await fetch('/duet-assets.json', { cache: 'no-store' })).json();
const url = new URL('/' + names['duet.wasm'], location.href).href;
const resp = await fetch(url, { cache: 'no-store' });
const buf = await resp.arrayBuffer();
const entry = performance.getEntriesByName(url).at(-1);
const t0 = performance.now();
const module = await WebAssembly.compile(buf);
await WebAssembly.instantiate(module, new Go().importObject);
const ms = performance.now() - t0;
performance.clearResourceTimings();
return { transfer: entry ? entry.encodedBodySize : -1, ms, encoding: resp.headers.get('Content-Encoding') ?? '' };
`, &m)
		encoding = m.Encoding
		transfer = append(transfer, m.Transfer/1e6)
		compile = append(compile, m.Ms/1000)
	}
	t.Logf("Chromium fetched duet.wasm with Content-Encoding %q", encoding)
	rep.add(benchFigure{Name: "module on the wire in Chromium (loopback)", Unit: "MB", Samples: transfer, Target: "≤ 2",
		Note: fmt.Sprintf("encodedBodySize of the hashed duet.wasm; Chromium chose Content-Encoding %q", encoding)})
	rep.add(benchFigure{Name: "module compile + instantiate in Chromium", Unit: "s", Samples: compile,
		Note: "WebAssembly.compile and instantiate of the downloaded bytes; V8 compiles most functions lazily, on first call"})
}

// benchBrowser runs the SDK's flows in fresh profiles, one wallet a run:
// device A creates it cold (no spare primes, no search beside it), signs
// from its presignature pool and backs up; device B recovers it cold and
// signs without a pool; device C creates another wallet once its spare
// primes are in store.
func benchBrowser(t *testing.T, rep *benchReport, runs int) {
	keys := fetchDevKeys(t)
	var addr, ready, readySpare, pooled, sign, backup, recovery, memory []float64
	for i := range runs {
		apiKey := createClient(t, keys.OrgAPIKey)
		a := newProfile(t, fmt.Sprintf("bench A%d", i))
		a.open(t, "/e2e.html")
		// Cold: a fresh profile holds no spare primes, and with sparePrimes
		// false none is searched for beside the wallet's own search.
		a.connectWith(t, apiKey, "sparePrimes: false,")
		a.takeProgress(t)
		addrAt, ms := benchCreate(t, a)
		evs := a.takeProgress(t)
		if !hasPhase(evs, "prepareSigning", "primes") {
			t.Fatalf("cold aux-info did not search for primes: %+v", evs)
		}
		addr = append(addr, addrAt)
		ready = append(ready, ms)
		// With the pool full (the SDK fills it after aux-info and after each
		// signature), a signature takes a pooled presignature.
		for j := range 2 {
			waitPool(t, a, bridge.DefaultPoolSize)
			a.takeProgress(t)
			var ms float64
			a.mustCall(t, sessionTimeout, `
const t0 = performance.now();
await duet.signMessage(`+jsString(fmt.Sprintf("bench pooled %d.%d", i, j))+`);
return performance.now() - t0;
`, &ms)
			evs := a.takeProgress(t)
			if !slices.ContainsFunc(evs, func(e progressEvent) bool {
				return e.Operation == "signMessage" && e.Phase == "sign" && e.Detail == "pooled"
			}) {
				t.Fatalf("signature with a full pool did not use it: %+v", evs)
			}
			pooled = append(pooled, ms/1000)
		}
		var st struct {
			ModuleMemoryBytes float64 `json:"moduleMemoryBytes"`
		}
		a.mustCall(t, time.Minute, `return await duet.deviceState();`, &st)
		if st.ModuleMemoryBytes <= 0 {
			t.Fatalf("deviceState reported no module memory: %+v", st)
		}
		memory = append(memory, st.ModuleMemoryBytes/1e6)
		a.mustCall(t, sessionTimeout, `
const t0 = performance.now();
await duet.backupWallet({ method: 'password', password: `+jsString(backupPassword)+` });
return performance.now() - t0;
`, &ms)
		backup = append(backup, ms/1000)

		// Device B keeps nothing ahead: no spare primes, no pool.
		b := newProfile(t, fmt.Sprintf("bench B%d", i))
		b.open(t, "/e2e.html")
		b.connectWith(t, apiKey, "background: false,")
		b.mustCall(t, createTimeout, `
const t0 = performance.now();
await duet.recoverWallet({ method: 'password', password: `+jsString(backupPassword)+` });
return performance.now() - t0;
`, &ms)
		recovery = append(recovery, ms/1000)
		for j := range 2 {
			b.mustCall(t, sessionTimeout, `
const t0 = performance.now();
await duet.signMessage(`+jsString(fmt.Sprintf("bench inline %d.%d", i, j))+`);
return performance.now() - t0;
`, &ms)
			sign = append(sign, ms/1000)
		}

		// Device C waits for its spare primes (the search the SDK starts at
		// connect), then creates a wallet of another client.
		c := newProfile(t, fmt.Sprintf("bench C%d", i))
		c.open(t, "/e2e.html")
		c.connectSearching(t, createClient(t, keys.OrgAPIKey))
		c.waitSpares(t, bridge.SparePrimesWanted)
		c.takeProgress(t)
		_, ms = benchCreate(t, c)
		if evs := c.takeProgress(t); hasPhase(evs, "prepareSigning", "primes") || !hasRound(evs, "prepareSigning", "refresh") {
			t.Fatalf("aux-info with spare primes: %+v", evs)
		}
		readySpare = append(readySpare, ms)
		t.Logf("run %d: address %.2fs, signing-ready cold %.2fs, with spare primes %.2fs, pooled sign %.3fs, sign %.2fs, backup %.2fs, recovery %.2fs",
			i, addrAt, ready[i], ms, pooled[len(pooled)-1], sign[len(sign)-1], backup[i], recovery[i])
	}
	rep.add(benchFigure{Name: "browser: time to address", Unit: "s", Samples: addr, Target: "≤ 0.3",
		Note: "from createWallet's call to its address progress event"})
	rep.add(benchFigure{Name: "browser: signing-ready from cold", Unit: "s", Samples: ready, Target: "≤ 8",
		Note: "from createWallet's call to the signingReady event: key generation, then aux-info in the background (safe primes, refresh, commit); " +
			"cold: a fresh profile connected with sparePrimes: false, so it holds no spare primes and no search runs beside aux-info's own"})
	rep.add(benchFigure{Name: "browser: signing-ready with spare primes", Unit: "s", Samples: readySpare,
		Note: fmt.Sprintf("as from cold, on a fresh profile that connected and waited until the SDK's background search had stored %d sets of spare primes; aux-info searched none", bridge.SparePrimesWanted)})
	rep.add(benchFigure{Name: "browser: sign with a pooled presignature", Unit: "s", Samples: pooled, Target: "≤ 0.02",
		Note: fmt.Sprintf("signMessage end to end (approval, hashing, one message each way), started once deviceState() shows the pool full (%d); its progress says pooled", bridge.DefaultPoolSize)})
	rep.add(benchFigure{Name: "browser: sign without a pool (signMessage)", Unit: "s", Samples: sign, Target: "≤ 1.5",
		Note: "on the recovered device, connected with background: false: each signature presigns inline"})
	rep.add(benchFigure{Name: "browser: backup (password)", Unit: "s", Samples: backup})
	rep.add(benchFigure{Name: "browser: recovery on a new device (password)", Unit: "s", Samples: recovery,
		Note: "cold: a fresh profile connected with background: false, so the recovery searches its primes"})
	rep.add(benchFigure{Name: "browser: device WebAssembly memory after create and sign", Unit: "MB", Samples: memory, Target: "≤ 128",
		Note: "deviceState().moduleMemoryBytes after key generation, aux-info, the pool's presignatures and two signatures: the module's linear memory, which never shrinks, so its peak"})
}

// benchCreate creates the wallet and returns the seconds to its address
// and to signing-ready.
func benchCreate(t *testing.T, p *profile) (addr, ready float64) {
	t.Helper()
	var created struct {
		T0 float64 `json:"t0"`
		Ms float64 `json:"ms"`
	}
	p.mustCall(t, createTimeout, `
const t0 = performance.now();
await duet.createWallet();
if (!(await duet.isSigningReady())) {
  await new Promise((resolve) => duet.on('signingReady', resolve));
}
return { t0, ms: performance.now() - t0 };
`, &created)
	addr = math.NaN()
	for _, ev := range p.log(t) {
		if ev.Operation == "createWallet" && ev.Phase == "address" && math.IsNaN(addr) {
			addr = (ev.At - created.T0) / 1000
		}
	}
	if math.IsNaN(addr) {
		t.Fatal("createWallet reported no address phase")
	}
	return addr, created.Ms / 1000
}

// log returns the progress events recorded since the last takeProgress,
// leaving them.
func (p *profile) log(t *testing.T) []progressEvent {
	t.Helper()
	var evs []progressEvent
	p.mustCall(t, 30*time.Second, `return globalThis.e2e.log.slice();`, &evs)
	return evs
}

// waitPool waits until the device's presignature pool holds n.
func waitPool(t *testing.T, p *profile, n int) {
	t.Helper()
	deadline := time.Now().Add(createTimeout)
	for p.spares(t).Presignatures < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the presignature pool did not reach %d in %v", p.name, n, createTimeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type benchStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *benchStore) Get(_ context.Context, k string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.m[k]), nil
}

func (s *benchStore) Put(_ context.Context, k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[k] = slices.Clone(v)
	return nil
}

func (s *benchStore) Delete(_ context.Context, k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}

// benchServer drives duetd with native Go devices: wallets made with
// fixture primes on the device's side (the server draws from its own
// pool), then concurrent signatures for a bounded time.
func benchServer(t *testing.T, rep *benchReport) {
	keys := fetchDevKeys(t)
	want := envInt("DUET_BENCH_WALLETS", 50)
	keygenBudget := time.Duration(envInt("DUET_BENCH_KEYGEN_SECONDS", 240)) * time.Second
	signFor := time.Duration(envInt("DUET_BENCH_SIGN_SECONDS", 30)) * time.Second
	const perWallet = 4 // duetd's default MaxSessionsPerClient

	var (
		mu      sync.Mutex
		devices []*bridge.Device
		next    int
	)
	primes := func(context.Context) (*mpc.Primes, error) {
		mu.Lock()
		i := next
		next++
		mu.Unlock()
		p, q := fixtures.SafePrimePair(i % fixtures.Pairs())
		return &mpc.Primes{P: p, Q: q}, nil
	}
	deadline := time.Now().Add(keygenBudget)
	var wg sync.WaitGroup
	work := make(chan string)
	for range 4 {
		wg.Go(func() {
			for apiKey := range work {
				d := &bridge.Device{URL: duet.url, APIKey: apiKey, Store: &benchStore{}, Primes: primes, FrameTimeout: 2 * time.Minute}
				ctx, cancel := context.WithDeadline(context.Background(), deadline)
				_, err := d.Keygen(ctx)
				if err == nil {
					// Key generation commits alone; aux-info makes the
					// wallet signing-ready before its signatures are timed.
					_, err = d.FinishAux(ctx)
				}
				cancel()
				if err != nil {
					t.Logf("keygen: %v", err)
					continue
				}
				mu.Lock()
				devices = append(devices, d)
				mu.Unlock()
			}
		})
	}
	for i := 0; i < want && time.Now().Before(deadline); i++ {
		work <- createClient(t, keys.OrgAPIKey)
	}
	close(work)
	wg.Wait()
	if len(devices) == 0 {
		t.Fatal("no wallet was created")
	}
	concurrency := min(want, perWallet*len(devices))
	t.Logf("%d wallets, %d concurrent signers for %v", len(devices), concurrency, signFor)

	var lat []float64
	var failed int
	failures := map[string]int{}
	stop := time.Now().Add(signFor)
	cpu0, cpuOK := processCPU(duet.cmd.Process.Pid)
	start := time.Now()
	for i := range concurrency {
		d := devices[i%len(devices)]
		wg.Go(func() {
			for time.Now().Before(stop) {
				var digest [32]byte
				copy(digest[:], fmt.Sprintf("bench %d %d", i, time.Now().UnixNano()))
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				t0 := time.Now()
				_, err := d.Sign(ctx, digest)
				cancel()
				mu.Lock()
				if err != nil {
					failed++
					code := bridge.Code(err)
					if failures[code] == 0 {
						t.Logf("sign: %v", err)
					}
					failures[code]++
				} else {
					lat = append(lat, time.Since(t0).Seconds())
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	cpu1, cpu1OK := processCPU(duet.cmd.Process.Pid)
	if len(lat) == 0 {
		t.Fatalf("no signature in %v (%d failed)", signFor, failed)
	}
	cores := float64(runtime.NumCPU())
	perCore := float64(len(lat)) / elapsed / cores
	note := fmt.Sprintf("%d wallets, %d concurrent, %d signatures in %.0fs, %d failed %v, %d cores shared by duetd and the Go devices; each signature presigns inline",
		len(devices), concurrency, len(lat), elapsed, failed, failures, int(cores))
	rep.add(benchFigure{Name: "server: presignatures per second per core", Unit: "/s/core", Median: &perCore, Target: "≥ 15", Note: note})
	// The same signatures over the CPU time duetd itself used in the window:
	// the server's rate per core with the devices' share of the cores left
	// out.
	if used := (cpu1 - cpu0).Seconds(); cpuOK && cpu1OK && used > 0 {
		perServerCore := float64(len(lat)) / used
		rep.add(benchFigure{Name: "server: presignatures per duetd CPU-second", Unit: "/s/core", Median: &perServerCore, Target: "≥ 15",
			Note: fmt.Sprintf("%d signatures (each presigned inline) over %.1f s of duetd's user and system CPU time in the %.0f s window", len(lat), used, elapsed)})
	} else {
		rep.add(benchFigure{Name: "server: presignatures per duetd CPU-second", Unit: "/s/core", Target: "≥ 15",
			Note: "not measured: duetd's CPU time is read from /proc, which this system does not have"})
	}
	p99 := quantile(lat, 0.99)
	rep.add(benchFigure{Name: fmt.Sprintf("server: signature latency at %d concurrent wallets (p50, p99)", concurrency), Unit: "s",
		Median: ptr(quantile(lat, 0.5)), P99: &p99, Note: note})
}

func ptr(f float64) *float64 { return &f }

// processCPU reads a process's user and system CPU time from /proc.
func processCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces; the fields after it
	// start past its closing parenthesis. utime and stime are fields 14
	// and 15, in clock ticks (USER_HZ, 100 on Linux).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * time.Second / 100, true
}
