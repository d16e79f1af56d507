// Package arith is the modular arithmetic under Paillier and ring-Pedersen:
// constant-time operations for values that depend on a secret (exponents,
// bases, or moduli whose factorisation is secret), and variable-time ones,
// named ...VarTime, for public values only (verifying a peer's proofs under
// the peer's keys).
//
// Secret integers are saferith numbers, whose announced sizes are public and
// whose operations do not branch on values. Public integers are big.Int.
package arith

import (
	"errors"
	"io"
	"math/big"

	"github.com/cronokirby/saferith"
)

var (
	errModulus    = errors.New("arith: modulus must be greater than one")
	errNotUnit    = errors.New("arith: value is not a unit")
	errBoundRange = errors.New("arith: sampling bound must be positive")
	one           = big.NewInt(1)
)

// Modulus is a modulus together with the precomputed values for both the
// constant-time and the variable-time operations.
type Modulus struct {
	n  *big.Int
	ct *saferith.Modulus
}

// NewModulus returns n as a Modulus. n must be greater than one.
func NewModulus(n *big.Int) (*Modulus, error) {
	if n.Cmp(one) <= 0 {
		return nil, errModulus
	}
	return &Modulus{n: new(big.Int).Set(n), ct: saferith.ModulusFromBytes(n.Bytes())}, nil
}

// MustModulus is NewModulus for moduli that are valid by construction.
func MustModulus(n *big.Int) *Modulus {
	m, err := NewModulus(n)
	if err != nil {
		panic("arith: internal error: " + err.Error())
	}
	return m
}

// Big returns the modulus. The caller must not modify it.
func (m *Modulus) Big() *big.Int { return m.n }

// Saferith returns the modulus for saferith's own operations.
func (m *Modulus) Saferith() *saferith.Modulus { return m.ct }

// BitLen returns the bit length of the modulus.
func (m *Modulus) BitLen() int { return m.n.BitLen() }

// Exp returns x^e mod m in constant time; only the announced length of e leaks.
func (m *Modulus) Exp(x, e *saferith.Nat) *saferith.Nat {
	return new(saferith.Nat).Exp(x, e, m.ct)
}

// ExpInt returns x^e mod m for a signed exponent, in constant time. For a
// negative e, x must be a unit.
func (m *Modulus) ExpInt(x *saferith.Nat, e *saferith.Int) *saferith.Nat {
	return new(saferith.Nat).ExpI(x, e, m.ct)
}

// Exp2Int returns x^a · y^b mod m in constant time.
func (m *Modulus) Exp2Int(x *saferith.Nat, a *saferith.Int, y *saferith.Nat, b *saferith.Int) *saferith.Nat {
	u := m.ExpInt(x, a)
	v := m.ExpInt(y, b)
	return u.ModMul(u, v, m.ct)
}

// Mul returns x · y mod m in constant time.
func (m *Modulus) Mul(x, y *saferith.Nat) *saferith.Nat {
	return new(saferith.Nat).ModMul(x, y, m.ct)
}

// Reduce returns x mod m as a saferith number, in constant time.
func (m *Modulus) Reduce(x *saferith.Nat) *saferith.Nat {
	return new(saferith.Nat).Mod(x, m.ct)
}

// ReduceInt returns x mod m in [0, m), in constant time.
func (m *Modulus) ReduceInt(x *saferith.Int) *saferith.Nat { return x.Mod(m.ct) }

// Inverse returns x⁻¹ mod m in constant time; x must be a unit.
func (m *Modulus) Inverse(x *saferith.Nat) *saferith.Nat {
	return new(saferith.Nat).ModInverse(x, m.ct)
}

// IsUnitVarTime reports whether 0 < x < m and gcd(x, m) = 1, for public x.
func (m *Modulus) IsUnitVarTime(x *big.Int) bool {
	if x.Sign() <= 0 || x.Cmp(m.n) >= 0 {
		return false
	}
	return new(big.Int).GCD(nil, nil, x, m.n).Cmp(one) == 0
}

