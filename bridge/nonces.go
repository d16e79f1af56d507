package bridge

import (
	"context"
	"sync"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/paillier"
)

// Nonces under the server's Paillier key. An inline presigning run (a
// signature without a pooled presignature) encrypts four times under the
// server's key, each an exponentiation modulo N² that costs tens of
// milliseconds in WebAssembly; FillPool computes them ahead, in the time
// the device is idle anyway, and signInline uses them up first. They live
// in the module's memory only, never in the store: the module keeps them
// across the calls of one worker (a Device is made per call), for a few
// keys, and hands each out once (paillier.NoncePool).

const (
	// DefaultNonces is how many nonces the device keeps per server key:
	// one presigning run's worth.
	DefaultNonces = 4
	maxNonceKeys  = 4
)

var nonces struct {
	mu    sync.Mutex
	pools []*paillier.NoncePool // least recently used first
}

// noncePool returns the module's pool for the server's key of share, nil
// when the share has no aux-info.
func noncePool(share *mpc.KeyShare) *paillier.NoncePool {
	if share == nil || share.Aux == nil || share.Aux.PeerPaillier == nil {
		return nil
	}
	pk := share.Aux.PeerPaillier
	nonces.mu.Lock()
	defer nonces.mu.Unlock()
	for i, p := range nonces.pools {
		if p.PublicKey().Equal(pk) {
			nonces.pools = append(append(nonces.pools[:i:i], nonces.pools[i+1:]...), p)
			return p
		}
	}
	if len(nonces.pools) >= maxNonceKeys {
		nonces.pools[0].Clear()
		nonces.pools = nonces.pools[1:]
	}
	p := paillier.NewNoncePool(pk, DefaultNonces)
	nonces.pools = append(nonces.pools, p)
	return p
}

// FillNonces computes the nonces under the server's key that the next
// inline signature uses, up to DefaultNonces; it returns how many it
// added. A wallet without aux-info has none to fill.
func (d *Device) FillNonces(ctx context.Context) (int, error) {
	active, _, err := d.loadShares(ctx)
	if err != nil {
		return 0, err
	}
	defer active.Wipe()
	p := noncePool(active)
	if p == nil {
		return 0, nil
	}
	return p.Fill(ctx, d.rand())
}
