package safeprime

import (
	"math/big"
	"testing"
)

func TestFixtures(t *testing.T) {
	primes, err := Fixtures()
	if err != nil {
		t.Fatal(err)
	}
	if len(primes) != 8 {
		t.Fatalf("got %d fixtures, want 8", len(primes))
	}
	seen := make(map[string]bool)
	for _, p := range primes {
		checkSafePrime(t, p, 1024)
		if seen[p.String()] {
			t.Errorf("fixture %x repeated", p)
		}
		seen[p.String()] = true
	}
	// Callers own the values they get.
	primes[0].SetInt64(0)
	again, err := Fixtures()
	if err != nil {
		t.Fatal(err)
	}
	if again[0].Sign() == 0 {
		t.Error("Fixtures returned shared values")
	}
	// Two fixtures make a 2048-bit Paillier-Blum modulus.
	if n := new(big.Int).Mul(again[0], again[1]); n.BitLen() != 2048 {
		t.Errorf("modulus has %d bits", n.BitLen())
	}
}