// ExpVarTime returns x^e mod m for public values. A negative e inverts x
// first; it returns nil when x is then not a unit.
func (m *Modulus) ExpVarTime(x, e *big.Int) *big.Int {
	if e.Sign() < 0 {
		inv := new(big.Int).ModInverse(x, m.n)
		if inv == nil {
			return nil
		}
		return inv.Exp(inv, new(big.Int).Neg(e), m.n)
	}
	return new(big.Int).Exp(x, e, m.n)
}

// Exp2VarTime returns x^a · y^b mod m for public values, nil if a negative
// exponent meets a non-unit.
func (m *Modulus) Exp2VarTime(x, a, y, b *big.Int) *big.Int {
	u := m.ExpVarTime(x, a)
	v := m.ExpVarTime(y, b)
	if u == nil || v == nil {
		return nil
	}
	u.Mul(u, v)
	return u.Mod(u, m.n)
}

// MulVarTime returns x · y mod m for public values.
func (m *Modulus) MulVarTime(x, y *big.Int) *big.Int {
	z := new(big.Int).Mul(x, y)
	return z.Mod(z, m.n)
}

// CRT computes modulo m₁·m₂ through the two coprime factors, whose values
// are secret (Paillier primes or their squares). For units, exponents are
// reduced modulo ord₁ and ord₂, multiples of the group orders modulo m₁ and
// m₂; reduction is only valid for units, which callers check first.
type CRT struct {
	m1, m2 *Modulus
	o1, o2 *saferith.Modulus
	m1Inv  *saferith.Nat // m₁⁻¹ mod m₂
	prod   *Modulus
}

// NewCRT prepares CRT arithmetic modulo m1·m2.
func NewCRT(m1, m2, ord1, ord2 *big.Int) (*CRT, error) {
	a, err := NewModulus(m1)
	if err != nil {
		return nil, err
	}
	b, err := NewModulus(m2)
	if err != nil {
		return nil, err
	}
	inv := new(big.Int).ModInverse(m1, m2)
	if inv == nil {
		return nil, errors.New("arith: CRT moduli are not coprime")
	}
	return &CRT{
		m1: a, m2: b,
		o1:    saferith.ModulusFromBytes(ord1.Bytes()),
		o2:    saferith.ModulusFromBytes(ord2.Bytes()),
		m1Inv: new(saferith.Nat).SetBig(inv, m2.BitLen()),
		prod:  MustModulus(new(big.Int).Mul(m1, m2)),
	}, nil
}

// Modulus returns m₁·m₂.
func (c *CRT) Modulus() *Modulus { return c.prod }

// Factors returns m₁ and m₂.
func (c *CRT) Factors() (*Modulus, *Modulus) { return c.m1, c.m2 }

// Combine returns the x mod m₁·m₂ with x ≡ a₁ (mod m₁), x ≡ a₂ (mod m₂)
// (Garner's formula x = a₁ + m₁·((a₂ − a₁)·m₁⁻¹ mod m₂)).
func (c *CRT) Combine(a1, a2 *saferith.Nat) *saferith.Nat {
	a1mod2 := new(saferith.Nat).Mod(a1, c.m2.ct)
	h := new(saferith.Nat).ModSub(a2, a1mod2, c.m2.ct)
	h.ModMul(h, c.m1Inv, c.m2.ct)
	bits := c.prod.BitLen()
	x := new(saferith.Nat).Mul(h, c.m1.ct.Nat(), bits)
	x.Add(x, a1, bits)
	return x.Mod(x, c.prod.ct)
}

// ExpInt returns x^e mod m₁·m₂ for a unit x, in constant time.
func (c *CRT) ExpInt(x *saferith.Nat, e *saferith.Int) *saferith.Nat {
	e1 := e.Mod(c.o1)
	e2 := e.Mod(c.o2)
	r1 := c.m1.Exp(x, e1)
	r2 := c.m2.Exp(x, e2)
	return c.Combine(r1, r2)
}

// Exp returns x^e mod m₁·m₂ for a unit x, in constant time.
func (c *CRT) Exp(x, e *saferith.Nat) *saferith.Nat {
	return c.ExpInt(x, new(saferith.Int).SetNat(e))
}

