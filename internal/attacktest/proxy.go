// Package attacktest is a malicious server for tests: a WebSocket
// man-in-the-middle in front of a real server party that decodes each
// session's frames and protocol messages and lets a test rewrite, drop,
// hold, duplicate, reorder or inject what the device receives, and forgers
// for what must be built from scratch (BitForge moduli with a matching
// commitment and Πprm, forged proofs, the backup-refresh decryption oracle).
// It drives the real device party, natively or in a browser, and changes
// nothing in the product.
package attacktest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/wire"
)

// Dir is the direction a frame travels.
type Dir int

const (
	FromDevice Dir = iota + 1
	FromServer
)

func (d Dir) String() string {
	if d == FromDevice {
		return "device→server"
	}
	return "server→device"
}

// Frame is one WebSocket message as it reached the proxy, decoded as far as
// it decodes.
type Frame struct {
	Dir   Dir
	Raw   []byte
	Frame *wire.Frame  // nil if the frame does not parse
	Msg   *mpc.Message // MPC frames only
	Err   *wire.Error  // Error frames only
}

// IsMPC reports whether f carries the protocol message of (protocol, round).
func (f *Frame) IsMPC(protocol string, round int) bool {
	return f.Msg != nil && f.Msg.Protocol == protocol && int(f.Msg.Round) == round
}

// Tamper decides what becomes of a frame: it returns the messages to pass
// on in the frame's direction, in order (none drops or holds it, two
// duplicate it). Calls are serialised per session.
type Tamper func(s *Session, f *Frame) [][]byte

// Serve answers a session in place of the real server, from the device's
// Hello on.
type Serve func(ctx context.Context, s *Session, conn *wire.Conn) error

// Session is one device session through the proxy.
type Session struct {
	Index   int
	Hello   *wire.Hello
	Welcome *wire.Welcome

	mu       sync.Mutex // serialises tampering
	recMu    sync.Mutex
	frames   []*Frame
	toDevice func([]byte) error
	toServer func([]byte) error
	// State is scratch space for a tamper that spans several frames.
	State map[string]any
}

// Frames returns every frame received so far, from both sides, in order.
func (s *Session) Frames() []*Frame {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	return append([]*Frame(nil), s.frames...)
}

// Record adds a frame to the session's record (a Serve records what it
// reads and writes with it).
func (s *Session) Record(f *Frame) {
	s.recMu.Lock()
	s.frames = append(s.frames, f)
	s.recMu.Unlock()
}

// Find returns the first recorded frame of a direction that matches.
func (s *Session) Find(dir Dir, match func(*Frame) bool) *Frame {
	for _, f := range s.Frames() {
		if f.Dir == dir && match(f) {
			return f
		}
	}
	return nil
}

// FindMPC returns the first protocol message of (protocol, round) from one
// side, or nil.
func (s *Session) FindMPC(dir Dir, protocol string, round int) *mpc.Message {
	f := s.Find(dir, func(f *Frame) bool { return f.IsMPC(protocol, round) })
	if f == nil {
		return nil
	}
	return f.Msg
}

// DeviceError is the Error frame the device sent, or nil.
func (s *Session) DeviceError() *wire.Error {
	f := s.Find(FromDevice, func(f *Frame) bool { return f.Err != nil })
	if f == nil {
		return nil
	}
	return f.Err
}

// ToDevice injects a message to the device.
func (s *Session) ToDevice(raw []byte) error { return s.toDevice(raw) }

// Proxy is the malicious server: it relays /v1/session between the device
// and the real server at Target, through the tamper of the moment, and
// forwards every other request to the real server unchanged (so a browser
// loads the page and the SDK from the proxy's origin).
type Proxy struct {
	// Target is the real server's base URL (http://host:port).
	Target string

	mu       sync.Mutex
	tamper   Tamper
	serve    func(*wire.Hello) Serve
	sessions []*Session
	rev      *httputil.ReverseProxy
}

// SetTamper sets the tamper of the sessions that start from now on; nil
// relays honestly.
func (p *Proxy) SetTamper(t Tamper) {
	p.mu.Lock()
	p.tamper = t
	p.mu.Unlock()
}

