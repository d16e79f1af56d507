package custodian

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/internal/sqldb"
	"github.com/duetwallet/duet/server/seal"
)

var migrations = []sqldb.Migration{{Version: 1, SQL: `
CREATE TABLE custodian_accounts (
	org_id TEXT PRIMARY KEY,
	key_hash {{blob}} NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE TABLE custodian_wallets (
	wallet_id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES custodian_accounts (org_id),
	eject_authorized_at BIGINT,
	created_at BIGINT NOT NULL
);
CREATE TABLE custodian_shares (
	wallet_id TEXT NOT NULL REFERENCES custodian_wallets (wallet_id) ON DELETE CASCADE,
	generation BIGINT NOT NULL,
	sealed {{blob}} NOT NULL,
	confirmed_at BIGINT,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (wallet_id, generation)
);
CREATE TABLE custodian_backups (
	wallet_id TEXT NOT NULL REFERENCES custodian_wallets (wallet_id) ON DELETE CASCADE,
	method TEXT NOT NULL,
	generation BIGINT NOT NULL,
	sealed {{blob}} NOT NULL,
	confirmed_at BIGINT,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (wallet_id, method, generation)
)`}, {Version: 2, SQL: `
ALTER TABLE custodian_shares ADD COLUMN method TEXT;
ALTER TABLE custodian_shares ADD COLUMN pair_digest {{blob}};
ALTER TABLE custodian_backups ADD COLUMN pair_digest {{blob}}`}, {Version: 3, SQL: `
ALTER TABLE custodian_backups ADD COLUMN verified_at BIGINT`}}

// A Store is the custodian's own storage. Every query is scoped to the
// organization the caller authenticated as: one organization's wallets are
// invisible to another.
type Store struct {
	db     *sqldb.DB
	sealer *seal.Sealer
	rand   io.Reader
	now    func() time.Time
}

// Config holds what a Store depends on.
type Config struct {
	DB *sqldb.DB
	// Sealer seals shares and ciphertexts under the custodian's own key,
	// never the server party's master key.
	Sealer *seal.Sealer
	// Rand is the source of keys and nonces; crypto/rand if nil.
	Rand io.Reader
	// Now is the clock for timestamps; time.Now if nil.
	Now func() time.Time
}

// OpenStore applies the custodian's migrations to cfg.DB and returns the store.
func OpenStore(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.DB == nil || cfg.Sealer == nil {
		return nil, errors.New("custodian: OpenStore needs a DB and a Sealer")
	}
	s := &Store{db: cfg.DB, sealer: cfg.Sealer, rand: cfg.Rand, now: cfg.Now}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.db.Migrate(ctx, "custodian", migrations); err != nil {
		return nil, fmt.Errorf("custodian: %w", err)
	}
	return s, nil
}

func (s *Store) stamp() int64 { return s.now().UnixMilli() }

// CreateAccount opens an account for the organization and returns the API
// key with which the server party acts for it. Only the key's hash is kept.
func (s *Store) CreateAccount(ctx context.Context, orgID string) (string, error) {
	key, hash, err := apikey.New(s.rand, apikey.Custodian, orgID)
	if err != nil {
		return "", fmt.Errorf("custodian: %w", err)
	}
	if _, err := s.db.ExecContext(ctx,
		`INSERT INTO custodian_accounts (org_id, key_hash, created_at) VALUES ($1, $2, $3)`,
		orgID, hash[:], s.stamp()); err != nil {
		return "", fmt.Errorf("custodian: create account: %w", err)
	}
	return key, nil
}

// Authenticate returns the organization a custodian API key belongs to, or
// ErrUnauthenticated.
func (s *Store) Authenticate(ctx context.Context, key string) (orgID string, err error) {
	id, err := apikey.Parse(apikey.Custodian, key)
	if err != nil {
		return "", ErrUnauthenticated
	}
	var hash []byte
	err = s.db.QueryRowContext(ctx, `SELECT key_hash FROM custodian_accounts WHERE org_id = $1`, id).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrUnauthenticated
	}
	if err != nil {
		return "", fmt.Errorf("custodian: read account: %w", err)
	}
	if !apikey.Verify(key, hash) {
		return "", ErrUnauthenticated
	}
	return id, nil
}

func generation(gen uint64) (int64, error) {
	if gen == 0 || gen >= 1<<62 {
		return 0, fmt.Errorf("%w: generation %d", ErrInvalid, gen)
	}
	return int64(gen), nil
}

