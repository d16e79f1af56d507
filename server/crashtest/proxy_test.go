package crashtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/duetwallet/duet/wire"
)

// side names the party a frame comes from.
type side int

const (
	fromDevice side = iota
	fromServer
)

func (s side) String() string {
	if s == fromDevice {
		return "device"
	}
	return "server"
}

// crashAt is one crash point: the k-th frame (counted from 1 since the
// proxy was armed, across the sessions of one operation) from one side.
// A device frame is forwarded first and the crash follows its delivery; a
// server frame is held and the crash comes before it is forwarded, so that
// the device never sees it. "Delivered" means written to the server's
// socket: whether the server acted on it before it was killed is left to
// chance, and both outcomes must keep the invariant.
type crashAt struct {
	from side
	k    int
	// crash runs with the proxy's lock held, so no other frame passes
	// while it does; the proxy then drops both ends of the connection.
	crash func()
}

// proxy forwards WebSocket sessions from devices to duetd, frame by
// frame, counting frames each way, and crashes at the armed point.
type proxy struct {
	upstream string // ws://host:port/v1/session
	srv      *httptest.Server

	mu     sync.Mutex
	frames [2]int
	plan   *crashAt
	fired  bool
}

func newProxy(upstream string) *proxy {
	p := &proxy{upstream: upstream}
	p.srv = httptest.NewServer(p)
	return p
}

func (p *proxy) URL() string { return p.srv.URL }

func (p *proxy) Close() { p.srv.Close() }

// arm resets the counts and sets the next crash point (nil: none).
func (p *proxy) arm(c *crashAt) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frames = [2]int{}
	p.plan, p.fired = c, false
}

// counts returns the frames seen each way since arm, and whether the crash
// point was reached.
func (p *proxy) counts() (device, server int, fired bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frames[fromDevice], p.frames[fromServer], p.fired
}

// link is one proxied session; dead once either end failed or a crash cut
// it.
type link struct {
	down, up *websocket.Conn
	dead     bool
	// crashing: a device frame at the crash point is being written; the
	// crash follows its delivery.
	crashing bool
}

func (l *link) cut() {
	l.dead = true
	l.down.CloseNow()
	l.up.CloseNow()
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/session" {
		http.NotFound(w, r)
		return
	}
	// The server is dialed first: while it is down, the device's dial
	// fails as it would without the proxy.
	up, _, err := websocket.Dial(r.Context(), p.upstream, nil)
	if err != nil {
		http.Error(w, "duetd unreachable", http.StatusBadGateway)
		return
	}
	down, err := websocket.Accept(w, r, nil)
	if err != nil {
		up.CloseNow()
		return
	}
	limit := int64(wire.MaxFrame + 1024)
	up.SetReadLimit(limit)
	down.SetReadLimit(limit)
	l := &link{down: down, up: up}
	done := make(chan struct{})
	go func() {
		p.pump(l, fromServer, up, down)
		close(done)
	}()
	p.pump(l, fromDevice, down, up)
	<-done
}

// pump forwards the frames of one direction until either end fails or the
// crash point cuts the link. Frames are written without the lock, so that
// a peer busy writing a large frame of its own never blocks the other
// direction; a link about to crash forwards nothing more the other way.
func (p *proxy) pump(l *link, from side, src, dst *websocket.Conn) {
	ctx := context.Background()
	for {
		typ, b, err := src.Read(ctx)
		p.mu.Lock()
		if err != nil || l.dead || l.crashing {
			if !l.dead && !l.crashing {
				l.cut()
			}
			p.mu.Unlock()
			return
		}
		p.frames[from]++
		hit := p.plan != nil && !p.fired && p.plan.from == from && p.plan.k == p.frames[from]
		if hit && from == fromServer {
			p.crash(l)
			p.mu.Unlock()
			return
		}
		l.crashing = hit
		p.mu.Unlock()

		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		err = dst.Write(wctx, typ, b)
		cancel()

		p.mu.Lock()
		switch {
		case hit:
			p.crash(l)
		case err != nil && !l.dead && !l.crashing:
			l.cut()
		}
		dead := l.dead || l.crashing
		p.mu.Unlock()
		if dead {
			return
		}
	}
}

// crash runs the armed crash and cuts the link; p.mu is held.
func (p *proxy) crash(l *link) {
	p.fired = true
	p.plan.crash()
	l.cut()
}
