// Package apikey makes and checks the bearer keys of the Duet server.
//
// A key reads
//
//	duet_<kind>_<owner id>_<secret>
//
// where kind is "org" (an organization's key for the Duet API), "cli" (a
// client's key, held by the user's device) or "cus" (the key the server uses
// at an organization's custodian store); the owner id is 32 lowercase hex
// digits; and the secret is 32 random bytes in unpadded base64url. The prefix
// makes a leaked key easy to recognise and to scan for. Carrying the owner id
// lets the server look the owner up by a value that is not secret, then
// compare the key's hash in constant time.
//
// Only the SHA-256 hash of a key is stored. A key holds 256 random bits, so a
// fast hash is enough: there is nothing to brute-force.
package apikey

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// A Kind says who a key belongs to.
type Kind string

const (
	Organization Kind = "org"
	Client       Kind = "cli"
	Custodian    Kind = "cus"
)

// HashSize is the size of a stored key hash.
const HashSize = sha256.Size

const (
	idBytes     = 16
	secretBytes = 32
)

// ErrMalformed means a string is not a key of the expected kind. It says
// nothing about whether a key of that shape exists.
var ErrMalformed = errors.New("apikey: malformed key")

// NewID returns a fresh random identifier: 32 lowercase hex digits.
func NewID(rand io.Reader) (string, error) {
	b := make([]byte, idBytes)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", fmt.Errorf("apikey: read random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// ValidID reports whether id has the form NewID gives.
func ValidID(id string) bool {
	if len(id) != 2*idBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// New makes a key of kind k for the owner with the given id, and returns the
// key, to be shown once, and its hash, to be stored.
func New(rand io.Reader, k Kind, ownerID string) (key string, hash [HashSize]byte, err error) {
	if !ValidID(ownerID) {
		return "", hash, fmt.Errorf("apikey: invalid owner id %q", ownerID)
	}
	secret := make([]byte, secretBytes)
	if _, err := io.ReadFull(rand, secret); err != nil {
		return "", hash, fmt.Errorf("apikey: read random: %w", err)
	}
	key = "duet_" + string(k) + "_" + ownerID + "_" + base64.RawURLEncoding.EncodeToString(secret)
	return key, Hash(key), nil
}

// Parse checks that key has the shape of a key of kind k and returns its owner
// id. A key that parses is not yet authenticated: that takes Verify.
func Parse(k Kind, key string) (ownerID string, err error) {
	rest, ok := strings.CutPrefix(key, "duet_"+string(k)+"_")
	if !ok || len(rest) != 2*idBytes+1+base64.RawURLEncoding.EncodedLen(secretBytes) || rest[2*idBytes] != '_' {
		return "", ErrMalformed
	}
	ownerID = rest[:2*idBytes]
	if !ValidID(ownerID) {
		return "", ErrMalformed
	}
	secret := rest[2*idBytes+1:]
	// Strict decoding rejects non-canonical trailing bits, so one secret has
	// exactly one spelling.
	if _, err := base64.RawURLEncoding.Strict().DecodeString(secret); err != nil {
		return "", ErrMalformed
	}
	return ownerID, nil
}

// Hash returns the hash under which a key is stored.
func Hash(key string) [HashSize]byte {
	return sha256.Sum256([]byte(key))
}

// Verify reports whether key hashes to storedHash, in time that does not
// depend on where the two differ.
func Verify(key string, storedHash []byte) bool {
	h := Hash(key)
	return subtle.ConstantTimeCompare(h[:], storedHash) == 1
}
