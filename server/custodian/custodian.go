// Package custodian is a stand-in for an organization's custodian store: the
// service, run by the organization rather than by Duet, that keeps the
// custodian backup share b_C of each wallet and the user's encrypted backup
// share b_D for each backup method (docs/ARCHITECTURE.md §1).
//
// It has its own tables, its own sealing key and its own API keys ("duet_cus_"),
// and the server party reaches it only over HTTP through Client, exactly as it
// would reach a real custodian run elsewhere. A backup is written in two
// steps of one backup session: StartBackup stores b_C of a new pair,
// unconfirmed, under a generation the custodian allocates; CompleteBackup
// adds the user's ciphertext of b_D and confirms the pair, only if both
// halves name the same pair digest (the digest of the pair's public data).
// A backup counts for a method only when the custodian holds both confirmed
// halves of one pair; the method's older halves go when a newer pair is
// confirmed.
package custodian

import (
	"errors"
	"time"
)

// Backup methods: how the user's key K_m for the ciphertext is obtained.
const (
	MethodPassword = "password"
	MethodPasskey  = "passkey"
	MethodCustom   = "custom"
	// MethodApp is the former name of MethodCustom. New backups use
	// MethodCustom; backups made under this name stay recoverable by it.
	MethodApp = "app"
)

// ValidMethod reports whether m is a backup method the custodian accepts.
func ValidMethod(m string) bool {
	return m == MethodPassword || m == MethodPasskey || m == MethodCustom || m == MethodApp
}

// PairDigestSize is the size of a backup pair's digest.
const PairDigestSize = 32

// Size limits on what the custodian accepts; a share with its auxiliary
// information is a few kilobytes.
const (
	MaxShareSize      = 256 << 10
	MaxCiphertextSize = 256 << 10
)

var (
	// ErrNotFound means the wallet, share or backup does not exist for this
	// organization, or is not confirmed yet where a confirmed one is needed.
	ErrNotFound = errors.New("custodian: not found")
	// ErrUnauthenticated means the custodian API key is missing or wrong.
	ErrUnauthenticated = errors.New("custodian: invalid API key")
	// ErrConfirmed means different bytes were offered for a backup that is
	// already confirmed, which never changes.
	ErrConfirmed = errors.New("custodian: already confirmed with different contents")
	// ErrDigestMismatch means a ciphertext was offered for a pair other than
	// the one whose custodian share was stored.
	ErrDigestMismatch = errors.New("custodian: pair digest does not match the stored share")
	// ErrEjectNotAuthorized means the organization has not authorised eject
	// for the wallet.
	ErrEjectNotAuthorized = errors.New("custodian: eject not authorized")
	// ErrUnavailable means the custodian store could not be reached or gave
	// an answer that is not a custodian API response.
	ErrUnavailable = errors.New("custodian: store unavailable")
	// ErrInvalid means a request is malformed: bad method, generation or size.
	ErrInvalid = errors.New("custodian: invalid request")
)

// A Backup is the user's encrypted backup share for one method.
type Backup struct {
	Method     string `json:"method"`
	Generation uint64 `json:"generation"`
	Ciphertext []byte `json:"ciphertext,omitempty"`
	// PairDigest is the digest of the backup pair's public data, which b_C
	// of the same generation was stored with.
	PairDigest []byte `json:"pairDigest,omitempty"`
	Confirmed  bool   `json:"confirmed"`
	// VerifiedAt is when a backup drill last proved this pair whole: the
	// user's half opened and the custodian's half still made the wallet's
	// public key with it.
	VerifiedAt *time.Time `json:"verifiedAt,omitempty"`
}

// ShareStatus tells whether the custodian holds b_C of one backup generation.
type ShareStatus struct {
	Generation uint64 `json:"generation"`
	Method     string `json:"method,omitempty"`
	Confirmed  bool   `json:"confirmed"`
}

// WalletStatus is what the custodian holds for one wallet.
type WalletStatus struct {
	WalletID string        `json:"walletId"`
	Shares   []ShareStatus `json:"shares"`
	// Backups lists the newest upload for each method, without ciphertexts.
	Backups []Backup `json:"backups"`
	// BackedUp lists the methods for which the custodian holds both
	// confirmed halves of one pair: a ciphertext and a share of the same
	// generation, stored with the same pair digest.
	BackedUp          []string   `json:"backedUp"`
	EjectAuthorized   bool       `json:"ejectAuthorized"`
	EjectAuthorizedAt *time.Time `json:"ejectAuthorizedAt,omitempty"`
}
