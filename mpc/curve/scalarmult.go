package curve

import (
	"crypto/subtle"
	"sync"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// The constant-time scalar multiplications split the scalar into 65 signed
// base-16 digits and add one table entry per digit. Which entry is used is the
// secret, so a lookup reads the whole table and the group law has no branch:
// the running time and the memory access pattern are the same for every
// scalar and every point.

// digitCount is the number of signed base-16 digits of a scalar: 64 for its
// 256 bits and one for the carry out of the top digit.
const digitCount = 65

// digits returns the signed base-16 digits of s, least significant first:
// s = Σ d_i·16^i with −8 ≤ d_i < 8 for i < 64 and d_64 ∈ {0, 1}. Signed
// digits let a table hold only 1·P … 8·P, half of what unsigned ones need.
func digits(s *Scalar) [digitCount]int32 {
	b := s.s.Bytes()
	var d [digitCount]int32
	var carry int32
	for i := range 64 {
		v := int32(b[31-i/2]>>(4*(i%2))&0xf) + carry
		// carry is 1 exactly when v ≥ 8, and v ≤ 16.
		carry = (v + 8) >> 4
		d[i] = v - carry<<4
	}
	d[64] = carry
	clear(b[:])
	return d
}

// table holds the multiples 1·P, 2·P, …, 8·P of a point P.
type table [8]packedPoint

// init fills t with the multiples of p.
func (t *table) init(p *projective) {
	var multiples [8]projective
	multiples[0] = *p
	for i := 1; i < 8; i++ {
		if i%2 == 1 {
			multiples[i].double(&multiples[i/2])
		} else {
			multiples[i].add(&multiples[i-1], p)
		}
	}
	for i := range multiples {
		t[i].pack(&multiples[i])
	}
}

// lookup sets v = d·P for −8 ≤ d ≤ 8 and returns v. It reads every entry
// and keeps the wanted one with a mask, so neither its running time nor the
// addresses it touches depend on d.
func (t *table) lookup(v *projective, d int32) *projective {
	neg := uint32(d) >> 31
	abs := (d ^ -int32(neg)) + int32(neg)
	e := packedIdentity
	for i := range t {
		mask := -uint64(subtle.ConstantTimeEq(abs, int32(i+1)))
		for k := range e {
			e[k] ^= mask & (e[k] ^ t[i][k])
		}
	}
	e.unpack(v)
	return v.condNegate(neg)
}

// baseTables returns the tables BaseMul reads, built on first use.
var baseTables = sync.OnceValue(newBaseTables)

// newBaseTables returns, for each digit position i, the table of the
// multiples of 16^i·G, so that BaseMul needs no doubling. The 65 tables take
// 50 kB and are computed from public values only.
func newBaseTables() *[digitCount]table {
	tables := new([digitCount]table)
	var p projective
	p.fromPoint(Generator())
	for i := range tables {
		tables[i].init(&p)
		for range 4 {
			p.double(&p)
		}
	}
	return tables
}

// BaseMul returns s·G in constant time: the time it takes and the memory it
// reads do not depend on s, which may be a secret key share or nonce.
func BaseMul(s *Scalar) *Point {
	tables := baseTables()
	d := digits(s)
	var acc, e projective
	acc.setIdentity()
	for i := range d {
		acc.add(&acc, tables[i].lookup(&e, d[i]))
	}
	clear(d[:])
	return acc.point()
}

// Mul returns s·p in constant time: the time it takes and the memory it reads
// depend on neither s nor p.
func (p *Point) Mul(s *Scalar) *Point {
	var t table
	var acc, e projective
	t.init(acc.fromPoint(p))
	d := digits(s)
	t.lookup(&acc, d[digitCount-1])
	for i := digitCount - 2; i >= 0; i-- {
		acc.double(&acc)
		acc.double(&acc)
		acc.double(&acc)
		acc.double(&acc)
		acc.add(&acc, t.lookup(&e, d[i]))
	}
	clear(d[:])
	return acc.point()
}

// BaseMulVarTime returns s·G. Its running time depends on s, so it is only
// for a public scalar, as in signature or proof verification.
func BaseMulVarTime(s *Scalar) *Point {
	r := new(Point)
	secp256k1.ScalarBaseMultNonConst(&s.s, &r.p)
	return r.normalize()
}

// MulVarTime returns s·p. Its running time depends on s and p, so it is only
// for public values, as in signature or proof verification.
func (p *Point) MulVarTime(s *Scalar) *Point {
	r := new(Point)
	secp256k1.ScalarMultNonConst(&s.s, &p.p, &r.p)
	return r.normalize()
}

// MulAddVarTime returns a·G + b·P, the combination a verifier computes. Its
// running time depends on a, b and P, so it is only for public values.
func MulAddVarTime(a *Scalar, P *Point, b *Scalar) *Point {
	var aG, bP, r secp256k1.JacobianPoint
	secp256k1.ScalarBaseMultNonConst(&a.s, &aG)
	secp256k1.ScalarMultNonConst(&b.s, &P.p, &bP)
	secp256k1.AddNonConst(&aG, &bP, &r)
	return (&Point{p: r}).normalize()
}
