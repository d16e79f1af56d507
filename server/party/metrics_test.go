package party_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/server/metrics"
	"github.com/duetwallet/duet/server/party"
	"github.com/duetwallet/duet/wire"
)

// TestSessionMetrics checks that a Handler with Metrics records each
// session's operation and outcome.
func TestSessionMetrics(t *testing.T) {
	e := newEnv(t)
	reg := metrics.New()
	ts := httptest.NewServer(&party.Handler{
		Store: e.store, Primes: &fixturePrimes{idx: []int{0, 1}},
		FrameTimeout: 30 * time.Second, Metrics: reg.Sessions,
	})
	defer ts.Close()

	dev := e.newDevice(ts.URL)
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	mustSign(t, dev, info.Address, "metrics")
	if _, err := keygenReady(ctx(t), dev); bridge.Code(err) != wire.CodeWalletExists {
		t.Fatalf("second keygen: %v", err)
	}
	bad := e.newDevice(ts.URL)
	bad.APIKey = "duet_cli_" + strings.Repeat("0", 32) + "_" + strings.Repeat("A", 43)
	if _, err := bad.Sign(ctx(t), [32]byte{}); bridge.Code(err) != wire.CodeUnauthorized {
		t.Fatalf("wrong key: %v", err)
	}

	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, line := range []string{
		`duet_sessions_total{operation="keygen",outcome="ok"} 1`,
		`duet_sessions_total{operation="keygen",outcome="wallet_exists"} 1`,
		`duet_sessions_total{operation="sign",outcome="ok"} 1`,
		`duet_sessions_total{operation="sign",outcome="unauthorized"} 1`,
		`duet_session_duration_seconds_count{operation="keygen"} 2`,
		`duet_session_duration_seconds_count{operation="sign"} 2`,
	} {
		if !strings.Contains(string(body), line) {
			t.Errorf("metrics lack %q", line)
		}
	}
}
