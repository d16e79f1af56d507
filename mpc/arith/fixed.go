package arith

import (
	"errors"

	"github.com/cronokirby/saferith"

	"github.com/duetwallet/duet/mpc/arith/internal/mont"
)

var errEvenModulus = errors.New("arith: fixed-base tables need an odd modulus")

// FixedBase is a unit x modulo an odd m with precomputed powers, for the
// many exponentiations of one base: a peer's ring-Pedersen s and t, raised
// to thousands of secret exponents per key generation. An exponentiation
// with the table costs one multiplication per 4 bits of exponent and no
// squaring (several times faster than Exp), and a negative exponent needs
// no inversion.
//
// The table holds 15 powers per 4 bits of the largest exponent, each of the
// size of m: for a 2048-bit m and 2816-bit exponents, about 2.7 MiB.
type FixedBase struct {
	m       *Modulus
	x       *saferith.Nat
	fb      *mont.FixedBase
	maxBits int
}

// NewFixedBase precomputes the powers of the unit x for exponents whose
// announced length is at most maxExpBits (longer ones still work, at the
// speed of ExpInt). It runs in constant time, leaking the size of m and
// maxExpBits, and returns ErrNotUnit if x is not a unit.
func (m *Modulus) NewFixedBase(x *saferith.Nat, maxExpBits int) (*FixedBase, error) {
	if m.mont == nil {
		return nil, errEvenModulus
	}
	xw := m.words(x)
	m.mont.Reduce(xw, xw)
	xr := m.nat(xw)
	inv := new(saferith.Nat).ModInverse(xr, m.ct)
	if m.Mul(xr, inv).Eq(new(saferith.Nat).SetUint64(1)) != 1 {
		return nil, ErrNotUnit
	}
	maxExpBits = max(maxExpBits, 0)
	return &FixedBase{
		m: m, x: xr, maxBits: maxExpBits,
		fb: m.mont.NewFixedBase(xw, m.words(inv), maxExpBits),
	}, nil
}

// Modulus returns the modulus of the base.
func (b *FixedBase) Modulus() *Modulus { return b.m }

// TableBytes returns the memory held by the precomputed powers.
func (b *FixedBase) TableBytes() int { return b.fb.TableWords() * mont.WordBits / 8 }

// Exp returns x^e mod m in constant time: it leaks the size of m and the
// announced length of e, not its sign.
func (b *FixedBase) Exp(e *saferith.Int) *saferith.Nat {
	if e.AnnouncedLen() > b.maxBits {
		return b.m.ExpInt(b.x, e)
	}
	ew, ebits := expWords(e.Abs())
	z := make([]mont.Word, b.m.mont.Limbs())
	b.fb.Exp(z, ew, ebits, mont.Word(e.IsNegative()))
	return b.m.nat(z)
}

// FixedExp2 returns a^ea · b^eb mod m for two fixed bases of m (a
// ring-Pedersen commitment s^ea · t^eb), in constant time: it leaks the size
// of m and the announced lengths of ea and eb, not their signs.
func (m *Modulus) FixedExp2(a *FixedBase, ea *saferith.Int, b *FixedBase, eb *saferith.Int) *saferith.Nat {
	if a.m != m || b.m != m {
		panic("arith: fixed base of another modulus")
	}
	if ea.AnnouncedLen() > a.maxBits || eb.AnnouncedLen() > b.maxBits {
		return m.Mul(a.Exp(ea), b.Exp(eb))
	}
	aw, abits := expWords(ea.Abs())
	bw, bbits := expWords(eb.Abs())
	z := make([]mont.Word, m.mont.Limbs())
	m.mont.FixedExp2(z, a.fb, aw, abits, mont.Word(ea.IsNegative()), b.fb, bw, bbits, mont.Word(eb.IsNegative()))
	return m.nat(z)
}
