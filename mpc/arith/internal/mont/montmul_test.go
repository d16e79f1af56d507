package mont

import (
	"crypto/rand"
	"math/big"
	"testing"
)

// checkMontMul checks mul against math/big for moduli of odd and even limb
// counts, operands up to R (only one of them below n) and the edge values 0
// and n−1.
func checkMontMul(t *testing.T, mul func(t, x, y, n []Word, n0inv Word)) {
	t.Helper()
	for _, bits := range []int{31, 33, 64, 65, 96, 127, 193, 256, 1024, 2047, 2048, 4096} {
		nb := randOdd(bits)
		m, _ := NewModulus(nb.Bytes())
		k := m.Limbs()
		r := new(big.Int).Lsh(big.NewInt(1), uint(k*wordBits))
		rInv := new(big.Int).ModInverse(r, nb)
		edge := []*big.Int{big.NewInt(0), new(big.Int).Sub(nb, big.NewInt(1))}
		for i := range 30 {
			x, _ := rand.Int(rand.Reader, r)
			y, _ := rand.Int(rand.Reader, nb)
			if i < len(edge) {
				x = edge[i]
			} else if i < 2*len(edge) {
				y = edge[i-len(edge)]
			}
			z := make([]Word, k)
			mul(z, limbs(x, k), limbs(y, k), m.n, m.n0inv)
			want := new(big.Int).Mul(x, y)
			want.Mul(want, rInv).Mod(want, nb)
			if toBig(z).Cmp(want) != 0 {
				t.Fatalf("%d bits: got %x, want %x", bits, toBig(z), want)
			}
		}
	}
}

func TestMontMul(t *testing.T) { checkMontMul(t, montMul) }

func TestNewModulus(t *testing.T) {
	for _, b := range [][]byte{nil, {0}, {1}, {0, 1}, {2}, {1, 0}} {
		if _, err := NewModulus(b); err == nil {
			t.Errorf("NewModulus(%x) accepted an invalid modulus", b)
		}
	}
	for _, bits := range []int{2, 3, 64, 65, 1030} {
		nb := randOdd(bits)
		b := append([]byte{0, 0}, nb.Bytes()...) // leading zero bytes are allowed
		m, err := NewModulus(b)
		if err != nil {
			t.Fatal(err)
		}
		if m.BitLen() != nb.BitLen() {
			t.Errorf("BitLen = %d, want %d", m.BitLen(), nb.BitLen())
		}
		r := new(big.Int).Lsh(big.NewInt(1), uint(m.Limbs()*wordBits))
		if toBig(m.one).Cmp(new(big.Int).Mod(r, nb)) != 0 || toBig(m.rr).Cmp(new(big.Int).Exp(r, big.NewInt(2), nb)) != 0 {
			t.Errorf("%d bits: wrong R or R² mod n", bits)
		}
	}
}
