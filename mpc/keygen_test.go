package mpc

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/duetwallet/duet/mpc/curve"
)

func TestKeygen(t *testing.T) {
	d, s := keygenPair(t)
	if !d.PublicKey.Equal(s.PublicKey) {
		t.Fatal("parties disagree on X")
	}
	if !bytes.Equal(d.SSID, s.SSID) || !bytes.Equal(d.PublicDigest(), s.PublicDigest()) {
		t.Fatal("parties disagree on the public data")
	}
	x := d.Secret.Add(s.Secret)
	if !curve.BaseMul(x).Equal(d.PublicKey) {
		t.Fatal("x_D + x_P does not match X")
	}
	if d.Secret.Equal(s.Secret) {
		t.Fatal("shares are equal")
	}
	// A second run gives another key.
	d2, _ := keygenPair(t)
	if d2.PublicKey.Equal(d.PublicKey) {
		t.Fatal("two keygens gave the same key")
	}
}

func TestKeygenRejectsTampering(t *testing.T) {
	cases := []struct {
		name   string
		round  uint8
		tamper func(m *Message)
		check  string
	}{
		{"commitment size", 1, func(m *Message) { m.Payload = m.Payload[:31] }, "commitment size"},
		{"opening mismatch", 2, func(m *Message) { m.Payload[0] ^= 1 }, "commitment opening"},
		{"Schnorr response", 3, func(m *Message) { m.Payload[31] ^= 1 }, "Πsch"},
		{"wrong round", 2, func(m *Message) { m.Round = 3 }, "round"},
		{"other protocol", 1, func(m *Message) { m.Protocol = ProtocolPresign }, "protocol"},
		{"impostor", 1, func(m *Message) { m.From = "mallory" }, "sender"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := pairConfigs(t, ProtocolKeygen)
			_, _, errD, _ := runPair(func() (Round, *Message, error) { return Keygen(a) },
				func() (Round, *Message, error) { return Keygen(b) },
				func(m *Message) *Message {
					if m.From == Server && m.Round == c.round {
						m2 := *m
						m2.Payload = bytes.Clone(m.Payload)
						c.tamper(&m2)
						return &m2
					}
					return m
				})
			expectAbort(t, errD, Server, c.check)
		})
	}
}

// A peer that replays its messages of another session (same parties, other
// nonces) is rejected on the session id.
func TestKeygenRejectsReplay(t *testing.T) {
	a1, b1 := pairConfigs(t, ProtocolKeygen)
	var recorded []*Message
	runPair(func() (Round, *Message, error) { return Keygen(a1) },
		func() (Round, *Message, error) { return Keygen(b1) },
		func(m *Message) *Message {
			if m.From == Server {
				recorded = append(recorded, m)
			}
			return m
		})
	a2, _ := pairConfigs(t, ProtocolKeygen)
	r, _, err := Keygen(a2)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = r.Receive(recorded[0])
	expectAbort(t, err, Server, "session id")
}

// A peer that echoes our own commitment back (to make X_j depend on X_i) is
// rejected.
func TestKeygenRejectsReflection(t *testing.T) {
	a, _ := pairConfigs(t, ProtocolKeygen)
	r, m1, err := Keygen(a)
	if err != nil {
		t.Fatal(err)
	}
	echo := *m1
	echo.From = Server
	_, _, err = r.Receive(&echo)
	expectAbort(t, err, Server, "reflection")
}

func TestMessageEnvelope(t *testing.T) {
	m := &Message{SessionID: bytes.Repeat([]byte{7}, 32), Protocol: ProtocolSign, Round: 1, From: Server, Payload: []byte("x")}
	b, _ := m.MarshalBinary()
	var got Message
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	b2, _ := got.MarshalBinary()
	if !bytes.Equal(b, b2) || got.From != Server || got.Round != 1 || string(got.Payload) != "x" {
		t.Fatal("envelope round trip")
	}
	if got.UnmarshalBinary(append(b, 0)) == nil {
		t.Fatal("trailing byte accepted")
	}
	b[0] = 9
	if got.UnmarshalBinary(b) == nil {
		t.Fatal("unknown version accepted")
	}
}

func FuzzMessage(f *testing.F) {
	m := &Message{SessionID: bytes.Repeat([]byte{1}, 32), Protocol: ProtocolKeygen, Round: 2, From: Device, Payload: []byte{1, 2, 3}}
	b, _ := m.MarshalBinary()
	f.Add(b)
	for _, c := range badMessageEncodings() {
		f.Add(c.b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var m Message
		if m.UnmarshalBinary(in) != nil {
			return
		}
		out, _ := m.MarshalBinary()
		if !bytes.Equal(out, in) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func TestReconstruct(t *testing.T) {
	d, s := keygenPair(t)
	x, err := Reconstruct(d, s)
	if err != nil || !curve.BaseMul(x).Equal(d.PublicKey) {
		t.Fatal("reconstruct")
	}
	other, _ := curve.RandomScalar(rand.Reader)
	bad := *s
	bad.Secret = other
	if _, err := Reconstruct(d, &bad); err == nil {
		t.Fatal("mismatched shares reconstructed")
	}
}
