package bridge

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/argon2"

	"github.com/duetwallet/duet/mpc/codec"
)

// Backup methods.
const (
	MethodPassword = "password"
	MethodPasskey  = "passkey"
	MethodCustom   = "custom"
	// MethodApp is the former name of MethodCustom, kept so that backups
	// made under it still open.
	MethodApp = "app"
)

// Argon2id parameters for password backups: 64 MiB and 3 passes (above
// RFC 9106's second recommended option and OWASP's minimums), one lane since
// the browser gives one thread. They are stored in each backup, so they can
// be raised without breaking old backups.
const (
	argonTime    = 3
	argonMemory  = 64 * 1024 // KiB
	argonThreads = 1
	minPassword  = 8
)

const (
	backupVersion = 1
	kdfArgon2id   = 1
	kdfHKDF       = 2
)

var (
	// ErrWrongKey is returned when a backup does not open: a wrong password
	// or key, or a ciphertext that is not this wallet's backup.
	ErrWrongKey = errors.New("bridge: wrong backup password or key")
	// ErrBackupFormat is returned for a backup blob that does not parse.
	ErrBackupFormat = errors.New("bridge: malformed backup")
)

// BackupSecret is what unlocks a backup: a password, or a 32-byte key from a
// passkey's PRF output or kept by the app.
type BackupSecret struct {
	Method   string
	Password string
	Key      []byte
}

func (s *BackupSecret) validate() error {
	switch s.Method {
	case MethodPassword:
		if len([]rune(s.Password)) < minPassword {
			return fmt.Errorf("bridge: a backup password needs at least %d characters", minPassword)
		}
	case MethodPasskey, MethodCustom, MethodApp:
		if len(s.Key) != 32 {
			return errors.New("bridge: a backup key must be 32 bytes")
		}
	default:
		return fmt.Errorf("bridge: unknown backup method %q", s.Method)
	}
	return nil
}

type backupHeader struct {
	method     string
	kdf        uint8
	salt       []byte
	time, mem  uint32
	threads    uint8
	nonce      []byte
	ciphertext []byte
}

func (h *backupHeader) encode(withCiphertext bool) []byte {
	e := codec.NewEncoder(64 + len(h.ciphertext)).Uint8(backupVersion).VarBytes([]byte(h.method)).Uint8(h.kdf).
		Fixed(h.salt).Uint32(h.time).Uint32(h.mem).Uint8(h.threads).Fixed(h.nonce)
	if withCiphertext {
		e.VarBytes(h.ciphertext)
	}
	return e.Bytes()
}

func (s *BackupSecret) deriveKey(h *backupHeader, walletID string) ([]byte, error) {
	switch h.kdf {
	case kdfArgon2id:
		if s.Method != MethodPassword {
			return nil, ErrWrongKey
		}
		return argon2.IDKey([]byte(s.Password), h.salt, h.time, h.mem, h.threads, 32), nil
	case kdfHKDF:
		if len(s.Key) != 32 {
			return nil, ErrWrongKey
		}
		return hkdf.Key(sha256.New, s.Key, h.salt, "duet backup key/"+walletID, 32)
	}
	return nil, ErrBackupFormat
}

func aead(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func backupAAD(walletID string, header []byte) []byte {
	return codec.NewEncoder(128).VarBytes([]byte("duet-backup")).VarBytes([]byte(walletID)).VarBytes(header).Bytes()
}

// SealBackup encrypts the user's backup share under the backup secret, bound
// to the wallet and the method.
func SealBackup(rand io.Reader, secret *BackupSecret, walletID string, share []byte) ([]byte, error) {
	if err := secret.validate(); err != nil {
		return nil, err
	}
	h := &backupHeader{method: secret.Method, salt: make([]byte, 16), nonce: make([]byte, 12)}
	if _, err := io.ReadFull(rand, h.salt); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(rand, h.nonce); err != nil {
		return nil, err
	}
	if secret.Method == MethodPassword {
		h.kdf, h.time, h.mem, h.threads = kdfArgon2id, argonTime, argonMemory, argonThreads
	} else {
		h.kdf = kdfHKDF
	}
	key, err := secret.deriveKey(h, walletID)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	a, err := aead(key)
	if err != nil {
		return nil, err
	}
	h.ciphertext = a.Seal(nil, h.nonce, share, backupAAD(walletID, h.encode(false)))
	return h.encode(true), nil
}

// OpenBackup decrypts a backup; a wrong secret gives ErrWrongKey.
func OpenBackup(secret *BackupSecret, walletID string, blob []byte) ([]byte, error) {
	d := codec.NewDecoder(blob)
	if v := d.Uint8(); d.Err() == nil && v != backupVersion {
		return nil, fmt.Errorf("%w: version %d", ErrBackupFormat, v)
	}
	h := &backupHeader{method: string(d.VarBytes(16)), kdf: d.Uint8(), salt: d.Fixed(16),
		time: d.Uint32(), mem: d.Uint32(), threads: d.Uint8(), nonce: d.Fixed(12)}
	h.ciphertext = d.VarBytes(64 << 10)
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBackupFormat, err)
	}
	if h.method != secret.Method {
		return nil, fmt.Errorf("bridge: backup is for method %q, not %q", h.method, secret.Method)
	}
	// Bound the work a stored header can ask of the device.
	if h.kdf == kdfArgon2id && (h.time == 0 || h.time > 10 || h.mem < 8*1024 || h.mem > 1<<20 || h.threads == 0 || h.threads > 4) {
		return nil, fmt.Errorf("%w: Argon2id parameters out of range", ErrBackupFormat)
	}
	key, err := secret.deriveKey(h, walletID)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	a, err := aead(key)
	if err != nil {
		return nil, err
	}
	plain, err := a.Open(nil, h.nonce, h.ciphertext, backupAAD(walletID, h.encode(false)))
	if err != nil {
		return nil, ErrWrongKey
	}
	return plain, nil
}
