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
	// ErrNoSessionSlot means every session slot of the client is held.
	ErrNoSessionSlot = errors.New("store: every session slot of the client is taken")
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
	// ActiveGeneration is the wallet's newest active generation, of any of
	// its devices (each device signs with its own), or 0 while the
	// wallet's creation has not committed. Generation numbers are the
	// wallet's: a share change of any device makes ActiveGeneration+1.
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
	// Device is the id (hex) of the device holding the other half of the
	// pair; empty for the device of a wallet from before devices.
	Device string
}

// A NewShare is a server share on its way in, pending until Activate.
type NewShare struct {
	// Device is the id (32 hex digits) of the device the pair is for, or
	// empty for the device of a wallet from before devices.
	Device     string
	Generation uint64
	// Data is the encoded share; Digest the digest of its pair's public data.
	Data, Digest []byte
	// RetiresOthers makes its activation delete every other device's
	// shares and presignatures, as a recovery does; otherwise only the
	// older shares of its own device go.
	RetiresOthers bool
}

// A Device is one device of a wallet: the holder of the other half of one
// of the wallet's active pairs.
type Device struct {
	ID        string // 32 hex digits, or empty (see NewShare.Device)
	CreatedAt time.Time
	// LastUsedAt is when the device last signed; zero for never.
	LastUsedAt time.Time
	// Generation and Digest name the device's active pair.
	Generation uint64
	Digest     []byte
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
	// CreateDeviceWallet records a new wallet with its first share, for
	// sh.Device, as pending generation sh.Generation. The wallet counts as
	// existing once Activate(w.ID, sh.Generation, sh.Digest) succeeds;
	// DropPending(w.ID, sh.Generation) removes it entirely.
	CreateDeviceWallet(ctx context.Context, w Wallet, sh NewShare) error
	// CreateWallet is CreateDeviceWallet for the empty device id.
	CreateWallet(ctx context.Context, w Wallet, gen uint64, share, digest []byte) error
	Wallet(ctx context.Context, id string) (Wallet, error)
	// WalletByClient returns the client's wallet, whether committed or not.
	WalletByClient(ctx context.Context, clientID string) (Wallet, error)

	// PutPendingShare stores sh as pending generation sh.Generation, which
	// must be the wallet's active generation plus one, while no other
	// generation is pending.
	PutPendingShare(ctx context.Context, walletID string, sh NewShare) error
	// PutPending is PutPendingShare for the empty device id.
	PutPending(ctx context.Context, walletID string, gen uint64, share, digest []byte) error
	// Activate makes pending generation gen active if its share is the one
	// stored with digest and, in the same transaction, deletes the older
	// shares and presignatures of the share's device (of every device if
	// the share retires the others) and records the device. Of several
	// concurrent calls exactly one succeeds; the others, and a call naming
	// a share that is not the pending one, get ErrNotPending.
	Activate(ctx context.Context, walletID string, gen uint64, digest []byte) error
	// DropPending deletes pending generation gen. A wallet that never had an
	// active generation is deleted with it.
	DropPending(ctx context.Context, walletID string, gen uint64) error
	// Share returns the server's share of generation gen, active or pending.
	Share(ctx context.Context, walletID string, gen uint64) (Share, error)
	// DeviceShare returns the active share of the device's pair, or
	// ErrNotFound when the wallet has no such device (never had it, or it
	// was removed or retired).
	DeviceShare(ctx context.Context, walletID, deviceID string) (Share, error)
	// Devices lists the wallet's devices, oldest first.
	Devices(ctx context.Context, walletID string) ([]Device, error)
	// RemoveDevice deletes the device, its shares and their presignatures
	// in one transaction; ErrNotFound if the wallet has no such device.
	RemoveDevice(ctx context.Context, walletID, deviceID string) error
	// TouchDevice records that the device signed now.
	TouchDevice(ctx context.Context, walletID, deviceID string) error

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

// SessionSlots caps the concurrent sessions of a client across every
// replica sharing the database: a session holds one of the client's slots,
// numbered 0 to limit-1, under a lease it renews while it runs. A replica
// that dies leaves its slots to lapse with their leases.
type SessionSlots interface {
	// TakeSessionSlot claims a free slot (or one whose lease ran out) of the
	// client for holder until now+lease, and returns its number; with all
	// limit slots held it returns ErrNoSessionSlot.
	TakeSessionSlot(ctx context.Context, clientID, holder string, limit int, lease time.Duration) (slot int, err error)
	// RenewSessionSlot extends holder's lease of the slot; ErrNoSessionSlot
	// if holder no longer holds it.
	RenewSessionSlot(ctx context.Context, clientID string, slot int, holder string, lease time.Duration) error
	// ReleaseSessionSlot frees the slot if holder holds it.
	ReleaseSessionSlot(ctx context.Context, clientID string, slot int, holder string) error
}

// An AuditRecord is one entry of an organization's audit log: who did
// what to which wallet, when, and how it ended. It never holds a secret.
type AuditRecord struct {
	// ID orders the log: records of one organization sort by ID in the
	// order they were written (to the millisecond of the writing replica's
	// clock).
	ID             string    `json:"id"`
	OrganizationID string    `json:"organizationId"`
	ClientID       string    `json:"clientId"`
	WalletID       string    `json:"walletId,omitempty"`
	Generation     uint64    `json:"generation,omitempty"`
	Action         string    `json:"action"`
	Outcome        string    `json:"outcome"`
	At             time.Time `json:"at"`
}

// Actions of the audit log.
const (
	AuditWalletCreated   = "wallet_created"
	AuditSignature       = "signature"
	AuditBackup          = "backup"
	AuditRecovery        = "recovery"
	AuditRefresh         = "refresh"
	AuditEject           = "eject"
	AuditEjectAuthorized = "eject_authorized"
	AuditDeviceAdded     = "device_added"
	AuditDeviceRemoved   = "device_removed"
	// AuditDeviceApproved is the approving device's session of a device
	// added by approval; the new device's session is AuditDeviceAdded.
	AuditDeviceApproved = "device_approved"
)

// Audit is the append-only audit log: nothing in the store updates or
// deletes a record.
type Audit interface {
	// AppendAudit writes r, with a fresh ID and the store's time.
	AppendAudit(ctx context.Context, r AuditRecord) error
	// AuditLog returns up to limit records of the organization with IDs
	// after after ("" for the first), in order.
	AuditLog(ctx context.Context, orgID, after string, limit int) ([]AuditRecord, error)
}

// A Webhook is where an organization's alert events go.
type Webhook struct {
	OrganizationID string
	URL            string
	// Secret keys the HMAC-SHA256 signature of every delivery.
	Secret []byte
}

// A Delivery is one event in the outbox, on its way to a webhook.
type Delivery struct {
	ID             string
	OrganizationID string
	Event          string
	// Payload is the JSON body delivered.
	Payload  []byte
	Attempts int
}

// Webhooks keeps each organization's webhook and the outbox of events to
// deliver to it. The outbox is a table: an event enqueued survives a
// restart, and replicas sharing the database deliver each due event once
// per attempt (ClaimDeliveries leases it to one of them).
type Webhooks interface {
	// SetWebhook registers (or replaces) the organization's webhook.
	SetWebhook(ctx context.Context, w Webhook) error
	// Webhook returns the organization's webhook, or ErrNotFound.
	Webhook(ctx context.Context, orgID string) (Webhook, error)
	// EnqueueEvent puts an event in the outbox if the organization has a
	// webhook; without one it does nothing.
	EnqueueEvent(ctx context.Context, orgID, event string, payload []byte) error
	// ClaimDeliveries returns up to limit undelivered events due at now and
	// leases them for lease: until then no other call returns them.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Delivery, error)
	// DeliveryDone records the outcome of an attempt: delivered, or to be
	// tried again at retryAt (the zero time: never again).
	DeliveryDone(ctx context.Context, id string, delivered bool, retryAt time.Time) error
}

// ApprovalState is where a device approval stands.
type ApprovalState string

const (
	// ApprovalPending: the new device waits for an approving device.
	ApprovalPending ApprovalState = "pending"
	// ApprovalApproved: a device answered; the new device is to open it.
	ApprovalApproved ApprovalState = "approved"
	// ApprovalOpened: the new device opened its starting share.
	ApprovalOpened ApprovalState = "opened"
	// ApprovalFailed: the new device could not open it.
	ApprovalFailed ApprovalState = "failed"
)

// An Approval is a new device's request to join a wallet by the approval of
// one of its devices, and the answer, while the two sessions run. Delta is
// secret (sealed in the store); the rest is public to the server.
type Approval struct {
	ID       string
	WalletID string
	// Device is the new device's id (32 hex digits).
	Device string
	// SID holds the nonces of the new device's session that CPace's session
	// id binds: the server's Welcome nonce, then the device's Hello nonce.
	SID []byte
	// Request is the new device's CPace message.
	Request   []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	State     ApprovalState
	// Set by the approval: the approving device, the generation of its pair
	// the starting share was made from, δ, its CPace message and the sealed
	// starting share.
	ApproverDevice     string
	ApproverGeneration uint64
	Delta              []byte
	Response           []byte
	Ciphertext         []byte
}

// ErrApprovalState means an approval is not in the state a step needs: it
// expired, or another session moved it on first.
var ErrApprovalState = errors.New("store: the approval is not in the state this step needs")

// Approvals keeps device approvals while their sessions run. Every step is
// one conditional statement, so that sessions on several replicas each see
// one outcome.
type Approvals interface {
	// PutApproval stores a pending request; the wallet's other pending
	// requests are deleted (a newer request replaces them), and so is every
	// request that expired long ago (a session that never cleaned up).
	PutApproval(ctx context.Context, a Approval) error
	// PendingApproval returns the wallet's newest pending request that has
	// not expired at now, or ErrNotFound.
	PendingApproval(ctx context.Context, walletID string, now time.Time) (Approval, error)
	// Approve records the answer to a request that is pending and not
	// expired at now; ErrApprovalState otherwise, ErrNotFound if it is gone.
	Approve(ctx context.Context, id string, now time.Time, answer Approval) error
	// GetApproval returns a request, δ opened; ErrNotFound if it is gone.
	GetApproval(ctx context.Context, id string) (Approval, error)
	// SetApprovalState moves a request from one state to another;
	// ErrApprovalState if it is not in from, ErrNotFound if it is gone. A
	// request settled as opened or failed keeps neither δ nor the sealed
	// share.
	SetApprovalState(ctx context.Context, id string, from, to ApprovalState) error
	// DeleteApproval deletes a request, whatever its state.
	DeleteApproval(ctx context.Context, id string) error
}

// Store is everything the server party keeps.
type Store interface {
	Accounts
	Wallets
	Presignatures
	RateLimits
	SessionSlots
	Audit
	Webhooks
	Approvals
}
