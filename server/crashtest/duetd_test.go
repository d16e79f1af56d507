package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// buildDuetd builds the real duetd once per test binary.
var buildDuetd = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "crashtest-duetd")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "duetd")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goTool, "build", "-o", bin, "github.com/duetwallet/duet/server/cmd/duetd")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build duetd: %v: %s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := buildDuetd(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// duetd is one duetd on one SQLite database and one address, across
// restarts.
type duetd struct {
	t      *testing.T
	bin    string
	data   string
	addr   string
	orgKey string

	cmd    *exec.Cmd
	exited chan struct{}
	log    *syncBuffer
	starts int
}

// syncBuffer keeps the logs of every run of duetd, for a failing test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startDuetd makes an organization in a fresh data folder and starts duetd
// on it.
func startDuetd(t *testing.T) *duetd {
	t.Helper()
	bin, err := buildDuetd()
	if err != nil {
		t.Fatal(err)
	}
	s := &duetd{t: t, bin: bin, data: t.TempDir(), log: &syncBuffer{}}
	out, err := exec.Command(bin, "org", "create", "--name", "crash", "--data", s.data).CombinedOutput()
	if err != nil {
		t.Fatalf("duetd org create: %v: %s", err, out)
	}
	for line := range strings.Lines(string(out)) {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "duet_org_") {
			s.orgKey = l
		}
	}
	if s.orgKey == "" {
		t.Fatalf("duetd org create printed no key: %s", out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	ln.Close()
	s.start()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			var kept strings.Builder
			for line := range strings.Lines(s.log.String()) {
				if !strings.Contains(line, "path=/readyz status=503") {
					kept.WriteString(line)
				}
			}
			t.Logf("duetd log:\n%s", kept.String())
		}
	})
	return s
}

func (s *duetd) url() string { return "http://" + s.addr }

// start runs duetd and waits until it is ready (its database answers and it
// holds a prime pair).
func (s *duetd) start() {
	s.t.Helper()
	many := "1000000"
	s.cmd = exec.Command(s.bin, "serve", "--addr", s.addr, "--data", s.data,
		"--web", s.data, "--js", s.data,
		// A lock or session slot of a killed process lapses after its
		// lease; short here, so that the next share change need not wait
		// two minutes.
		"--lock-lease", "1s",
		// Each restart searches for primes again: one pair at a time, the
		// fewest a refresh after the restart needs.
		"--prime-pool", "1", "--prime-workers", "1",
		// The test changes one wallet's shares and aborts sessions far
		// more often than the limits allow a client.
		"--limit-share-changes", many, "--limit-aborts", many,
		"--max-sessions-per-client", "1000",
		"--rate-per-ip", many, "--rate-burst-per-ip", many, "--rate-per-key", many, "--rate-burst-per-key", many)
	s.starts++
	fmt.Fprintf(s.log, "--- start %d\n", s.starts)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	dieWithTest(s.cmd)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	exited := make(chan struct{})
	s.exited = exited
	cmd := s.cmd
	go func() {
		cmd.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		resp, err := http.Get(s.url() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			s.t.Fatalf("duetd exited before it was ready: %v", cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatal("duetd not ready within five minutes")
		}
	}
}

// kill ends duetd with SIGKILL: no deferred function, no lock release, no
// shutdown runs.
func (s *duetd) kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

func (s *duetd) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(os.Interrupt)
	<-s.exited
	s.cmd = nil
}

func (s *duetd) running() bool { return s.cmd != nil }

// do sends a request with a bearer key and decodes the JSON answer into
// out.
func (s *duetd) do(method, path, key string, want int, out any) error {
	req, err := http.NewRequest(method, s.url()+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, body)
	}
	return json.Unmarshal(body, out)
}

// newClient makes a client of the organization and returns its API key.
func (s *duetd) newClient() string {
	s.t.Helper()
	var out struct{ ClientAPIKey string }
	if err := s.do("POST", "/v1/clients", s.orgKey, http.StatusCreated, &out); err != nil {
		s.t.Fatal(err)
	}
	if out.ClientAPIKey == "" {
		s.t.Fatal("POST /v1/clients gave no key")
	}
	return out.ClientAPIKey
}

// serverWallet is the server's view of a client's wallet (GET /v1/wallet).
type serverWallet struct {
	Exists            bool   `json:"exists"`
	WalletID          string `json:"walletId"`
	Address           string `json:"address"`
	Generation        uint64 `json:"generation"`
	PendingGeneration uint64 `json:"pendingGeneration"`
}

func (s *duetd) wallet(key string) serverWallet {
	s.t.Helper()
	var w serverWallet
	if err := s.do("GET", "/v1/wallet", key, http.StatusOK, &w); err != nil {
		s.t.Fatal(err)
	}
	return w
}

// backupGen returns the generation of the wallet's confirmed backup of
// method, 0 if it has none.
func (s *duetd) backupGen(key, walletID, method string) uint64 {
	s.t.Helper()
	var st struct {
		Backups []struct {
			Method     string `json:"method"`
			Generation uint64 `json:"generation"`
			Confirmed  bool   `json:"confirmed"`
		} `json:"backups"`
	}
	if err := s.do("GET", "/v1/wallets/"+walletID+"/backup", key, http.StatusOK, &st); err != nil {
		s.t.Fatal(err)
	}
	var gen uint64
	for _, b := range st.Backups {
		if b.Method == method && b.Confirmed {
			gen = max(gen, b.Generation)
		}
	}
	return gen
}

// ctx bounds one step of the test; a step that hangs fails it rather than
// the whole binary.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return c
}

var errNotReached = errors.New("the crash point was never reached")
