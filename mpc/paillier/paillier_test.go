package paillier

import (
	"crypto/rand"
	"errors"
	"math/big"
	"testing"

	"github.com/duetwallet/duet/internal/fixtures"
	"github.com/duetwallet/duet/mpc/arith"
)

func testKey(t testing.TB, i int) *SecretKey {
	t.Helper()
	p, q := fixtures.SafePrimePair(i)
	sk, err := NewSecretKey(p, q)
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

func TestEncryptDecrypt(t *testing.T) {
	sk := testKey(t, 0)
	for _, bits := range []int{1, 256, 1280, 2000} {
		m, _ := arith.SampleSigned(rand.Reader, bits)
		c, _, err := sk.Public().Encrypt(rand.Reader, m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sk.Decrypt(c)
		if err != nil {
			t.Fatal(err)
		}
		if got.Big().Cmp(m.Big()) != 0 {
			t.Fatalf("%d-bit plaintext: decrypted %v, want %v", bits, got.Big(), m.Big())
		}
		c2, _, _ := sk.Encrypt(rand.Reader, m)
		got2, _ := sk.Decrypt(c2)
		if got2.Big().Cmp(m.Big()) != 0 {
			t.Fatal("CRT encryption does not decrypt")
		}
	}
}

func TestEncryptionsAgree(t *testing.T) {
	sk := testKey(t, 0)
	m, _ := arith.SampleSigned(rand.Reader, 700)
	rho, _ := arith.SampleUnit(rand.Reader, sk.Modulus())
	a := sk.EncryptWithNonce(m, rho)
	b := sk.Public().EncryptWithNonce(m, rho)
	c := sk.EncVarTime(m.Big(), rho.Big())
	if a.Cmp(b) != 0 || a.Cmp(c) != 0 {
		t.Fatal("owner, public and variable-time encryptions differ")
	}
}

func TestHomomorphism(t *testing.T) {
	sk := testKey(t, 1)
	pk := sk.Public()
	a, _ := arith.SampleSigned(rand.Reader, 256)
	b, _ := arith.SampleSigned(rand.Reader, 1000)
	k, _ := arith.SampleSigned(rand.Reader, 256)
	ca, _, _ := pk.Encrypt(rand.Reader, a)
	cb, _, _ := pk.Encrypt(rand.Reader, b)
	want := new(big.Int).Mul(a.Big(), k.Big())
	want.Add(want, b.Big())
	got, err := sk.Decrypt(pk.Add(pk.MulConst(ca, k), cb))
	if err != nil || got.Big().Cmp(want) != 0 {
		t.Fatal("k⊙enc(a) ⊕ enc(b) does not decrypt to k·a + b")
	}
	if pk.MulConstVarTime(ca, k.Big()).Cmp(pk.MulConst(ca, k)) != 0 {
		t.Fatal("MulConst and MulConstVarTime differ")
	}
}

func TestValidation(t *testing.T) {
	sk := testKey(t, 0)
	pk := sk.Public()
	p, _ := sk.PrimesVarTime()
	for name, c := range map[string]*big.Int{
		"zero":       big.NewInt(0),
		"N²":         new(big.Int).Set(pk.ModulusSquared().Big()),
		"multiple p": new(big.Int).Set(p),
		"negative":   big.NewInt(-5),
	} {
		if pk.ValidateCiphertext(c) == nil {
			t.Errorf("ciphertext %s accepted", name)
		}
		if _, err := sk.Decrypt(c); err == nil {
			t.Errorf("ciphertext %s decrypted", name)
		}
	}
	if _, err := NewSecretKey(p, p); err == nil {
		t.Error("p = q accepted")
	}
}

// oddModulus returns an odd number of the given size made from n's top bits
// (or n shifted up).
func oddModulus(n *big.Int, bits int) *big.Int {
	m := new(big.Int)
	if shift := bits - n.BitLen(); shift >= 0 {
		m.Lsh(n, uint(shift))
	} else {
		m.Rsh(n, uint(-shift))
	}
	return m.SetBit(m, 0, 1)
}

// A peer's N is accepted from 2047 to 2048 bits, odd and positive; each
// refused modulus below breaks exactly one of those conditions.
func TestNewPublicKey(t *testing.T) {
	n := testKey(t, 0).N()
	for _, tc := range []struct {
		name string
		n    *big.Int
		want error
	}{
		{"2046 bits", oddModulus(n, MinModulusBits-1), ErrModulusSize},
		{"2047 bits", oddModulus(n, MinModulusBits), nil},
		{"2048 bits", oddModulus(n, MaxModulusBits), nil},
		{"2049 bits", oddModulus(n, MaxModulusBits+1), ErrModulusSize},
		{"zero", new(big.Int), ErrModulusSize},
		{"negative", new(big.Int).Neg(n), ErrModulusSize},
		{"even", new(big.Int).Sub(n, big.NewInt(1)), ErrModulusEven},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pk, err := NewPublicKey(tc.n)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err == nil && pk.N().Cmp(tc.n) != 0 {
				t.Fatal("key holds another N")
			}
		})
	}
}

