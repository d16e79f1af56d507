// Package safeprime generates safe primes, p = 2p′ + 1 with p′ prime: the
// factors of every Paillier modulus in aux-info. The device party generates
// them in WebAssembly, single threaded and without assembly, so the search is
// built to test as few candidates as possible and to test each one cheaply.
//
// The search draws a random start and walks the candidates p′ = start + 6k,
// which keeps p′ ≡ 5 mod 6: p′ odd, and neither p′ nor 2p′ + 1 divisible by
// 3. A combined sieve strikes every p′ for which a prime below 2²² divides p′
// or 2p′ + 1. A survivor must then pass a base-2 Euler test on p′ and on p,
// and p′ must pass big.Int.ProbablyPrime(20) (20 Miller–Rabin rounds and
// Baillie–PSW, as crypto/rand.Prime uses). p then needs no further test:
// the Euler test on p showed 2^(p−1) ≡ 1 mod p, gcd(2^((p−1)/p′) − 1, p) =
// gcd(3, p) = 1, and p′ > √p, so by Pocklington's criterion p is prime
// whenever p′ is.
//
// Generation runs in variable time, as in every common implementation. Its
// timing depends on the rejected candidates, which are discarded, and on the
// tests run on the prime it returns; a caller that must hide the prime from
// an observer who can time the generation should not generate it where that
// observer can watch.
package safeprime

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"runtime"
	"sync"
	"sync/atomic"
)

// MinBits is the smallest size Generate accepts. It keeps p′ above every
// sieving prime, which would otherwise strike itself.
const MinBits = 64

// ErrBitSize is returned for a requested size below MinBits.
var ErrBitSize = errors.New("safeprime: bit size too small")

// Generate returns a safe prime p = 2p′ + 1 of exactly bits bits, with its two
// top bits set, so that the product of two such primes has exactly 2·bits
// bits. p′ is odd, so p ≡ 3 mod 4.
//
// All randomness is read from rand: the same bytes give the same prime.
func Generate(rand io.Reader, bits int) (*big.Int, error) {
	return generate(rand, bits, 1, sieveBound, segmentSize)
}

// GenerateParallel is Generate with the work spread over workers goroutines,
// or runtime.GOMAXPROCS(0) of them if workers < 1. It reads the same bytes
// from rand and returns the same prime as Generate: the workers test a
// segment's candidates in order, and the first candidate that passes wins,
// whichever worker finishes first. It gains nothing where goroutines share
// one thread, as in WebAssembly.
func GenerateParallel(rand io.Reader, bits, workers int) (*big.Int, error) {
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	return generate(rand, bits, workers, sieveBound, segmentSize)
}

// search is the state of one Generate call.
type search struct {
	bits      int
	sieve     *sieve
	testers   []*tester // one per worker
	buf       []byte
	limit     *big.Int // 2^(bits−1): p′ must stay below it
	survivors []uint32
	stats     *searchStats // nil except in tests and benchmarks
}

// searchStats counts the work of a search, for tuning.
type searchStats struct {
	starts, segments, eulerQ, eulerP atomic.Int64
}

func generate(rand io.Reader, bits, workers, bound, segment int) (*big.Int, error) {
	if bits < MinBits {
		return nil, ErrBitSize
	}
	return newSearch(bits, workers, bound, segment).run(rand)
}

func newSearch(bits, workers, bound, segment int) *search {
	g := &search{
		bits:    bits,
		sieve:   newSieve(bound, segment),
		testers: make([]*tester, workers),
		buf:     make([]byte, (bits-1+7)/8),
		limit:   new(big.Int).Lsh(big.NewInt(1), uint(bits-1)),
	}
	for i := range g.testers {
		g.testers[i] = newTester()
	}
	return g
}

// run draws starts from rand until a walk finds a safe prime.
func (g *search) run(rand io.Reader) (*big.Int, error) {
	for {
		start, err := g.randomStart(rand)
		if err != nil {
			return nil, err
		}
		if p := g.walk(start); p != nil {
			return p, nil
		}
	}
}

// randomStart returns a random p′ of bits−1 bits with its two top bits set,
// moved up to the next value ≡ 5 mod 6.
func (g *search) randomStart(rand io.Reader) (*big.Int, error) {
	bits := g.bits
	if _, err := io.ReadFull(rand, g.buf); err != nil {
		return nil, fmt.Errorf("safeprime: reading randomness: %w", err)
	}
	// Keep bits−1 bits.
	g.buf[0] &= 0xff >> (8*len(g.buf) - (bits - 1))
	start := new(big.Int).SetBytes(g.buf)
	start.SetBit(start, bits-2, 1)
	start.SetBit(start, bits-3, 1)
	r := new(big.Int).Mod(start, big.NewInt(6)).Int64()
	return start.Add(start, big.NewInt((5-r+6)%6)), nil
}

