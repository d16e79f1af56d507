package party

import (
	"context"
	"sync"

	"github.com/duetwallet/duet/mpc/paillier"
)

// Nonces under the device's Paillier key. A presigning run encrypts four
// times under the peer's key, each an exponentiation modulo N² that the
// owner's CRT cannot shorten; the server computes these nonces ahead, after
// each presign session and each inline signature, so that the next inline
// signature of the wallet (a sign session without a pooled presignature)
// spends that time before the device asks rather than while it waits. They
// are kept in memory only, for a bounded number of keys, and each is used
// once (paillier.NoncePool).

const (
	defaultNonces = 4 // one presigning run's worth
	// maxNonceKeys bounds the keys with nonces in memory (a key's nonces
	// take about 3 KiB); the least recently filled is dropped first.
	maxNonceKeys = 1024
)

func (h *Handler) nonceCount() int {
	if h.Nonces != 0 {
		return max(h.Nonces, 0)
	}
	return defaultNonces
}

// nonceRegistry holds the pools of the most recently used device keys and
// fills them, one at a time, on a goroutine that lives while any is queued.
type nonceRegistry struct {
	mu      sync.Mutex
	pools   map[string]*paillier.NoncePool
	order   []string // keys of pools, least recently filled first
	queue   []*paillier.NoncePool
	running bool
}

// noncePool returns the pool for the device's key pk, nil when the handler
// keeps none.
func (h *Handler) noncePool(pk *paillier.PublicKey) *paillier.NoncePool {
	n := h.nonceCount()
	if n == 0 || pk == nil {
		return nil
	}
	r := &h.nonces
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.poolLocked(pk, n)
}

func (r *nonceRegistry) poolLocked(pk *paillier.PublicKey, n int) *paillier.NoncePool {
	key := string(pk.N().Bytes())
	if p, ok := r.pools[key]; ok {
		return p
	}
	if r.pools == nil {
		r.pools = make(map[string]*paillier.NoncePool)
	}
	if len(r.order) >= maxNonceKeys {
		old := r.order[0]
		r.order = r.order[1:]
		r.pools[old].Clear()
		delete(r.pools, old)
	}
	p := paillier.NewNoncePool(pk, n)
	r.pools[key] = p
	r.order = append(r.order, key)
	return p
}

// fillNonces queues the pool of pk for filling in the background.
func (h *Handler) fillNonces(pk *paillier.PublicKey) {
	n := h.nonceCount()
	if n == 0 || pk == nil {
		return
	}
	r := &h.nonces
	r.mu.Lock()
	p := r.poolLocked(pk, n)
	// Most recently filled last, so that idle wallets' nonces go first.
	key := string(pk.N().Bytes())
	for i, k := range r.order {
		if k == key {
			r.order = append(append(r.order[:i:i], r.order[i+1:]...), key)
			break
		}
	}
	for _, q := range r.queue {
		if q == p {
			r.mu.Unlock()
			return
		}
	}
	r.queue = append(r.queue, p)
	start := !r.running
	r.running = true
	r.mu.Unlock()
	if start {
		go h.runNonceFills()
	}
}

func (h *Handler) runNonceFills() {
	ctx := h.BaseContext
	if ctx == nil {
		ctx = context.Background()
	}
	r := &h.nonces
	for {
		r.mu.Lock()
		if len(r.queue) == 0 || ctx.Err() != nil {
			r.queue = nil
			r.running = false
			r.mu.Unlock()
			return
		}
		p := r.queue[0]
		r.queue = r.queue[1:]
		r.mu.Unlock()
		if _, err := p.Fill(ctx, h.rand()); err != nil && ctx.Err() == nil {
			h.log().Warn("precomputing Paillier nonces failed", "error", err)
		}
	}
}
