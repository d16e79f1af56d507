package mpc

import (
	"errors"

	"github.com/duetwallet/duet/mpc/curve"
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
	if r.IsZero() || s.IsZero() {
		return false
	}
	m := curve.ScalarFromBytesReduce(&digest)
	w := s.Inverse()
	R := curve.BaseMul(m.Mul(w)).Add(X.Mul(r.Mul(w)))
	if R.IsIdentity() {
		return false
	}
	x, _ := R.XScalar()
	return x.Equal(r)
}
