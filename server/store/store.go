// Package store keeps the server party's durable state: organizations, their
// clients, wallets, the server's key shares and its presignatures.
//
// Everything secret is sealed (package seal) on the way in and opened on the
// way out, so no caller has a path that writes a share in the clear. Key
// shares change generation in two phases (PutPending, then Activate or
// DropPending), and each step is one transaction guarded by a conditional
// update, so two server replicas sharing one PostgreSQL database never both
// win the same step.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

var (
	// ErrNotFound means the organization, client, wallet, share or
	// presignature does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrUnauthenticated means an API key is malformed, unknown or wrong.
	ErrUnauthenticated = errors.New("store: invalid API key")
	// ErrTokenExpired means a genuine client session token has expired. It
	// is an ErrUnauthenticated: errors.Is(ErrTokenExpired,
	// ErrUnauthenticated) holds.
	ErrTokenExpired = fmt.Errorf("%w: session token expired", ErrUnauthenticated)
	// ErrWalletExists means the client already has a wallet, or the wallet id
	// is taken.
	ErrWalletExists = errors.New("store: wallet already exists")
	// ErrPendingExists means the wallet already has a pending generation.
	ErrPendingExists = errors.New("store: wallet already has a pending generation")
	// ErrGenerationMismatch means a new pending generation is not the one
	// right after the active generation.
	ErrGenerationMismatch = errors.New("store: generation does not follow the active generation")
	// ErrNotPending means the generation is not the wallet's pending one, for
	// instance because another replica activated or dropped it first.
	ErrNotPending = errors.New("store: generation is not pending")
	// ErrNoActiveShare means a presignature was offered for a generation that
	// is not the wallet's active one.
	ErrNoActiveShare = errors.New("store: generation is not active")
	// ErrPresignatureExists means the presignature id is taken.
	ErrPresignatureExists = errors.New("store: presignature already exists")
	// ErrRateLimited means a subject has used up its events of the current
	// window.
	ErrRateLimited = errors.New("store: rate limit reached")
	// ErrLocked means another holder has the wallet's change lock.
	ErrLocked = errors.New("store: wallet is locked by another share change")
)

// An Organization runs an app on Duet. Its backend makes clients with its API key.
type Organization struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// A Client is one user of an organization's app, as the organization's
// backend made it. Its API key is what the user's device presents.
type Client struct {
	ID             string
	OrganizationID string
	CreatedAt      time.Time
}

// A Wallet is one key pair split between a client's device and the server.
// Generations count from 1; 0 means "none".
type Wallet struct {
	ID       string
	ClientID string
	// PublicKey is the encoding of X = x·G the key generation produced.
	PublicKey []byte
	// Address is the Ethereum address of X.
	Address string
	// ActiveGeneration is the generation the server signs with, or 0 while
	// the wallet's creation has not committed.
	ActiveGeneration uint64
	// PendingGeneration is the generation waiting for the device's ACK, or 0.
	PendingGeneration uint64
	CreatedAt         time.Time
}

// ShareState is the commit state of a server share.
type ShareState string

const (
	Pending ShareState = "pending"
	Active  ShareState = "active"
)

// A Share is the server's key share of one wallet generation, opened.
type Share struct {
	WalletID   string
	Generation uint64
	State      ShareState
	// Data is the encoded share, opaque to the store.
	Data []byte
	// Digest identifies the pair the share belongs to (the digest of the
	// pair's public data); it is what Activate matches.
	Digest []byte
}

// Accounts holds organizations and clients and checks their API keys.
type Accounts interface {
	// CreateOrganization records an organization under id (from
	// apikey.NewID) with the key the server uses at its custodian store, and
	// returns the organization's API key. The key is not stored and cannot be
	// shown again.
	CreateOrganization(ctx context.Context, id, name, custodianKey string) (orgKey string, err error)
	Organization(ctx context.Context, id string) (Organization, error)
	// AuthenticateOrganization returns the organization an org API key
	// belongs to, or ErrUnauthenticated.
	AuthenticateOrganization(ctx context.Context, key string) (Organization, error)
	// CustodianKey returns the key the server uses at the organization's
	// custodian store.
	CustodianKey(ctx context.Context, orgID string) (string, error)

	// CreateClient makes a client of the organization and returns it with
	// its API key. The key is not stored and cannot be shown again.
	CreateClient(ctx context.Context, orgID string) (c Client, clientKey string, err error)
	Client(ctx context.Context, id string) (Client, error)
	// AuthenticateClient returns the client a client API key or an
	// unexpired client session token belongs to, or ErrUnauthenticated
	// (ErrTokenExpired for a genuine token past its expiry).
	AuthenticateClient(ctx context.Context, key string) (Client, error)
	// MintSessionToken returns a client session token (apikey.Session) for
	// the client, valid until expires. The token is signed, not stored.
	MintSessionToken(ctx context.Context, clientID string, expires time.Time) (string, error)
}

