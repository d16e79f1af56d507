package fac

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math/big"
	"sync"
	"testing"

	"github.com/duetwallet/duet/internal/fixtures"
	"github.com/duetwallet/duet/mpc/arith"
	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/mpc/pedersen"
	"github.com/duetwallet/duet/mpc/zk"
	"github.com/duetwallet/duet/mpc/zk/internal/zktest"
)

var testCtx = &zk.Context{
	SessionID: []byte("session"),
	Prover:    []byte("device"),
	Verifier:  []byte("server"),
	Rand:      []byte("rho"),
}

type setup struct {
	prover   *paillier.SecretKey // N₀
	verifier *pedersen.Own       // (N̂, s, t) with its factorisation
	pub      Public
	proof    *Proof
}

// The keys come from the fixtures: the prover's is the smallest modulus, so
// that a proof presented for a larger one fails in its equations rather than
// its ranges.
var honest = sync.OnceValue(func() *setup {
	prover, verifier := zktest.Key(0), zktest.Key(1)
	for i := range fixtures.Pairs() {
		if k := zktest.Key(i); k.N().Cmp(prover.N()) < 0 {
			prover = k
		}
	}
	if prover.N().Cmp(verifier.N()) == 0 {
		verifier = zktest.Key(2)
	}
	own, _, err := pedersen.Generate(rand.Reader, verifier)
	if err != nil {
		panic(err)
	}
	pub := Public{N0: prover.N(), Aux: own.Params}
	proof, err := Prove(rand.Reader, testCtx, pub, Private{P: prover.P(), Q: prover.Q()})
	if err != nil {
		panic(err)
	}
	return &setup{prover: prover, verifier: own, pub: pub, proof: proof}
})

func (p *Proof) clone() *Proof {
	c := *p
	return &c
}

func TestHonestProofVerifies(t *testing.T) {
	h := honest()
	if err := h.proof.Verify(testCtx, h.pub, h.verifier); err != nil {
		t.Fatal(err)
	}
}

func TestEncodeDecode(t *testing.T) {
	h := honest()
	b := zktest.Encode(h.proof)
	d := codec.NewDecoder(b)
	got := Decode(d)
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(zktest.Encode(got), b) {
		t.Fatal("decode then encode changed the bytes")
	}
	if err := got.Verify(testCtx, h.pub, h.verifier); err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{0, 1, len(b) / 2, len(b) - 1} {
		d := codec.NewDecoder(b[:cut])
		Decode(d)
		if d.Finish() == nil {
			t.Fatalf("truncated encoding (%d of %d bytes) decoded", cut, len(b))
		}
	}
	// A σ one bit over its cap is refused by the decoder.
	over := h.proof.clone()
	over.Sigma = new(big.Int).Lsh(one, sigmaBits)
	d = codec.NewDecoder(zktest.Encode(over))
	Decode(d)
	if !errors.Is(d.Finish(), codec.ErrTooLarge) {
		t.Fatalf("oversized σ: got %v, want %v", d.Err(), codec.ErrTooLarge)
	}
}

var one = big.NewInt(1)

