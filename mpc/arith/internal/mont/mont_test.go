package mont

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"testing"
)

func randOdd(bits int) *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits)))
	n.SetBit(n, bits-1, 1)
	n.SetBit(n, 0, 1)
	return n
}

func limbs(x *big.Int, k int) []Word {
	z := make([]Word, k)
	SetBytes(z, x.Bytes())
	return z
}

func toBig(x []Word) *big.Int {
	b := make([]byte, len(x)*wordBits/8)
	FillBytes(b, x)
	return new(big.Int).SetBytes(b)
}

func TestExpQuick(t *testing.T) {
	for _, bits := range []int{3, 64, 65, 127, 128, 255, 1024, 2048} {
		nb := randOdd(bits)
		m, err := NewModulus(nb.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		k := m.Limbs()
		for _, eb := range []int{0, 1, 7, 64, 100, 2048} {
			x, _ := rand.Int(rand.Reader, nb)
			e, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(eb)))
			ek := (eb + wordBits - 1) / wordBits
			z := make([]Word, k)
			m.Exp(z, limbs(x, k), limbs(e, ek), eb)
			want := new(big.Int).Exp(x, e, nb)
			if toBig(z).Cmp(want) != 0 {
				t.Fatalf("bits %d eb %d: got %v want %v", bits, eb, toBig(z), want)
			}
		}
	}
}

func BenchmarkMontMul(b *testing.B) {
	for _, mb := range []int{1024, 2048, 4096} {
		nb := randOdd(mb)
		m, _ := NewModulus(nb.Bytes())
		k := m.Limbs()
		x, _ := rand.Int(rand.Reader, nb)
		xl, z := limbs(x, k), make([]Word, k)
		b.Run(fmt.Sprint(mb), func(b *testing.B) {
			for b.Loop() {
				montMul(z, xl, xl, m.n, m.n0inv)
			}
		})
	}
}

func TestFixedQuick(t *testing.T) {
	for _, bits := range []int{61, 64, 1024, 2048} {
		nb := randOdd(bits)
		m, _ := NewModulus(nb.Bytes())
		k := m.Limbs()
		var x, xi *big.Int
		for xi == nil {
			x, _ = rand.Int(rand.Reader, nb)
			xi = new(big.Int).ModInverse(x, nb)
		}
		fb := m.NewFixedBase(limbs(x, k), limbs(xi, k), 300)
		for _, eb := range []int{0, 1, 3, 4, 5, 64, 100, 297, 300} {
			for _, neg := range []Word{0, 1} {
				e, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(eb)))
				z := make([]Word, k)
				fb.Exp(z, limbs(e, (eb+wordBits-1)/wordBits+1), eb, neg)
				ee := new(big.Int).Set(e)
				if neg == 1 {
					ee.Neg(ee)
				}
				want := new(big.Int).Exp(x, ee, nb)
				if toBig(z).Cmp(want) != 0 {
					t.Fatalf("bits %d eb %d neg %d: got %v want %v", bits, eb, neg, toBig(z), want)
				}
			}
		}
	}
}
