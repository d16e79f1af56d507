package mpc

import (
	"errors"
	"fmt"
	"io"

	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/mpc/zk"
	"github.com/duetwallet/duet/mpc/zk/sch"
)

// A ShareProof proves, outside any protocol run, that its maker knows the
// secret x_i of a share's public X_i = x_i·G: a Schnorr proof (Πsch) bound to
// a session id and to the prover and verifier. A device uses it to show it
// holds the wallet's signing share before the server deletes a backup, and
// that it can open its backup share in a backup drill. x_i itself never
// leaves its holder.
type ShareProof struct {
	A *curve.Point
	Z *curve.Scalar
}

// ErrShareProof is returned by VerifyShareProof for a proof that does not
// hold.
var ErrShareProof = errors.New("mpc: share proof does not verify")

func shareProofContext(sessionID []byte, prover, verifier PartyID) *zk.Context {
	return &zk.Context{SessionID: sessionID, Prover: []byte(prover), Verifier: []byte(verifier)}
}

// ProveShare proves knowledge of s.Secret for s.SelfPublic to s.Peer, within
// sessionID.
func ProveShare(rand io.Reader, sessionID []byte, s *KeyShare) (*ShareProof, error) {
	if s == nil || s.Secret == nil || s.SelfPublic == nil {
		return nil, errors.New("mpc: share proof of an empty share")
	}
	c, err := sch.NewCommitment(rand)
	if err != nil {
		return nil, err
	}
	r := c.Prove(shareProofContext(sessionID, s.Self, s.Peer), s.SelfPublic, s.Secret)
	return &ShareProof{A: c.A, Z: r.Z}, nil
}

// VerifyShareProof checks that prover, within sessionID and towards
// verifier, proved knowledge of the secret of X.
func VerifyShareProof(sessionID []byte, prover, verifier PartyID, X *curve.Point, p *ShareProof) error {
	if p == nil {
		return ErrShareProof
	}
	if err := sch.Verify(shareProofContext(sessionID, prover, verifier), X, p.A, &sch.Response{Z: p.Z}); err != nil {
		return fmt.Errorf("%w: %v", ErrShareProof, err)
	}
	return nil
}

// MarshalBinary encodes the proof.
func (p *ShareProof) MarshalBinary() ([]byte, error) {
	if p.A == nil || p.Z == nil || p.A.IsIdentity() {
		return nil, errors.New("mpc: incomplete share proof")
	}
	return codec.NewEncoder(80).Point(p.A).Scalar(p.Z).Bytes(), nil
}

// UnmarshalBinary decodes a proof; it must be exactly one point and one
// scalar.
func (p *ShareProof) UnmarshalBinary(b []byte) error {
	d := codec.NewDecoder(b)
	A, z := d.Point(), d.Scalar()
	if err := d.Finish(); err != nil {
		return fmt.Errorf("%w: share proof: %v", ErrMessage, err)
	}
	p.A, p.Z = A, z
	return nil
}
