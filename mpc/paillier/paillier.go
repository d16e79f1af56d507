// Package paillier is the Paillier cryptosystem of the protocol's MtA
// (multiplicative-to-additive) steps: N = p·q from two safe primes with
// p ≡ q ≡ 3 mod 4, encryption enc(m; ρ) = (1 + N)^m · ρ^N mod N², and
// decryption to the centred plaintext in (−N/2, N/2].
//
// Operations that touch a secret (the plaintext, the nonce, or the primes)
// are constant time; the owner of the key computes through the CRT. A peer's
// key is only as good as the proofs that came with it (Πmod, Πfac): this
// package checks sizes and forms, not primality.
package paillier

import (
	"errors"
	"io"
	"math/big"

	"github.com/cronokirby/saferith"

	"github.com/duetwallet/duet/mpc/arith"
)

const (
	// PrimeBits is the size of each of the two safe primes.
	PrimeBits = 1024
	// MinModulusBits and MaxModulusBits bound a peer's N: the range proofs
	// rely on N ≥ 2^2047 so that no MtA plaintext wraps around.
	MinModulusBits = 2047
	MaxModulusBits = 2048
)

var (
	ErrModulusSize   = errors.New("paillier: modulus size out of range")
	ErrModulusEven   = errors.New("paillier: modulus is even")
	ErrCiphertext    = errors.New("paillier: ciphertext is not in Z*_{N²}")
	ErrPrimes        = errors.New("paillier: primes must be distinct, of 1024 bits and ≡ 3 mod 4")
	ErrNonce         = errors.New("paillier: nonce is not in Z*_N")
	ErrPlaintextSize = errors.New("paillier: plaintext too large for the modulus")
	ErrNonceKey      = errors.New("paillier: nonce pool is of another key")
)

var one = big.NewInt(1)

// PublicKey is a Paillier public key N.
type PublicKey struct {
	n       *arith.Modulus
	nSquare *arith.Modulus
	nNat    *saferith.Nat
	// nonces, when set (WithNonces), supplies Encrypt's nonces.
	nonces *NoncePool
}

// NewPublicKey checks the size, sign and parity of a peer's N and prepares it.
func NewPublicKey(n *big.Int) (*PublicKey, error) {
	if b := n.BitLen(); n.Sign() <= 0 || b < MinModulusBits || b > MaxModulusBits {
		return nil, ErrModulusSize
	}
	if n.Bit(0) == 0 {
		return nil, ErrModulusEven
	}
	return newPublicKey(n), nil
}

func newPublicKey(n *big.Int) *PublicKey {
	return &PublicKey{
		n:       arith.MustModulus(n),
		nSquare: arith.MustModulus(new(big.Int).Mul(n, n)),
		nNat:    arith.NatFromBig(n),
	}
}

// N returns the modulus. The caller must not modify it.
func (pk *PublicKey) N() *big.Int { return pk.n.Big() }

// Modulus returns N as an arith modulus.
func (pk *PublicKey) Modulus() *arith.Modulus { return pk.n }

// ModulusSquared returns N² as an arith modulus.
func (pk *PublicKey) ModulusSquared() *arith.Modulus { return pk.nSquare }

// Equal reports whether two keys have the same N.
func (pk *PublicKey) Equal(other *PublicKey) bool { return pk.N().Cmp(other.N()) == 0 }

// ValidateCiphertext checks that c ∈ Z*_{N²}: 1 ≤ c < N² and gcd(c, N) = 1.
// Every ciphertext from a peer, and every proof element in Z_{N²}, goes
// through it; a non-unit would break the homomorphism the proofs rely on.
func (pk *PublicKey) ValidateCiphertext(c *big.Int) error {
	if c == nil || c.Sign() <= 0 || c.Cmp(pk.nSquare.Big()) >= 0 {
		return ErrCiphertext
	}
	if new(big.Int).GCD(nil, nil, c, pk.N()).Cmp(one) != 0 {
		return ErrCiphertext
	}
	return nil
}

// ValidateNonce checks that a public nonce response lies in Z*_N.
func (pk *PublicKey) ValidateNonce(r *big.Int) error {
	if r == nil || !pk.n.IsUnitVarTime(r) {
		return ErrNonce
	}
	return nil
}

