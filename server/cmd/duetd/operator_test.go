package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/duetwallet/duet/server/internal/sqldb"
	"github.com/duetwallet/duet/wire"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// failedSession opens a session with a key that does not authenticate.
func failedSession(t *testing.T, base string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/v1/session", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	conn := wire.NewConn(ws, 20*time.Second)
	nonce := make([]byte, 32)
	rand.Read(nonce)
	if err := conn.Send(ctx, (&wire.Hello{APIKey: "duet_cli_nope", Op: wire.OpSign, Nonce: nonce, Digest: make([]byte, 32)}).Frame()); err != nil {
		t.Fatal(err)
	}
	var we *wire.Error
	if _, err := conn.Recv(ctx); !errors.As(err, &we) || we.Code != wire.CodeUnauthorized {
		t.Fatalf("session with a bad key: %v", err)
	}
}

func TestServeOperatorRoutes(t *testing.T) {
	base, stop := startServe(t, "--data", t.TempDir())
	defer stop()
	if status, body := get(t, base+"/healthz"); status != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("GET /healthz: %d %s", status, body)
	}
	// The prime pool fills in the background: ready, or not ready for
	// want of primes, but the database answers.
	status, body := get(t, base+"/readyz")
	var r struct {
		Status string
		Error  struct{ Code, Message string }
	}
	json.Unmarshal([]byte(body), &r)
	if !(status == 200 && r.Status == "ready") && !(status == 503 && strings.Contains(r.Error.Message, "safe-prime")) {
		t.Errorf("GET /readyz: %d %s", status, body)
	}

	failedSession(t, base)
	status, body = get(t, base+"/metrics")
	for _, want := range []string{`duet_sessions_total{operation="sign",outcome="unauthorized"} 1`, "duet_prime_pool_pairs ", "duet_prime_pool_capacity 4", "duet_session_duration_seconds_bucket", "process_resident_memory_bytes "} {
		if status != 200 || !strings.Contains(body, want) {
			t.Errorf("GET /metrics: %d, no %q", status, want)
		}
	}
}

func TestServeMetricsAddr(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base, stop := startServe(t, "--data", t.TempDir(), "--metrics-addr", addr)
	if status, _ := get(t, base+"/metrics"); status != 404 {
		t.Errorf("GET /metrics on --addr: %d, want 404 with --metrics-addr", status)
	}
	if status, body := get(t, "http://"+addr+"/metrics"); status != 200 || !strings.Contains(body, "duet_prime_pool_pairs") {
		t.Errorf("GET /metrics on --metrics-addr: %d", status)
	}
	if err := stop(); err != nil {
		t.Fatalf("stopping with a metrics listener: %v", err)
	}
}

type poolLevel int

func (p poolLevel) Len() int { return int(p) }

func TestReadiness(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := sqldb.Open(ctx, filepath.Join(t.TempDir(), "duet.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := readiness(db, poolLevel(1), log)(ctx); err != nil {
		t.Errorf("database up, a pair ready: %v", err)
	}
	if err := readiness(db, poolLevel(0), log)(ctx); err == nil || !strings.Contains(err.Error(), "safe-prime") {
		t.Errorf("empty prime pool: %v", err)
	}
	db.Close()
	if err := readiness(db, poolLevel(1), log)(ctx); err == nil || !strings.Contains(err.Error(), "database") {
		t.Errorf("closed database: %v", err)
	}
}
