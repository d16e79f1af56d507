// Package pedersen holds ring-Pedersen parameters (N, s, t): commitments
// com(a, b) = s^a · t^b mod N with s ∈ ⟨t⟩. Each party makes its own
// parameters on its own Paillier modulus and proves them well formed with
// Πprm; a prover always commits under the verifier's parameters, so the
// verifier (who knows the factorisation) can check through the CRT, and the
// prover (who does not) cannot open a commitment two ways.
package pedersen

import (
	"errors"
	"io"
	"math/big"
	"sync"

	"github.com/cronokirby/saferith"

	"github.com/duetwallet/duet/mpc/arith"
	"github.com/duetwallet/duet/mpc/paillier"
)

var (
	ErrParams  = errors.New("pedersen: s and t must be distinct units other than 1")
	ErrElement = errors.New("pedersen: element is not in Z*_N")
)

var one = big.NewInt(1)

// Params are public ring-Pedersen parameters.
type Params struct {
	n    *arith.Modulus
	s, t *big.Int
	sNat *saferith.Nat
	tNat *saferith.Nat

	// Fixed-base tables of s and t, built on the first commitment: a
	// prover commits under the same peer parameters many times per
	// generation (14 commitments per presignature).
	tables struct {
		once sync.Once
		s, t *arith.FixedBase
	}
}

// Exponent sizes the tables cover: s carries at most ℓ′+ε-bit values (β̃ of
// Πaff-g) and t the masks up to 2^(ℓ+ε)·N̂ (γ, δ); longer exponents (Πfac's
// r) still work, without the tables' speed.
const (
	tableBitsS = 1792 + 8
	tableBitsT = 256 + 512 + 2048 + 8
)

// NewParams checks a peer's (s, t) against its (already checked) modulus N:
// s, t ∈ Z*_N, neither 1, and s ≠ t. That s ∈ ⟨t⟩ is Πprm's business.
func NewParams(n *arith.Modulus, s, t *big.Int) (*Params, error) {
	if !n.IsUnitVarTime(s) || !n.IsUnitVarTime(t) || s.Cmp(one) == 0 || t.Cmp(one) == 0 || s.Cmp(t) == 0 {
		return nil, ErrParams
	}
	return &Params{
		n: n, s: new(big.Int).Set(s), t: new(big.Int).Set(t),
		sNat: arith.NatFromBig(s), tNat: arith.NatFromBig(t),
	}, nil
}

// N, S and T return the parameters. The caller must not modify them.
func (p *Params) N() *big.Int { return p.n.Big() }
func (p *Params) S() *big.Int { return p.s }
func (p *Params) T() *big.Int { return p.t }

// Modulus returns N.
func (p *Params) Modulus() *arith.Modulus { return p.n }

// Commit returns s^a · t^b mod N, in constant time in a and b.
func (p *Params) Commit(a, b *saferith.Int) *big.Int {
	p.tables.once.Do(func() {
		sb, errS := p.n.NewFixedBase(p.sNat, tableBitsS)
		tb, errT := p.n.NewFixedBase(p.tNat, tableBitsT)
		if errS == nil && errT == nil {
			p.tables.s, p.tables.t = sb, tb
		}
	})
	if p.tables.s == nil {
		return p.n.Exp2Int(p.sNat, a, p.tNat, b).Big()
	}
	return p.n.FixedExp2(p.tables.s, a, p.tables.t, b).Big()
}

// ValidateElement checks that a commitment from a peer lies in Z*_N.
func (p *Params) ValidateElement(x *big.Int) error {
	if x == nil || !p.n.IsUnitVarTime(x) {
		return ErrElement
	}
	return nil
}

// Equal reports whether two parameter sets are the same.
func (p *Params) Equal(o *Params) bool {
	return p.N().Cmp(o.N()) == 0 && p.s.Cmp(o.s) == 0 && p.t.Cmp(o.t) == 0
}

// Own is a party's own parameters, with the factorisation of N, so that it
// can verify commitments made to it through the CRT.
type Own struct {
	*Params
	crt *arith.CRT
}

// Generate makes ring-Pedersen parameters on the party's own Paillier
// modulus: t = τ² for a random unit τ, s = t^λ for λ ←$ Z_φ(N). It returns λ,
// the witness for Πprm, which the caller erases after proving.
func Generate(rand io.Reader, sk *paillier.SecretKey) (*Own, *saferith.Nat, error) {
	n := sk.Modulus()
	crt := sk.CRT()
	for {
		tau, err := arith.SampleUnit(rand, n)
		if err != nil {
			return nil, nil, err
		}
		t := n.Mul(tau, tau)
		lambda, err := arith.SampleBelow(rand, saferith.ModulusFromNat(sk.Phi()))
		if err != nil {
			return nil, nil, err
		}
		s := crt.Exp(t, lambda)
		params, err := NewParams(n, s.Big(), t.Big())
		if err != nil {
			continue // s = t, s = 1 or t = 1: negligible, draw again
		}
		return &Own{Params: params, crt: crt}, lambda, nil
	}
}

// NewOwn attaches the factorisation to the party's own parameters.
func NewOwn(p *Params, sk *paillier.SecretKey) (*Own, error) {
	if p.N().Cmp(sk.N()) != 0 {
		return nil, errors.New("pedersen: parameters are not on this Paillier key")
	}
	return &Own{Params: p, crt: sk.CRT()}, nil
}

// CRT returns the CRT context of N (mod p, q).
func (o *Own) CRT() *arith.CRT { return o.crt }

// Verify reports whether s^a · t^b ≡ A · S^e (mod N), the check of every
// commitment response. A and S must be units (checked by the caller with
// ValidateElement) for the CRT exponent reduction to be valid. The values are
// public, but the factorisation is not, so this runs in constant time.
func (o *Own) Verify(a, b, A, S, e *big.Int) bool {
	lhs := o.crt.Exp2Int(o.sNat, arith.IntFromBig(a), o.tNat, arith.IntFromBig(b))
	se := o.crt.ExpInt(arith.NatFromBig(S), arith.IntFromBig(e))
	rhs := o.n.Mul(arith.NatFromBig(A), se)
	return lhs.Eq(rhs) == 1
}
