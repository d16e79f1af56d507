package mpc

import (
	"bytes"
	"errors"
	"testing"

	"github.com/duetwallet/duet/mpc/curve"
)

// encodingCase is an encoding with one field set to a value the decoder
// must refuse.
type encodingCase struct {
	name string
	b    []byte
}

// fixtureShare is a share with made-up values, without aux so that it needs
// no Paillier key; it decodes.
func fixtureShare() *KeyShare {
	x := fixtureScalar()
	return &KeyShare{Generation: 3, Self: Device, Peer: Server, Secret: x, SelfPublic: curve.BaseMul(x),
		PeerPublic: curve.BaseMul(curve.ScalarFromUint64(777)), SSID: bytes.Repeat([]byte{5}, 32)}
}

// badShareEncodings changes one field of fixtureShare each.
func badShareEncodings() []encodingCase {
	enc := func(f func(s *KeyShare)) []byte {
		s := fixtureShare()
		f(s)
		b, _ := s.MarshalBinary()
		return b
	}
	version := enc(func(*KeyShare) {})
	version[0] = keyShareVersion + 1
	return []encodingCase{
		{"unknown version", version},
		{"short ssid", enc(func(s *KeyShare) { s.SSID = s.SSID[:31] })},
		{"self is peer", enc(func(s *KeyShare) { s.Peer = s.Self })},
		{"public key is the identity", enc(func(s *KeyShare) { s.PeerPublic = s.SelfPublic.Negate() })},
	}
}

func TestKeyShareDecodeRejects(t *testing.T) {
	good, _ := fixtureShare().MarshalBinary()
	var s KeyShare
	if err := s.UnmarshalBinary(good); err != nil {
		t.Fatalf("the fixture does not decode: %v", err)
	}
	for _, c := range badShareEncodings() {
		t.Run(c.name, func(t *testing.T) {
			var s KeyShare
			if err := s.UnmarshalBinary(c.b); !errors.Is(err, ErrShareEncoding) {
				t.Fatalf("got %v, want ErrShareEncoding", err)
			}
			if s.Secret != nil || s.SSID != nil {
				t.Fatal("a refused encoding filled the share")
			}
		})
	}
}

// fixturePresignature is a presignature with made-up values; it decodes.
func fixturePresignature() *Presignature {
	return &Presignature{ID: bytes.Repeat([]byte{1}, 32), Generation: 3, SSID: bytes.Repeat([]byte{2}, 32),
		Self: Device, Peer: Server, R: curve.BaseMul(curve.ScalarFromUint64(5)), PublicKey: curve.BaseMul(curve.ScalarFromUint64(11)),
		K: fixtureScalar(), Chi: curve.ScalarFromUint64(54321)}
}

// badPresignatureEncodings changes one field of fixturePresignature each.
func badPresignatureEncodings() []encodingCase {
	enc := func(f func(p *Presignature)) []byte {
		p := fixturePresignature()
		f(p)
		b, _ := p.MarshalBinary()
		return b
	}
	version := enc(func(*Presignature) {})
	version[0] = presignatureVersion + 1
	return []encodingCase{
		{"unknown version", version},
		{"short id", enc(func(p *Presignature) { p.ID = p.ID[:31] })},
		{"short ssid", enc(func(p *Presignature) { p.SSID = p.SSID[:31] })},
		{"self is peer", enc(func(p *Presignature) { p.Peer = p.Self })},
	}
}

func TestPresignatureDecodeRejects(t *testing.T) {
	good, _ := fixturePresignature().MarshalBinary()
	var p Presignature
	if err := p.UnmarshalBinary(good); err != nil {
		t.Fatalf("the fixture does not decode: %v", err)
	}
	for _, c := range badPresignatureEncodings() {
		t.Run(c.name, func(t *testing.T) {
			var p Presignature
			if err := p.UnmarshalBinary(c.b); err == nil {
				t.Fatal("decoded")
			}
			if p.K != nil || p.ID != nil {
				t.Fatal("a refused encoding filled the presignature")
			}
		})
	}
}

// badMessageEncodings changes one field of an envelope each.
func badMessageEncodings() []encodingCase {
	enc := func(f func(m *Message)) []byte {
		m := &Message{SessionID: bytes.Repeat([]byte{1}, 32), Protocol: ProtocolRefresh, Round: 2, From: Server, Payload: []byte{4, 5}}
		f(m)
		b, _ := m.MarshalBinary()
		return b
	}
	version := enc(func(*Message) {})
	version[0] = messageVersion + 1
	return []encodingCase{
		{"unknown version", version},
		{"trailing byte", append(enc(func(*Message) {}), 0)},
		{"long session id", enc(func(m *Message) { m.SessionID = bytes.Repeat([]byte{1}, 33) })},
		{"long protocol", enc(func(m *Message) { m.Protocol = string(bytes.Repeat([]byte{'p'}, maxProtocol+1)) })},
		{"long party id", enc(func(m *Message) { m.From = PartyID(bytes.Repeat([]byte{'d'}, maxPartyID+1)) })},
	}
}

func TestMessageDecodeRejects(t *testing.T) {
	for _, c := range badMessageEncodings() {
		t.Run(c.name, func(t *testing.T) {
			var m Message
			if err := m.UnmarshalBinary(c.b); !errors.Is(err, ErrMessage) {
				t.Fatalf("got %v, want ErrMessage", err)
			}
		})
	}
}
