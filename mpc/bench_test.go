package mpc

import (
	"crypto/rand"
	"sync"
	"testing"

	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/mpc/safeprime"
)

// Benchmarks run both parties in one process, each operation end to end.

func BenchmarkKeygen(b *testing.B) {
	for b.Loop() {
		keygenPair(b)
	}
}

// BenchmarkAuxInfo makes a pair signing-ready from a fresh keygen: each
// party draws its two safe primes (the parties search at the same time, as
// on two machines) and then runs aux-info with its proofs.
func BenchmarkAuxInfo(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		d, s := keygenPair(b)
		b.StartTimer()
		var pd, ps *Primes
		var errD, errS error
		var wg sync.WaitGroup
		wg.Go(func() { pd, errD = GeneratePrimes(rand.Reader, 1) })
		wg.Go(func() { ps, errS = GeneratePrimes(rand.Reader, 1) })
		wg.Wait()
		if errD != nil || errS != nil {
			b.Fatal(errD, errS)
		}
		if _, _, errD, errS := refreshPair(b, d, s, pd, ps, nil); errD != nil || errS != nil {
			b.Fatal(errD, errS)
		}
	}
}

// BenchmarkAuxInfoProtocol is aux-info with primes at hand (from a pool).
func BenchmarkAuxInfoProtocol(b *testing.B) {
	d, s := keygenPair(b)
	for b.Loop() {
		if _, _, errD, errS := refreshPair(b, d, s, fixturePrimes(0), fixturePrimes(1), nil); errD != nil || errS != nil {
			b.Fatal(errD, errS)
		}
	}
}

func BenchmarkPresign(b *testing.B) {
	d, s := signingPair(b)
	for b.Loop() {
		if _, _, errD, errS := presignPair(b, d, s, nil); errD != nil || errS != nil {
			b.Fatal(errD, errS)
		}
	}
}

// BenchmarkSign is the online signature from a presignature: both partial
// signatures, combined and verified. One presigning run is made before the
// timer starts; each iteration signs with a fresh copy of its outputs (a
// presignature signs once), decoded outside the timer.
func BenchmarkSign(b *testing.B) {
	d, s := signingPair(b)
	pd, ps, errD, errS := presignPair(b, d, s, nil)
	if errD != nil || errS != nil {
		b.Fatal(errD, errS)
	}
	bd, err := pd.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	bs, err := ps.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	digest := [32]byte{1, 2, 3}
	for b.Loop() {
		b.StopTimer()
		var cd, cs Presignature
		if err := cd.UnmarshalBinary(bd); err != nil {
			b.Fatal(err)
		}
		if err := cs.UnmarshalBinary(bs); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := signWith(b, &cd, &cs, digest); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSafePrime is one 1024-bit safe prime on one thread, as the
// browser makes them.
func BenchmarkSafePrime(b *testing.B) {
	for b.Loop() {
		if _, err := safeprime.Generate(rand.Reader, paillier.PrimeBits); err != nil {
			b.Fatal(err)
		}
	}
}
