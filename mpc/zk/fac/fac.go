// Package fac is Πfac, the proof that a Paillier modulus N₀ = p·q has no
// small factor: |p|, |q| ≤ 2^(ℓ+ε)·√N₀, hence both factors exceed about
// 2^ℓ ([CGGMP21] Fig. 28 of the 2021 revision, Fig. 26 of the 2024 revision;
// docs/PROTOCOL.md §3.4). It is the σ form of the proof, with R = s^N₀·t^σ.
//
// The prover commits to p and q under the verifier's ring-Pedersen
// parameters, whose factorisation only the verifier knows, and shows that
// the committed values multiply to N₀ and are small. With Πmod (N₀ is a
// product of two primes) it rules out the moduli of the BitForge attack.
package fac

import (
	"errors"
	"io"
	"math/big"
	"sync"

	"github.com/cronokirby/saferith"

	"github.com/duetwallet/duet/mpc/arith"
	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/hash"
	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/mpc/pedersen"
	"github.com/duetwallet/duet/mpc/zk"
)

// Errors returned by Verify, one per check.
var (
	ErrMalformed = errors.New("fac: proof or statement has a missing field")
	ErrAux       = errors.New("fac: the statement is not on the verifier's ring-Pedersen parameters")
	ErrModulus   = errors.New("fac: N₀ outside 2047..2048 bits or even")
	ErrElement   = errors.New("fac: P, Q, A, B or T not in Z*_N̂")
	ErrSize      = errors.New("fac: σ, w₁, w₂ or v over its size cap")
	ErrZ1        = errors.New("fac: z₁ outside ±2^(ℓ+ε)·√N₀")
	ErrZ2        = errors.New("fac: z₂ outside ±2^(ℓ+ε)·√N₀")
	ErrEquation1 = errors.New("fac: s^z₁·t^w₁ ≢ A·P^e (mod N̂)")
	ErrEquation2 = errors.New("fac: s^z₂·t^w₂ ≢ B·Q^e (mod N̂)")
	ErrEquation3 = errors.New("fac: Q^z₁·t^v ≢ T·R^e (mod N̂)")
)

// ErrWitness is returned by Prove when p·q ≠ N₀, or when the responses keep
// falling outside the verifier's ranges, which happens only for factors too
// large for the statement (a small factor's partner).
var ErrWitness = errors.New("fac: the witness does not fit the statement")

// Size caps, in bits of magnitude, from the sampling ranges with |e| ≤ q < 2^ℓ
// and N₀, N̂ < 2^2048 (docs/PROTOCOL.md §3.0): z₁, z₂ must lie in ±2^(ℓ+ε)·√N₀ anyway;
// σ ∈ ±2^ℓ·N₀·N̂; w = x + e·μ with x ∈ ±2^(ℓ+ε)·N̂, μ ∈ ±2^ℓ·N̂;
// v = r + e·(σ − ν·p) with r ∈ ±2^(ℓ+ε)·N₀·N̂.
const (
	zBits     = zk.L + zk.Epsilon + paillier.MaxModulusBits/2
	sigmaBits = zk.L + 2*paillier.MaxModulusBits + 1
	wBits     = zk.L + zk.Epsilon + paillier.MaxModulusBits + 2
	vBits     = zk.L + zk.Epsilon + 2*paillier.MaxModulusBits + 2
)

// maxAttempts bounds Prove's resampling. An honest prover's responses leave
// the range with probability about 2^-ε per attempt.
const maxAttempts = 8

// Public is the statement: the prover's Paillier modulus N₀ and the
// verifier's ring-Pedersen parameters (N̂, s, t), already checked with Πprm.
type Public struct {
	N0  *big.Int
	Aux *pedersen.Params
}

// Private is the witness: the prime factors of N₀.
type Private struct {
	P, Q *saferith.Nat
}

// Proof is the prover's first message (P, Q, A, B, T, σ) and its responses.
type Proof struct {
	P, Q, A, B, T *big.Int
	Sigma         *big.Int
	Z1, Z2        *big.Int
	W1, W2        *big.Int
	V             *big.Int
}

// challenge derives e ∈ ±q from the statement and every value of the first
// message, σ included.
func challenge(ctx *zk.Context, pub Public, p *Proof) *big.Int {
	t := ctx.Transcript("fac").
		Nat(pub.N0).Nat(pub.Aux.N()).Nat(pub.Aux.S()).Nat(pub.Aux.T()).
		Nat(p.P).Nat(p.Q).Nat(p.A).Nat(p.B).Nat(p.T).Int(p.Sigma)
	return hash.ChalSigned(t.Reader())
}

