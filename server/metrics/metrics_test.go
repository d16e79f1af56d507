package metrics_test

import (
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/server/metrics"
	"github.com/duetwallet/duet/wire"
)

func TestOutcome(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{&wire.Error{Code: wire.CodeBusy}, "busy"},
		{fmt.Errorf("wrapped: %w", &wire.Error{Code: wire.CodeUnauthorized}), "unauthorized"},
		{&wire.Error{Code: "CHOSEN_BY_THE_PEER"}, "error"},
		{&mpc.AbortError{Protocol: mpc.ProtocolSign, Check: "x"}, "protocol_abort"},
		{fmt.Errorf("%w: short", wire.ErrFrame), "bad_frame"},
		{fmt.Errorf("%w: closed", wire.ErrConnection), "disconnected"},
		{errors.New("disk on fire"), "error"},
	} {
		if got := metrics.Outcome(tc.err); got != tc.want {
			t.Errorf("Outcome(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	for op, want := range map[string]string{"sign": "sign", "keygen": "keygen", "": "none", "sign2": "unknown", strings.Repeat("x", 16): "unknown"} {
		if got := metrics.Operation(op); got != want {
			t.Errorf("Operation(%q) = %q, want %q", op, got, want)
		}
	}
}

func TestSessions(t *testing.T) {
	r := metrics.New()
	s := r.Sessions
	start := time.Now().Add(-3 * time.Second)
	s.Observe(wire.OpSign, start, nil)
	s.Observe(wire.OpSign, start, nil)
	s.Observe("made-up", start, &wire.Error{Code: wire.CodeInvalidArgument})
	s.Observe(wire.OpRefresh, start, &mpc.AbortError{Protocol: mpc.ProtocolRefresh, Check: "ring-Pedersen proof (Πprm)"})
	s.Observe(wire.OpSign, start, &mpc.AbortError{Protocol: mpc.ProtocolSign, Check: "final signature", Secret: true})
	var none *metrics.Sessions
	none.Observe(wire.OpSign, start, nil) // a Handler without metrics

	r.PrimePool(func() int { return 3 }, 8)
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	text := string(body)
	for _, line := range []string{
		`duet_sessions_total{operation="sign",outcome="ok"} 2`,
		`duet_sessions_total{operation="unknown",outcome="invalid_argument"} 1`,
		`duet_sessions_total{operation="refresh",outcome="protocol_abort"} 1`,
		`duet_sessions_total{operation="sign",outcome="protocol_abort"} 1`,
		`duet_session_aborts_total{check="ring-Pedersen proof (Πprm)",protocol="refresh"} 1`,
		`duet_session_aborts_total{check="secret",protocol="sign"} 1`,
		`duet_session_duration_seconds_count{operation="sign"} 3`,
		`duet_session_duration_seconds_bucket{operation="sign",le="2.5"} 0`,
		`duet_session_duration_seconds_bucket{operation="sign",le="5"} 3`,
		`duet_prime_pool_pairs 3`,
		`duet_prime_pool_capacity 8`,
		`go_goroutines `,
	} {
		if !strings.Contains(text, line) {
			t.Errorf("metrics lack %q", line)
		}
	}
	if strings.Contains(text, "final signature") || strings.Contains(text, "made-up") {
		t.Error("metrics name a secret check or a label the peer chose")
	}
}
