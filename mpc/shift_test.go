package mpc

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/duetwallet/duet/mpc/curve"
)

// TestShift: a device share shifted by δ and the server's by −δ are a pair
// of the same key, whose shares are not the old ones; shifting back gives
// the original; no aux info is carried over.
func TestShift(t *testing.T) {
	dev, srv := keygenPair(t)
	delta, err := curve.RandomScalar(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d2, s2 := dev.Shift(delta), srv.Shift(delta.Negate())
	if !d2.SelfPublic.Add(d2.PeerPublic).Equal(dev.PublicKey) || !d2.PublicKey.Equal(dev.PublicKey) {
		t.Fatal("the shifted device share does not add up to the key")
	}
	if !d2.SelfPublic.Equal(s2.PeerPublic) || !d2.PeerPublic.Equal(s2.SelfPublic) {
		t.Fatal("the shifted shares' public views disagree")
	}
	if !bytes.Equal(d2.PublicDigest(), s2.PublicDigest()) {
		t.Fatal("the shifted pair's digests differ")
	}
	if !curve.BaseMul(d2.Secret).Equal(d2.SelfPublic) || !curve.BaseMul(s2.Secret).Equal(s2.SelfPublic) {
		t.Fatal("a shifted secret does not match its public share")
	}
	if d2.Secret.Equal(dev.Secret) || d2.SelfPublic.Equal(dev.SelfPublic) {
		t.Fatal("the shift left the share where it was")
	}
	x, err := Reconstruct(d2, s2)
	if err != nil {
		t.Fatalf("the shifted pair does not reconstruct the key: %v", err)
	}
	x.Zero()
	if d2.Aux != nil || d2.Generation != dev.Generation || d2.Self != dev.Self || d2.Peer != dev.Peer || !bytes.Equal(d2.SSID, dev.SSID) {
		t.Fatalf("shifted share %+v", d2)
	}
	back := d2.Shift(delta.Negate())
	if !back.Secret.Equal(dev.Secret) || !back.SelfPublic.Equal(dev.SelfPublic) || !back.PeerPublic.Equal(dev.PeerPublic) {
		t.Fatal("Shift(δ) then Shift(−δ) is not the original")
	}
	// The shifted share encodes and decodes as a share of its own.
	b, _ := d2.MarshalBinary()
	var dec KeyShare
	if err := dec.UnmarshalBinary(b); err != nil || !dec.Secret.Equal(d2.Secret) || dec.Aux != nil {
		t.Fatalf("decoding a shifted share: %v", err)
	}
	// The original is untouched.
	if !curve.BaseMul(dev.Secret).Equal(dev.SelfPublic) {
		t.Fatal("Shift changed its receiver")
	}
}

// TestShiftDropsAux: a signing-ready share shifts into one without aux info.
func TestShiftDropsAux(t *testing.T) {
	dev, _ := keygenPair(t)
	dev.Aux = &Aux{}
	if s := dev.Shift(curve.ScalarFromUint64(7)); s.Aux != nil {
		t.Fatal("Shift kept the aux info")
	}
}
