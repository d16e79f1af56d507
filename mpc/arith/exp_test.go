package arith

import (
	"crypto/rand"
	"math/big"
	"testing"

	"github.com/cronokirby/saferith"
)

// randBits returns a uniform integer below 2^bits.
func randBits(t testing.TB, bits int) *big.Int {
	t.Helper()
	x, err := rand.Int(rand.Reader, new(big.Int).Lsh(one, uint(bits)))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// randOdd returns a random odd modulus of exactly bits bits.
func randOdd(t testing.TB, bits int) *big.Int {
	n := randBits(t, bits)
	n.SetBit(n, bits-1, 1)
	return n.SetBit(n, 0, 1)
}

// natOf returns x announced with bits bits (x must fit).
func natOf(x *big.Int, bits int) *saferith.Nat {
	return new(saferith.Nat).SetBig(x, bits)
}

// intOf returns the signed x announced with bits bits for its magnitude.
func intOf(x *big.Int, bits int) *saferith.Int {
	return new(saferith.Int).SetBig(x, bits)
}

// testBases returns the edge-case bases 0, 1, m−1, a random value, a value
// of the size of m above it when possible, and one longer than m.
func testBases(t testing.TB, n *big.Int) []*saferith.Nat {
	bits := n.BitLen()
	r, _ := rand.Int(rand.Reader, n)
	above := new(big.Int).Sub(new(big.Int).Lsh(one, uint(bits)), one) // 2^bits − 1 ≥ m
	return []*saferith.Nat{
		natOf(big.NewInt(0), bits),
		natOf(big.NewInt(1), bits),
		natOf(new(big.Int).Sub(n, one), bits),
		natOf(r, bits),
		natOf(above, bits),
		natOf(randBits(t, bits+70), bits+70),
	}
}

func TestExpAgainstBig(t *testing.T) {
	cases := []struct {
		mod  int
		exps []int
	}{
		{64, []int{0, 1, 2, 3, 4, 5, 63, 64, 65, 200, 5000}},
		{65, []int{0, 1, 7, 64, 129}},
		{127, []int{1, 33, 128}},
		{128, []int{0, 5, 127, 128, 1000}},
		{255, []int{3, 256, 300}},
		{521, []int{1, 100, 521}},
		{1024, []int{0, 1, 17, 256, 1024}},
		{1537, []int{300}},
		{2048, []int{2, 1100}},
		{4096, []int{260}},
	}
	for _, c := range cases {
		n := randOdd(t, c.mod)
		m := MustModulus(n)
		for _, eb := range c.exps {
			for bi, x := range testBases(t, n) {
				e := randBits(t, eb)
				// Announce some exponents longer than their value.
				ann := eb + bi%2*40
				got := m.Exp(x, natOf(e, ann)).Big()
				want := new(big.Int).Exp(x.Big(), e, n)
				if got.Cmp(want) != 0 {
					t.Fatalf("mod %d bits, exp %d bits, base %d: got %x, want %x", c.mod, eb, bi, got, want)
				}
			}
		}
	}
}

// randUnit returns a random unit modulo n.
func randUnit(t testing.TB, n *big.Int) *big.Int {
	for {
		x, _ := rand.Int(rand.Reader, n)
		if x.Sign() > 0 && new(big.Int).GCD(nil, nil, x, n).Cmp(one) == 0 {
			return x
		}
	}
}

// signed returns a random integer of magnitude below 2^bits, negative when
// neg is set.
func signed(t testing.TB, bits int, neg bool) *big.Int {
	e := randBits(t, bits)
	if neg {
		e.Neg(e)
	}
	return e
}

func TestExpIntAgainstBig(t *testing.T) {
	for _, bits := range []int{64, 129, 1024, 2048} {
		n := randOdd(t, bits)
		m := MustModulus(n)
		for _, eb := range []int{0, 1, 64, 300, 1100} {
			for _, neg := range []bool{false, true} {
				x := randUnit(t, n)
				e := signed(t, eb, neg)
				got := m.ExpInt(natOf(x, bits), intOf(e, eb)).Big()
				if want := m.ExpVarTime(x, e); got.Cmp(want) != 0 {
					t.Fatalf("mod %d, exp %d (neg %v): got %x, want %x", bits, eb, neg, got, want)
				}
			}
		}
	}
}

func TestExp2IntAgainstBig(t *testing.T) {
	for _, bits := range []int{64, 200, 1024, 2048} {
		n := randOdd(t, bits)
		m := MustModulus(n)
		for _, eb := range [][2]int{{0, 0}, {1, 70}, {768, 2816}, {300, 5}, {256, 256}} {
			for signs := range 4 {
				x, y := randUnit(t, n), randUnit(t, n)
				a, b := signed(t, eb[0], signs&1 != 0), signed(t, eb[1], signs&2 != 0)
				got := m.Exp2Int(natOf(x, bits), intOf(a, eb[0]), natOf(y, bits), intOf(b, eb[1])).Big()
				if want := m.Exp2VarTime(x, a, y, b); got.Cmp(want) != 0 {
					t.Fatalf("mod %d, exps %v, signs %d: got %x, want %x", bits, eb, signs, got, want)
				}
			}
		}
	}
}

func TestMulAgainstBig(t *testing.T) {
	for _, bits := range []int{64, 65, 1024, 2048, 4096} {
		n := randOdd(t, bits)
		m := MustModulus(n)
		bases := testBases(t, n)
		for i, x := range bases {
			for j, y := range bases {
				got := m.Mul(x, y).Big()
				want := new(big.Int).Mul(x.Big(), y.Big())
				want.Mod(want, n)
				if got.Cmp(want) != 0 {
					t.Fatalf("mod %d, operands %d, %d: got %x, want %x", bits, i, j, got, want)
				}
			}
		}
	}
}

func TestEvenModulus(t *testing.T) {
	n := new(big.Int).Lsh(randOdd(t, 300), 3)
	m := MustModulus(n)
	x := randBits(t, 300)
	e := signed(t, 200, false)
	if got, want := m.Exp(natOf(x, 300), natOf(e, 200)).Big(), new(big.Int).Exp(x, e, n); got.Cmp(want) != 0 {
		t.Fatal("Exp differs for an even modulus")
	}
	u := randUnit(t, n)
	neg := signed(t, 100, true)
	if got, want := m.ExpInt(natOf(u, 303), intOf(neg, 100)).Big(), m.ExpVarTime(u, neg); got.Cmp(want) != 0 {
		t.Fatal("ExpInt with a negative exponent differs for an even modulus")
	}
	y := randBits(t, 300)
	if got, want := m.Mul(natOf(x, 300), natOf(y, 300)).Big(), m.MulVarTime(x, y); got.Cmp(want) != 0 {
		t.Fatal("Mul differs for an even modulus")
	}
	if _, err := m.NewFixedBase(natOf(x, 300), 100); err == nil {
		t.Fatal("NewFixedBase accepted an even modulus")
	}
}

func TestFixedBase(t *testing.T) {
	for _, bits := range []int{64, 1024, 2048} {
		n := randOdd(t, bits)
		m := MustModulus(n)
		xs, ts := randUnit(t, n), randUnit(t, n)
		const maxBits = 1000
		s, err := m.NewFixedBase(natOf(xs, bits), maxBits)
		if err != nil {
			t.Fatal(err)
		}
		tb, err := m.NewFixedBase(natOf(ts, bits+64), maxBits)
		if err != nil {
			t.Fatal(err)
		}
		for _, eb := range []int{0, 1, 4, 5, 255, 256, 999, 1000, 1001, 1500} {
			for _, neg := range []bool{false, true} {
				e := signed(t, eb, neg)
				got := s.Exp(intOf(e, eb)).Big()
				if want := m.ExpVarTime(xs, e); got.Cmp(want) != 0 {
					t.Fatalf("mod %d, exp %d (neg %v): got %x, want %x", bits, eb, neg, got, want)
				}
				f := signed(t, 1000-eb/2, !neg)
				got = m.FixedExp2(s, intOf(e, eb), tb, intOf(f, 1000-eb/2)).Big()
				if want := m.Exp2VarTime(xs, e, ts, f); got.Cmp(want) != 0 {
					t.Fatalf("mod %d, exps %d/%d: FixedExp2 differs", bits, eb, 1000-eb/2)
				}
			}
		}
	}
}

func TestFixedBaseNotUnit(t *testing.T) {
	p, q := testPrimes()
	m := MustModulus(new(big.Int).Mul(p, q))
	for _, x := range []*big.Int{big.NewInt(0), p, new(big.Int).Lsh(q, 1)} {
		if _, err := m.NewFixedBase(natOf(x, 1100), 256); err != ErrNotUnit {
			t.Fatalf("NewFixedBase(%x) = %v, want ErrNotUnit", x, err)
		}
	}
}

func TestCombine(t *testing.T) {
	p, q := testPrimes()
	for _, mods := range [][2]*big.Int{
		{p, q},
		{new(big.Int).Mul(p, p), new(big.Int).Mul(q, q)},
		{big.NewInt(15), big.NewInt(7)},      // m₁ longer than m₂: saferith path
		{big.NewInt(3), new(big.Int).Set(q)}, // different sizes
	} {
		m1, m2 := mods[0], mods[1]
		c, err := NewCRT(m1, m2, m1, m2)
		if err != nil {
			t.Fatal(err)
		}
		prod := new(big.Int).Mul(m1, m2)
		for range 20 {
			a1, _ := rand.Int(rand.Reader, m1)
			a2, _ := rand.Int(rand.Reader, m2)
			x := c.Combine(natOf(a1, m1.BitLen()), natOf(a2, m2.BitLen())).Big()
			if x.Cmp(prod) >= 0 || new(big.Int).Mod(x, m1).Cmp(a1) != 0 || new(big.Int).Mod(x, m2).Cmp(a2) != 0 {
				t.Fatalf("Combine(%x, %x) mod %x·%x = %x", a1, a2, m1, m2, x)
			}
		}
	}
	if _, err := NewCRT(big.NewInt(15), big.NewInt(21), one, one); err == nil {
		t.Fatal("NewCRT accepted moduli with a common factor")
	}
}

func TestCRTSquares(t *testing.T) {
	p, q := testPrimes()
	p2, q2 := new(big.Int).Mul(p, p), new(big.Int).Mul(q, q)
	pm1, qm1 := new(big.Int).Sub(p, one), new(big.Int).Sub(q, one)
	c, err := NewCRT(p2, q2, new(big.Int).Mul(p, pm1), new(big.Int).Mul(q, qm1))
	if err != nil {
		t.Fatal(err)
	}
	m := c.Modulus()
	for _, eb := range []int{0, 1, 256, 1024, 2100} {
		x := randUnit(t, m.Big())
		e := natOf(randBits(t, eb), eb)
		if got, want := c.Exp(natOf(x, m.BitLen()), e).Big(), m.ExpVarTime(x, e.Big()); got.Cmp(want) != 0 {
			t.Fatalf("CRT Exp with a %d-bit exponent differs", eb)
		}
	}
}

// FuzzExpInt compares ExpInt and the fixed-base exponentiation with
// math/big for arbitrary odd moduli, bases and signed exponents.
func FuzzExpInt(f *testing.F) {
	f.Add([]byte{0xff, 0xfb}, []byte{7}, []byte{3}, false)
	f.Add([]byte{0x80, 0, 0, 0, 0, 0, 0, 0, 1}, []byte{0xff, 0xff}, []byte{0x12, 0x34, 0x56}, true)
	f.Add([]byte{3}, []byte{2}, []byte{}, true)
	f.Fuzz(func(t *testing.T, mod, base, exp []byte, neg bool) {
		n := new(big.Int).SetBytes(mod)
		if n.Bit(0) == 0 || n.Cmp(one) <= 0 || n.BitLen() > 1200 || len(exp) > 200 || len(base) > 300 {
			return
		}
		m := MustModulus(n)
		x := new(saferith.Nat).SetBytes(base)
		e := new(big.Int).SetBytes(exp)
		if neg {
			e.Neg(e)
		}
		ei := intOf(e, 8*len(exp))
		want := m.ExpVarTime(new(big.Int).SetBytes(base), e)
		if want == nil { // negative exponent of a non-unit
			return
		}
		if got := m.ExpInt(x, ei).Big(); got.Cmp(want) != 0 {
			t.Fatalf("ExpInt = %x, want %x", got, want)
		}
		fb, err := m.NewFixedBase(x, 8*len(exp)/2)
		if err != nil {
			if new(big.Int).GCD(nil, nil, new(big.Int).SetBytes(base), n).Cmp(one) == 0 {
				t.Fatalf("NewFixedBase: %v for a unit", err)
			}
			return
		}
		if got := fb.Exp(ei).Big(); got.Cmp(want) != 0 {
			t.Fatalf("FixedBase.Exp = %x, want %x", got, want)
		}
	})
}

func TestFixedBaseTableBytes(t *testing.T) {
	n := randOdd(t, 2048)
	m := MustModulus(n)
	b, err := m.NewFixedBase(natOf(randUnit(t, n), 2048), 2816)
	if err != nil {
		t.Fatal(err)
	}
	// 705 windows of 15 entries plus 705 inverse powers, 256 bytes each.
	if got, want := b.TableBytes(), (2816/4+1)*16*256; got != want {
		t.Fatalf("TableBytes = %d, want %d", got, want)
	}
}
