package enc

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math/big"
	"testing"

	"github.com/cronokirby/saferith"

	"github.com/duetwallet/duet/internal/fixtures"
	"github.com/duetwallet/duet/mpc/arith"
	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/mpc/pedersen"
	"github.com/duetwallet/duet/mpc/zk"
	"github.com/duetwallet/duet/mpc/zk/internal/zktest"
)

// setup is the prover's Paillier key (fixture pair 0) and the verifier's
// ring-Pedersen parameters on its own key (fixture pair 1).
type setup struct {
	prover   *paillier.SecretKey
	verifier *pedersen.Own
	other    *pedersen.Own // a second set on the verifier's key
}

func keys(tb testing.TB) setup {
	return setup{prover: zktest.Key(0), verifier: zktest.Pedersen(1, 0), other: zktest.Pedersen(1, 1)}
}

func testContext() *zk.Context {
	return &zk.Context{SessionID: []byte("psid"), Prover: []byte("device"), Verifier: []byte("server")}
}

// statement encrypts k under the prover's key.
func statement(tb testing.TB, s setup, k *saferith.Int) (Public, Private) {
	tb.Helper()
	K, rho, err := s.prover.Encrypt(rand.Reader, k)
	if err != nil {
		tb.Fatal(err)
	}
	pub := Public{N0: s.prover.PublicKey, K: K, Aux: s.verifier.Params}
	return pub, Private{SecretKey: s.prover, K: k, Rho: rho}
}

