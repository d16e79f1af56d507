package party

import (
	"context"
	"sync"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/paillier"
)

// Paillier nonces precomputed for a wallet's next inline signature. A
// presigning run encrypts four times under the device's key, each an
// exponentiation modulo N², and nine times under the server's own, each
// two half-size ones through the CRT; the server computes these nonces
// ahead, after each presign session and each inline signature, so that the
// next inline signature of the wallet (a sign session without a pooled
// presignature) spends that time before the device asks rather than while
// it waits. They are kept in memory only, for a bounded number of keys, and
// each is used once (paillier.NoncePool).

// maxNonceKeys bounds the keys with nonces in memory, two a wallet (a
// key's nonces take at most 7 KiB); the least recently filled is dropped
// first.
const maxNonceKeys = 2048

// nonceRuns returns how many presigning runs' worth of nonces the handler
// keeps per wallet: Handler.Nonces, 1 by default, none if negative.
func (h *Handler) nonceRuns() int {
	if h.Nonces != 0 {
		return max(h.Nonces, 0)
	}
	return 1
}

// nonceRegistry holds the pools of the most recently used keys and fills
// them, one at a time, on a goroutine that lives while any is queued.
type nonceRegistry struct {
	mu      sync.Mutex
	pools   map[string]*paillier.NoncePool
	order   []string // keys of pools, least recently filled first
	queue   []nonceFill
	running bool
}

// nonceFill is a pool to fill, with the owner's secret key for the CRT if
// the pool is of the server's own key.
type nonceFill struct {
	pool *paillier.NoncePool
	sk   *paillier.SecretKey
}

// noncePools returns the pools of share's keys, under the device's and
// under the server's own; nil ones when the handler keeps none.
func (h *Handler) noncePools(share *mpc.KeyShare) (peer, own *paillier.NoncePool) {
	runs := h.nonceRuns()
	if runs == 0 || share == nil || share.Aux == nil {
		return nil, nil
	}
	r := &h.nonces
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.poolLocked(share.Aux.PeerPaillier, runs*mpc.PeerNoncesPerRun, false),
		r.poolLocked(share.Aux.Paillier.PublicKey, runs*mpc.OwnNoncesPerRun, false)
}

// poolLocked returns the pool of pk, made with max if there is none;
// touch makes it the most recently filled.
func (r *nonceRegistry) poolLocked(pk *paillier.PublicKey, max int, touch bool) *paillier.NoncePool {
	key := string(pk.N().Bytes())
	if p, ok := r.pools[key]; ok {
		if touch {
			for i, k := range r.order {
				if k == key {
					r.order = append(append(r.order[:i:i], r.order[i+1:]...), key)
					break
				}
			}
		}
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
	p := paillier.NewNoncePool(pk, max)
	r.pools[key] = p
	r.order = append(r.order, key)
	return p
}

// fillNonces queues the pools of share's keys for filling in the
// background.
func (h *Handler) fillNonces(share *mpc.KeyShare) {
	runs := h.nonceRuns()
	if runs == 0 || share == nil || share.Aux == nil {
		return
	}
	r := &h.nonces
	r.mu.Lock()
	jobs := []nonceFill{
		{pool: r.poolLocked(share.Aux.PeerPaillier, runs*mpc.PeerNoncesPerRun, true)},
		{pool: r.poolLocked(share.Aux.Paillier.PublicKey, runs*mpc.OwnNoncesPerRun, true), sk: share.Aux.Paillier},
	}
next:
	for _, j := range jobs {
		for _, q := range r.queue {
			if q.pool == j.pool {
				continue next
			}
		}
		r.queue = append(r.queue, j)
	}
	start := !r.running && len(r.queue) > 0
	if start {
		r.running = true
	}
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
			clear(r.queue)
			r.queue = nil
			r.running = false
			r.mu.Unlock()
			return
		}
		j := r.queue[0]
		r.queue[0] = nonceFill{}
		r.queue = r.queue[1:]
		r.mu.Unlock()
		var err error
		if j.sk != nil {
			_, err = j.sk.FillNonces(ctx, h.rand(), j.pool)
		} else {
			_, err = j.pool.Fill(ctx, h.rand())
		}
		if err != nil && ctx.Err() == nil {
			h.log().Warn("precomputing Paillier nonces failed", "error", err)
		}
	}
}