// claimWallet makes sure the organization owns the wallet's record, creating
// it on first use. A wallet another organization owns is reported as not
// found, so its existence does not leak.
func (s *Store) claimWallet(ctx context.Context, tx *sql.Tx, orgID, walletID string) error {
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO custodian_wallets (wallet_id, org_id, created_at) VALUES ($1, $2, $3)
		 ON CONFLICT (wallet_id) DO NOTHING`,
		walletID, orgID, s.stamp()); err != nil {
		return err
	}
	return ownWallet(ctx, tx, orgID, walletID)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func ownWallet(ctx context.Context, q querier, orgID, walletID string) error {
	var owner string
	err := q.QueryRowContext(ctx, `SELECT org_id FROM custodian_wallets WHERE wallet_id = $1`, walletID).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) || err == nil && owner != orgID {
		return fmt.Errorf("custodian: wallet %s: %w", walletID, ErrNotFound)
	}
	return err
}

func shareBinding(walletID string, gen uint64) seal.Binding {
	return seal.Binding{Purpose: seal.PurposeCustodianShare, WalletID: walletID, Generation: gen}
}

func backupBinding(walletID, method string, gen uint64) seal.Binding {
	return seal.Binding{Purpose: seal.PurposeBackup, WalletID: walletID, Generation: gen, Item: method}
}

// lockWallet takes the row lock of the wallet's record for the rest of the
// transaction, so that two backups of one wallet allocate generations and
// confirm pairs one after the other. On SQLite the immediate transaction
// already holds the database's write lock.
func lockWallet(ctx context.Context, tx *sql.Tx, walletID string) error {
	_, err := tx.ExecContext(ctx, `UPDATE custodian_wallets SET org_id = org_id WHERE wallet_id = $1`, walletID)
	return err
}

func validPair(method string, pairDigest []byte) error {
	if !ValidMethod(method) {
		return fmt.Errorf("%w: unknown backup method %q", ErrInvalid, method)
	}
	if len(pairDigest) != PairDigestSize {
		return fmt.Errorf("%w: pair digest of %d bytes", ErrInvalid, len(pairDigest))
	}
	return nil
}

// StartBackup stores b_C of a new backup pair for a method, unconfirmed, and
// returns the backup generation the custodian gave it: one above every
// generation the wallet has had. pairDigest is the digest of the pair's
// public data. The method's previous backup stays in force until
// CompleteBackup confirms this one.
func (s *Store) StartBackup(ctx context.Context, orgID, walletID, method string, share, pairDigest []byte) (uint64, error) {
	if err := validPair(method, pairDigest); err != nil {
		return 0, err
	}
	if len(share) == 0 || len(share) > MaxShareSize {
		return 0, fmt.Errorf("%w: share of %d bytes", ErrInvalid, len(share))
	}
	var gen uint64
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.claimWallet(ctx, tx, orgID, walletID); err != nil {
			return err
		}
		if err := lockWallet(ctx, tx, walletID); err != nil {
			return err
		}
		var last int64
		if err := tx.QueryRowContext(ctx,
			`SELECT COALESCE(MAX(generation), 0) FROM (
				SELECT generation FROM custodian_shares WHERE wallet_id = $1
				UNION ALL SELECT generation FROM custodian_backups WHERE wallet_id = $1) AS g`,
			walletID).Scan(&last); err != nil {
			return err
		}
		g, err := generation(uint64(last) + 1)
		if err != nil {
			return err
		}
		sealed, err := s.sealer.Seal(s.rand, shareBinding(walletID, uint64(g)), share)
		if err != nil {
			return fmt.Errorf("custodian: %w", err)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO custodian_shares (wallet_id, generation, method, pair_digest, sealed, created_at)
			 VALUES ($1, $2, $3, $4, $5, $6)`,
			walletID, g, method, pairDigest, sealed, s.stamp()); err != nil {
			return err
		}
		gen = uint64(g)
		return nil
	})
	if err != nil {
		return 0, wrap("start backup", err)
	}
	return gen, nil
}