// onePlusMN returns 1 + ⟨m⟩_N·N as a saferith number of N²'s size, which is
// (1 + N)^m mod N².
func (pk *PublicKey) onePlusMN(m *saferith.Int) *saferith.Nat {
	mr := pk.n.ReduceInt(m)
	defer arith.WipeNat(mr)
	bits := pk.nSquare.BitLen()
	// saferith's Mul resizes its operands in place, so it gets a copy of N:
	// the key is shared between concurrent encryptions.
	g := new(saferith.Nat).Mul(mr, new(saferith.Nat).SetNat(pk.nNat), bits)
	return g.Add(g, new(saferith.Nat).SetUint64(1), bits)
}

// EncryptWithNonce returns enc(m; ρ), in constant time in m and ρ.
func (pk *PublicKey) EncryptWithNonce(m *saferith.Int, rho *saferith.Nat) *big.Int {
	rn := pk.nSquare.Exp(rho, pk.nNat)
	return pk.nSquare.Mul(pk.onePlusMN(m), rn).Big()
}

// Encrypt returns enc(m; ρ) for a fresh nonce ρ, and ρ. A key made by
// WithNonces takes ρ and ρ^N from its pool while the pool has any.
func (pk *PublicKey) Encrypt(rand io.Reader, m *saferith.Int) (*big.Int, *saferith.Nat, error) {
	if c, rho, ok := pk.encryptPooled(m); ok {
		return c, rho, nil
	}
	rho, err := arith.SampleUnit(rand, pk.n)
	if err != nil {
		return nil, nil, err
	}
	return pk.EncryptWithNonce(m, rho), rho, nil
}

// EncVarTime returns enc(m; ρ) for public m and ρ (a verifier's side of a
// proof equation).
func (pk *PublicKey) EncVarTime(m, rho *big.Int) *big.Int {
	n, n2 := pk.N(), pk.nSquare.Big()
	g := new(big.Int).Mod(m, n)
	g.Mul(g, n).Add(g, one)
	r := new(big.Int).Exp(rho, n, n2)
	return g.Mul(g, r).Mod(g, n2)
}

// Add returns c₁ ⊕ c₂, an encryption of the sum of the plaintexts.
func (pk *PublicKey) Add(c1, c2 *big.Int) *big.Int { return pk.nSquare.MulVarTime(c1, c2) }

// MulConst returns k ⊙ c = c^k mod N², an encryption of k times the
// plaintext, in constant time in the secret k. c must be a valid ciphertext.
func (pk *PublicKey) MulConst(c *big.Int, k *saferith.Int) *big.Int {
	return pk.nSquare.ExpInt(arith.NatFromBig(c), k).Big()
}

// MulConstVarTime returns c^k mod N² for a public k, nil if c is not a unit.
func (pk *PublicKey) MulConstVarTime(c, k *big.Int) *big.Int { return pk.nSquare.ExpVarTime(c, k) }

// SecretKey is a Paillier key pair with the CRT data of its owner.
type SecretKey struct {
	*PublicKey
	p, q   *big.Int
	phi    *saferith.Nat
	crtN   *arith.CRT // mod p, q; exponents reduce mod p−1, q−1
	crtN2  *arith.CRT // mod p², q²; exponents reduce mod p(p−1), q(q−1)
	hp, hq *saferith.Nat
	pNat   *saferith.Nat
	qNat   *saferith.Nat
}

// NewSecretKey builds the key N = p·q from two distinct 1024-bit primes
// ≡ 3 mod 4. The caller vouches that p and q are safe primes (they come from
// the safe-prime generator); the proofs made with the key will fail otherwise.
func NewSecretKey(p, q *big.Int) (*SecretKey, error) {
	if p.Cmp(q) == 0 || p.BitLen() != PrimeBits || q.BitLen() != PrimeBits ||
		p.Bit(0) != 1 || p.Bit(1) != 1 || q.Bit(0) != 1 || q.Bit(1) != 1 {
		return nil, ErrPrimes
	}
	n := new(big.Int).Mul(p, q)
	// Redundant: the prime check above (ErrPrimes) makes p, q ≥ 2^1023, so
	// N ≥ 2^2046 has at least MinModulusBits bits; kept in case PrimeBits
	// and MinModulusBits ever move apart.
	if n.BitLen() < MinModulusBits {
		return nil, ErrModulusSize
	}
	pm1 := new(big.Int).Sub(p, one)
	qm1 := new(big.Int).Sub(q, one)
	crtN, err := arith.NewCRT(p, q, pm1, qm1)
	if err != nil {
		return nil, err
	}
	p2 := new(big.Int).Mul(p, p)
	q2 := new(big.Int).Mul(q, q)
	crtN2, err := arith.NewCRT(p2, q2, new(big.Int).Mul(p, pm1), new(big.Int).Mul(q, qm1))
	if err != nil {
		return nil, err
	}
	phi := new(big.Int).Mul(pm1, qm1)
	sk := &SecretKey{
		PublicKey: newPublicKey(n),
		p:         new(big.Int).Set(p),
		q:         new(big.Int).Set(q),
		phi:       arith.NatFromBig(phi).Resize(2048),
		crtN:      crtN,
		crtN2:     crtN2,
		pNat:      arith.NatFromBig(p),
		qNat:      arith.NatFromBig(q),
	}
	// With g = 1 + N, L_p(g^{p−1} mod p²) = (p−1)·q mod p = −q mod p, so the
	// decryption factor h_p is (−q)⁻¹ mod p; likewise h_q = (−p)⁻¹ mod q.
	pm, qm := crtN.Factors()
	sk.hp = pm.Inverse(new(saferith.Nat).ModNeg(pm.Reduce(sk.qNat), pm.Saferith()))
	sk.hq = qm.Inverse(new(saferith.Nat).ModNeg(qm.Reduce(sk.pNat), qm.Saferith()))
	return sk, nil
}

