package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/duetwallet/duet/server/internal/sqldb"
	"github.com/duetwallet/duet/server/seal"
	"github.com/duetwallet/duet/server/store"
	"github.com/duetwallet/duet/server/webhook"
)

func openStore(t *testing.T, source string) *store.SQLStore {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, _ := seal.New(bytes.Repeat([]byte{7}, seal.KeySize))
	s, err := store.Open(ctx, store.Config{DB: db, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// receiver is a local webhook endpoint that answers with the statuses it
// is given in turn (the last one from then on) and keeps what it got.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	got      []delivery
}

type delivery struct {
	header http.Header
	body   []byte
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.got = append(rc.got, delivery{r.Header.Clone(), body})
	status := rc.statuses[0]
	if len(rc.statuses) > 1 {
		rc.statuses = rc.statuses[1:]
	}
	w.WriteHeader(status)
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestDeliveredSignedAndRetried: an event enqueued before a restart is
// delivered after it to a receiver on 127.0.0.1, signed, retried after a
// 500 with the same delivery id, and not delivered twice.
func TestDeliveredSignedAndRetried(t *testing.T) {
	ctx := context.Background()
	source := filepath.Join(t.TempDir(), "duet.db")
	before := openStore(t, source)
	rc := &receiver{statuses: []int{500, 200}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	secret := []byte("0123456789abcdef0123456789abcdef")
	if err := before.SetWebhook(ctx, store.Webhook{OrganizationID: "org1", URL: srv.URL + "/hook?token=x", Secret: secret}); err != nil {
		t.Fatal(err)
	}
	webhook.Enqueue(ctx, before, nil, webhook.Event{Event: webhook.EventWalletCreated, OrganizationID: "org1", ClientID: "c1", WalletID: "w1", Generation: 1})
	// An organization without a webhook gets nothing queued.
	webhook.Enqueue(ctx, before, nil, webhook.Event{Event: webhook.EventWalletCreated, OrganizationID: "org2", ClientID: "c2"})

	after := openStore(t, source) // a restart: a new store on the database
	clk := &clock{t: time.Now().Add(time.Minute)}
	d := &webhook.Dispatcher{Store: after, Backoff: time.Minute, MaxBackoff: time.Hour, Now: clk.now}
	d.RunOnce(ctx)
	if n := len(rc.deliveries()); n != 1 {
		t.Fatalf("first round: %d requests, want 1", n)
	}
	d.RunOnce(ctx) // not due yet
	if n := len(rc.deliveries()); n != 1 {
		t.Fatalf("before the backoff: %d requests, want 1", n)
	}
	clk.add(time.Minute)
	d.RunOnce(ctx)
	d.RunOnce(ctx)
	clk.add(time.Hour)
	d.RunOnce(ctx)
	got := rc.deliveries()
	if len(got) != 2 {
		t.Fatalf("%d requests, want 2 (a 500, then the retry that succeeded)", len(got))
	}
	for _, g := range got {
		if !webhook.Verify(secret, g.body, g.header.Get("Duet-Signature")) {
			t.Fatalf("signature %q does not verify", g.header.Get("Duet-Signature"))
		}
		if webhook.Verify([]byte("another secret, another secret!"), g.body, g.header.Get("Duet-Signature")) {
			t.Fatal("signature verifies under another secret")
		}
		if webhook.Verify(secret, append(bytes.Clone(g.body), ' '), g.header.Get("Duet-Signature")) {
			t.Fatal("signature verifies for another body")
		}
		if g.header.Get("Duet-Event") != webhook.EventWalletCreated || g.header.Get("Duet-Delivery") != got[0].header.Get("Duet-Delivery") {
			t.Fatalf("headers %v", g.header)
		}
	}
	var e webhook.Event
	if err := json.Unmarshal(got[1].body, &e); err != nil || e.Event != webhook.EventWalletCreated || e.ClientID != "c1" || e.WalletID != "w1" || e.Generation != 1 {
		t.Fatalf("body %s: %v", got[1].body, err)
	}
}

// TestRetriesBackOffAndEnd: each retry waits twice as long as the one
// before, and after MaxAttempts failures the event is given up.
func TestRetriesBackOffAndEnd(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "duet.db"))
	rc := &receiver{statuses: []int{503}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	if err := st.SetWebhook(ctx, store.Webhook{OrganizationID: "org1", URL: srv.URL, Secret: bytes.Repeat([]byte{1}, 32)}); err != nil {
		t.Fatal(err)
	}
	webhook.Enqueue(ctx, st, nil, webhook.Event{Event: webhook.EventClientLockedOut, OrganizationID: "org1", ClientID: "c1"})
	clk := &clock{t: time.Now().Add(time.Minute)}
	d := &webhook.Dispatcher{Store: st, Backoff: time.Minute, MaxBackoff: time.Hour, MaxAttempts: 4, Now: clk.now}
	// Attempts at 0, +1m, +2m after that, +4m after that; then none.
	for i, step := range []struct {
		advance time.Duration
		want    int
	}{{0, 1}, {time.Minute, 2}, {time.Minute, 2}, {time.Minute, 3}, {3 * time.Minute, 3}, {time.Minute, 4}, {24 * time.Hour, 4}, {24 * time.Hour, 4}} {
		clk.add(step.advance)
		d.RunOnce(ctx)
		if n := len(rc.deliveries()); n != step.want {
			t.Fatalf("step %d: %d attempts, want %d", i, n, step.want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for u, ok := range map[string]bool{
		"https://hooks.example.com/duet": true,
		"http://127.0.0.1:8080/hook":     true,
		"http://[::1]:9/hook":            true,
		"http://localhost:9/hook":        true,
		"http://hooks.example.com/duet":  false,
		"http://10.0.0.1/hook":           false,
		"ftp://hooks.example.com/":       false,
		"https://user:pw@example.com/":   false,
		"/relative":                      false,
		"":                               false,
	} {
		if err := webhook.CheckURL(u, true); (err == nil) != ok {
			t.Errorf("CheckURL(%q, true) = %v, want ok=%v", u, err, ok)
		}
		if err := webhook.CheckURL(u, false); (err == nil) != (ok && u[:5] == "https") {
			t.Errorf("CheckURL(%q, false) = %v", u, err)
		}
	}
}
