package custodian

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
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
)`}}

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

// A slot names one sealed item: a share (method "") or a backup.
type slot struct {
	table, where string
	args         []any
	binding      seal.Binding
}

func shareSlot(walletID string, gen int64) slot {
	return slot{
		table:   "custodian_shares",
		where:   "wallet_id = $1 AND generation = $2",
		args:    []any{walletID, gen},
		binding: shareBinding(walletID, uint64(gen)),
	}
}

func backupSlot(walletID, method string, gen int64) slot {
	return slot{
		table:   "custodian_backups",
		where:   "wallet_id = $1 AND generation = $2 AND method = $3",
		args:    []any{walletID, gen, method},
		binding: backupBinding(walletID, method, uint64(gen)),
	}
}

// put stores data in a slot unless the slot holds confirmed contents. Putting
// the same bytes again is a no-op, so an upload can be retried safely.
func (s *Store) put(ctx context.Context, orgID string, sl slot, data []byte) ([sha256.Size]byte, error) {
	digest := sha256.Sum256(data)
	sealed, err := s.sealer.Seal(s.rand, sl.binding, data)
	if err != nil {
		return digest, fmt.Errorf("custodian: %w", err)
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.claimWallet(ctx, tx, orgID, sl.binding.WalletID); err != nil {
			return err
		}
		old, confirmed, err := s.read(ctx, tx, sl)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		case confirmed && bytes.Equal(old, data):
			return nil
		case confirmed:
			return ErrConfirmed
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+sl.table+` WHERE `+sl.where, sl.args...); err != nil {
			return err
		}
		cols, vals := "wallet_id, generation, sealed, created_at", "$1, $2, $3, $4"
		args := []any{sl.args[0], sl.args[1], sealed, s.stamp()}
		if sl.table == "custodian_backups" {
			cols, vals = cols+", method", vals+", $5"
			args = append(args, sl.args[2])
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO `+sl.table+` (`+cols+`) VALUES (`+vals+`)`, args...)
		return err
	})
	if err != nil {
		return digest, wrap("store", err)
	}
	return digest, nil
}

// read opens the contents of a slot.
func (s *Store) read(ctx context.Context, q querier, sl slot) (data []byte, confirmed bool, err error) {
	var sealed []byte
	var confirmedAt sql.NullInt64
	err = q.QueryRowContext(ctx, `SELECT sealed, confirmed_at FROM `+sl.table+` WHERE `+sl.where, sl.args...).
		Scan(&sealed, &confirmedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, ErrNotFound
	}
	if err != nil {
		return nil, false, err
	}
	data, err = s.sealer.Open(sl.binding, sealed)
	if err != nil {
		return nil, false, fmt.Errorf("custodian: open %s of wallet %s: %w", sl.table, sl.binding.WalletID, err)
	}
	return data, confirmedAt.Valid, nil
}