// SetServe makes the proxy answer the sessions for which pick returns a
// Serve itself, without the real server; nil stops it.
func (p *Proxy) SetServe(pick func(*wire.Hello) Serve) {
	p.mu.Lock()
	p.serve = pick
	p.mu.Unlock()
}

// Sessions returns the sessions so far.
func (p *Proxy) Sessions() []*Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*Session(nil), p.sessions...)
}

// Last returns the latest session, or nil.
func (p *Proxy) Last() *Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.sessions) == 0 {
		return nil
	}
	return p.sessions[len(p.sessions)-1]
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/session" {
		p.session(w, r)
		return
	}
	p.mu.Lock()
	if p.rev == nil {
		u, err := url.Parse(p.Target)
		if err != nil {
			p.mu.Unlock()
			http.Error(w, "bad target", http.StatusBadGateway)
			return
		}
		p.rev = &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Header.Del("Origin")
		}}
	}
	rev := p.rev
	p.mu.Unlock()
	rev.ServeHTTP(w, r)
}

func decode(dir Dir, raw []byte) *Frame {
	f := &Frame{Dir: dir, Raw: raw}
	wf, err := wire.ParseFrame(raw)
	if err != nil {
		return f
	}
	f.Frame = wf
	switch wf.Type {
	case wire.TypeMPC:
		if m, err := wire.ParseMPC(wf); err == nil {
			f.Msg = m
		}
	case wire.TypeError:
		if e, err := wire.ParseError(wf); err == nil {
			f.Err = e
		}
	}
	return f
}

func (p *Proxy) session(w http.ResponseWriter, r *http.Request) {
	// The page is served from the proxy's own origin.
	in, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer in.CloseNow()
	in.SetReadLimit(-1)
	ctx := r.Context()

	p.mu.Lock()
	s := &Session{Index: len(p.sessions), State: map[string]any{}}
	p.sessions = append(p.sessions, s)
	tamper, pick := p.tamper, p.serve
	p.mu.Unlock()

	// The Hello decides whether the real server takes part at all.
	typ, hello, err := in.Read(ctx)
	if err != nil {
		return
	}
	hf := decode(FromDevice, hello)
	s.Record(hf)
	if hf.Frame != nil {
		s.Hello, _ = wire.ParseHello(hf.Frame)
	}
	if pick != nil && s.Hello != nil {
		if serve := pick(s.Hello); serve != nil {
			conn := wire.NewConn(in, time.Minute)
			if err := serve(ctx, s, conn); err != nil {
				conn.CloseNow()
				return
			}
			conn.Close()
			return
		}
	}

	target := "ws" + strings.TrimPrefix(p.Target, "http") + "/v1/session"
	out, _, err := websocket.Dial(ctx, target, nil)
	if err != nil {
		return
	}
	defer out.CloseNow()
	out.SetReadLimit(-1)
	var wmu sync.Mutex
	write := func(c *websocket.Conn) func([]byte) error {
		return func(b []byte) error {
			wmu.Lock()
			defer wmu.Unlock()
			return c.Write(ctx, websocket.MessageBinary, b)
		}
	}
	s.toDevice, s.toServer = write(in), write(out)
	if err := out.Write(ctx, typ, hello); err != nil {
		return
	}
	relay := func(from, to *websocket.Conn, dir Dir, send func([]byte) error) {
		for {
			_, b, err := from.Read(ctx)
			if err != nil {
				// Mirror the close, after everything before it went on.
				if code := websocket.CloseStatus(err); code != -1 {
					var ce websocket.CloseError
					errors.As(err, &ce)
					to.Close(code, ce.Reason)
				} else {
					to.CloseNow()
				}
				return
			}
			f := decode(dir, b)
			s.Record(f)
			if dir == FromServer && f.Frame != nil && f.Frame.Type == wire.TypeWelcome && s.Welcome == nil {
				s.Welcome, _ = wire.ParseWelcome(f.Frame)
			}
			outs := [][]byte{b}
			if tamper != nil {
				s.mu.Lock()
				outs = tamper(s, f)
				s.mu.Unlock()
			}
			for _, o := range outs {
				if send(o) != nil {
					return
				}
			}
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		relay(in, out, FromDevice, s.toServer)
	}()
	relay(out, in, FromServer, s.toDevice)
	<-done
}
