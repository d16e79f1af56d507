package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/internal/sqldb"
	"github.com/duetwallet/duet/server/seal"
)

var migrations = []sqldb.Migration{{Version: 1, SQL: `
CREATE TABLE organizations (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	key_hash {{blob}} NOT NULL,
	custodian_key {{blob}} NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE TABLE clients (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations (id),
	key_hash {{blob}} NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX clients_org_id ON clients (org_id);
CREATE TABLE wallets (
	id TEXT PRIMARY KEY,
	client_id TEXT NOT NULL UNIQUE REFERENCES clients (id),
	public_key {{blob}} NOT NULL,
	address TEXT NOT NULL,
	active_generation BIGINT,
	pending_generation BIGINT,
	created_at BIGINT NOT NULL,
	CHECK (active_generation IS NOT NULL OR pending_generation IS NOT NULL)
);
CREATE TABLE server_shares (
	wallet_id TEXT NOT NULL REFERENCES wallets (id) ON DELETE CASCADE,
	generation BIGINT NOT NULL,
	state TEXT NOT NULL CHECK (state IN ('pending', 'active')),
	sealed {{blob}} NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (wallet_id, generation)
);
CREATE TABLE presignatures (
	wallet_id TEXT NOT NULL,
	generation BIGINT NOT NULL,
	id TEXT NOT NULL,
	sealed {{blob}} NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (wallet_id, generation, id),
	FOREIGN KEY (wallet_id, generation) REFERENCES server_shares (wallet_id, generation) ON DELETE CASCADE
)`}, {Version: 2, SQL: `
CREATE TABLE rate_limits (
	kind TEXT NOT NULL,
	subject TEXT NOT NULL,
	window_start BIGINT NOT NULL,
	events BIGINT NOT NULL,
	locked_until BIGINT NOT NULL,
	PRIMARY KEY (kind, subject)
)`}, {Version: 3, SQL: `
ALTER TABLE server_shares ADD COLUMN digest {{blob}};
CREATE TABLE wallet_locks (
	wallet_id TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	expires_at BIGINT NOT NULL
)`}, {Version: 4, SQL: `
CREATE TABLE session_slots (
	client_id TEXT NOT NULL,
	slot BIGINT NOT NULL,
	holder TEXT NOT NULL,
	expires_at BIGINT NOT NULL,
	PRIMARY KEY (client_id, slot)
)`}, {Version: 5, SQL: `
CREATE TABLE audit_log (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL,
	client_id TEXT NOT NULL,
	wallet_id TEXT NOT NULL,
	generation BIGINT NOT NULL,
	action TEXT NOT NULL,
	outcome TEXT NOT NULL,
	at BIGINT NOT NULL
);
CREATE INDEX audit_log_org_id ON audit_log (org_id, id)`}, {Version: 6, SQL: `
CREATE TABLE webhooks (
	org_id TEXT PRIMARY KEY,
	url TEXT NOT NULL,
	secret {{blob}} NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE TABLE webhook_outbox (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL,
	event TEXT NOT NULL,
	payload {{blob}} NOT NULL,
	attempts BIGINT NOT NULL,
	next_attempt BIGINT NOT NULL,
	state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
	created_at BIGINT NOT NULL
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (state, next_attempt)`}, {Version: 7, SQL: `
ALTER TABLE server_shares ADD COLUMN device_id TEXT NOT NULL DEFAULT '';
ALTER TABLE server_shares ADD COLUMN retires_others BIGINT NOT NULL DEFAULT 0;
CREATE TABLE devices (
	wallet_id TEXT NOT NULL REFERENCES wallets (id) ON DELETE CASCADE,
	device_id TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	last_used_at BIGINT NOT NULL,
	PRIMARY KEY (wallet_id, device_id)
);
INSERT INTO devices (wallet_id, device_id, created_at, last_used_at)
	SELECT id, '', created_at, 0 FROM wallets WHERE active_generation IS NOT NULL`}, {Version: 8, SQL: `
CREATE TABLE device_approvals (
	id TEXT PRIMARY KEY,
	wallet_id TEXT NOT NULL REFERENCES wallets (id) ON DELETE CASCADE,
	device_id TEXT NOT NULL,
	sid {{blob}} NOT NULL,
	request {{blob}} NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'opened', 'failed')),
	approver_device TEXT NOT NULL DEFAULT '',
	approver_generation BIGINT NOT NULL DEFAULT 0,
	delta {{blob}},
	response {{blob}},
	ciphertext {{blob}}
);
CREATE INDEX device_approvals_wallet ON device_approvals (wallet_id, state, created_at)`}}

// SQLStore is the Store on SQLite or PostgreSQL.
type SQLStore struct {
	db     *sqldb.DB
	sealer *seal.Sealer
	rand   io.Reader
	now    func() time.Time
	// auditSeq orders the audit records this store writes.
	auditSeq atomic.Uint64
}

var _ Store = (*SQLStore)(nil)

// Config holds what an SQLStore depends on.
type Config struct {
	DB *sqldb.DB
	// Sealer seals shares, presignatures and custodian keys under the
	// server's master key.
	Sealer *seal.Sealer
	// Rand is the source of keys, ids and nonces; crypto/rand if nil.
	Rand io.Reader
	// Now is the clock for creation times; time.Now if nil.
	Now func() time.Time
}

// Open applies the store's migrations to cfg.DB and returns the store.
func Open(ctx context.Context, cfg Config) (*SQLStore, error) {
	if cfg.DB == nil || cfg.Sealer == nil {
		return nil, errors.New("store: Open needs a DB and a Sealer")
	}
	s := &SQLStore{db: cfg.DB, sealer: cfg.Sealer, rand: cfg.Rand, now: cfg.Now}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.db.Migrate(ctx, "store", migrations); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return s, nil
}

