package hash

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/duetwallet/duet/mpc/curve"
)

// Moving a boundary between two absorbed values must change the digest: the
// ambiguity the TSSHOCK α-shuffle attack exploits.
func TestBoundariesAreUnambiguous(t *testing.T) {
	a := New("test").Bytes([]byte("ab")).Bytes([]byte("c")).Digest()
	b := New("test").Bytes([]byte("a")).Bytes([]byte("bc")).Digest()
	c := New("test").Bytes([]byte("abc")).Digest()
	if bytes.Equal(a, b) || bytes.Equal(a, c) || bytes.Equal(b, c) {
		t.Fatal("different splits of the same bytes hash alike")
	}
	n := New("test").Nat(big.NewInt(5)).Digest()
	i := New("test").Int(big.NewInt(5)).Digest()
	neg := New("test").Int(big.NewInt(-5)).Digest()
	if bytes.Equal(n, i) || bytes.Equal(i, neg) {
		t.Fatal("types or signs are not separated")
	}
	l1 := New("test").List(1).Nat(big.NewInt(1)).Nat(big.NewInt(2)).Digest()
	l2 := New("test").List(2).Nat(big.NewInt(1)).Nat(big.NewInt(2)).Digest()
	if bytes.Equal(l1, l2) {
		t.Fatal("list lengths are not bound")
	}
	if bytes.Equal(New("a").Digest(), New("b").Digest()) {
		t.Fatal("labels are not bound")
	}
}

func TestDigestDeterministic(t *testing.T) {
	d1 := New("x").Uint(7).Bit(true).Digest()
	d2 := New("x").Uint(7).Bit(true).Digest()
	if !bytes.Equal(d1, d2) || len(d1) != DigestSize {
		t.Fatal("digest not deterministic")
	}
}

func TestChallenges(t *testing.T) {
	q := curve.Order()
	r := New("chal").Reader()
	neg, pos := false, false
	for range 200 {
		e := ChalSigned(r)
		if new(big.Int).Abs(e).Cmp(q) > 0 {
			t.Fatal("signed challenge out of ±q")
		}
		neg = neg || e.Sign() < 0
		pos = pos || e.Sign() > 0
	}
	if !neg || !pos {
		t.Fatal("signed challenges are not spread over both signs")
	}
	n := big.NewInt(3 * 5 * 7 * 11 * 13)
	for _, y := range ChalUnits(New("units").Reader(), n, 50) {
		if y.Sign() <= 0 || y.Cmp(n) >= 0 || new(big.Int).GCD(nil, nil, y, n).Int64() != 1 {
			t.Fatalf("ChalUnits returned %v, not a unit mod %v", y, n)
		}
	}
	bits := ChalBits(New("bits").Reader(), 80)
	ones := 0
	for _, b := range bits {
		if b {
			ones++
		}
	}
	if len(bits) != 80 || ones == 0 || ones == 80 {
		t.Fatalf("ChalBits gave %d ones of %d", ones, len(bits))
	}
}