// CompleteBackup stores the user's ciphertext of b_D for the pair that
// StartBackup began as generation gen, and confirms the pair, but only if
// the pair digest is the one b_C was stored with. In the same transaction it
// deletes the method's older custodian shares and ciphertexts, confirmed or
// left over from interrupted backups: the new pair supersedes them. A pair
// that a newer confirmed one of the method already superseded is gone, and
// completing it fails with ErrNotFound.
func (s *Store) CompleteBackup(ctx context.Context, orgID, walletID, method string, gen uint64, ciphertext, pairDigest []byte) error {
	g, err := generation(gen)
	if err != nil {
		return err
	}
	if err := validPair(method, pairDigest); err != nil {
		return err
	}
	if len(ciphertext) == 0 || len(ciphertext) > MaxCiphertextSize {
		return fmt.Errorf("%w: ciphertext of %d bytes", ErrInvalid, len(ciphertext))
	}
	sealed, err := s.sealer.Seal(s.rand, backupBinding(walletID, method, gen), ciphertext)
	if err != nil {
		return fmt.Errorf("custodian: %w", err)
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := ownWallet(ctx, tx, orgID, walletID); err != nil {
			return err
		}
		if err := lockWallet(ctx, tx, walletID); err != nil {
			return err
		}
		// The state is in the WHERE clause: only an unconfirmed b_C of this
		// method, generation and pair is confirmed here, whatever another
		// transaction committed since this one began.
		now := s.stamp()
		res, err := tx.ExecContext(ctx,
			`UPDATE custodian_shares SET confirmed_at = $5
			 WHERE wallet_id = $1 AND generation = $2 AND method = $3 AND pair_digest = $4 AND confirmed_at IS NULL`,
			walletID, g, method, pairDigest, now)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return s.completedAlready(ctx, tx, walletID, method, g, ciphertext, pairDigest)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO custodian_backups (wallet_id, method, generation, pair_digest, sealed, confirmed_at, created_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $6)`,
			walletID, method, g, pairDigest, sealed, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM custodian_backups WHERE wallet_id = $1 AND method = $2 AND generation < $3`,
			walletID, method, g); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			`DELETE FROM custodian_shares WHERE wallet_id = $1 AND (method = $2 OR method IS NULL) AND generation < $3`,
			walletID, method, g)
		return err
	})
	return wrap("complete backup", err)
}

// completedAlready explains why CompleteBackup confirmed nothing: the same
// completion again is a no-op; anything else is an error that names the
// cause.
func (s *Store) completedAlready(ctx context.Context, tx *sql.Tx, walletID, method string, g int64, ciphertext, pairDigest []byte) error {
	var storedMethod sql.NullString
	var storedDigest []byte
	var confirmed sql.NullInt64
	err := tx.QueryRowContext(ctx,
		`SELECT method, pair_digest, confirmed_at FROM custodian_shares WHERE wallet_id = $1 AND generation = $2`,
		walletID, g).Scan(&storedMethod, &storedDigest, &confirmed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("custodian: %s backup generation %d of wallet %s is not in progress: %w", method, g, walletID, ErrNotFound)
	case err != nil:
		return err
	case storedMethod.String != method || !bytes.Equal(storedDigest, pairDigest):
		return fmt.Errorf("custodian: %s backup generation %d of wallet %s: %w", method, g, walletID, ErrDigestMismatch)
	}
	var sealed []byte
	err = tx.QueryRowContext(ctx,
		`SELECT sealed FROM custodian_backups WHERE wallet_id = $1 AND method = $2 AND generation = $3`,
		walletID, method, g).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("custodian: %s backup generation %d of wallet %s: %w", method, g, walletID, ErrNotFound)
	}
	if err != nil {
		return err
	}
	old, err := s.sealer.Open(backupBinding(walletID, method, uint64(g)), sealed)
	if err != nil {
		return fmt.Errorf("custodian: open backup of wallet %s: %w", walletID, err)
	}
	if !bytes.Equal(old, ciphertext) {
		return ErrConfirmed
	}
	return nil
}

// wrap adds context to database errors and passes the package's own errors,
// and the seal errors that already name what failed, through unchanged.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	for _, known := range []error{ErrNotFound, ErrConfirmed, ErrDigestMismatch, ErrEjectNotAuthorized, ErrInvalid, seal.ErrAuthentication, seal.ErrWrongKey} {
		if errors.Is(err, known) {
			return err
		}
	}
	return fmt.Errorf("custodian: %s: %w", op, err)
}