func (s *SQLStore) stamp() int64 { return s.now().UnixMilli() }

func fromStamp(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func (s *SQLStore) CreateOrganization(ctx context.Context, id, name, custodianKey string) (string, error) {
	if name == "" {
		return "", errors.New("store: organization name is empty")
	}
	key, hash, err := apikey.New(s.rand, apikey.Organization, id)
	if err != nil {
		return "", fmt.Errorf("store: %w", err)
	}
	sealedKey, err := s.sealer.Seal(s.rand, seal.Binding{Purpose: seal.PurposeCustodianKey, WalletID: id}, []byte(custodianKey))
	if err != nil {
		return "", fmt.Errorf("store: %w", err)
	}
	_, err = s.db.ExecContext(ctx,
		`INSERT INTO organizations (id, name, key_hash, custodian_key, created_at) VALUES ($1, $2, $3, $4, $5)`,
		id, name, hash[:], sealedKey, s.stamp())
	if err != nil {
		return "", fmt.Errorf("store: create organization: %w", err)
	}
	return key, nil
}

func (s *SQLStore) organization(ctx context.Context, id string) (Organization, []byte, error) {
	var o Organization
	var hash []byte
	var created int64
	err := s.db.QueryRowContext(ctx,
		`SELECT id, name, key_hash, created_at FROM organizations WHERE id = $1`, id).
		Scan(&o.ID, &o.Name, &hash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Organization{}, nil, fmt.Errorf("store: organization %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Organization{}, nil, fmt.Errorf("store: read organization: %w", err)
	}
	o.CreatedAt = fromStamp(created)
	return o, hash, nil
}

func (s *SQLStore) Organization(ctx context.Context, id string) (Organization, error) {
	o, _, err := s.organization(ctx, id)
	return o, err
}

func (s *SQLStore) AuthenticateOrganization(ctx context.Context, key string) (Organization, error) {
	return authenticate(ctx, apikey.Organization, key, s.organization)
}

// authenticate finds the owner a key names and checks the key against the
// owner's stored hash. Every failure is ErrUnauthenticated, so a caller
// cannot tell a wrong secret from an unknown owner.
func authenticate[T any](ctx context.Context, kind apikey.Kind, key string, lookup func(context.Context, string) (T, []byte, error)) (T, error) {
	var zero T
	id, err := apikey.Parse(kind, key)
	if err != nil {
		return zero, ErrUnauthenticated
	}
	owner, hash, err := lookup(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return zero, ErrUnauthenticated
	}
	if err != nil {
		return zero, err
	}
	if !apikey.Verify(key, hash) {
		return zero, ErrUnauthenticated
	}
	return owner, nil
}

func (s *SQLStore) CustodianKey(ctx context.Context, orgID string) (string, error) {
	var sealed []byte
	err := s.db.QueryRowContext(ctx, `SELECT custodian_key FROM organizations WHERE id = $1`, orgID).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("store: organization %s: %w", orgID, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: read custodian key: %w", err)
	}
	key, err := s.sealer.Open(seal.Binding{Purpose: seal.PurposeCustodianKey, WalletID: orgID}, sealed)
	if err != nil {
		return "", fmt.Errorf("store: open custodian key of organization %s: %w", orgID, err)
	}
	return string(key), nil
}

func (s *SQLStore) CreateClient(ctx context.Context, orgID string) (Client, string, error) {
	id, err := apikey.NewID(s.rand)
	if err != nil {
		return Client{}, "", fmt.Errorf("store: %w", err)
	}
	key, hash, err := apikey.New(s.rand, apikey.Client, id)
	if err != nil {
		return Client{}, "", fmt.Errorf("store: %w", err)
	}
	c := Client{ID: id, OrganizationID: orgID, CreatedAt: fromStamp(s.stamp())}
	_, err = s.db.ExecContext(ctx,
		`INSERT INTO clients (id, org_id, key_hash, created_at) VALUES ($1, $2, $3, $4)`,
		c.ID, c.OrganizationID, hash[:], c.CreatedAt.UnixMilli())
	if sqldb.IsForeignKeyViolation(err) {
		return Client{}, "", fmt.Errorf("store: organization %s: %w", orgID, ErrNotFound)
	}
	if err != nil {
		return Client{}, "", fmt.Errorf("store: create client: %w", err)
	}
	return c, key, nil
}

func (s *SQLStore) client(ctx context.Context, id string) (Client, []byte, error) {
	var c Client
	var hash []byte
	var created int64
	err := s.db.QueryRowContext(ctx,
		`SELECT id, org_id, key_hash, created_at FROM clients WHERE id = $1`, id).
		Scan(&c.ID, &c.OrganizationID, &hash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Client{}, nil, fmt.Errorf("store: client %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Client{}, nil, fmt.Errorf("store: read client: %w", err)
	}
	c.CreatedAt = fromStamp(created)
	return c, hash, nil
}

func (s *SQLStore) Client(ctx context.Context, id string) (Client, error) {
	c, _, err := s.client(ctx, id)
	return c, err
}

func (s *SQLStore) AuthenticateClient(ctx context.Context, key string) (Client, error) {
	if strings.HasPrefix(key, apikey.SessionTokenPrefix) {
		return s.authenticateSession(ctx, key)
	}
	return authenticate(ctx, apikey.Client, key, s.client)
}

func sessionBinding(clientID string) seal.Binding {
	return seal.Binding{Purpose: seal.PurposeSessionToken, WalletID: clientID}
}

func (s *SQLStore) MintSessionToken(ctx context.Context, clientID string, expires time.Time) (string, error) {
	if _, _, err := s.client(ctx, clientID); err != nil {
		return "", err
	}
	expires = expires.Truncate(time.Second)
	mac := s.sealer.MAC(sessionBinding(clientID), apikey.SessionTokenMessage(clientID, expires))
	return apikey.FormatSessionToken(clientID, expires, mac), nil
}

// authenticateSession checks a client session token: its MAC first, so that
// only the server's own tokens are told expired, then its expiry, then that
// its client still exists.
func (s *SQLStore) authenticateSession(ctx context.Context, token string) (Client, error) {
	id, expires, mac, err := apikey.ParseSessionToken(token)
	if err != nil {
		return Client{}, ErrUnauthenticated
	}
	if !s.sealer.VerifyMAC(sessionBinding(id), apikey.SessionTokenMessage(id, expires), mac) {
		return Client{}, ErrUnauthenticated
	}
	if !s.now().Before(expires) {
		return Client{}, ErrTokenExpired
	}
	c, _, err := s.client(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Client{}, ErrUnauthenticated
	}
	return c, err
}

func shareBinding(walletID string, gen uint64) seal.Binding {
	return seal.Binding{Purpose: seal.PurposeServerShare, WalletID: walletID, Generation: gen}
}

func presignatureBinding(walletID string, gen uint64, id string) seal.Binding {
	return seal.Binding{Purpose: seal.PurposePresignature, WalletID: walletID, Generation: gen, Item: id}
}

// generation converts a generation to the BIGINT column type. Generations
// beyond int64 cannot be stored, and gen+1 must not overflow either.
func generation(gen uint64) (int64, error) {
	if gen == 0 || gen >= 1<<62 {
		return 0, fmt.Errorf("store: invalid generation %d", gen)
	}
	return int64(gen), nil
}

func (s *SQLStore) CreateWallet(ctx context.Context, w Wallet, gen uint64, share, digest []byte) error {
	return s.CreateDeviceWallet(ctx, w, NewShare{Generation: gen, Data: share, Digest: digest})
}

// checkNewShare checks a new share's generation, digest and device id, and
// returns the generation as stored.
func checkNewShare(sh NewShare) (int64, error) {
	g, err := generation(sh.Generation)
	if err != nil {
		return 0, err
	}
	if len(sh.Digest) == 0 {
		return 0, errors.New("store: a share needs the digest of its pair's public data")
	}
	if !validDeviceID(sh.Device) {
		return 0, fmt.Errorf("store: invalid device id %q", sh.Device)
	}
	return g, nil
}

// validDeviceID accepts the empty id and 32 lower-case hex digits.
func validDeviceID(id string) bool {
	if id == "" {
		return true
	}
	if len(id) != 32 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func retires(sh NewShare) int64 {
	if sh.RetiresOthers {
		return 1
	}
	return 0
}

func (s *SQLStore) CreateDeviceWallet(ctx context.Context, w Wallet, sh NewShare) error {
	g, err := checkNewShare(sh)
	if err != nil {
		return err
	}
	gen, share, digest := sh.Generation, sh.Data, sh.Digest
	if w.ID == "" || w.ClientID == "" || len(w.PublicKey) == 0 || w.Address == "" {
		return errors.New("store: wallet needs an id, a client id, a public key and an address")
	}
	sealed, err := s.sealer.Seal(s.rand, shareBinding(w.ID, gen), share)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	now := s.stamp()
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO wallets (id, client_id, public_key, address, active_generation, pending_generation, created_at)
			 VALUES ($1, $2, $3, $4, NULL, $5, $6)`,
			w.ID, w.ClientID, w.PublicKey, w.Address, g, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO server_shares (wallet_id, generation, state, sealed, digest, device_id, retires_others, created_at)
			 VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7)`,
			w.ID, g, sealed, digest, sh.Device, retires(sh), now)
		return err
	})
	switch {
	case sqldb.IsUniqueViolation(err):
		return fmt.Errorf("store: wallet %s of client %s: %w", w.ID, w.ClientID, ErrWalletExists)
	case sqldb.IsForeignKeyViolation(err):
		return fmt.Errorf("store: client %s: %w", w.ClientID, ErrNotFound)
	case err != nil:
		return fmt.Errorf("store: create wallet: %w", err)
	}
	return nil
}

const walletColumns = `id, client_id, public_key, address, active_generation, pending_generation, created_at`

func scanWallet(row *sql.Row) (Wallet, error) {
	var w Wallet
	var active, pending sql.NullInt64
	var created int64
	if err := row.Scan(&w.ID, &w.ClientID, &w.PublicKey, &w.Address, &active, &pending, &created); err != nil {
		return Wallet{}, err
	}
	w.ActiveGeneration = uint64(active.Int64)
	w.PendingGeneration = uint64(pending.Int64)
	w.CreatedAt = fromStamp(created)
	return w, nil
}

func (s *SQLStore) Wallet(ctx context.Context, id string) (Wallet, error) {
	w, err := scanWallet(s.db.QueryRowContext(ctx, `SELECT `+walletColumns+` FROM wallets WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Wallet{}, fmt.Errorf("store: wallet %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Wallet{}, fmt.Errorf("store: read wallet: %w", err)
	}
	return w, nil
}

func (s *SQLStore) WalletByClient(ctx context.Context, clientID string) (Wallet, error) {
	w, err := scanWallet(s.db.QueryRowContext(ctx, `SELECT `+walletColumns+` FROM wallets WHERE client_id = $1`, clientID))
	if errors.Is(err, sql.ErrNoRows) {
		return Wallet{}, fmt.Errorf("store: wallet of client %s: %w", clientID, ErrNotFound)
	}
	if err != nil {
		return Wallet{}, fmt.Errorf("store: read wallet: %w", err)
	}
	return w, nil
}

func (s *SQLStore) PutPending(ctx context.Context, walletID string, gen uint64, share, digest []byte) error {
	return s.PutPendingShare(ctx, walletID, NewShare{Generation: gen, Data: share, Digest: digest})
}

func (s *SQLStore) PutPendingShare(ctx context.Context, walletID string, sh NewShare) error {
	g, err := checkNewShare(sh)
	if err != nil {
		return err
	}
	gen, share, digest := sh.Generation, sh.Data, sh.Digest
	sealed, err := s.sealer.Seal(s.rand, shareBinding(walletID, gen), share)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		// The conditional update both checks and claims the pending slot;
		// the row lock it takes orders it against a concurrent Activate.
		res, err := tx.ExecContext(ctx,
			`UPDATE wallets SET pending_generation = $2
			 WHERE id = $1 AND pending_generation IS NULL AND active_generation = $3`,
			walletID, g, g-1)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			w, err := walletTx(ctx, tx, walletID)
			if err != nil {
				return err
			}
			if w.PendingGeneration != 0 {
				return fmt.Errorf("store: wallet %s has pending generation %d: %w", walletID, w.PendingGeneration, ErrPendingExists)
			}
			return fmt.Errorf("store: wallet %s: generation %d after active %d: %w", walletID, gen, w.ActiveGeneration, ErrGenerationMismatch)
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO server_shares (wallet_id, generation, state, sealed, digest, device_id, retires_others, created_at)
			 VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7)`,
			walletID, g, sealed, digest, sh.Device, retires(sh), s.stamp())
		return err
	})
	if err != nil {
		return wrap("put pending share", err)
	}
	return nil
}