// confirm marks a slot confirmed if digest is the SHA-256 of its contents.
func (s *Store) confirm(ctx context.Context, orgID string, sl slot, digest []byte, after func(tx *sql.Tx) error) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := ownWallet(ctx, tx, orgID, sl.binding.WalletID); err != nil {
			return err
		}
		data, confirmed, err := s.read(ctx, tx, sl)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		if subtle.ConstantTimeCompare(sum[:], digest) != 1 {
			return ErrDigestMismatch
		}
		if confirmed {
			return nil
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE `+sl.table+` SET confirmed_at = $`+fmt.Sprint(len(sl.args)+1)+` WHERE `+sl.where,
			append(slices.Clone(sl.args), s.stamp())...); err != nil {
			return err
		}
		if after != nil {
			return after(tx)
		}
		return nil
	})
	return wrap("confirm", err)
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

// PutShare stores b_C of backup generation gen for the wallet, and returns the
// SHA-256 digest the uploader confirms it with.
func (s *Store) PutShare(ctx context.Context, orgID, walletID string, gen uint64, share []byte) ([sha256.Size]byte, error) {
	g, err := generation(gen)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	if len(share) == 0 || len(share) > MaxShareSize {
		return [sha256.Size]byte{}, fmt.Errorf("%w: share of %d bytes", ErrInvalid, len(share))
	}
	return s.put(ctx, orgID, shareSlot(walletID, g), share)
}

// ConfirmShare confirms b_C of generation gen if digest is its SHA-256.
func (s *Store) ConfirmShare(ctx context.Context, orgID, walletID string, gen uint64, digest []byte) error {
	g, err := generation(gen)
	if err != nil {
		return err
	}
	return s.confirm(ctx, orgID, shareSlot(walletID, g), digest, nil)
}

// Share returns the confirmed b_C of generation gen.
func (s *Store) Share(ctx context.Context, orgID, walletID string, gen uint64) ([]byte, error) {
	g, err := generation(gen)
	if err != nil {
		return nil, err
	}
	if err := ownWallet(ctx, s.db, orgID, walletID); err != nil {
		return nil, err
	}
	data, confirmed, err := s.read(ctx, s.db, shareSlot(walletID, g))
	if err == nil && !confirmed {
		err = ErrNotFound
	}
	if err != nil {
		return nil, wrap("read share", err)
	}
	return data, nil
}

// PutBackup stores the user's ciphertext of b_D for a method and backup
// generation gen, and returns the SHA-256 digest to confirm it with.
func (s *Store) PutBackup(ctx context.Context, orgID, walletID, method string, gen uint64, ciphertext []byte) ([sha256.Size]byte, error) {
	g, err := generation(gen)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	if !ValidMethod(method) {
		return [sha256.Size]byte{}, fmt.Errorf("%w: unknown backup method %q", ErrInvalid, method)
	}
	if len(ciphertext) == 0 || len(ciphertext) > MaxCiphertextSize {
		return [sha256.Size]byte{}, fmt.Errorf("%w: ciphertext of %d bytes", ErrInvalid, len(ciphertext))
	}
	return s.put(ctx, orgID, backupSlot(walletID, method, g), ciphertext)
}

// ConfirmBackup confirms the ciphertext of a method and generation if digest
// is its SHA-256. Older generations of the same method are deleted then: the
// confirmed one supersedes them.
func (s *Store) ConfirmBackup(ctx context.Context, orgID, walletID, method string, gen uint64, digest []byte) error {
	g, err := generation(gen)
	if err != nil {
		return err
	}
	if !ValidMethod(method) {
		return fmt.Errorf("%w: unknown backup method %q", ErrInvalid, method)
	}
	return s.confirm(ctx, orgID, backupSlot(walletID, method, g), digest, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`DELETE FROM custodian_backups WHERE wallet_id = $1 AND method = $2 AND generation < $3`,
			walletID, method, g)
		return err
	})
}

// Backup returns the newest confirmed backup of a method.
func (s *Store) Backup(ctx context.Context, orgID, walletID, method string) (Backup, error) {
	if !ValidMethod(method) {
		return Backup{}, fmt.Errorf("%w: unknown backup method %q", ErrInvalid, method)
	}
	if err := ownWallet(ctx, s.db, orgID, walletID); err != nil {
		return Backup{}, err
	}
	var g int64
	err := s.db.QueryRowContext(ctx,
		`SELECT generation FROM custodian_backups
		 WHERE wallet_id = $1 AND method = $2 AND confirmed_at IS NOT NULL
		 ORDER BY generation DESC LIMIT 1`, walletID, method).Scan(&g)
	if errors.Is(err, sql.ErrNoRows) {
		return Backup{}, fmt.Errorf("custodian: %s backup of wallet %s: %w", method, walletID, ErrNotFound)
	}
	if err != nil {
		return Backup{}, fmt.Errorf("custodian: read backup: %w", err)
	}
	data, _, err := s.read(ctx, s.db, backupSlot(walletID, method, g))
	if err != nil {
		return Backup{}, wrap("read backup", err)
	}
	return Backup{Method: method, Generation: uint64(g), Ciphertext: data, Confirmed: true}, nil
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
	rows, err := s.db.QueryContext(ctx,
		`SELECT generation, confirmed_at IS NOT NULL FROM custodian_shares WHERE wallet_id = $1 ORDER BY generation`, walletID)
	if err != nil {
		return st, fmt.Errorf("custodian: read shares: %w", err)
	}
	confirmedShares := map[uint64]bool{}
	for rows.Next() {
		var sh ShareStatus
		if err := rows.Scan(&sh.Generation, &sh.Confirmed); err != nil {
			rows.Close()
			return st, fmt.Errorf("custodian: read shares: %w", err)
		}
		st.Shares = append(st.Shares, sh)
		confirmedShares[sh.Generation] = sh.Confirmed
	}
	if err := rows.Close(); err != nil {
		return st, fmt.Errorf("custodian: read shares: %w", err)
	}
	rows, err = s.db.QueryContext(ctx,
		`SELECT method, generation, confirmed_at IS NOT NULL FROM custodian_backups WHERE wallet_id = $1 ORDER BY method, generation`, walletID)
	if err != nil {
		return st, fmt.Errorf("custodian: read backups: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b Backup
		if err := rows.Scan(&b.Method, &b.Generation, &b.Confirmed); err != nil {
			return st, fmt.Errorf("custodian: read backups: %w", err)
		}
		st.Backups = append(st.Backups, b)
		if b.Confirmed && confirmedShares[b.Generation] && !slices.Contains(st.BackedUp, b.Method) {
			st.BackedUp = append(st.BackedUp, b.Method)
		}
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("custodian: read backups: %w", err)
	}
	return st, nil
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
