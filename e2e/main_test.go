package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// duet is the server every test talks to, started once by TestMain.
var duet *server

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "duet-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	s, err := startServer(tmp)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: starting duetd:", err)
		return 1
	}
	duet = s
	code := m.Run()
	if err := s.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: stopping duetd:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// server is a duetd process in dev mode, serving a web folder that holds the
// demo page, the freshly built device module and the harness page.
type server struct {
	url  string // http://127.0.0.1:PORT, no trailing slash
	root string // the module's root folder
	data string // duetd's data folder, which holds the demo keys
	cmd  *exec.Cmd
	done chan error
	log  *syncBuffer // duetd's stderr
}

// harnessPage is a blank page of the server's origin for the tests that
// drive the SDK directly: the demo page would start its own Duet.
const harnessPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Duet e2e</title><link rel="icon" href="data:,"></head>
<body><p>Duet end-to-end harness</p></body></html>
`

func startServer(tmp string) (*server, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, err
	}
	webDir := filepath.Join(tmp, "web")
	if err := os.MkdirAll(webDir, 0o755); err != nil {
		return nil, err
	}
	if err := copyWeb(filepath.Join(root, "web"), webDir); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(webDir, "e2e.html"), []byte(harnessPage), 0o644); err != nil {
		return nil, err
	}
	duetd := filepath.Join(tmp, "duetd")
	if err := goBuild(root, goBin, nil, duetd, "./server/cmd/duetd"); err != nil {
		return nil, err
	}
	if err := goBuild(root, goBin, []string{"GOOS=js", "GOARCH=wasm"}, filepath.Join(webDir, "duet.wasm"), "./wasm"); err != nil {
		return nil, err
	}
	if err := copyWasmExec(goBin, webDir); err != nil {
		return nil, err
	}

	s := &server{root: root, data: filepath.Join(tmp, "data"), done: make(chan error, 1), log: new(syncBuffer)}
	stdout := new(syncBuffer)
	// TestWallet alone makes more share changes of its wallet (backups,
	// recoveries, refreshes, ejects) than the default hourly limit.
	s.cmd = exec.Command(duetd, "serve", "--dev", "--addr", "127.0.0.1:0",
		"--data", s.data, "--web", webDir, "--js", filepath.Join(root, "js"),
		"--limit-share-changes", "40")
	s.cmd.Env = withoutGoTarget(os.Environ())
	s.cmd.Stdout, s.cmd.Stderr = stdout, s.log
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.done <- s.cmd.Wait() }()

	// duetd picks a free port for 127.0.0.1:0 and names it on stdout.
	deadline := time.After(time.Minute)
	for {
		for line := range strings.Lines(stdout.String()) {
			if u, ok := strings.CutPrefix(line, "duetd: listening on "); ok {
				s.url = strings.TrimSpace(u)
				return s, nil
			}
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("duetd exited before listening (%v):\n%s", err, s.log.String())
		case <-deadline:
			s.cmd.Process.Kill()
			<-s.done
			return nil, fmt.Errorf("duetd did not report its address within a minute:\n%s", s.log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop asks duetd to shut down as Ctrl-C would, and kills it if it does not.
func (s *server) stop() error {
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		return err
	}
	select {
	case err := <-s.done:
		return err
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		return errors.New("duetd did not stop within 30s of SIGINT; killed")
	}
}

// repoRoot is the module root: go test runs in the package folder.
func repoRoot() (string, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("no go.mod above the e2e folder: %w", err)
	}
	return root, nil
}

// trackSources opens every source file of the module. TestMain builds duetd
// and duet.wasm in child processes, which go test cannot see; the files a
// test opens are part of the key of go test's result cache, so a change
// anywhere in the product runs the tests again instead of reporting an old
// pass. It must run inside a test: go test records only what is opened
// after TestMain calls m.Run.
func trackSources(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".mod", ".sum", ".js", ".mjs", ".html", ".css":
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			return f.Close()
		}
		return nil
	})
}

// withoutGoTarget drops GOOS and GOARCH, so a caller's js/wasm setting does
// not leak into the native build or the server's environment.
func withoutGoTarget(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if strings.HasPrefix(kv, "GOOS=") || strings.HasPrefix(kv, "GOARCH=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func goBuild(root, goBin string, env []string, out, pkg string) error {
	cmd := exec.Command(goBin, "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(withoutGoTarget(os.Environ()), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// copyWeb copies the demo page's files, leaving out build outputs that a
// `make wasm` may have left there: the tests serve their own.
func copyWeb(from, to string) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == "duet.wasm" || e.Name() == "wasm_exec.js" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// copyWasmExec copies the wasm_exec.js of the Go release that built
// duet.wasm; the two must match.
func copyWasmExec(goBin, webDir string) error {
	out, err := exec.Command(goBin, "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("go env GOROOT: %w", err)
	}
	goroot := strings.TrimSpace(string(out))
	for _, rel := range []string{"lib/wasm/wasm_exec.js", "misc/wasm/wasm_exec.js"} {
		b, err := os.ReadFile(filepath.Join(goroot, rel))
		if err == nil {
			return os.WriteFile(filepath.Join(webDir, "wasm_exec.js"), b, 0o644)
		}
	}
	return fmt.Errorf("no wasm_exec.js under %s/lib/wasm or %s/misc/wasm", goroot, goroot)
}

// syncBuffer is a bytes.Buffer safe for a process writing while a test
// reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// useServer returns the server for a test, and prints duetd's log at the
// end of a failed test, where it usually says which side gave up and why.
func useServer(t *testing.T) *server {
	t.Helper()
	if err := trackSources(duet.root); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("duetd log:\n%s", tail(duet.log.String(), 200))
		}
	})
	return duet
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// devKeys are the demo client's key, which GET /dev/client-key serves, and
// the demo organization's, which duetd keeps in dev-keys.json in its data
// folder and never serves.
type devKeys struct {
	ClientAPIKey string `json:"clientApiKey"`
	OrgAPIKey    string `json:"orgApiKey"`
}
