package mod

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math/big"
	"sync"
	"testing"

	"github.com/duetwallet/duet/internal/fixtures"
	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/mpc/zk"
	"github.com/duetwallet/duet/mpc/zk/internal/zktest"
)

var testCtx = &zk.Context{
	SessionID: []byte("session"),
	Prover:    []byte("device"),
	Verifier:  []byte("server"),
	Rand:      []byte("rho"),
}

// The honest proof is made once and shared by the tests, which tamper with
// copies of it.
var honest = sync.OnceValues(func() (*paillier.SecretKey, *Proof) {
	p, q := fixtures.SafePrimePair(0)
	sk, err := paillier.NewSecretKey(p, q)
	if err != nil {
		panic(err)
	}
	proof, err := Prove(rand.Reader, testCtx, Public{N: sk.N()}, Private{Key: sk})
	if err != nil {
		panic(err)
	}
	return sk, proof
})

func (p *Proof) clone() *Proof {
	c := *p
	return &c
}

func TestHonestProofVerifies(t *testing.T) {
	sk, proof := honest()
	if err := proof.Verify(testCtx, Public{N: sk.N()}); err != nil {
		t.Fatal(err)
	}
	// Every (a, b) combination is needed by some y: with 80 repetitions a
	// prover that never set one of the bits would be suspicious.
	var seenA, seenB bool
	for k := range proof.A {
		seenA = seenA || proof.A[k]
		seenB = seenB || proof.B[k]
	}
	if !seenA || !seenB {
		t.Fatalf("a_k or b_k never set in %d repetitions", zk.Repetitions)
	}
}

func TestEncodeDecode(t *testing.T) {
	sk, proof := honest()
	b := zktest.Encode(proof)
	d := codec.NewDecoder(b)
	got := Decode(d)
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(zktest.Encode(got), b) {
		t.Fatal("decode then encode changed the bytes")
	}
	if err := got.Verify(testCtx, Public{N: sk.N()}); err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{0, 1, len(b) / 2, len(b) - 1} {
		d := codec.NewDecoder(b[:cut])
		Decode(d)
		if d.Finish() == nil {
			t.Fatalf("truncated encoding (%d of %d bytes) decoded", cut, len(b))
		}
	}
	d = codec.NewDecoder(append(bytes.Clone(b), 0))
	Decode(d)
	if !errors.Is(d.Finish(), codec.ErrTrailing) {
		t.Fatal("trailing byte accepted")
	}
}

