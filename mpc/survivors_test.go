package mpc

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/duetwallet/duet/mpc/codec"
)

// A commitment one byte longer than a digest is refused as such.
func TestCommitmentSize(t *testing.T) {
	for _, n := range []int{31, 33} {
		a, b := pairConfigs(t, ProtocolKeygen)
		rA, _, err := Keygen(a)
		if err != nil {
			t.Fatal(err)
		}
		_, mB, err := Keygen(b)
		if err != nil {
			t.Fatal(err)
		}
		bad := *mB
		bad.Payload = bytes.Repeat([]byte{7}, n)
		_, _, err = rA.Receive(&bad)
		expectCheck(t, err, Server, 1, "commitment size")
	}
}

// Refresh and Presign start only from the caller's own share: a share whose
// Self or Peer alone differs from the config is refused.
func TestProtocolsNeedMatchingParties(t *testing.T) {
	d, _ := signingPair(t)
	a, _ := pairConfigs(t, ProtocolRefresh)
	for name, edit := range map[string]func(*KeyShare){
		"self":  func(s *KeyShare) { s.Self = "someone" },
		"peer":  func(s *KeyShare) { s.Peer = "someone" },
		"match": func(*KeyShare) {},
	} {
		share := *d
		edit(&share)
		_, _, errR := Refresh(RefreshConfig{Config: a, Share: &share})
		_, _, errP := Presign(PresignConfig{Config: a, Share: &share})
		if name == "match" {
			if errR != nil || errP != nil {
				t.Fatalf("own share refused: %v / %v", errR, errP)
			}
			continue
		}
		if errR == nil || errP == nil {
			t.Errorf("a share with another %s started: refresh %v, presign %v", name, errR, errP)
		}
	}
}

// The share decoder refuses trailing bytes and an empty own party id.
func TestShareDecodeStrictness(t *testing.T) {
	d, _ := signingPair(t)
	b, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var s KeyShare
	if err := s.UnmarshalBinary(append(bytes.Clone(b), 0)); !errors.Is(err, ErrShareEncoding) {
		t.Errorf("trailing byte: %v, want ErrShareEncoding", err)
	}
	noSelf := *d
	noSelf.Self = ""
	b2, err := noSelf.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UnmarshalBinary(b2); !errors.Is(err, ErrShareEncoding) {
		t.Errorf("empty self: %v, want ErrShareEncoding", err)
	}
	noPeer := *d
	noPeer.Peer = ""
	b3, _ := noPeer.MarshalBinary()
	if err := s.UnmarshalBinary(b3); !errors.Is(err, ErrShareEncoding) {
		t.Errorf("empty peer: %v, want ErrShareEncoding", err)
	}
	if err := s.UnmarshalBinary(b); err != nil {
		t.Errorf("the share itself: %v", err)
	}
}

// The presignature decoder refuses an empty party id on either side.
func TestPresignatureDecodeParties(t *testing.T) {
	d, s := signingPair(t)
	pd, _, errD, errS := presignPair(t, d, s, nil)
	if errD != nil || errS != nil {
		t.Fatal(errD, errS)
	}
	for name, edit := range map[string]func(*Presignature){
		"self": func(p *Presignature) { p.Self = "" },
		"peer": func(p *Presignature) { p.Peer = "" },
	} {
		p := *pd
		edit(&p)
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := new(Presignature).UnmarshalBinary(b); err == nil || !strings.Contains(err.Error(), "malformed presignature") {
			t.Errorf("empty %s: %v, want a malformed presignature", name, err)
		}
	}
	b, _ := pd.MarshalBinary()
	if err := new(Presignature).UnmarshalBinary(b); err != nil {
		t.Errorf("the presignature itself: %v", err)
	}
}

// A stored share whose aux does not make a Paillier key (p = q) is refused.
func TestShareDecodeBadAux(t *testing.T) {
	d, _ := signingPair(t)
	p, _ := d.Aux.Paillier.PrimesVarTime()
	e := codec.NewEncoder(2048)
	e.Uint8(keyShareVersion).Uint64(d.Generation).VarBytes([]byte(d.Self)).VarBytes([]byte(d.Peer)).
		Scalar(d.Secret).Point(d.SelfPublic).Point(d.PeerPublic).VarBytes(d.SSID).Bool(true)
	e.Nat(p).Nat(p).Nat(d.Aux.Pedersen.S()).Nat(d.Aux.Pedersen.T())
	e.Nat(d.Aux.PeerPaillier.N()).Nat(d.Aux.PeerPedersen.S()).Nat(d.Aux.PeerPedersen.T())
	if err := new(KeyShare).UnmarshalBinary(e.Bytes()); !errors.Is(err, ErrShareEncoding) {
		t.Fatalf("aux with p = q: %v, want ErrShareEncoding", err)
	}
}

// Reconstruct, PartialSign, MarshalBinary and Combine refuse each missing
// part on its own.
func TestSignMissingParts(t *testing.T) {
	d, s := signingPair(t)
	if _, err := Reconstruct(nil, s); err == nil {
		t.Error("Reconstruct with no first share")
	}
	if _, err := Reconstruct(d, nil); err == nil {
		t.Error("Reconstruct with no second share")
	}
	pd, ps, errD, errS := presignPair(t, d, s, nil)
	if errD != nil || errS != nil {
		t.Fatal(errD, errS)
	}
	for name, edit := range map[string]func(*Presignature){
		"k":   func(p *Presignature) { p.K = nil },
		"chi": func(p *Presignature) { p.Chi = nil },
	} {
		p := *pd
		edit(&p)
		if _, err := p.MarshalBinary(); !errors.Is(err, ErrPresignatureUsed) {
			t.Errorf("MarshalBinary without %s: %v", name, err)
		}
		if _, err := p.PartialSign([32]byte{1}); !errors.Is(err, ErrPresignatureUsed) {
			t.Errorf("PartialSign without %s: %v", name, err)
		}
	}
	digest := [32]byte{7}
	own, err := pd.PartialSign(digest)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ps.PartialSign(digest)
	if err != nil {
		t.Fatal(err)
	}
	noSigma := &PartialSignature{PresignatureID: peer.PresignatureID}
	_, err = pd.Combine(digest, own, noSigma)
	expectCheck(t, err, Server, 1, "presignature id")
	if _, err := pd.Combine(digest, own, peer); err != nil {
		t.Fatalf("the honest partial: %v", err)
	}
}

// The partial signature and presignature decoders refuse trailing bytes.
func TestSignDecodersRefuseTrailingBytes(t *testing.T) {
	d, s := signingPair(t)
	pd, _, errD, errS := presignPair(t, d, s, nil)
	if errD != nil || errS != nil {
		t.Fatal(errD, errS)
	}
	b, err := pd.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := new(Presignature).UnmarshalBinary(append(bytes.Clone(b), 0)); err == nil {
		t.Error("presignature with a trailing byte decoded")
	}
	part, err := pd.PartialSign([32]byte{5})
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := part.MarshalBinary()
	if err := new(PartialSignature).UnmarshalBinary(append(bytes.Clone(pb), 0)); err == nil {
		t.Error("partial signature with a trailing byte decoded")
	}
	if err := new(PartialSignature).UnmarshalBinary(pb); err != nil {
		t.Errorf("the partial signature itself: %v", err)
	}
}
