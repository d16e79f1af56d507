package arith

import (
	"crypto/rand"
	"errors"
	"math/big"
	"testing"
)

// testPrimes returns two 512-bit primes, fixtures for these tests only.
func testPrimes() (*big.Int, *big.Int) {
	p, _ := new(big.Int).SetString("D3B0BDC37CB04120B90FF13E827C7234CB8E980017B2948736D5EF85460C8A53EAEC8B914F832918A2F0ECF3194AEF7FD865DEC01F3DD9C962D9E279D090B643", 16)
	q, _ := new(big.Int).SetString("F13BEEA534D811761674ED193B524C4A5BA2632632257EC4B2C7F0BFE45472CF22744AB1E32C1A774CBF8FA258693A33A7448342CA5180BF77C7C74F78F7501D", 16)
	return p, q
}

func TestExpMatchesBig(t *testing.T) {
	p, q := testPrimes()
	n := new(big.Int).Mul(p, q)
	m := MustModulus(n)
	x, _ := SampleUnit(rand.Reader, m)
	e, _ := SampleSigned(rand.Reader, 700)
	got := m.ExpInt(x, e).Big()
	want := m.ExpVarTime(x.Big(), e.Big())
	if got.Cmp(want) != 0 {
		t.Fatal("ExpInt differs from ExpVarTime")
	}
	y, _ := SampleUnit(rand.Reader, m)
	f, _ := SampleSigned(rand.Reader, 300)
	got2 := m.Exp2Int(x, e, y, f).Big()
	want2 := m.Exp2VarTime(x.Big(), e.Big(), y.Big(), f.Big())
	if got2.Cmp(want2) != 0 {
		t.Fatal("Exp2Int differs from Exp2VarTime")
	}
}

func TestCRT(t *testing.T) {
	p, q := testPrimes()
	pm1 := new(big.Int).Sub(p, one)
	qm1 := new(big.Int).Sub(q, one)
	c, err := NewCRT(p, q, pm1, qm1)
	if err != nil {
		t.Fatal(err)
	}
	m := c.Modulus()
	x, _ := SampleUnit(rand.Reader, m)
	e, _ := SampleSigned(rand.Reader, 2000)
	if c.ExpInt(x, e).Big().Cmp(m.ExpVarTime(x.Big(), e.Big())) != 0 {
		t.Fatal("CRT exponentiation differs")
	}
	y, _ := SampleUnit(rand.Reader, m)
	f, _ := SampleSigned(rand.Reader, 900)
	if c.Exp2Int(x, e, y, f).Big().Cmp(m.Exp2VarTime(x.Big(), e.Big(), y.Big(), f.Big())) != 0 {
		t.Fatal("CRT double exponentiation differs")
	}
}

func TestSampling(t *testing.T) {
	bound := new(big.Int).Lsh(big.NewInt(12345), 100)
	neg := false
	for range 50 {
		v, err := SampleSignedScaled(rand.Reader, 100, big.NewInt(12345))
		if err != nil {
			t.Fatal(err)
		}
		if new(big.Int).Abs(v.Big()).Cmp(bound) > 0 {
			t.Fatal("scaled sample out of range")
		}
		neg = neg || v.Big().Sign() < 0
		s, _ := SampleSigned(rand.Reader, 13)
		if new(big.Int).Abs(s.Big()).BitLen() > 13 {
			t.Fatal("signed sample out of range")
		}
	}
	if !neg {
		t.Fatal("no negative samples")
	}
	a, _ := SampleSigned(rand.Reader, 500)
	e, _ := SampleSigned(rand.Reader, 256)
	x, _ := SampleSigned(rand.Reader, 256)
	want := new(big.Int).Mul(e.Big(), x.Big())
	want.Add(want, a.Big())
	if MulAdd(a, e, x).Big().Cmp(want) != 0 {
		t.Fatal("MulAdd")
	}
}

// IsUnitVarTime accepts exactly 0 < x < m with gcd(x, m) = 1: −1 and m + 1
// share no factor with m, so only the range refuses them.
func TestIsUnitVarTime(t *testing.T) {
	p, q := testPrimes()
	n := new(big.Int).Mul(p, q)
	m := MustModulus(n)
	for _, tc := range []struct {
		name string
		x    *big.Int
		want bool
	}{
		{"1", big.NewInt(1), true},
		{"m − 1", new(big.Int).Sub(n, one), true},
		{"0", new(big.Int), false},
		{"−1", big.NewInt(-1), false},
		{"−(m − 1)", new(big.Int).Sub(one, n), false},
		{"m", new(big.Int).Set(n), false},
		{"m + 1", new(big.Int).Add(n, one), false},
		{"p", new(big.Int).Set(p), false},
		{"2q", new(big.Int).Lsh(q, 1), false},
	} {
		if got := m.IsUnitVarTime(tc.x); got != tc.want {
			t.Errorf("IsUnitVarTime(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// NewModulus refuses 1 and below and accepts 2, the smallest modulus.
func TestNewModulusRange(t *testing.T) {
	for _, v := range []int64{1, 0, -3} {
		if m, err := NewModulus(big.NewInt(v)); !errors.Is(err, errModulus) || m != nil {
			t.Errorf("NewModulus(%d): got %v, want %v", v, err, errModulus)
		}
	}
	for _, v := range []int64{2, 3} {
		m, err := NewModulus(big.NewInt(v))
		if err != nil || m.Big().Int64() != v {
			t.Errorf("NewModulus(%d): got %v", v, err)
		}
	}
}

// SampleSignedScaled refuses a scale of zero or below and samples in ±2^bits
// for a scale of one.
func TestSampleSignedScaledBound(t *testing.T) {
	for _, v := range []int64{0, -1} {
		if x, err := SampleSignedScaled(rand.Reader, 8, big.NewInt(v)); !errors.Is(err, errBoundRange) || x != nil {
			t.Errorf("scale %d: got %v, want %v", v, err, errBoundRange)
		}
	}
	x, err := SampleSignedScaled(rand.Reader, 8, big.NewInt(1))
	if err != nil || new(big.Int).Abs(x.Big()).Cmp(big.NewInt(256)) > 0 {
		t.Fatalf("scale 1: got %v, %v", x, err)
	}
}
