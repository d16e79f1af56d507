// Package curve wraps the secp256k1 group for the protocol code: scalars
// modulo the group order q and points, with the encodings and validity checks
// the protocol relies on (points are never the identity when they arrive from
// a peer, scalars are always reduced).
package curve

import (
	"errors"
	"io"
	"math/big"

	"github.com/cronokirby/saferith"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// ScalarSize is the size of an encoded scalar; PointSize of an encoded point.
const (
	ScalarSize = 32
	PointSize  = 33
)

var (
	order    = secp256k1.S256().N
	orderMod = saferith.ModulusFromBytes(order.Bytes())
)

// Order returns q, the order of the group. The caller must not modify it.
func Order() *big.Int { return order }

// OrderModulus returns q as a saferith modulus, for constant-time reduction.
func OrderModulus() *saferith.Modulus { return orderMod }

var (
	errScalarRange = errors.New("curve: scalar is not below the group order")
	errScalarSize  = errors.New("curve: scalar must be 32 bytes")
	errPointSize   = errors.New("curve: point must be 33 bytes")
	errPointPrefix = errors.New("curve: point is not in compressed form")
	errNotOnCurve  = errors.New("curve: point is not on the curve")
	errIdentity    = errors.New("curve: point is the identity")
)

// Scalar is an element of Z_q. The zero value is 0. Arithmetic on scalars is
// constant time.
type Scalar struct{ s secp256k1.ModNScalar }

// RandomScalar returns a uniform non-zero scalar, by rejection sampling.
func RandomScalar(rand io.Reader) (*Scalar, error) {
	var buf [32]byte
	for {
		if _, err := io.ReadFull(rand, buf[:]); err != nil {
			return nil, err
		}
		s := new(Scalar)
		overflow := s.s.SetBytes(&buf)
		if overflow == 0 && !s.s.IsZero() {
			clear(buf[:])
			return s, nil
		}
	}
}

// ScalarFromBytes decodes a 32-byte big-endian scalar and rejects values ≥ q.
func ScalarFromBytes(b []byte) (*Scalar, error) {
	if len(b) != ScalarSize {
		return nil, errScalarSize
	}
	var buf [32]byte
	copy(buf[:], b)
	s := new(Scalar)
	if s.s.SetBytes(&buf) != 0 {
		return nil, errScalarRange
	}
	return s, nil
}

// ScalarFromBytesReduce reduces a 32-byte big-endian integer modulo q; a hash
// digest becomes a message scalar this way.
func ScalarFromBytesReduce(b *[32]byte) *Scalar {
	s := new(Scalar)
	s.s.SetBytes(b)
	return s
}

// ScalarFromBigVarTime reduces a public integer (of either sign) into Z_q.
// It is not constant time: only for public values.
func ScalarFromBigVarTime(x *big.Int) *Scalar {
	v := new(big.Int).Mod(x, order)
	var buf [32]byte
	v.FillBytes(buf[:])
	s := new(Scalar)
	s.s.SetBytes(&buf)
	return s
}

// ScalarFromInt reduces a secret signed integer into Z_q in constant time.
func ScalarFromInt(x *saferith.Int) *Scalar {
	return ScalarFromNat(x.Mod(orderMod))
}

// ScalarFromNat reduces a secret natural number into Z_q in constant time.
func ScalarFromNat(x *saferith.Nat) *Scalar {
	r := new(saferith.Nat).Mod(x, orderMod)
	var buf [32]byte
	r.FillBytes(buf[:])
	s := new(Scalar)
	s.s.SetBytes(&buf)
	clear(buf[:])
	return s
}

// ScalarFromUint64 returns the scalar v.
func ScalarFromUint64(v uint32) *Scalar {
	s := new(Scalar)
	s.s.SetInt(v)
	return s
}

// Bytes returns the 32-byte big-endian encoding.
func (s *Scalar) Bytes() []byte {
	b := s.s.Bytes()
	return b[:]
}

// Nat returns the scalar as a saferith natural number in [0, q).
func (s *Scalar) Nat() *saferith.Nat {
	b := s.s.Bytes()
	n := new(saferith.Nat).SetBytes(b[:])
	clear(b[:])
	return n.Resize(256)
}

// Int returns the scalar as a non-negative saferith integer in [0, q).
func (s *Scalar) Int() *saferith.Int { return new(saferith.Int).SetNat(s.Nat()) }

// BigVarTime returns the scalar as a big.Int, for public values only.
func (s *Scalar) BigVarTime() *big.Int {
	b := s.s.Bytes()
	return new(big.Int).SetBytes(b[:])
}

// Add returns s + t.
func (s *Scalar) Add(t *Scalar) *Scalar {
	r := new(Scalar)
	r.s.Add2(&s.s, &t.s)
	return r
}

// Sub returns s − t.
func (s *Scalar) Sub(t *Scalar) *Scalar {
	var neg secp256k1.ModNScalar
	neg.NegateVal(&t.s)
	r := new(Scalar)
	r.s.Add2(&s.s, &neg)
	return r
}

// Mul returns s · t.
func (s *Scalar) Mul(t *Scalar) *Scalar {
	r := new(Scalar)
	r.s.Mul2(&s.s, &t.s)
	return r
}

// Negate returns −s.
func (s *Scalar) Negate() *Scalar {
	r := new(Scalar)
	r.s.NegateVal(&s.s)
	return r
}

// Inverse returns s⁻¹ (0 for 0) in constant time, with saferith's inversion
// modulo q: s may be a secret.
func (s *Scalar) Inverse() *Scalar {
	return ScalarFromNat(new(saferith.Nat).ModInverse(s.Nat(), orderMod))
}

// IsZero reports whether s = 0.
func (s *Scalar) IsZero() bool { return s.s.IsZero() }

// IsOverHalfOrder reports whether s > (q−1)/2, the test for a high-s signature.
func (s *Scalar) IsOverHalfOrder() bool { return s.s.IsOverHalfOrder() }

// Equal reports whether s = t, in constant time.
func (s *Scalar) Equal(t *Scalar) bool { return s.s.Equals(&t.s) }

// Set copies t into s and returns s.
func (s *Scalar) Set(t *Scalar) *Scalar { s.s.Set(&t.s); return s }

// Zero overwrites the scalar with 0, to wipe a secret.
func (s *Scalar) Zero() {
	if s != nil {
		s.s.Zero()
	}
}

// Point is a point of secp256k1, kept in affine form. The zero value is not a
// valid point; use Identity.
type Point struct {
	p secp256k1.JacobianPoint
}

// Identity returns the point at infinity.
func Identity() *Point {
	p := new(Point)
	p.p.X.SetInt(0)
	p.p.Y.SetInt(0)
	p.p.Z.SetInt(0)
	return p
}

// Generator returns G.
func Generator() *Point {
	var x, y [32]byte
	params := secp256k1.S256().Params()
	params.Gx.FillBytes(x[:])
	params.Gy.FillBytes(y[:])
	r := new(Point)
	r.p.X.SetBytes(&x)
	r.p.Y.SetBytes(&y)
	r.p.Z.SetInt(1)
	return r
}

// normalize brings a result of decred's variable-time arithmetic to the form
// Point keeps. decred marks the identity either by Z = 0, possibly not
// normalized, or by X = Y = 0 with any Z (ScalarBaseMultNonConst returns
// (0, 0, 1) for 0·G); (0, 0) is not on the curve, so both mean the identity.
func (p *Point) normalize() *Point {
	p.p.X.Normalize()
	p.p.Y.Normalize()
	if p.p.Z.Normalize().IsZero() || (p.p.X.IsZero() && p.p.Y.IsZero()) {
		p.p.Z.SetInt(0)
		p.p.X.SetInt(0)
		p.p.Y.SetInt(0)
		return p
	}
	p.p.ToAffine()
	return p
}

// Add returns p + q in constant time.
func (p *Point) Add(q *Point) *Point {
	var a, b projective
	a.fromPoint(p)
	b.fromPoint(q)
	return a.add(&a, &b).point()
}

// Sub returns p − q.
func (p *Point) Sub(q *Point) *Point { return p.Add(q.Negate()) }

// Negate returns −p.
func (p *Point) Negate() *Point {
	r := new(Point)
	r.p.Set(&p.p)
	// The identity has Y = 0, which negates to 0: no branch is needed.
	r.p.Y.Negate(1).Normalize()
	return r
}

// IsIdentity reports whether p is the point at infinity.
func (p *Point) IsIdentity() bool { return p.p.Z.IsZero() }

// Equal reports whether p = q.
func (p *Point) Equal(q *Point) bool {
	if p.IsIdentity() || q.IsIdentity() {
		return p.IsIdentity() == q.IsIdentity()
	}
	return p.p.X.Equals(&q.p.X) && p.p.Y.Equals(&q.p.Y)
}

// Bytes returns the 33-byte SEC1 compressed encoding. It panics on the
// identity, which the protocol rejects before it could be encoded.
func (p *Point) Bytes() []byte {
	if p.IsIdentity() {
		panic("curve: internal error: encoding the identity")
	}
	out := make([]byte, PointSize)
	out[0] = 0x02
	if p.p.Y.IsOdd() {
		out[0] = 0x03
	}
	p.p.X.PutBytesUnchecked(out[1:])
	return out
}

// UncompressedBytes returns the 65-byte SEC1 uncompressed encoding, the form
// from which an Ethereum address is derived.
func (p *Point) UncompressedBytes() []byte {
	if p.IsIdentity() {
		panic("curve: internal error: encoding the identity")
	}
	out := make([]byte, 65)
	out[0] = 0x04
	p.p.X.PutBytesUnchecked(out[1:33])
	p.p.Y.PutBytesUnchecked(out[33:65])
	return out
}

// ParsePoint decodes a compressed point and rejects the identity and points
// not on the curve.
func ParsePoint(b []byte) (*Point, error) {
	if len(b) != PointSize {
		return nil, errPointSize
	}
	if b[0] != 0x02 && b[0] != 0x03 {
		return nil, errPointPrefix
	}
	r := new(Point)
	if overflow := r.p.X.SetByteSlice(b[1:]); overflow {
		return nil, errNotOnCurve
	}
	if !secp256k1.DecompressY(&r.p.X, b[0] == 0x03, &r.p.Y) {
		return nil, errNotOnCurve
	}
	r.p.Y.Normalize()
	r.p.Z.SetInt(1)
	if r.IsIdentity() {
		return nil, errIdentity
	}
	return r, nil
}

// XBytes returns the affine x coordinate, 32 bytes big-endian.
func (p *Point) XBytes() []byte {
	out := make([]byte, 32)
	p.p.X.PutBytesUnchecked(out)
	return out
}

// XScalar returns the x coordinate reduced mod q, and whether x ≥ q (the case
// an Ethereum recovery id cannot express).
func (p *Point) XScalar() (r *Scalar, overflow bool) {
	var buf [32]byte
	p.p.X.PutBytesUnchecked(buf[:])
	r = new(Scalar)
	return r, r.s.SetBytes(&buf) != 0
}

// YIsOdd reports whether the affine y coordinate is odd.
func (p *Point) YIsOdd() bool { return p.p.Y.IsOdd() }
