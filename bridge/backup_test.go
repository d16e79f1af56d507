package bridge

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/wire"
)

var update = flag.Bool("update", false, "rewrite the golden backups in testdata/")

const testWalletID = "0123456789abcdef0123456789abcdef"

func passwordSecret() *BackupSecret {
	return &BackupSecret{Method: MethodPassword, Password: "correct horse battery staple"}
}

func keySecret(method string) *BackupSecret {
	return &BackupSecret{Method: method, Key: bytes.Repeat([]byte{0x42}, 32)}
}

// countingReader yields 0, 1, 2, ... so that a sealed backup is
// reproducible.
type countingReader struct{ next byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.next
		r.next++
	}
	return len(p), nil
}

func TestBackupRoundTrip(t *testing.T) {
	share := []byte("a device's backup share, as MarshalBinary makes it")
	for _, secret := range []*BackupSecret{passwordSecret(), keySecret(MethodPasskey), keySecret(MethodApp)} {
		t.Run(secret.Method, func(t *testing.T) {
			blob, err := SealBackup(rand.Reader, secret, testWalletID, share)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(blob, share) {
				t.Fatal("sealed backup contains the share in the clear")
			}
			got, err := OpenBackup(secret, testWalletID, blob)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, share) {
				t.Fatalf("OpenBackup = %q, want %q", got, share)
			}
		})
	}
}

func TestBackupFreshSaltAndNonce(t *testing.T) {
	secret, share := keySecret(MethodApp), []byte("share")
	a, err := SealBackup(rand.Reader, secret, testWalletID, share)
	if err != nil {
		t.Fatal(err)
	}
	b, err := SealBackup(rand.Reader, secret, testWalletID, share)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same share are equal")
	}
}

func TestBackupWrongSecret(t *testing.T) {
	share := []byte("share")
	pw, err := SealBackup(rand.Reader, passwordSecret(), testWalletID, share)
	if err != nil {
		t.Fatal(err)
	}
	app, err := SealBackup(rand.Reader, keySecret(MethodApp), testWalletID, share)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := keySecret(MethodApp)
	otherKey.Key[31] ^= 1
	tests := []struct {
		name   string
		secret *BackupSecret
		blob   []byte
	}{
		{"wrong password", &BackupSecret{Method: MethodPassword, Password: "incorrect horse battery staple"}, pw},
		{"password differs in case", &BackupSecret{Method: MethodPassword, Password: "Correct horse battery staple"}, pw},
		{"wrong key", otherKey, app},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := OpenBackup(tt.secret, testWalletID, tt.blob)
			if !errors.Is(err, ErrWrongKey) {
				t.Fatalf("OpenBackup: %v, want ErrWrongKey", err)
			}
			if got != nil {
				t.Fatal("OpenBackup returned a plaintext with its error")
			}
			if c := Code(err); c != wire.CodeWrongPassword {
				t.Fatalf("Code = %s, want %s", c, wire.CodeWrongPassword)
			}
		})
	}
}

func TestBackupBoundToWallet(t *testing.T) {
	for _, secret := range []*BackupSecret{passwordSecret(), keySecret(MethodApp)} {
		t.Run(secret.Method, func(t *testing.T) {
			blob, err := SealBackup(rand.Reader, secret, testWalletID, []byte("share"))
			if err != nil {
				t.Fatal(err)
			}
			other := strings.Replace(testWalletID, "0", "f", 1)
			if _, err := OpenBackup(secret, other, blob); !errors.Is(err, ErrWrongKey) {
				t.Fatalf("OpenBackup for another wallet: %v, want ErrWrongKey", err)
			}
		})
	}
}