func walletTx(ctx context.Context, tx *sql.Tx, id string) (Wallet, error) {
	w, err := scanWallet(tx.QueryRowContext(ctx, `SELECT `+walletColumns+` FROM wallets WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Wallet{}, fmt.Errorf("store: wallet %s: %w", id, ErrNotFound)
	}
	return w, err
}

// wrap adds context to errors from the database and passes the store's own
// errors through unchanged.
func wrap(op string, err error) error {
	for _, sentinel := range []error{ErrNotFound, ErrLocked, ErrPendingExists, ErrGenerationMismatch, ErrNotPending, ErrNoActiveShare, ErrPresignatureExists, ErrWalletExists} {
		if errors.Is(err, sentinel) {
			return err
		}
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

func (s *SQLStore) Activate(ctx context.Context, walletID string, gen uint64, digest []byte) error {
	g, err := generation(gen)
	if err != nil {
		return err
	}
	if len(digest) == 0 {
		return fmt.Errorf("store: wallet %s generation %d: no digest: %w", walletID, gen, ErrNotPending)
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		// Only one transaction can move pending_generation from gen to NULL:
		// on PostgreSQL a concurrent one waits for this row lock, then
		// re-checks the WHERE clause and updates nothing. The pending share
		// must be the one whose pair has this digest: a share another
		// session stored under the same generation number does not match.
		res, err := tx.ExecContext(ctx,
			`UPDATE wallets SET active_generation = $2, pending_generation = NULL
			 WHERE id = $1 AND pending_generation = $2 AND EXISTS (
				SELECT 1 FROM server_shares
				WHERE wallet_id = $1 AND generation = $2 AND state = 'pending' AND digest = $3)`,
			walletID, g, digest)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			if _, err := walletTx(ctx, tx, walletID); err != nil {
				return err
			}
			return fmt.Errorf("store: wallet %s generation %d with this digest: %w", walletID, gen, ErrNotPending)
		}
		var device string
		var others int64
		err = tx.QueryRowContext(ctx,
			`UPDATE server_shares SET state = 'active' WHERE wallet_id = $1 AND generation = $2 AND state = 'pending'
			 RETURNING device_id, retires_others`,
			walletID, g).Scan(&device, &others)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: internal error: wallet %s pending generation %d has no pending share", walletID, gen)
		}
		if err != nil {
			return err
		}
		// The older generations of the share's device go, or of every
		// device when the share retires the others (a recovery).
		// Presignatures would also go by the foreign key's cascade;
		// deleting them first says so without relying on it.
		older := ` WHERE wallet_id = $1 AND generation < $2 AND generation IN (
			SELECT generation FROM server_shares WHERE wallet_id = $1 AND device_id = $3)`
		args := []any{walletID, g, device}
		if others == 1 {
			older, args = ` WHERE wallet_id = $1 AND generation < $2`, args[:2]
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM presignatures`+older, args...); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM server_shares`+older, args...); err != nil {
			return err
		}
		if others == 1 {
			if _, err := tx.ExecContext(ctx,
				`DELETE FROM devices WHERE wallet_id = $1 AND device_id <> $2`, walletID, device); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO devices (wallet_id, device_id, created_at, last_used_at) VALUES ($1, $2, $3, 0)
			 ON CONFLICT (wallet_id, device_id) DO NOTHING`,
			walletID, device, s.stamp())
		return err
	})
	if err != nil {
		return wrap("activate", err)
	}
	return nil
}

