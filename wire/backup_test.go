package wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestBackupPayload(t *testing.T) {
	in := &BackupPayload{PairDigest: bytes.Repeat([]byte{7}, 32), Sealed: []byte("sealed share")}
	out, err := ParseBackupPayload(in.Marshal())
	if err != nil || !bytes.Equal(out.PairDigest, in.PairDigest) || !bytes.Equal(out.Sealed, in.Sealed) {
		t.Fatalf("round trip: %+v, %v", out, err)
	}
	for name, b := range map[string]*BackupPayload{
		"short digest": {PairDigest: []byte{1}, Sealed: []byte("x")},
		"no sealed":    {PairDigest: bytes.Repeat([]byte{7}, 32)},
	} {
		if _, err := ParseBackupPayload(b.Marshal()); !errors.Is(err, ErrFrame) {
			t.Errorf("%s: %v, want ErrFrame", name, err)
		}
	}
	if _, err := ParseBackupPayload(append(in.Marshal(), 0)); !errors.Is(err, ErrFrame) {
		t.Errorf("trailing byte: %v, want ErrFrame", err)
	}
}

func FuzzParseBackupPayload(f *testing.F) {
	f.Add((&BackupPayload{PairDigest: make([]byte, 32), Sealed: []byte("s")}).Marshal())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseBackupPayload(b)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Marshal(), b) {
			t.Fatalf("payload does not re-encode to its input")
		}
	})
}