func TestBackupMethodMismatch(t *testing.T) {
	// The same 32 key bytes must not open another method's backup: the
	// method is part of what the backup is bound to.
	passkey, err := SealBackup(rand.Reader, keySecret(MethodPasskey), testWalletID, []byte("share"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenBackup(keySecret(MethodApp), testWalletID, passkey); err == nil || got != nil {
		t.Fatalf("app secret opened a passkey backup: %q, %v", got, err)
	}
	pw, err := SealBackup(rand.Reader, passwordSecret(), testWalletID, []byte("share"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenBackup(keySecret(MethodApp), testWalletID, pw); err == nil || got != nil {
		t.Fatalf("app secret opened a password backup: %q, %v", got, err)
	}
}

// TestBackupTampered flips every bit of a sealed backup in turn: no change
// may open. The app method keeps each try cheap; Argon2id's parameters,
// which a flip would turn into an expensive request, have their own test.
func TestBackupTampered(t *testing.T) {
	secret := keySecret(MethodApp)
	blob, err := SealBackup(rand.Reader, secret, testWalletID, []byte("a share worth protecting"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range blob {
		for bit := range 8 {
			b := bytes.Clone(blob)
			b[i] ^= 1 << bit
			if got, err := OpenBackup(secret, testWalletID, b); err == nil || got != nil {
				t.Fatalf("byte %d bit %d flipped: OpenBackup = %q, %v; want an error", i, bit, got, err)
			}
		}
	}
	for _, tt := range []struct {
		name string
		blob []byte
	}{
		{"empty", nil},
		{"truncated", blob[:len(blob)-1]},
		{"header only", blob[:20]},
		{"trailing byte", append(bytes.Clone(blob), 0)},
	} {
		if _, err := OpenBackup(secret, testWalletID, tt.blob); !errors.Is(err, ErrBackupFormat) {
			t.Errorf("%s: OpenBackup: %v, want ErrBackupFormat", tt.name, err)
		}
	}
}

func TestBackupPasswordTampered(t *testing.T) {
	secret := passwordSecret()
	blob, err := SealBackup(rand.Reader, secret, testWalletID, []byte("share"))
	if err != nil {
		t.Fatal(err)
	}
	h := parseHeader(t, blob)
	for _, tt := range []struct {
		name   string
		change func(h *backupHeader)
	}{
		{"salt", func(h *backupHeader) { h.salt[0] ^= 1 }},
		{"nonce", func(h *backupHeader) { h.nonce[11] ^= 1 }},
		{"ciphertext", func(h *backupHeader) { h.ciphertext[0] ^= 1 }},
		{"fewer passes", func(h *backupHeader) { h.time-- }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := *h
			c.salt, c.nonce, c.ciphertext = bytes.Clone(h.salt), bytes.Clone(h.nonce), bytes.Clone(h.ciphertext)
			tt.change(&c)
			if _, err := OpenBackup(secret, testWalletID, c.encode(true)); !errors.Is(err, ErrWrongKey) {
				t.Fatalf("OpenBackup: %v, want ErrWrongKey", err)
			}
		})
	}
}

// parseHeader reads a sealed backup back into its header, the way
// OpenBackup does, so a test can change one field and encode it again.
func parseHeader(t *testing.T, blob []byte) *backupHeader {
	t.Helper()
	d := codec.NewDecoder(blob)
	d.Uint8()
	h := &backupHeader{method: string(d.VarBytes(16)), kdf: d.Uint8(), salt: d.Fixed(16),
		time: d.Uint32(), mem: d.Uint32(), threads: d.Uint8(), nonce: d.Fixed(12)}
	h.ciphertext = d.VarBytes(64 << 10)
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h.encode(true), blob) {
		t.Fatal("parseHeader does not match backupHeader.encode")
	}
	return h
}

// TestBackupArgon2Bounds checks the limits on the work a stored backup may
// ask of the device: out of range is a malformed backup, refused before any
// key derivation; in range is derived, and here fails as a wrong password.
func TestBackupArgon2Bounds(t *testing.T) {
	secret := passwordSecret()
	header := func(time, mem uint32, threads uint8) []byte {
		h := &backupHeader{method: MethodPassword, kdf: kdfArgon2id, salt: make([]byte, 16),
			time: time, mem: mem, threads: threads, nonce: make([]byte, 12), ciphertext: make([]byte, 32)}
		return h.encode(true)
	}
	for _, tt := range []struct {
		name          string
		time, mem     uint32
		threads       uint8
		wantMalformed bool
	}{
		{"no passes", 0, 64 << 10, 1, true},
		{"11 passes", 11, 64 << 10, 1, true},
		{"memory under 8 MiB", 3, 8<<10 - 1, 1, true},
		{"memory over 1 GiB", 3, 1<<20 + 1, 1, true},
		{"no lanes", 3, 64 << 10, 0, true},
		{"5 lanes", 3, 64 << 10, 5, true},
		{"least work", 1, 8 << 10, 1, false},
		{"most passes and lanes", 10, 8 << 10, 4, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenBackup(secret, testWalletID, header(tt.time, tt.mem, tt.threads))
			if tt.wantMalformed && !errors.Is(err, ErrBackupFormat) {
				t.Fatalf("OpenBackup: %v, want ErrBackupFormat", err)
			}
			if !tt.wantMalformed && !errors.Is(err, ErrWrongKey) {
				t.Fatalf("OpenBackup: %v, want ErrWrongKey", err)
			}
		})
	}
}

func TestBackupUnknownFormat(t *testing.T) {
	secret := keySecret(MethodApp)
	blob, err := SealBackup(rand.Reader, secret, testWalletID, []byte("share"))
	if err != nil {
		t.Fatal(err)
	}
	h := parseHeader(t, blob)
	h.kdf = 3
	if _, err := OpenBackup(secret, testWalletID, h.encode(true)); !errors.Is(err, ErrBackupFormat) {
		t.Errorf("unknown KDF: %v, want ErrBackupFormat", err)
	}
	v2 := bytes.Clone(blob)
	v2[0] = backupVersion + 1
	if _, err := OpenBackup(secret, testWalletID, v2); !errors.Is(err, ErrBackupFormat) {
		t.Errorf("version %d: %v, want ErrBackupFormat", v2[0], err)
	}
}

func TestBackupSecretValidation(t *testing.T) {
	for _, tt := range []struct {
		name   string
		secret BackupSecret
		ok     bool
	}{
		{"8 characters", BackupSecret{Method: MethodPassword, Password: "12345678"}, true},
		{"7 characters", BackupSecret{Method: MethodPassword, Password: "1234567"}, false},
		{"empty password", BackupSecret{Method: MethodPassword}, false},
		// Characters, not bytes: a Cyrillic letter takes two bytes.
		{"7 characters in 13 bytes", BackupSecret{Method: MethodPassword, Password: "пароль7"}, false},
		{"8 characters in 14 bytes", BackupSecret{Method: MethodPassword, Password: "парольAB"}, true},
		{"32-byte passkey key", BackupSecret{Method: MethodPasskey, Key: make([]byte, 32)}, true},
		{"31-byte app key", BackupSecret{Method: MethodApp, Key: make([]byte, 31)}, false},
		{"app without key", BackupSecret{Method: MethodApp}, false},
		{"unknown method", BackupSecret{Method: "pin", Password: "12345678"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := SealBackup(rand.Reader, &tt.secret, testWalletID, []byte("share"))
			if tt.ok && err != nil {
				t.Fatalf("SealBackup: %v", err)
			}
			if !tt.ok && err == nil {
				t.Fatal("SealBackup accepted an invalid secret")
			}
		})
	}
}

// goldenShare is the plaintext inside the golden backups.
var goldenShare = []byte("duet golden backup share, format version 1")

// TestBackupGolden opens backups sealed by an earlier build: a stored
// backup must open for as long as its version is supported.
func TestBackupGolden(t *testing.T) {
	for _, secret := range []*BackupSecret{passwordSecret(), keySecret(MethodApp)} {
		t.Run(secret.Method, func(t *testing.T) {
			path := filepath.Join("testdata", "backup-v1-"+secret.Method+".hex")
			if *update {
				blob, err := SealBackup(&countingReader{}, secret, testWalletID, goldenShare)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(hex.EncodeToString(blob)+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			blob, err := hex.DecodeString(strings.TrimSpace(string(text)))
			if err != nil {
				t.Fatal(err)
			}
			got, err := OpenBackup(secret, testWalletID, blob)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, goldenShare) {
				t.Fatalf("golden backup opened to %q, want %q", got, goldenShare)
			}
		})
	}
}

// FuzzOpenBackup feeds arbitrary blobs to the parser. The app method keeps
// each input cheap: a blob that asks for Argon2id is refused for the method
// before any key derivation.
func FuzzOpenBackup(f *testing.F) {
	secret := keySecret(MethodApp)
	blob, err := SealBackup(&countingReader{}, secret, testWalletID, []byte("share"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(blob)
	f.Add([]byte{backupVersion})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := OpenBackup(secret, testWalletID, b)
		if err != nil && got != nil {
			t.Fatal("plaintext returned with an error")
		}
		if err == nil && bytes.Equal(b, blob) && string(got) != "share" {
			t.Fatalf("the seed opened to %q", got)
		}
	})
}
