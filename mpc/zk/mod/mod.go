// Package mod is Πmod, the proof that a Paillier modulus N is a Paillier–Blum
// modulus: N = p·q for primes p ≡ q ≡ 3 mod 4 with gcd(N, φ(N)) = 1
// ([CGGMP21] Fig. 16 of the 2021 revision, Fig. 12 of the 2024 revision;
// docs/PROTOCOL.md §3.2).
//
// For each of m = zk.Repetitions challenges y_k ∈ Z*_N the prover shows an
// N-th root z_k of y_k (which exists for every y_k only if gcd(N, φ(N)) = 1)
// and a fourth root x_k of (−1)^a_k·w^b_k·y_k for a fixed w with Jacobi
// symbol −1 (which exists for one of the four choices of (a_k, b_k) for
// every y_k only if N has exactly two prime factors, both ≡ 3 mod 4). A
// modulus with three or more factors, such as the many-small-factor moduli of
// the BitForge attack, fails about half of the repetitions. Πmod says nothing
// about the size of the factors: that is Πfac's part.
package mod

import (
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/cronokirby/saferith"

	"github.com/duetwallet/duet/mpc/arith"
	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/hash"
	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/mpc/zk"
)

// Errors returned by Verify, one per check; Verify may wrap them with the
// index of the failing repetition.
var (
	ErrMalformed    = errors.New("mod: proof or statement has a missing field")
	ErrModulusSize  = errors.New("mod: N outside 2047..2048 bits")
	ErrModulusEven  = errors.New("mod: N is even")
	ErrModulusPrime = errors.New("mod: N is prime")
	ErrW            = errors.New("mod: w not in Z*_N")
	ErrJacobi       = errors.New("mod: Jacobi(w|N) ≠ −1")
	ErrRange        = errors.New("mod: x_k or z_k outside [1, N)")
	ErrNthRoot      = errors.New("mod: z_k^N ≢ y_k (mod N)")
	ErrFourthRoot   = errors.New("mod: x_k⁴ ≢ (−1)^a_k·w^b_k·y_k (mod N)")
)

// ErrWitness is returned by Prove when the key is not the key of N.
var ErrWitness = errors.New("mod: the secret key does not match N")

// Public is the statement: the prover's Paillier modulus N.
type Public struct {
	N *big.Int
}

// Private is the witness: the factorisation of N, held by the prover's
// Paillier key (whose primes are ≡ 3 mod 4 by construction).
type Private struct {
	Key *paillier.SecretKey
}

// Proof is w and, for each repetition k, the fourth root x_k with its bits
// (a_k, b_k) and the N-th root z_k.
type Proof struct {
	W    *big.Int
	X, Z [zk.Repetitions]*big.Int
	A, B [zk.Repetitions]bool
}

// challenges derives y₁, …, y_m ∈ Z*_N from the transcript of N and w: the
// verifier must never choose them, since the roots of chosen values factor N.
func challenges(ctx *zk.Context, n, w *big.Int) []*big.Int {
	t := ctx.Transcript("mod").Nat(n).Nat(w)
	return hash.ChalUnits(t.Reader(), n, zk.Repetitions)
}

// Prove proves that pub.N, the modulus of priv.Key, is a Paillier–Blum
// modulus. Every repetition costs two exponentiations modulo each prime, in
// constant time; the repetitions run in parallel.
func Prove(rand io.Reader, ctx *zk.Context, pub Public, priv Private) (*Proof, error) {
	sk := priv.Key
	if pub.N == nil || sk == nil || sk.N().Cmp(pub.N) != 0 {
		return nil, ErrWitness
	}
	return prove(rand, ctx, sk.CRT(), sk.P(), sk.Q())
}

