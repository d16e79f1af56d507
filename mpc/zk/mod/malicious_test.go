package mod

import (
	"crypto/rand"
	"errors"
	"math/big"
	"sync"
	"testing"

	"github.com/duetwallet/duet/internal/fixtures"
	"github.com/duetwallet/duet/mpc/arith"
	"github.com/duetwallet/duet/mpc/zk"
)

// These tests play a prover whose modulus is not a Paillier–Blum modulus and
// who knows its factorisation, so it can do everything an honest prover can
// and more; the verifier must still reject.

var one = big.NewInt(1)

func product(primes []*big.Int) *big.Int {
	n := big.NewInt(1)
	for _, p := range primes {
		n.Mul(n, p)
	}
	return n
}

// randomPrime returns a prime of the given size with p ≡ r mod 4.
func randomPrime(bits int, r uint) *big.Int {
	for {
		p, err := rand.Prime(rand.Reader, bits)
		if err != nil {
			panic(err)
		}
		if p.Bits()[0]&3 == big.Word(r) {
			return p
		}
	}
}

// nthRootExponent returns N⁻¹ mod λ(N), nil if gcd(N, λ(N)) ≠ 1.
func nthRootExponent(primes []*big.Int) *big.Int {
	lambda := big.NewInt(1)
	for _, p := range primes {
		pm1 := new(big.Int).Sub(p, one)
		g := new(big.Int).GCD(nil, nil, lambda, pm1)
		lambda.Mul(lambda, pm1).Quo(lambda, g)
	}
	return new(big.Int).ModInverse(product(primes), lambda)
}

// fourthRoot returns some x with x⁴ ≡ u modulo the product of the primes,
// nil if there is none. Unlike the honest prover it works for primes ≡ 1 mod 4
// too (Tonelli–Shanks), trying both square roots at each step.
func fourthRoot(u *big.Int, primes []*big.Int) *big.Int {
	n := product(primes)
	x := new(big.Int)
	for _, p := range primes {
		up := new(big.Int).Mod(u, p)
		s := new(big.Int).ModSqrt(up, p)
		if s == nil {
			return nil
		}
		var r *big.Int
		for _, c := range []*big.Int{s, new(big.Int).Sub(p, s)} {
			if r = new(big.Int).ModSqrt(c, p); r != nil {
				break
			}
		}
		if r == nil {
			return nil
		}
		// CRT: x += r·M·(M⁻¹ mod p) with M = N/p.
		m := new(big.Int).Quo(n, p)
		c := new(big.Int).ModInverse(m, p)
		c.Mul(c, m).Mul(c, r)
		x.Add(x, c)
	}
	return x.Mod(x, n)
}

// randomNonResidue returns a unit w with Jacobi(w|N) = −1.
func randomNonResidue(t testing.TB, n *big.Int) *big.Int {
	t.Helper()
	for {
		w, err := rand.Int(rand.Reader, n)
		if err != nil {
			t.Fatal(err)
		}
		if w.Sign() > 0 && big.Jacobi(w, n) == -1 {
			return w
		}
	}
}

// forge answers every repetition it can for N = ∏ primes: the N-th root of
// y_k whenever gcd(N, λ(N)) = 1, and a fourth root of (−1)^a·w^b·y_k for the
// first (a, b) that has one. It returns the proof and the number of
// repetitions it could answer in full.
func forge(ctx *zk.Context, primes []*big.Int, w *big.Int) (*Proof, int) {
	n := product(primes)
	d := nthRootExponent(primes)
	proof := &Proof{W: w}
	answered := 0
	for k, y := range challenges(ctx, n, w) {
		proof.Z[k], proof.X[k] = big.NewInt(1), big.NewInt(1)
		if d != nil {
			proof.Z[k] = new(big.Int).Exp(y, d, n)
		}
		for _, ab := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			u := new(big.Int).Set(y)
			if ab[1] {
				u.Mul(u, w).Mod(u, n)
			}
			if ab[0] {
				u.Neg(u).Mod(u, n)
			}
			if x := fourthRoot(u, primes); x != nil {
				proof.X[k], proof.A[k], proof.B[k] = x, ab[0], ab[1]
				if d != nil {
					answered++
				}
				break
			}
		}
	}
	return proof, answered
}

