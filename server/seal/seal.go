// Package seal encrypts data at rest for the Duet server.
//
// Every key share, presignature and backup the server or the custodian store
// writes to its database passes through a Sealer first. A sealed blob is bound
// to a Binding (what it is, which wallet, which generation, which item), so a
// blob copied from one row into another, or from one wallet into another, fails
// to open instead of being used as something it is not.
//
// The blob format, version 1, is
//
//	version (1 byte, 0x01) || key id (8 bytes) || nonce (12 bytes) || AES-256-GCM ciphertext and tag
//
// The key id lets Open tell a blob sealed under another key apart from a
// tampered one; it is derived from the key with HKDF and says nothing about it.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// KeySize is the size of a sealing key: 32 bytes, for AES-256.
const KeySize = 32

// Version1 is the version byte of the only blob format so far.
const Version1 = 0x01

const (
	keyIDSize = 8
	nonceSize = 12
	tagSize   = 16
	// Overhead is how many bytes Seal adds to a plaintext.
	Overhead = 1 + keyIDSize + nonceSize + tagSize
)

// Purposes name the kinds of data the server seals. A blob sealed for one
// purpose never opens as another, even for the same wallet and generation.
const (
	PurposeServerShare    = "duet/server-share"
	PurposePresignature   = "duet/presignature"
	PurposeCustodianKey   = "duet/custodian-credential"
	PurposeCustodianShare = "duet/custodian-share"
	PurposeBackup         = "duet/backup-ciphertext"
	PurposeSessionToken   = "duet/client-session-token"
)

var (
	// ErrUnsupportedVersion means the blob starts with a version byte this
	// package does not know, or is not a sealed blob at all.
	ErrUnsupportedVersion = errors.New("seal: unsupported blob version")
	// ErrTruncated means the blob is shorter than any sealed blob can be.
	ErrTruncated = errors.New("seal: blob too short")
	// ErrWrongKey means the blob was sealed under a different key.
	ErrWrongKey = errors.New("seal: blob was sealed under a different key")
	// ErrAuthentication means the key is right but the blob was altered or
	// was sealed for a different Binding.
	ErrAuthentication = errors.New("seal: authentication failed: blob tampered with or sealed for another binding")
	// ErrKeySize means a key is not KeySize bytes long.
	ErrKeySize = errors.New("seal: key must be 32 bytes")
)

// A Binding says what a sealed blob is. Open succeeds only with the Binding
// the blob was sealed with; every field takes part in the associated data.
type Binding struct {
	// Purpose is one of the Purpose constants.
	Purpose string
	// WalletID is the wallet the data belongs to; the organization id for
	// organization-wide data.
	WalletID string
	// Generation is the share generation the data belongs to, or 0.
	Generation uint64
	// Item tells apart several blobs of one purpose, wallet and generation,
	// such as presignature ids or backup method names; empty if there is one.
	Item string
}

// associatedData encodes b unambiguously: every string is length-prefixed,
// so no two different Bindings give the same bytes.
func (b Binding) associatedData() []byte {
	ad := make([]byte, 0, 64+len(b.Purpose)+len(b.WalletID)+len(b.Item))
	ad = append(ad, "duet seal"...)
	ad = append(ad, Version1)
	ad = appendString(ad, b.Purpose)
	ad = appendString(ad, b.WalletID)
	ad = binary.BigEndian.AppendUint64(ad, b.Generation)
	ad = appendString(ad, b.Item)
	return ad
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// A Sealer seals and opens blobs under one key. It is safe for concurrent use.
type Sealer struct {
	aead   cipher.AEAD
	keyID  [keyIDSize]byte
	macKey []byte
}

// New returns a Sealer for a KeySize-byte key. The AES key and the key id are
// derived from key with HKDF-SHA256, so the same master key could serve other
// uses without its sealing key ever meeting them.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, ErrKeySize
	}
	aesKey, err := hkdf.Key(sha256.New, key, nil, "duet seal v1 aes-256-gcm key", 32)
	if err != nil {
		return nil, fmt.Errorf("seal: derive key: %w", err)
	}
	id, err := hkdf.Key(sha256.New, key, nil, "duet seal v1 key id", keyIDSize)
	if err != nil {
		return nil, fmt.Errorf("seal: derive key id: %w", err)
	}
	block, err := aes.NewCipher(aesKey)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	macKey, err := hkdf.Key(sha256.New, key, nil, "duet seal v1 hmac-sha256 key", 32)
	if err != nil {
		return nil, fmt.Errorf("seal: derive MAC key: %w", err)
	}
	s := &Sealer{aead: aead, macKey: macKey}
	copy(s.keyID[:], id)
	return s, nil
}

// MACSize is the size of a MAC.
const MACSize = sha256.Size

// MAC returns HMAC-SHA256 of msg for binding b, under a key derived from the
// master key apart from the sealing key. It authenticates values the server
// hands out and takes back, such as client session tokens, without a nonce
// (so without spending the sealing key's nonce budget).
func (s *Sealer) MAC(b Binding, msg []byte) []byte {
	m := hmac.New(sha256.New, s.macKey)
	m.Write(b.associatedData())
	m.Write(msg)
	return m.Sum(nil)
}

// VerifyMAC reports, in constant time, whether mac is MAC(b, msg).
func (s *Sealer) VerifyMAC(b Binding, msg, mac []byte) bool {
	return hmac.Equal(s.MAC(b, msg), mac)
}

// Seal encrypts plaintext for binding b with a fresh random nonce read from
// rand, which should be crypto/rand.Reader outside tests.
func (s *Sealer) Seal(rand io.Reader, b Binding, plaintext []byte) ([]byte, error) {
	if len(plaintext) > math.MaxInt32 {
		return nil, errors.New("seal: plaintext too large")
	}
	out := make([]byte, 1+keyIDSize+nonceSize, Overhead+len(plaintext))
	out[0] = Version1
	copy(out[1:], s.keyID[:])
	nonce := out[1+keyIDSize:]
	// Random 96-bit nonces: a key seals far fewer than 2^32 blobs, which
	// keeps the chance of a repeated nonce negligible.
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, fmt.Errorf("seal: read nonce: %w", err)
	}
	return s.aead.Seal(out, nonce, plaintext, b.associatedData()), nil
}

// Open decrypts a blob sealed for binding b. It returns ErrUnsupportedVersion,
// ErrTruncated, ErrWrongKey or ErrAuthentication when the blob does not open.
func (s *Sealer) Open(b Binding, blob []byte) ([]byte, error) {
	if len(blob) == 0 || blob[0] != Version1 {
		return nil, ErrUnsupportedVersion
	}
	if len(blob) < Overhead {
		return nil, ErrTruncated
	}
	if subtle.ConstantTimeCompare(blob[1:1+keyIDSize], s.keyID[:]) != 1 {
		return nil, ErrWrongKey
	}
	nonce := blob[1+keyIDSize : 1+keyIDSize+nonceSize]
	plaintext, err := s.aead.Open(nil, nonce, blob[1+keyIDSize+nonceSize:], b.associatedData())
	if err != nil {
		return nil, ErrAuthentication
	}
	return plaintext, nil
}