func checkModulus(n0 *big.Int) error {
	if b := n0.BitLen(); n0.Sign() <= 0 || b < paillier.MinModulusBits || b > paillier.MaxModulusBits || n0.Bit(0) == 0 {
		return ErrModulus
	}
	return nil
}

// Prove proves that pub.N0 = p·q has no small factor, under the verifier's
// parameters pub.Aux.
func Prove(rand io.Reader, ctx *zk.Context, pub Public, priv Private) (*Proof, error) {
	if pub.N0 == nil || pub.Aux == nil || priv.P == nil || priv.Q == nil {
		return nil, ErrWitness
	}
	if err := checkModulus(pub.N0); err != nil {
		return nil, err
	}
	pq := new(saferith.Nat).Mul(priv.P, priv.Q, -1)
	if pq.Eq(arith.NatFromBig(pub.N0)) != 1 {
		return nil, ErrWitness
	}
	sqrtN0 := new(big.Int).Sqrt(pub.N0)
	for range maxAttempts {
		proof, err := prove(rand, ctx, pub, priv, sqrtN0)
		if err != nil {
			return nil, err
		}
		if proof.checkRanges(sqrtN0) == nil {
			return proof, nil
		}
	}
	return nil, ErrWitness
}

// prove runs the prover's algorithm once, without checking its responses.
func prove(rand io.Reader, ctx *zk.Context, pub Public, priv Private, sqrtN0 *big.Int) (*Proof, error) {
	aux := pub.Aux
	nHat := aux.N()
	n0nHat := new(big.Int).Mul(pub.N0, nHat)
	var alpha, beta, mu, nu, sigma, r, x, y *saferith.Int
	for _, s := range []struct {
		v     **saferith.Int
		bits  int
		scale *big.Int
	}{
		{&alpha, zk.L + zk.Epsilon, sqrtN0},
		{&beta, zk.L + zk.Epsilon, sqrtN0},
		{&mu, zk.L, nHat},
		{&nu, zk.L, nHat},
		{&sigma, zk.L, n0nHat},
		{&r, zk.L + zk.Epsilon, n0nHat},
		{&x, zk.L + zk.Epsilon, nHat},
		{&y, zk.L + zk.Epsilon, nHat},
	} {
		v, err := arith.SampleSignedScaled(rand, s.bits, s.scale)
		if err != nil {
			return nil, err
		}
		*s.v = v
	}
	p := new(saferith.Int).SetNat(priv.P)
	q := new(saferith.Int).SetNat(priv.Q)

	// T = Q^α·t^r needs Q: Q and T on this goroutine, P, A and B alongside
	// (the two halves of the work are about even).
	m := aux.Modulus()
	proof := &Proof{Sigma: sigma.Big()}
	var wg sync.WaitGroup
	wg.Go(func() {
		proof.P = aux.Commit(p, mu)
		proof.A = aux.Commit(alpha, x)
		proof.B = aux.Commit(beta, y)
	})
	proof.Q = aux.Commit(q, nu)
	proof.T = m.Exp2Int(arith.NatFromBig(proof.Q), alpha, arith.NatFromBig(aux.T()), r).Big()
	wg.Wait()

	e := arith.IntFromBig(challenge(ctx, pub, proof))
	proof.Z1 = arith.MulAdd(alpha, e, p).Big()
	proof.Z2 = arith.MulAdd(beta, e, q).Big()
	proof.W1 = arith.MulAdd(x, e, mu).Big()
	proof.W2 = arith.MulAdd(y, e, nu).Big()
	// σ̂ = σ − ν·p, so that v = r + e·σ̂.
	nuP := new(saferith.Int).Mul(nu, p, nu.AnnouncedLen()+p.AnnouncedLen())
	sigmaHat := new(saferith.Int).Add(sigma, nuP.Neg(1), max(sigma.AnnouncedLen(), nuP.AnnouncedLen())+1)
	proof.V = arith.MulAdd(r, e, sigmaHat).Big()
	return proof, nil
}

// checkRanges checks z₁, z₂ ∈ ±2^(ℓ+ε)·√N₀ and the size caps of σ, w₁, w₂, v.
func (p *Proof) checkRanges(sqrtN0 *big.Int) error {
	if p.Sigma.BitLen() > sigmaBits || p.W1.BitLen() > wBits || p.W2.BitLen() > wBits || p.V.BitLen() > vBits {
		return ErrSize
	}
	if !zk.InRangeScaled(p.Z1, zk.L+zk.Epsilon, sqrtN0) {
		return ErrZ1
	}
	if !zk.InRangeScaled(p.Z2, zk.L+zk.Epsilon, sqrtN0) {
		return ErrZ2
	}
	return nil
}

