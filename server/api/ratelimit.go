package api

import (
	"crypto/sha256"
	"fmt"
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/duetwallet/duet/server/metrics"
)

// CodeRateLimited is the code of a 429 answer.
const CodeRateLimited = "rate_limited"

// RateLimit bounds the requests of every route in token buckets, one per IP
// address and one per API key a request presents (the Authorization bearer
// or the WebSocket key subprotocol), each refilling at its rate up to its
// burst. A request either bucket has no token for gets 429 with
// Retry-After, the seconds until the token it needs.
//
// The buckets live in the process: with N replicas behind a load balancer a
// caller gets up to N times the rate. What must hold across replicas (the
// share changes of a wallet, the aborts and concurrent sessions of a
// client) is limited in the database by the session handler.
type RateLimit struct {
	AddrRate  float64 // requests per second of one IP address; 0 → 20
	AddrBurst int     // 0 → 40
	KeyRate   float64 // requests per second with one API key; 0 → 10
	KeyBurst  int     // 0 → 20
	// Limited, if set, is told of each refusal (metrics.LimitHTTPAddr or
	// metrics.LimitHTTPKey).
	Limited func(limit string)
	// Exempt, if set, names requests no bucket counts, such as the server's
	// own calls to its built-in custodian stub.
	Exempt func(r *http.Request) bool
	// ClientIP is the address a request counts under: the peer's IP
	// address if nil. Behind reverse proxies it is the client's address
	// they report (clientip.Proxies.Of).
	ClientIP func(r *http.Request) string

	mu      sync.Mutex
	buckets map[bucketKey]*bucket
	swept   time.Time
}

type bucketKey struct {
	kind string
	id   string
}

type bucket struct {
	tokens float64
	at     time.Time
}

func (l *RateLimit) defaults() (addrRate float64, addrBurst int, keyRate float64, keyBurst int) {
	addrRate, addrBurst, keyRate, keyBurst = l.AddrRate, l.AddrBurst, l.KeyRate, l.KeyBurst
	if addrRate <= 0 {
		addrRate = 20
	}
	if addrBurst <= 0 {
		addrBurst = 40
	}
	if keyRate <= 0 {
		keyRate = 10
	}
	if keyBurst <= 0 {
		keyBurst = 20
	}
	return
}

// take spends a token of the bucket, or returns how long until one is due.
func (l *RateLimit) take(k bucketKey, rate float64, burst int, now time.Time) time.Duration {
	b := l.buckets[k]
	if b == nil {
		b = &bucket{tokens: float64(burst), at: now}
		l.buckets[k] = b
	}
	b.tokens = math.Min(float64(burst), b.tokens+now.Sub(b.at).Seconds()*rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

// sweep forgets the buckets that have refilled: they are as good as new.
func (l *RateLimit) sweep(now time.Time, rate float64, burst int) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	full := time.Duration(float64(burst) / rate * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.at) > full {
			delete(l.buckets, k)
		}
	}
}

// allow takes a token of the request's address and, if it presents one, of
// its key; it returns the limit hit and the wait, or "" when allowed.
func (l *RateLimit) allow(r *http.Request, now time.Time) (string, time.Duration) {
	addrRate, addrBurst, keyRate, keyBurst := l.defaults()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[bucketKey]*bucket{}
	}
	l.sweep(now, math.Min(addrRate, keyRate), max(addrBurst, keyBurst))
	addr, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		addr = r.RemoteAddr
	}
	if l.ClientIP != nil {
		addr = l.ClientIP(r)
	}
	if wait := l.take(bucketKey{"addr", addr}, addrRate, addrBurst, now); wait > 0 {
		return metrics.LimitHTTPAddr, wait
	}
	if key := bearer(r); key != "" {
		// Keyed by the key's digest: a caller that makes up keys does not
		// spend the bucket of a key it does not hold.
		h := sha256.Sum256([]byte(key))
		if wait := l.take(bucketKey{"key", string(h[:])}, keyRate, keyBurst, now); wait > 0 {
			return metrics.LimitHTTPKey, wait
		}
	}
	return "", 0
}

// limit answers 429 and returns false if the request is over a rate.
func (l *RateLimit) limit(w http.ResponseWriter, r *http.Request, now time.Time) bool {
	if l.Exempt != nil && l.Exempt(r) {
		return true
	}
	limit, wait := l.allow(r, now)
	if limit == "" {
		return true
	}
	if l.Limited != nil {
		l.Limited(limit)
	}
	secs := int64(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", fmt.Sprint(secs))
	writeError(w, errorf(http.StatusTooManyRequests, CodeRateLimited, "too many requests; try again in %d s", secs))
	return false
}
