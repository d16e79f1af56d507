package mpc

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/duetwallet/duet/mpc/paillier"
)

// presignPairNonces is presignPair with a nonce pool on each side.
func presignPairNonces(t testing.TB, d, s *KeyShare, nd, ns *paillier.NoncePool) (*Presignature, *Presignature, error, error) {
	t.Helper()
	a, b := pairConfigs(t, ProtocolPresign)
	outA, outB, errA, errB := runPair(
		func() (Round, *Message, error) { return Presign(PresignConfig{Config: a, Share: d, Nonces: nd}) },
		func() (Round, *Message, error) { return Presign(PresignConfig{Config: b, Share: s, Nonces: ns}) },
		nil)
	if errA != nil || errB != nil {
		return nil, nil, errA, errB
	}
	return outA.(*Presignature), outB.(*Presignature), nil, nil
}

func fillNonces(t testing.TB, pk *paillier.PublicKey, n int) *paillier.NoncePool {
	t.Helper()
	p := paillier.NewNoncePool(pk, n)
	if _, err := p.Fill(context.Background(), rand.Reader); err != nil || p.Len() != n {
		t.Fatalf("filling nonces: %d, %v", p.Len(), err)
	}
	return p
}

// Presigning with precomputed nonces under the peer's key: the peer's
// proofs over them verify (each side checks the other's Πaff-g, whose A and
// D carry pooled nonces), the presignatures sign, and each run takes four
// nonces, never more.
func TestPresignWithNoncePool(t *testing.T) {
	d, s := signingPair(t)
	nd := fillNonces(t, d.Aux.PeerPaillier, 6)
	ns := fillNonces(t, s.Aux.PeerPaillier, 3)
	digest := [32]byte{9, 8, 7}
	for run, want := range [][2]int{{2, 0}, {0, 0}} {
		pd, ps, errD, errS := presignPairNonces(t, d, s, nd, ns)
		if errD != nil || errS != nil {
			t.Fatalf("run %d: %v / %v", run, errD, errS)
		}
		if nd.Len() != want[0] || ns.Len() != want[1] {
			t.Fatalf("run %d: pools hold %d and %d, want %d and %d", run, nd.Len(), ns.Len(), want[0], want[1])
		}
		sig, err := signWith(t, pd, ps, digest)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		recoversTo(t, sig, digest, d.PublicKey)
	}
}

// A pool made for another key is left alone: the device's pool under its own
// N (not the server's) gives no nonce to the encryptions under the server's.
func TestPresignIgnoresPoolOfOtherKey(t *testing.T) {
	d, s := signingPair(t)
	wrong := fillNonces(t, d.Aux.Paillier.PublicKey, 2)
	if _, _, errD, errS := presignPairNonces(t, d, s, wrong, nil); errD != nil || errS != nil {
		t.Fatalf("%v / %v", errD, errS)
	}
	if wrong.Len() != 2 {
		t.Fatalf("a pool of the device's own key lost %d nonces to encryptions under the server's", 2-wrong.Len())
	}
}

// BenchmarkPresignNonces is BenchmarkPresign with four nonces under the
// peer's key precomputed on each side (outside the timer): ns/op is the
// online time of a presigning run whose nonces were made in idle time. Each
// iteration also runs one presigning without them, untimed but measured as
// inline-ns/op, so that the two share the machine's load (in alternating
// order, so that neither always follows the nonces' making); saved-ns/op is
// the difference.
func BenchmarkPresignNonces(b *testing.B) {
	d, s := signingPair(b)
	nd := paillier.NewNoncePool(d.Aux.PeerPaillier, 4)
	ns := paillier.NewNoncePool(s.Aux.PeerPaillier, 4)
	var inline, pooled time.Duration
	runInline := func() {
		start := time.Now()
		if _, _, errD, errS := presignPair(b, d, s, nil); errD != nil || errS != nil {
			b.Fatal(errD, errS)
		}
		inline += time.Since(start)
	}
	i := 0
	for b.Loop() {
		b.StopTimer()
		for _, p := range []*paillier.NoncePool{nd, ns} {
			if _, err := p.Fill(context.Background(), rand.Reader); err != nil {
				b.Fatal(err)
			}
		}
		if i%2 == 0 {
			runInline()
		}
		b.StartTimer()
		start := time.Now()
		if _, _, errD, errS := presignPairNonces(b, d, s, nd, ns); errD != nil || errS != nil {
			b.Fatal(errD, errS)
		}
		pooled += time.Since(start)
		b.StopTimer()
		if i%2 == 1 {
			runInline()
		}
		b.StartTimer()
		i++
	}
	b.ReportMetric(float64(inline.Nanoseconds())/float64(b.N), "inline-ns/op")
	b.ReportMetric(float64((inline-pooled).Nanoseconds())/float64(b.N), "saved-ns/op")
}

// BenchmarkNonceFill is one nonce under a peer's key: the idle-time work
// that BenchmarkPresignNonces saves four times on each side.
func BenchmarkNonceFill(b *testing.B) {
	_, s := signingPair(b)
	p := paillier.NewNoncePool(s.Aux.PeerPaillier, 1)
	for b.Loop() {
		if _, err := p.Fill(context.Background(), rand.Reader); err != nil {
			b.Fatal(err)
		}
		p.Clear()
	}
}
