package safeprime

import (
	"math/big"
	"math/bits"
	"slices"
	"sync"
)

// sieveBound bounds the primes of the sieve. Each doubling of it leaves about
// a tenth fewer candidates for the Euler test and costs a remainder for each
// new prime at every random start; 2²² balances the two for 1024-bit primes,
// natively and in WebAssembly alike (see BenchmarkSieveBound).
const sieveBound = 1 << 22

// segmentSize is the number of candidates sieved at a time. About one in
// 63 500 candidates p′ ≡ 5 mod 6 of 1023 bits gives a safe prime (by the
// Hardy–Littlewood estimate), so about two segments in three hold one, and
// sieving a segment costs about as much as two Euler tests.
const segmentSize = 1 << 16

var (
	primesOnce  sync.Once
	primesTable []uint32 // the primes 5 ≤ r < sieveBound
)

// sievePrimes returns the odd primes 5 ≤ r < bound, bound ≤ sieveBound,
// computed once per process.
func sievePrimes(bound int) []uint32 {
	primesOnce.Do(func() {
		// composite[i] is set when 2i+1 is composite.
		composite := make([]uint64, sieveBound/128+1)
		for i := 1; (2*i+1)*(2*i+1) < sieveBound; i++ {
			if composite[i/64]>>(i%64)&1 == 1 {
				continue
			}
			p := 2*i + 1
			for j := (p*p - 1) / 2; j < sieveBound/2; j += p {
				composite[j/64] |= 1 << (j % 64)
			}
		}
		for i := 2; i < sieveBound/2; i++ {
			if composite[i/64]>>(i%64)&1 == 0 {
				primesTable = append(primesTable, uint32(2*i+1))
			}
		}
	})
	n, _ := slices.BinarySearch(primesTable, uint32(bound))
	return primesTable[:n]
}

// inverse6 returns 6⁻¹ mod r for a prime r ≥ 5: since r ≡ ±1 mod 6, either
// 6·(r+1)/6 = r + 1 or 6·(r − (r−1)/6) = 5r + 1 is ≡ 1.
func inverse6(r uint32) uint32 {
	if r%6 == 5 {
		return (r + 1) / 6
	}
	return r - (r-1)/6
}

// A sieve walks the candidates q = start + 6k, k = 0, 1, 2, ..., a segment at
// a time, and strikes every k for which a sieving prime r divides q or 2q + 1,
// that is q mod r ∈ {0, (r−1)/2}. For each prime it keeps the next k of both
// classes, so moving to the next segment costs no division; only a new start
// costs a remainder per prime.
type sieve struct {
	primes []uint32
	next   []uint32 // next[2i], next[2i+1]: the next k, relative to the segment, to strike for primes[i]
	struck []uint64 // bit k set: candidate k of the segment is struck
	words  []uint64 // scratch: start in 64-bit words, most significant first
	halves []uint32 // scratch: start in 32-bit words, most significant first
}

func newSieve(bound, segment int) *sieve {
	primes := sievePrimes(bound)
	return &sieve{
		primes: primes,
		next:   make([]uint32, 2*len(primes)),
		struck: make([]uint64, segment/64),
	}
}

// reset positions the sieve at start, which must be ≡ 5 mod 6 and greater
// than every sieving prime. The remainders are computed by workers goroutines.
func (s *sieve) reset(start *big.Int, workers int) {
	buf := start.FillBytes(make([]byte, (start.BitLen()+63)/64*8))
	s.words, s.halves = s.words[:0], s.halves[:0]
	for i := 0; i < len(buf); i += 8 {
		w := uint64(buf[i])<<56 | uint64(buf[i+1])<<48 | uint64(buf[i+2])<<40 | uint64(buf[i+3])<<32 |
			uint64(buf[i+4])<<24 | uint64(buf[i+5])<<16 | uint64(buf[i+6])<<8 | uint64(buf[i+7])
		s.words = append(s.words, w)
		s.halves = append(s.halves, uint32(w>>32), uint32(w))
	}

	if workers == 1 {
		s.firstStrikes(0, len(s.primes))
		return
	}
	// Split the primes into one contiguous share per worker.
	var wg sync.WaitGroup
	share := (len(s.primes) + workers - 1) / workers
	for lo := 0; lo < len(s.primes); lo += share {
		hi := min(lo+share, len(s.primes))
		wg.Go(func() { s.firstStrikes(lo, hi) })
	}
	wg.Wait()
}

