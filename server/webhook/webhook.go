// Package webhook delivers an organization's alert events (wallet created,
// backed up, recovered, eject authorised, ejected, a device added or
// removed, a client locked out after repeated protocol aborts) to the URL it registered, from the
// durable outbox in the store: an event enqueued before a restart is
// delivered after it.
//
// Each delivery is a POST of the event's JSON with
//
//	Duet-Event: <event>
//	Duet-Delivery: <delivery id, the same on every retry>
//	Duet-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// A 2xx answer delivers it; anything else, or no answer, is retried with
// exponential backoff (doubling from Backoff up to MaxBackoff) until
// MaxAttempts attempts have failed.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/duetwallet/duet/server/store"
)

// Events.
const (
	EventWalletCreated   = "wallet.created"
	EventWalletBackedUp  = "wallet.backed_up"
	EventWalletRecovered = "wallet.recovered"
	EventEjectAuthorized = "wallet.eject_authorized"
	EventWalletEjected   = "wallet.ejected"
	EventClientLockedOut = "client.locked_out"
	EventDeviceAdded     = "device.added"
	EventDeviceRemoved   = "device.removed"
)

// An Event is the JSON body of a delivery. It never holds a secret.
type Event struct {
	Event          string `json:"event"`
	OrganizationID string `json:"organizationId"`
	ClientID       string `json:"clientId"`
	WalletID       string `json:"walletId,omitempty"`
	Generation     uint64 `json:"generation,omitempty"`
	// Device is the id (hex) of the device added or removed.
	Device string    `json:"device,omitempty"`
	At     time.Time `json:"at"`
	// Until is when a locked-out client may try again.
	Until *time.Time `json:"until,omitempty"`
}

// Enqueue puts e in the outbox of its organization, if it has a webhook.
// A failure is logged: the action the event reports has happened anyway.
func Enqueue(ctx context.Context, st store.Webhooks, log *slog.Logger, e Event) {
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	body, err := json.Marshal(e)
	if err == nil {
		err = st.EnqueueEvent(ctx, e.OrganizationID, e.Event, body)
	}
	if err != nil && log != nil {
		log.Error("enqueuing a webhook event failed", "org", e.OrganizationID, "event", e.Event, "error", err)
	}
}

// ErrURL means a webhook URL is not https (or, where allowed, http on a
// loopback address).
var ErrURL = errors.New("webhook: the URL must be https (http only on a loopback address, and only where the server allows it)")

// CheckURL accepts an absolute https URL and, with loopbackHTTP, an http one
// whose host is a loopback address or localhost (a receiver on the same
// machine, for development and tests).
func CheckURL(raw string, loopbackHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || len(raw) > 2048 {
		return ErrURL
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if !loopbackHTTP {
			return ErrURL
		}
		host := u.Hostname()
		if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
			return nil
		}
	}
	return ErrURL
}

// Sign returns the Duet-Signature header of body at t.
func Sign(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a Duet-Signature header against body, in constant time,
// for a receiver.
func Verify(secret, body []byte, header string) bool {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	got, err := hex.DecodeString(sig)
	if ts == "" || err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// A Dispatcher delivers the outbox.
type Dispatcher struct {
	Store store.Store
	// HTTP sends the deliveries; a client with a 10-second timeout if nil.
	HTTP *http.Client
	Log  *slog.Logger
	// Poll is how often the outbox is read; 0 → 1s.
	Poll time.Duration
	// Backoff is the wait before the first retry, doubled each retry up to
	// MaxBackoff; 0 → 2s and 10m.
	Backoff, MaxBackoff time.Duration
	// MaxAttempts bounds the attempts per event; 0 → 10.
	MaxAttempts int
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Run delivers until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	poll := d.Poll
	if poll <= 0 {
		poll = time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		d.RunOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce makes one attempt at every event due now.
func (d *Dispatcher) RunOnce(ctx context.Context) {
	log := d.Log
	if log == nil {
		log = slog.Default()
	}
	client := d.HTTP
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	// The lease outlasts one attempt, so that no other replica tries the
	// same event meanwhile.
	due, err := d.Store.ClaimDeliveries(ctx, d.now(), time.Minute, 32)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("reading the webhook outbox failed", "error", err)
		}
		return
	}
	for _, dl := range due {
		err := d.deliver(ctx, client, dl)
		retry := time.Time{}
		if err != nil {
			retry = d.retryAt(dl.Attempts + 1)
			log.Warn("webhook delivery failed", "org", dl.OrganizationID, "event", dl.Event, "delivery", dl.ID, "attempt", dl.Attempts+1, "error", err, "retry_at", retry)
		}
		if err := d.Store.DeliveryDone(context.WithoutCancel(ctx), dl.ID, err == nil, retry); err != nil {
			log.Error("recording a webhook delivery failed", "delivery", dl.ID, "error", err)
		}
	}
}

// retryAt is when to retry after attempts failed attempts, or the zero
// time once MaxAttempts have failed.
func (d *Dispatcher) retryAt(attempts int) time.Time {
	maxAttempts, backoff, maxBackoff := d.MaxAttempts, d.Backoff, d.MaxBackoff
	if maxAttempts <= 0 {
		maxAttempts = 10
	}
	if backoff <= 0 {
		backoff = 2 * time.Second
	}
	if maxBackoff <= 0 {
		maxBackoff = 10 * time.Minute
	}
	if attempts >= maxAttempts {
		return time.Time{}
	}
	wait := backoff
	for i := 1; i < attempts && wait < maxBackoff; i++ {
		wait *= 2
	}
	return d.now().Add(min(wait, maxBackoff))
}

func (d *Dispatcher) deliver(ctx context.Context, client *http.Client, dl store.Delivery) error {
	w, err := d.Store.Webhook(ctx, dl.OrganizationID)
	if err != nil {
		return err
	}
	defer clear(w.Secret)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(dl.Payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Duet-Event", dl.Event)
	req.Header.Set("Duet-Delivery", dl.ID)
	req.Header.Set("Duet-Signature", Sign(w.Secret, dl.Payload, d.now()))
	resp, err := client.Do(req)
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("webhook: %s: %w", redact(w.URL), ue.Err)
	}
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook: %s answered %s", redact(w.URL), resp.Status)
	}
	return nil
}

// redact keeps a URL's scheme and host for the log: its path and query may
// hold a token of the receiver's.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host
}
