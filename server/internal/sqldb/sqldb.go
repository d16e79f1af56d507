// Package sqldb opens the Duet server's database, SQLite or PostgreSQL, and
// applies schema migrations. The stores above it write one dialect of SQL
// (numbered $n parameters, BIGINT, TEXT, RETURNING) that both engines accept;
// the few differences are named here.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// A Dialect is the SQL engine behind a DB.
type Dialect int

const (
	SQLite Dialect = iota + 1
	Postgres
)

func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "unknown"
}

// A DB is a database handle that knows its dialect.
type DB struct {
	*sql.DB
	Dialect Dialect
}

// IsPostgresURL reports whether source names a PostgreSQL database rather
// than an SQLite file.
func IsPostgresURL(source string) bool {
	return strings.HasPrefix(source, "postgres://") || strings.HasPrefix(source, "postgresql://")
}

// Open opens source: a postgres:// or postgresql:// URL for PostgreSQL,
// otherwise the path of an SQLite database file, created if missing.
func Open(ctx context.Context, source string) (*DB, error) {
	if IsPostgresURL(source) {
		return openPostgres(ctx, source)
	}
	return openSQLite(ctx, source)
}

func openPostgres(ctx context.Context, source string) (*DB, error) {
	db, err := sql.Open("pgx", source)
	if err != nil {
		return nil, fmt.Errorf("sqldb: open postgres: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqldb: connect to postgres: %w", err)
	}
	return &DB{DB: db, Dialect: Postgres}, nil
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqldb: empty database path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqldb: %w", err)
	}
	q := url.Values{}
	// Every connection enforces foreign keys (presignatures die with their
	// share) and waits for a busy database rather than failing at once.
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	// BEGIN IMMEDIATE takes the write lock when a transaction starts. A
	// deferred transaction that reads and then writes can fail with
	// SQLITE_BUSY when another connection wrote in between, and busy_timeout
	// cannot help it.
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Opaque: path, RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("sqldb: open sqlite: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqldb: open sqlite %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqldb: %w", err)
	}
	return &DB{DB: db, Dialect: SQLite}, nil
}

// Blob is the column type for byte strings.
func (db *DB) Blob() string {
	if db.Dialect == Postgres {
		return "BYTEA"
	}
	return "BLOB"
}

// Tx runs fn in a transaction and commits it if fn returns nil.
func (db *DB) Tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// IsUniqueViolation reports whether err is a unique or primary key
// constraint violation.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		c := liteErr.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// IsForeignKeyViolation reports whether err is a foreign key violation.
func IsForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23503"
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		return liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}
