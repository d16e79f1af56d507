package curve

import (
	"bytes"
	"crypto/rand"
	"math/big"
	"testing"
)

func TestScalarArithmetic(t *testing.T) {
	a, _ := RandomScalar(rand.Reader)
	b, _ := RandomScalar(rand.Reader)
	q := Order()
	sum := new(big.Int).Add(a.BigVarTime(), b.BigVarTime())
	if a.Add(b).BigVarTime().Cmp(sum.Mod(sum, q)) != 0 {
		t.Fatal("add")
	}
	prod := new(big.Int).Mul(a.BigVarTime(), b.BigVarTime())
	if a.Mul(b).BigVarTime().Cmp(prod.Mod(prod, q)) != 0 {
		t.Fatal("mul")
	}
	if !a.Mul(a.Inverse()).Equal(ScalarFromUint64(1)) {
		t.Fatal("inverse")
	}
	if !a.Sub(a).IsZero() || !a.Add(a.Negate()).IsZero() {
		t.Fatal("sub/negate")
	}
	if !ScalarFromInt(a.Int()).Equal(a) {
		t.Fatal("int round trip")
	}
	neg := new(big.Int).Neg(a.BigVarTime())
	if !ScalarFromBigVarTime(neg).Equal(a.Negate()) {
		t.Fatal("negative reduction")
	}
}

func TestScalarDecodeRejectsOverflow(t *testing.T) {
	if _, err := ScalarFromBytes(q32()); err == nil {
		t.Fatal("q accepted as a scalar")
	}
	if _, err := ScalarFromBytes(make([]byte, 31)); err == nil {
		t.Fatal("short scalar accepted")
	}
}

func q32() []byte {
	b := make([]byte, 32)
	return Order().FillBytes(b)
}

func TestPointEncoding(t *testing.T) {
	a, _ := RandomScalar(rand.Reader)
	P := BaseMul(a)
	Q, err := ParsePoint(P.Bytes())
	if err != nil || !Q.Equal(P) {
		t.Fatalf("round trip: %v", err)
	}
	if !bytes.Equal(Q.Bytes(), P.Bytes()) {
		t.Fatal("re-encoding differs")
	}
	bad := P.Bytes()
	bad[0] = 0x04
	if _, err := ParsePoint(bad); err == nil {
		t.Fatal("bad prefix accepted")
	}
	// x = 5 is not the x coordinate of a secp256k1 point (5³+7 = 132 is a
	// non-residue), so decompression must fail.
	off := make([]byte, 33)
	off[0], off[32] = 0x02, 5
	if _, err := ParsePoint(off); err == nil {
		t.Fatal("point off the curve accepted")
	}
}

func TestPointArithmetic(t *testing.T) {
	a, _ := RandomScalar(rand.Reader)
	b, _ := RandomScalar(rand.Reader)
	A, B := BaseMul(a), BaseMul(b)
	if !A.Add(B).Equal(BaseMul(a.Add(b))) {
		t.Fatal("aG + bG != (a+b)G")
	}
	if !A.Mul(b).Equal(B.Mul(a)) {
		t.Fatal("b(aG) != a(bG)")
	}
	if !A.Sub(A).IsIdentity() {
		t.Fatal("A - A is not the identity")
	}
	if !A.Add(Identity()).Equal(A) {
		t.Fatal("A + O != A")
	}
	if !Generator().Mul(a).Equal(A) {
		t.Fatal("G·a != BaseMul(a)")
	}
}