func (s *SQLStore) DropPending(ctx context.Context, walletID string, gen uint64) error {
	g, err := generation(gen)
	if err != nil {
		return err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE wallets SET pending_generation = NULL
			 WHERE id = $1 AND pending_generation = $2 AND active_generation IS NOT NULL`,
			walletID, g)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			// Either the wallet never committed (delete it whole) or gen is
			// not pending.
			res, err := tx.ExecContext(ctx,
				`DELETE FROM wallets WHERE id = $1 AND pending_generation = $2 AND active_generation IS NULL`,
				walletID, g)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 1 {
				// The share goes by ON DELETE CASCADE; delete it explicitly
				// as well so nothing depends on the pragma being on.
				_, err := tx.ExecContext(ctx, `DELETE FROM server_shares WHERE wallet_id = $1`, walletID)
				return err
			}
			if _, err := walletTx(ctx, tx, walletID); err != nil {
				return err
			}
			return fmt.Errorf("store: wallet %s generation %d: %w", walletID, gen, ErrNotPending)
		}
		_, err = tx.ExecContext(ctx,
			`DELETE FROM server_shares WHERE wallet_id = $1 AND generation = $2 AND state = 'pending'`, walletID, g)
		return err
	})
	if err != nil {
		return wrap("drop pending", err)
	}
	return nil
}

func (s *SQLStore) Share(ctx context.Context, walletID string, gen uint64) (Share, error) {
	g, err := generation(gen)
	if err != nil {
		return Share{}, err
	}
	sh, err := s.openShare(walletID, s.db.QueryRowContext(ctx,
		`SELECT generation, state, sealed, digest, device_id FROM server_shares WHERE wallet_id = $1 AND generation = $2`, walletID, g))
	if errors.Is(err, sql.ErrNoRows) {
		return Share{}, fmt.Errorf("store: share of wallet %s generation %d: %w", walletID, gen, ErrNotFound)
	}
	return sh, err
}

// openShare scans a server_shares row (generation, state, sealed, digest,
// device_id) and opens the share.
func (s *SQLStore) openShare(walletID string, row *sql.Row) (Share, error) {
	var g int64
	var state, device string
	var sealed, digest []byte
	if err := row.Scan(&g, &state, &sealed, &digest, &device); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Share{}, err
		}
		return Share{}, fmt.Errorf("store: read share: %w", err)
	}
	gen := uint64(g)
	data, err := s.sealer.Open(shareBinding(walletID, gen), sealed)
	if err != nil {
		return Share{}, fmt.Errorf("store: open share of wallet %s generation %d: %w", walletID, gen, err)
	}
	return Share{WalletID: walletID, Generation: gen, State: ShareState(state), Data: data, Digest: digest, Device: device}, nil
}

func (s *SQLStore) DeviceShare(ctx context.Context, walletID, deviceID string) (Share, error) {
	sh, err := s.openShare(walletID, s.db.QueryRowContext(ctx,
		`SELECT generation, state, sealed, digest, device_id FROM server_shares
		 WHERE wallet_id = $1 AND device_id = $2 AND state = 'active'`, walletID, deviceID))
	if errors.Is(err, sql.ErrNoRows) {
		return Share{}, fmt.Errorf("store: device %q of wallet %s: %w", deviceID, walletID, ErrNotFound)
	}
	return sh, err
}

func (s *SQLStore) Devices(ctx context.Context, walletID string) ([]Device, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT d.device_id, d.created_at, d.last_used_at, s.generation, s.digest
		 FROM devices d JOIN server_shares s
		   ON s.wallet_id = d.wallet_id AND s.device_id = d.device_id AND s.state = 'active'
		 WHERE d.wallet_id = $1 ORDER BY d.created_at, d.device_id`, walletID)
	if err != nil {
		return nil, fmt.Errorf("store: read devices: %w", err)
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		var d Device
		var created, used, gen int64
		if err := rows.Scan(&d.ID, &created, &used, &gen, &d.Digest); err != nil {
			return nil, fmt.Errorf("store: read devices: %w", err)
		}
		d.CreatedAt, d.Generation = fromStamp(created), uint64(gen)
		if used != 0 {
			d.LastUsedAt = fromStamp(used)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read devices: %w", err)
	}
	return out, nil
}

func (s *SQLStore) RemoveDevice(ctx context.Context, walletID, deviceID string) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE wallet_id = $1 AND device_id = $2`, walletID, deviceID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("store: device %q of wallet %s: %w", deviceID, walletID, ErrNotFound)
		}
		// A pending generation of the device goes with it.
		if _, err := tx.ExecContext(ctx,
			`UPDATE wallets SET pending_generation = NULL WHERE id = $1 AND active_generation IS NOT NULL AND pending_generation IN (
				SELECT generation FROM server_shares WHERE wallet_id = $1 AND device_id = $2 AND state = 'pending')`,
			walletID, deviceID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM presignatures WHERE wallet_id = $1 AND generation IN (
				SELECT generation FROM server_shares WHERE wallet_id = $1 AND device_id = $2)`,
			walletID, deviceID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM server_shares WHERE wallet_id = $1 AND device_id = $2`, walletID, deviceID)
		return err
	})
	if err != nil {
		return wrap("remove device", err)
	}
	return nil
}

func (s *SQLStore) TouchDevice(ctx context.Context, walletID, deviceID string) error {
	if _, err := s.db.ExecContext(ctx,
		`UPDATE devices SET last_used_at = $3 WHERE wallet_id = $1 AND device_id = $2`,
		walletID, deviceID, s.stamp()); err != nil {
		return fmt.Errorf("store: touch device: %w", err)
	}
	return nil
}

func (s *SQLStore) PutPresignature(ctx context.Context, walletID string, gen uint64, id string, data []byte) error {
	g, err := generation(gen)
	if err != nil {
		return err
	}
	if id == "" {
		return errors.New("store: empty presignature id")
	}
	sealed, err := s.sealer.Seal(s.rand, presignatureBinding(walletID, gen, id), data)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	// Inserting through the active share row ties the presignature to that
	// share: the foreign key makes a concurrent Activate, which deletes the
	// share, either wait for this insert and then cascade to it, or win and
	// make this insert fail.
	res, err := s.db.ExecContext(ctx,
		`INSERT INTO presignatures (wallet_id, generation, id, sealed, created_at)
		 SELECT wallet_id, generation, $3, $4, $5 FROM server_shares
		 WHERE wallet_id = $1 AND generation = $2 AND state = 'active'`,
		walletID, g, id, sealed, s.stamp())
	switch {
	case sqldb.IsUniqueViolation(err):
		return fmt.Errorf("store: presignature %s: %w", id, ErrPresignatureExists)
	case sqldb.IsForeignKeyViolation(err):
		return fmt.Errorf("store: wallet %s generation %d: %w", walletID, gen, ErrNoActiveShare)
	case err != nil:
		return fmt.Errorf("store: put presignature: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: put presignature: %w", err)
	} else if n == 0 {
		return fmt.Errorf("store: wallet %s generation %d: %w", walletID, gen, ErrNoActiveShare)
	}
	return nil
}

func (s *SQLStore) TakePresignature(ctx context.Context, walletID string, gen uint64, id string) ([]byte, error) {
	g, err := generation(gen)
	if err != nil {
		return nil, err
	}
	// One statement deletes and returns: whichever caller's DELETE removes
	// the row gets it, and every other caller finds no row.
	var sealed []byte
	err = s.db.QueryRowContext(ctx,
		`DELETE FROM presignatures WHERE wallet_id = $1 AND generation = $2 AND id = $3 RETURNING sealed`,
		walletID, g, id).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: presignature %s of wallet %s generation %d: %w", id, walletID, gen, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: take presignature: %w", err)
	}
	data, err := s.sealer.Open(presignatureBinding(walletID, gen, id), sealed)
	if err != nil {
		return nil, fmt.Errorf("store: open presignature %s: %w", id, err)
	}
	return data, nil
}

func (s *SQLStore) CountPresignatures(ctx context.Context, walletID string, gen uint64) (int, error) {
	g, err := generation(gen)
	if err != nil {
		return 0, err
	}
	var n int
	err = s.db.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM presignatures WHERE wallet_id = $1 AND generation = $2`, walletID, g).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count presignatures: %w", err)
	}
	return n, nil
}