func checkModulus(t testing.TB, n *big.Int) {
	t.Helper()
	if b := n.BitLen(); b < 2047 || b > 2048 {
		t.Fatalf("test modulus has %d bits: the size check would fire first", b)
	}
}

// The forger itself must be right: on an honest Paillier–Blum modulus it
// makes a proof that verifies.
func TestForgerIsSound(t *testing.T) {
	p, q := fixtures.SafePrimePair(2)
	primes := []*big.Int{p, q}
	n := product(primes)
	proof, answered := forge(testCtx, primes, randomNonResidue(t, n))
	if answered != zk.Repetitions {
		t.Fatalf("forger answered %d of %d repetitions for a Blum modulus", answered, zk.Repetitions)
	}
	if err := proof.Verify(testCtx, Public{N: n}); err != nil {
		t.Fatal(err)
	}
}

func TestRejectsThreePrimeModulus(t *testing.T) {
	var primes []*big.Int
	var n *big.Int
	for {
		// crypto/rand.Prime sets the top two bits, so the product of these
		// sizes has 2047 or 2048 bits.
		primes = []*big.Int{randomPrime(683, 3), randomPrime(683, 3), randomPrime(682, 3)}
		n = product(primes)
		if b := n.BitLen(); b >= 2047 && b <= 2048 && nthRootExponent(primes) != nil {
			break
		}
	}
	checkModulus(t, n)
	proof, answered := forge(testCtx, primes, randomNonResidue(t, n))
	// With three primes the four choices of (a, b) cover only half of the
	// eight residuosity patterns of y_k.
	if answered == zk.Repetitions {
		t.Fatal("forger answered every repetition for a three-prime modulus")
	}
	if err := proof.Verify(testCtx, Public{N: n}); !errors.Is(err, ErrFourthRoot) {
		t.Fatalf("got %v, want %v", err, ErrFourthRoot)
	}
}

func TestRejectsManySmallFactors(t *testing.T) {
	// The BitForge shape: sixteen primes below 2^16 times large ones.
	var primes []*big.Int
	for c := int64(1 << 15); len(primes) < 16; c++ {
		if c%4 == 3 && big.NewInt(c).ProbablyPrime(20) {
			primes = append(primes, big.NewInt(c))
		}
	}
	p, _ := fixtures.SafePrimePair(3)
	small := append(primes, p)
	var n *big.Int
	for {
		rest := 2048 - product(small).BitLen()
		primes = append(small[:len(small):len(small)], randomPrime(rest, 3))
		n = product(primes)
		if nthRootExponent(primes) != nil {
			break
		}
	}
	checkModulus(t, n)
	proof, _ := forge(testCtx, primes, randomNonResidue(t, n))
	if err := proof.Verify(testCtx, Public{N: n}); !errors.Is(err, ErrFourthRoot) {
		t.Fatalf("got %v, want %v", err, ErrFourthRoot)
	}
}

// nonBlumModulus returns two 1024-bit primes ≡ 1 mod 4 whose product N has
// gcd(N, φ(N)) = 1, so that only the fourth roots can fail.
var nonBlumModulus = sync.OnceValue(func() []*big.Int {
	for {
		primes := []*big.Int{randomPrime(1024, 1), randomPrime(1024, 1)}
		if nthRootExponent(primes) != nil {
			return primes
		}
	}
})

func TestRejectsNonBlumModulus(t *testing.T) {
	primes := nonBlumModulus()
	n := product(primes)
	checkModulus(t, n)
	proof, answered := forge(testCtx, primes, randomNonResidue(t, n))
	if answered == zk.Repetitions {
		t.Fatal("forger answered every repetition for a non-Blum modulus")
	}
	if err := proof.Verify(testCtx, Public{N: n}); !errors.Is(err, ErrFourthRoot) {
		t.Fatalf("got %v, want %v", err, ErrFourthRoot)
	}
}