// prove runs the prover's algorithm for N = p·q with the CRT context of p
// and q; it does not check that the primes are fit for it.
func prove(rand io.Reader, ctx *zk.Context, crt *arith.CRT, p, q *saferith.Nat) (*Proof, error) {
	nBig := crt.Modulus().Big()
	// w is public once sent, and for a Blum N a Jacobi symbol of −1 makes it
	// a non-residue modulo exactly one of p, q.
	var w *big.Int
	for {
		u, err := arith.SampleUnit(rand, crt.Modulus())
		if err != nil {
			return nil, err
		}
		if w = u.Big(); big.Jacobi(w, nBig) == -1 {
			break
		}
	}
	ys := challenges(ctx, nBig, w)

	pm, qm := crt.Factors()
	n := arith.NatFromBig(nBig)
	hp := newHalf(pm, p, n, w)
	hq := newHalf(qm, q, n, w)

	proof := &Proof{W: w}
	zk.Parallel(zk.Repetitions, func(k int) error {
		y := arith.NatFromBig(ys[k])
		vp, zp, nrp := hp.roots(y)
		vq, zq, nrq := hq.roots(y)
		// Choose (a, b) so that y′ = (−1)^a·w^b·y is a square modulo p and q.
		// −1 is a non-residue modulo both primes and w modulo exactly one,
		// so b is set iff y is a non-residue modulo exactly one prime
		// (Jacobi(y|N) = −1), and a then fixes the residuosity modulo p.
		b := nrp ^ nrq
		a := nrp ^ (b & hp.wNonResidue)
		proof.X[k] = crt.Combine(hp.fourthRoot(vp, a, b), hq.fourthRoot(vq, a, b)).Big()
		proof.Z[k] = crt.Combine(zp, zq).Big()
		// a and b are part of the proof: turning them into branches leaks
		// nothing the verifier does not see.
		proof.A[k], proof.B[k] = a == 1, b == 1
		return nil
	})
	return proof, nil
}

// half is the prover's arithmetic modulo one prime factor p ≡ 3 mod 4 of N.
type half struct {
	p *arith.Modulus
	// e4 = ((p+1)/4)² mod (p−1). For a square u, u^((p+1)/4) is the square
	// root that is itself a square, so u^e4 is a fourth root of u (the
	// principal one). For any unit y, (y^e4)⁴ = y^((p+1)/2) = y·(y|p).
	e4 *saferith.Nat
	// eN = N⁻¹ mod (p−1): y^eN is the N-th root of y modulo p.
	eN *saferith.Nat
	// (−1)^e4 and w^e4 modulo p, so that ((−1)^a·w^b·y)^e4 costs two
	// multiplications once y^e4 is known.
	negE4, wE4  *saferith.Nat
	wNonResidue saferith.Choice
}

func newHalf(pm *arith.Modulus, p, n *saferith.Nat, w *big.Int) *half {
	bits := pm.BitLen()
	one := new(saferith.Nat).SetUint64(1)
	pMinus1 := new(saferith.Nat).Sub(p, one, bits)
	order := saferith.ModulusFromNat(pMinus1)
	k := new(saferith.Nat).Rsh(p, 2, bits) // (p+1)/4 = ⌊p/4⌋ + 1 for p ≡ 3 mod 4
	k.Add(k, one, bits)
	e4 := new(saferith.Nat).ModMul(k, k, order)
	// N is reduced first: saferith inverts modulo an even modulus correctly
	// only for an argument already reduced by it.
	eN := new(saferith.Nat).ModInverse(new(saferith.Nat).Mod(n, order), order)
	wp := pm.Reduce(arith.NatFromBig(w))
	wE4 := pm.Exp(wp, e4)
	return &half{
		p:           pm,
		e4:          e4,
		eN:          eN,
		negE4:       pm.Exp(pm.Reduce(pMinus1), e4),
		wE4:         wE4,
		wNonResidue: 1 ^ fourthPower(pm, wE4).Eq(wp),
	}
}

func fourthPower(m *arith.Modulus, v *saferith.Nat) *saferith.Nat {
	v2 := m.Mul(v, v)
	return m.Mul(v2, v2)
}

// roots returns v = y^e4 and the N-th root of y modulo p, and whether y is a
// quadratic non-residue modulo p. The Legendre symbol comes from v⁴ = y·(y|p)
// in constant time, instead of a Jacobi computation whose running time
// depends on p.
func (h *half) roots(y *saferith.Nat) (v, z *saferith.Nat, nonResidue saferith.Choice) {
	yp := h.p.Reduce(y)
	v = h.p.Exp(yp, h.e4)
	z = h.p.Exp(yp, h.eN)
	return v, z, 1 ^ fourthPower(h.p, v).Eq(yp)
}

