package wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestFramesRoundTrip(t *testing.T) {
	nonce := bytes.Repeat([]byte{7}, 32)
	hello := &Hello{APIKey: "duet_cli_x", Op: OpSign, Nonce: nonce, Gens: Generations{Active: 3, Pending: 4}, Digest: bytes.Repeat([]byte{1}, 32), Method: "password", Presignature: bytes.Repeat([]byte{2}, 32), Device: bytes.Repeat([]byte{3}, DeviceIDSize)}
	f, err := ParseFrame(hello.Frame().Marshal())
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHello(f)
	if err != nil || h.APIKey != hello.APIKey || h.Op != OpSign || h.Gens != hello.Gens || !bytes.Equal(h.Digest, hello.Digest) || h.Method != "password" || !bytes.Equal(h.Presignature, hello.Presignature) || !bytes.Equal(h.Device, hello.Device) {
		t.Fatalf("hello: %+v %v", h, err)
	}
	pair := bytes.Repeat([]byte{2}, 32)
	w, err := ParseWelcome((&Welcome{WalletID: "w1", Nonce: nonce, Active: 9, Pair: pair, Latest: 11}).Frame())
	if err != nil || w.WalletID != "w1" || w.Active != 9 || !bytes.Equal(w.Pair, pair) || w.Latest != 11 {
		t.Fatalf("welcome: %+v %v", w, err)
	}
	a, err := ParseAck((&Ack{Gen: 5, Digest: nonce}).Frame())
	if err != nil || a.Gen != 5 {
		t.Fatalf("ack: %+v %v", a, err)
	}
	d, err := ParseData((&Data{Kind: "backup", Body: []byte("blob")}).Frame(), "backup")
	if err != nil || string(d.Body) != "blob" {
		t.Fatalf("data: %+v %v", d, err)
	}
	if _, err := ParseData((&Data{Kind: "eject"}).Frame(), "backup"); err == nil {
		t.Fatal("data of another kind accepted")
	}
	// An Error frame where another was expected surfaces as the peer's error.
	_, err = ParseCommit((&Error{Code: CodeBusy, Message: "later"}).Frame())
	var we *Error
	if !errors.As(err, &we) || we.Code != CodeBusy {
		t.Fatalf("error frame: %v", err)
	}
}

func TestParseFrameRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":        {},
		"version":      {9, byte(TypeHello)},
		"unknown type": {Version, 99},
		"oversized":    append([]byte{Version, byte(TypeData)}, make([]byte, MaxFrame)...),
	} {
		if _, err := ParseFrame(b); !errors.Is(err, ErrFrame) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ParseHello(&Frame{Type: TypeHello, Body: []byte{0, 0, 0, 1}}); !errors.Is(err, ErrFrame) {
		t.Error("truncated hello accepted")
	}
}

func FuzzHello(f *testing.F) {
	f.Add((&Hello{APIKey: "k", Op: OpKeygen, Nonce: make([]byte, 32)}).Frame().Body)
	f.Fuzz(func(t *testing.T, body []byte) {
		h, err := ParseHello(&Frame{Type: TypeHello, Body: body})
		if err != nil {
			return
		}
		if !bytes.Equal(h.Frame().Body, body) {
			t.Fatal("hello re-encodes differently")
		}
	})
}

func FuzzFrame(f *testing.F) {
	f.Add((&Ack{Gen: 1, Digest: make([]byte, 32)}).Frame().Marshal())
	f.Add((&Data{Kind: "eject", Body: []byte{1, 2}}).Frame().Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ParseFrame(b)
		if err != nil {
			return
		}
		if !bytes.Equal(fr.Marshal(), b) {
			t.Fatal("frame re-encodes differently")
		}
		// No body parser may panic on what a peer sends, and what one accepts
		// re-encodes to the same bytes.
		same := func(name string, g *Frame) {
			t.Helper()
			if !bytes.Equal(g.Marshal(), b) {
				t.Fatalf("%s re-encodes differently", name)
			}
		}
		if h, err := ParseHello(fr); err == nil {
			same("hello", h.Frame())
		}
		if w, err := ParseWelcome(fr); err == nil {
			same("welcome", w.Frame())
		}
		if a, err := ParseAck(fr); err == nil {
			same("ack", a.Frame())
		}
		if c, err := ParseCommit(fr); err == nil {
			same("commit", c.Frame())
		}
		if d, err := ParseData(fr, "backup"); err == nil {
			same("data", d.Frame())
		}
		if d, err := ParseDone(fr); err == nil {
			same("done", d.Frame())
		}
		if e, err := ParseError(fr); err == nil && fr.Type == TypeError {
			same("error", e.Frame())
		}
		ParseMPC(fr)
	})
}