// Share returns the confirmed b_C of backup generation gen.
func (s *Store) Share(ctx context.Context, orgID, walletID string, gen uint64) ([]byte, error) {
	g, err := generation(gen)
	if err != nil {
		return nil, err
	}
	if err := ownWallet(ctx, s.db, orgID, walletID); err != nil {
		return nil, err
	}
	var sealed []byte
	err = s.db.QueryRowContext(ctx,
		`SELECT sealed FROM custodian_shares WHERE wallet_id = $1 AND generation = $2 AND confirmed_at IS NOT NULL`,
		walletID, g).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("custodian: share generation %d of wallet %s: %w", gen, walletID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("custodian: read share: %w", err)
	}
	data, err := s.sealer.Open(shareBinding(walletID, gen), sealed)
	if err != nil {
		return nil, fmt.Errorf("custodian: open share of wallet %s: %w", walletID, err)
	}
	return data, nil
}

// pairs is the query of a wallet's complete backup pairs: a confirmed
// ciphertext and a confirmed b_C of the same method and generation, stored
// with the same pair digest.
const pairs = `FROM custodian_backups b JOIN custodian_shares s
	ON s.wallet_id = b.wallet_id AND s.generation = b.generation AND s.method = b.method
	WHERE b.wallet_id = $1 AND b.confirmed_at IS NOT NULL AND s.confirmed_at IS NOT NULL
	AND b.pair_digest = s.pair_digest`

// Backup returns the newest complete backup pair of a method: its
// ciphertext, its generation (that of b_C) and its pair digest.
func (s *Store) Backup(ctx context.Context, orgID, walletID, method string) (Backup, error) {
	if !ValidMethod(method) {
		return Backup{}, fmt.Errorf("%w: unknown backup method %q", ErrInvalid, method)
	}
	if err := ownWallet(ctx, s.db, orgID, walletID); err != nil {
		return Backup{}, err
	}
	var g int64
	var sealed, digest []byte
	err := s.db.QueryRowContext(ctx,
		`SELECT b.generation, b.sealed, b.pair_digest `+pairs+` AND b.method = $2
		 ORDER BY b.generation DESC LIMIT 1`, walletID, method).Scan(&g, &sealed, &digest)
	if errors.Is(err, sql.ErrNoRows) {
		return Backup{}, fmt.Errorf("custodian: %s backup of wallet %s: %w", method, walletID, ErrNotFound)
	}
	if err != nil {
		return Backup{}, fmt.Errorf("custodian: read backup: %w", err)
	}
	data, err := s.sealer.Open(backupBinding(walletID, method, uint64(g)), sealed)
	if err != nil {
		return Backup{}, fmt.Errorf("custodian: open backup of wallet %s: %w", walletID, err)
	}
	return Backup{Method: method, Generation: uint64(g), Ciphertext: data, PairDigest: digest, Confirmed: true}, nil
}

// Status reports what the custodian holds for the wallet. A wallet it holds
// nothing for has an empty status rather than ErrNotFound, unless another
// organization owns it.
func (s *Store) Status(ctx context.Context, orgID, walletID string) (WalletStatus, error) {
	st := WalletStatus{WalletID: walletID, Shares: []ShareStatus{}, Backups: []Backup{}, BackedUp: []string{}}
	var owner string
	var eject sql.NullInt64
	err := s.db.QueryRowContext(ctx,
		`SELECT org_id, eject_authorized_at FROM custodian_wallets WHERE wallet_id = $1`, walletID).Scan(&owner, &eject)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("custodian: read wallet: %w", err)
	}
	if owner != orgID {
		return WalletStatus{}, fmt.Errorf("custodian: wallet %s: %w", walletID, ErrNotFound)
	}
	if eject.Valid {
		t := time.UnixMilli(eject.Int64).UTC()
		st.EjectAuthorized, st.EjectAuthorizedAt = true, &t
	}
	err = s.scan(ctx, func(rows *sql.Rows) error {
		var sh ShareStatus
		var method sql.NullString
		if err := rows.Scan(&sh.Generation, &method, &sh.Confirmed); err != nil {
			return err
		}
		sh.Method = method.String
		st.Shares = append(st.Shares, sh)
		return nil
	}, `SELECT generation, method, confirmed_at IS NOT NULL FROM custodian_shares WHERE wallet_id = $1 ORDER BY generation`, walletID)
	if err != nil {
		return st, fmt.Errorf("custodian: read shares: %w", err)
	}
	err = s.scan(ctx, func(rows *sql.Rows) error {
		var b Backup
		var verified sql.NullInt64
		if err := rows.Scan(&b.Method, &b.Generation, &b.Confirmed, &verified); err != nil {
			return err
		}
		if verified.Valid {
			t := time.UnixMilli(verified.Int64).UTC()
			b.VerifiedAt = &t
		}
		st.Backups = append(st.Backups, b)
		return nil
	}, `SELECT method, generation, confirmed_at IS NOT NULL, verified_at FROM custodian_backups WHERE wallet_id = $1 ORDER BY method, generation`, walletID)
	if err != nil {
		return st, fmt.Errorf("custodian: read backups: %w", err)
	}
	err = s.scan(ctx, func(rows *sql.Rows) error {
		var m string
		if err := rows.Scan(&m); err != nil {
			return err
		}
		st.BackedUp = append(st.BackedUp, m)
		return nil
	}, `SELECT DISTINCT b.method `+pairs+` ORDER BY b.method`, walletID)
	if err != nil {
		return st, fmt.Errorf("custodian: read backup pairs: %w", err)
	}
	return st, nil
}