// firstStrikes sets next for primes[lo:hi]. For start ≡ a mod r, the k with
// start + 6k ≡ c mod r is (c − a)·6⁻¹ mod r.
func (s *sieve) firstStrikes(lo, hi int) {
	primes, next := s.primes[lo:hi], s.next[2*lo:2*hi]
	residues(s.words, s.halves, primes, next[:len(primes)])
	// Walk down so that next[i] is read before next[2i] and next[2i+1]
	// overwrite it.
	for i := len(primes) - 1; i >= 0; i-- {
		r := uint64(primes[i])
		a, inv := uint64(next[i]), uint64(inverse6(primes[i]))
		next[2*i] = uint32((r - a) * inv % r)
		next[2*i+1] = uint32(((r-1)/2 + r - a) * inv % r)
	}
}

// residuesDiv sets out[i] = x mod primes[i], for x in 64-bit words, most
// significant first. It divides by products of primes that fit in 64 bits,
// which a 128-by-64-bit hardware division handles in one instruction.
func residuesDiv(x []uint64, primes, out []uint32) {
	for i := 0; i < len(primes); {
		d := uint64(primes[i])
		j := i + 1
		for ; j < len(primes); j++ {
			hi, lo := bits.Mul64(d, uint64(primes[j]))
			if hi != 0 {
				break
			}
			d = lo
		}
		var a uint64
		for _, w := range x {
			_, a = bits.Div64(a, w, d)
		}
		for ; i < j; i++ {
			out[i] = uint32(a % uint64(primes[i]))
		}
	}
}

// residuesFloat sets out[i] = x mod primes[i], for x in 32-bit words, most
// significant first, and primes below 2³¹. It suits targets where
// bits.Div64 is emulated (WebAssembly): each step takes a floating-point
// estimate of the quotient and corrects it exactly in integers, and four
// primes advance together so their steps overlap.
func residuesFloat(x []uint32, primes, out []uint32) {
	i := 0
	for ; i+4 <= len(primes); i += 4 {
		r0, r1, r2, r3 := uint64(primes[i]), uint64(primes[i+1]), uint64(primes[i+2]), uint64(primes[i+3])
		f0, f1, f2, f3 := 1/float64(r0), 1/float64(r1), 1/float64(r2), 1/float64(r3)
		var a0, a1, a2, a3 uint64
		for _, w := range x {
			a0 = reduceFloat(a0<<32|uint64(w), r0, f0)
			a1 = reduceFloat(a1<<32|uint64(w), r1, f1)
			a2 = reduceFloat(a2<<32|uint64(w), r2, f2)
			a3 = reduceFloat(a3<<32|uint64(w), r3, f3)
		}
		out[i], out[i+1], out[i+2], out[i+3] = uint32(a0), uint32(a1), uint32(a2), uint32(a3)
	}
	for ; i < len(primes); i++ {
		r := uint64(primes[i])
		f := 1 / float64(r)
		var a uint64
		for _, w := range x {
			a = reduceFloat(a<<32|uint64(w), r, f)
		}
		out[i] = uint32(a)
	}
}

// reduceFloat returns x mod r for x < r·2³² and r < 2³¹, given f = 1/r.
// The estimate of x/r < 2³² carries a relative error of a few 2⁻⁵³, so it
// is off by at most one and the remainder x − q·r lies in (−r, 2r).
func reduceFloat(x, r uint64, f float64) uint64 {
	q := uint64(float64(x) * f)
	t := int64(x - q*r)
	if t < 0 {
		t += int64(r)
	} else if t >= int64(r) {
		t -= int64(r)
	}
	return uint64(t)
}

// segment strikes the current segment's candidates and advances the sieve
// to the next segment. The survivors are the clear bits of s.struck.
func (s *sieve) segment() {
	clear(s.struck)
	size := uint32(len(s.struck) * 64)
	struck := s.struck
	next := s.next[:2*len(s.primes)]
	for i, r := range s.primes {
		k := next[2*i]
		for ; k < size; k += r {
			struck[k/64] |= 1 << (k % 64)
		}
		next[2*i] = k - size
		k = next[2*i+1]
		for ; k < size; k += r {
			struck[k/64] |= 1 << (k % 64)
		}
		next[2*i+1] = k - size
	}
}

// survivors appends to dst the k of the current segment that were not
// struck, in increasing order.
func (s *sieve) survivors(dst []uint32) []uint32 {
	for i, w := range s.struck {
		for w := ^w; w != 0; w &= w - 1 {
			dst = append(dst, uint32(64*i+bits.TrailingZeros64(w)))
		}
	}
	return dst
}
