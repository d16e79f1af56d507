package mpc

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/mpc/hash"
)

// Signature is an ECDSA signature in Ethereum's form: low s, and the
// recovery id V ∈ {0, 1} (yParity).
type Signature struct {
	R, S *curve.Scalar
	V    byte
}

// Bytes returns r ‖ s ‖ v, 65 bytes, with v = 0 or 1 (go-ethereum's form;
// add 27 for personal_sign's legacy form).
func (s *Signature) Bytes() []byte {
	out := make([]byte, 0, 65)
	out = append(out, s.R.Bytes()...)
	out = append(out, s.S.Bytes()...)
	return append(out, s.V)
}

// Reconstruct returns x = x₁ + x₂ from the two shares of one pair, after
// checking x·G = X. Only the eject of a wallet uses it.
func Reconstruct(a, b *KeyShare) (*curve.Scalar, error) {
	if a == nil || b == nil || !a.PublicKey.Equal(b.PublicKey) {
		return nil, errors.New("mpc: shares are of different keys")
	}
	x := a.Secret.Add(b.Secret)
	if !curve.BaseMul(x).Equal(a.PublicKey) {
		x.Zero()
		return nil, errors.New("mpc: shares do not add up to the wallet's key")
	}
	return x, nil
}

// VerifySignature checks an ECDSA signature (r, s) on the digest under X.
func VerifySignature(X *curve.Point, digest [32]byte, r, s *curve.Scalar) bool {
	// Redundant: with s = 0, w = 0 and R = O, which the check below refuses;
	// no point has x = 0, so r = 0 never equals R.x. This check and the one
	// on R each cover the other: never remove both, or (0, 0) verifies.
	if r.IsZero() || s.IsZero() {
		return false
	}
	m := curve.ScalarFromBytesReduce(&digest)
	w := s.Inverse()
	R := curve.MulAddVarTime(m.Mul(w), X, r.Mul(w))
	// Redundant: the identity is kept with x = 0, so x.Equal(r) below
	// refuses it too, r ≠ 0 having been checked above.
	if R.IsIdentity() {
		return false
	}
	x, _ := R.XScalar()
	return x.Equal(r)
}

// Presignature is one party's part of a presignature ([CGGMP21] presigning
// output): R = k⁻¹·G with the party's shares k_i of k and χ_i of k·x. It
// signs exactly one message: two signatures on one presignature reveal the
// key, so PartialSign erases the secrets before it returns.
type Presignature struct {
	ID         []byte // psid, shared by both parties
	Generation uint64
	SSID       []byte
	Self, Peer PartyID
	R          *curve.Point
	PublicKey  *curve.Point
	K, Chi     *curve.Scalar
}

// ErrPresignatureUsed is returned by PartialSign on a presignature that has
// already signed.
var ErrPresignatureUsed = errors.New("mpc: presignature already used")

// PartialSignature is σ_i = k_i·m + r·χ_i for one presignature.
type PartialSignature struct {
	PresignatureID []byte
	Sigma          *curve.Scalar
}

// PartialSign computes σ_i for the digest and erases k_i and χ_i. The caller
// must delete the stored presignature durably before sending σ_i anywhere.
func (p *Presignature) PartialSign(digest [32]byte) (*PartialSignature, error) {
	if p.K == nil || p.Chi == nil {
		return nil, ErrPresignatureUsed
	}
	m := curve.ScalarFromBytesReduce(&digest)
	r, _ := p.R.XScalar()
	sigma := p.K.Mul(m).Add(r.Mul(p.Chi))
	p.K.Zero()
	p.Chi.Zero()
	p.K, p.Chi = nil, nil
	return &PartialSignature{PresignatureID: bytes.Clone(p.ID), Sigma: sigma}, nil
}

