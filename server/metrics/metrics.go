// Package metrics defines what the Duet server reports to Prometheus, every
// name prefixed duet_: the server party's sessions by operation and outcome,
// their latency, protocol aborts by failed check, and the prime pool's
// level. Label values come from fixed sets, never from what a peer sends, so
// a client cannot grow the series without bound.
package metrics

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/wire"
)

// Registry holds the server's metrics and serves them.
type Registry struct {
	reg *prometheus.Registry
	// Sessions records the server party's sessions.
	Sessions *Sessions
}

// New returns a Registry with the session metrics and the Go runtime's and
// the process's own (memory, CPU, file descriptors).
func New() *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Registry{reg: reg, Sessions: newSessions(reg)}
}

// Handler serves the metrics in the Prometheus exposition format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}

// PrimePool reports how full the safe-prime pool is: level, the number of
// pairs ready now, as duet_prime_pool_pairs, and the number it holds when
// full as duet_prime_pool_capacity.
func (r *Registry) PrimePool(level func() int, capacity int) {
	r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "duet_prime_pool_pairs",
		Help: "Safe-prime pairs ready for new Paillier keys.",
	}, func() float64 { return float64(level()) }))
	r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "duet_prime_pool_capacity",
		Help: "Safe-prime pairs the pool holds when full.",
	}, func() float64 { return float64(capacity) }))
}

// Sessions counts the server party's sessions. A nil *Sessions records
// nothing.
type Sessions struct {
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	aborts   *prometheus.CounterVec
	limited  *prometheus.CounterVec
}

func newSessions(reg prometheus.Registerer) *Sessions {
	s := &Sessions{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duet_sessions_total",
			Help: "Sessions of the server party, by operation and outcome (ok, a lower-case error code, disconnected, error).",
		}, []string{"operation", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "duet_session_duration_seconds",
			Help:    "Duration of the server party's sessions, from the socket's opening to the end, by operation.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}, []string{"operation"}),
		aborts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duet_session_aborts_total",
			Help: "Protocol runs the server aborted because the device failed a check, by protocol and check; a check on secret values is reported as \"secret\".",
		}, []string{"protocol", "check"}),
	}
	s.limited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "duet_rate_limited_total",
		Help: "Requests and sockets refused by a limit, by limit (see Limited).",
	}, []string{"limit"})
	reg.MustRegister(s.total, s.duration, s.aborts, s.limited)
	return s
}

// Limits that refuse requests or sockets, the label values of
// duet_rate_limited_total.
const (
	LimitHTTPAddr       = "http_addr"       // HTTP requests of one IP address
	LimitHTTPKey        = "http_key"        // HTTP requests of one API key
	LimitSockets        = "sockets"         // open session sockets, all addresses
	LimitSocketsAddr    = "sockets_addr"    // open session sockets of one address
	LimitNoHello        = "no_hello"        // sockets that have not said Hello, all addresses
	LimitNoHelloAddr    = "no_hello_addr"   // sockets that have not said Hello, one address
	LimitHelloTimeout   = "hello_timeout"   // sockets closed for not saying Hello in time
	LimitClientSessions = "client_sessions" // concurrent sessions of one client, across replicas
	LimitPrimes         = "primes"          // safe-prime pairs one client may spend
)

var limits = map[string]bool{
	LimitHTTPAddr: true, LimitHTTPKey: true, LimitSockets: true, LimitSocketsAddr: true,
	LimitNoHello: true, LimitNoHelloAddr: true, LimitHelloTimeout: true,
	LimitClientSessions: true, LimitPrimes: true,
}

// Limited counts one refusal by limit, one of the Limit constants.
func (s *Sessions) Limited(limit string) {
	if s == nil {
		return
	}
	if !limits[limit] {
		limit = "unknown"
	}
	s.limited.WithLabelValues(limit).Inc()
}

var operations = map[string]bool{
	wire.OpKeygen: true, wire.OpSign: true, wire.OpBackup: true,
	wire.OpRecover: true, wire.OpEject: true, wire.OpRefresh: true,
	wire.OpPresign: true, wire.OpAddDevice: true, wire.OpListDevices: true,
	wire.OpRemoveDevice: true, wire.OpApproveDevice: true,
}

var codes = map[string]bool{
	wire.CodeInvalidArgument: true, wire.CodeUnauthorized: true, wire.CodeForbidden: true,
	wire.CodeNoWallet: true, wire.CodeWalletExists: true, wire.CodeWrongPassword: true,
	wire.CodeNotBackedUp: true, wire.CodeEjectNotAuthorized: true, wire.CodeStaleDevice: true,
	wire.CodeNetwork: true, wire.CodeProtocolAbort: true, wire.CodeBadFrame: true,
	wire.CodeBusy: true, wire.CodeServerError: true, wire.CodeInternal: true,
	wire.CodeNotSigningReady: true, wire.CodeNoPresignature: true, wire.CodeDeviceRemoved: true,
}

var protocols = map[string]bool{
	mpc.ProtocolKeygen: true, mpc.ProtocolRefresh: true, mpc.ProtocolPresign: true, mpc.ProtocolSign: true,
}

// Operation is the operation label of a session whose Hello named op:
// op itself if the server knows it, "none" without a Hello, else
// "unknown".
func Operation(op string) string {
	switch {
	case op == "":
		return "none"
	case operations[op]:
		return op
	}
	return "unknown"
}

// Outcome is the outcome label of a session that ended with err: "ok", the
// lower-case code of a wire error, "protocol_abort" or "bad_frame" as the
// device is told, "disconnected" for a socket that failed or closed, else
// "error".
func Outcome(err error) string {
	var we *wire.Error
	var abort *mpc.AbortError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &we):
		// The device may send an Error frame of its own: only known codes
		// become labels.
		if codes[we.Code] {
			return strings.ToLower(we.Code)
		}
		return "error"
	case errors.As(err, &abort):
		return strings.ToLower(wire.CodeProtocolAbort)
	case errors.Is(err, wire.ErrFrame) || errors.Is(err, mpc.ErrMessage):
		return strings.ToLower(wire.CodeBadFrame)
	case errors.Is(err, wire.ErrConnection):
		return "disconnected"
	}
	return "error"
}

// Observe records a session of operation op (its Hello's) that started at
// start and ended with err.
func (s *Sessions) Observe(op string, start time.Time, err error) {
	if s == nil {
		return
	}
	op = Operation(op)
	s.total.WithLabelValues(op, Outcome(err)).Inc()
	s.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	var abort *mpc.AbortError
	if errors.As(err, &abort) {
		protocol, check := abort.Protocol, abort.Check
		if !protocols[protocol] {
			protocol = "unknown"
		}
		if abort.Secret {
			// Which check of a step on secret values failed is kept from
			// the peer (docs/ARCHITECTURE.md §3), and /metrics may be
			// within its reach.
			check = "secret"
		}
		s.aborts.WithLabelValues(protocol, check).Inc()
	}
}
