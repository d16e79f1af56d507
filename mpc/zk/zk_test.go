package zk

import (
	"bytes"
	"math/big"
	"testing"
)

func TestContextBindsEveryField(t *testing.T) {
	base := Context{SessionID: []byte("sid"), Prover: []byte("p1"), Verifier: []byte("p2"), Rand: []byte("rho")}
	digest := func(c Context) []byte { return c.Transcript("x").Digest() }
	want := digest(base)
	variants := []Context{
		{SessionID: []byte("sid2"), Prover: base.Prover, Verifier: base.Verifier, Rand: base.Rand},
		{SessionID: base.SessionID, Prover: base.Verifier, Verifier: base.Prover, Rand: base.Rand},
		{SessionID: base.SessionID, Prover: base.Prover, Verifier: base.Verifier, Rand: nil},
	}
	for i, v := range variants {
		if bytes.Equal(digest(v), want) {
			t.Errorf("variant %d hashes like the base context", i)
		}
	}
	if bytes.Equal(base.Transcript("y").Digest(), want) {
		t.Error("label not bound")
	}
}

func TestRanges(t *testing.T) {
	b := new(big.Int).Lsh(big.NewInt(1), 10)
	if !InRange(b, 10) || !InRange(new(big.Int).Neg(b), 10) || InRange(new(big.Int).Add(b, big.NewInt(1)), 10) {
		t.Fatal("InRange bounds")
	}
	if !InRangeScaled(big.NewInt(-3*1024), 10, big.NewInt(3)) || InRangeScaled(big.NewInt(3*1024+1), 10, big.NewInt(3)) {
		t.Fatal("InRangeScaled bounds")
	}
}
