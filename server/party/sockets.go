package party

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duetwallet/duet/server/metrics"
	"github.com/duetwallet/duet/server/store"
	"github.com/duetwallet/duet/wire"
)

// SocketLimits cap the session sockets one server process holds open. They
// are per process: a socket lives in one process, and a load balancer
// spreads them over replicas. The per-client session cap, which must hold
// across replicas, is Handler.MaxSessionsPerClient, kept in the database.
//
// A socket counts as open from the upgrade to its close, and as waiting
// for Hello until its Hello has arrived; one that has not sent Hello within
// HelloTimeout is closed. An upgrade over a cap is refused with 429 and
// Retry-After before the WebSocket handshake.
type SocketLimits struct {
	Open           int           // open sockets of the process; 0 → 4096
	OpenPerAddr    int           // open sockets of one IP address; 0 → 128
	NoHello        int           // sockets waiting for Hello; 0 → 256
	NoHelloPerAddr int           // sockets of one IP address waiting for Hello; 0 → 32
	HelloTimeout   time.Duration // how long a socket may wait before its Hello; 0 → 5s
	RetryAfter     time.Duration // the Retry-After of a refused upgrade; 0 → 5s
	// ClientIP is the address a socket counts under in the per-address
	// caps: the peer's IP address if nil. Behind reverse proxies it is
	// the client's address they report (clientip.Proxies.Of).
	ClientIP func(r *http.Request) string
}

func (l SocketLimits) withDefaults() SocketLimits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.Open, 4096)
	def(&l.OpenPerAddr, 128)
	def(&l.NoHello, 256)
	def(&l.NoHelloPerAddr, 32)
	if l.HelloTimeout <= 0 {
		l.HelloTimeout = 5 * time.Second
	}
	if l.RetryAfter <= 0 {
		l.RetryAfter = 5 * time.Second
	}
	return l
}

// sockets counts the open sockets of a Handler.
type sockets struct {
	mu            sync.Mutex
	open, noHello int
	addrs         map[string]*addrSockets
}

type addrSockets struct{ open, noHello int }

// admit counts a new socket of addr, which has not said Hello, or returns
// the limit it would exceed.
func (s *sockets) admit(l SocketLimits, addr string) (limit string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.addrs == nil {
		s.addrs = map[string]*addrSockets{}
	}
	a := s.addrs[addr]
	if a == nil {
		a = &addrSockets{}
	}
	switch {
	case s.open >= l.Open:
		return metrics.LimitSockets
	case a.open >= l.OpenPerAddr:
		return metrics.LimitSocketsAddr
	case s.noHello >= l.NoHello:
		return metrics.LimitNoHello
	case a.noHello >= l.NoHelloPerAddr:
		return metrics.LimitNoHelloAddr
	}
	s.addrs[addr] = a
	s.open++
	s.noHello++
	a.open++
	a.noHello++
	return ""
}

// hello moves a socket of addr from waiting for Hello to open.
func (s *sockets) hello(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noHello--
	s.addrs[addr].noHello--
}

// close uncounts a socket of addr; saidHello tells whether it got as far.
func (s *sockets) close(addr string, saidHello bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.addrs[addr]
	s.open--
	a.open--
	if !saidHello {
		s.noHello--
		a.noHello--
	}
	if a.open == 0 {
		delete(s.addrs, addr)
	}
}

// OpenSockets returns the session sockets open now and, of those, the ones
// waiting for Hello.
func (h *Handler) OpenSockets() (open, noHello int) {
	h.socks.mu.Lock()
	defer h.socks.mu.Unlock()
	return h.socks.open, h.socks.noHello
}

// remoteAddr is the IP address a request came from.
func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// socketGate is a session socket's place in the counts.
type socketGate struct {
	h         *Handler
	addr      string
	saidHello bool
	// left is set once the peer's side of the connection has ended.
	left atomic.Bool
}

