package bridge

import (
	"context"
	"slices"
	"sync"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/paillier"
)

// Paillier nonces precomputed for the next inline signature. An inline
// presigning run (a signature without a pooled presignature) encrypts four
// times under the server's key, each an exponentiation modulo N², and nine
// times under the device's own, each two half-size ones through the CRT:
// about a second of WebAssembly. FillPool computes these nonces ahead, in
// the time the device is idle anyway, and signInline uses them up first.
// They live in the module's memory only, never in the store: the module
// keeps them across the calls of one worker (a Device is made per call),
// for a few keys, and hands each out once (paillier.NoncePool).

// DefaultNonces is how many nonces FillNonces keeps for a wallet: one
// presigning run's worth under each key.
const DefaultNonces = mpc.PeerNoncesPerRun + mpc.OwnNoncesPerRun

// maxNonceKeys bounds the keys with nonces in the module (two a wallet).
const maxNonceKeys = 4

var nonces struct {
	mu    sync.Mutex
	pools []*paillier.NoncePool // least recently used first
}

// noncePool returns the module's pool for pk, holding at most max nonces.
func noncePool(pk *paillier.PublicKey, max int) *paillier.NoncePool {
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
	p := paillier.NewNoncePool(pk, max)
	nonces.pools = append(nonces.pools, p)
	return p
}

// noncePools returns the pools under the server's key and under the
// device's own of share; nil ones when the share has no aux-info.
func noncePools(share *mpc.KeyShare) (peer, own *paillier.NoncePool) {
	if share == nil || share.Aux == nil || share.Aux.PeerPaillier == nil || share.Aux.Paillier == nil {
		return nil, nil
	}
	return noncePool(share.Aux.PeerPaillier, mpc.PeerNoncesPerRun), noncePool(share.Aux.Paillier.PublicKey, mpc.OwnNoncesPerRun)
}

// dropNonces wipes the module's pools under the Paillier keys of retired's
// aux-info, except a key keep's aux-info still uses: once a share is
// retired (a refresh, a recovery, a removed device) its nonces would never
// be used, and they are secrets.
func dropNonces(retired, keep *mpc.KeyShare) {
	keys := func(s *mpc.KeyShare) []*paillier.PublicKey {
		if s == nil || s.Aux == nil || s.Aux.PeerPaillier == nil || s.Aux.Paillier == nil {
			return nil
		}
		return []*paillier.PublicKey{s.Aux.PeerPaillier, s.Aux.Paillier.PublicKey}
	}
	of := func(ks []*paillier.PublicKey, p *paillier.NoncePool) bool {
		return slices.ContainsFunc(ks, func(k *paillier.PublicKey) bool { return p.PublicKey().Equal(k) })
	}
	drop, kept := keys(retired), keys(keep)
	if len(drop) == 0 {
		return
	}
	nonces.mu.Lock()
	defer nonces.mu.Unlock()
	left := nonces.pools[:0]
	for _, p := range nonces.pools {
		if of(drop, p) && !of(kept, p) {
			p.Clear()
			continue
		}
		left = append(left, p)
	}
	clear(nonces.pools[len(left):])
	nonces.pools = left
}

// FillNonces computes the nonces that the next inline signature uses, up to
// DefaultNonces; it returns how many it added. A wallet without aux-info
// has none to fill.
func (d *Device) FillNonces(ctx context.Context) (int, error) {
	active, _, err := d.loadShares(ctx)
	if err != nil {
		return 0, err
	}
	defer active.Wipe()
	peer, own := noncePools(active)
	if peer == nil {
		return 0, nil
	}
	n, err := peer.Fill(ctx, d.rand())
	if err != nil {
		return n, err
	}
	m, err := active.Aux.Paillier.FillNonces(ctx, d.rand(), own)
	return n + m, err
}
