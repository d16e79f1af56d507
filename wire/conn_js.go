//go:build js

package wire

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall/js"
	"time"
	"unicode/utf8"
)

// The device module speaks through the browser's own WebSocket, so that it
// links no HTTP client or TLS stack of its own: the browser does the
// handshake, TLS and framing.

// errSocketClosed is the transport's error once the socket has closed; the
// error says how (the close code and reason, when the peer sent them).
var errSocketClosed = errors.New("socket closed")

// A browser's WebSocket.close accepts only 1000 and 3000–4999.
const closeNormal = 1000

// closeWait bounds how long Close waits for the peer's close frame.
const closeWait = 5 * time.Second

// writeHighWater is how much a socket may hold unsent before Write waits for
// it to drain; maxQueued is how much it may hold received and unread before
// the peer is cut off (an honest peer sends a frame or two ahead at most).
const (
	writeHighWater = 1 << 20
	maxQueued      = 16 * MaxFrame
)

// Dial opens a WebSocket to url (ws or wss) with the browser's WebSocket and
// wraps it.
func Dial(ctx context.Context, url string, frameTimeout time.Duration) (*Conn, error) {
	t, err := dialBrowser(ctx, url)
	if err != nil {
		return nil, err
	}
	return NewTransportConn(t, frameTimeout), nil
}

type message struct {
	binary bool
	data   []byte
}

// browserSocket is a Transport over a browser WebSocket. The event handlers
// only queue what they are told; Read takes messages from the queue, all of
// them before it reports the close that followed them.
type browserSocket struct {
	ws js.Value

	mu     sync.Mutex
	queue  []message
	queued int
	err    error // why the socket closed; nil while it is open
	signal chan struct{}
	closed chan struct{}

	handlers []handler
}

type handler struct {
	event string
	fn    js.Func
}

func dialBrowser(ctx context.Context, url string) (s *browserSocket, err error) {
	ctor := js.Global().Get("WebSocket")
	if ctor.Type() != js.TypeFunction {
		return nil, errors.New("wire: dial: no WebSocket in this environment")
	}
	defer func() {
		// The constructor throws a SyntaxError on a malformed URL.
		if r := recover(); r != nil {
			if jerr, ok := r.(js.Error); ok {
				s, err = nil, fmt.Errorf("wire: dial %s: %s", url, jerr.Value.Get("message").String())
				return
			}
			panic(r)
		}
	}()
	ws := ctor.New(url)
	ws.Set("binaryType", "arraybuffer")
	s = &browserSocket{ws: ws, signal: make(chan struct{}, 1), closed: make(chan struct{})}
	opened := make(chan struct{})
	s.on("open", func(js.Value) { close(opened) })
	s.on("message", s.onMessage)
	s.on("close", s.onClose)
	select {
	case <-opened:
		return s, nil
	case <-s.closed:
		return nil, fmt.Errorf("wire: dial %s: %w", url, s.closeErr())
	case <-ctx.Done():
		s.CloseNow()
		return nil, fmt.Errorf("wire: dial %s: %w", url, ctx.Err())
	}
}

// on adds an event handler that lives until the socket closes.
func (s *browserSocket) on(event string, f func(js.Value)) {
	fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
		f(args[0])
		return nil
	})
	s.mu.Lock()
	s.handlers = append(s.handlers, handler{event, fn})
	s.mu.Unlock()
	s.ws.Call("addEventListener", event, fn)
}

func (s *browserSocket) onMessage(ev js.Value) {
	data := ev.Get("data")
	var m message
	tooBig := false
	switch {
	case data.Type() == js.TypeString:
		m.data = []byte(data.String())
		tooBig = len(m.data) > MaxFrame
	case data.Get("byteLength").Int() > MaxFrame:
		tooBig = true
	default:
		u8 := js.Global().Get("Uint8Array").New(data)
		m.binary, m.data = true, make([]byte, u8.Get("length").Int())
		js.CopyBytesToGo(m.data, u8)
	}
	if tooBig {
		// The browser has read it already; what matters is that it goes
		// no further, and that the peer learns why.
		s.fail(closeNormal, fmt.Errorf("message too big: read limited at %d bytes", MaxFrame))
		return
	}
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	if s.queued+len(m.data) > maxQueued {
		s.mu.Unlock()
		s.fail(closeNormal, errors.New("too many unread messages"))
		return
	}
	s.queue = append(s.queue, m)
	s.queued += len(m.data)
	s.mu.Unlock()
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

func (s *browserSocket) onClose(ev js.Value) {
	code, reason := ev.Get("code").Int(), ev.Get("reason").String()
	s.setErr(fmt.Errorf("%w: status %d, reason %q", errSocketClosed, code, reason))
	s.mu.Lock()
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	handlers := s.handlers
	s.handlers = nil
	s.mu.Unlock()
	for _, h := range handlers {
		s.ws.Call("removeEventListener", h.event, h.fn)
		h.fn.Release()
	}
}

// setErr records the first reason the socket ended.
func (s *browserSocket) setErr(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

func (s *browserSocket) closeErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// fail ends the socket for err: later reads see err once the queue is
// empty, and the peer sees the close.
func (s *browserSocket) fail(code int, err error) {
	s.setErr(err)
	s.close(code, err.Error())
}

// close starts the browser's close handshake; a code the browser refuses to
// send becomes a normal close that keeps the reason.
func (s *browserSocket) close(code int, reason string) {
	if code != closeNormal && (code < 3000 || code > 4999) {
		code = closeNormal
	}
	// A reason is at most 123 bytes of UTF-8, or close throws.
	for len(reason) > 123 || !utf8.ValidString(reason) {
		reason = reason[:len(reason)-1]
	}
	s.ws.Call("close", code, reason)
}

func (s *browserSocket) Read(ctx context.Context) (bool, []byte, error) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			m := s.queue[0]
			s.queue[0] = message{}
			s.queue = s.queue[1:]
			s.queued -= len(m.data)
			s.mu.Unlock()
			return m.binary, m.data, nil
		}
		err := s.err
		s.mu.Unlock()
		if err != nil {
			return false, nil, err
		}
		select {
		case <-s.signal:
		case <-ctx.Done():
			s.fail(closeNormal, fmt.Errorf("read: %w", ctx.Err()))
			return false, nil, ctx.Err()
		}
	}
}

func (s *browserSocket) Write(ctx context.Context, msg []byte) error {
	if err := s.closeErr(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		s.fail(closeNormal, fmt.Errorf("write: %w", err))
		return err
	}
	// The browser queues whatever is sent; past the high-water mark the
	// writer waits for the queue to drain, as a native writer waits for the
	// network.
	for s.ws.Get("bufferedAmount").Int() > writeHighWater {
		select {
		case <-s.closed:
			return s.closeErr()
		case <-ctx.Done():
			s.fail(closeNormal, fmt.Errorf("write: %w", ctx.Err()))
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	u8 := js.Global().Get("Uint8Array").New(len(msg))
	js.CopyBytesToJS(u8, msg)
	s.ws.Call("send", u8)
	return nil
}

func (s *browserSocket) Close(code int, reason string) error {
	if err := s.closeErr(); err != nil {
		return err
	}
	s.setErr(fmt.Errorf("%w: sent status %d, reason %q", errSocketClosed, code, reason))
	s.close(code, reason)
	select {
	case <-s.closed:
	case <-time.After(closeWait):
	}
	return nil
}

func (s *browserSocket) CloseNow() error {
	s.setErr(fmt.Errorf("%w: closed by this side", errSocketClosed))
	s.ws.Call("close")
	return nil
}