// TestWelcomePairDigest checks that a Welcome names the active pair exactly
// when it names an active generation.
func TestWelcomePairDigest(t *testing.T) {
	nonce := bytes.Repeat([]byte{7}, 32)
	if w, err := ParseWelcome((&Welcome{WalletID: "w1", Nonce: nonce}).Frame()); err != nil || w.Active != 0 || len(w.Pair) != 0 {
		t.Fatalf("welcome without a wallet: %+v %v", w, err)
	}
	for name, w := range map[string]*Welcome{
		"generation without a pair": {WalletID: "w1", Nonce: nonce, Active: 3, Latest: 3},
		"pair without a generation": {WalletID: "w1", Nonce: nonce, Pair: bytes.Repeat([]byte{2}, 32)},
		"short pair":                {WalletID: "w1", Nonce: nonce, Active: 3, Pair: bytes.Repeat([]byte{2}, 31), Latest: 3},
		"generation beyond latest":  {WalletID: "w1", Nonce: nonce, Active: 4, Pair: bytes.Repeat([]byte{2}, 32), Latest: 3},
	} {
		if _, err := ParseWelcome(w.Frame()); !errors.Is(err, ErrFrame) {
			t.Errorf("welcome with a %s: %v, want ErrFrame", name, err)
		}
	}
}

// TestHelloDeviceID checks that a Hello carries no device id or one of
// exactly DeviceIDSize bytes.
func TestHelloDeviceID(t *testing.T) {
	nonce := bytes.Repeat([]byte{7}, 32)
	for _, n := range []int{0, DeviceIDSize} {
		h, err := ParseHello((&Hello{APIKey: "k", Op: OpSign, Nonce: nonce, Device: bytes.Repeat([]byte{5}, n)}).Frame())
		if err != nil || len(h.Device) != n {
			t.Fatalf("hello with a %d-byte device id: %+v %v", n, h, err)
		}
	}
	for _, n := range []int{1, DeviceIDSize - 1, DeviceIDSize + 1} {
		if _, err := ParseHello((&Hello{APIKey: "k", Op: OpSign, Nonce: nonce, Device: bytes.Repeat([]byte{5}, n)}).Frame()); !errors.Is(err, ErrFrame) {
			t.Errorf("hello with a %d-byte device id: %v, want ErrFrame", n, err)
		}
	}
	// A Hello without the device field at all is truncated.
	f := (&Hello{APIKey: "k", Op: OpSign, Nonce: nonce}).Frame()
	f.Body = f.Body[:len(f.Body)-1]
	if _, err := ParseHello(f); !errors.Is(err, ErrFrame) {
		t.Errorf("hello without a device field: %v, want ErrFrame", err)
	}
}

func TestDeviceList(t *testing.T) {
	l := DeviceList{{CreatedAt: 10}, {ID: bytes.Repeat([]byte{1}, DeviceIDSize), CreatedAt: 20, LastUsedAt: 30}}
	got, err := ParseDeviceList(l.Marshal())
	if err != nil || len(got) != 2 || len(got[0].ID) != 0 || got[0].CreatedAt != 10 || !bytes.Equal(got[1].ID, l[1].ID) || got[1].LastUsedAt != 30 {
		t.Fatalf("device list: %+v %v", got, err)
	}
	if got, err := ParseDeviceList(DeviceList{}.Marshal()); err != nil || len(got) != 0 {
		t.Fatalf("empty device list: %+v %v", got, err)
	}
	for name, body := range map[string][]byte{
		"twice":     DeviceList{l[1], l[1]}.Marshal(),
		"short id":  DeviceList{{ID: []byte{1, 2}}}.Marshal(),
		"truncated": l.Marshal()[:10],
		"trailing":  append(l.Marshal(), 0),
		"too many":  {0xff, 0xff, 0xff, 0xff},
	} {
		if _, err := ParseDeviceList(body); !errors.Is(err, ErrFrame) {
			t.Errorf("device list %s: %v, want ErrFrame", name, err)
		}
	}
	for _, n := range []int{1, DeviceIDSize + 1} {
		if _, err := ParseDeviceID(make([]byte, n)); !errors.Is(err, ErrFrame) {
			t.Errorf("a %d-byte device id: %v, want ErrFrame", n, err)
		}
	}
}

func FuzzParseDeviceList(f *testing.F) {
	f.Add(DeviceList{{CreatedAt: 1}, {ID: make([]byte, DeviceIDSize), CreatedAt: 2, LastUsedAt: 3}}.Marshal())
	f.Fuzz(func(t *testing.T, body []byte) {
		l, err := ParseDeviceList(body)
		if err != nil {
			return
		}
		if !bytes.Equal(l.Marshal(), body) {
			t.Fatal("device list re-encodes differently")
		}
	})
}
