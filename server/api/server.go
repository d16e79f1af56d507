// Package api serves the Duet server's HTTP API: the routes the user's device
// calls with its client API key, the routes the organization's backend calls
// with its org API key, and, in development, the demo keys.
//
// The MPC session socket is mounted on the same Server with HandleClient, so
// it shares authentication, CORS and error handling with the rest.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/duetwallet/duet/server/custodian"
	"github.com/duetwallet/duet/server/internal/httpjson"
	"github.com/duetwallet/duet/server/store"
)

// Error codes of the Duet API beyond the shared ones (see httpjson).
const (
	codeBadRequest         = httpjson.CodeBadRequest
	codeUnauthorized       = httpjson.CodeUnauthorized
	codeForbidden          = httpjson.CodeForbidden
	codeNotFound           = httpjson.CodeNotFound
	codeInternal           = httpjson.CodeInternal
	CodeNoWallet           = "no_wallet"
	CodeTokenExpired       = "token_expired"
	CodeCustodianFailed    = "custodian_unavailable"
	CodeEjectNotAuthorized = custodian.CodeEjectNotAuthorized
)

// maxSmallBody limits request bodies; no route takes a large one.
const maxSmallBody = 16 << 10

// Custodians gives the client of the custodian store that acts for an
// organization.
type Custodians interface {
	For(ctx context.Context, orgID string) (*custodian.Client, error)
}

// CustodianDirectory reaches every organization's custodian at one base URL
// (the custodian store stub inside this server), with the organization's
// custodian key from the store.
type CustodianDirectory struct {
	BaseURL string
	HTTP    *http.Client
	Keys    store.Accounts
}

func (d *CustodianDirectory) For(ctx context.Context, orgID string) (*custodian.Client, error) {
	key, err := d.Keys.CustodianKey(ctx, orgID)
	if err != nil {
		return nil, err
	}
	return custodian.NewClient(d.BaseURL, key, d.HTTP), nil
}

// DevKeys are the demo client's key, which --dev hands to the demo page, and
// the demo organization's key, which never leaves the server: POST
// /dev/eject uses it to authorise the demo client's eject.
type DevKeys struct {
	ClientAPIKey string `json:"clientApiKey"`
	OrgAPIKey    string `json:"-"`
}

// Config holds what a Server depends on.
type Config struct {
	Store      store.Store
	Custodians Custodians
	Log        *slog.Logger
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Origins may call the API from a browser; nil allows none.
	Origins *Origins
	// Dev, if set, serves GET /dev/client-key and POST /dev/eject. Never set
	// it in production: it hands out a working client key to anyone who
	// asks.
	Dev *DevKeys
	// LoopbackOnly refuses (403) every request whose Host header is not a
	// loopback name or address, so that a page of another site cannot
	// reach the server through a DNS name rebound to 127.0.0.1. Dev mode
	// sets it.
	LoopbackOnly bool
	// Static, if set, serves every path no API route claims.
	Static http.Handler
	// BodyTimeout bounds the reading of each request's body, from the moment
	// the handler starts; a body still arriving then is cut with 408
	// (default 30 seconds).
	BodyTimeout time.Duration
	// FrameAncestors is the Content-Security-Policy frame-ancestors source
	// list: the pages that may frame ours (default 'none').
	FrameAncestors string
	// Ready reports whether the server can serve sessions, for GET /readyz;
	// its error is shown to the caller. Nil: ready whenever it is up.
	Ready func(context.Context) error
}

// DefaultBodyTimeout is Config.BodyTimeout's default.
const DefaultBodyTimeout = 30 * time.Second

// A Server is the Duet HTTP API. Its fields are fixed by NewServer; mount
// further routes with Handle and HandleClient before serving.
type Server struct {
	store      store.Store
	custodians Custodians
	log        *slog.Logger
	now        func() time.Time
	origins    *Origins
	dev        *DevKeys
	mux        *http.ServeMux
	handler    http.Handler
	bodyTime   time.Duration
	headers    securityHeaders
	loopback   bool
	ready      func(context.Context) error
}

// NewServer returns a Server with the API routes mounted.
func NewServer(cfg Config) *Server {
	if cfg.Store == nil || cfg.Custodians == nil || cfg.Log == nil {
		panic("api: internal error: NewServer needs a Store, Custodians and a Log")
	}
	s := &Server{
		store:      cfg.Store,
		custodians: cfg.Custodians,
		log:        cfg.Log,
		now:        cfg.Now,
		origins:    cfg.Origins,
		dev:        cfg.Dev,
		mux:        http.NewServeMux(),
		bodyTime:   cfg.BodyTimeout,
		loopback:   cfg.LoopbackOnly,
		ready:      cfg.Ready,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.bodyTime <= 0 {
		s.bodyTime = DefaultBodyTimeout
	}
	var err error
	if s.headers, err = newSecurityHeaders(cfg.FrameAncestors); err != nil {
		panic("api: internal error: " + err.Error())
	}
	s.routes()
	// Whatever no route claims: a file, for GET and HEAD outside the API's
	// own prefixes, else a JSON 404.
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		api := strings.HasPrefix(r.URL.Path, "/v1/") || strings.HasPrefix(r.URL.Path, "/dev/")
		if cfg.Static != nil && !api && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			cfg.Static.ServeHTTP(w, r)
			return
		}
		writeError(w, errorf(http.StatusNotFound, codeNotFound, "no such route: %s %s", r.Method, r.URL.Path))
	})
	s.handler = s.cors(s.mux)
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.headers.set(rec.Header())
	s.limitBody(rec, r)
	if s.loopback && !LoopbackHost(r.Host) {
		writeError(rec, errorf(http.StatusForbidden, codeForbidden, "this development server answers only requests to localhost, 127.0.0.1 or [::1]"))
	} else {
		s.handler.ServeHTTP(rec, r)
	}
	level := slog.LevelDebug
	if rec.status >= 500 {
		level = slog.LevelWarn
	}
	// The Authorization header is never logged: it holds API keys.
	s.log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", s.now().Sub(start))
}

