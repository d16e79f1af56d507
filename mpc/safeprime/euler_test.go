package safeprime

import (
	"math/big"
	mrand "math/rand/v2"
	"testing"

	"github.com/duetwallet/duet/internal/fixtures"
)

// eulerReference is the base-2 Euler test computed with big.Int.Exp.
func eulerReference(n *big.Int) bool {
	y := new(big.Int).Exp(big.NewInt(2), new(big.Int).Rsh(n, 1), n)
	if low := n.Bit(0) | n.Bit(1)<<1 | n.Bit(2)<<2; low == 1 || low == 7 {
		return y.Cmp(big.NewInt(1)) == 0
	}
	return y.Cmp(new(big.Int).Sub(n, big.NewInt(1))) == 0
}

func randomOdd(rng *mrand.Rand, bits int) *big.Int {
	n := new(big.Int)
	for i := range bits - 1 {
		if rng.IntN(2) == 1 {
			n.SetBit(n, i, 1)
		}
	}
	n.SetBit(n, bits-1, 1)
	return n.SetBit(n, 0, 1)
}

func TestEulerMatchesReference(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	var e eulerTest
	// Sizes around limb boundaries, and the sizes of p′ and p.
	for _, bits := range []int{3, 9, 63, 64, 65, 127, 128, 129, 255, 256, 257, 1023, 1024} {
		failed := 0
		for range 30 {
			n := randomOdd(rng, bits)
			want := eulerReference(n)
			if got := e.passes(n); got != want {
				t.Fatalf("passes(%v) = %v, want %v", n, got, want)
			}
			if !want {
				failed++
			}
		}
		if bits > 9 && failed == 0 {
			t.Errorf("%d bits: no random odd number failed", bits)
		}
		// Primes of both classes mod 8 pass.
		if bits > 512 {
			continue // the fixtures below cover these sizes
		}
		for range 4 {
			n := randomOdd(rng, bits)
			for !n.ProbablyPrime(10) {
				n.Add(n, big.NewInt(2))
			}
			if !e.passes(n) {
				t.Fatalf("prime %v failed", n)
			}
		}
	}
}

// The primes the search exists for pass: p and p′ of the fixtures.
func TestEulerSafePrimes(t *testing.T) {
	var primes []*big.Int
	for i := range fixtures.Pairs() {
		p, q := fixtures.SafePrimePair(i)
		primes = append(primes, p, q)
	}
	var e eulerTest
	tt := newTester()
	for _, p := range primes {
		q := new(big.Int).Rsh(p, 1)
		if !e.passes(p) || !e.passes(q) || !tt.euler(p) || !tt.euler(q) {
			t.Errorf("%x or its p′ failed", p)
		}
		// p·q′ is composite and must fail, on both paths.
		n := new(big.Int).Mul(p, q)
		if e.passes(n) || tt.euler(n) {
			t.Errorf("composite %x passed", n)
		}
	}
}

func TestEulerPseudoprimes(t *testing.T) {
	var e eulerTest
	// Euler–Jacobi pseudoprimes to base 2 (OEIS A047713) pass: the filter
	// cannot tell them from primes, ProbablyPrime does.
	for _, n := range []int64{561, 1105, 1729, 1905, 2047, 2465, 3277, 4033, 4681, 6601} {
		if !e.passes(big.NewInt(n)) {
			t.Errorf("pseudoprime %d failed", n)
		}
	}
	// Fermat pseudoprimes to base 2 that are not Euler pseudoprimes fail.
	for _, n := range []int64{341, 645, 1387, 2701} {
		if e.passes(big.NewInt(n)) {
			t.Errorf("%d passed", n)
		}
	}
}

func BenchmarkEuler1024(b *testing.B) {
	n := randomOdd(mrand.New(mrand.NewPCG(3, 4)), 1024)
	b.Run("montgomery", func(b *testing.B) {
		var e eulerTest
		for b.Loop() {
			e.passes(n)
		}
	})
	b.Run("bigExp", func(b *testing.B) {
		for b.Loop() {
			eulerReference(n)
		}
	})
}
