package prm

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math/big"
	"sync"
	"testing"

	"github.com/cronokirby/saferith"

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
}

type setup struct {
	sk     *paillier.SecretKey
	pub    Public
	lambda *saferith.Nat
	proof  *Proof
}

// The honest parameters and proof are made once and shared by the tests,
// which tamper with copies.
var honest = sync.OnceValue(func() *setup {
	p, q := fixtures.SafePrimePair(0)
	sk, err := paillier.NewSecretKey(p, q)
	if err != nil {
		panic(err)
	}
	own, lambda, err := pedersen.Generate(rand.Reader, sk)
	if err != nil {
		panic(err)
	}
	pub := Public{N: own.N(), S: own.S(), T: own.T()}
	proof, err := Prove(rand.Reader, testCtx, pub, Private{Key: sk, Lambda: lambda})
	if err != nil {
		panic(err)
	}
	return &setup{sk: sk, pub: pub, lambda: lambda, proof: proof}
})

func (p *Proof) clone() *Proof {
	c := *p
	return &c
}

func TestHonestProofVerifies(t *testing.T) {
	h := honest()
	if err := h.proof.Verify(testCtx, h.pub); err != nil {
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
	if err := got.Verify(testCtx, h.pub); err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{0, 1, len(b) / 2, len(b) - 1} {
		d := codec.NewDecoder(b[:cut])
		Decode(d)
		if d.Finish() == nil {
			t.Fatalf("truncated encoding (%d of %d bytes) decoded", cut, len(b))
		}
	}
}

func TestTamperedProofs(t *testing.T) {
	h := honest()
	n := h.pub.N
	p, _ := h.sk.PrimesVarTime()
	one := big.NewInt(1)
	with := func(f func(*Public)) Public {
		pub := h.pub
		f(&pub)
		return pub
	}
	tests := []struct {
		name   string
		tamper func(*Proof)
		pub    Public
		want   error
	}{
		{"missing A", func(q *Proof) { q.A[0] = nil }, h.pub, ErrMalformed},
		{"missing z", func(q *Proof) { q.Z[79] = nil }, h.pub, ErrMalformed},
		{"missing s", nil, with(func(p *Public) { p.S = nil }), ErrMalformed},
		{"missing t", nil, with(func(p *Public) { p.T = nil }), ErrMalformed},
		{"missing N", nil, with(func(p *Public) { p.N = nil }), ErrMalformed},
		// The size and sign checks come before any other: each of these
		// moduli is odd, and s = 2, t = 4 are units on it, so nothing else
		// would stop them at that point.
		{"N of 2046 bits", nil, onModulus(zktest.OddModulus(n, 2046)), ErrModulus},
		{"N of 2049 bits", nil, onModulus(zktest.OddModulus(n, 2049)), ErrModulus},
		{"negative N", nil, onModulus(new(big.Int).Neg(n)), ErrModulus},
		{"N = 0", nil, onModulus(new(big.Int)), ErrModulus},
		{"even N", nil, with(func(p *Public) { p.N = new(big.Int).Add(n, one) }), ErrModulus},
		{"s = t", nil, with(func(p *Public) { p.S = p.T }), ErrParams},
		{"t = 1", nil, with(func(p *Public) { p.T = one }), ErrParams},
		{"s not a unit", nil, with(func(pub *Public) { pub.S = new(big.Int).Set(p) }), ErrParams},
		{"A = 1", func(q *Proof) { q.A[4] = big.NewInt(1) }, h.pub, ErrA},
		{"A = 0", func(q *Proof) { q.A[4] = new(big.Int) }, h.pub, ErrA},
		{"A shares p", func(q *Proof) { q.A[4] = new(big.Int).Set(p) }, h.pub, ErrA},
		{"z = N", func(q *Proof) { q.Z[9] = new(big.Int).Set(n) }, h.pub, ErrZ},
		{"z < 0", func(q *Proof) { q.Z[9] = big.NewInt(-1) }, h.pub, ErrZ},
		{"z + 1", func(q *Proof) { q.Z[9] = new(big.Int).Add(q.Z[9], one) }, h.pub, ErrVerify},
		{"A·t", func(q *Proof) { q.A[9] = new(big.Int).Mul(q.A[9], h.pub.T); q.A[9].Mod(q.A[9], n) }, h.pub, ErrVerify},
		{"other s", nil, with(func(p *Public) { p.S = new(big.Int).Mod(new(big.Int).Mul(p.S, p.T), n) }), ErrVerify},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := h.proof.clone()
			if tc.tamper != nil {
				tc.tamper(q)
			}
			err := q.Verify(testCtx, tc.pub)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// onModulus returns parameters (N, 2, 4): s and t are units for any odd N.
func onModulus(n *big.Int) Public {
	return Public{N: n, S: big.NewInt(2), T: big.NewInt(4)}
}

// A modulus at either end of the accepted sizes passes the size check: the
// proof then fails on its commitments or equations, which belong to another N.
func TestModulusSizeBounds(t *testing.T) {
	h := honest()
	for _, bits := range []int{paillier.MinModulusBits, paillier.MaxModulusBits} {
		n := zktest.OddModulus(h.pub.N, bits)
		if n.BitLen() != bits {
			t.Fatalf("modulus of %d bits, want %d", n.BitLen(), bits)
		}
		err := h.proof.Verify(testCtx, onModulus(n))
		if err == nil || errors.Is(err, ErrModulus) || errors.Is(err, ErrParams) {
			t.Errorf("N of %d bits: got %v, want a failure past the modulus and parameter checks", bits, err)
		}
	}
}

// A nil proof is refused, not dereferenced.
func TestNilProof(t *testing.T) {
	var p *Proof
	if err := p.Verify(testCtx, honest().pub); !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want %v", err, ErrMalformed)
	}
}

func TestContextBinding(t *testing.T) {
	h := honest()
	contexts := map[string]*zk.Context{
		// Reflection: the proof of one party replayed as the other's.
		"swapped roles": {SessionID: testCtx.SessionID, Prover: testCtx.Verifier, Verifier: testCtx.Prover},
		"other prover":  {SessionID: testCtx.SessionID, Prover: []byte("mallory"), Verifier: testCtx.Verifier},
		"other session": {SessionID: []byte("other"), Prover: testCtx.Prover, Verifier: testCtx.Verifier},
	}
	for name, ctx := range contexts {
		t.Run(name, func(t *testing.T) {
			if err := h.proof.Verify(ctx, h.pub); !errors.Is(err, ErrVerify) {
				t.Fatalf("got %v, want %v", err, ErrVerify)
			}
		})
	}
}

func TestProveChecksWitness(t *testing.T) {
	h := honest()
	wrong := new(saferith.Nat).Add(h.lambda, new(saferith.Nat).SetUint64(1), h.lambda.AnnouncedLen()+1)
	if _, err := Prove(rand.Reader, testCtx, h.pub, Private{Key: h.sk, Lambda: wrong}); !errors.Is(err, ErrWitness) {
		t.Fatalf("wrong λ: got %v, want %v", err, ErrWitness)
	}
	other := zktest.Key(1)
	if _, err := Prove(rand.Reader, testCtx, h.pub, Private{Key: other, Lambda: h.lambda}); !errors.Is(err, ErrWitness) {
		t.Fatalf("other key: got %v, want %v", err, ErrWitness)
	}
}

// A prover whose s is not in ⟨t⟩ has no λ. Its best strategy is the c-guess
// attack: guess each challenge bit e_k in advance and commit to
// A_k = t^a_k·s^(−g_k), which it can answer exactly when the guess g_k is
// right. The verifier must reject, and every wrong guess must be caught.
func TestRejectsSOutsideT(t *testing.T) {
	sk := zktest.Key(1)
	n := sk.N()
	own, _, err := pedersen.Generate(rand.Reader, sk)
	if err != nil {
		t.Fatal(err)
	}
	// t is a square; an s with Jacobi symbol −1 is not, so s ∉ ⟨t⟩.
	var s *big.Int
	for {
		if s, err = rand.Int(rand.Reader, n); err != nil {
			t.Fatal(err)
		}
		if s.Sign() > 0 && big.Jacobi(s, n) == -1 {
			break
		}
	}
	pub := Public{N: n, S: s, T: own.T()}
	sInv := new(big.Int).ModInverse(s, n)

	proof := new(Proof)
	var guess [zk.Repetitions]bool
	for k := range proof.A {
		a, err := rand.Int(rand.Reader, n)
		if err != nil {
			t.Fatal(err)
		}
		g, err := rand.Int(rand.Reader, big.NewInt(2))
		if err != nil {
			t.Fatal(err)
		}
		guess[k] = g.Sign() == 1
		proof.Z[k] = a
		proof.A[k] = new(big.Int).Exp(pub.T, a, n)
		if guess[k] {
			proof.A[k].Mul(proof.A[k], sInv).Mod(proof.A[k], n)
		}
	}
	if err := proof.Verify(testCtx, pub); !errors.Is(err, ErrVerify) {
		t.Fatalf("got %v, want %v", err, ErrVerify)
	}
	e := challenge(testCtx, pub, &proof.A)
	table, err := arith.MustModulus(n).NewFixedBase(arith.NatFromBig(pub.T), paillier.MaxModulusBits)
	if err != nil {
		t.Fatal(err)
	}
	right := 0
	for k := range e {
		passed := proof.verifyRepetition(pub, table, e[k], k) == nil
		if passed != (guess[k] == e[k]) {
			t.Fatalf("repetition %d: guess %v, challenge %v, passed %v", k, guess[k], e[k], passed)
		}
		if passed {
			right++
		}
	}
	if right == zk.Repetitions {
		t.Fatal("every guess right: the challenge does not depend on the commitments")
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
	for b.Loop() {
		if _, err := Prove(rand.Reader, testCtx, h.pub, Private{Key: h.sk, Lambda: h.lambda}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := honest()
	for b.Loop() {
		if err := h.proof.Verify(testCtx, h.pub); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(zktest.Encode(h.proof))), "bytes")
}
