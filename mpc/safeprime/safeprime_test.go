package safeprime

import (
	"bytes"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"testing"
)

// seeded returns a deterministic reader: the same seed gives the same bytes.
func seeded(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return mrand.NewChaCha8(s)
}

// checkSafePrime fails t unless p is a safe prime of exactly bits bits with
// its two top bits set and p ≡ 3 mod 4. Baillie–PSW plus one Miller–Rabin
// round (no composite is known to pass Baillie–PSW) keeps the check fast in
// WebAssembly.
func checkSafePrime(t *testing.T, p *big.Int, bits int) {
	t.Helper()
	if p.BitLen() != bits {
		t.Errorf("bit length %d, want %d", p.BitLen(), bits)
	}
	if p.Bit(bits-2) != 1 {
		t.Errorf("second bit from the top is clear")
	}
	if m := new(big.Int).Mod(p, big.NewInt(4)).Int64(); m != 3 {
		t.Errorf("p mod 4 = %d, want 3", m)
	}
	if !p.ProbablyPrime(1) {
		t.Errorf("%v is not prime", p)
	}
	if q := new(big.Int).Rsh(p, 1); !q.ProbablyPrime(1) {
		t.Errorf("(p−1)/2 = %v is not prime", q)
	}
}

func TestGenerateSizes(t *testing.T) {
	for _, bits := range []int{MinBits, 65, 100, 127, 128, 256, 257} {
		t.Run(fmt.Sprint(bits), func(t *testing.T) {
			p, err := Generate(crand.Reader, bits)
			if err != nil {
				t.Fatal(err)
			}
			checkSafePrime(t, p, bits)
		})
	}
}

func TestGenerate1024(t *testing.T) {
	p, err := Generate(crand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	checkSafePrime(t, p, 1024)
}

func TestGenerateDeterministic(t *testing.T) {
	p1, err := Generate(seeded(1), 256)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := Generate(seeded(1), 256)
	if err != nil {
		t.Fatal(err)
	}
	if p1.Cmp(p2) != 0 {
		t.Errorf("same reader bytes gave %v and %v", p1, p2)
	}
	p3, err := Generate(seeded(2), 256)
	if err != nil {
		t.Fatal(err)
	}
	if p1.Cmp(p3) == 0 {
		t.Errorf("different readers gave the same prime %v", p1)
	}
}

func TestGenerateParallelMatchesGenerate(t *testing.T) {
	for seed := range byte(3) {
		want, err := Generate(seeded(seed), 512)
		if err != nil {
			t.Fatal(err)
		}
		for _, workers := range []int{0, 2, 5} {
			got, err := GenerateParallel(seeded(seed), 512, workers)
			if err != nil {
				t.Fatal(err)
			}
			if got.Cmp(want) != 0 {
				t.Errorf("seed %d, %d workers: got %v, want %v", seed, workers, got, want)
			}
		}
	}
}

// A search that runs past 2^(bits−1) draws a new start instead of returning
// a prime one bit too long.
func TestGenerateRestartsAtLimit(t *testing.T) {
	// All-ones bytes put the start just below 2^(bits−1).
	r := io.MultiReader(bytes.NewReader(bytes.Repeat([]byte{0xff}, 8)), seeded(4))
	p, err := Generate(r, 64)
	if err != nil {
		t.Fatal(err)
	}
	checkSafePrime(t, p, 64)
	// The reader had to supply a second start.
	g := newSearch(64, 1, sieveBound, segmentSize)
	g.stats = new(searchStats)
	r = io.MultiReader(bytes.NewReader(bytes.Repeat([]byte{0xff}, 8)), seeded(4))
	q, err := g.run(r)
	if err != nil {
		t.Fatal(err)
	}
	if q.Cmp(p) != 0 {
		t.Errorf("search gave %v, Generate %v", q, p)
	}
	if n := g.stats.starts.Load(); n < 2 {
		t.Errorf("%d starts, want at least 2", n)
	}
}

func TestGenerateBadBits(t *testing.T) {
	for _, bits := range []int{-1, 0, 2, 32, MinBits - 1} {
		if _, err := Generate(crand.Reader, bits); !errors.Is(err, ErrBitSize) {
			t.Errorf("Generate(%d bits): got %v, want ErrBitSize", bits, err)
		}
		if _, err := GenerateParallel(crand.Reader, bits, 2); !errors.Is(err, ErrBitSize) {
			t.Errorf("GenerateParallel(%d bits): got %v, want ErrBitSize", bits, err)
		}
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestGenerateReaderErrors(t *testing.T) {
	errBroken := errors.New("entropy source broken")
	if _, err := Generate(failingReader{errBroken}, 256); !errors.Is(err, errBroken) {
		t.Errorf("failing reader: got %v, want it wrapped", err)
	}
	// Too few bytes for one start.
	if _, err := Generate(bytes.NewReader(make([]byte, 10)), 256); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short reader: got %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := GenerateParallel(failingReader{errBroken}, 256, 2); !errors.Is(err, errBroken) {
		t.Errorf("GenerateParallel, failing reader: got %v, want it wrapped", err)
	}
}

// BenchmarkSafePrime1024 measures one 1024-bit safe prime, single threaded,
// as the device party runs it. The time per prime varies widely (the number
// of candidates tested is roughly geometric), so compare medians over many
// primes, not single runs.
func BenchmarkSafePrime1024(b *testing.B) {
	for b.Loop() {
		if _, err := Generate(crand.Reader, 1024); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSafePrime1024Parallel(b *testing.B) {
	for b.Loop() {
		if _, err := GenerateParallel(crand.Reader, 1024, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSieveBound reports, for each sieve bound, the time per 1024-bit
// safe prime and the Euler tests it took. Run with -benchtime 30x or more.
func BenchmarkSieveBound(b *testing.B) {
	for _, log := range []int{14, 16, 18, 20, 21, 22} {
		b.Run(fmt.Sprintf("2^%d", log), func(b *testing.B) {
			sievePrimes(sieveBound) // not part of the measurement
			stats := new(searchStats)
			for b.Loop() {
				g := newSearch(1024, 1, 1<<log, segmentSize)
				g.stats = stats
				if _, err := g.run(crand.Reader); err != nil {
					b.Fatal(err)
				}
			}
			n := float64(b.N)
			b.ReportMetric(float64(stats.eulerQ.Load())/n, "eulerQ/op")
			b.ReportMetric(float64(stats.eulerP.Load())/n, "eulerP/op")
			b.ReportMetric(float64(stats.segments.Load())/n, "segments/op")
		})
	}
}