func (s *Store) scan(ctx context.Context, row func(*sql.Rows) error, query string, args ...any) error {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// AuthorizeEject records the organization's decision to let the user eject
// the wallet's private key. It cannot be taken back.
func (s *Store) AuthorizeEject(ctx context.Context, orgID, walletID string) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.claimWallet(ctx, tx, orgID, walletID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`UPDATE custodian_wallets SET eject_authorized_at = $2 WHERE wallet_id = $1 AND eject_authorized_at IS NULL`,
			walletID, s.stamp())
		return err
	})
	return wrap("authorize eject", err)
}

// EjectShare returns the confirmed b_C of generation gen for an eject, which
// the organization must have authorised.
func (s *Store) EjectShare(ctx context.Context, orgID, walletID string, gen uint64) ([]byte, error) {
	var owner string
	var eject sql.NullInt64
	err := s.db.QueryRowContext(ctx,
		`SELECT org_id, eject_authorized_at FROM custodian_wallets WHERE wallet_id = $1`, walletID).Scan(&owner, &eject)
	if errors.Is(err, sql.ErrNoRows) || err == nil && owner != orgID {
		return nil, fmt.Errorf("custodian: wallet %s: %w", walletID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("custodian: read wallet: %w", err)
	}
	if !eject.Valid {
		return nil, fmt.Errorf("custodian: wallet %s: %w", walletID, ErrEjectNotAuthorized)
	}
	return s.Share(ctx, orgID, walletID, gen)
}

// RemoveMethod deletes every backup of a method for the wallet: the user's
// ciphertexts and the custodian's shares, confirmed or not. The wallet's
// other methods are untouched. Removing a method that has nothing stored is
// not an error.
func (s *Store) RemoveMethod(ctx context.Context, orgID, walletID, method string) error {
	if !ValidMethod(method) {
		return fmt.Errorf("%w: unknown backup method %q", ErrInvalid, method)
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := ownWallet(ctx, tx, orgID, walletID); err != nil {
			return err
		}
		if err := lockWallet(ctx, tx, walletID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM custodian_backups WHERE wallet_id = $1 AND method = $2`, walletID, method); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM custodian_shares WHERE wallet_id = $1 AND method = $2`, walletID, method)
		return err
	})
	return wrap("remove backup method", err)
}

// RecordVerified records that a backup drill proved the confirmed pair of
// generation gen of a method whole. It is ErrNotFound if that pair is not
// the method's confirmed backup.
func (s *Store) RecordVerified(ctx context.Context, orgID, walletID, method string, gen uint64) error {
	if !ValidMethod(method) {
		return fmt.Errorf("%w: unknown backup method %q", ErrInvalid, method)
	}
	g, err := generation(gen)
	if err != nil {
		return err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := ownWallet(ctx, tx, orgID, walletID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx,
			`UPDATE custodian_backups SET verified_at = $4 WHERE wallet_id = $1 AND method = $2 AND generation = $3 AND confirmed_at IS NOT NULL`,
			walletID, method, g, s.stamp())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("custodian: %s backup generation %d of wallet %s: %w", method, gen, walletID, ErrNotFound)
		}
		return nil
	})
	return wrap("record verified", err)
}
