package curve

import (
	"crypto/rand"
	"math/big"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

func randomScalar(t testing.TB) *Scalar {
	t.Helper()
	s, err := RandomScalar(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func randomPoint(t testing.TB) *Point { return BaseMulVarTime(randomScalar(t)) }

func scalarFromBig(x *big.Int) *Scalar { return ScalarFromBigVarTime(x) }

// edgeScalars are scalars whose digits hit the ends of the signed range, the
// carry out of the top digit, and values next to 0 and q.
func edgeScalars() map[string]*Scalar {
	q := Order()
	pow := func(e uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), e) }
	sub := func(a *big.Int, b int64) *big.Int { return new(big.Int).Sub(a, big.NewInt(b)) }
	rep := func(nibble byte) *big.Int {
		var b [32]byte
		for i := range b {
			b[i] = nibble<<4 | nibble
		}
		return new(big.Int).SetBytes(b[:])
	}
	m := map[string]*big.Int{
		"0": big.NewInt(0), "1": big.NewInt(1), "2": big.NewInt(2),
		"7": big.NewInt(7), "8": big.NewInt(8), "9": big.NewInt(9),
		"15": big.NewInt(15), "16": big.NewInt(16), "17": big.NewInt(17),
		"0x88": big.NewInt(0x88), "0xff": big.NewInt(0xff),
		"q-1": sub(q, 1), "q-2": sub(q, 2), "q-8": sub(q, 8), "q-9": sub(q, 9),
		"q-16": sub(q, 16), "(q-1)/2": new(big.Int).Rsh(q, 1),
		"2^255": pow(255), "2^255-1": sub(pow(255), 1), "2^252": pow(252),
		"8·16^63": new(big.Int).Lsh(big.NewInt(8), 252),
		"0x77…77": rep(7), "0x88…88": rep(8),
		"2^256-1 mod q": new(big.Int).Mod(sub(pow(256), 1), q),
	}
	out := make(map[string]*Scalar, len(m))
	for name, v := range m {
		out[name] = scalarFromBig(v)
	}
	return out
}

func TestDigits(t *testing.T) {
	check := func(name string, s *Scalar) {
		d := digits(s)
		sum := new(big.Int)
		for i := digitCount - 1; i >= 0; i-- {
			if i < 64 && (d[i] < -8 || d[i] > 7) {
				t.Fatalf("%s: digit %d = %d out of range", name, i, d[i])
			}
			sum.Lsh(sum, 4).Add(sum, big.NewInt(int64(d[i])))
		}
		if d[64] != 0 && d[64] != 1 {
			t.Fatalf("%s: top digit %d", name, d[64])
		}
		if sum.Cmp(s.BigVarTime()) != 0 {
			t.Fatalf("%s: digits sum to %x, want %x", name, sum, s.BigVarTime())
		}
	}
	for name, s := range edgeScalars() {
		check(name, s)
	}
	for range 100 {
		check("random", randomScalar(t))
	}
	if d := digits(scalarFromBig(new(big.Int).Sub(Order(), big.NewInt(1)))); d[64] != 1 {
		t.Fatal("q − 1 does not carry out of the top digit")
	}
}

func TestLookup(t *testing.T) {
	P := randomPoint(t)
	var p, v projective
	var tab table
	tab.init(p.fromPoint(P))
	for d := int32(-8); d <= 8; d++ {
		want := P.MulVarTime(scalarFromBig(big.NewInt(int64(d))))
		if got := tab.lookup(&v, d).point(); !got.Equal(want) {
			t.Errorf("lookup(%d) is not %d·P", d, d)
		}
	}

	tables := baseTables()
	for _, i := range []int{0, 1, 31, 63, 64} {
		base := new(big.Int).Lsh(big.NewInt(1), uint(4*i))
		for d := int32(-8); d <= 8; d++ {
			k := new(big.Int).Mul(base, big.NewInt(int64(d)))
			want := BaseMulVarTime(scalarFromBig(k))
			if got := tables[i].lookup(&v, d).point(); !got.Equal(want) {
				t.Errorf("base table %d: lookup(%d) is not %d·16^%d·G", i, d, d, i)
			}
		}
	}
}

func TestBaseMulMatchesVarTime(t *testing.T) {
	for name, s := range edgeScalars() {
		if !BaseMul(s).Equal(BaseMulVarTime(s)) {
			t.Errorf("BaseMul(%s) differs from BaseMulVarTime", name)
		}
	}
	for range 200 {
		s := randomScalar(t)
		if got, want := BaseMul(s), BaseMulVarTime(s); !got.Equal(want) {
			t.Fatalf("BaseMul(%x) = %x, want %x", s.Bytes(), got.Bytes(), want.Bytes())
		}
	}
	if !BaseMul(ScalarFromUint64(1)).Equal(Generator()) {
		t.Fatal("1·G is not G")
	}
	if !BaseMul(new(Scalar)).IsIdentity() {
		t.Fatal("0·G is not the identity")
	}
}

func TestMulMatchesVarTime(t *testing.T) {
	points := []*Point{Generator(), randomPoint(t), randomPoint(t)}
	for name, s := range edgeScalars() {
		for _, P := range points {
			if !P.Mul(s).Equal(P.MulVarTime(s)) {
				t.Errorf("Mul(%s) differs from MulVarTime", name)
			}
		}
	}
	for range 200 {
		s, P := randomScalar(t), randomPoint(t)
		if got, want := P.Mul(s), P.MulVarTime(s); !got.Equal(want) {
			t.Fatalf("%x·%x = %x, want %x", s.Bytes(), P.Bytes(), got.Bytes(), want.Bytes())
		}
	}
	q1 := scalarFromBig(new(big.Int).Sub(Order(), big.NewInt(1)))
	P := randomPoint(t)
	if !P.Mul(q1).Equal(P.Negate()) {
		t.Fatal("(q − 1)·P is not −P")
	}
}

func TestIdentityInput(t *testing.T) {
	O := Identity()
	for name, s := range edgeScalars() {
		if !O.Mul(s).IsIdentity() {
			t.Errorf("%s·O is not the identity", name)
		}
	}
	if !O.Mul(randomScalar(t)).IsIdentity() {
		t.Fatal("s·O is not the identity")
	}
	if !randomPoint(t).Mul(new(Scalar)).IsIdentity() {
		t.Fatal("0·P is not the identity")
	}
	if !O.Add(O).IsIdentity() {
		t.Fatal("O + O is not the identity")
	}
	if !O.Negate().IsIdentity() {
		t.Fatal("−O is not the identity")
	}
	// The zero value of Point has Z = 0 and reads as the identity too.
	if !new(Point).Mul(ScalarFromUint64(5)).IsIdentity() {
		t.Fatal("s·(zero Point) is not the identity")
	}
}

// scaled returns p with every coordinate multiplied by a random λ ≠ 0: the
// same point with Z ≠ 1, which the formulas must handle like any other.
func scaled(t *testing.T, p *projective) *projective {
	t.Helper()
	var buf [32]byte
	var lambda secp256k1.FieldVal
	for {
		if _, err := rand.Read(buf[:]); err != nil {
			t.Fatal(err)
		}
		if lambda.SetBytes(&buf) == 0 && !lambda.IsZero() {
			break
		}
	}
	r := new(projective)
	r.x.Mul2(&p.x, &lambda)
	r.y.Mul2(&p.y, &lambda)
	r.z.Mul2(&p.z, &lambda)
	return r
}

func TestCompleteAddition(t *testing.T) {
	P := randomPoint(t)
	twoP := P.MulVarTime(ScalarFromUint64(2))
	var p, o, v projective
	p.fromPoint(P)
	o.setIdentity()

	cases := []struct {
		name string
		got  *projective
		want *Point
	}{
		{"P + P", new(projective).add(&p, &p), twoP},
		{"P + P, other Z", new(projective).add(scaled(t, &p), scaled(t, &p)), twoP},
		{"2·P", new(projective).double(&p), twoP},
		{"2·P, other Z", new(projective).double(scaled(t, &p)), twoP},
		{"P + (−P)", new(projective).add(&p, new(projective).fromPoint(P.Negate())), Identity()},
		{"P + O", new(projective).add(&p, &o), P},
		{"O + P", new(projective).add(&o, scaled(t, &p)), P},
		{"O + O", new(projective).add(&o, &o), Identity()},
		{"2·O", new(projective).double(&o), Identity()},
	}
	for _, c := range cases {
		if !c.got.point().Equal(c.want) {
			t.Errorf("%s is wrong", c.name)
		}
	}

	// In place, as the scalar multiplication loops use them.
	v = p
	if !v.add(&v, &v).point().Equal(twoP) {
		t.Error("v.add(v, v) is not 2·P")
	}
	v = p
	if !v.double(&v).point().Equal(twoP) {
		t.Error("v.double(v) is not 2·P")
	}
}

// TestMulDoublesInsideLoop runs a scalar for which the last addition of Mul's
// loop adds a point to itself, so the result is right only if the addition
// formula also doubles.
func TestMulDoublesInsideLoop(t *testing.T) {
	s := scalarFromBig(new(big.Int).Sub(Order(), big.NewInt(2)))
	d := digits(s)
	// Before the last addition the accumulator holds (s − d_0)·P; the
	// addition adds d_0·P.
	d0 := scalarFromBig(big.NewInt(int64(d[0])))
	P := randomPoint(t)
	if acc, entry := P.MulVarTime(s.Sub(d0)), P.MulVarTime(d0); !acc.Equal(entry) || acc.IsIdentity() {
		t.Fatal("q − 2 does not make the loop add a point to itself")
	}
	if !P.Mul(s).Equal(P.MulVarTime(s)) {
		t.Fatal("(q − 2)·P is wrong")
	}
}

func TestAddMatchesVarTime(t *testing.T) {
	for range 50 {
		P, Q := randomPoint(t), randomPoint(t)
		pairs := [][2]*Point{{P, Q}, {P, P}, {P, P.Negate()}, {P, Identity()}, {Identity(), Q}}
		for _, pq := range pairs {
			var want Point
			secp256k1.AddNonConst(&pq[0].p, &pq[1].p, &want.p)
			if !pq[0].Add(pq[1]).Equal(want.normalize()) {
				t.Fatal("Add differs from AddNonConst")
			}
		}
	}
}

func TestMulAddVarTime(t *testing.T) {
	for range 20 {
		a, b, P := randomScalar(t), randomScalar(t), randomPoint(t)
		if !MulAddVarTime(a, P, b).Equal(BaseMul(a).Add(P.Mul(b))) {
			t.Fatal("a·G + b·P is wrong")
		}
	}
	a := randomScalar(t)
	if !MulAddVarTime(a, Generator(), a.Negate()).IsIdentity() {
		t.Fatal("a·G − a·G is not the identity")
	}
}

func TestInverse(t *testing.T) {
	for range 50 {
		s := randomScalar(t)
		want := new(big.Int).ModInverse(s.BigVarTime(), Order())
		if s.Inverse().BigVarTime().Cmp(want) != 0 {
			t.Fatalf("inverse of %x is wrong", s.Bytes())
		}
	}
	if !new(Scalar).Inverse().IsZero() {
		t.Fatal("inverse of 0 is not 0")
	}
	one := ScalarFromUint64(1)
	if !one.Inverse().Equal(one) {
		t.Fatal("inverse of 1 is not 1")
	}
}

func FuzzMul(f *testing.F) {
	f.Add(make([]byte, 32), []byte{1})
	f.Add(new(big.Int).Sub(Order(), big.NewInt(1)).FillBytes(make([]byte, 32)), []byte{2})
	f.Add(new(big.Int).Sub(Order(), big.NewInt(2)).FillBytes(make([]byte, 32)), []byte{7})
	f.Add(make([]byte, 32), make([]byte, 0))
	f.Fuzz(func(t *testing.T, sb, pb []byte) {
		var buf [32]byte
		copy(buf[:], sb)
		s := ScalarFromBytesReduce(&buf)
		// The point is k·G for a k taken from the second input; k = 0 gives
		// the identity.
		buf = [32]byte{}
		copy(buf[:], pb)
		P := BaseMulVarTime(ScalarFromBytesReduce(&buf))
		if got, want := P.Mul(s), P.MulVarTime(s); !got.Equal(want) {
			t.Fatalf("Mul and MulVarTime disagree for s = %x", s.Bytes())
		}
		if got, want := BaseMul(s), BaseMulVarTime(s); !got.Equal(want) {
			t.Fatalf("BaseMul and BaseMulVarTime disagree for s = %x", s.Bytes())
		}
	})
}

func BenchmarkBaseMul(b *testing.B) {
	s := randomScalar(b)
	baseTables()
	for b.Loop() {
		BaseMul(s)
	}
}

func BenchmarkBaseMulVarTime(b *testing.B) {
	s := randomScalar(b)
	for b.Loop() {
		BaseMulVarTime(s)
	}
}

func BenchmarkMul(b *testing.B) {
	s, P := randomScalar(b), randomPoint(b)
	for b.Loop() {
		P.Mul(s)
	}
}

func BenchmarkMulVarTime(b *testing.B) {
	s, P := randomScalar(b), randomPoint(b)
	for b.Loop() {
		P.MulVarTime(s)
	}
}

func BenchmarkMulAddVarTime(b *testing.B) {
	s, t, P := randomScalar(b), randomScalar(b), randomPoint(b)
	for b.Loop() {
		MulAddVarTime(s, P, t)
	}
}

func BenchmarkAdd(b *testing.B) {
	P, Q := randomPoint(b), randomPoint(b)
	for b.Loop() {
		P.Add(Q)
	}
}

func BenchmarkInverse(b *testing.B) {
	s := randomScalar(b)
	for b.Loop() {
		s.Inverse()
	}
}

func BenchmarkBaseTables(b *testing.B) {
	for b.Loop() {
		newBaseTables()
	}
}
