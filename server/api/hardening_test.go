package api_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duetwallet/duet/server/api"
	"github.com/duetwallet/duet/server/store"
)

const pageCSP = "script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors "

// TestSecurityHeaders checks that pages, API answers, errors and preflights
// all carry the security headers, and that X-Frame-Options says what
// frame-ancestors says when it can.
func TestSecurityHeaders(t *testing.T) {
	web := t.TempDir()
	os.WriteFile(filepath.Join(web, "index.html"), []byte("<h1>demo</h1>"), 0o644)
	for _, tc := range []struct {
		ancestors, wantCSP, wantXFO string
	}{
		{"", "'none'", "DENY"},
		{"'self'", "'self'", "SAMEORIGIN"},
		{"'self'   https://app.example", "'self' https://app.example", ""},
	} {
		e := newEnv(t, options{static: api.StaticFiles(web), frameAncestors: tc.ancestors, origins: []string{"https://app.example"}})
		for _, req := range [][]string{
			{"GET", "/", ""},
			{"GET", "/v1/wallet", e.clientA},
			{"GET", "/v1/wallet", ""},
			{"POST", "/v1/nowhere", ""},
			{"OPTIONS", "/v1/wallet", "", "Origin", "https://app.example", "Access-Control-Request-Method", "GET"},
		} {
			status, _, hdr := e.do(req[0], req[1], req[2], "", req[3:]...)
			want := map[string]string{
				"Content-Security-Policy": pageCSP + tc.wantCSP,
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"X-Frame-Options":         tc.wantXFO,
			}
			for name, v := range want {
				if got := hdr.Get(name); got != v {
					t.Errorf("frame-ancestors %q: %s %s (status %d): %s = %q, want %q", tc.ancestors, req[0], req[1], status, name, got, v)
				}
			}
		}
	}
	for _, bad := range []string{"", "'none' 'self'", "https://x; script-src *", "javascript:", "*", "'unsafe-inline'", "https://a.example/path"} {
		if err := api.CheckFrameAncestors(bad); err == nil {
			t.Errorf("CheckFrameAncestors(%q) accepted", bad)
		}
	}
	for _, good := range []string{"'none'", "'self'", "https:", "https://*.example.com:8443 'self'", "http://localhost:*"} {
		if err := api.CheckFrameAncestors(good); err != nil {
			t.Errorf("CheckFrameAncestors(%q): %v", good, err)
		}
	}
}

// rawRequest opens a TCP connection to the test server and sends a request
// head announcing a body of bodyLen bytes.
func rawRequest(t *testing.T, e *env, method, path, key string, bodyLen int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		method, path, e.srv.Listener.Addr(), key, bodyLen)
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSlowBodyIsCut sends a body at one byte every two seconds: the server
// answers 408 when the body timeout passes and closes the connection,
// storing nothing.
func TestSlowBodyIsCut(t *testing.T) {
	e := newEnv(t, options{bodyTimeout: time.Second})
	before := e.snapshot()
	body := "{" + strings.Repeat(" ", 40) + "}"
	c := rawRequest(t, e, "POST", "/v1/clients", e.orgA, len(body))

	stop := make(chan struct{})
	trickled := make(chan int, 1)
	go func() {
		n := 0
		defer func() { trickled <- n }()
		for ; n < len(body); n++ {
			if _, err := io.WriteString(c, body[n:n+1]); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Second):
			}
		}
	}()
	// The whole body would take 100 s; the test gives the server 30 s.
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a slow body: %v", err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(data), `"request_timeout"`) {
		t.Fatalf("slow body: %d %s, want 408 request_timeout", resp.StatusCode, data)
	}
	// The server closes the connection after the 408.
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("connection still open after the 408 (read %d bytes)", n)
	}
	close(stop)
	if n := <-trickled; n >= len(body) {
		t.Fatalf("the whole body was sent (%d bytes) before the server answered", n)
	}
	if after := e.snapshot(); after != before {
		t.Fatal("a cut request changed stored state")
	}
	// A body sent at once on a fresh connection is served.
	e.mustDo("POST", "/v1/clients", e.orgA, body, 201, nil)
}

// TestBodyTimeoutSparesTheHandler checks that the body deadline ends when
// the body is read: a handler working past it keeps its context and answers.
func TestBodyTimeoutSparesTheHandler(t *testing.T) {
	e := newEnv(t, options{bodyTimeout: 500 * time.Millisecond})
	srv := e.srv.Config.Handler.(*api.Server)
	srv.HandleClient("POST /v1/slow", func(w http.ResponseWriter, r *http.Request, c store.Client) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(1500 * time.Millisecond):
			w.WriteHeader(http.StatusNoContent)
		case <-r.Context().Done():
			// Nobody may read this answer: the connection is gone.
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	for _, body := range []string{`{"a":1}`, ""} {
		if status, data, _ := e.do("POST", "/v1/slow", e.clientA, body); status != http.StatusNoContent {
			t.Errorf("body %q: a handler that outlives the body timeout got %d %s, want 204", body, status, data)
		}
	}
}

// TestIsolationFrameThroughServer checks that the isolation frame's page
// keeps its own frame-ancestors under the server's headers, with no
// X-Frame-Options to contradict them, while other pages stay unframeable.
func TestIsolationFrameThroughServer(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "duet-frame.html"), []byte("<!doctype html>"), 0o644)
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>demo</h1>"), 0o644)
	e := newEnv(t, options{static: api.IsolationFrame(api.StaticFiles(dir), []string{"https://app.example"})})
	status, _, hdr := e.do("GET", api.FramePath, "", "")
	if csp := hdr.Get("Content-Security-Policy"); status != 200 || !strings.HasSuffix(csp, "frame-ancestors https://app.example") || hdr.Get("X-Frame-Options") != "" || hdr.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("GET %s: %d, headers %v", api.FramePath, status, hdr)
	}
	status, _, hdr = e.do("GET", "/", "", "")
	if status != 200 || hdr.Get("Content-Security-Policy") != pageCSP+"'none'" || hdr.Get("X-Frame-Options") != "DENY" {
		t.Errorf("GET /: %d, headers %v", status, hdr)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	var notReady error
	e := newEnv(t, options{ready: func(context.Context) error { return notReady }})
	var st struct{ Status string }
	e.mustDo("GET", "/healthz", "", "", 200, &st)
	if st.Status != "ok" {
		t.Errorf("GET /healthz: %+v", st)
	}
	e.mustDo("GET", "/readyz", "", "", 200, &st)
	if st.Status != "ready" {
		t.Errorf("GET /readyz: %+v", st)
	}
	notReady = errors.New("database unreachable")
	e.expectError("GET", "/readyz", "", "", 503, "unavailable")
	if _, body, _ := e.do("GET", "/readyz", "", ""); !strings.Contains(string(body), "database unreachable") {
		t.Errorf("GET /readyz does not say why: %s", body)
	}
	// Up is up, ready or not.
	e.mustDo("GET", "/healthz", "", "", 200, nil)
}