// statusRecorder remembers the status of a response, for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the underlying writer, which a
// WebSocket upgrade needs for Hijack.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Handle mounts an unauthenticated handler, such as the custodian API, which
// authenticates with its own keys.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
}

// A ClientHandler serves a request of an authenticated client.
type ClientHandler func(w http.ResponseWriter, r *http.Request, c store.Client)

// HandleClient mounts h at pattern behind client API key authentication: h
// runs only for a request with a valid "Authorization: Bearer duet_cli_..."
// header, or a WebSocket handshake offering the key as a subprotocol (see
// WebSocketKeyProtocolPrefix), and receives the client the key belongs to.
func (s *Server) HandleClient(pattern string, h ClientHandler) {
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.store.AuthenticateClient(r.Context(), bearer(r))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		h(w, r, c)
	}))
}

// handleOrg mounts h behind organization API key authentication.
func (s *Server) handleOrg(pattern string, h func(w http.ResponseWriter, r *http.Request, o store.Organization) error) {
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, err := s.store.AuthenticateOrganization(r.Context(), bearer(r))
		if err == nil {
			err = h(w, r, o)
		}
		if err != nil {
			s.fail(w, r, err)
		}
	}))
}

// handleClient is HandleClient for the package's own handlers, which return
// their errors.
func (s *Server) handleClient(pattern string, h func(w http.ResponseWriter, r *http.Request, c store.Client) error) {
	s.HandleClient(pattern, func(w http.ResponseWriter, r *http.Request, c store.Client) {
		if err := h(w, r, c); err != nil {
			s.fail(w, r, err)
		}
	})
}

// WebSocketKeyProtocolPrefix marks the WebSocket subprotocol that carries a
// client API key. A browser cannot set headers on a WebSocket handshake, so
// the SDK offers the subprotocols ["duet.v1", "duet-key.<client API key>"]
// and the server, which must pick one it was offered, picks "duet.v1".
const WebSocketKeyProtocolPrefix = "duet-key."

// bearer returns the API key of a request: the Authorization header's bearer
// token, or, on a WebSocket handshake only, the key subprotocol.
func bearer(r *http.Request) string {
	if key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return key
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return ""
	}
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if key, ok := strings.CutPrefix(strings.TrimSpace(p), WebSocketKeyProtocolPrefix); ok {
				return key
			}
		}
	}
	return ""
}

func errorf(status int, code, format string, args ...any) *httpjson.Error {
	return httpjson.Errorf(status, code, format, args...)
}

func writeError(w http.ResponseWriter, e *httpjson.Error) { httpjson.WriteError(w, e) }

// fail answers a request with the error err maps to. Errors that are the
// server's fault are logged and reported without detail.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *httpjson.Error
	var ce *custodian.ResponseError
	switch {
	case errors.As(err, &e):
	case errors.Is(err, store.ErrTokenExpired):
		e = errorf(http.StatusUnauthorized, CodeTokenExpired, "the session token has expired")
	case errors.Is(err, store.ErrUnauthenticated):
		e = errorf(http.StatusUnauthorized, codeUnauthorized, "missing or invalid API key")
	case errors.As(err, &ce) && ce.Status < 500 && ce.Code != codeUnauthorized:
		// The custodian judged the request itself; pass its verdict on.
		e = errorf(ce.Status, ce.Code, "%s", ce.Message)
	case errors.Is(err, custodian.ErrInvalid):
		e = errorf(http.StatusBadRequest, codeBadRequest, "%v", err)
	case errors.As(err, &ce):
		s.log.ErrorContext(r.Context(), "custodian refused the server", "path", r.URL.Path, "err", err)
		e = errorf(http.StatusBadGateway, CodeCustodianFailed, "the custodian store failed")
	case errors.Is(err, custodian.ErrUnavailable):
		s.log.ErrorContext(r.Context(), "custodian unreachable", "path", r.URL.Path, "err", err)
		e = errorf(http.StatusBadGateway, CodeCustodianFailed, "the custodian store is unreachable")
	default:
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = errorf(http.StatusInternalServerError, codeInternal, "internal error")
	}
	writeError(w, e)
}

// decode reads a JSON body into v. It returns a nil error, not a typed nil,
// when the body is good.
func decode(w http.ResponseWriter, r *http.Request, limit int64, emptyOK bool, v any) error {
	if e := httpjson.Decode(w, r, limit, emptyOK, v); e != nil {
		return e
	}
	return nil
}
