package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/duetwallet/duet/wire"
)

// TestServeTimeouts runs duetd with read, write and idle timeouts of one or
// two seconds: a body trickled at one byte every two seconds is cut with 408,
// while a session socket that lives longer than every timeout still works.
func TestServeTimeouts(t *testing.T) {
	data := t.TempDir()
	base, stop := startServe(t, "--dev", "--data", data, "--read-timeout", "1s", "--write-timeout", "2s", "--idle-timeout", "1s")
	defer stop()
	keys := readDevKeys(t, data)
	host := strings.TrimPrefix(base, "http://")

	t.Run("slow body", func(t *testing.T) {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		body := `{"name":"` + strings.Repeat("x", 40) + `"}`
		fmt.Fprintf(c, "POST /v1/clients HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", host, keys.OrgAPIKey, len(body))
		sent := make(chan int, 1)
		go func() {
			n := 0
			defer func() { sent <- n }()
			for ; n < len(body); n++ {
				if _, err := io.WriteString(c, body[n:n+1]); err != nil {
					return
				}
				time.Sleep(2 * time.Second)
			}
		}()
		// Sending the whole body would take 100 s.
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer to a slow body: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("slow body: status %d, want 408", resp.StatusCode)
		}
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("connection still open after the 408")
		}
		c.Close()
		if n := <-sent; n >= len(body) {
			t.Fatalf("the whole body (%d bytes) went through before the cut", n)
		}
	})

	t.Run("long session", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, "ws://"+host+"/v1/session", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.CloseNow()
		// Outlive the read, write and idle timeouts before saying a word.
		time.Sleep(3 * time.Second)
		conn := wire.NewConn(ws, 20*time.Second)
		nonce := make([]byte, 32)
		rand.Read(nonce)
		hello := &wire.Hello{APIKey: "duet_cli_" + strings.Repeat("0", 32) + "_" + strings.Repeat("A", 43), Op: wire.OpSign, Nonce: nonce, Digest: make([]byte, 32)}
		if err := conn.Send(ctx, hello.Frame()); err != nil {
			t.Fatalf("sending Hello after the timeouts: %v", err)
		}
		_, err = conn.Recv(ctx)
		var we *wire.Error
		if !errors.As(err, &we) || we.Code != wire.CodeUnauthorized {
			t.Fatalf("answer to a Hello after the timeouts: %v, want the server's %s error", err, wire.CodeUnauthorized)
		}
	})
}

// serveErr runs "duetd serve" with args that must be refused before it
// listens, and returns its error.
func serveErr(t *testing.T, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out syncBuffer
	err := runContext(ctx, append([]string{"serve", "--data", t.TempDir()}, args...), &out, io.Discard, noEnv)
	if strings.Contains(out.String(), "listening") {
		t.Errorf("serve %q listened: %s", args, out.String())
	}
	return err
}

func TestServeRefusesBadHardeningFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--read-timeout", "2s", "--write-timeout", "1s"},
		{"--read-timeout", "0s"},
		{"--idle-timeout", "-1s"},
		{"--lock-lease", "0s"},
		{"--frame-ancestors", "'none' https://a.example"},
		{"--frame-ancestors", "https://a.example; script-src *"},
	} {
		if err := serveErr(t, append([]string{"--addr", "127.0.0.1:0"}, args...)...); err == nil {
			t.Errorf("serve %q: no error", args)
		}
	}
}

func TestServeSecurityHeaders(t *testing.T) {
	js, web := staticDirs(t)
	base, stop := startServe(t, "--data", t.TempDir(), "--js", js, "--web", web, "--frame-ancestors", "'self'")
	defer stop()
	for _, path := range []string{"/", "/duet.js", "/v1/wallet", "/nowhere"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self' 'wasm-unsafe-eval'") || !strings.HasSuffix(csp, "frame-ancestors 'self'") ||
			h.Get("X-Frame-Options") != "SAMEORIGIN" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s (%d): security headers %v", path, resp.StatusCode, h)
		}
	}
}

func TestServeDevOnlyOnLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", ":0", "192.168.1.10:0", "example.com:0"} {
		err := serveErr(t, "--dev", "--addr", addr)
		if err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("--dev --addr %s: %v, want a refusal naming loopback", addr, err)
		}
	}
	// A request naming another host is refused in dev mode (DNS
	// rebinding), served otherwise.
	for _, dev := range []bool{true, false} {
		args := []string{"--data", t.TempDir()}
		if dev {
			args = append(args, "--dev")
		}
		base, stop := startServe(t, args...)
		req, _ := http.NewRequest("GET", base+"/v1/wallet", nil)
		req.Host = "rebound.evil.example"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[bool]int{true: 403, false: 401}[dev]; resp.StatusCode != want {
			t.Errorf("dev %v: Host rebound.evil.example got %d, want %d", dev, resp.StatusCode, want)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
}
