package party_test

import (
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/server/metrics"
	"github.com/duetwallet/duet/server/party"
	"github.com/duetwallet/duet/wire"
)

func replicaURL(r *replica) string {
	return "ws" + strings.TrimPrefix(r.srv.URL, "http") + "/v1/session"
}

// keygenHello is a creation Hello of the cluster's client.
func (c *replicas) keygenHello() *wire.Hello {
	nonce := make([]byte, 32)
	rand.Read(nonce)
	device := make([]byte, wire.DeviceIDSize)
	rand.Read(device)
	return &wire.Hello{APIKey: c.client, Op: wire.OpKeygen, Nonce: nonce, Device: device}
}

// openSession dials r, sends hello and returns the socket and the server's
// first frame.
func openSession(t *testing.T, r *replica, hello *wire.Hello) (*websocket.Conn, *wire.Frame) {
	t.Helper()
	ws, _, err := websocket.Dial(ctx(t), replicaURL(r), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	ws.SetReadLimit(-1)
	if err := ws.Write(ctx(t), websocket.MessageBinary, hello.Frame().Marshal()); err != nil {
		t.Fatal(err)
	}
	_, b, err := ws.Read(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	f, err := wire.ParseFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	return ws, f
}

// scrape returns the metrics text of reg.
func scrape(t *testing.T, reg *metrics.Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// TestHelloDeadline: a socket that never says Hello is closed after the
// deadline, and counted.
func TestHelloDeadline(t *testing.T) {
	c := newReplicas(t, filepath.Join(t.TempDir(), "duet.db"), 1)
	r := c.r[0]
	reg := metrics.New()
	r.handler.Metrics = reg.Sessions
	r.handler.Sockets = party.SocketLimits{HelloTimeout: 200 * time.Millisecond}
	ws, _, err := websocket.Dial(ctx(t), replicaURL(r), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if _, _, err := ws.Read(ctx(t)); err == nil {
		t.Fatal("the server sent a frame to a socket that said nothing")
	}
	<-r.done
	if open, noHello := r.handler.OpenSockets(); open != 0 || noHello != 0 {
		t.Fatalf("after the deadline: %d open, %d without Hello", open, noHello)
	}
	if m := scrape(t, reg); !strings.Contains(m, `duet_rate_limited_total{limit="hello_timeout"} 1`) {
		t.Fatalf("hello timeout not counted:\n%s", m)
	}
}

// TestSocketCapsPerAddress: the per-address caps on sockets without Hello
// and on open sockets refuse upgrades with 429 and Retry-After.
func TestSocketCapsPerAddress(t *testing.T) {
	c := newReplicas(t, filepath.Join(t.TempDir(), "duet.db"), 1)
	r := c.r[0]
	reg := metrics.New()
	r.handler.Metrics = reg.Sessions
	r.handler.Sockets = party.SocketLimits{NoHelloPerAddr: 2, OpenPerAddr: 3, HelloTimeout: time.Minute, RetryAfter: 7 * time.Second}
	dial := func() (*websocket.Conn, *http.Response, error) {
		ws, resp, err := websocket.Dial(ctx(t), replicaURL(r), nil)
		if ws != nil {
			t.Cleanup(func() { ws.CloseNow() })
		}
		return ws, resp, err
	}
	refused := func(what string) {
		t.Helper()
		_, resp, err := dial()
		if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "7" {
			t.Fatalf("%s: %v %+v, want 429 with Retry-After 7", what, err, resp)
		}
	}
	silent, _, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := dial(); err != nil {
		t.Fatal(err)
	}
	refused("a third socket without Hello")
	// A Hello frees a place among the sockets without Hello; the server's
	// Welcome shows it has counted the Hello.
	if err := silent.Write(ctx(t), websocket.MessageBinary, c.keygenHello().Frame().Marshal()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := silent.Read(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := dial(); err != nil {
		t.Fatalf("after a Hello: %v", err)
	}
	refused("a fourth open socket")
	// A device is told to come back later, not that the server is down.
	_, err = c.device(r.srv.URL, nil).Keygen(ctx(t))
	if code := bridge.Code(err); code != wire.CodeRateLimited || !strings.Contains(err.Error(), "try again in 7s") {
		t.Fatalf("a device over the cap: %v (%s), want RATE_LIMITED with the server's Retry-After", err, code)
	}
	if open, noHello := r.handler.OpenSockets(); open != 3 || noHello != 2 {
		t.Fatalf("%d open, %d without Hello; want 3 and 2", open, noHello)
	}
	if m := scrape(t, reg); !strings.Contains(m, `duet_rate_limited_total{limit="no_hello_addr"} 1`) ||
		!strings.Contains(m, `duet_rate_limited_total{limit="sockets_addr"} 2`) {
		t.Fatalf("refusals not counted:\n%s", m)
	}
}

// TestClientSessionsAcrossReplicas: the per-client session cap holds across
// two replicas on one database, and a session's end frees its slot.
func TestClientSessionsAcrossReplicas(t *testing.T) {
	eachDatabase(t, func(t *testing.T, c *replicas) {
		for _, r := range c.r {
			r.handler.MaxSessionsPerClient = 1
		}
		a, f := openSession(t, c.r[0], c.keygenHello())
		if f.Type != wire.TypeWelcome {
			t.Fatalf("first session: got %v, want Welcome", f.Type)
		}
		_, f = openSession(t, c.r[1], c.keygenHello())
		e, err := wire.ParseError(f)
		if err != nil || e.Code != wire.CodeBusy {
			t.Fatalf("second session on the other replica: %v %v, want BUSY", e, err)
		}
		<-c.r[1].done
		a.CloseNow()
		<-c.r[0].done
		b, f := openSession(t, c.r[1], c.keygenHello())
		if f.Type != wire.TypeWelcome {
			t.Fatalf("after the first session ended: got %v, want Welcome", f.Type)
		}
		b.CloseNow()
		<-c.r[1].done
	})
}
