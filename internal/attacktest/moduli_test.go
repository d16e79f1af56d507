package attacktest

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/mpc/zk"
	"github.com/duetwallet/duet/mpc/zk/mod"
	"github.com/duetwallet/duet/mpc/zk/prm"
)

// The forged moduli are what they claim and pass what an attacker can make
// them pass: the size check, Πprm, and Πmod for the small factor (the one
// Paillier–Blum modulus of the three).
func TestAttackModuli(t *testing.T) {
	sid := bytes.Repeat([]byte{7}, 32)
	for _, kind := range []string{SmallFactor, NotBlum, ThreePrimes} {
		t.Run(kind, func(t *testing.T) {
			m, err := NewModulus(kind)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := paillier.NewPublicKey(m.N); err != nil {
				t.Fatalf("the modulus fails the size check: %v", err)
			}
			prod := big.NewInt(1)
			for _, p := range m.primes {
				if !p.ProbablyPrime(20) {
					t.Fatal("a factor is not prime")
				}
				prod.Mul(prod, p)
			}
			if prod.Cmp(m.N) != 0 {
				t.Fatal("the factors do not multiply to N")
			}
			switch kind {
			case SmallFactor:
				if len(m.primes) != 2 || m.primes[0].BitLen() > 256 {
					t.Fatal("no small factor")
				}
			case NotBlum:
				if m.primes[0].Bit(1) != 0 {
					t.Fatal("the first factor is ≡ 3 mod 4")
				}
			case ThreePrimes:
				if len(m.primes) != 3 {
					t.Fatal("not three factors")
				}
			}
			s, tt, proof, err := m.Pedersen(sid, mpc.Server)
			if err != nil {
				t.Fatal(err)
			}
			ctx := &zk.Context{SessionID: sid, Prover: []byte(mpc.Server)}
			if err := proof.Verify(ctx, prm.Public{N: m.N, S: s, T: tt}); err != nil {
				t.Fatalf("Πprm on the forged parameters: %v", err)
			}
			modCtx := &zk.Context{SessionID: sid, Prover: []byte(mpc.Server), Rand: sid}
			pm, err := m.ProveMod(modCtx)
			if kind == SmallFactor {
				if err != nil {
					t.Fatalf("Πmod for a small-factor Blum modulus: %v", err)
				}
				pm.Z[0] = new(big.Int).Add(pm.Z[0], big.NewInt(1))
				if pm.Verify(modCtx, mod.Public{N: m.N}) == nil {
					t.Fatal("Πmod accepted a changed z")
				}
			} else if err == nil {
				t.Fatal("ProveMod made a proof for a modulus that is not Paillier–Blum")
			}
		})
	}
}
