// Package sch is Πsch, the Schnorr proof of knowledge of x with X = x·G
// ([CGGMP21] Fig. 22 of the 2024 revision; docs/PROTOCOL.md §3.1).
//
// The commitment A = τ·G is sent before the challenge context (rid or ρ)
// exists, so the proof is split: NewCommitment, then Prove on the same
// commitment once the context is fixed.
package sch

import (
	"errors"
	"io"

	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/mpc/hash"
	"github.com/duetwallet/duet/mpc/zk"
)

// Errors returned by Verify, one per check.
var (
	ErrMalformed = errors.New("sch: proof or statement has a missing element")
	ErrIdentity  = errors.New("sch: X or A is the identity")
	ErrVerify    = errors.New("sch: z·G ≠ A + e·X")
)

// Commitment is the prover's first message A = τ·G with its secret τ.
type Commitment struct {
	A   *curve.Point
	tau *curve.Scalar
}

// NewCommitment draws τ and returns A = τ·G.
func NewCommitment(rand io.Reader) (*Commitment, error) {
	tau, err := curve.RandomScalar(rand)
	if err != nil {
		return nil, err
	}
	return &Commitment{A: curve.BaseMul(tau), tau: tau}, nil
}

// Erase wipes τ of a commitment that will not be answered.
func (c *Commitment) Erase() {
	if c != nil && c.tau != nil {
		c.tau.Zero()
		c.tau = nil
	}
}

// Response is z = τ + e·x.
type Response struct {
	Z *curve.Scalar
}

func challenge(ctx *zk.Context, X, A *curve.Point) *curve.Scalar {
	t := ctx.Transcript("sch").Point(X).Point(A)
	return hash.ChalScalar(t.Reader())
}

// Prove answers the commitment for X = x·G and erases τ: a commitment is
// answered once, since two answers to different challenges reveal x.
func (c *Commitment) Prove(ctx *zk.Context, X *curve.Point, x *curve.Scalar) *Response {
	if c.tau == nil {
		panic("sch: internal error: commitment answered twice")
	}
	e := challenge(ctx, X, c.A)
	z := c.tau.Add(e.Mul(x))
	c.tau.Zero()
	c.tau = nil
	return &Response{Z: z}
}

// Verify checks z·G = A + e·X for the prover named in ctx.
func Verify(ctx *zk.Context, X, A *curve.Point, r *Response) error {
	if X == nil || A == nil || r == nil || r.Z == nil {
		return ErrMalformed
	}
	// The identity has no encoding for the transcript, and A = O would make
	// z = e·x, handing x to anyone who sees the proof.
	if X.IsIdentity() || A.IsIdentity() {
		return ErrIdentity
	}
	e := challenge(ctx, X, A)
	if !curve.BaseMulVarTime(r.Z).Equal(A.Add(X.MulVarTime(e))) {
		return ErrVerify
	}
	return nil
}

// Encode appends the response.
func (r *Response) Encode(e *codec.Encoder) { e.Scalar(r.Z) }

// DecodeResponse reads a response.
func DecodeResponse(d *codec.Decoder) *Response { return &Response{Z: d.Scalar()} }
