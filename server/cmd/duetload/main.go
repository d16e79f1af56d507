// Command duetload is a load test of duetd: it starts one or two real
// duetd processes (on SQLite, or on one PostgreSQL database started for the
// run), makes N clients, and runs a native Go device per client, all at
// once, through the phases a wallet goes through:
//
//   - create: key generation, which gives the address;
//   - ready: aux-info, after which the wallet signs (the server's Paillier
//     key comes from its prime pool, searched for as the run goes);
//   - steady: each device fills its presignature pool (--pool, as the SDK
//     does after aux-info), then signs again and again for --duration,
//     refilling its pool after each signature as the SDK does; a signature
//     takes a pooled presignature when the device holds one. With --pool 0
//     every signature presigns inline.
//
// Each phase is timed on its own, so the steady-state figures hold no
// wallet's creation. It prints one JSON object: signatures and
// presignatures per second in the steady window, latency percentiles per
// phase, errors by phase and code, and each server's resident memory.
//
//	duetload --duetd ./duetd --wallets 50 --duration 60s [--pool 1] [--replicas 2 --postgres]
//
// The devices take their Paillier primes from the test fixtures, so that the
// machine's cores go to the server; the server searches for its own.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/internal/fixtures"
	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/server/internal/pgtest"
)

type result struct {
	Wallets          int            `json:"wallets"`
	Replicas         int            `json:"replicas"`
	Database         string         `json:"database"`
	DurationSeconds  float64        `json:"durationSeconds"`
	Pool             int            `json:"pool"`
	Created          int            `json:"created"`
	CreateP50Seconds float64        `json:"createP50Seconds"`
	CreateP99Seconds float64        `json:"createP99Seconds"`
	CreateSeconds    float64        `json:"createPhaseSeconds"`
	Ready            int            `json:"signingReady"`
	ReadyP50Seconds  float64        `json:"readyP50Seconds"`
	ReadyP99Seconds  float64        `json:"readyP99Seconds"`
	ReadySeconds     float64        `json:"readyPhaseSeconds"`
	Signatures       int            `json:"signatures"`
	Pooled           int            `json:"signaturesPooled"`
	SignaturesPerSec float64        `json:"signaturesPerSecond"`
	SignP50Seconds   float64        `json:"signP50Seconds"`
	SignP99Seconds   float64        `json:"signP99Seconds"`
	Presignatures    int            `json:"presignatures"`
	PresignPerSec    float64        `json:"presignaturesPerSecond"`
	PresignP50       float64        `json:"refillP50Seconds"`
	PresignP99       float64        `json:"refillP99Seconds"`
	Errors           map[string]int `json:"errors"`
	ServerRSSBytes   []int64        `json:"serverRssBytes"`
	ServerPeakBytes  []int64        `json:"serverPeakRssBytes"`
	LoadAverage      [2]float64     `json:"loadAverageStartEnd"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "duetload:", err)
		os.Exit(1)
	}
}

func run() error {
	duetd := flag.String("duetd", "./duetd", "duetd `binary`")
	wallets := flag.Int("wallets", 50, "concurrent wallets")
	duration := flag.Duration("duration", time.Minute, "how long the devices sign, after all wallets exist")
	replicas := flag.Int("replicas", 1, "duetd processes on the one database")
	postgres := flag.Bool("postgres", false, "start PostgreSQL (server/internal/pgtest) instead of SQLite")
	createTimeout := flag.Duration("create-timeout", 20*time.Minute, "bound on each of the create and ready phases")
	pool := flag.Int("pool", 1, "presignatures each device keeps pooled (0: every signature presigns inline)")
	flag.Parse()
	if *wallets < 1 || *replicas < 1 || *duration <= 0 || *pool < 0 {
		return errors.New("--wallets and --replicas must be at least 1, --duration positive, --pool not negative")
	}
	ctx := context.Background()
	data, err := os.MkdirTemp("", "duetload")
	if err != nil {
		return err
	}
	defer os.RemoveAll(data)
	var dbArgs []string
	res := result{Wallets: *wallets, Replicas: *replicas, Database: "sqlite", Pool: *pool, Errors: map[string]int{}}
	res.LoadAverage[0] = loadAverage()
	if *postgres {
		pg, err := pgtest.Start()
		if err != nil {
			return err
		}
		defer pg.Stop()
		source, err := pg.NewDatabase(ctx)
		if err != nil {
			return err
		}
		dbArgs = []string{"--db", source}
		res.Database = "postgres"
	}
	out, err := exec.Command(*duetd, append([]string{"org", "create", "--name", "load", "--data", data}, dbArgs...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("org create: %v: %s", err, out)
	}
	var orgKey string
	for line := range strings.Lines(string(out)) {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "duet_org_") {
			orgKey = l
		}
	}
	if orgKey == "" {
		return fmt.Errorf("org create printed no key: %s", out)
	}
	var urls []string
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Signal(os.Interrupt)
			p.Wait()
		}
	}()
	for range *replicas {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		cap := strconv.Itoa(4 * *wallets)
		args := append([]string{"serve", "--addr", addr, "--data", data,
			"--rate-per-ip", "1000000", "--rate-burst-per-ip", "1000000", "--rate-per-key", "1000000", "--rate-burst-per-key", "1000000",
			"--max-sockets-per-ip", cap, "--max-sockets-no-hello-per-ip", cap, "--max-sockets-no-hello", cap,
			// The devices run on the server's cores: one that 200 others
			// starve may take more than the default 5 s to say Hello.
			"--hello-timeout", "1m",
			"--prime-pool", "8"}, dbArgs...)
		cmd := exec.Command(*duetd, args...)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
		urls = append(urls, "http://"+addr)
	}
	for _, u := range urls {
		if err := waitReady(u, 10*time.Minute); err != nil {
			return err
		}
	}
	keys := make([]string, *wallets)
	for i := range keys {
		if keys[i], err = newClient(urls[i%len(urls)], orgKey); err != nil {
			return err
		}
	}

	var mu sync.Mutex
	var creates, readies, signs, refills []time.Duration
	fail := func(what string, err error) {
		code := bridge.Code(err)
		if code == "" {
			code = "other"
		}
		mu.Lock()
		res.Errors[what+":"+code]++
		mu.Unlock()
	}
	record := func(into *[]time.Duration, d time.Duration) {
		mu.Lock()
		*into = append(*into, d)
		mu.Unlock()
	}
	devices := make([]*bridge.Device, *wallets)
	for i := range devices {
		pair := 2 + i%(fixtures.Pairs()-2)
		devices[i] = &bridge.Device{
			URL: urls[i%len(urls)], APIKey: keys[i], Store: &bridge.MemoryStore{},
			Primes: func(context.Context) (*mpc.Primes, error) {
				p, q := fixtures.SafePrimePair(pair)
				return &mpc.Primes{P: p, Q: q}, nil
			},
			PoolSize:     max(*pool, 1),
			FrameTimeout: 5 * time.Minute,
		}
	}
	// phase runs step on every device at once, within bound, and returns the
	// devices that got through and how long the phase took.
	phase := func(ds []*bridge.Device, bound time.Duration, step func(context.Context, *bridge.Device) bool) ([]*bridge.Device, time.Duration) {
		pctx, cancel := context.WithTimeout(ctx, bound)
		defer cancel()
		start := time.Now()
		ok := make([]bool, len(ds))
		var wg sync.WaitGroup
		for i, d := range ds {
			wg.Go(func() { ok[i] = step(pctx, d) })
		}
		wg.Wait()
		var next []*bridge.Device
		for i, d := range ds {
			if ok[i] {
				next = append(next, d)
			}
		}
		return next, time.Since(start)
	}

	created, took := phase(devices, *createTimeout, func(ctx context.Context, d *bridge.Device) bool {
		t := time.Now()
		if _, err := d.Keygen(ctx); err != nil {
			fail("create", err)
			return false
		}
		record(&creates, time.Since(t))
		return true
	})
	res.Created, res.CreateSeconds = len(created), took.Seconds()
	ready, took := phase(created, *createTimeout, func(ctx context.Context, d *bridge.Device) bool {
		t := time.Now()
		if _, err := d.FinishAux(ctx); err != nil {
			fail("ready", err)
			return false
		}
		record(&readies, time.Since(t))
		if *pool > 0 {
			if _, err := d.FillPool(ctx); err != nil {
				fail("fill", err)
				return false
			}
		}
		return true
	})
	res.Ready, res.ReadySeconds = len(ready), took.Seconds()

	var pooled, presigned int
	start := time.Now()
	deadline := start.Add(*duration)
	phase(ready, *duration+5*time.Minute, func(ctx context.Context, d *bridge.Device) bool {
		for i := 0; time.Now().Before(deadline); i++ {
			n, err := d.Pooled(ctx)
			if err != nil {
				fail("sign", err)
				return false
			}
			t := time.Now()
			if _, err := d.Sign(ctx, [32]byte{byte(i), byte(i >> 8), 1}); err != nil {
				fail("sign", err)
				continue
			}
			record(&signs, time.Since(t))
			mu.Lock()
			if n > 0 {
				pooled++
			}
			mu.Unlock()
			if *pool == 0 || !time.Now().Before(deadline) {
				continue
			}
			t = time.Now()
			made, err := d.FillPool(ctx)
			if err != nil {
				fail("refill", err)
				continue
			}
			record(&refills, time.Since(t))
			mu.Lock()
			presigned += made
			mu.Unlock()
		}
		return true
	})
	elapsed := time.Since(start)
	res.DurationSeconds = elapsed.Seconds()
	res.Signatures, res.Pooled, res.Presignatures = len(signs), pooled, presigned
	if *pool == 0 {
		res.Presignatures = len(signs)
	}
	res.SignaturesPerSec = float64(res.Signatures) / elapsed.Seconds()
	res.PresignPerSec = float64(res.Presignatures) / elapsed.Seconds()
	res.CreateP50Seconds, res.CreateP99Seconds = pct(creates, 50), pct(creates, 99)
	res.ReadyP50Seconds, res.ReadyP99Seconds = pct(readies, 50), pct(readies, 99)
	res.SignP50Seconds, res.SignP99Seconds = pct(signs, 50), pct(signs, 99)
	res.PresignP50, res.PresignP99 = pct(refills, 50), pct(refills, 99)
	res.LoadAverage[1] = loadAverage()
	for _, p := range procs {
		rss, peak := memory(p.Process.Pid)
		res.ServerRSSBytes = append(res.ServerRSSBytes, rss)
		res.ServerPeakBytes = append(res.ServerPeakBytes, peak)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

func pct(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))].Seconds()
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitReady(base string, within time.Duration) error {
	end := time.Now().Add(within)
	for time.Now().Before(end) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within %v", base, within)
}

func newClient(base, orgKey string) (string, error) {
	req, _ := http.NewRequest("POST", base+"/v1/clients", bytes.NewReader(nil))
	req.Header.Set("Authorization", "Bearer "+orgKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct{ ClientAPIKey string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("POST /v1/clients: %s %v", resp.Status, err)
	}
	return out.ClientAPIKey, nil
}

// memory reads a process's resident and peak resident memory.
func memory(pid int) (rss, peak int64) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return rss, peak
}

// loadAverage reads the machine's one-minute load average, so that a
// figure taken on a busy machine says so.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