// Exp2Int returns x^a · y^b mod m₁·m₂ for units x, y, in constant time.
func (c *CRT) Exp2Int(x *saferith.Nat, a *saferith.Int, y *saferith.Nat, b *saferith.Int) *saferith.Nat {
	r1 := c.m1.Exp2Int(x, new(saferith.Int).SetNat(a.Mod(c.o1)), y, new(saferith.Int).SetNat(b.Mod(c.o1)))
	r2 := c.m2.Exp2Int(x, new(saferith.Int).SetNat(a.Mod(c.o2)), y, new(saferith.Int).SetNat(b.Mod(c.o2)))
	return c.Combine(r1, r2)
}

// SampleUnit returns a uniform element of Z*_m.
func SampleUnit(rand io.Reader, m *Modulus) (*saferith.Nat, error) {
	for {
		x, err := SampleMod(rand, m)
		if err != nil {
			return nil, err
		}
		if x.IsUnit(m.ct) == 1 {
			return x, nil
		}
	}
}

// SampleMod returns a uniform element of [0, m), with statistical distance
// 2^-128 from uniform (128 extra bits reduced in constant time).
func SampleMod(rand io.Reader, m *Modulus) (*saferith.Nat, error) {
	buf := make([]byte, (m.BitLen()+128+7)/8)
	if _, err := io.ReadFull(rand, buf); err != nil {
		return nil, err
	}
	x := new(saferith.Nat).SetBytes(buf)
	clear(buf)
	return x.Mod(x, m.ct), nil
}

// SampleSigned returns a uniform integer in ±2^bits (a magnitude below 2^bits
// and a random sign).
func SampleSigned(rand io.Reader, bits int) (*saferith.Int, error) {
	buf := make([]byte, (bits+7)/8+1)
	if _, err := io.ReadFull(rand, buf); err != nil {
		return nil, err
	}
	sign := saferith.Choice(buf[0] & 1)
	mag := buf[1:]
	if rem := bits % 8; rem != 0 {
		mag[0] &= byte(1)<<rem - 1
	}
	n := new(saferith.Nat).SetBytes(mag)
	clear(buf)
	return new(saferith.Int).SetNat(n.Resize(bits)).Neg(sign), nil
}

// SampleSignedScaled returns a uniform integer in ±2^bits·m, for a public
// positive m.
func SampleSignedScaled(rand io.Reader, bits int, m *big.Int) (*saferith.Int, error) {
	if m.Sign() <= 0 {
		return nil, errBoundRange
	}
	bound := new(big.Int).Lsh(m, uint(bits))
	bm := saferith.ModulusFromBytes(bound.Bytes())
	buf := make([]byte, (bound.BitLen()+128+7)/8+1)
	if _, err := io.ReadFull(rand, buf); err != nil {
		return nil, err
	}
	sign := saferith.Choice(buf[0] & 1)
	n := new(saferith.Nat).SetBytes(buf[1:])
	clear(buf)
	n.Mod(n, bm)
	return new(saferith.Int).SetNat(n).Neg(sign), nil
}

// MulAdd returns a + e·x, with an announced size large enough to be exact.
func MulAdd(a, e, x *saferith.Int) *saferith.Int {
	size := e.AnnouncedLen() + x.AnnouncedLen()
	if a.AnnouncedLen() > size {
		size = a.AnnouncedLen()
	}
	size++
	p := new(saferith.Int).Mul(e, x, size)
	return p.Add(p, a, size)
}

// IntFromBig converts a public signed integer.
func IntFromBig(x *big.Int) *saferith.Int {
	return new(saferith.Int).SetBig(x, x.BitLen())
}

// NatFromBig converts a public non-negative integer.
func NatFromBig(x *big.Int) *saferith.Nat {
	return new(saferith.Nat).SetBig(x, x.BitLen())
}

// IsUnit reports in constant time whether x is a unit modulo m.
func IsUnit(x *saferith.Nat, m *Modulus) bool { return x.IsUnit(m.ct) == 1 }

// ErrNotUnit is returned when a value that must be a unit is not.
var ErrNotUnit = errNotUnit
