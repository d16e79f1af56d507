package safeprime

import (
	"math/big"
	mrand "math/rand/v2"
	"slices"
	"testing"
)

func TestResidues(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(3, 4))
	primes := sievePrimes(sieveBound)
	// The smallest primes, the largest, and a few near 2³¹ for the
	// floating-point path's stated range.
	sample := append(append([]uint32{}, primes[:300]...), primes[len(primes)-300:]...)
	large := []uint32{2147483647, 2147483629, 2147483587, 1073741827, 1073741789}
	for _, bits := range []int{64, 200, 1023} {
		for range 5 {
			x := randomOdd(rng, bits)
			buf := x.FillBytes(make([]byte, (bits+63)/64*8))
			var x64 []uint64
			var x32 []uint32
			for i := 0; i < len(buf); i += 8 {
				w := new(big.Int).SetBytes(buf[i : i+8]).Uint64()
				x64 = append(x64, w)
				x32 = append(x32, uint32(w>>32), uint32(w))
			}
			check := func(name string, ps, got []uint32) {
				for i, r := range ps {
					want := new(big.Int).Mod(x, big.NewInt(int64(r))).Uint64()
					if uint64(got[i]) != want {
						t.Fatalf("%s: %v mod %d = %d, want %d", name, x, r, got[i], want)
					}
				}
			}
			got := make([]uint32, len(sample))
			residuesDiv(x64, sample, got)
			check("residuesDiv", sample, got)
			clear(got)
			residuesFloat(x32, sample, got)
			check("residuesFloat", sample, got)
			got = make([]uint32, len(large))
			residuesFloat(x32, large, got)
			check("residuesFloat", large, got)
		}
	}
}

func TestSievePrimes(t *testing.T) {
	primes := sievePrimes(sieveBound)
	// π(2²²) = 295947, less the primes 2 and 3.
	if len(primes) != 295947-2 {
		t.Errorf("got %d primes below 2^22, want %d", len(primes), 295947-2)
	}
	for _, r := range primes[:2000] {
		if !big.NewInt(int64(r)).ProbablyPrime(0) {
			t.Fatalf("%d is not prime", r)
		}
	}
	if primes[0] != 5 || primes[len(primes)-1] != 4194301 {
		t.Errorf("range %d..%d, want 5..4194301", primes[0], primes[len(primes)-1])
	}
	if got := sievePrimes(1 << 12); len(got) != 564-2 {
		t.Errorf("got %d primes below 2^12, want 562", len(got))
	}
}

// TestSieveStrikes checks every candidate of two segments against trial
// division: k is struck exactly when a sieving prime divides q or 2q + 1.
func TestSieveStrikes(t *testing.T) {
	const bound, segment = 1 << 10, 1 << 12
	rng := mrand.New(mrand.NewPCG(5, 6))
	x := randomOdd(rng, 200)
	start := x.Sub(x, new(big.Int).Mod(x, big.NewInt(6))).Add(x, big.NewInt(5))
	s := newSieve(bound, segment)
	primes := s.primes
	for _, workers := range []int{1, 3} {
		s.reset(start, workers)
		total := 0
		for seg := range 2 {
			s.segment()
			var want []uint32
			for k := range segment {
				q := new(big.Int).Add(start, big.NewInt(int64(6*(seg*segment+k))))
				p := new(big.Int).Lsh(q, 1)
				p.SetBit(p, 0, 1)
				divisible := false
				for _, r := range primes {
					br := big.NewInt(int64(r))
					if new(big.Int).Mod(q, br).Sign() == 0 || new(big.Int).Mod(p, br).Sign() == 0 {
						divisible = true
						break
					}
				}
				struck := s.struck[k/64]>>(k%64)&1 == 1
				if struck != divisible {
					t.Fatalf("segment %d, k = %d: struck = %v, divisible = %v", seg, k, struck, divisible)
				}
				if !struck {
					want = append(want, uint32(k))
				}
			}
			if got := s.survivors(nil); !slices.Equal(got, want) {
				t.Fatalf("segment %d: survivors %v, want %v", seg, got, want)
			}
			total += len(want)
		}
		if total == 0 || total == 2*segment {
			t.Errorf("%d survivors of %d", total, 2*segment)
		}
	}
}

func BenchmarkResidues(b *testing.B) {
	primes := sievePrimes(sieveBound)
	out := make([]uint32, len(primes))
	x := randomOdd(mrand.New(mrand.NewPCG(3, 4)), 1023)
	buf := x.FillBytes(make([]byte, 128))
	var x64 []uint64
	var x32 []uint32
	for i := 0; i < len(buf); i += 8 {
		w := new(big.Int).SetBytes(buf[i : i+8]).Uint64()
		x64 = append(x64, w)
		x32 = append(x32, uint32(w>>32), uint32(w))
	}
	b.Run("div", func(b *testing.B) {
		for b.Loop() {
			residuesDiv(x64, primes, out)
		}
	})
	b.Run("float", func(b *testing.B) {
		for b.Loop() {
			residuesFloat(x32, primes, out)
		}
	})
}
