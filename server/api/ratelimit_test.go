package api_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/duetwallet/duet/server/api"
	"github.com/duetwallet/duet/server/metrics"
)

// TestRateLimit: a key over its rate gets 429 with Retry-After while other
// keys go on; an address over its rate gets 429 on every route; each
// refusal is counted under its limit.
func TestRateLimit(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	// Rates so slow that no token comes back during the test.
	rl := &api.RateLimit{AddrRate: 0.001, AddrBurst: 12, KeyRate: 0.001, KeyBurst: 3, Limited: func(l string) {
		mu.Lock()
		defer mu.Unlock()
		hits[l]++
	}}
	e := newEnv(t, options{rateLimit: rl})
	// newEnv made one client with each org key: one token of each spent,
	// and two of the address's.
	for range 2 {
		e.mustDo("POST", "/v1/clients", e.orgA, "", 201, nil)
	}
	status, body, hdr := e.do("POST", "/v1/clients", e.orgA, "")
	if status != http.StatusTooManyRequests {
		t.Fatalf("fourth request of a key with 3 tokens: status %d: %s", status, body)
	}
	if secs, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || secs < 1 {
		t.Fatalf("Retry-After %q", hdr.Get("Retry-After"))
	}
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Code != api.CodeRateLimited {
		t.Fatalf("429 body %s", body)
	}
	// Another key has its own bucket.
	e.mustDo("POST", "/v1/clients", e.orgB, "", 201, nil)
	// 2 + 3 + 1 tokens of the address's 12 are spent; six more pass.
	for i := range 6 {
		if status, body, _ := e.do("GET", "/healthz", "", ""); status != http.StatusOK {
			t.Fatalf("request %d of the address: %d %s", i, status, body)
		}
	}
	status, _, hdr = e.do("GET", "/healthz", "", "")
	if status != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
		t.Fatalf("address over its rate: %d, Retry-After %q", status, hdr.Get("Retry-After"))
	}
	mu.Lock()
	defer mu.Unlock()
	if hits[metrics.LimitHTTPKey] != 1 || hits[metrics.LimitHTTPAddr] != 1 {
		t.Fatalf("refusals counted: %v", hits)
	}
}