// Verify checks the proof for pub.N0, made by the prover named in ctx to the
// owner of own, whose parameters must be pub.Aux. The equations use the
// verifier's factorisation of N̂ (exponents reduced modulo p−1 and q−1), in
// constant time.
func (p *Proof) Verify(ctx *zk.Context, pub Public, own *pedersen.Own) error {
	if p == nil || pub.N0 == nil || pub.Aux == nil || own == nil ||
		p.P == nil || p.Q == nil || p.A == nil || p.B == nil || p.T == nil ||
		p.Sigma == nil || p.Z1 == nil || p.Z2 == nil || p.W1 == nil || p.W2 == nil || p.V == nil {
		return ErrMalformed
	}
	if !own.Params.Equal(pub.Aux) {
		return ErrAux
	}
	if err := checkModulus(pub.N0); err != nil {
		return err
	}
	// The CRT reduction of exponents below is only valid for units.
	for _, x := range []*big.Int{p.P, p.Q, p.A, p.B, p.T} {
		if own.ValidateElement(x) != nil {
			return ErrElement
		}
	}
	if err := p.checkRanges(new(big.Int).Sqrt(pub.N0)); err != nil {
		return err
	}
	return p.verifyEquations(pub.N0, challenge(ctx, pub, p), own)
}

// verifyEquations checks, modulo N̂,
//
//	s^z₁·t^w₁ ≡ A·P^e,  s^z₂·t^w₂ ≡ B·Q^e,  Q^z₁·t^v ≡ T·R^e with R = s^N₀·t^σ,
//
// the third rearranged as Q^z₁·t^(v−e·σ)·s^(−e·N₀) ≡ T, which holds exactly
// when the original does because s and t are units. The three run in
// parallel.
func (p *Proof) verifyEquations(n0, e *big.Int, own *pedersen.Own) error {
	var ok [3]bool
	var wg sync.WaitGroup
	wg.Go(func() { ok[0] = own.Verify(p.Z1, p.W1, p.A, p.P, e) })
	wg.Go(func() { ok[1] = own.Verify(p.Z2, p.W2, p.B, p.Q, e) })
	wg.Go(func() {
		crt := own.CRT()
		tExp := new(big.Int).Mul(e, p.Sigma)
		tExp.Sub(p.V, tExp)
		sExp := new(big.Int).Mul(e, n0)
		sExp.Neg(sExp)
		lhs := crt.Exp2Int(arith.NatFromBig(p.Q), arith.IntFromBig(p.Z1), arith.NatFromBig(own.T()), arith.IntFromBig(tExp))
		lhs = crt.Modulus().Mul(lhs, crt.ExpInt(arith.NatFromBig(own.S()), arith.IntFromBig(sExp)))
		ok[2] = lhs.Eq(arith.NatFromBig(p.T)) == 1
	})
	wg.Wait()
	for i, err := range []error{ErrEquation1, ErrEquation2, ErrEquation3} {
		if !ok[i] {
			return err
		}
	}
	return nil
}

// Encode appends the proof; every field must be set.
func (p *Proof) Encode(e *codec.Encoder) {
	e.Nat(p.P).Nat(p.Q).Nat(p.A).Nat(p.B).Nat(p.T).Int(p.Sigma)
	e.Int(p.Z1).Int(p.Z2).Int(p.W1).Int(p.W2).Int(p.V)
}

// Decode reads a proof, with the size caps of docs/PROTOCOL.md §3.0. Elements are
// capped at the largest modulus size; Verify checks them against N̂.
func Decode(d *codec.Decoder) *Proof {
	return &Proof{
		P:     d.Nat(paillier.MaxModulusBits),
		Q:     d.Nat(paillier.MaxModulusBits),
		A:     d.Nat(paillier.MaxModulusBits),
		B:     d.Nat(paillier.MaxModulusBits),
		T:     d.Nat(paillier.MaxModulusBits),
		Sigma: d.Int(sigmaBits),
		Z1:    d.Int(zBits),
		Z2:    d.Int(zBits),
		W1:    d.Int(wBits),
		W2:    d.Int(wBits),
		V:     d.Int(vBits),
	}
}
