package pedersen

import (
	"crypto/rand"
	"errors"
	"math/big"
	"testing"

	"github.com/duetwallet/duet/internal/fixtures"
	"github.com/duetwallet/duet/mpc/arith"
	"github.com/duetwallet/duet/mpc/paillier"
)

func TestCommitAndVerify(t *testing.T) {
	p, q := fixtures.SafePrimePair(0)
	sk, err := paillier.NewSecretKey(p, q)
	if err != nil {
		t.Fatal(err)
	}
	own, lambda, err := Generate(rand.Reader, sk)
	if err != nil {
		t.Fatal(err)
	}
	n := own.N()
	if new(big.Int).Exp(own.T(), lambda.Big(), n).Cmp(own.S()) != 0 {
		t.Fatal("s != t^λ")
	}
	// A prover's response shape: z₁ = α + e·x, z₃ = γ + e·μ with commitments
	// S = s^x t^μ, A = s^α t^γ; the verifier checks s^z₁ t^z₃ = A·S^e.
	x, _ := arith.SampleSigned(rand.Reader, 256)
	mu, _ := arith.SampleSigned(rand.Reader, 2300)
	alpha, _ := arith.SampleSigned(rand.Reader, 768)
	gamma, _ := arith.SampleSigned(rand.Reader, 2800)
	e, _ := arith.SampleSigned(rand.Reader, 256)
	S := own.Commit(x, mu)
	A := own.Commit(alpha, gamma)
	z1 := arith.MulAdd(alpha, e, x)
	z3 := arith.MulAdd(gamma, e, mu)
	if !own.Verify(z1.Big(), z3.Big(), A, S, e.Big()) {
		t.Fatal("honest response rejected")
	}
	z1.Add(z1, arith.IntFromBig(big.NewInt(1)), z1.AnnouncedLen()+1)
	if own.Verify(z1.Big(), z3.Big(), A, S, e.Big()) {
		t.Fatal("wrong response accepted")
	}
	pub, err := NewParams(sk.Modulus(), own.S(), own.T())
	if err != nil || !pub.Equal(own.Params) {
		t.Fatal("public copy differs")
	}
	if _, err := NewParams(sk.Modulus(), own.S(), own.S()); err == nil {
		t.Fatal("s = t accepted")
	}
	if _, err := NewParams(sk.Modulus(), big.NewInt(1), own.T()); err == nil {
		t.Fatal("s = 1 accepted")
	}
	if _, err := NewParams(sk.Modulus(), new(big.Int).Set(p), own.T()); err == nil {
		t.Fatal("non-unit s accepted")
	}
}

// Each of the checks of NewParams refuses its input alone: the other
// parameter is a valid unit in every case.
func TestNewParamsChecks(t *testing.T) {
	p, q := fixtures.SafePrimePair(0)
	sk, err := paillier.NewSecretKey(p, q)
	if err != nil {
		t.Fatal(err)
	}
	n := sk.N()
	one := big.NewInt(1)
	s, u := big.NewInt(4), big.NewInt(9)
	nm1 := new(big.Int).Sub(n, one)
	for _, tc := range []struct {
		name string
		s, t *big.Int
		ok   bool
	}{
		{"units", s, u, true},
		{"s = N − 1", nm1, u, true},
		{"t = N − 1", s, nm1, true},
		{"s = t", s, s, false},
		{"s = 1", one, u, false},
		{"t = 1", s, one, false},
		{"s = 0", new(big.Int), u, false},
		{"t = 0", s, new(big.Int), false},
		{"s = N", new(big.Int).Set(n), u, false},
		{"t = N", s, new(big.Int).Set(n), false},
		{"s = N + 4", new(big.Int).Add(n, s), u, false},
		{"t = N + 9", s, new(big.Int).Add(n, u), false},
		{"s = −4", new(big.Int).Neg(s), u, false},
		{"t = −9", s, new(big.Int).Neg(u), false},
		{"s shares p", new(big.Int).Set(p), u, false},
		{"t shares q", s, new(big.Int).Set(q), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params, err := NewParams(sk.Modulus(), tc.s, tc.t)
			if tc.ok {
				if err != nil || params.S().Cmp(tc.s) != 0 || params.T().Cmp(tc.t) != 0 {
					t.Fatalf("got %v", err)
				}
				return
			}
			if !errors.Is(err, ErrParams) {
				t.Fatalf("got %v, want %v", err, ErrParams)
			}
		})
	}
}

// NewOwn refuses parameters on another modulus than the key's.
func TestNewOwnKeyMismatch(t *testing.T) {
	var keys [2]*paillier.SecretKey
	for i := range keys {
		p, q := fixtures.SafePrimePair(i)
		sk, err := paillier.NewSecretKey(p, q)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = sk
	}
	params, err := NewParams(keys[0].Modulus(), big.NewInt(4), big.NewInt(9))
	if err != nil {
		t.Fatal(err)
	}
	const want = "pedersen: parameters are not on this Paillier key"
	if own, err := NewOwn(params, keys[1]); err == nil || err.Error() != want || own != nil {
		t.Fatalf("other key: got %v, want %q", err, want)
	}
	if own, err := NewOwn(params, keys[0]); err != nil || own.CRT() == nil {
		t.Fatalf("own key: got %v", err)
	}
}

// ValidateElement accepts exactly Z*_N.
func TestValidateElement(t *testing.T) {
	p, q := fixtures.SafePrimePair(0)
	sk, err := paillier.NewSecretKey(p, q)
	if err != nil {
		t.Fatal(err)
	}
	params, err := NewParams(sk.Modulus(), big.NewInt(4), big.NewInt(9))
	if err != nil {
		t.Fatal(err)
	}
	n := sk.N()
	for _, tc := range []struct {
		name string
		x    *big.Int
		want error
	}{
		{"nil", nil, ErrElement},
		{"zero", big.NewInt(0), ErrElement},
		{"N", new(big.Int).Set(n), ErrElement},
		{"N + 1", new(big.Int).Add(n, one), ErrElement},
		{"multiple of q", new(big.Int).Set(q), ErrElement},
		{"one", big.NewInt(1), nil},
		{"N − 1", new(big.Int).Sub(n, one), nil},
	} {
		if err := params.ValidateElement(tc.x); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}
