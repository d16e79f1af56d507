package wire

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/duetwallet/duet/internal/cpace"
	"github.com/duetwallet/duet/mpc/curve"
)

func cpaceMessage(t testing.TB) []byte {
	_, msg, err := cpace.Start(rand.Reader, []byte("12345678"), []byte("ci"), []byte("sid"))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func filled(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

func TestApprovalBodiesRoundTrip(t *testing.T) {
	msg := cpaceMessage(t)
	req := &ApprovalRequest{Device: filled(DeviceIDSize, 1), ServerNonce: filled(32, 2), DeviceNonce: filled(32, 3), Message: msg, Expires: 1234}
	got, err := ParseApprovalRequest(req.Marshal())
	if err != nil || !bytes.Equal(got.Marshal(), req.Marshal()) || got.Expires != 1234 {
		t.Fatalf("request: %+v %v", got, err)
	}
	delta, _ := curve.RandomScalar(rand.Reader)
	a := &Approval{Delta: delta.Bytes(), Message: msg, Ciphertext: []byte("sealed")}
	if got, err := ParseApproval(a.Marshal()); err != nil || !bytes.Equal(got.Delta, a.Delta) || string(got.Ciphertext) != "sealed" {
		t.Fatalf("approval: %+v %v", got, err)
	}
	r := &ApprovalResponse{Latest: 9, Message: msg, Ciphertext: []byte("sealed")}
	if got, err := ParseApprovalResponse(r.Marshal()); err != nil || got.Latest != 9 || !bytes.Equal(got.Message, msg) {
		t.Fatalf("response: %+v %v", got, err)
	}
	if _, err := ParseApprovalMessage(msg); err != nil {
		t.Fatal(err)
	}
}

func TestApprovalBodiesRefuseBadInput(t *testing.T) {
	msg := cpaceMessage(t)
	order := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
		0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41}
	identity := append([]byte{32}, append(make([]byte, 32), 0)...)
	for name, body := range map[string][]byte{
		"zero δ":          (&Approval{Delta: make([]byte, 32), Message: msg, Ciphertext: []byte{1}}).Marshal(),
		"δ = q":           (&Approval{Delta: order, Message: msg, Ciphertext: []byte{1}}).Marshal(),
		"short δ":         (&Approval{Delta: filled(31, 1), Message: msg, Ciphertext: []byte{1}}).Marshal(),
		"identity":        (&Approval{Delta: filled(32, 1), Message: identity, Ciphertext: []byte{1}}).Marshal(),
		"no ciphertext":   (&Approval{Delta: filled(32, 1), Message: msg}).Marshal(),
		"trailing byte":   append((&Approval{Delta: filled(32, 1), Message: msg, Ciphertext: []byte{1}}).Marshal(), 0),
		"huge ciphertext": (&Approval{Delta: filled(32, 1), Message: msg, Ciphertext: make([]byte, MaxApprovalCiphertext+1)}).Marshal(),
	} {
		if _, err := ParseApproval(body); !errors.Is(err, ErrFrame) {
			t.Errorf("approval with %s: %v", name, err)
		}
	}
	if _, err := ParseApprovalMessage(identity); !errors.Is(err, ErrFrame) {
		t.Errorf("identity request: %v", err)
	}
	if _, err := ParseApprovalMessage(msg[:20]); !errors.Is(err, ErrFrame) {
		t.Errorf("short request: %v", err)
	}
	short := (&ApprovalRequest{Device: filled(15, 1), ServerNonce: filled(32, 2), DeviceNonce: filled(32, 3), Message: msg}).Marshal()
	if _, err := ParseApprovalRequest(short); !errors.Is(err, ErrFrame) {
		t.Errorf("request with a short device id: %v", err)
	}
	if _, err := ParseApprovalResponse((&ApprovalResponse{Message: msg, Ciphertext: []byte{1}}).Marshal()); !errors.Is(err, ErrFrame) {
		t.Errorf("response without a generation: %v", err)
	}
}

func TestSealApproval(t *testing.T) {
	ci, sid := ApprovalChannel("wallet", filled(16, 1), filled(32, 2), filled(32, 3))
	isk := filled(64, 7)
	sealed, err := SealApproval(isk, ci, sid, []byte("share"))
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := OpenApproval(isk, ci, sid, sealed); err != nil || string(plain) != "share" {
		t.Fatalf("open: %q %v", plain, err)
	}
	ci2, sid2 := ApprovalChannel("wallet", filled(16, 9), filled(32, 2), filled(32, 3))
	ci3, sid3 := ApprovalChannel("wallet", filled(16, 1), filled(32, 2), filled(32, 4))
	for name, c := range map[string][3][]byte{
		"key":     {filled(64, 8), ci, sid},
		"device":  {isk, ci2, sid2},
		"session": {isk, ci3, sid3},
	} {
		if _, err := OpenApproval(c[0], c[1], c[2], sealed); !errors.Is(err, ErrApprovalOpen) {
			t.Errorf("another %s opened it: %v", name, err)
		}
	}
	sealed[0] ^= 1
	if _, err := OpenApproval(isk, ci, sid, sealed); !errors.Is(err, ErrApprovalOpen) {
		t.Errorf("a changed ciphertext opened: %v", err)
	}
}

func FuzzApprovalBodies(f *testing.F) {
	msg := cpaceMessage(f)
	f.Add((&ApprovalRequest{Device: filled(DeviceIDSize, 1), ServerNonce: filled(32, 2), DeviceNonce: filled(32, 3), Message: msg, Expires: 5}).Marshal())
	f.Add((&Approval{Delta: filled(32, 1), Message: msg, Ciphertext: []byte("c")}).Marshal())
	f.Add((&ApprovalResponse{Latest: 3, Message: msg, Ciphertext: []byte("c")}).Marshal())
	f.Add(msg)
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := ParseApprovalRequest(b); err == nil && !bytes.Equal(r.Marshal(), b) {
			t.Fatal("request re-encodes differently")
		}
		if a, err := ParseApproval(b); err == nil {
			if !bytes.Equal(a.Marshal(), b) {
				t.Fatal("approval re-encodes differently")
			}
			if d, err := curve.ScalarFromBytes(a.Delta); err != nil || d.IsZero() {
				t.Fatal("accepted a δ that is not a canonical non-zero scalar")
			}
		}
		if r, err := ParseApprovalResponse(b); err == nil && !bytes.Equal(r.Marshal(), b) {
			t.Fatal("response re-encodes differently")
		}
		if m, err := ParseApprovalMessage(b); err == nil && (len(m) != cpace.MessageSize || cpace.CheckMessage(m) != nil) {
			t.Fatal("accepted a request that is not a CPace message")
		}
	})
}
