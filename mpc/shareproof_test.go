package mpc

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/duetwallet/duet/mpc/curve"
)

func proofShare(t *testing.T) *KeyShare {
	t.Helper()
	x, err := curve.RandomScalar(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &KeyShare{Self: Device, Peer: Server, Secret: x, SelfPublic: curve.BaseMul(x)}
}

func TestShareProof(t *testing.T) {
	s := proofShare(t)
	sid := bytes.Repeat([]byte{1}, 32)
	p, err := ProveShare(rand.Reader, sid, s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var q ShareProof
	if err := q.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if err := VerifyShareProof(sid, Device, Server, s.SelfPublic, &q); err != nil {
		t.Fatalf("true proof: %v", err)
	}
	other := proofShare(t)
	cases := map[string]func() error{
		"other session": func() error {
			return VerifyShareProof(bytes.Repeat([]byte{2}, 32), Device, Server, s.SelfPublic, &q)
		},
		"swapped parties": func() error { return VerifyShareProof(sid, Server, Device, s.SelfPublic, &q) },
		"other public":    func() error { return VerifyShareProof(sid, Device, Server, other.SelfPublic, &q) },
		"nil proof":       func() error { return VerifyShareProof(sid, Device, Server, s.SelfPublic, nil) },
	}
	for name, verify := range cases {
		if err := verify(); !errors.Is(err, ErrShareProof) {
			t.Errorf("%s: %v, want ErrShareProof", name, err)
		}
	}
	if err := q.UnmarshalBinary(append(b, 0)); err == nil {
		t.Error("a proof with a trailing byte decoded")
	}
	if err := q.UnmarshalBinary(b[:len(b)-1]); err == nil {
		t.Error("a short proof decoded")
	}
}

func FuzzShareProofUnmarshal(f *testing.F) {
	s := &KeyShare{Self: Device, Peer: Server, Secret: curve.ScalarFromUint64(5), SelfPublic: curve.BaseMul(curve.ScalarFromUint64(5))}
	p, _ := ProveShare(rand.Reader, []byte("sid"), s)
	b, _ := p.MarshalBinary()
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var q ShareProof
		if err := q.UnmarshalBinary(data); err != nil {
			return
		}
		out, err := q.MarshalBinary()
		if err != nil {
			return
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("decoded proof re-encodes differently")
		}
	})
}
