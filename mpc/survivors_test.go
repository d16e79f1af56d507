package mpc

import (
	"bytes"
	"errors"
	"strings"
	"testing"
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