// admitSocket counts the request's socket, or answers 429 with Retry-After
// and returns nil.
func (h *Handler) admitSocket(w http.ResponseWriter, r *http.Request) *socketGate {
	l := h.Sockets.withDefaults()
	addr := remoteAddr(r)
	if l.ClientIP != nil {
		addr = l.ClientIP(r)
	}
	if limit := h.socks.admit(l, addr); limit != "" {
		h.Metrics.Limited(limit)
		secs := int((l.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		http.Error(w, "too many open sessions; try again later", http.StatusTooManyRequests)
		return nil
	}
	return &socketGate{h: h, addr: addr}
}

// hello records that the socket said Hello.
func (g *socketGate) hello() {
	if g != nil && !g.saidHello {
		g.saidHello = true
		g.h.socks.hello(g.addr)
	}
}

func (g *socketGate) close() { g.h.socks.close(g.addr, g.saidHello) }

// recvHello waits HelloTimeout for the socket's first frame.
func (s *session) recvHello(ctx context.Context) (*wire.Frame, error) {
	timeout, start := s.h.Sockets.withDefaults().HelloTimeout, time.Now()
	f, err := s.conn.RecvWithin(ctx, timeout)
	// The socket closed at the deadline, and the session's context with
	// it (watch): a shutdown is the one other end not to count.
	shutdown := s.h.BaseContext != nil && s.h.BaseContext.Err() != nil
	if errors.Is(err, wire.ErrConnection) && !shutdown && time.Since(start) >= timeout {
		s.h.Metrics.Limited(metrics.LimitHelloTimeout)
	}
	if err != nil {
		return nil, err
	}
	s.gate.hello()
	return f, nil
}

// takeSessionSlot claims one of the client's session slots in the store,
// shared by every replica, and renews its lease until the session releases
// it. A session whose slot is lost (its replica could not renew in time)
// is ended.
func (s *session) takeSessionSlot(ctx context.Context) (release func(), err error) {
	limit := s.h.MaxSessionsPerClient
	if limit == 0 {
		limit = 4
	}
	holder := make([]byte, 16)
	if _, err := io.ReadFull(s.h.rand(), holder); err != nil {
		return nil, err
	}
	id, lease, clientID := fmt.Sprintf("%x", holder), s.h.lockLease(), s.client.ID
	slot, err := s.h.Store.TakeSessionSlot(ctx, clientID, id, limit, lease)
	if errors.Is(err, store.ErrNoSessionSlot) {
		s.h.Metrics.Limited(metrics.LimitClientSessions)
		return nil, fail(wire.CodeBusy, "too many sessions for this client")
	}
	if err != nil {
		return nil, fail(wire.CodeServerError, "checking the client's sessions failed")
	}
	stop := renew(lease/3, func() bool {
		err := s.h.Store.RenewSessionSlot(ctx, clientID, slot, id, lease)
		return !errors.Is(err, store.ErrNoSessionSlot)
	}, func() {
		s.h.log().Warn("session slot lost", "client", clientID)
		s.cancel()
	})
	return func() {
		stop()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := s.h.Store.ReleaseSessionSlot(rctx, clientID, slot, id); err != nil {
			s.h.log().Warn("releasing a session slot failed; it lapses with its lease", "client", clientID, "error", err)
		}
	}, nil
}

// renew calls keep every period until stop is called; if keep reports the
// lease lost, it calls lost and stops.
func renew(period time.Duration, keep func() bool, lost func()) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				if !keep() {
					lost()
					return
				}
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// watch wraps w so that the connection websocket.Accept hijacks from it is
// watched for the peer leaving: a session computes, waits for a prime
// pair or for the store with nobody reading its socket, and a device that
// closed its socket or lost its connection meanwhile would otherwise be
// noticed only at the next read or write. When the peer's side ends, the
// session is cancelled at once (cancel), so that it gives back what it
// holds (an unrevealed prime pair, its slot, the wallet lock).
//
// The connection is read ahead of the WebSocket, at most maxReadAhead
// bytes that the session has not consumed; a peer that sends more pauses
// the read-ahead until the session reads. The WebSocket sees the same
// bytes in the same order, its close handshake included.
func (g *socketGate) watch(w http.ResponseWriter, cancel context.CancelFunc) http.ResponseWriter {
	return &watchedWriter{ResponseWriter: w, lost: func() {
		g.left.Store(true)
		cancel()
	}}
}

// leftEarly reports a session's failure as the peer's leaving when the
// peer left while the session ran and the failure is what its leaving
// caused: a wait or store call cut by the cancelled context, and the
// server error it became. A failure the peer is to blame for stays one,
// so that leaving right after a bad message does not escape the abort
// count, and so does a refusal of ours.
func (g *socketGate) leftEarly(err error) error {
	if err == nil || !g.left.Load() || causedByClient(err) || errors.Is(err, wire.ErrConnection) {
		return err
	}
	var we *wire.Error
	if errors.Is(err, context.Canceled) || (errors.As(err, &we) && we.Code == wire.CodeServerError) {
		return fmt.Errorf("%w: the peer left during the session (%v)", wire.ErrConnection, err)
	}
	return err
}

// maxReadAhead bounds the bytes a watched connection reads ahead of the
// session: more than an honest device ever sends before it waits for an
// answer (a last protocol message and its acknowledgement).
const maxReadAhead = 64 << 10

// watchedWriter hands websocket.Accept a watched connection when it
// hijacks.
type watchedWriter struct {
	http.ResponseWriter
	lost func()
}

func (w *watchedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return newWatchedConn(c, w.lost), brw, nil
}

func (w *watchedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// watchedConn reads its connection ahead of its reader, in a goroutine of
// its own, and calls lost once when the connection's read side ends (the
// peer closed it, it failed, or it was closed here).
type watchedConn struct {
	net.Conn
	lost func()

	mu     sync.Mutex
	cond   sync.Cond
	buf    bytes.Buffer // read, not yet consumed
	err    error        // the read error, returned once buf is consumed
	closed bool
}

func newWatchedConn(c net.Conn, lost func()) *watchedConn {
	w := &watchedConn{Conn: c, lost: lost}
	w.cond.L = &w.mu
	go w.readAhead()
	return w
}

func (w *watchedConn) readAhead() {
	chunk := make([]byte, 4<<10)
	for {
		w.mu.Lock()
		for w.buf.Len() >= maxReadAhead && !w.closed {
			w.cond.Wait()
		}
		w.mu.Unlock()
		n, err := w.Conn.Read(chunk)
		w.mu.Lock()
		w.buf.Write(chunk[:n])
		if err != nil {
			w.err = err
		}
		w.cond.Broadcast()
		w.mu.Unlock()
		if err != nil {
			w.lost()
			return
		}
	}
}

// Read returns what was read ahead, waiting for more if nothing is, and
// the connection's read error once everything before it is consumed.
func (w *watchedConn) Read(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.buf.Len() == 0 && w.err == nil {
		w.cond.Wait()
	}
	if w.buf.Len() > 0 {
		n, _ := w.buf.Read(p)
		w.cond.Broadcast()
		return n, nil
	}
	return 0, w.err
}

// Close closes the connection, which ends the read-ahead.
func (w *watchedConn) Close() error {
	w.mu.Lock()
	w.closed = true
	w.cond.Broadcast()
	w.mu.Unlock()
	return w.Conn.Close()
}