func (s *SQLStore) TrimPresignatures(ctx context.Context, walletID string, gen uint64, keep int, expired time.Time) error {
	g, err := generation(gen)
	if err != nil {
		return err
	}
	if keep < 0 {
		keep = 0
	}
	_, err = s.db.ExecContext(ctx,
		`DELETE FROM presignatures WHERE wallet_id = $1 AND generation = $2 AND (created_at < $3 OR id NOT IN (
			SELECT id FROM presignatures WHERE wallet_id = $1 AND generation = $2 AND created_at >= $3
			ORDER BY created_at DESC, id LIMIT $4))`,
		walletID, g, expired.UnixMilli(), keep)
	if err != nil {
		return fmt.Errorf("store: trim presignatures: %w", err)
	}
	return nil
}

func (s *SQLStore) TakeEvent(ctx context.Context, kind, subject string, now time.Time, limit int, window time.Duration) (time.Time, error) {
	if limit < 1 || window <= 0 {
		return time.Time{}, fmt.Errorf("store: rate limit of %d per %v", limit, window)
	}
	t, expired := now.UnixMilli(), now.Add(-window).UnixMilli()
	// One statement counts and checks, so two replicas taking the last event
	// of a window at once cannot both get it: the loser's update sees the
	// winner's count and its WHERE fails, which returns no row.
	var n int64
	err := s.db.QueryRowContext(ctx,
		`INSERT INTO rate_limits (kind, subject, window_start, events, locked_until) VALUES ($1, $2, $3, 1, 0)
		 ON CONFLICT (kind, subject) DO UPDATE SET
		   events = CASE WHEN rate_limits.window_start <= $4 THEN 1 ELSE rate_limits.events + 1 END,
		   window_start = CASE WHEN rate_limits.window_start <= $4 THEN $3 ELSE rate_limits.window_start END
		 WHERE rate_limits.window_start <= $4 OR rate_limits.events < $5
		 RETURNING events`,
		kind, subject, t, expired, int64(limit)).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		var start int64
		err := s.db.QueryRowContext(ctx,
			`SELECT window_start FROM rate_limits WHERE kind = $1 AND subject = $2`, kind, subject).Scan(&start)
		if err != nil {
			return time.Time{}, fmt.Errorf("store: read rate limit: %w", err)
		}
		return fromStamp(start).Add(window), fmt.Errorf("store: %s of %s: %w", kind, subject, ErrRateLimited)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("store: count %s: %w", kind, err)
	}
	return time.Time{}, nil
}