// The honest algorithm, run with primes ≡ 1 mod 4, makes a proof that fails.
func TestHonestAlgorithmOnNonBlumModulus(t *testing.T) {
	primes := nonBlumModulus()
	p, q := primes[0], primes[1]
	crt, err := arith.NewCRT(p, q, new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
	if err != nil {
		t.Fatal(err)
	}
	proof, err := prove(rand.Reader, testCtx, crt, arith.NatFromBig(p), arith.NatFromBig(q))
	if err != nil {
		t.Fatal(err)
	}
	if err := proof.Verify(testCtx, Public{N: product(primes)}); !errors.Is(err, ErrFourthRoot) {
		t.Fatalf("got %v, want %v", err, ErrFourthRoot)
	}
}

// A 2048-bit prime ≡ 3 mod 4, made with crypto/rand.Prime.
const primeModulusHex = "F231CA967F2E6F2B2A95E131F12DED39450F6A5FF2539F000A0A09FBE852EB3C" +
	"5A7CA0018AB89F6D18865AC86613386EE86807219934760586215A13BE1171F5" +
	"12E58F26FF61C66206551576B841A1A1BE5943F223ED17BECC048E096780BAC0" +
	"8EA51CE785F6C50DFA5CAA0212E211B857B8C21338BDBC233BE91A004C6E642F" +
	"1914EDCF8822C46C274B65C78111D8DC933CFBFA65F9DD096EE79FC0D5A4AF7A" +
	"68532AB0C97D780816C24AC35198B1EC3F8B616D3F75F77371DF7295ACE9E0A2" +
	"9D113FFF800278AF690824B196434463A3452A4346B564858C0F323D2E4E65A2" +
	"7661C8A9C90809E99D88906FCE76A6DCCDCDD8A16778340E8CBAF83CF4947AD7"

// For a prime N ≡ 3 mod 4 every root exists: only the primality test
// stands between it and acceptance.
func TestRejectsPrimeModulus(t *testing.T) {
	n, _ := new(big.Int).SetString(primeModulusHex, 16)
	if !n.ProbablyPrime(20) || n.Bit(1) != 1 {
		t.Fatal("fixture is not a prime ≡ 3 mod 4")
	}
	checkModulus(t, n)
	primes := []*big.Int{n}
	w := randomNonResidue(t, n)
	proof, answered := forge(testCtx, primes, w)
	if answered != zk.Repetitions {
		t.Fatalf("forger answered %d of %d repetitions for a prime", answered, zk.Repetitions)
	}
	if err := proof.verifyRepetitions(n, challenges(testCtx, n, w)); err != nil {
		t.Fatalf("the root equations alone should hold for a prime N: %v", err)
	}
	if err := proof.Verify(testCtx, Public{N: n}); !errors.Is(err, ErrModulusPrime) {
		t.Fatalf("got %v, want %v", err, ErrModulusPrime)
	}
}

// w = 0, b_k = 1, x_k = 0 makes every fourth-root equation 0 = 0, and the
// N-th roots exist for any square-free N with gcd(N, φ(N)) = 1: only the
// check w ∈ Z*_N stops it.
func TestRejectsZeroW(t *testing.T) {
	primes := nonBlumModulus()
	n := product(primes)
	d := nthRootExponent(primes)
	w := new(big.Int)
	ys := challenges(testCtx, n, w)
	proof := &Proof{W: w}
	for k, y := range ys {
		proof.X[k] = new(big.Int)
		proof.Z[k] = new(big.Int).Exp(y, d, n)
		proof.B[k] = true
	}
	if err := proof.verifyRepetitions(n, ys); err != nil {
		t.Fatalf("the root equations alone should accept the w = 0 forgery: %v", err)
	}
	if err := proof.Verify(testCtx, Public{N: n}); !errors.Is(err, ErrW) {
		t.Fatalf("got %v, want %v", err, ErrW)
	}
}
