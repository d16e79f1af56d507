package mpc

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/duetwallet/duet/mpc/paillier"
)

// partyNonces are one party's pools: under the peer's key and its own.
type partyNonces struct{ peer, own *paillier.NoncePool }

// presignPairNonces is presignPair with nonce pools on each side.
func presignPairNonces(t testing.TB, d, s *KeyShare, nd, ns partyNonces) (*Presignature, *Presignature, error, error) {
	t.Helper()
	a, b := pairConfigs(t, ProtocolPresign)
	outA, outB, errA, errB := runPair(
		func() (Round, *Message, error) {
			return Presign(PresignConfig{Config: a, Share: d, PeerNonces: nd.peer, OwnNonces: nd.own})
		},
		func() (Round, *Message, error) {
			return Presign(PresignConfig{Config: b, Share: s, PeerNonces: ns.peer, OwnNonces: ns.own})
		},
		nil)
	if errA != nil || errB != nil {
		return nil, nil, errA, errB
	}
	return outA.(*Presignature), outB.(*Presignature), nil, nil
}

// fillNonces makes a pool of n nonces for pk, through the CRT when sk (the
// owner's key) is given.
func fillNonces(t testing.TB, pk *paillier.PublicKey, sk *paillier.SecretKey, n int) *paillier.NoncePool {
	t.Helper()
	p := paillier.NewNoncePool(pk, n)
	var err error
	if sk != nil {
		_, err = sk.FillNonces(context.Background(), rand.Reader, p)
	} else {
		_, err = p.Fill(context.Background(), rand.Reader)
	}
	if err != nil || p.Len() != n {
		t.Fatalf("filling nonces: %d, %v", p.Len(), err)
	}
	return p
}

// Presigning with precomputed nonces: the proofs over them verify (each side
// checks the other's Πenc, Πaff-g and Πlog*, whose commitments carry pooled
// nonces), the presignatures sign, and each run takes PeerNoncesPerRun and
// OwnNoncesPerRun nonces, never more.
func TestPresignWithNoncePool(t *testing.T) {
	d, s := signingPair(t)
	nd := partyNonces{
		peer: fillNonces(t, d.Aux.PeerPaillier, nil, PeerNoncesPerRun+2),
		own:  fillNonces(t, d.Aux.Paillier.PublicKey, d.Aux.Paillier, OwnNoncesPerRun+3),
	}
	ns := partyNonces{
		peer: fillNonces(t, s.Aux.PeerPaillier, nil, PeerNoncesPerRun-1),
		own:  fillNonces(t, s.Aux.Paillier.PublicKey, s.Aux.Paillier, OwnNoncesPerRun-2),
	}
	digest := [32]byte{9, 8, 7}
	for run, want := range [][4]int{{2, 3, 0, 0}, {0, 0, 0, 0}} {
		pd, ps, errD, errS := presignPairNonces(t, d, s, nd, ns)
		if errD != nil || errS != nil {
			t.Fatalf("run %d: %v / %v", run, errD, errS)
		}
		got := [4]int{nd.peer.Len(), nd.own.Len(), ns.peer.Len(), ns.own.Len()}
		if got != want {
			t.Fatalf("run %d: pools hold %v (device peer, own; server peer, own), want %v", run, got, want)
		}
		sig, err := signWith(t, pd, ps, digest)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		recoversTo(t, sig, digest, d.PublicKey)
	}
}

// A pool made for another key is left alone: pools swapped between the
// peer's key and one's own give no nonce to either.
func TestPresignIgnoresPoolOfOtherKey(t *testing.T) {
	d, s := signingPair(t)
	ownAsPeer := fillNonces(t, d.Aux.Paillier.PublicKey, d.Aux.Paillier, 2)
	peerAsOwn := fillNonces(t, d.Aux.PeerPaillier, nil, 2)
	if _, _, errD, errS := presignPairNonces(t, d, s, partyNonces{peer: ownAsPeer, own: peerAsOwn}, partyNonces{}); errD != nil || errS != nil {
		t.Fatalf("%v / %v", errD, errS)
	}
	if ownAsPeer.Len() != 2 || peerAsOwn.Len() != 2 {
		t.Fatalf("pools of the wrong keys lost nonces: %d and %d left of 2", ownAsPeer.Len(), peerAsOwn.Len())
	}
}

// BenchmarkPresignNonces is BenchmarkPresign with the nonces of a run
// precomputed on each side (outside the timer), under the peer's key and
// under its own: ns/op is the online time of a presigning run whose nonces
// were made in idle time. Each iteration also runs one presigning without
// them, untimed but measured as inline-ns/op, so that the two share the
// machine's load (in alternating order, so that neither always follows the
// nonces' making); saved-ns/op is the difference.
func BenchmarkPresignNonces(b *testing.B) {
	d, s := signingPair(b)
	nd := partyNonces{paillier.NewNoncePool(d.Aux.PeerPaillier, PeerNoncesPerRun), paillier.NewNoncePool(d.Aux.Paillier.PublicKey, OwnNoncesPerRun)}
	ns := partyNonces{paillier.NewNoncePool(s.Aux.PeerPaillier, PeerNoncesPerRun), paillier.NewNoncePool(s.Aux.Paillier.PublicKey, OwnNoncesPerRun)}
	var inline, pooled time.Duration
	runInline := func() {
		start := time.Now()
		if _, _, errD, errS := presignPair(b, d, s, nil); errD != nil || errS != nil {
			b.Fatal(errD, errS)
		}
		inline += time.Since(start)
	}
	ctx := context.Background()
	i := 0
	for b.Loop() {
		b.StopTimer()
		for _, p := range []struct {
			n  partyNonces
			sk *paillier.SecretKey
		}{{nd, d.Aux.Paillier}, {ns, s.Aux.Paillier}} {
			if _, err := p.n.peer.Fill(ctx, rand.Reader); err != nil {
				b.Fatal(err)
			}
			if _, err := p.sk.FillNonces(ctx, rand.Reader, p.n.own); err != nil {
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

// BenchmarkNonceFill is one nonce under a peer's key (an exponentiation
// modulo N²) and one under one's own (through the CRT): the idle-time work
// that BenchmarkPresignNonces saves PeerNoncesPerRun and OwnNoncesPerRun
// times on each side.
func BenchmarkNonceFill(b *testing.B) {
	_, s := signingPair(b)
	peer := paillier.NewNoncePool(s.Aux.PeerPaillier, 1)
	own := paillier.NewNoncePool(s.Aux.Paillier.PublicKey, 1)
	ctx := context.Background()
	b.Run("peer", func(b *testing.B) {
		for b.Loop() {
			if _, err := peer.Fill(ctx, rand.Reader); err != nil {
				b.Fatal(err)
			}
			peer.Clear()
		}
	})
	b.Run("own", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Aux.Paillier.FillNonces(ctx, rand.Reader, own); err != nil {
				b.Fatal(err)
			}
			own.Clear()
		}
	})
}