func TestTamperedProofs(t *testing.T) {
	h := honest()
	nHat := h.pub.Aux.N()
	vp, _ := h.verifier.CRT().Factors()
	bound := new(big.Int).Lsh(new(big.Int).Sqrt(h.pub.N0), zk.L+zk.Epsilon)
	otherAux := func() *pedersen.Own {
		own, _, err := pedersen.Generate(rand.Reader, h.prover)
		if err != nil {
			t.Fatal(err)
		}
		return own
	}()
	tests := []struct {
		name   string
		tamper func(*Proof)
		pub    func(*Public)
		own    *pedersen.Own
		want   error
	}{
		{name: "missing T", tamper: func(q *Proof) { q.T = nil }, want: ErrMalformed},
		{name: "missing v", tamper: func(q *Proof) { q.V = nil }, want: ErrMalformed},
		{name: "missing N₀", pub: func(p *Public) { p.N0 = nil }, want: ErrMalformed},
		{name: "missing aux", pub: func(p *Public) { p.Aux = nil }, want: ErrMalformed},
		{name: "missing P", tamper: func(q *Proof) { q.P = nil }, want: ErrMalformed},
		{name: "missing Q", tamper: func(q *Proof) { q.Q = nil }, want: ErrMalformed},
		{name: "missing A", tamper: func(q *Proof) { q.A = nil }, want: ErrMalformed},
		{name: "missing B", tamper: func(q *Proof) { q.B = nil }, want: ErrMalformed},
		{name: "missing σ", tamper: func(q *Proof) { q.Sigma = nil }, want: ErrMalformed},
		{name: "missing z₁", tamper: func(q *Proof) { q.Z1 = nil }, want: ErrMalformed},
		{name: "missing z₂", tamper: func(q *Proof) { q.Z2 = nil }, want: ErrMalformed},
		{name: "missing w₁", tamper: func(q *Proof) { q.W1 = nil }, want: ErrMalformed},
		{name: "missing w₂", tamper: func(q *Proof) { q.W2 = nil }, want: ErrMalformed},
		{name: "other verifier", own: otherAux, want: ErrAux},
		{name: "N₀ of 2046 bits", pub: func(p *Public) { p.N0 = zktest.OddModulus(p.N0, 2046) }, want: ErrModulus},
		{name: "N₀ of 2049 bits", pub: func(p *Public) { p.N0 = zktest.OddModulus(p.N0, 2049) }, want: ErrModulus},
		{name: "negative N₀", pub: func(p *Public) { p.N0 = new(big.Int).Neg(p.N0) }, want: ErrModulus},
		{name: "even N₀", pub: func(p *Public) { p.N0 = new(big.Int).Add(p.N0, one) }, want: ErrModulus},
		{name: "P = 0", tamper: func(q *Proof) { q.P = new(big.Int) }, want: ErrElement},
		{name: "T = N̂", tamper: func(q *Proof) { q.T = new(big.Int).Set(nHat) }, want: ErrElement},
		{name: "A shares a factor of N̂", tamper: func(q *Proof) { q.A = new(big.Int).Set(vp.Big()) }, want: ErrElement},
		{name: "σ over cap", tamper: func(q *Proof) { q.Sigma = new(big.Int).Lsh(one, sigmaBits) }, want: ErrSize},
		{name: "w₁ over cap", tamper: func(q *Proof) { q.W1 = new(big.Int).Lsh(one, wBits) }, want: ErrSize},
		{name: "w₂ over cap", tamper: func(q *Proof) { q.W2 = new(big.Int).Neg(new(big.Int).Lsh(one, wBits)) }, want: ErrSize},
		{name: "v over cap", tamper: func(q *Proof) { q.V = new(big.Int).Neg(new(big.Int).Lsh(one, vBits)) }, want: ErrSize},
		// At their caps the values get past the size check and fail in the
		// equations (σ through the challenge).
		{name: "σ at cap", tamper: func(q *Proof) { q.Sigma = atCap(sigmaBits) }, want: ErrEquation1},
		{name: "w₁ at cap", tamper: func(q *Proof) { q.W1 = atCap(wBits) }, want: ErrEquation1},
		{name: "w₂ at cap", tamper: func(q *Proof) { q.W2 = new(big.Int).Neg(atCap(wBits)) }, want: ErrEquation2},
		{name: "v at cap", tamper: func(q *Proof) { q.V = atCap(vBits) }, want: ErrEquation3},
		{name: "z₁ above range", tamper: func(q *Proof) { q.Z1 = new(big.Int).Add(bound, one) }, want: ErrZ1},
		{name: "z₂ below range", tamper: func(q *Proof) { q.Z2 = new(big.Int).Neg(new(big.Int).Add(bound, one)) }, want: ErrZ2},
		{name: "z₁ + 1", tamper: func(q *Proof) { q.Z1 = new(big.Int).Add(q.Z1, one) }, want: ErrEquation1},
		{name: "w₁ + 1", tamper: func(q *Proof) { q.W1 = new(big.Int).Add(q.W1, one) }, want: ErrEquation1},
		{name: "z₂ + 1", tamper: func(q *Proof) { q.Z2 = new(big.Int).Add(q.Z2, one) }, want: ErrEquation2},
		{name: "w₂ + 1", tamper: func(q *Proof) { q.W2 = new(big.Int).Add(q.W2, one) }, want: ErrEquation2},
		{name: "v + 1", tamper: func(q *Proof) { q.V = new(big.Int).Add(q.V, one) }, want: ErrEquation3},
		// σ is in the transcript: changing it changes e.
		{name: "σ + 1", tamper: func(q *Proof) { q.Sigma = new(big.Int).Add(q.Sigma, one) }, want: ErrEquation1},
		{name: "other N₀", pub: func(p *Public) { p.N0 = largestFixtureModulus() }, want: ErrEquation1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := h.proof.clone()
			if tc.tamper != nil {
				tc.tamper(q)
			}
			pub := h.pub
			if tc.pub != nil {
				tc.pub(&pub)
			}
			own := h.verifier
			if tc.own != nil {
				own = tc.own
			}
			if err := q.Verify(testCtx, pub, own); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	var nilProof *Proof
	if err := nilProof.Verify(testCtx, h.pub, h.verifier); !errors.Is(err, ErrMalformed) {
		t.Fatalf("nil proof: got %v", err)
	}
	if err := h.proof.Verify(testCtx, h.pub, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("nil verifier parameters: got %v", err)
	}
}

// atCap returns 2^bits − 1, the largest magnitude of the given size.
func atCap(bits int) *big.Int {
	return new(big.Int).Sub(new(big.Int).Lsh(one, uint(bits)), one)
}

// An N₀ of 2047 bits (the smallest accepted) gets past the modulus check; the
// proof, made for another N₀, then fails in its ranges or equations.
func TestModulusLowerBound(t *testing.T) {
	h := honest()
	pub := h.pub
	pub.N0 = zktest.OddModulus(h.pub.N0, paillier.MinModulusBits)
	if pub.N0.BitLen() != paillier.MinModulusBits {
		t.Fatalf("N₀ of %d bits", pub.N0.BitLen())
	}
	if err := h.proof.Verify(testCtx, pub, h.verifier); err == nil || errors.Is(err, ErrModulus) {
		t.Fatalf("got %v, want a failure past the modulus check", err)
	}
}

func largestFixtureModulus() *big.Int {
	n := new(big.Int)
	for i := range fixtures.Pairs() {
		if m := zktest.Key(i).N(); m.Cmp(n) > 0 {
			n = m
		}
	}
	return n
}

func TestContextBinding(t *testing.T) {
	h := honest()
	contexts := map[string]*zk.Context{
		"swapped roles": {SessionID: testCtx.SessionID, Prover: testCtx.Verifier, Verifier: testCtx.Prover, Rand: testCtx.Rand},
		"other session": {SessionID: []byte("other"), Prover: testCtx.Prover, Verifier: testCtx.Verifier, Rand: testCtx.Rand},
		"other ρ":       {SessionID: testCtx.SessionID, Prover: testCtx.Prover, Verifier: testCtx.Verifier, Rand: []byte("rho2")},
	}
	for name, ctx := range contexts {
		t.Run(name, func(t *testing.T) {
			if err := h.proof.Verify(ctx, h.pub, h.verifier); !errors.Is(err, ErrEquation1) {
				t.Fatalf("got %v, want %v", err, ErrEquation1)
			}
		})
	}
}

func TestProveChecksWitness(t *testing.T) {
	h := honest()
	other := zktest.Key(0)
	if other.N().Cmp(h.prover.N()) == 0 {
		other = zktest.Key(1)
	}
	if _, err := Prove(rand.Reader, testCtx, h.pub, Private{P: h.prover.P(), Q: other.Q()}); !errors.Is(err, ErrWitness) {
		t.Fatalf("p·q ≠ N₀: got %v, want %v", err, ErrWitness)
	}
}

// A 2032-bit prime made with crypto/rand.Prime: times a 16-bit prime it
// gives a 2048-bit N₀ with a small factor.
const largeFactorHex = "D55B54BE85BD474E6F156FB0D295802E12AD22777DCF944633A1C816F9889B08" +
	"3A201F27BB70922030C28C4B82055087084A8CBE191DC1A889F294E9D176CC0F" +
	"0C9D5C70A1DA109F1D7F98B217FFDCCB4FCF4ED8E780CB2CEF8A549AD227C25B" +
	"724F33332943E904D586FAE63B93F905986F0E183FEDD63A9FDE7B6923399BF6" +
	"C0D943B2C543AAB474FAE218D9575B3A2F2E701E0B39749F0D34EDEE5C351F7C" +
	"96638FD4646364864CDCE2764BDB187D07A13E5935EA88CEF7AC17118778CB62" +
	"7ACE90418E51B3781FAB9756263E456690B02B17650239038E9166C07D8D6F36" +
	"26AF3423E842AAD7185FD5EDD5E7795FAD55D5715D147EFDC802A2D96F77"

// The BitForge modulus shape: N₀ = p_small·Q. A prover running the honest
// algorithm with the true factors makes commitments and responses that
// satisfy every equation, but the response for the large factor is about
// 2^256·Q, far outside ±2^(ℓ+ε)·√N₀: the range check is what rejects it.
func TestRejectsSmallFactor(t *testing.T) {
	h := honest()
	small := big.NewInt(65521) // the largest prime below 2^16
	large, _ := new(big.Int).SetString(largeFactorHex, 16)
	if !small.ProbablyPrime(20) || !large.ProbablyPrime(20) {
		t.Fatal("fixture factors are not prime")
	}
	n0 := new(big.Int).Mul(small, large)
	if n0.BitLen() != 2048 {
		t.Fatalf("N₀ has %d bits", n0.BitLen())
	}
	pub := Public{N0: n0, Aux: h.pub.Aux}
	sqrtN0 := new(big.Int).Sqrt(n0)
	for _, tc := range []struct {
		name string
		p, q *big.Int
		want error
	}{
		{"p small", small, large, ErrZ2},
		{"q small", large, small, ErrZ1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			priv := Private{P: arith.NatFromBig(tc.p), Q: arith.NatFromBig(tc.q)}
			proof, err := prove(rand.Reader, testCtx, pub, priv, sqrtN0)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.verifyEquations(n0, challenge(testCtx, pub, proof), h.verifier); err != nil {
				t.Fatalf("the equations alone should hold for the true factors: %v", err)
			}
			if err := proof.Verify(testCtx, pub, h.verifier); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// The public prover refuses instead of resampling forever.
	priv := Private{P: arith.NatFromBig(small), Q: arith.NatFromBig(large)}
	if _, err := Prove(rand.Reader, testCtx, pub, priv); !errors.Is(err, ErrWitness) {
		t.Fatalf("Prove with a small factor: got %v, want %v", err, ErrWitness)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(zktest.Encode(honest().proof))
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 1, 5})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := codec.NewDecoder(b)
		p := Decode(d)
		if d.Finish() != nil {
			return
		}
		if !bytes.Equal(zktest.Encode(p), b) {
			t.Fatal("decoded proof re-encodes differently")
		}
	})
}

func BenchmarkProve(b *testing.B) {
	h := honest()
	priv := Private{P: h.prover.P(), Q: h.prover.Q()}
	for b.Loop() {
		if _, err := Prove(rand.Reader, testCtx, h.pub, priv); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := honest()
	for b.Loop() {
		if err := h.proof.Verify(testCtx, h.pub, h.verifier); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(zktest.Encode(h.proof))), "bytes")
}