func (s *SQLStore) CountFailure(ctx context.Context, kind, subject string, now time.Time, limit int, window, lockout time.Duration) (time.Time, error) {
	if limit < 1 || window <= 0 || lockout <= 0 {
		return time.Time{}, fmt.Errorf("store: failure limit of %d per %v, lockout %v", limit, window, lockout)
	}
	t, expired, until := now.UnixMilli(), now.Add(-window).UnixMilli(), now.Add(lockout).UnixMilli()
	var locked bool
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var n int64
		err := tx.QueryRowContext(ctx,
			`INSERT INTO rate_limits (kind, subject, window_start, events, locked_until) VALUES ($1, $2, $3, 1, 0)
			 ON CONFLICT (kind, subject) DO UPDATE SET
			   events = CASE WHEN rate_limits.window_start <= $4 THEN 1 ELSE rate_limits.events + 1 END,
			   window_start = CASE WHEN rate_limits.window_start <= $4 THEN $3 ELSE rate_limits.window_start END
			 RETURNING events`,
			kind, subject, t, expired).Scan(&n)
		if err != nil || n < int64(limit) {
			return err
		}
		// The condition on events makes one of two concurrent failures
		// that both reached the limit start the lockout, not both.
		res, err := tx.ExecContext(ctx,
			`UPDATE rate_limits SET locked_until = $3, events = 0, window_start = $4
			 WHERE kind = $1 AND subject = $2 AND events >= $5`,
			kind, subject, until, t, int64(limit))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		locked = n == 1
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("store: count %s: %w", kind, err)
	}
	if !locked {
		return time.Time{}, nil
	}
	return fromStamp(until), nil
}

