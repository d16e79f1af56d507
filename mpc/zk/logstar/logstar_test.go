package logstar

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

func randomPoint(tb testing.TB) *curve.Point {
	tb.Helper()
	s, err := curve.RandomScalar(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return curve.BaseMul(s)
}

// statement encrypts x under the prover's key and sets X = x·B.
func statement(tb testing.TB, s setup, x *saferith.Int, B *curve.Point) (Public, Private) {
	tb.Helper()
	C, rho, err := s.prover.Encrypt(rand.Reader, x)
	if err != nil {
		tb.Fatal(err)
	}
	pub := Public{N0: s.prover.PublicKey, C: C, X: B.Mul(curve.ScalarFromInt(x)), B: B, Aux: s.verifier.Params}
	return pub, Private{SecretKey: s.prover, X: x, Rho: rho}
}

func scalarWitness(tb testing.TB) *saferith.Int {
	tb.Helper()
	x, err := curve.RandomScalar(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return x.Int()
}

func honestProof(tb testing.TB) (setup, Public, Private, *Proof) {
	tb.Helper()
	s := keys(tb)
	pub, priv := statement(tb, s, scalarWitness(tb), randomPoint(tb))
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
	s := keys(t)
	for name, B := range map[string]*curve.Point{"B = G": curve.Generator(), "B = Γ": randomPoint(t)} {
		pub, priv := statement(t, s, scalarWitness(t), B)
		p, err := Prove(rand.Reader, testContext(), pub, priv)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Verify(testContext(), pub, s.verifier); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pub.Aux = nil
		if err := p.Verify(testContext(), pub, s.verifier); err != nil {
			t.Fatalf("%s, statement without Aux: %v", name, err)
		}
	}
}

func TestNegativeWitness(t *testing.T) {
	s := keys(t)
	x := arith.IntFromBig(new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), zk.L)))
	pub, priv := statement(t, s, x, curve.Generator())
	p, err := Prove(rand.Reader, testContext(), pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(testContext(), pub, s.verifier); err != nil {
		t.Fatal(err)
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
	t.Logf("Πlog* proof: %d bytes", len(b))
	d = codec.NewDecoder(b[:len(b)-1])
	if Decode(d) != nil || d.Err() == nil {
		t.Fatal("truncated proof decoded")
	}
}

func TestStatementTampered(t *testing.T) {
	s, pub, _, p := honestProof(t)
	other, _, err := s.prover.Encrypt(rand.Reader, scalarWitness(t))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		tamper func(*Public)
		want   error
	}{
		{"C", func(pub *Public) { pub.C = other }, ErrGroup},
		{"X", func(pub *Public) { pub.X = randomPoint(t) }, ErrGroup},
		{"B", func(pub *Public) { pub.B = randomPoint(t) }, ErrGroup},
	}
	for _, c := range cases {
		pb := pub
		c.tamper(&pb)
		if err := p.Verify(testContext(), pb, s.verifier); !errors.Is(err, c.want) {
			t.Errorf("tampered %s: got %v, want %v", c.name, err, c.want)
		}
	}
}

