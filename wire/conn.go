package wire

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/duetwallet/duet/mpc"
)

// Application close codes (4000–4999).
const (
	CloseDone  = 4000
	CloseError = 4001
)

// Transport carries whole messages over a WebSocket: github.com/coder/websocket
// natively (NewConn), the browser's own WebSocket in the device module
// (Dial, built for js). A transport caps incoming messages at MaxFrame.
type Transport interface {
	// Read returns the next message, and whether it is binary.
	Read(ctx context.Context) (binary bool, msg []byte, err error)
	// Write sends msg as one binary message.
	Write(ctx context.Context, msg []byte) error
	// Close closes the socket with a close handshake.
	Close(code int, reason string) error
	// CloseNow drops the socket without waiting for the peer.
	CloseNow() error
}

// Conn sends and receives frames over a WebSocket, with a deadline per
// frame.
type Conn struct {
	ws Transport
	// FrameTimeout bounds the wait for each incoming frame; a peer that
	// stalls a round longer loses the session.
	FrameTimeout time.Duration
}

// NewTransportConn wraps an open transport.
func NewTransportConn(t Transport, frameTimeout time.Duration) *Conn {
	return &Conn{ws: t, FrameTimeout: frameTimeout}
}

// ErrConnection wraps every failure of the socket itself: a drop, a close,
// a peer that stays silent past the frame timeout.
var ErrConnection = errors.New("wire: connection lost")

// RefusedError is a WebSocket upgrade the server refused with 429 (Too Many
// Requests): a cap on sockets or a rate limit. RetryAfter is the server's
// Retry-After, zero when it gave none.
type RefusedError struct {
	RetryAfter time.Duration
	Err        error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("wire: the server refused the connection for now (429, retry after %v): %v", e.RetryAfter, e.Err)
}

func (e *RefusedError) Unwrap() error { return e.Err }

// Send writes one frame.
func (c *Conn) Send(ctx context.Context, f *Frame) error {
	ctx, cancel := context.WithTimeout(ctx, c.FrameTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, f.Marshal()); err != nil {
		return fmt.Errorf("%w: %v", ErrConnection, err)
	}
	return nil
}

// Recv reads one frame. An Error frame from the peer is returned as *Error.
func (c *Conn) Recv(ctx context.Context) (*Frame, error) {
	return c.RecvWithin(ctx, c.FrameTimeout)
}

// RecvWithin is Recv with its own timeout, for a wait the peer fills with
// slow local work (the device's prime search before a recovery).
func (c *Conn) RecvWithin(ctx context.Context, timeout time.Duration) (*Frame, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	binary, b, err := c.ws.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConnection, err)
	}
	if !binary {
		return nil, fmt.Errorf("%w: text message", ErrFrame)
	}
	f, err := ParseFrame(b)
	if err != nil {
		return nil, err
	}
	if f.Type == TypeError {
		e, err := ParseError(f)
		if err != nil {
			return nil, err
		}
		return nil, e
	}
	return f, nil
}

// RecvData reads a Data frame of the given kind.
func (c *Conn) RecvData(ctx context.Context, kind string) (*Data, error) {
	f, err := c.Recv(ctx)
	if err != nil {
		return nil, err
	}
	return ParseData(f, kind)
}

// Fail sends an Error frame and closes the socket.
func (c *Conn) Fail(ctx context.Context, e *Error) {
	_ = c.Send(ctx, e.Frame())
	c.ws.Close(CloseError, e.Code)
}

// Close closes the socket normally.
func (c *Conn) Close() { c.ws.Close(CloseDone, "done") }

// CloseNow drops the socket without a close handshake.
func (c *Conn) CloseNow() { c.ws.CloseNow() }

// MPCFrame wraps a protocol message.
func MPCFrame(m *mpc.Message) *Frame {
	b, _ := m.MarshalBinary()
	return &Frame{Type: TypeMPC, Body: b}
}

// ParseMPC unwraps a protocol message.
func ParseMPC(f *Frame) (*mpc.Message, error) {
	if f.Type != TypeMPC {
		return nil, unexpected(TypeMPC, f)
	}
	m := new(mpc.Message)
	if err := m.UnmarshalBinary(f.Body); err != nil {
		return nil, err
	}
	return m, nil
}

// RoundHook is told of each round as it completes (for progress reports).
type RoundHook func(protocol string, round int)

// Run drives a protocol run to its end over the connection: it sends the
// first message, then answers each peer message with the next, and returns
// the run's output.
func (c *Conn) Run(ctx context.Context, r mpc.Round, first *mpc.Message, hook RoundHook) (any, error) {
	out := first
	round := 1
	for {
		if out != nil {
			if err := c.Send(ctx, MPCFrame(out)); err != nil {
				return nil, err
			}
		}
		if done, ok := r.(*mpc.Done); ok {
			return done.Output, nil
		}
		f, err := c.Recv(ctx)
		if err != nil {
			return nil, err
		}
		msg, err := ParseMPC(f)
		if err != nil {
			return nil, err
		}
		next, o, err := r.Receive(msg)
		if err != nil {
			return nil, err
		}
		if hook != nil {
			hook(msg.Protocol, round)
		}
		round++
		if next == nil {
			return nil, errors.New("wire: internal error: protocol returned no round")
		}
		r, out = next, o
	}
}
