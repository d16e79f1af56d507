package curve

import (
	"encoding/binary"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// b3 is 3·b for secp256k1's equation y² = x³ + 7, the only curve constant the
// complete formulas for a = 0 need.
const b3 = 3 * 7

// projective is a point in homogeneous projective coordinates (X : Y : Z),
// standing for the affine point (X/Z, Y/Z); the identity is (0 : 1 : 0).
//
// The group law below uses the complete formulas of Renes, Costello and Batina,
// "Complete addition formulas for prime order elliptic curves" (EUROCRYPT
// 2016): one formula for every pair of inputs, doubling and the identity
// included, so no branch depends on a point and the field arithmetic of
// secp256k1.FieldVal, which is constant time, is all that runs.
//
// Every coordinate of a projective value has magnitude at most 1, in the
// sense of the FieldVal documentation; each method below keeps that invariant,
// which is what makes the magnitude bounds noted beside the arithmetic hold.
type projective struct {
	x, y, z secp256k1.FieldVal
}

// setIdentity sets v to (0 : 1 : 0) and returns v.
func (v *projective) setIdentity() *projective {
	v.x.Zero()
	v.y.SetInt(1)
	v.z.Zero()
	return v
}

// fromPoint sets v to the affine point p, or to the identity if p is the
// identity, and returns v. It does not branch on p.
func (v *projective) fromPoint(p *Point) *projective {
	var one, zero secp256k1.FieldVal
	one.SetInt(1)

	// Point keeps Z = 1 for a finite point and Z = 0 for the identity; the
	// identity needs a non-zero Y here, which Point does not promise.
	var z secp256k1.FieldVal
	z.Set(&p.p.Z).Normalize()
	inf := z.IsZeroBit()
	fieldSelect(&v.x, &p.p.X, &zero, inf)
	fieldSelect(&v.y, &p.p.Y, &one, inf)
	v.x.Normalize()
	v.y.Normalize()
	v.z.Set(&z)
	return v
}

// point returns v in the affine form Point keeps, using one field inversion.
// It does not branch on v: the inverse of Z = 0 is 0 (Fermat's little
// theorem), which maps the identity to X = Y = 0 as Point stores it.
func (v *projective) point() *Point {
	var zInv secp256k1.FieldVal
	zInv.Set(&v.z).Inverse()
	r := new(Point)
	r.p.X.Mul2(&v.x, &zInv).Normalize()
	r.p.Y.Mul2(&v.y, &zInv).Normalize()
	zInv.Normalize()
	r.p.Z.SetInt(uint16(1 ^ zInv.IsZeroBit()))
	return r
}

// add sets v = p + q and returns v. It is Algorithm 7 of Renes–Costello–
// Batina (complete addition, a = 0), 12 multiplications, regrouped as
//
//	X3 = (X1Y2 + X2Y1)(Y1Y2 − 3bZ1Z2) − 3b(Y1Z2 + Y2Z1)(X1Z2 + X2Z1)
//	Y3 = (Y1Y2 + 3bZ1Z2)(Y1Y2 − 3bZ1Z2) + 9bX1X2(X1Z2 + X2Z1)
//	Z3 = (Y1Z2 + Y2Z1)(Y1Y2 + 3bZ1Z2) + 3X1X2(X1Y2 + X2Y1)
//
// It is correct for all inputs, p = q and p = −q included. v may alias p or q.
func (v *projective) add(p, q *projective) *projective {
	var xx, yy, zz, xy, yz, xz, t secp256k1.FieldVal
	xx.Mul2(&p.x, &q.x) // mag 1
	yy.Mul2(&p.y, &q.y) // mag 1
	zz.Mul2(&p.z, &q.z) // mag 1

	// The cross terms by Karatsuba: X1Y2 + X2Y1 = (X1 + Y1)(X2 + Y2) − X1X2 − Y1Y2.
	xy.Add2(&p.x, &p.y)        // mag 2
	t.Add2(&q.x, &q.y)         // mag 2
	xy.Mul(&t)                 // mag 1
	t.Add2(&xx, &yy).Negate(2) // mag 3
	xy.Add(&t)                 // mag 4
	yz.Add2(&p.y, &p.z)        // mag 2
	t.Add2(&q.y, &q.z)         // mag 2
	yz.Mul(&t)                 // mag 1
	t.Add2(&yy, &zz).Negate(2) // mag 3
	yz.Add(&t)                 // mag 4
	xz.Add2(&p.x, &p.z)        // mag 2
	t.Add2(&q.x, &q.z)         // mag 2
	xz.Mul(&t)                 // mag 1
	t.Add2(&xx, &zz).Negate(2) // mag 3
	xz.Add(&t)                 // mag 4

	var bzz, yyMinus, yyPlus, xx3 secp256k1.FieldVal
	bzz.Set(&zz).MulInt(b3).Normalize() // 3b·Z1Z2, mag 1
	yyMinus.NegateVal(&bzz, 1).Add(&yy) // mag 3
	yyPlus.Add2(&yy, &bzz)              // mag 2
	xx3.Set(&xx).MulInt(3)              // mag 3

	var x3, y3, z3 secp256k1.FieldVal
	x3.Mul2(&xy, &yyMinus)                 // mag 1
	t.Mul2(&yz, &xz).MulInt(b3).Negate(21) // mag 21, then 22
	x3.Add(&t).Normalize()                 // mag 23, then 1

	y3.Mul2(&yyPlus, &yyMinus)   // mag 1
	t.Mul2(&xx3, &xz).MulInt(b3) // mag 21
	y3.Add(&t).Normalize()       // mag 22, then 1

	z3.Mul2(&yz, &yyPlus)  // mag 1
	t.Mul2(&xx3, &xy)      // mag 1
	z3.Add(&t).Normalize() // mag 2, then 1

	v.x.Set(&x3)
	v.y.Set(&y3)
	v.z.Set(&z3)
	return v
}

// double sets v = 2·p and returns v. It is Algorithm 9 of Renes–Costello–
// Batina (doubling, a = 0), 6 multiplications and 2 squarings:
//
//	X3 = 2XY(Y² − 9bZ²)
//	Y3 = (Y² − 9bZ²)(Y² + 3bZ²) + 24bY²Z²
//	Z3 = 8Y³Z
//
// It agrees with add(p, p) and is correct for the identity. v may alias p.
func (v *projective) double(p *projective) *projective {
	var yy, zz, xy2, bzz, yyMinus, yyPlus, t secp256k1.FieldVal
	yy.SquareVal(&p.y)                             // mag 1
	zz.SquareVal(&p.z)                             // mag 1
	xy2.Mul2(&p.x, &p.y).MulInt(2)                 // mag 2
	bzz.Set(&zz).MulInt(b3).Normalize()            // 3b·Z², mag 1
	yyMinus.Set(&bzz).MulInt(3).Negate(3).Add(&yy) // Y² − 9bZ², mag 5
	yyPlus.Add2(&yy, &bzz)                         // Y² + 3bZ², mag 2

	var x3, y3, z3 secp256k1.FieldVal
	x3.Mul2(&xy2, &yyMinus) // mag 1

	y3.Mul2(&yyPlus, &yyMinus)  // mag 1
	t.Mul2(&yy, &bzz).MulInt(8) // 24b·Y²Z², mag 8
	y3.Add(&t).Normalize()      // mag 9, then 1

	z3.Mul2(&yy, &p.y).Mul(&p.z).MulInt(8).Normalize() // mag 8, then 1

	v.x.Set(&x3)
	v.y.Set(&y3)
	v.z.Set(&z3)
	return v
}

// condNegate sets v = −v if neg is 1 and leaves it if neg is 0, without
// branching on neg, and returns v.
func (v *projective) condNegate(neg uint32) *projective {
	var minusY secp256k1.FieldVal
	minusY.NegateVal(&v.y, 1) // mag 2
	fieldSelect(&v.y, &v.y, &minusY, neg)
	v.y.Normalize()
	return v
}

// fieldSelect sets f = a if bit is 0 and f = b if bit is 1, without branching
// on bit. FieldVal keeps its limbs unexported, so the choice is made with the
// field's own constant-time operations: f = a·(1 − bit) + b·bit. The result's
// magnitude is at most the sum of those of a and b. f may alias a or b.
func fieldSelect(f, a, b *secp256k1.FieldVal, bit uint32) {
	var t secp256k1.FieldVal
	t.Set(b).MulInt(uint8(bit))
	f.Set(a).MulInt(uint8(1 ^ bit)).Add(&t)
}

// packedPoint holds a projective point's normalized coordinates X, Y, Z as
// twelve 64-bit words (four big-endian words each). Tables keep points in this
// form because a constant-time lookup has to touch every entry and keep one
// with masks, which needs access to the representation that FieldVal hides.
type packedPoint [12]uint64

// packedIdentity is (0 : 1 : 0).
var packedIdentity = packedPoint{7: 1}

// pack stores p in e.
func (e *packedPoint) pack(p *projective) {
	var b [32]byte
	var f secp256k1.FieldVal
	for i, c := range [3]*secp256k1.FieldVal{&p.x, &p.y, &p.z} {
		f.Set(c).Normalize().PutBytes(&b)
		for k := range 4 {
			e[4*i+k] = binary.BigEndian.Uint64(b[8*k:])
		}
	}
}

// unpack sets p to the point stored in e.
func (e *packedPoint) unpack(p *projective) {
	var b [32]byte
	for i, c := range [3]*secp256k1.FieldVal{&p.x, &p.y, &p.z} {
		for k := range 4 {
			binary.BigEndian.PutUint64(b[8*k:], e[4*i+k])
		}
		// The words came from a normalized value, so there is no overflow.
		c.SetBytes(&b)
	}
}
