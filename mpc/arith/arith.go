// Package arith is the modular arithmetic under Paillier and ring-Pedersen:
// constant-time operations for values that depend on a secret (exponents,
// bases, or moduli whose factorisation is secret), and variable-time ones,
// named ...VarTime, for public values only (verifying a peer's proofs under
// the peer's keys).
//
// Secret integers are saferith numbers, whose announced sizes are public and
// whose operations do not branch on values. Public integers are big.Int.
//
// Exponentiations and products modulo an odd modulus run on the
// constant-time Montgomery arithmetic of internal/mont (64-bit limbs with
// ADX assembly on amd64, 32-bit limbs in WebAssembly), converting from and
// to saferith numbers at the boundary; saferith's own exponentiation is
// several times slower, above all in WebAssembly. A FixedBase adds
// precomputed powers for a base used many times. All values here are safe
// for concurrent use once built.
package arith

import (
	"errors"
	"io"
	"math/big"

	"github.com/cronokirby/saferith"

	"github.com/duetwallet/duet/mpc/arith/internal/mont"
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
	// mont does the exponentiations and products of an odd modulus; an
	// even one (as φ(N), used only for sampling) takes slower generic code.
	mont *mont.Modulus
}

// NewModulus returns n as a Modulus. n must be greater than one.
func NewModulus(n *big.Int) (*Modulus, error) {
	if n.Cmp(one) <= 0 {
		return nil, errModulus
	}
	m := &Modulus{n: new(big.Int).Set(n), ct: saferith.ModulusFromBytes(n.Bytes())}
	if n.Bit(0) == 1 {
		mm, err := mont.NewModulus(n.Bytes())
		if err != nil {
			panic("arith: internal error: " + err.Error())
		}
		m.mont = mm
	}
	return m, nil
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

// Exp returns x^e mod m in constant time: the running time and the memory
// accesses depend only on the size of m and the announced length of e
// (x of any announced length is reduced first, in constant time).
func (m *Modulus) Exp(x, e *saferith.Nat) *saferith.Nat {
	if m.mont == nil {
		return m.expEven(x, e)
	}
	ew, ebits := expWords(e)
	z := m.words(x)
	m.mont.Exp(z, z, ew, ebits)
	return m.nat(z)
}

// ExpInt returns x^e mod m for a signed exponent, in constant time: it
// leaks the size of m and the announced length of e, not its sign. For a
// negative e, x must be a unit. The result is inverted whatever the sign
// and the inverse kept or not by a constant-time selection.
func (m *Modulus) ExpInt(x *saferith.Nat, e *saferith.Int) *saferith.Nat {
	z := m.Exp(x, e.Abs())
	inv := new(saferith.Nat).ModInverse(z, m.ct)
	return z.CondAssign(e.IsNegative(), inv)
}

// Exp2Int returns x^a · y^b mod m in constant time, as one interleaved
// exponentiation that shares its squarings between the two bases. It leaks
// the size of m and the announced lengths of a and b, not their signs. For
// a negative exponent its base must be a unit. Both inverses come from one
// constant-time inversion of x·y (x⁻¹ = y·(xy)⁻¹, y⁻¹ = x·(xy)⁻¹), so when
// either exponent may be negative both bases must be units.
func (m *Modulus) Exp2Int(x *saferith.Nat, a *saferith.Int, y *saferith.Nat, b *saferith.Int) *saferith.Nat {
	if m.mont == nil {
		u := m.ExpInt(x, a)
		return u.ModMul(u, m.ExpInt(y, b), m.ct)
	}
	xw, yw := m.words(x), m.words(y)
	negA, negB := mont.Word(a.IsNegative()), mont.Word(b.IsNegative())
	xi, yi := m.inverses(xw, yw)
	mont.Select(xw, xi, negA)
	mont.Select(yw, yi, negB)
	aw, abits := expWords(a.Abs())
	bw, bbits := expWords(b.Abs())
	m.mont.Exp2(xw, xw, aw, abits, yw, bw, bbits)
	return m.nat(xw)
}

// expEven returns x^e mod an even m, by a square-and-multiply that always
// multiplies and keeps the product by a constant-time selection. It is slow,
// and no hot path uses even moduli; saferith's own Exp gives wrong results
// for them.
func (m *Modulus) expEven(x, e *saferith.Nat) *saferith.Nat {
	x = new(saferith.Nat).Mod(x, m.ct)
	acc := new(saferith.Nat).Mod(new(saferith.Nat).SetUint64(1), m.ct)
	t := new(saferith.Nat)
	eb := e.Bytes()
	for i := e.AnnouncedLen() - 1; i >= 0; i-- {
		acc.ModMul(acc, acc, m.ct)
		t.ModMul(acc, x, m.ct)
		bit := saferith.Choice(eb[len(eb)-1-i/8]>>(i%8)) & 1
		acc.CondAssign(bit, t)
	}
	clear(eb)
	return acc
}

// exp2 returns x^a · y^b mod m for non-negative exponents, in constant time.
func (m *Modulus) exp2(x, a, y, b *saferith.Nat) *saferith.Nat {
	if m.mont == nil {
		u := m.Exp(x, a)
		return u.ModMul(u, m.Exp(y, b), m.ct)
	}
	xw, yw := m.words(x), m.words(y)
	aw, abits := expWords(a)
	bw, bbits := expWords(b)
	m.mont.Exp2(xw, xw, aw, abits, yw, bw, bbits)
	return m.nat(xw)
}

// inverses returns x⁻¹ and y⁻¹ mod m, with one constant-time inversion of
// x·y. They are meaningless (but computed in the same time) unless both x
// and y are units.
func (m *Modulus) inverses(x, y []mont.Word) (xi, yi []mont.Word) {
	xy := make([]mont.Word, len(x))
	m.mont.Mul(xy, x, y)
	inv := m.words(new(saferith.Nat).ModInverse(m.nat(xy), m.ct))
	xi, yi = make([]mont.Word, len(x)), make([]mont.Word, len(x))
	m.mont.Mul(xi, inv, y)
	m.mont.Mul(yi, inv, x)
	return xi, yi
}

// Mul returns x · y mod m in constant time.
func (m *Modulus) Mul(x, y *saferith.Nat) *saferith.Nat {
	if m.mont == nil {
		return new(saferith.Nat).ModMul(x, y, m.ct)
	}
	z := m.words(x)
	m.mont.Mul(z, z, m.words(y))
	return m.nat(z)
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
	// For odd factors with m₁ no longer than m₂ (all the Paillier cases),
	// Combine runs on Montgomery arithmetic modulo m₂.
	m1InvR []mont.Word // m₁⁻¹·R mod m₂, the Montgomery form of m1Inv
	m1w    []mont.Word // m₁ in limbs of m₁
}

// NewCRT prepares CRT arithmetic modulo m1·m2. The factors are secret: it
// leaks only their sizes (and whether they are odd and coprime).
func NewCRT(m1, m2, ord1, ord2 *big.Int) (*CRT, error) {
	a, err := NewModulus(m1)
	if err != nil {
		return nil, err
	}
	b, err := NewModulus(m2)
	if err != nil {
		return nil, err
	}
	m1Nat := new(saferith.Nat).SetBytes(m1.Bytes())
	inv := new(saferith.Nat).ModInverse(m1Nat, b.ct)
	// m₁·m₁⁻¹ ≡ 1 fails exactly when gcd(m₁, m₂) ≠ 1.
	if b.Mul(m1Nat, inv).Eq(new(saferith.Nat).SetUint64(1)) != 1 {
		return nil, errors.New("arith: CRT moduli are not coprime")
	}
	c := &CRT{
		m1: a, m2: b,
		o1:    saferith.ModulusFromBytes(ord1.Bytes()),
		o2:    saferith.ModulusFromBytes(ord2.Bytes()),
		m1Inv: inv,
		prod:  MustModulus(new(big.Int).Mul(m1, m2)),
	}
	if a.mont != nil && b.mont != nil && a.mont.Limbs() <= b.mont.Limbs() {
		c.m1w = a.words(m1Nat)
		c.m1InvR = make([]mont.Word, b.mont.Limbs())
		b.mont.ToMont(c.m1InvR, b.words(inv))
	}
	return c, nil
}

// Modulus returns m₁·m₂.
func (c *CRT) Modulus() *Modulus { return c.prod }

// Factors returns m₁ and m₂.
func (c *CRT) Factors() (*Modulus, *Modulus) { return c.m1, c.m2 }

// Combine returns the x mod m₁·m₂ with x ≡ a₁ (mod m₁), x ≡ a₂ (mod m₂)
// (Garner's formula x = a₁ + m₁·((a₂ − a₁)·m₁⁻¹ mod m₂)), in constant time:
// it leaks only the sizes of the moduli and the announced lengths of a₁, a₂.
func (c *CRT) Combine(a1, a2 *saferith.Nat) *saferith.Nat {
	if c.m1InvR == nil {
		a1mod2 := new(saferith.Nat).Mod(a1, c.m2.ct)
		h := new(saferith.Nat).ModSub(a2, a1mod2, c.m2.ct)
		h.ModMul(h, c.m1Inv, c.m2.ct)
		bits := c.prod.BitLen()
		x := new(saferith.Nat).Mul(h, c.m1.ct.Nat(), bits)
		x.Add(x, a1, bits)
		return x.Mod(x, c.prod.ct)
	}
	k1, k2 := c.m1.mont.Limbs(), c.m2.mont.Limbs()
	r1 := c.m1.words(a1)
	c.m1.mont.Reduce(r1, r1)
	// u₁ = a₁·m₁⁻¹ and u₂ = a₂·m₁⁻¹ mod m₂: a Montgomery product with
	// m₁⁻¹·R reduces any operand below R, so a₁ needs no reduction mod m₂.
	r1w := make([]mont.Word, k2)
	copy(r1w, r1)
	u1, u2 := make([]mont.Word, k2), make([]mont.Word, k2)
	c.m2.mont.MontMul(u1, r1w, c.m1InvR)
	c.m2.mont.MontMul(u2, c.m2.words(a2), c.m1InvR)
	c.m2.mont.Sub(u2, u2, u1)
	// x = a₁ + m₁·h < m₁ + m₁·(m₂ − 1) = m₁·m₂, so x needs no reduction.
	x := make([]mont.Word, k1+k2)
	mont.MulAdd(x, c.m1w, u2, r1)
	buf := make([]byte, (c.prod.BitLen()+7)/8)
	mont.FillBytes(buf, x)
	z := new(saferith.Nat).SetBytes(buf).Resize(c.prod.BitLen())
	clear(buf)
	return z
}

// ExpInt returns x^e mod m₁·m₂ for a unit x, in constant time: it leaks the
// sizes of the moduli and of ord₁, ord₂ and the announced length of e.
//
// An exponent announced shorter than the orders is used as it is: reducing
// it would lengthen it to the orders' size (a 257-bit challenge to 1024 bits).
func (c *CRT) ExpInt(x *saferith.Nat, e *saferith.Int) *saferith.Nat {
	if c.short(e) {
		return c.Combine(c.m1.ExpInt(x, e), c.m2.ExpInt(x, e))
	}
	r1 := c.m1.Exp(x, e.Mod(c.o1))
	r2 := c.m2.Exp(x, e.Mod(c.o2))
	return c.Combine(r1, r2)
}

// short reports whether e's announced length is below both orders', which
// depends only on public sizes.
func (c *CRT) short(e *saferith.Int) bool {
	return e.AnnouncedLen() < c.o1.BitLen() && e.AnnouncedLen() < c.o2.BitLen()
}

// Exp returns x^e mod m₁·m₂ for a unit x, in constant time, with the
// leakage of ExpInt.
func (c *CRT) Exp(x, e *saferith.Nat) *saferith.Nat {
	return c.ExpInt(x, new(saferith.Int).SetNat(e))
}

// Exp2Int returns x^a · y^b mod m₁·m₂ for units x, y, in constant time: it
// leaks the sizes of the moduli and of ord₁, ord₂ and the announced lengths
// of a and b. The reduced exponents are non-negative, so no inversion is
// needed.
func (c *CRT) Exp2Int(x *saferith.Nat, a *saferith.Int, y *saferith.Nat, b *saferith.Int) *saferith.Nat {
	if c.short(a) && c.short(b) {
		return c.Combine(c.m1.Exp2Int(x, a, y, b), c.m2.Exp2Int(x, a, y, b))
	}
	r1 := c.m1.exp2(x, a.Mod(c.o1), y, b.Mod(c.o1))
	r2 := c.m2.exp2(x, a.Mod(c.o2), y, b.Mod(c.o2))
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
	return SampleBelow(rand, m.ct)
}

// SampleBelow is SampleMod for a modulus that is itself secret, such as
// φ(N) or p − 1; only its size leaks.
func SampleBelow(rand io.Reader, m *saferith.Modulus) (*saferith.Nat, error) {
	buf := make([]byte, (m.BitLen()+128+7)/8)
	if _, err := io.ReadFull(rand, buf); err != nil {
		return nil, err
	}
	x := new(saferith.Nat).SetBytes(buf)
	clear(buf)
	return x.Mod(x, m), nil
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