// fourthRoot returns ((−1)^a·w^b·y)^e4 = (−1)^(a·e4)·w^(b·e4)·v modulo p.
func (h *half) fourthRoot(v *saferith.Nat, a, b saferith.Choice) *saferith.Nat {
	// The shared values are cloned: saferith may rewrite the limbs of an
	// argument, and the repetitions run concurrently.
	c := new(saferith.Nat).SetUint64(1).Resize(h.p.BitLen())
	c.CondAssign(a, h.negE4.Clone())
	c.CondAssign(b, h.p.Mul(c, h.wE4))
	return h.p.Mul(c, v)
}

// Verify checks the proof for pub.N, made by the prover named in ctx.
func (p *Proof) Verify(ctx *zk.Context, pub Public) error {
	if p == nil || p.W == nil || pub.N == nil {
		return ErrMalformed
	}
	for k := range p.X {
		if p.X[k] == nil || p.Z[k] == nil {
			return ErrMalformed
		}
	}
	n := pub.N
	if b := n.BitLen(); n.Sign() <= 0 || b < paillier.MinModulusBits || b > paillier.MaxModulusBits {
		return ErrModulusSize
	}
	if n.Bit(0) == 0 {
		return ErrModulusEven
	}
	// Without w ∈ Z*_N, w = 0 with b_k = 1 and x_k = 0 would satisfy every
	// fourth-root equation for any N.
	if p.W.Sign() <= 0 || p.W.Cmp(n) >= 0 || new(big.Int).GCD(nil, nil, p.W, n).Cmp(big.NewInt(1)) != 0 {
		return ErrW
	}
	if big.Jacobi(p.W, n) != -1 {
		return ErrJacobi
	}
	for k := range p.X {
		if !inUnitRange(p.X[k], n) || !inUnitRange(p.Z[k], n) {
			return fmt.Errorf("%w (repetition %d)", ErrRange, k)
		}
	}
	// A prime N passes every other check; for a composite N the first
	// Miller–Rabin round almost always ends the test.
	if n.ProbablyPrime(20) {
		return ErrModulusPrime
	}
	return p.verifyRepetitions(n, challenges(ctx, n, p.W))
}

// verifyRepetitions checks z_k^N ≡ y_k and x_k⁴ ≡ (−1)^a_k·w^b_k·y_k (mod N)
// for every k, in parallel. All values are public: math/big is fine here.
func (p *Proof) verifyRepetitions(n *big.Int, ys []*big.Int) error {
	return zk.Parallel(zk.Repetitions, func(k int) error {
		y := ys[k]
		if new(big.Int).Exp(p.Z[k], n, n).Cmp(y) != 0 {
			return fmt.Errorf("%w (repetition %d)", ErrNthRoot, k)
		}
		lhs := new(big.Int).Mul(p.X[k], p.X[k])
		lhs.Mod(lhs, n)
		lhs.Mul(lhs, lhs).Mod(lhs, n)
		rhs := new(big.Int).Set(y)
		if p.B[k] {
			rhs.Mul(rhs, p.W).Mod(rhs, n)
		}
		if p.A[k] {
			rhs.Neg(rhs).Mod(rhs, n)
		}
		if lhs.Cmp(rhs) != 0 {
			return fmt.Errorf("%w (repetition %d)", ErrFourthRoot, k)
		}
		return nil
	})
}

func inUnitRange(x, n *big.Int) bool { return x.Sign() > 0 && x.Cmp(n) < 0 }

// Encode appends the proof; every field must be set.
func (p *Proof) Encode(e *codec.Encoder) {
	e.Nat(p.W)
	for k := range p.X {
		e.Nat(p.X[k]).Nat(p.Z[k]).Bool(p.A[k]).Bool(p.B[k])
	}
}

// Decode reads a proof. Elements are capped at the largest modulus size;
// Verify checks them against N.
func Decode(d *codec.Decoder) *Proof {
	p := &Proof{W: d.Nat(paillier.MaxModulusBits)}
	for k := range p.X {
		p.X[k] = d.Nat(paillier.MaxModulusBits)
		p.Z[k] = d.Nat(paillier.MaxModulusBits)
		p.A[k] = d.Bool()
		p.B[k] = d.Bool()
	}
	return p
}