// walk searches segment after segment from start and returns the first safe
// prime, or nil once the candidates outgrow bits−1 bits.
func (g *search) walk(start *big.Int) *big.Int {
	if g.stats != nil {
		g.stats.starts.Add(1)
	}
	if start.Cmp(g.limit) >= 0 {
		return nil
	}
	s := g.sieve
	s.reset(start, len(g.testers))
	base := new(big.Int).Set(start) // candidate k = 0 of the segment
	step := big.NewInt(int64(6 * len(s.struck) * 64))
	for base.Cmp(g.limit) < 0 {
		if g.stats != nil {
			g.stats.segments.Add(1)
		}
		s.segment()
		g.survivors = s.survivors(g.survivors[:0])
		if p := g.testSegment(base); p != nil {
			return p
		}
		base.Add(base, step)
	}
	return nil
}

// testSegment tests the survivors of the segment that starts at base, in
// order, and returns the first safe prime.
func (g *search) testSegment(base *big.Int) *big.Int {
	// Drop the survivors at or past the limit.
	t := g.testers[0]
	n := len(g.survivors)
	for ; n > 0; n-- {
		t.candidate(base, g.survivors[n-1])
		if t.q.Cmp(g.limit) < 0 {
			break
		}
	}
	survivors := g.survivors[:n]

	if len(g.testers) == 1 {
		for _, k := range survivors {
			if p := t.test(base, k, g.stats); p != nil {
				return p
			}
		}
		return nil
	}

	// Workers take survivors in order. best only decreases, and a worker
	// stops at an index above best, so every index below the final best
	// has been tested and failed: the result is the sequential one.
	var (
		next   atomic.Int64
		best   atomic.Int64
		result = make([]*big.Int, len(survivors))
		wg     sync.WaitGroup
	)
	best.Store(int64(len(survivors)))
	for _, t := range g.testers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= best.Load() {
					return
				}
				p := t.test(base, survivors[i], g.stats)
				if p == nil {
					continue
				}
				result[i] = p
				for {
					b := best.Load()
					if i >= b || best.CompareAndSwap(b, i) {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	if b := best.Load(); b < int64(len(survivors)) {
		return result[b]
	}
	return nil
}

// tester holds one worker's scratch values.
type tester struct {
	mont    eulerTest
	q, p, k *big.Int
	e, y    *big.Int
}

func newTester() *tester {
	return &tester{q: new(big.Int), p: new(big.Int), k: new(big.Int), e: new(big.Int), y: new(big.Int)}
}

// euler reports whether the odd n passes the base-2 Euler test,
// 2^((n−1)/2) ≡ (2|n) mod n.
func (t *tester) euler(n *big.Int) bool {
	if useMontgomery {
		return t.mont.passes(n)
	}
	t.e.Rsh(n, 1)
	t.y.Exp(two, t.e, n)
	// (2|n) is +1 for n ≡ ±1 mod 8 and −1 for n ≡ ±3 mod 8.
	if low := n.Bits()[0] & 7; low == 1 || low == 7 {
		return t.y.Cmp(one) == 0
	}
	return t.e.Sub(n, one).Cmp(t.y) == 0
}

var one, two = big.NewInt(1), big.NewInt(2)

// candidate sets t.q = base + 6k.
func (t *tester) candidate(base *big.Int, k uint32) {
	t.k.SetUint64(6 * uint64(k))
	t.q.Add(base, t.k)
}

// test returns p = 2q + 1 for q = base + 6k if p is a safe prime, or nil.
func (t *tester) test(base *big.Int, k uint32, stats *searchStats) *big.Int {
	t.candidate(base, k)
	if stats != nil {
		stats.eulerQ.Add(1)
	}
	if !t.euler(t.q) {
		return nil
	}
	t.p.Lsh(t.q, 1)
	t.p.SetBit(t.p, 0, 1)
	if stats != nil {
		stats.eulerP.Add(1)
	}
	if !t.euler(t.p) {
		return nil
	}
	if !t.q.ProbablyPrime(20) {
		return nil
	}
	return new(big.Int).Set(t.p)
}
