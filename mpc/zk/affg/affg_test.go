package affg

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math/big"
	"sync"
	"testing"

	"github.com/cronokirby/saferith"

	"github.com/duetwallet/duet/mpc/arith"
	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/mpc/pedersen"
	"github.com/duetwallet/duet/mpc/zk"
	"github.com/duetwallet/duet/mpc/zk/internal/zktest"
)

// setup is the two parties' keys: the prover's Paillier key N₁ (fixture
// pair 0), the verifier's N₀ (pair 1) and its ring-Pedersen parameters on
// it, and an unrelated key (pair 2).
type setup struct {
	prover   *paillier.SecretKey
	verifier *paillier.SecretKey
	aux      *pedersen.Own
	other    *pedersen.Own // a second set on the verifier's key
	third    *paillier.SecretKey
}

func keys(tb testing.TB) setup {
	return setup{
		prover: zktest.Key(0), verifier: zktest.Key(1), third: zktest.Key(2),
		aux: zktest.Pedersen(1, 0), other: zktest.Pedersen(1, 1),
	}
}

func testContext() *zk.Context {
	return &zk.Context{SessionID: []byte("psid"), Prover: []byte("device"), Verifier: []byte("server")}
}

func randomScalar(tb testing.TB) *curve.Scalar {
	tb.Helper()
	s, err := curve.RandomScalar(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// mta is one MtA as presigning runs it: the verifier's K = enc₀(k), and the
// prover's D = (x ⊙ K) ⊕ enc₀(y; ρ), Y = enc₁(y; ρ_y), X = x·G.
type mta struct {
	pub  Public
	priv Private
	k    *saferith.Int // the verifier's secret
}

func newMtA(tb testing.TB, s setup, x, y *saferith.Int) mta {
	tb.Helper()
	k := randomScalar(tb).Int()
	C, _, err := s.verifier.Encrypt(rand.Reader, k)
	if err != nil {
		tb.Fatal(err)
	}
	n0 := s.verifier.PublicKey
	rho, err := arith.SampleUnit(rand.Reader, n0.Modulus())
	if err != nil {
		tb.Fatal(err)
	}
	// The prover would encrypt under N₀ with the public key; the test uses
	// the verifier's key for the same value, through the CRT.
	D := n0.Add(n0.MulConst(C, x), s.verifier.EncryptWithNonce(y, rho))
	Y, rhoY, err := s.prover.Encrypt(rand.Reader, y)
	if err != nil {
		tb.Fatal(err)
	}
	X := curve.BaseMul(curve.ScalarFromInt(x))
	return mta{
		pub:  Public{N0: n0, N1: s.prover.PublicKey, C: C, D: D, Y: Y, X: X, Aux: s.aux.Params},
		priv: Private{SecretKey: s.prover, X: x, Y: y, Rho: rho, RhoY: rhoY},
		k:    k,
	}
}

// honestMtA draws x ∈ [0, q), β ∈ J and sets y = −β, as presigning does.
func honestMtA(tb testing.TB, s setup) (mta, *saferith.Int) {
	tb.Helper()
	beta, err := arith.SampleSigned(rand.Reader, zk.LPrime)
	if err != nil {
		tb.Fatal(err)
	}
	y := new(saferith.Int).SetInt(beta).Neg(1)
	return newMtA(tb, s, randomScalar(tb).Int(), y), beta
}

var (
	proofOnce sync.Once
	shared    struct {
		m mta
		p *Proof
	}
)

// honestProof returns a shared honest proof; callers must not modify it.
func honestProof(tb testing.TB) (setup, Public, *Proof) {
	tb.Helper()
	s := keys(tb)
	proofOnce.Do(func() {
		m, _ := honestMtA(tb, s)
		p, err := Prove(rand.Reader, testContext(), m.pub, m.priv)
		if err != nil {
			panic(err)
		}
		shared.m, shared.p = m, p
	})
	return s, shared.m.pub, shared.p
}

func clone(p *Proof) *Proof {
	c := *p
	return &c
}

func TestHonestProofVerifies(t *testing.T) {
	s, pub, p := honestProof(t)
	if err := p.Verify(testContext(), pub, s.aux, s.verifier); err != nil {
		t.Fatal(err)
	}
	pub.Aux = nil
	if err := p.Verify(testContext(), pub, s.aux, s.verifier); err != nil {
		t.Fatal(err)
	}
}

// TestMtAShares checks the sign convention: with y = −β the verifier's
// decryption α of D satisfies α + β = x·k as integers, with no wrap-around.
func TestMtAShares(t *testing.T) {
	s := keys(t)
	m, beta := honestMtA(t, s)
	p, err := Prove(rand.Reader, testContext(), m.pub, m.priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(testContext(), m.pub, s.aux, s.verifier); err != nil {
		t.Fatal(err)
	}
	alpha, err := s.verifier.Decrypt(m.pub.D)
	if err != nil {
		t.Fatal(err)
	}
	got := new(big.Int).Add(alpha.Big(), beta.Big())
	want := new(big.Int).Mul(m.priv.X.Big(), m.k.Big())
	if got.Cmp(want) != 0 {
		t.Fatal("α + β ≠ x·k")
	}
}

func TestWitnessAtTheBounds(t *testing.T) {
	s := keys(t)
	xMax := arith.IntFromBig(new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), zk.L)))
	yMax := arith.IntFromBig(new(big.Int).Lsh(big.NewInt(1), zk.LPrime))
	m := newMtA(t, s, xMax, yMax)
	p, err := Prove(rand.Reader, testContext(), m.pub, m.priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(testContext(), m.pub, s.aux, s.verifier); err != nil {
		t.Fatal(err)
	}
}

func TestEncodeDecode(t *testing.T) {
	s, pub, p := honestProof(t)
	b := zktest.Encode(p)
	d := codec.NewDecoder(b)
	q := Decode(d)
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(zktest.Encode(q), b) {
		t.Fatal("re-encoding differs")
	}
	if err := q.Verify(testContext(), pub, s.aux, s.verifier); err != nil {
		t.Fatal(err)
	}
	t.Logf("Πaff-g proof: %d bytes", len(b))
	d = codec.NewDecoder(b[:len(b)-1])
	if Decode(d) != nil || d.Err() == nil {
		t.Fatal("truncated proof decoded")
	}
}

// TestStatementTampered replaces each part of the statement after proving,
// as a peer that sends other ciphertexts than it proved would.
func TestStatementTampered(t *testing.T) {
	s, pub, p := honestProof(t)
	other, _ := honestMtA(t, s)
	cases := []struct {
		name   string
		tamper func(*Public)
	}{
		{"C", func(pb *Public) { pb.C = other.pub.C }},
		{"D", func(pb *Public) { pb.D = other.pub.D }},
		{"Y", func(pb *Public) { pb.Y = other.pub.Y }},
		{"X", func(pb *Public) { pb.X = other.pub.X }},
	}
	for _, c := range cases {
		pb := pub
		c.tamper(&pb)
		// Every part is in the transcript: the challenge changes and the
		// first check after it, the group equation, fails.
		if err := p.Verify(testContext(), pb, s.aux, s.verifier); !errors.Is(err, ErrGroup) {
			t.Errorf("tampered %s: got %v, want %v", c.name, err, ErrGroup)
		}
	}
}

// TestInconsistentStatement: the prover proves for a D or Y that does not
// match its witness; the equation under the affected key fails.
func TestInconsistentStatement(t *testing.T) {
	s := keys(t)
	m, _ := honestMtA(t, s)
	other, _ := honestMtA(t, s)
	m.pub.Y = other.pub.Y
	p, err := Prove(rand.Reader, testContext(), m.pub, m.priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(testContext(), m.pub, s.aux, s.verifier); !errors.Is(err, ErrPaillier1) {
		t.Fatalf("Y of another y: got %v, want %v", err, ErrPaillier1)
	}

	m, _ = honestMtA(t, s)
	n0 := m.pub.N0
	// D encrypts x·k + y + 1.
	m.pub.D = n0.Add(m.pub.D, s.verifier.EncryptWithNonce(new(saferith.Int).SetUint64(1), m.priv.Rho))
	p, err = Prove(rand.Reader, testContext(), m.pub, m.priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(testContext(), m.pub, s.aux, s.verifier); !errors.Is(err, ErrPaillier0) {
		t.Fatalf("D off by one: got %v, want %v", err, ErrPaillier0)
	}
}

func TestContextBound(t *testing.T) {
	s, pub, p := honestProof(t)
	ctx := testContext()
	swapped := &zk.Context{SessionID: ctx.SessionID, Prover: ctx.Verifier, Verifier: ctx.Prover}
	session := &zk.Context{SessionID: []byte("another psid"), Prover: ctx.Prover, Verifier: ctx.Verifier}
	for name, c := range map[string]*zk.Context{"swapped ids": swapped, "other session": session} {
		if err := p.Verify(c, pub, s.aux, s.verifier); !errors.Is(err, ErrGroup) {
			t.Errorf("%s: got %v, want %v", name, err, ErrGroup)
		}
	}
}

func TestVerifierKeys(t *testing.T) {
	s, pub, p := honestProof(t)
	pb := pub
	pb.Aux = s.other.Params
	if err := p.Verify(testContext(), pb, s.aux, s.verifier); !errors.Is(err, ErrParams) {
		t.Errorf("other Aux: got %v, want %v", err, ErrParams)
	}
	pb.Aux = nil
	if err := p.Verify(testContext(), pb, s.other, s.verifier); !errors.Is(err, ErrGroup) {
		t.Errorf("other own parameters: got %v, want %v", err, ErrGroup)
	}
	if err := p.Verify(testContext(), pub, s.aux, s.third); !errors.Is(err, ErrVerifierKey) {
		t.Errorf("other secret key: got %v, want %v", err, ErrVerifierKey)
	}
	if err := p.Verify(testContext(), pub, s.aux, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("no secret key: got %v, want %v", err, ErrMalformed)
	}
}

// TestOutOfRangeWitness plays the Alpha-Rays sender: D built from an x or y
// outside the honest range, with every other part consistent. The range
// checks reject; honest Prove refuses such a witness.
func TestOutOfRangeWitness(t *testing.T) {
	s := keys(t)
	// |e·v| ≥ 3·2^(b+1) > |mask| + 2^b for every e ≠ 0.
	xBad := arith.IntFromBig(new(big.Int).Lsh(big.NewInt(3), zk.L+zk.Epsilon+1))
	yBad := arith.IntFromBig(new(big.Int).Lsh(big.NewInt(3), zk.LPrime+zk.Epsilon+1))
	yOK, _ := arith.SampleSigned(rand.Reader, zk.LPrime)
	cases := []struct {
		name      string
		x, y      *saferith.Int
		proveErr  error
		verifyErr error
	}{
		{"x", xBad, yOK, ErrWitnessX, ErrZ1Range},
		{"y", randomScalar(t).Int(), yBad, ErrWitnessY, ErrZ2Range},
	}
	for _, c := range cases {
		m := newMtA(t, s, c.x, c.y)
		if _, err := Prove(rand.Reader, testContext(), m.pub, m.priv); !errors.Is(err, c.proveErr) {
			t.Errorf("%s: Prove: got %v, want %v", c.name, err, c.proveErr)
		}
		p, err := prove(rand.Reader, testContext(), m.pub, m.priv)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Verify(testContext(), m.pub, s.aux, s.verifier); !errors.Is(err, c.verifyErr) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.verifyErr)
		}
		d := codec.NewDecoder(zktest.Encode(p))
		if Decode(d) != nil || !errors.Is(d.Err(), codec.ErrTooLarge) {
			t.Errorf("%s: decode: got %v, want %v", c.name, d.Err(), codec.ErrTooLarge)
		}
	}
}

// forgeZeroNonces makes a proof honestly for the witness except that A = 0,
// w = 0 (the pair under N₀) or B_y = 0, w_y = 0 (under N₁): each pair makes
// its Paillier equation hold whatever D or Y encrypts.
func forgeZeroNonces(tb testing.TB, s setup, m mta, underN0 bool) *Proof {
	tb.Helper()
	aux := s.aux.Params
	alpha, _ := arith.SampleSigned(rand.Reader, zk.L+zk.Epsilon)
	beta, _ := arith.SampleSigned(rand.Reader, zk.LPrime+zk.Epsilon)
	gamma, _ := arith.SampleSignedScaled(rand.Reader, zk.L+zk.Epsilon, aux.N())
	delta, _ := arith.SampleSignedScaled(rand.Reader, zk.L+zk.Epsilon, aux.N())
	mTilde, _ := arith.SampleSignedScaled(rand.Reader, zk.L, aux.N())
	mu, _ := arith.SampleSignedScaled(rand.Reader, zk.L, aux.N())
	r, _ := arith.SampleUnit(rand.Reader, m.pub.N0.Modulus())
	rY, _ := arith.SampleUnit(rand.Reader, m.pub.N1.Modulus())
	n0, n1 := m.pub.N0, m.pub.N1
	p := &Proof{
		A:  n0.Add(n0.MulConst(m.pub.C, alpha), n0.EncryptWithNonce(beta, r)),
		Bx: curve.BaseMul(curve.ScalarFromInt(alpha)),
		By: n1.EncryptWithNonce(beta, rY),
		E:  aux.Commit(alpha, gamma), S: aux.Commit(m.priv.X, mTilde),
		F: aux.Commit(beta, delta), T: aux.Commit(m.priv.Y, mu),
	}
	if underN0 {
		p.A = new(big.Int)
	} else {
		p.By = new(big.Int)
	}
	e := challenge(testContext(), aux, m.pub, p)
	ei := arith.IntFromBig(e)
	p.Z1 = arith.MulAdd(alpha, ei, m.priv.X).Big()
	p.Z2 = arith.MulAdd(beta, ei, m.priv.Y).Big()
	p.Z3 = arith.MulAdd(gamma, ei, mTilde).Big()
	p.Z4 = arith.MulAdd(delta, ei, mu).Big()
	p.W = n0.Modulus().Mul(r, n0.Modulus().ExpInt(m.priv.Rho, ei)).Big()
	p.Wy = n1.Modulus().Mul(rY, n1.Modulus().ExpInt(m.priv.RhoY, ei)).Big()
	if underN0 {
		p.W = new(big.Int)
	} else {
		p.Wy = new(big.Int)
	}
	return p
}

// TestZeroNonceForgery: D (or Y) encrypts 2^2000, far from the proved
// x·k + y (or y). The zero pair satisfies the paper's equation; only the
// membership checks stop the forgery.
func TestZeroNonceForgery(t *testing.T) {
	s := keys(t)
	huge := arith.IntFromBig(new(big.Int).Lsh(big.NewInt(1), 2000))

	m, _ := honestMtA(t, s)
	m.pub.D, _, _ = s.verifier.Encrypt(rand.Reader, huge)
	p := forgeZeroNonces(t, s, m, true)
	if !literalN0(m.pub, p, challenge(testContext(), s.aux.Params, m.pub, p)) {
		t.Fatal("forgery does not satisfy equation 1")
	}
	if err := p.Verify(testContext(), m.pub, s.aux, s.verifier); !errors.Is(err, ErrA) {
		t.Fatalf("A = 0: got %v, want %v", err, ErrA)
	}
	p.A = big.NewInt(1)
	if err := p.Verify(testContext(), m.pub, s.aux, s.verifier); !errors.Is(err, ErrW) {
		t.Fatalf("w = 0: got %v, want %v", err, ErrW)
	}

	m, _ = honestMtA(t, s)
	m.pub.Y, _, _ = s.prover.Encrypt(rand.Reader, huge)
	p = forgeZeroNonces(t, s, m, false)
	n1 := m.pub.N1
	e := challenge(testContext(), s.aux.Params, m.pub, p)
	if n1.EncVarTime(p.Z2, p.Wy).Cmp(n1.Add(p.By, n1.MulConstVarTime(m.pub.Y, e))) != 0 {
		t.Fatal("forgery does not satisfy equation 3")
	}
	if err := p.Verify(testContext(), m.pub, s.aux, s.verifier); !errors.Is(err, ErrBy) {
		t.Fatalf("B_y = 0: got %v, want %v", err, ErrBy)
	}
	p.By = big.NewInt(1)
	if err := p.Verify(testContext(), m.pub, s.aux, s.verifier); !errors.Is(err, ErrWy) {
		t.Fatalf("w_y = 0: got %v, want %v", err, ErrWy)
	}
}

// literalN0 is equation 1 as the paper writes it, in variable time modulo
// N₀², the reference for equationN0.
func literalN0(pub Public, p *Proof, e *big.Int) bool {
	n0 := pub.N0
	lhs := n0.Add(n0.MulConstVarTime(pub.C, p.Z1), n0.EncVarTime(p.Z2, p.W))
	rhs := n0.Add(p.A, n0.MulConstVarTime(pub.D, e))
	return lhs.Cmp(rhs) == 0
}

func TestEquationN0MatchesPaper(t *testing.T) {
	s, pub, p := honestProof(t)
	e := challenge(testContext(), s.aux.Params, pub, p)
	n0 := pub.N0.N()
	n0sq := new(big.Int).Mul(n0, n0)
	onePlusN := new(big.Int).Add(n0, big.NewInt(1))
	cases := []struct {
		name   string
		tamper func(*Proof)
		holds  bool
	}{
		{"honest", func(*Proof) {}, true},
		{"w + 1", func(q *Proof) { q.W = new(big.Int).Add(q.W, big.NewInt(1)) }, false},
		{"z₂ + 1", func(q *Proof) { q.Z2 = new(big.Int).Add(q.Z2, big.NewInt(1)) }, false},
		{"z₁ + 1", func(q *Proof) { q.Z1 = new(big.Int).Add(q.Z1, big.NewInt(1)) }, false},
		// A·(1+N₀) shifts the plaintext only, A·2^N₀ the nonce only.
		{"A·(1+N₀)", func(q *Proof) { q.A = new(big.Int).Mod(new(big.Int).Mul(q.A, onePlusN), n0sq) }, false},
		{"A·2^N₀", func(q *Proof) {
			q.A = new(big.Int).Mod(new(big.Int).Mul(q.A, new(big.Int).Exp(big.NewInt(2), n0, n0sq)), n0sq)
		}, false},
		// Compensating changes keep the equation true.
		{"z₂ + 1, A·(1+N₀)", func(q *Proof) {
			q.Z2 = new(big.Int).Add(q.Z2, big.NewInt(1))
			q.A = new(big.Int).Mod(new(big.Int).Mul(q.A, onePlusN), n0sq)
		}, true},
		{"w·2, A·2^N₀", func(q *Proof) {
			q.W = new(big.Int).Mod(new(big.Int).Lsh(q.W, 1), n0)
			q.A = new(big.Int).Mod(new(big.Int).Mul(q.A, new(big.Int).Exp(big.NewInt(2), n0, n0sq)), n0sq)
		}, true},
	}
	for _, c := range cases {
		q := clone(p)
		c.tamper(q)
		if got, lit := q.equationN0(pub, s.verifier, e), literalN0(pub, q, e); got != c.holds || lit != c.holds {
			t.Errorf("%s: equationN0 = %v, paper's equation = %v, want %v", c.name, got, lit, c.holds)
		}
	}
}

func TestEachCheck(t *testing.T) {
	s, pub, p := honestProof(t)
	n0, n1 := pub.N0.N(), pub.N1.N()
	nHat := s.aux.N()
	n0sq := new(big.Int).Mul(n0, n0)
	n1sq := new(big.Int).Mul(n1, n1)
	big2 := func(bits uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), bits) }
	one := big.NewInt(1)
	p0, _ := s.verifier.PrimesVarTime()
	cases := []struct {
		name   string
		tamper func(p *Proof, pub *Public)
		want   error
	}{
		{"C = 0", func(p *Proof, pub *Public) { pub.C = new(big.Int) }, ErrC},
		{"C = p₀", func(p *Proof, pub *Public) { pub.C = p0 }, ErrC},
		{"D = N₀²", func(p *Proof, pub *Public) { pub.D = n0sq }, ErrD},
		{"Y = N₁", func(p *Proof, pub *Public) { pub.Y = n1 }, ErrY},
		{"X = O", func(p *Proof, pub *Public) { pub.X = curve.Identity() }, ErrPoint},
		{"B_x = O", func(p *Proof, pub *Public) { p.Bx = curve.Identity() }, ErrPoint},
		{"A = 0", func(p *Proof, pub *Public) { p.A = new(big.Int) }, ErrA},
		{"B_y ≥ N₁²", func(p *Proof, pub *Public) { p.By = new(big.Int).Add(p.By, n1sq) }, ErrBy},
		{"w = N₀", func(p *Proof, pub *Public) { p.W = n0 }, ErrW},
		{"w_y = 0", func(p *Proof, pub *Public) { p.Wy = new(big.Int) }, ErrWy},
		{"E = 0", func(p *Proof, pub *Public) { p.E = new(big.Int) }, ErrE},
		{"S = N̂", func(p *Proof, pub *Public) { p.S = nHat }, ErrS},
		{"F̃ ≥ N̂", func(p *Proof, pub *Public) { p.F = new(big.Int).Add(p.F, nHat) }, ErrF},
		{"T = p₀", func(p *Proof, pub *Public) { p.T = p0 }, ErrT},
		{"z₁ = 2^(ℓ+ε)+1", func(p *Proof, pub *Public) { p.Z1 = new(big.Int).Add(big2(zk.L+zk.Epsilon), one) }, ErrZ1Range},
		{"z₂ = −2^(ℓ′+ε)−1", func(p *Proof, pub *Public) {
			p.Z2 = new(big.Int).Neg(new(big.Int).Add(big2(zk.LPrime+zk.Epsilon), one))
		}, ErrZ2Range},
		{"z₃ = 2^2818", func(p *Proof, pub *Public) { p.Z3 = big2(z34Bits) }, ErrZ3Size},
		{"z₄ = −2^2818", func(p *Proof, pub *Public) { p.Z4 = new(big.Int).Neg(big2(z34Bits)) }, ErrZ4Size},
		{"other B_x", func(p *Proof, pub *Public) { p.Bx = curve.BaseMul(randomScalar(t)) }, ErrGroup},
		{"z₁ + q", func(p *Proof, pub *Public) { p.Z1 = new(big.Int).Add(p.Z1, curve.Order()) }, ErrPaillier0},
		{"other w", func(p *Proof, pub *Public) { p.W = new(big.Int).Add(p.W, one) }, ErrPaillier0},
		{"other w_y", func(p *Proof, pub *Public) { p.Wy = new(big.Int).Add(p.Wy, one) }, ErrPaillier1},
		{"z₃ + 1", func(p *Proof, pub *Public) { p.Z3 = new(big.Int).Add(p.Z3, one) }, ErrPedersenX},
		{"z₄ + 1", func(p *Proof, pub *Public) { p.Z4 = new(big.Int).Add(p.Z4, one) }, ErrPedersenY},
	}
	for _, c := range cases {
		q, pb := clone(p), pub
		c.tamper(q, &pb)
		if err := q.Verify(testContext(), pb, s.aux, s.verifier); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestMissingElements(t *testing.T) {
	s, pub, p := honestProof(t)
	var nilProof *Proof
	if err := nilProof.Verify(testContext(), pub, s.aux, s.verifier); !errors.Is(err, ErrMalformed) {
		t.Fatalf("nil proof: got %v", err)
	}
	fields := []func(*Proof, *Public){
		func(p *Proof, _ *Public) { p.A = nil },
		func(p *Proof, _ *Public) { p.Bx = nil },
		func(p *Proof, _ *Public) { p.By = nil },
		func(p *Proof, _ *Public) { p.E = nil },
		func(p *Proof, _ *Public) { p.S = nil },
		func(p *Proof, _ *Public) { p.F = nil },
		func(p *Proof, _ *Public) { p.T = nil },
		func(p *Proof, _ *Public) { p.Z1 = nil },
		func(p *Proof, _ *Public) { p.Z2 = nil },
		func(p *Proof, _ *Public) { p.Z3 = nil },
		func(p *Proof, _ *Public) { p.Z4 = nil },
		func(p *Proof, _ *Public) { p.W = nil },
		func(p *Proof, _ *Public) { p.Wy = nil },
		func(_ *Proof, pub *Public) { pub.N0 = nil },
		func(_ *Proof, pub *Public) { pub.N1 = nil },
		func(_ *Proof, pub *Public) { pub.C = nil },
		func(_ *Proof, pub *Public) { pub.D = nil },
		func(_ *Proof, pub *Public) { pub.Y = nil },
		func(_ *Proof, pub *Public) { pub.X = nil },
	}
	for i, f := range fields {
		q, pb := clone(p), pub
		f(q, &pb)
		if err := q.Verify(testContext(), pb, s.aux, s.verifier); !errors.Is(err, ErrMalformed) {
			t.Errorf("field %d: got %v, want %v", i, err, ErrMalformed)
		}
	}
	if err := p.Verify(testContext(), pub, nil, s.verifier); !errors.Is(err, ErrMalformed) {
		t.Errorf("nil verifier parameters: got %v", err)
	}
	if err := p.Verify(nil, pub, s.aux, s.verifier); !errors.Is(err, ErrMalformed) {
		t.Errorf("nil context: got %v", err)
	}
}

func TestProveInputs(t *testing.T) {
	s := keys(t)
	m, _ := honestMtA(t, s)
	bad := m.priv
	bad.SecretKey = s.third
	if _, err := Prove(rand.Reader, testContext(), m.pub, bad); !errors.Is(err, ErrProverKey) {
		t.Errorf("got %v, want %v", err, ErrProverKey)
	}
	same := m.pub
	same.N0 = same.N1
	if _, err := Prove(rand.Reader, testContext(), same, m.priv); !errors.Is(err, ErrSameKey) {
		t.Errorf("got %v, want %v", err, ErrSameKey)
	}
	zero := m.pub
	zero.C = new(big.Int)
	if _, err := Prove(rand.Reader, testContext(), zero, m.priv); !errors.Is(err, ErrC) {
		t.Errorf("got %v, want %v", err, ErrC)
	}
	id := m.pub
	id.X = curve.Identity()
	if _, err := Prove(rand.Reader, testContext(), id, m.priv); !errors.Is(err, ErrPoint) {
		t.Errorf("got %v, want %v", err, ErrPoint)
	}
}

func FuzzDecode(f *testing.F) {
	_, _, p := honestProof(f)
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
	m, _ := honestMtA(b, s)
	ctx := testContext()
	for b.Loop() {
		if _, err := Prove(rand.Reader, ctx, m.pub, m.priv); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	s, pub, p := honestProof(b)
	ctx := testContext()
	for b.Loop() {
		if err := p.Verify(ctx, pub, s.aux, s.verifier); err != nil {
			b.Fatal(err)
		}
	}
}