func (s *SQLStore) LockedUntil(ctx context.Context, kind, subject string, now time.Time) (time.Time, error) {
	var until int64
	err := s.db.QueryRowContext(ctx,
		`SELECT locked_until FROM rate_limits WHERE kind = $1 AND subject = $2`, kind, subject).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("store: read lockout: %w", err)
	}
	if until <= now.UnixMilli() {
		return time.Time{}, nil
	}
	return fromStamp(until), nil
}

// LockWallet takes the wallet's change lock for holder until now + lease. A
// lock whose lease has run out is free, so a holder that died without
// UnlockWallet blocks the wallet for one lease at most; the holder renews
// by calling LockWallet again.
func (s *SQLStore) LockWallet(ctx context.Context, walletID, holder string, lease time.Duration) error {
	if walletID == "" || holder == "" || lease <= 0 {
		return errors.New("store: a wallet lock needs a wallet, a holder and a lease")
	}
	now := s.now()
	// One statement takes a free or expired lock, renews our own, and
	// leaves anyone else's alone: both engines serialise it on the row.
	res, err := s.db.ExecContext(ctx,
		`INSERT INTO wallet_locks (wallet_id, holder, expires_at) VALUES ($1, $2, $3)
		 ON CONFLICT (wallet_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		 WHERE wallet_locks.holder = excluded.holder OR wallet_locks.expires_at <= $4`,
		walletID, holder, now.Add(lease).UnixMilli(), now.UnixMilli())
	if err != nil {
		return fmt.Errorf("store: lock wallet: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: lock wallet: %w", err)
	} else if n == 0 {
		return fmt.Errorf("store: wallet %s: %w", walletID, ErrLocked)
	}
	return nil
}

// UnlockWallet releases the lock if holder still holds it.
func (s *SQLStore) UnlockWallet(ctx context.Context, walletID, holder string) error {
	if _, err := s.db.ExecContext(ctx,
		`DELETE FROM wallet_locks WHERE wallet_id = $1 AND holder = $2`, walletID, holder); err != nil {
		return fmt.Errorf("store: unlock wallet: %w", err)
	}
	return nil
}

