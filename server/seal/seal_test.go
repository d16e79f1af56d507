package seal_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/duetwallet/duet/server/seal"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

func newSealer(t testing.TB, b byte) *seal.Sealer {
	t.Helper()
	s, err := seal.New(bytes.Repeat([]byte{b}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var binding = seal.Binding{Purpose: seal.PurposeServerShare, WalletID: "wallet-1", Generation: 3}

func TestRoundTrip(t *testing.T) {
	s := newSealer(t, 1)
	for _, pt := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("share"), 1000)} {
		blob, err := s.Seal(rand.Reader, binding, pt)
		if err != nil {
			t.Fatal(err)
		}
		if len(blob) != len(pt)+seal.Overhead || blob[0] != seal.Version1 {
			t.Fatalf("blob of %d bytes for %d bytes of plaintext, version %#x", len(blob), len(pt), blob[0])
		}
		got, err := s.Open(binding, blob)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Open = %q, %v", got, err)
		}
	}
	a, _ := s.Seal(rand.Reader, binding, []byte("same"))
	b, _ := s.Seal(rand.Reader, binding, []byte("same"))
	if bytes.Equal(a, b) {
		t.Error("two seals of one plaintext are equal: nonce reused")
	}
}

func TestWrongBinding(t *testing.T) {
	s := newSealer(t, 1)
	blob, err := s.Seal(rand.Reader, binding, []byte("x_P"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]seal.Binding{
		"purpose":    {Purpose: seal.PurposePresignature, WalletID: "wallet-1", Generation: 3},
		"wallet":     {Purpose: seal.PurposeServerShare, WalletID: "wallet-2", Generation: 3},
		"generation": {Purpose: seal.PurposeServerShare, WalletID: "wallet-1", Generation: 4},
		"item":       {Purpose: seal.PurposeServerShare, WalletID: "wallet-1", Generation: 3, Item: "p1"},
	} {
		if _, err := s.Open(b, blob); !errors.Is(err, seal.ErrAuthentication) {
			t.Errorf("opened with another %s: %v, want ErrAuthentication", name, err)
		}
	}
	// Field boundaries are part of the associated data.
	x := seal.Binding{Purpose: "p", WalletID: "ab"}
	y := seal.Binding{Purpose: "p", WalletID: "a", Item: "b"}
	blob, _ = s.Seal(rand.Reader, x, []byte("data"))
	if _, err := s.Open(y, blob); !errors.Is(err, seal.ErrAuthentication) {
		t.Errorf("bindings differing only in field boundaries are confused: %v", err)
	}
}

func TestWrongKey(t *testing.T) {
	blob, _ := newSealer(t, 1).Seal(rand.Reader, binding, []byte("x_P"))
	if _, err := newSealer(t, 2).Open(binding, blob); !errors.Is(err, seal.ErrWrongKey) {
		t.Errorf("opened under another key: %v, want ErrWrongKey", err)
	}
	if _, err := seal.New(make([]byte, 16)); !errors.Is(err, seal.ErrKeySize) {
		t.Errorf("16-byte key: %v, want ErrKeySize", err)
	}
}

func TestTampered(t *testing.T) {
	s := newSealer(t, 1)
	blob, _ := s.Seal(rand.Reader, binding, []byte("a key share"))
	// Every byte after the header (nonce, ciphertext, tag) is authenticated.
	for i := 1 + 8; i < len(blob); i++ {
		bad := bytes.Clone(blob)
		bad[i] ^= 0x01
		if _, err := s.Open(binding, bad); !errors.Is(err, seal.ErrAuthentication) {
			t.Fatalf("flipped byte %d: %v, want ErrAuthentication", i, err)
		}
	}
	bad := bytes.Clone(blob)
	bad[0] = 0x02
	if _, err := s.Open(binding, bad); !errors.Is(err, seal.ErrUnsupportedVersion) {
		t.Errorf("version 2: %v, want ErrUnsupportedVersion", err)
	}
	if _, err := s.Open(binding, blob[:seal.Overhead-1]); !errors.Is(err, seal.ErrTruncated) {
		t.Errorf("truncated: %v, want ErrTruncated", err)
	}
	if _, err := s.Open(binding, nil); !errors.Is(err, seal.ErrUnsupportedVersion) {
		t.Errorf("empty: %v, want ErrUnsupportedVersion", err)
	}
	if _, err := s.Open(binding, append(bytes.Clone(blob), 0)); !errors.Is(err, seal.ErrAuthentication) {
		t.Errorf("extended: %v, want ErrAuthentication", err)
	}
}

// countingReader gives the bytes 0, 1, 2, ... so a seal is reproducible.
type countingReader struct{ n byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

// TestGoldenV1 pins the version 1 format: a blob sealed today must open in
// every later version of this package.
func TestGoldenV1(t *testing.T) {
	s := newSealer(t, 0x11)
	b := seal.Binding{Purpose: seal.PurposePresignature, WalletID: "0123456789abcdef0123456789abcdef", Generation: 7, Item: "presig-1"}
	pt := []byte("golden plaintext")
	blob, err := s.Seal(&countingReader{}, b, pt)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "v1.hex")
	if *update {
		if err := os.WriteFile(path, []byte(hex.EncodeToString(blob)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden, err := hex.DecodeString(strings.TrimSpace(string(text)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(blob, golden) {
		t.Errorf("sealing changed:\n got  %x\n want %x", blob, golden)
	}
	got, err := s.Open(b, golden)
	if err != nil || !bytes.Equal(got, pt) {
		t.Errorf("golden blob: %q, %v", got, err)
	}
}

func FuzzOpen(f *testing.F) {
	s := newSealer(f, 1)
	good, _ := s.Seal(rand.Reader, binding, []byte("seed"))
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{seal.Version1})
	f.Fuzz(func(t *testing.T, blob []byte) {
		pt, err := s.Open(binding, blob)
		if err == nil && !bytes.Equal(blob, good) {
			// Only a genuine seal opens; re-sealing must open to the same.
			again, _ := s.Seal(rand.Reader, binding, pt)
			if got, err := s.Open(binding, again); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("re-seal of opened data fails: %v", err)
			}
		}
	})
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "master.key")
	key, created, err := seal.LoadOrCreateKeyFile(path, rand.Reader)
	if err != nil || !created || len(key) != seal.KeySize {
		t.Fatalf("first load: %d bytes, created %v, %v", len(key), created, err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", info.Mode().Perm(), err)
	}
	again, created, err := seal.LoadOrCreateKeyFile(path, rand.Reader)
	if err != nil || created || !bytes.Equal(again, key) {
		t.Fatalf("second load: created %v, same %v, %v", created, bytes.Equal(again, key), err)
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := seal.LoadOrCreateKeyFile(path, rand.Reader); !errors.Is(err, seal.ErrKeyFilePermissions) {
		t.Errorf("world-readable key file: %v, want ErrKeyFilePermissions", err)
	}
	short := filepath.Join(dir, "short.key")
	os.WriteFile(short, []byte("too short"), 0o600)
	if _, err := seal.LoadKeyFile(short); !errors.Is(err, seal.ErrKeySize) {
		t.Errorf("short key file: %v, want ErrKeySize", err)
	}
}

func TestKeyFileConcurrentCreation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	keys := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, _, err := seal.LoadOrCreateKeyFile(path, rand.Reader)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for i := range keys {
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("racing creators got different keys")
		}
	}
}

func TestParseKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xab}, seal.KeySize)
	for _, s := range []string{
		hex.EncodeToString(key),
		" " + strings.ToUpper(hex.EncodeToString(key)) + "\n",
		base64.StdEncoding.EncodeToString(key),
		base64.RawURLEncoding.EncodeToString(key),
	} {
		got, err := seal.ParseKey(s)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("ParseKey(%q) = %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "abc", hex.EncodeToString(key[:16]), base64.StdEncoding.EncodeToString(key[:31])} {
		if _, err := seal.ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
		}
	}
}

func BenchmarkSealOpen4KiB(b *testing.B) {
	s := newSealer(b, 1)
	pt := make([]byte, 4096)
	b.SetBytes(int64(len(pt)))
	for b.Loop() {
		blob, err := s.Seal(rand.Reader, binding, pt)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Open(binding, blob); err != nil {
			b.Fatal(err)
		}
	}
}