// Combine adds the two partial signatures, verifies the ECDSA signature under
// the wallet's key, and normalises it to low s with the recovery id. An
// invalid result blames the peer: our own σ_i is computed from checked data.
// s is made from our σ_i, so the peer is not told which check failed.
func (p *Presignature) Combine(digest [32]byte, own, peer *PartialSignature) (*Signature, error) {
	R, X := p.R, p.PublicKey
	abort := func(check string, err error) error {
		return &AbortError{Culprit: p.Peer, Protocol: ProtocolSign, Round: 1, Check: check, Err: err, Secret: true}
	}
	if peer == nil || peer.Sigma == nil || !bytes.Equal(own.PresignatureID, peer.PresignatureID) {
		return nil, abort("presignature id", errors.New("partial signatures of different presignatures"))
	}
	s := own.Sigma.Add(peer.Sigma)
	r, overflow := R.XScalar()
	if overflow || r.IsZero() || s.IsZero() {
		return nil, abort("signature values", errors.New("degenerate r or s"))
	}
	if !VerifySignature(X, digest, r, s) {
		return nil, abort("signature validity", errors.New("combined signature does not verify"))
	}
	v := byte(0)
	if R.YIsOdd() {
		v = 1
	}
	if s.IsOverHalfOrder() {
		s = s.Negate()
		v ^= 1
	}
	return &Signature{R: r, S: s, V: v}, nil
}

// MarshalBinary encodes σ_i with its presignature id.
func (ps *PartialSignature) MarshalBinary() ([]byte, error) {
	return codec.NewEncoder(72).VarBytes(ps.PresignatureID).Scalar(ps.Sigma).Bytes(), nil
}

// UnmarshalBinary decodes a partial signature strictly.
func (ps *PartialSignature) UnmarshalBinary(b []byte) error {
	d := codec.NewDecoder(b)
	id := d.VarBytes(hash.DigestSize)
	s := d.Scalar()
	if err := d.Finish(); err != nil {
		return fmt.Errorf("mpc: malformed partial signature: %w", err)
	}
	ps.PresignatureID, ps.Sigma = id, s
	return nil
}

const presignatureVersion = 1

// MarshalBinary encodes an unused presignature, secrets included: callers
// seal it before storing it.
func (p *Presignature) MarshalBinary() ([]byte, error) {
	if p.K == nil || p.Chi == nil {
		return nil, ErrPresignatureUsed
	}
	e := codec.NewEncoder(256).Uint8(presignatureVersion).VarBytes(p.ID).Uint64(p.Generation).VarBytes(p.SSID).
		VarBytes([]byte(p.Self)).VarBytes([]byte(p.Peer)).Point(p.R).Point(p.PublicKey).Scalar(p.K).Scalar(p.Chi)
	return e.Bytes(), nil
}

// UnmarshalBinary decodes a presignature strictly.
func (p *Presignature) UnmarshalBinary(b []byte) error {
	d := codec.NewDecoder(b)
	if v := d.Uint8(); d.Err() == nil && v != presignatureVersion {
		return fmt.Errorf("mpc: malformed presignature: unknown version %d", v)
	}
	out := Presignature{
		ID:         d.VarBytes(hash.DigestSize),
		Generation: d.Uint64(),
		SSID:       d.VarBytes(hash.DigestSize),
		Self:       PartyID(d.VarBytes(maxPartyID)),
		Peer:       PartyID(d.VarBytes(maxPartyID)),
		R:          d.Point(),
		PublicKey:  d.Point(),
		K:          d.Scalar(),
		Chi:        d.Scalar(),
	}
	if err := d.Finish(); err != nil {
		return fmt.Errorf("mpc: malformed presignature: %w", err)
	}
	// VarBytes above caps the ids at a digest's size: only a short one is
	// left to refuse.
	if len(out.ID) < hash.DigestSize || len(out.SSID) < hash.DigestSize || out.Self == "" || out.Peer == "" || out.Self == out.Peer {
		return errors.New("mpc: malformed presignature: bad ids")
	}
	*p = out
	return nil
}
