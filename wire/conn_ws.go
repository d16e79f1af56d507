//go:build !js

package wire

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"
)

// NewConn wraps an open WebSocket and caps incoming frames at MaxFrame.
func NewConn(ws *websocket.Conn, frameTimeout time.Duration) *Conn {
	ws.SetReadLimit(MaxFrame)
	return NewTransportConn(wsTransport{ws}, frameTimeout)
}

// Dial opens a WebSocket to url (ws or wss) and wraps it. An upgrade the
// server refuses with 429 gives a *RefusedError.
func Dial(ctx context.Context, url string, frameTimeout time.Duration) (*Conn, error) {
	ws, resp, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
			secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			return nil, &RefusedError{RetryAfter: time.Duration(max(secs, 0)) * time.Second, Err: err}
		}
		return nil, err
	}
	return NewConn(ws, frameTimeout), nil
}

// wsTransport is a Transport over github.com/coder/websocket.
type wsTransport struct{ c *websocket.Conn }

func (t wsTransport) Read(ctx context.Context) (bool, []byte, error) {
	typ, b, err := t.c.Read(ctx)
	return typ == websocket.MessageBinary, b, err
}

func (t wsTransport) Write(ctx context.Context, msg []byte) error {
	return t.c.Write(ctx, websocket.MessageBinary, msg)
}

func (t wsTransport) Close(code int, reason string) error {
	return t.c.Close(websocket.StatusCode(code), reason)
}

func (t wsTransport) CloseNow() error { return t.c.CloseNow() }
