//go:build !js

package wire

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// serveOnce starts a WebSocket server whose one session runs serve, and
// dials it with Dial. The browser transport (conn_js.go) gives the same
// errors for the same endings; e2e's TestBrowserTransport checks them there.
func serveOnce(t *testing.T, serve func(ctx context.Context, ws *websocket.Conn)) *Conn {
	t.Helper()
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		defer ws.CloseNow()
		ws.SetReadLimit(-1)
		serve(r.Context(), ws)
	}))
	t.Cleanup(func() {
		srv.Close()
	})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	c, err := Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.CloseNow()
		<-done
	})
	return c
}

func TestConnEndings(t *testing.T) {
	write := func(ctx context.Context, ws *websocket.Conn, typ websocket.MessageType, b []byte) {
		if err := ws.Write(ctx, typ, b); err != nil {
			t.Error(err)
		}
	}
	t.Run("error frame then close 4001", func(t *testing.T) {
		c := serveOnce(t, func(ctx context.Context, ws *websocket.Conn) {
			write(ctx, ws, websocket.MessageBinary, (&Error{Code: CodeBusy, Message: "later"}).Frame().Marshal())
			ws.Close(CloseError, CodeBusy)
		})
		_, err := c.Recv(t.Context())
		var we *Error
		if !errors.As(err, &we) || we.Code != CodeBusy || we.Message != "later" {
			t.Fatalf("Recv: %v, want the server's BUSY error", err)
		}
		if _, err := c.Recv(t.Context()); !errors.Is(err, ErrConnection) {
			t.Fatalf("Recv after the close: %v, want ErrConnection", err)
		}
	})
	t.Run("close without a word", func(t *testing.T) {
		c := serveOnce(t, func(ctx context.Context, ws *websocket.Conn) {})
		if _, err := c.Recv(t.Context()); !errors.Is(err, ErrConnection) {
			t.Fatalf("Recv: %v, want ErrConnection", err)
		}
	})
	t.Run("frame over the size limit", func(t *testing.T) {
		c := serveOnce(t, func(ctx context.Context, ws *websocket.Conn) {
			write(ctx, ws, websocket.MessageBinary, (&Frame{Type: TypeData, Body: make([]byte, MaxFrame)}).Marshal())
			ws.Read(ctx)
		})
		if _, err := c.Recv(t.Context()); !errors.Is(err, ErrConnection) {
			t.Fatalf("Recv: %v, want ErrConnection", err)
		}
	})
	t.Run("a frame of exactly the limit", func(t *testing.T) {
		c := serveOnce(t, func(ctx context.Context, ws *websocket.Conn) {
			write(ctx, ws, websocket.MessageBinary, (&Frame{Type: TypeData, Body: make([]byte, MaxFrame-2)}).Marshal())
			ws.Read(ctx)
		})
		// It passes the transport and reaches the frame parser.
		if f, err := c.Recv(t.Context()); err != nil || f.Type != TypeData || len(f.Body) != MaxFrame-2 {
			t.Fatalf("Recv: %v, want the frame", err)
		}
	})
	t.Run("text message", func(t *testing.T) {
		c := serveOnce(t, func(ctx context.Context, ws *websocket.Conn) {
			write(ctx, ws, websocket.MessageText, []byte("hello"))
			ws.Read(ctx)
		})
		if _, err := c.Recv(t.Context()); !errors.Is(err, ErrFrame) {
			t.Fatalf("Recv: %v, want ErrFrame", err)
		}
	})
	t.Run("fail tells the peer", func(t *testing.T) {
		got := make(chan error, 1)
		c := serveOnce(t, func(ctx context.Context, ws *websocket.Conn) {
			_, b, err := ws.Read(ctx)
			if err != nil {
				got <- err
				return
			}
			f, err := ParseFrame(b)
			if err == nil {
				_, err = ParseError(f)
			}
			if err != nil {
				got <- err
				return
			}
			_, _, err = ws.Read(ctx)
			got <- err
		})
		c.Fail(t.Context(), &Error{Code: CodeBadFrame, Message: "no"})
		err := <-got
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != CloseError || ce.Reason != CodeBadFrame {
			t.Fatalf("the server saw %v, want close %d %q after the Error frame", err, CloseError, CodeBadFrame)
		}
	})
}
