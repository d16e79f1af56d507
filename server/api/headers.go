package api

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// DefaultFrameAncestors is the frame-ancestors source list when none is
// configured: no page may frame ours.
const DefaultFrameAncestors = "'none'"

// frameSource is one source of a frame-ancestors list other than 'self' and
// 'none': a scheme (https:) or an http(s) origin whose host may start with a
// wildcard label and whose port may be *.
var frameSource = regexp.MustCompile(`^(https?:|https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:([0-9]{1,5}|\*))?)$`)

// CheckFrameAncestors reports whether list is a frame-ancestors source list
// the server can send: 'none' alone, or any of 'self', https:, http: and
// origins such as https://app.example.com or https://*.example.com:8443.
func CheckFrameAncestors(list string) error {
	sources := strings.Fields(list)
	if len(sources) == 0 {
		return errors.New("api: empty frame-ancestors list")
	}
	for _, src := range sources {
		switch {
		case src == "'none'" && len(sources) == 1:
		case src == "'none'":
			return fmt.Errorf("api: frame-ancestors %q: 'none' must stand alone", list)
		case src == "'self'" || frameSource.MatchString(src):
		default:
			return fmt.Errorf("api: frame-ancestors %q: invalid source %q", list, src)
		}
	}
	return nil
}

// securityHeaders are the headers every response carries.
type securityHeaders struct {
	csp          string
	frameOptions string // X-Frame-Options, or "" when it cannot say the same as frame-ancestors
}

// newSecurityHeaders builds the headers for a frame-ancestors list (default
// 'none'). The Content-Security-Policy suits the demo page and the SDK: its
// scripts come from this server only, the device module is WebAssembly
// compiled in a worker started from this server's worker.js, and nothing
// is embedded, framed or rebased. connect-src stays open: the page talks to
// an Ethereum RPC endpoint of the user's choice.
func newSecurityHeaders(frameAncestors string) (securityHeaders, error) {
	if frameAncestors == "" {
		frameAncestors = DefaultFrameAncestors
	}
	if err := CheckFrameAncestors(frameAncestors); err != nil {
		return securityHeaders{}, err
	}
	frameAncestors = strings.Join(strings.Fields(frameAncestors), " ")
	h := securityHeaders{
		csp: "script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors " + frameAncestors,
	}
	switch frameAncestors {
	case "'none'":
		h.frameOptions = "DENY"
	case "'self'":
		h.frameOptions = "SAMEORIGIN"
	}
	return h, nil
}

func (h securityHeaders) set(hdr http.Header) {
	hdr.Set("Content-Security-Policy", h.csp)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	if h.frameOptions != "" {
		hdr.Set("X-Frame-Options", h.frameOptions)
	}
}

// limitBody gives a request's body s.bodyTime to arrive, counted from now. A
// body still arriving then fails to read (the handler answers 408) and the
// connection closes. A request without a body is left alone, and so is the
// rest of a request once its body is read: net/http lifts the deadline when
// it starts watching for the client going away, and a deadline passing then
// would cancel the request's context.
func (s *Server) limitBody(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	// A ResponseWriter without deadlines leaves only the http.Server's
	// ReadTimeout.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.bodyTime))
}

// LoopbackHost reports whether host, a Host header or a listen address,
// names this machine only: localhost, 127.0.0.0/8 or ::1, with or without a
// port.
func LoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}