// Wallets holds wallets and the server's key shares, and moves shares from one
// generation to the next in two phases (docs/ARCHITECTURE.md §3).
type Wallets interface {
	// CreateWallet records a new wallet with its first share as pending
	// generation gen, digest being the digest of the pair's public data.
	// The wallet counts as existing once Activate(w.ID, gen, digest)
	// succeeds; DropPending(w.ID, gen) removes it entirely.
	CreateWallet(ctx context.Context, w Wallet, gen uint64, share, digest []byte) error
	Wallet(ctx context.Context, id string) (Wallet, error)
	// WalletByClient returns the client's wallet, whether committed or not.
	WalletByClient(ctx context.Context, clientID string) (Wallet, error)

	// PutPending stores share as pending generation gen, which must be the
	// active generation plus one, while no other generation is pending;
	// digest is the digest of the new pair's public data.
	PutPending(ctx context.Context, walletID string, gen uint64, share, digest []byte) error
	// Activate makes pending generation gen active if its share is the one
	// stored with digest and, in the same transaction, deletes the older
	// generations' shares and presignatures. Of several concurrent calls
	// exactly one succeeds; the others, and a call naming a share that is
	// not the pending one, get ErrNotPending.
	Activate(ctx context.Context, walletID string, gen uint64, digest []byte) error
	// DropPending deletes pending generation gen. A wallet that never had an
	// active generation is deleted with it.
	DropPending(ctx context.Context, walletID string, gen uint64) error
	// Share returns the server's share of generation gen, active or pending.
	Share(ctx context.Context, walletID string, gen uint64) (Share, error)

	// LockWallet takes the wallet's share-change lock for holder, for at
	// most lease; calling it again as the same holder renews the lease.
	// While another holder's lease runs it fails with ErrLocked. The lock
	// lives in the database, so it holds across server replicas.
	LockWallet(ctx context.Context, walletID, holder string, lease time.Duration) error
	// UnlockWallet releases the lock if holder holds it.
	UnlockWallet(ctx context.Context, walletID, holder string) error
}

// Presignatures holds the server's presignatures. Each is used at most once:
// TakePresignature deletes it in the same statement that reads it.
type Presignatures interface {
	// PutPresignature stores a presignature made with the active share of
	// generation gen.
	PutPresignature(ctx context.Context, walletID string, gen uint64, id string, data []byte) error
	// TakePresignature deletes the presignature and returns it. Of several
	// concurrent calls for one presignature exactly one gets it; the others
	// get ErrNotFound.
	TakePresignature(ctx context.Context, walletID string, gen uint64, id string) ([]byte, error)
	// CountPresignatures returns how many presignatures of generation gen are left.
	CountPresignatures(ctx context.Context, walletID string, gen uint64) (int, error)
	// TrimPresignatures deletes the presignatures of generation gen made
	// before expired, then all but the keep newest.
	TrimPresignatures(ctx context.Context, walletID string, gen uint64, keep int, expired time.Time) error
}

// RateLimits counts the events the server party limits (share changes of a
// wallet, protocol aborts of a client) in the database, so that a restart
// does not reset them and every replica sharing the database sees the same
// counts. A kind names what is counted and a subject whom it is counted for.
//
// Windows are fixed: a window opens with the first event counted after the
// previous window ended and lasts the given duration, so at most limit
// events are counted in one window (and at most twice that across the end of
// one window and the start of the next). The caller passes the time, so that
// every replica's check reads one clock per call.
type RateLimits interface {
	// TakeEvent counts one event of kind for subject, unless limit events
	// were already counted in the current window: then it counts nothing and
	// returns ErrRateLimited with the time the window ends.
	TakeEvent(ctx context.Context, kind, subject string, now time.Time, limit int, window time.Duration) (retryAt time.Time, err error)
	// CountFailure counts one failure of kind for subject. The limit-th
	// failure of a window locks the subject out until now+lockout, which it
	// returns, and starts a new window; otherwise it returns the zero time.
	CountFailure(ctx context.Context, kind, subject string, now time.Time, limit int, window, lockout time.Duration) (lockedUntil time.Time, err error)
	// LockedUntil returns when the subject's lockout of kind ends, or the
	// zero time if it is not locked out at now.
	LockedUntil(ctx context.Context, kind, subject string, now time.Time) (time.Time, error)
}

// Store is everything the server party keeps.
type Store interface {
	Accounts
	Wallets
	Presignatures
	RateLimits
}
