package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// getFrom sends GET url with the X-Forwarded-For header xff (none if
// empty) and returns the status.
func getFrom(t *testing.T, url, xff string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// dialFrom opens a session socket with X-Forwarded-For xff and returns the
// upgrade's status (101 when it opened; the socket stays open, silent) and
// the body of a refusal.
func dialFrom(t *testing.T, base, xff string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/v1/session", &websocket.DialOptions{
		HTTPHeader: http.Header{"X-Forwarded-For": {xff}},
	})
	if err == nil {
		t.Cleanup(func() { ws.CloseNow() })
		return http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		t.Fatal(err)
	}
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(resp.Body)
	}
	return resp.StatusCode, string(body)
}

// socketCapped checks a refusal by the sockets-without-Hello cap (not by
// the request rate).
func socketCapped(t *testing.T, what string, status int, body string) {
	t.Helper()
	if status != http.StatusTooManyRequests || !strings.Contains(body, "too many open sessions") {
		t.Fatalf("%s: %d %q, want 429 from the socket cap", what, status, body)
	}
}

// TestServeTrustedProxy: behind a trusted reverse proxy (here every
// request comes from 127.0.0.1, the proxy's address), the per-IP request
// rate and socket caps count the client's address the proxy appended to
// X-Forwarded-For, not what the client wrote left of it; from a peer that
// is not a trusted proxy, the header is ignored and cannot spread one
// client over many addresses.
func TestServeTrustedProxy(t *testing.T) {
	flags := []string{"--prime-pool", "1", "--prime-workers", "1", "--rate-per-ip", "0.001", "--rate-burst-per-ip", "3",
		"--max-sockets-no-hello-per-ip", "1", "--hello-timeout", "1m"}

	t.Run("trusted", func(t *testing.T) {
		base, stop := startServe(t, append([]string{"--data", t.TempDir(), "--trusted-proxy", "10.0.0.0/8,127.0.0.0/8"}, flags...)...)
		defer stop()
		// The client 198.51.100.1 has three requests; the client's own
		// entries left of the proxy's do not make it another.
		for i, xff := range []string{"198.51.100.1", "6.6.6.6, 198.51.100.1", "7.7.7.7, 198.51.100.1"} {
			if got := getFrom(t, base+"/healthz", xff); got != http.StatusOK {
				t.Fatalf("request %d of 198.51.100.1 (%q): %d", i+1, xff, got)
			}
		}
		if got := getFrom(t, base+"/healthz", "198.51.100.1"); got != http.StatusTooManyRequests {
			t.Fatalf("fourth request of 198.51.100.1: %d, want 429", got)
		}
		// Another client behind the same proxy has its own.
		if got := getFrom(t, base+"/healthz", "198.51.100.2"); got != http.StatusOK {
			t.Fatalf("another client: %d", got)
		}
		// Sockets waiting for Hello: one per client address.
		if got, body := dialFrom(t, base, "198.51.100.3"); got != http.StatusSwitchingProtocols {
			t.Fatalf("first socket of 198.51.100.3: %d %s", got, body)
		}
		got, body := dialFrom(t, base, "6.6.6.6, 198.51.100.3")
		socketCapped(t, "second socket of 198.51.100.3", got, body)
		if got, body := dialFrom(t, base, "198.51.100.4"); got != http.StatusSwitchingProtocols {
			t.Fatalf("first socket of 198.51.100.4: %d %s", got, body)
		}
	})

	t.Run("untrusted peer", func(t *testing.T) {
		// The proxies trusted are elsewhere: 127.0.0.1 is the client.
		base, stop := startServe(t, append([]string{"--data", t.TempDir(), "--trusted-proxy", "10.0.0.0/8"}, flags...)...)
		defer stop()
		// One socket waiting for Hello, whatever address the header names;
		// then one request left of the three the address may burst.
		if got, body := dialFrom(t, base, "198.51.100.5"); got != http.StatusSwitchingProtocols {
			t.Fatalf("first socket: %d %s", got, body)
		}
		got, body := dialFrom(t, base, "198.51.100.6")
		socketCapped(t, "a second socket under a spoofed address", got, body)
		if got := getFrom(t, base+"/healthz", "198.51.100.1"); got != http.StatusOK {
			t.Fatalf("third request: %d", got)
		}
		if got := getFrom(t, base+"/healthz", "198.51.100.2"); got != http.StatusTooManyRequests {
			t.Fatalf("a fourth request under a spoofed address: %d, want 429", got)
		}
	})
}

func TestServeTrustedProxyRefused(t *testing.T) {
	for _, v := range []string{"10.0.0.0/33", "proxy.example.com"} {
		err := runContext(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--trusted-proxy", v}, &strings.Builder{}, &strings.Builder{}, noEnv)
		if err == nil || !strings.Contains(err.Error(), "--trusted-proxy") {
			t.Errorf("--trusted-proxy %q: %v", v, err)
		}
	}
}