func TestTamperedProofs(t *testing.T) {
	sk, proof := honest()
	n := sk.N()
	p, _ := sk.PrimesVarTime()
	one := big.NewInt(1)
	tests := []struct {
		name   string
		tamper func(p *Proof) *big.Int // returns the modulus to verify against
		want   error
	}{
		{"nil proof", nil, ErrMalformed},
		{"missing w", func(q *Proof) *big.Int { q.W = nil; return n }, ErrMalformed},
		{"missing x", func(q *Proof) *big.Int { q.X[7] = nil; return n }, ErrMalformed},
		{"missing z", func(q *Proof) *big.Int { q.Z[7] = nil; return n }, ErrMalformed},
		{"missing N", func(q *Proof) *big.Int { return nil }, ErrMalformed},
		{"N of 2046 bits", func(q *Proof) *big.Int { return new(big.Int).Rsh(n, 2) }, ErrModulusSize},
		{"N of 2049 bits", func(q *Proof) *big.Int { return new(big.Int).Lsh(n, 1) }, ErrModulusSize},
		{"negative N", func(q *Proof) *big.Int { return new(big.Int).Neg(n) }, ErrModulusSize},
		{"even N", func(q *Proof) *big.Int { return new(big.Int).Add(n, one) }, ErrModulusEven},
		{"w = 0", func(q *Proof) *big.Int { q.W = new(big.Int); return n }, ErrW},
		{"w = N", func(q *Proof) *big.Int { q.W = new(big.Int).Set(n); return n }, ErrW},
		{"w shares p", func(q *Proof) *big.Int { q.W = new(big.Int).Set(p); return n }, ErrW},
		// −w and w + N are units with w's Jacobi symbol: only the range
		// check on w refuses them.
		{"w negative", func(q *Proof) *big.Int { q.W = new(big.Int).Neg(q.W); return n }, ErrW},
		{"w + N", func(q *Proof) *big.Int { q.W = new(big.Int).Add(q.W, n); return n }, ErrW},
		// The ends of [1, N) are in range; their Jacobi symbol is +1.
		{"w = 1", func(q *Proof) *big.Int { q.W = big.NewInt(1); return n }, ErrJacobi},
		{"w = N − 1", func(q *Proof) *big.Int { q.W = new(big.Int).Sub(n, one); return n }, ErrJacobi},
		{"w a square", func(q *Proof) *big.Int { q.W = new(big.Int).Mul(q.W, q.W); q.W.Mod(q.W, n); return n }, ErrJacobi},
		{"x = 0", func(q *Proof) *big.Int { q.X[3] = new(big.Int); return n }, ErrRange},
		{"z = N", func(q *Proof) *big.Int { q.Z[79] = new(big.Int).Set(n); return n }, ErrRange},
		{"z + 1", func(q *Proof) *big.Int { q.Z[5] = new(big.Int).Add(q.Z[5], one); return n }, ErrNthRoot},
		{"2·x", func(q *Proof) *big.Int { q.X[5] = new(big.Int).Lsh(q.X[5], 1); q.X[5].Mod(q.X[5], n); return n }, ErrFourthRoot},
		{"flip a", func(q *Proof) *big.Int { q.A[11] = !q.A[11]; return n }, ErrFourthRoot},
		{"flip b", func(q *Proof) *big.Int { q.B[11] = !q.B[11]; return n }, ErrFourthRoot},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var q *Proof
			modulus := n
			if tc.tamper != nil {
				q = proof.clone()
				modulus = tc.tamper(q)
			}
			err := q.Verify(testCtx, Public{N: modulus})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// The sign of a fourth root is free: −x is as good as x, so changing it is
// not a forgery.
func TestNegatedRootStillVerifies(t *testing.T) {
	sk, proof := honest()
	q := proof.clone()
	q.X[0] = new(big.Int).Sub(sk.N(), q.X[0])
	if err := q.Verify(testCtx, Public{N: sk.N()}); err != nil {
		t.Fatal(err)
	}
}

func TestContextBinding(t *testing.T) {
	sk, proof := honest()
	contexts := map[string]*zk.Context{
		"other session":  {SessionID: []byte("other"), Prover: testCtx.Prover, Verifier: testCtx.Verifier, Rand: testCtx.Rand},
		"swapped roles":  {SessionID: testCtx.SessionID, Prover: testCtx.Verifier, Verifier: testCtx.Prover, Rand: testCtx.Rand},
		"other ρ":        {SessionID: testCtx.SessionID, Prover: testCtx.Prover, Verifier: testCtx.Verifier, Rand: []byte("rho2")},
		"no joint rand.": {SessionID: testCtx.SessionID, Prover: testCtx.Prover, Verifier: testCtx.Verifier},
	}
	for name, ctx := range contexts {
		t.Run(name, func(t *testing.T) {
			// Other challenges y_k: the N-th roots no longer fit.
			if err := proof.Verify(ctx, Public{N: sk.N()}); !errors.Is(err, ErrNthRoot) {
				t.Fatalf("got %v, want %v", err, ErrNthRoot)
			}
		})
	}
}

func TestProofForOtherModulus(t *testing.T) {
	_, proof := honest()
	other := zktest.Key(1).N()
	err := proof.Verify(testCtx, Public{N: other})
	// Which check fails first depends on w and on the sizes of the two
	// moduli; that one does is what matters.
	if !errors.Is(err, ErrW) && !errors.Is(err, ErrJacobi) && !errors.Is(err, ErrRange) && !errors.Is(err, ErrNthRoot) {
		t.Fatalf("proof for another N: got %v", err)
	}
}

func TestProveRejectsOtherKey(t *testing.T) {
	sk := zktest.Key(0)
	other := zktest.Key(1)
	if _, err := Prove(rand.Reader, testCtx, Public{N: other.N()}, Private{Key: sk}); !errors.Is(err, ErrWitness) {
		t.Fatalf("got %v, want %v", err, ErrWitness)
	}
}

func FuzzDecode(f *testing.F) {
	_, proof := honest()
	f.Add(zktest.Encode(proof))
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
	sk := zktest.Key(0)
	for b.Loop() {
		if _, err := Prove(rand.Reader, testCtx, Public{N: sk.N()}, Private{Key: sk}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	sk, proof := honest()
	for b.Loop() {
		if err := proof.Verify(testCtx, Public{N: sk.N()}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(zktest.Encode(proof))), "bytes")
}