// P and Q return the primes as saferith numbers (for the proofs about N).
func (sk *SecretKey) P() *saferith.Nat { return sk.pNat }
func (sk *SecretKey) Q() *saferith.Nat { return sk.qNat }

// PrimesVarTime returns the primes as big.Int values, for encoding the key
// into a sealed share and for the Legendre symbols of Πmod. Not constant time.
func (sk *SecretKey) PrimesVarTime() (p, q *big.Int) { return sk.p, sk.q }

// Phi returns φ(N) = (p−1)(q−1).
func (sk *SecretKey) Phi() *saferith.Nat { return sk.phi }

// CRT returns the CRT context modulo p and q (exponents reduce mod p−1, q−1).
func (sk *SecretKey) CRT() *arith.CRT { return sk.crtN }

// EncryptWithNonce returns enc(m; ρ) through the CRT: two half-size
// exponentiations instead of one modulo N².
func (sk *SecretKey) EncryptWithNonce(m *saferith.Int, rho *saferith.Nat) *big.Int {
	rn := sk.crtN2.Exp(rho, sk.nNat)
	return sk.nSquare.Mul(sk.onePlusMN(m), rn).Big()
}

// Encrypt returns enc(m; ρ) for a fresh nonce ρ, and ρ. A key made by
// WithNonces takes ρ and ρ^N from its pool while the pool has any.
func (sk *SecretKey) Encrypt(rand io.Reader, m *saferith.Int) (*big.Int, *saferith.Nat, error) {
	if c, rho, ok := sk.encryptPooled(m); ok {
		return c, rho, nil
	}
	rho, err := arith.SampleUnit(rand, sk.n)
	if err != nil {
		return nil, nil, err
	}
	return sk.EncryptWithNonce(m, rho), rho, nil
}

// Decrypt returns the centred plaintext of c, in (−N/2, N/2].
func (sk *SecretKey) Decrypt(c *big.Int) (*saferith.Int, error) {
	if err := sk.ValidateCiphertext(c); err != nil {
		return nil, err
	}
	cn := arith.NatFromBig(c)
	pm, qm := sk.crtN.Factors()
	p2, q2 := sk.crtN2.Factors()
	mp := sk.lFunction(p2.Exp(cn, new(saferith.Nat).Sub(sk.pNat, new(saferith.Nat).SetUint64(1), PrimeBits)), pm, sk.pNat)
	mq := sk.lFunction(q2.Exp(cn, new(saferith.Nat).Sub(sk.qNat, new(saferith.Nat).SetUint64(1), PrimeBits)), qm, sk.qNat)
	mp = pm.Mul(mp, sk.hp)
	mq = qm.Mul(mq, sk.hq)
	m := sk.crtN.Combine(mp, mq)
	return new(saferith.Int).SetModSymmetric(m, sk.n.Saferith()), nil
}

// lFunction returns L_p(u) = (u − 1)/p mod p for u ≡ 1 mod p.
func (sk *SecretKey) lFunction(u *saferith.Nat, pm *arith.Modulus, p *saferith.Nat) *saferith.Nat {
	bits := 2 * PrimeBits
	u = new(saferith.Nat).Sub(u, new(saferith.Nat).SetUint64(1), bits)
	return pm.Reduce(new(saferith.Nat).Div(u, pm.Saferith(), PrimeBits))
}

// Public returns the public part.
func (sk *SecretKey) Public() *PublicKey { return sk.PublicKey }
