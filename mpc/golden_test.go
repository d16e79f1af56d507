package mpc

import (
	"bytes"
	"embed"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duetwallet/duet/mpc/curve"
)

// The golden files are embedded so that the tests also run in the browser,
// which has no file system.
//
//go:embed testdata
var testdata embed.FS

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares the encoding with testdata/name, or rewrites it under
// -update. Stored formats must keep decoding: a change to an encoding needs a
// new version byte, not a new golden file.
func golden(t *testing.T, name string, encoding []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(hex.EncodeToString(encoding)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text, err := testdata.ReadFile(path)
	if *update {
		text, err = os.ReadFile(path)
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(text)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGoldenKeyShare(t *testing.T) {
	d, _ := signingPair(t)
	enc, _ := d.MarshalBinary()
	b := golden(t, "keyshare-v1.hex", enc)
	var s KeyShare
	if err := s.UnmarshalBinary(b); err != nil {
		t.Fatalf("golden key share no longer decodes: %v", err)
	}
	again, _ := s.MarshalBinary()
	if !bytes.Equal(again, b) {
		t.Fatal("golden key share re-encodes differently")
	}
	if s.Aux == nil || s.Generation != 1 || s.Self != Device {
		t.Fatal("golden key share decoded to other values")
	}
}

func TestGoldenPresignature(t *testing.T) {
	d, s := signingPair(t)
	pd, _, errD, errS := presignPair(t, d, s, nil)
	if errD != nil || errS != nil {
		t.Fatal(errD, errS)
	}
	enc, _ := pd.MarshalBinary()
	b := golden(t, "presignature-v1.hex", enc)
	var p Presignature
	if err := p.UnmarshalBinary(b); err != nil {
		t.Fatalf("golden presignature no longer decodes: %v", err)
	}
	again, _ := p.MarshalBinary()
	if !bytes.Equal(again, b) {
		t.Fatal("golden presignature re-encodes differently")
	}
}

func TestGoldenMessage(t *testing.T) {
	m := &Message{SessionID: bytes.Repeat([]byte{0xab}, 32), Protocol: ProtocolPresign, Round: 2, From: Server, Payload: []byte("payload")}
	enc, _ := m.MarshalBinary()
	b := golden(t, "message-v1.hex", enc)
	var got Message
	if err := got.UnmarshalBinary(b); err != nil || got.Round != 2 || got.From != Server || string(got.Payload) != "payload" {
		t.Fatalf("golden message: %v %+v", err, got)
	}
}

func FuzzKeyShare(f *testing.F) {
	for _, name := range []string{"keyshare-v1.hex"} {
		if text, err := testdata.ReadFile("testdata/" + name); err == nil {
			if b, err := hex.DecodeString(strings.TrimSpace(string(text))); err == nil {
				f.Add(b)
			}
		}
	}
	good, _ := fixtureShare().MarshalBinary()
	f.Add(good)
	for _, c := range badShareEncodings() {
		f.Add(c.b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var s KeyShare
		if s.UnmarshalBinary(in) != nil {
			return
		}
		out, _ := s.MarshalBinary()
		if !bytes.Equal(out, in) {
			t.Fatal("key share re-encodes differently")
		}
	})
}

func FuzzPresignature(f *testing.F) {
	if text, err := testdata.ReadFile("testdata/presignature-v1.hex"); err == nil {
		if b, err := hex.DecodeString(strings.TrimSpace(string(text))); err == nil {
			f.Add(b)
		}
	}
	good, _ := fixturePresignature().MarshalBinary()
	f.Add(good)
	for _, c := range badPresignatureEncodings() {
		f.Add(c.b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var p Presignature
		if p.UnmarshalBinary(in) != nil {
			return
		}
		out, _ := p.MarshalBinary()
		if !bytes.Equal(out, in) {
			t.Fatal("presignature re-encodes differently")
		}
	})
}

func FuzzPartialSignature(f *testing.F) {
	ps := &PartialSignature{PresignatureID: bytes.Repeat([]byte{1}, 32), Sigma: fixtureScalar()}
	b, _ := ps.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		var p PartialSignature
		if p.UnmarshalBinary(in) != nil {
			return
		}
		out, _ := p.MarshalBinary()
		if !bytes.Equal(out, in) {
			t.Fatal("partial signature re-encodes differently")
		}
	})
}

func fixtureScalar() *curve.Scalar { return curve.ScalarFromUint64(12345) }