// claimSlot takes the slot for holder, or renews holder's lease of it: one
// statement, serialised on the row by both engines, as LockWallet.
func (s *SQLStore) claimSlot(ctx context.Context, clientID string, slot int, holder string, lease time.Duration, renew bool) (bool, error) {
	now := s.now()
	// A renewal never takes a slot whose lease ran out while another
	// holder has it: $5 is then below every expiry.
	free := now.UnixMilli()
	if renew {
		free = -1
	}
	res, err := s.db.ExecContext(ctx,
		`INSERT INTO session_slots (client_id, slot, holder, expires_at) VALUES ($1, $2, $3, $4)
		 ON CONFLICT (client_id, slot) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		 WHERE session_slots.holder = excluded.holder OR session_slots.expires_at <= $5`,
		clientID, int64(slot), holder, now.Add(lease).UnixMilli(), free)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (s *SQLStore) TakeSessionSlot(ctx context.Context, clientID, holder string, limit int, lease time.Duration) (int, error) {
	if clientID == "" || holder == "" || limit < 1 || lease <= 0 {
		return 0, errors.New("store: a session slot needs a client, a holder, a limit and a lease")
	}
	for slot := range limit {
		ok, err := s.claimSlot(ctx, clientID, slot, holder, lease, false)
		if err != nil {
			return 0, fmt.Errorf("store: take session slot: %w", err)
		}
		if ok {
			return slot, nil
		}
	}
	return 0, fmt.Errorf("store: client %s: %w", clientID, ErrNoSessionSlot)
}

func (s *SQLStore) RenewSessionSlot(ctx context.Context, clientID string, slot int, holder string, lease time.Duration) error {
	if clientID == "" || holder == "" || lease <= 0 {
		return errors.New("store: a session slot needs a client, a holder and a lease")
	}
	ok, err := s.claimSlot(ctx, clientID, slot, holder, lease, true)
	if err != nil {
		return fmt.Errorf("store: renew session slot: %w", err)
	}
	if !ok {
		return fmt.Errorf("store: client %s slot %d: %w", clientID, slot, ErrNoSessionSlot)
	}
	return nil
}

func (s *SQLStore) ReleaseSessionSlot(ctx context.Context, clientID string, slot int, holder string) error {
	if _, err := s.db.ExecContext(ctx,
		`DELETE FROM session_slots WHERE client_id = $1 AND slot = $2 AND holder = $3`, clientID, int64(slot), holder); err != nil {
		return fmt.Errorf("store: release session slot: %w", err)
	}
	return nil
}

// AppendAudit writes the record under an ID that sorts by time: the
// milliseconds, zero-padded, then this store's sequence number (records of
// one replica within one millisecond keep their order), then random bytes
// against collisions between replicas.
func (s *SQLStore) AppendAudit(ctx context.Context, r AuditRecord) error {
	if r.OrganizationID == "" || r.ClientID == "" || r.Action == "" || r.Outcome == "" {
		return errors.New("store: an audit record needs an organization, a client, an action and an outcome")
	}
	if r.Generation >= 1<<62 {
		return fmt.Errorf("store: invalid generation %d", r.Generation)
	}
	suffix := make([]byte, 8)
	if _, err := io.ReadFull(s.rand, suffix); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	at := s.stamp()
	id := fmt.Sprintf("%015d-%016x-%x", at, s.auditSeq.Add(1), suffix)
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO audit_log (id, org_id, client_id, wallet_id, generation, action, outcome, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		id, r.OrganizationID, r.ClientID, r.WalletID, int64(r.Generation), r.Action, r.Outcome, at)
	if err != nil {
		return fmt.Errorf("store: append audit record: %w", err)
	}
	return nil
}

func (s *SQLStore) AuditLog(ctx context.Context, orgID, after string, limit int) ([]AuditRecord, error) {
	if limit < 1 {
		return nil, fmt.Errorf("store: audit page of %d records", limit)
	}
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, org_id, client_id, wallet_id, generation, action, outcome, at FROM audit_log
		 WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3`, orgID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: read audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		var r AuditRecord
		var gen, at int64
		if err := rows.Scan(&r.ID, &r.OrganizationID, &r.ClientID, &r.WalletID, &gen, &r.Action, &r.Outcome, &at); err != nil {
			return nil, fmt.Errorf("store: read audit log: %w", err)
		}
		r.Generation, r.At = uint64(gen), fromStamp(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read audit log: %w", err)
	}
	return out, nil
}

func webhookBinding(orgID string) seal.Binding {
	return seal.Binding{Purpose: seal.PurposeWebhookSecret, WalletID: orgID}
}

func (s *SQLStore) SetWebhook(ctx context.Context, w Webhook) error {
	if w.OrganizationID == "" || w.URL == "" || len(w.Secret) < 16 {
		return errors.New("store: a webhook needs an organization, a URL and a secret of at least 16 bytes")
	}
	sealed, err := s.sealer.Seal(s.rand, webhookBinding(w.OrganizationID), w.Secret)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	_, err = s.db.ExecContext(ctx,
		`INSERT INTO webhooks (org_id, url, secret, created_at) VALUES ($1, $2, $3, $4)
		 ON CONFLICT (org_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, created_at = excluded.created_at`,
		w.OrganizationID, w.URL, sealed, s.stamp())
	if err != nil {
		return fmt.Errorf("store: set webhook: %w", err)
	}
	return nil
}

func (s *SQLStore) Webhook(ctx context.Context, orgID string) (Webhook, error) {
	w := Webhook{OrganizationID: orgID}
	var sealed []byte
	err := s.db.QueryRowContext(ctx, `SELECT url, secret FROM webhooks WHERE org_id = $1`, orgID).Scan(&w.URL, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return Webhook{}, fmt.Errorf("store: webhook of organization %s: %w", orgID, ErrNotFound)
	}
	if err != nil {
		return Webhook{}, fmt.Errorf("store: read webhook: %w", err)
	}
	if w.Secret, err = s.sealer.Open(webhookBinding(orgID), sealed); err != nil {
		return Webhook{}, fmt.Errorf("store: open webhook secret of organization %s: %w", orgID, err)
	}
	return w, nil
}

func (s *SQLStore) EnqueueEvent(ctx context.Context, orgID, event string, payload []byte) error {
	suffix := make([]byte, 8)
	if _, err := io.ReadFull(s.rand, suffix); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	now := s.stamp()
	id := fmt.Sprintf("%015d-%016x-%x", now, s.auditSeq.Add(1), suffix)
	// Only an organization with a webhook gets events.
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO webhook_outbox (id, org_id, event, payload, attempts, next_attempt, state, created_at)
		 SELECT $1, org_id, $3, $4, 0, $5, 'pending', $5 FROM webhooks WHERE org_id = $2`,
		id, orgID, event, payload, now)
	if err != nil {
		return fmt.Errorf("store: enqueue event: %w", err)
	}
	return nil
}

func (s *SQLStore) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Delivery, error) {
	if limit < 1 || lease <= 0 {
		return nil, errors.New("store: a claim needs a limit and a lease")
	}
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, next_attempt FROM webhook_outbox WHERE state = 'pending' AND next_attempt <= $1 ORDER BY id LIMIT $2`,
		now.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: read outbox: %w", err)
	}
	type due struct {
		id   string
		next int64
	}
	var candidates []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.next); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: read outbox: %w", err)
		}
		candidates = append(candidates, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read outbox: %w", err)
	}
	var out []Delivery
	for _, c := range candidates {
		// The conditional update claims the event: of two replicas that
		// read it due, one moves next_attempt and the other updates nothing.
		var d Delivery
		err := s.db.QueryRowContext(ctx,
			`UPDATE webhook_outbox SET next_attempt = $3 WHERE id = $1 AND next_attempt = $2 AND state = 'pending'
			 RETURNING id, org_id, event, payload, attempts`,
			c.id, c.next, now.Add(lease).UnixMilli()).Scan(&d.ID, &d.OrganizationID, &d.Event, &d.Payload, &d.Attempts)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: claim delivery: %w", err)
		}
		out = append(out, d)
	}
	return out, nil
}

func (s *SQLStore) DeliveryDone(ctx context.Context, id string, delivered bool, retryAt time.Time) error {
	state, next := "pending", retryAt.UnixMilli()
	switch {
	case delivered:
		state, next = "delivered", 0
	case retryAt.IsZero():
		state, next = "failed", 0
	}
	_, err := s.db.ExecContext(ctx,
		`UPDATE webhook_outbox SET state = $2, next_attempt = $3, attempts = attempts + 1 WHERE id = $1 AND state = 'pending'`,
		id, state, next)
	if err != nil {
		return fmt.Errorf("store: record delivery: %w", err)
	}
	return nil
}