// ValidateCiphertext accepts exactly Z*_{N²}: N² − 1 and 1 are in, and each
// refused value below fails one condition only (N² + 1 and −5 are prime to N).
func TestValidateCiphertext(t *testing.T) {
	sk := testKey(t, 0)
	pk := sk.Public()
	p, _ := sk.PrimesVarTime()
	n2 := pk.ModulusSquared().Big()
	for _, tc := range []struct {
		name string
		c    *big.Int
		want error
	}{
		{"nil", nil, ErrCiphertext},
		{"zero", big.NewInt(0), ErrCiphertext},
		{"−5", big.NewInt(-5), ErrCiphertext},
		{"N²", new(big.Int).Set(n2), ErrCiphertext},
		{"N² + 1", new(big.Int).Add(n2, one), ErrCiphertext},
		{"multiple of p", new(big.Int).Set(p), ErrCiphertext},
		{"one", big.NewInt(1), nil},
		{"N² − 1", new(big.Int).Sub(n2, one), nil},
	} {
		if err := pk.ValidateCiphertext(tc.c); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

// ValidateNonce accepts exactly Z*_N.
func TestValidateNonce(t *testing.T) {
	sk := testKey(t, 0)
	pk := sk.Public()
	p, _ := sk.PrimesVarTime()
	n := pk.N()
	for _, tc := range []struct {
		name string
		r    *big.Int
		want error
	}{
		{"nil", nil, ErrNonce},
		{"zero", big.NewInt(0), ErrNonce},
		{"N", new(big.Int).Set(n), ErrNonce},
		{"N + 1", new(big.Int).Add(n, one), ErrNonce},
		{"multiple of p", new(big.Int).Set(p), ErrNonce},
		{"one", big.NewInt(1), nil},
		{"N − 1", new(big.Int).Sub(n, one), nil},
	} {
		if err := pk.ValidateNonce(tc.r); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

// NewSecretKey refuses primes that are equal, of the wrong size or not
// ≡ 3 mod 4, each case breaking one condition with the other prime valid.
func TestNewSecretKeyPrimes(t *testing.T) {
	p, q := fixtures.SafePrimePair(0)
	two := big.NewInt(2)
	// 1023 and 1025 bits, ≡ 3 mod 4.
	short := new(big.Int).Rsh(p, 1)
	short.SetBit(short, 0, 1).SetBit(short, 1, 1)
	long := new(big.Int).Lsh(p, 1)
	long.SetBit(long, 0, 1).SetBit(long, 1, 1)
	pm1, pm2 := new(big.Int).Sub(p, one), new(big.Int).Sub(p, two)
	qm1, qm2 := new(big.Int).Sub(q, one), new(big.Int).Sub(q, two)
	for _, tc := range []struct {
		name string
		p, q *big.Int
	}{
		{"p = q", p, p},
		{"p of 1023 bits", short, q},
		{"q of 1023 bits", p, short},
		{"p of 1025 bits", long, q},
		{"q of 1025 bits", p, long},
		{"p even", pm1, q},
		{"p ≡ 1 mod 4", pm2, q},
		{"q even", p, qm1},
		{"q ≡ 1 mod 4", p, qm2},
	} {
		if sk, err := NewSecretKey(tc.p, tc.q); !errors.Is(err, ErrPrimes) || sk != nil {
			t.Errorf("%s: got %v, want %v", tc.name, err, ErrPrimes)
		}
	}
	if sk, err := NewSecretKey(p, q); err != nil || sk.N().Cmp(new(big.Int).Mul(p, q)) != 0 {
		t.Fatalf("valid primes: got %v", err)
	}
}