func scalarWitness(tb testing.TB) *saferith.Int {
	tb.Helper()
	k, err := curve.RandomScalar(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k.Int()
}

func honestProof(tb testing.TB) (setup, Public, Private, *Proof) {
	tb.Helper()
	s := keys(tb)
	pub, priv := statement(tb, s, scalarWitness(tb))
	p, err := Prove(rand.Reader, testContext(), pub, priv)
	if err != nil {
		tb.Fatal(err)
	}
	return s, pub, priv, p
}

func clone(p *Proof) *Proof {
	c := *p
	return &c
}

func TestHonestProofVerifies(t *testing.T) {
	s, pub, _, p := honestProof(t)
	if err := p.Verify(testContext(), pub, s.verifier); err != nil {
		t.Fatal(err)
	}
	// The verifier need not repeat its own parameters in the statement.
	pub.Aux = nil
	if err := p.Verify(testContext(), pub, s.verifier); err != nil {
		t.Fatal(err)
	}
}

func TestWitnessAtTheBoundsOfI(t *testing.T) {
	s := keys(t)
	bound := new(big.Int).Lsh(big.NewInt(1), zk.L)
	for _, k := range []*big.Int{bound, new(big.Int).Neg(bound), big.NewInt(0)} {
		pub, priv := statement(t, s, arith.IntFromBig(k))
		p, err := Prove(rand.Reader, testContext(), pub, priv)
		if err != nil {
			t.Fatalf("k = %v: %v", k, err)
		}
		if err := p.Verify(testContext(), pub, s.verifier); err != nil {
			t.Fatalf("k = %v: %v", k, err)
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	s, pub, _, p := honestProof(t)
	b := zktest.Encode(p)
	d := codec.NewDecoder(b)
	q := Decode(d)
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(zktest.Encode(q), b) {
		t.Fatal("re-encoding differs")
	}
	if err := q.Verify(testContext(), pub, s.verifier); err != nil {
		t.Fatal(err)
	}
	t.Logf("Πenc proof: %d bytes", len(b))

	d = codec.NewDecoder(b[:len(b)-1])
	if Decode(d) != nil || d.Err() == nil {
		t.Fatal("truncated proof decoded")
	}
	d = codec.NewDecoder(append(b, 0))
	if Decode(d) == nil || d.Finish() == nil {
		t.Fatal("trailing byte accepted")
	}
}

func TestStatementTampered(t *testing.T) {
	s, pub, _, p := honestProof(t)
	other, _, err := s.prover.Encrypt(rand.Reader, scalarWitness(t))
	if err != nil {
		t.Fatal(err)
	}
	pub.K = other
	if err := p.Verify(testContext(), pub, s.verifier); !errors.Is(err, ErrPaillier) {
		t.Fatalf("tampered K: got %v, want %v", err, ErrPaillier)
	}
}

func TestContextBound(t *testing.T) {
	s, pub, _, p := honestProof(t)
	ctx := testContext()
	swapped := &zk.Context{SessionID: ctx.SessionID, Prover: ctx.Verifier, Verifier: ctx.Prover}
	session := &zk.Context{SessionID: []byte("another psid"), Prover: ctx.Prover, Verifier: ctx.Verifier}
	for name, c := range map[string]*zk.Context{"swapped ids": swapped, "other session": session} {
		if err := p.Verify(c, pub, s.verifier); !errors.Is(err, ErrPaillier) {
			t.Errorf("%s: got %v, want %v", name, err, ErrPaillier)
		}
	}
}

func TestVerifierParams(t *testing.T) {
	s, pub, _, p := honestProof(t)
	pub.Aux = s.other.Params
	if err := p.Verify(testContext(), pub, s.verifier); !errors.Is(err, ErrParams) {
		t.Fatalf("got %v, want %v", err, ErrParams)
	}
	// A verifier holding other parameters than the prover used rejects:
	// they are in the transcript, so the challenge differs.
	pub.Aux = nil
	if err := p.Verify(testContext(), pub, s.other); !errors.Is(err, ErrPaillier) {
		t.Fatalf("got %v, want %v", err, ErrPaillier)
	}
}

// TestOutOfRangePlaintext plays the Alpha-Rays/BitForge sender: K encrypts a
// k far outside I. Whatever the cheating prover does, Verify rejects.
func TestOutOfRangePlaintext(t *testing.T) {
	s := keys(t)
	// k = 3·2^(ℓ+ε+1): |e·k| ≥ 3·2^(ℓ+ε+1) > |α| + 2^(ℓ+ε) for every e ≠ 0.
	k := new(big.Int).Lsh(big.NewInt(3), zk.L+zk.Epsilon+1)
	pub, priv := statement(t, s, arith.IntFromBig(k))
	if _, err := Prove(rand.Reader, testContext(), pub, priv); !errors.Is(err, ErrWitness) {
		t.Fatalf("Prove: got %v, want %v", err, ErrWitness)
	}
	p, err := prove(rand.Reader, testContext(), pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(testContext(), pub, s.verifier); !errors.Is(err, ErrZ1Range) {
		t.Fatalf("got %v, want %v", err, ErrZ1Range)
	}

	// A plaintext near N₀/2, the wrap-around value: z₁ does not even fit the
	// encoding's cap.
	k = new(big.Int).Rsh(s.prover.N(), 1)
	pub, priv = statement(t, s, arith.IntFromBig(k))
	p, err = prove(rand.Reader, testContext(), pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(testContext(), pub, s.verifier); !errors.Is(err, ErrZ1Range) {
		t.Fatalf("got %v, want %v", err, ErrZ1Range)
	}
	d := codec.NewDecoder(zktest.Encode(p))
	if Decode(d) != nil || !errors.Is(d.Err(), codec.ErrTooLarge) {
		t.Fatalf("decode: got %v, want %v", d.Err(), codec.ErrTooLarge)
	}

	// Proving an in-range k for a K that encrypts an out-of-range value.
	small := scalarWitness(t)
	pub2, priv2 := statement(t, s, small)
	priv2.Rho = priv.Rho
	pub2.K = pub.K
	p, err = Prove(rand.Reader, testContext(), pub2, priv2)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(testContext(), pub2, s.verifier); !errors.Is(err, ErrPaillier) {
		t.Fatalf("got %v, want %v", err, ErrPaillier)
	}
}

// TestZeroNonceForgery is the forgery of docs/PROTOCOL.md §3.0: A = 0 and z₂ = 0
// satisfy the Paillier equation for any K, and the commitments are honest
// for k = 0. Only the membership checks stop it.
func TestZeroNonceForgery(t *testing.T) {
	s := keys(t)
	// K encrypts 2^1000, far outside I.
	K, _, err := s.prover.Encrypt(rand.Reader, arith.IntFromBig(new(big.Int).Lsh(big.NewInt(1), 1000)))
	if err != nil {
		t.Fatal(err)
	}
	pub := Public{N0: s.prover.PublicKey, K: K, Aux: s.verifier.Params}
	aux := s.verifier.Params
	zero := new(saferith.Int).SetUint64(0)
	alpha, _ := arith.SampleSigned(rand.Reader, zk.L+zk.Epsilon)
	mu, _ := arith.SampleSignedScaled(rand.Reader, zk.L, aux.N())
	gamma, _ := arith.SampleSignedScaled(rand.Reader, zk.L+zk.Epsilon, aux.N())
	p := &Proof{S: aux.Commit(zero, mu), A: new(big.Int), C: aux.Commit(alpha, gamma)}
	e := arith.IntFromBig(challenge(testContext(), aux, pub.N0, K, p))
	p.Z1 = alpha.Big()
	p.Z2 = new(big.Int)
	p.Z3 = arith.MulAdd(gamma, e, mu).Big()

	// Both equations hold: the forgery is real.
	n0 := pub.N0
	if n0.EncVarTime(p.Z1, p.Z2).Cmp(n0.Add(p.A, n0.MulConstVarTime(K, e.Big()))) != 0 {
		t.Fatal("forgery does not satisfy the Paillier equation")
	}
	if !s.verifier.Verify(p.Z1, p.Z3, p.C, p.S, e.Big()) {
		t.Fatal("forgery does not satisfy the ring-Pedersen equation")
	}
	if err := p.Verify(testContext(), pub, s.verifier); !errors.Is(err, ErrA) {
		t.Fatalf("got %v, want %v", err, ErrA)
	}
	// With a unit A, z₂ = 0 is caught on its own.
	q := clone(p)
	q.A = big.NewInt(1)
	if err := q.Verify(testContext(), pub, s.verifier); !errors.Is(err, ErrZ2) {
		t.Fatalf("got %v, want %v", err, ErrZ2)
	}
}

func TestEachCheck(t *testing.T) {
	s, pub, _, p := honestProof(t)
	n0 := s.prover.N()
	nHat := s.verifier.N()
	n0sq := new(big.Int).Mul(n0, n0)
	big2 := func(bits uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), bits) }
	cases := []struct {
		name   string
		tamper func(p *Proof, pub *Public)
		want   error
	}{
		{"K = 0", func(p *Proof, pub *Public) { pub.K = new(big.Int) }, ErrK},
		{"K multiple of p", func(p *Proof, pub *Public) { pub.K, _ = s.prover.PrimesVarTime() }, ErrK},
		{"K = N₀²", func(p *Proof, pub *Public) { pub.K = n0sq }, ErrK},
		{"A = N₀", func(p *Proof, pub *Public) { p.A = n0 }, ErrA},
		{"A ≥ N₀²", func(p *Proof, pub *Public) { p.A = new(big.Int).Add(p.A, n0sq) }, ErrA},
		{"z₂ = 0", func(p *Proof, pub *Public) { p.Z2 = new(big.Int) }, ErrZ2},
		{"z₂ ≥ N₀", func(p *Proof, pub *Public) { p.Z2 = new(big.Int).Add(p.Z2, n0) }, ErrZ2},
		{"S = 0", func(p *Proof, pub *Public) { p.S = new(big.Int) }, ErrS},
		{"S ≥ N̂", func(p *Proof, pub *Public) { p.S = new(big.Int).Add(p.S, nHat) }, ErrS},
		{"C̃ = N̂", func(p *Proof, pub *Public) { p.C = nHat }, ErrC},
		{"z₁ = 2^(ℓ+ε)+1", func(p *Proof, pub *Public) { p.Z1 = new(big.Int).Add(big2(zk.L+zk.Epsilon), big.NewInt(1)) }, ErrZ1Range},
		{"z₁ = −2^(ℓ+ε)−1", func(p *Proof, pub *Public) {
			p.Z1 = new(big.Int).Neg(new(big.Int).Add(big2(zk.L+zk.Epsilon), big.NewInt(1)))
		}, ErrZ1Range},
		{"z₃ = 2^2818", func(p *Proof, pub *Public) { p.Z3 = big2(z3Bits) }, ErrZ3Size},
		{"z₁ + 1", func(p *Proof, pub *Public) { p.Z1 = new(big.Int).Add(p.Z1, big.NewInt(1)) }, ErrPaillier},
		{"other z₂", func(p *Proof, pub *Public) { p.Z2 = new(big.Int).Add(p.Z2, big.NewInt(1)) }, ErrPaillier},
		{"other A", func(p *Proof, pub *Public) { p.A = new(big.Int).Add(p.A, big.NewInt(1)) }, ErrPaillier},
		{"z₃ + 1", func(p *Proof, pub *Public) { p.Z3 = new(big.Int).Add(p.Z3, big.NewInt(1)) }, ErrPedersen},
	}
	for _, c := range cases {
		q, pb := clone(p), pub
		c.tamper(q, &pb)
		if err := q.Verify(testContext(), pb, s.verifier); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestMissingElements(t *testing.T) {
	s, pub, _, p := honestProof(t)
	var nilProof *Proof
	if err := nilProof.Verify(testContext(), pub, s.verifier); !errors.Is(err, ErrMalformed) {
		t.Fatalf("nil proof: got %v", err)
	}
	fields := []func(*Proof, *Public){
		func(p *Proof, _ *Public) { p.S = nil },
		func(p *Proof, _ *Public) { p.A = nil },
		func(p *Proof, _ *Public) { p.C = nil },
		func(p *Proof, _ *Public) { p.Z1 = nil },
		func(p *Proof, _ *Public) { p.Z2 = nil },
		func(p *Proof, _ *Public) { p.Z3 = nil },
		func(_ *Proof, pub *Public) { pub.K = nil },
		func(_ *Proof, pub *Public) { pub.N0 = nil },
	}
	for i, f := range fields {
		q, pb := clone(p), pub
		f(q, &pb)
		if err := q.Verify(testContext(), pb, s.verifier); !errors.Is(err, ErrMalformed) {
			t.Errorf("field %d: got %v, want %v", i, err, ErrMalformed)
		}
	}
	if err := p.Verify(testContext(), pub, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("nil verifier parameters: got %v", err)
	}
	if err := p.Verify(nil, pub, s.verifier); !errors.Is(err, ErrMalformed) {
		t.Errorf("nil context: got %v", err)
	}
}

func TestProveInputs(t *testing.T) {
	s := keys(t)
	pub, priv := statement(t, s, scalarWitness(t))
	p, q := fixtures.SafePrimePair(2)
	wrong, err := paillier.NewSecretKey(p, q)
	if err != nil {
		t.Fatal(err)
	}
	bad := priv
	bad.SecretKey = wrong
	if _, err := Prove(rand.Reader, testContext(), pub, bad); !errors.Is(err, ErrProverKey) {
		t.Fatalf("got %v, want %v", err, ErrProverKey)
	}
	noAux := pub
	noAux.Aux = nil
	if _, err := Prove(rand.Reader, testContext(), noAux, priv); !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want %v", err, ErrMalformed)
	}
}

func FuzzDecode(f *testing.F) {
	_, _, _, p := honestProof(f)
	f.Add(zktest.Encode(p))
	f.Add([]byte{})
	f.Add(make([]byte, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := codec.NewDecoder(b)
		q := Decode(d)
		if d.Finish() != nil {
			return
		}
		if !bytes.Equal(zktest.Encode(q), b) {
			t.Fatal("decoded proof re-encodes differently")
		}
	})
}

func BenchmarkProve(b *testing.B) {
	s := keys(b)
	pub, priv := statement(b, s, scalarWitness(b))
	ctx := testContext()
	for b.Loop() {
		if _, err := Prove(rand.Reader, ctx, pub, priv); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	s, pub, _, p := honestProof(b)
	ctx := testContext()
	for b.Loop() {
		if err := p.Verify(ctx, pub, s.verifier); err != nil {
			b.Fatal(err)
		}
	}
}
