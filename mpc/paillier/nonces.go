package paillier

import (
	"context"
	"io"
	"math/big"
	"sync"

	"github.com/cronokirby/saferith"

	"github.com/duetwallet/duet/mpc/arith"
)

// NoncePool holds nonces ρ ∈ Z*_N, each with ρ^N mod N², computed ahead of
// time for one public key. The power is the costly part of an encryption
// (under a peer's key an exponentiation modulo N² without the CRT, under
// one's own two half-size ones through it); with it at hand an encryption
// is one product modulo N². Fill, or SecretKey.FillNonces for one's own
// key, computes nonces in idle time; a key returned by PublicKey.WithNonces
// or SecretKey.WithNonces draws from the pool in Encrypt.
//
// Each nonce is handed out once, to one encryption, and its power is wiped
// once that encryption is made; the nonce itself goes to the caller, which
// wipes it after its proofs as it would an inline one. An empty pool only
// means the encryption computes its own nonce: the distribution of ρ is the
// same (uniform in Z*_N, from the reader given to Fill or to Encrypt), and
// so is the ciphertext's. A pool is safe for concurrent use; it lives in
// memory only.
type NoncePool struct {
	pk  *PublicKey
	max int

	mu     sync.Mutex
	nonces []nonce
}

type nonce struct {
	rho  *saferith.Nat // ρ ∈ Z*_N
	rhoN *saferith.Nat // ρ^N mod N²
}

func (x nonce) wipe() {
	arith.WipeNat(x.rho)
	arith.WipeNat(x.rhoN)
}

// NewNoncePool returns an empty pool for pk that holds at most max nonces.
func NewNoncePool(pk *PublicKey, max int) *NoncePool {
	return &NoncePool{pk: pk, max: max}
}

// PublicKey returns the key the pool's nonces are for.
func (p *NoncePool) PublicKey() *PublicKey { return p.pk }

// Len returns how many nonces the pool holds.
func (p *NoncePool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.nonces)
}

// Cap returns how many nonces the pool holds at most.
func (p *NoncePool) Cap() int { return p.max }

// Fill computes nonces, one at a time and outside the pool's lock, until the
// pool holds its maximum or ctx is done; it returns how many it added. rand
// must be a cryptographic source (crypto/rand's Reader). Each exponentiation
// is constant time in ρ, as in Encrypt. The owner of the key fills its pools
// faster through the CRT with SecretKey.FillNonces.
func (p *NoncePool) Fill(ctx context.Context, rand io.Reader) (int, error) {
	return p.fill(ctx, rand, func(rho *saferith.Nat) *saferith.Nat { return p.pk.nSquare.Exp(rho, p.pk.nNat) })
}

// FillNonces is NoncePool.Fill for a pool of the owner's own key, whose
// powers it computes through the CRT (mod p², q²). The pool keeps no
// reference to the secret key.
func (sk *SecretKey) FillNonces(ctx context.Context, rand io.Reader, pool *NoncePool) (int, error) {
	if !pool.pk.Equal(sk.PublicKey) {
		return 0, ErrNonceKey
	}
	return pool.fill(ctx, rand, func(rho *saferith.Nat) *saferith.Nat { return sk.crtN2.Exp(rho, sk.nNat) })
}

func (p *NoncePool) fill(ctx context.Context, rand io.Reader, power func(*saferith.Nat) *saferith.Nat) (int, error) {
	added := 0
	for {
		if err := ctx.Err(); err != nil {
			return added, err
		}
		if p.Len() >= p.max {
			return added, nil
		}
		rho, err := arith.SampleUnit(rand, p.pk.n)
		if err != nil {
			return added, err
		}
		x := nonce{rho: rho, rhoN: power(rho)}
		p.mu.Lock()
		kept := len(p.nonces) < p.max
		if kept {
			p.nonces = append(p.nonces, x)
		}
		p.mu.Unlock()
		if !kept {
			// Another Fill topped the pool up meanwhile.
			x.wipe()
			return added, nil
		}
		added++
	}
}

// take removes one nonce from the pool and hands it to the caller alone;
// ok is false when the pool is empty.
func (p *NoncePool) take() (x nonce, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.nonces)
	if n == 0 {
		return nonce{}, false
	}
	x = p.nonces[n-1]
	p.nonces[n-1] = nonce{}
	p.nonces = p.nonces[:n-1]
	return x, true
}

// Clear wipes and drops every nonce the pool holds.
func (p *NoncePool) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.nonces {
		x.wipe()
		p.nonces[i] = nonce{}
	}
	p.nonces = p.nonces[:0]
}

// WithNonces returns a key equal to pk whose Encrypt draws its nonces from
// pool while the pool has any. A pool made for another N is not used: the
// result is then pk itself, which computes every nonce inline.
func (pk *PublicKey) WithNonces(pool *NoncePool) *PublicKey {
	if pool == nil || !pool.pk.Equal(pk) {
		return pk
	}
	k := *pk
	k.nonces = pool
	return &k
}

// WithNonces returns a key equal to sk whose Encrypt draws its nonces from
// pool while the pool has any; sk itself when the pool is of another N.
func (sk *SecretKey) WithNonces(pool *NoncePool) *SecretKey {
	pk := sk.PublicKey.WithNonces(pool)
	if pk == sk.PublicKey {
		return sk
	}
	k := *sk
	k.PublicKey = pk
	return &k
}

// encryptPooled returns enc(m; ρ) with a nonce from pk's pool, and ρ; ok is
// false when pk has no pool or the pool is empty.
func (pk *PublicKey) encryptPooled(m *saferith.Int) (c *big.Int, rho *saferith.Nat, ok bool) {
	if pk.nonces == nil {
		return nil, nil, false
	}
	x, ok := pk.nonces.take()
	if !ok {
		return nil, nil, false
	}
	g := pk.onePlusMN(m)
	c = pk.nSquare.Mul(g, x.rhoN).Big()
	arith.WipeNat(g)
	arith.WipeNat(x.rhoN)
	return c, x.rho, true
}
