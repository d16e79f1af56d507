package sch

import (
	"crypto/rand"
	"testing"

	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/mpc/zk"
)

func TestSchnorr(t *testing.T) {
	x, _ := curve.RandomScalar(rand.Reader)
	X := curve.BaseMul(x)
	ctx := &zk.Context{SessionID: []byte("sid"), Prover: []byte("a"), Rand: []byte("rid")}
	c, err := NewCommitment(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Prove(ctx, X, x)
	if err := Verify(ctx, X, c.A, r); err != nil {
		t.Fatal(err)
	}
	other := &zk.Context{SessionID: []byte("sid"), Prover: []byte("b"), Rand: []byte("rid")}
	if Verify(other, X, c.A, r) == nil {
		t.Fatal("proof accepted for another prover")
	}
	y, _ := curve.RandomScalar(rand.Reader)
	if Verify(ctx, curve.BaseMul(y), c.A, r) == nil {
		t.Fatal("proof accepted for another statement")
	}
	bad := &Response{Z: r.Z.Add(curve.ScalarFromUint64(1))}
	if Verify(ctx, X, c.A, bad) == nil {
		t.Fatal("tampered response accepted")
	}
}