// TestDiscreteLogMismatch: C encrypts x but X = x′·B. The prover cannot
// answer for both.
func TestDiscreteLogMismatch(t *testing.T) {
	s := keys(t)
	pub, priv := statement(t, s, scalarWitness(t), curve.Generator())
	pub.X = curve.BaseMul(curve.ScalarFromInt(scalarWitness(t)))
	p, err := Prove(rand.Reader, testContext(), pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(testContext(), pub, s.verifier); !errors.Is(err, ErrGroup) {
		t.Fatalf("got %v, want %v", err, ErrGroup)
	}
}

func TestContextBound(t *testing.T) {
	s, pub, _, p := honestProof(t)
	ctx := testContext()
	swapped := &zk.Context{SessionID: ctx.SessionID, Prover: ctx.Verifier, Verifier: ctx.Prover}
	session := &zk.Context{SessionID: []byte("another psid"), Prover: ctx.Prover, Verifier: ctx.Verifier}
	for name, c := range map[string]*zk.Context{"swapped ids": swapped, "other session": session} {
		if err := p.Verify(c, pub, s.verifier); !errors.Is(err, ErrGroup) {
			t.Errorf("%s: got %v, want %v", name, err, ErrGroup)
		}
	}
}

func TestVerifierParams(t *testing.T) {
	s, pub, _, p := honestProof(t)
	pub.Aux = s.other.Params
	if err := p.Verify(testContext(), pub, s.verifier); !errors.Is(err, ErrParams) {
		t.Fatalf("got %v, want %v", err, ErrParams)
	}
	pub.Aux = nil
	if err := p.Verify(testContext(), pub, s.other); !errors.Is(err, ErrGroup) {
		t.Fatalf("got %v, want %v", err, ErrGroup)
	}
}

// TestOutOfRangePlaintext: C encrypts x = 3·2^(ℓ+ε+1), with X = x·B
// consistent. Every equation can hold; the range check rejects.
func TestOutOfRangePlaintext(t *testing.T) {
	s := keys(t)
	x := arith.IntFromBig(new(big.Int).Lsh(big.NewInt(3), zk.L+zk.Epsilon+1))
	pub, priv := statement(t, s, x, curve.Generator())
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
	d := codec.NewDecoder(zktest.Encode(p))
	if Decode(d) != nil || !errors.Is(d.Err(), codec.ErrTooLarge) {
		t.Fatalf("decode: got %v, want %v", d.Err(), codec.ErrTooLarge)
	}
}

// TestZeroNonceForgery: A = 0 and z₂ = 0 satisfy the Paillier equation for
// any C; the EC and ring-Pedersen parts are made honestly for x = dlog X.
func TestZeroNonceForgery(t *testing.T) {
	s := keys(t)
	xs := scalarWitness(t)
	// C encrypts 2^1000 + x: the same value mod q, far outside I.
	xBig := new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 1000), xs.Big())
	C, _, err := s.prover.Encrypt(rand.Reader, arith.IntFromBig(xBig))
	if err != nil {
		t.Fatal(err)
	}
	B := curve.Generator()
	pub := Public{N0: s.prover.PublicKey, C: C, X: curve.BaseMul(curve.ScalarFromInt(xs)), B: B}
	aux := s.verifier.Params
	alpha, _ := arith.SampleSigned(rand.Reader, zk.L+zk.Epsilon)
	mu, _ := arith.SampleSignedScaled(rand.Reader, zk.L, aux.N())
	gamma, _ := arith.SampleSignedScaled(rand.Reader, zk.L+zk.Epsilon, aux.N())
	p := &Proof{
		S: aux.Commit(xs, mu), A: new(big.Int),
		Y: B.Mul(curve.ScalarFromInt(alpha)), D: aux.Commit(alpha, gamma),
	}
	e := arith.IntFromBig(challenge(testContext(), aux, pub, p))
	p.Z1 = arith.MulAdd(alpha, e, xs).Big()
	p.Z2 = new(big.Int)
	p.Z3 = arith.MulAdd(gamma, e, mu).Big()
	n0 := pub.N0
	if n0.EncVarTime(p.Z1, p.Z2).Cmp(n0.Add(p.A, n0.MulConstVarTime(C, e.Big()))) != 0 {
		t.Fatal("forgery does not satisfy the Paillier equation")
	}
	if err := p.Verify(testContext(), pub, s.verifier); !errors.Is(err, ErrA) {
		t.Fatalf("got %v, want %v", err, ErrA)
	}
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
		{"C = 0", func(p *Proof, pub *Public) { pub.C = new(big.Int) }, ErrC},
		{"C = N₀²", func(p *Proof, pub *Public) { pub.C = n0sq }, ErrC},
		{"X = O", func(p *Proof, pub *Public) { pub.X = curve.Identity() }, ErrPoint},
		{"B = O", func(p *Proof, pub *Public) { pub.B = curve.Identity() }, ErrPoint},
		{"Y = O", func(p *Proof, pub *Public) { p.Y = curve.Identity() }, ErrPoint},
		{"A = N₀", func(p *Proof, pub *Public) { p.A = n0 }, ErrA},
		{"z₂ = 0", func(p *Proof, pub *Public) { p.Z2 = new(big.Int) }, ErrZ2},
		{"z₂ = N₀", func(p *Proof, pub *Public) { p.Z2 = n0 }, ErrZ2},
		{"S = 0", func(p *Proof, pub *Public) { p.S = new(big.Int) }, ErrS},
		{"D̃ = N̂", func(p *Proof, pub *Public) { p.D = nHat }, ErrD},
		{"z₁ = 2^(ℓ+ε)+1", func(p *Proof, pub *Public) { p.Z1 = new(big.Int).Add(big2(zk.L+zk.Epsilon), big.NewInt(1)) }, ErrZ1Range},
		{"z₃ = −2^2818", func(p *Proof, pub *Public) { p.Z3 = new(big.Int).Neg(big2(z3Bits)) }, ErrZ3Size},
		{"other Y", func(p *Proof, pub *Public) { p.Y = randomPoint(t) }, ErrGroup},
		{"z₁ + q", func(p *Proof, pub *Public) { p.Z1 = new(big.Int).Add(p.Z1, curve.Order()) }, ErrPaillier},
		{"other z₂", func(p *Proof, pub *Public) { p.Z2 = new(big.Int).Add(p.Z2, big.NewInt(1)) }, ErrPaillier},
		{"other A (new challenge)", func(p *Proof, pub *Public) { p.A = new(big.Int).Add(p.A, big.NewInt(1)) }, ErrGroup},
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
		func(p *Proof, _ *Public) { p.Y = nil },
		func(p *Proof, _ *Public) { p.D = nil },
		func(p *Proof, _ *Public) { p.Z1 = nil },
		func(p *Proof, _ *Public) { p.Z2 = nil },
		func(p *Proof, _ *Public) { p.Z3 = nil },
		func(_ *Proof, pub *Public) { pub.C = nil },
		func(_ *Proof, pub *Public) { pub.X = nil },
		func(_ *Proof, pub *Public) { pub.B = nil },
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
	pub, priv := statement(t, s, scalarWitness(t), curve.Generator())
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
	id := pub
	id.B = curve.Identity()
	if _, err := Prove(rand.Reader, testContext(), id, priv); !errors.Is(err, ErrPoint) {
		t.Fatalf("got %v, want %v", err, ErrPoint)
	}
}

func FuzzDecode(f *testing.F) {
	_, _, _, p := honestProof(f)
	f.Add(zktest.Encode(p))
	f.Add([]byte{})
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
	pub, priv := statement(b, s, scalarWitness(b), randomPoint(b))
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
