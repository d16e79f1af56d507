package e2e

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/duetwallet/duet/internal/attacktest"
	"github.com/duetwallet/duet/wire"
)

// TestBrowserTransport drives the device module's own WebSocket transport
// (the browser's WebSocket, not an HTTP client of its own) through the SDK
// against sockets that end in each of the ways a server's can: an Error
// frame then close 4001, a close without a word, a frame over the size
// limit. Each must reach the caller as the same error the
// native transport gives, change nothing on the device, and leave a device
// that creates its wallet once the server answers honestly.
func TestBrowserTransport(t *testing.T) {
	useServer(t)
	keys := fetchDevKeys(t)
	apiKey := createClient(t, keys.OrgAPIKey)
	proxy := &attacktest.Proxy{Target: duet.url}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)

	a := newProfile(t, "device")
	a.do(t, time.Minute, chromedp.Navigate(ps.URL+"/e2e.html"))
	if st := a.connectWith(t, apiKey, "background: false,"); st.OnDevice {
		t.Fatalf("fresh profile: device state %+v, want no wallet", st)
	}
	create := `return await duet.createWallet();`

	// serveAll answers every session with serve, without the real server.
	serveAll := func(serve attacktest.Serve) {
		proxy.SetServe(func(*wire.Hello) attacktest.Serve { return serve })
	}
	for _, tt := range []struct {
		name      string
		serve     attacktest.Serve
		tamper    attacktest.Tamper
		code      string
		inMessage string
	}{
		{
			name: "error frame then close 4001",
			serve: func(ctx context.Context, s *attacktest.Session, c *wire.Conn) error {
				c.Fail(ctx, &wire.Error{Code: wire.CodeBusy, Message: "another change of this wallet is running"})
				return errors.New("failed the session")
			},
			code:      wire.CodeBusy,
			inMessage: "another change of this wallet is running",
		},
		{
			name: "close without a word",
			serve: func(ctx context.Context, s *attacktest.Session, c *wire.Conn) error {
				return errors.New("dropped the socket")
			},
			code: wire.CodeNetwork,
		},
		{
			name: "frame over the size limit",
			tamper: func(s *attacktest.Session, f *attacktest.Frame) [][]byte {
				if f.Dir == attacktest.FromServer {
					big := (&wire.Frame{Type: wire.TypeData, Body: make([]byte, wire.MaxFrame)}).Marshal()
					return [][]byte{big}
				}
				return [][]byte{f.Raw}
			},
			code:      wire.CodeNetwork,
			inMessage: "too big",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := a.deviceState(t)
			sessions := len(proxy.Sessions())
			if tt.serve != nil {
				serveAll(tt.serve)
				defer proxy.SetServe(nil)
			}
			proxy.SetTamper(tt.tamper)
			defer proxy.SetTamper(nil)
			err := a.call(t, sessionTimeout, create, nil)
			if err == nil {
				t.Fatal("createWallet succeeded, want an error")
			}
			if err.Code != tt.code || !strings.Contains(err.Message, tt.inMessage) {
				t.Fatalf("createWallet: %v, want code %s and a message with %q", err, tt.code, tt.inMessage)
			}
			if len(proxy.Sessions()) == sessions {
				t.Fatal("the device opened no session")
			}
			if after := a.deviceState(t); after != before {
				t.Fatalf("device state went from %+v to %+v", before, after)
			}
			t.Logf("rejected: %v", err)
		})
	}

	// Honest again: the same device makes its wallet, and signs.
	var created struct {
		Address string `json:"address"`
	}
	a.mustCall(t, createTimeout, create, &created)
	wantChecksummed(t, created.Address)
	a.mustCall(t, sessionTimeout, `return await duet.signMessage('Duet e2e: after the broken sockets');`, nil)
}
