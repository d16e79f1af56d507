package mpc

import (
	"errors"
	"testing"
)

// FuzzRoundPayload hands the device, at one round of keygen, the backup-pair
// refresh or presigning, a payload from the fuzzer in place of the server's.
// Whatever the bytes, the device never panics, and unless they are the
// honest payload it aborts naming the server.
func FuzzRoundPayload(f *testing.F) {
	for proto := range uint8(3) {
		for round := uint8(1); round <= 3; round++ {
			f.Add(proto, round, []byte{})
			f.Add(proto, round, []byte{0x01, 0x00, 0x20})
			f.Add(proto, round, make([]byte, 97))
		}
	}
	d, s := signingPair(f)
	f.Fuzz(func(t *testing.T, proto, round uint8, payload []byte) {
		proto %= 3
		round = round%3 + 1
		replaced := false
		tamper := func(m *Message) *Message {
			if m.From != Server || m.Round != round {
				return m
			}
			replaced = true
			m2 := *m
			m2.Payload = payload
			return &m2
		}
		var errD error
		switch proto {
		case 0:
			a, b := pairConfigs(t, ProtocolKeygen)
			_, _, errD, _ = runPair(func() (Round, *Message, error) { return Keygen(a) },
				func() (Round, *Message, error) { return Keygen(b) }, tamper)
		case 1:
			_, _, errD, _ = refreshPair(t, d, s, nil, nil, tamper)
		case 2:
			_, _, errD, _ = presignPair(t, d, s, tamper)
		}
		if !replaced {
			t.Fatal("the payload was never delivered")
		}
		var abort *AbortError
		if errD == nil {
			t.Fatalf("device accepted payload %x in place of the server's", payload)
		}
		if !errors.As(errD, &abort) || abort.Culprit != Server {
			t.Fatalf("device error %v does not blame the server", errD)
		}
	})
}
