package paillier

import (
	"crypto/rand"
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
	if _, err := NewPublicKey(new(big.Int).Lsh(big.NewInt(1), 2040)); err == nil {
		t.Error("short modulus accepted")
	}
	if _, err := NewPublicKey(new(big.Int).Lsh(big.NewInt(1), 2047)); err == nil {
		t.Error("even modulus accepted")
	}
	if _, err := NewSecretKey(p, p); err == nil {
		t.Error("p = q accepted")
	}
}
