package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// A Migration is one step of a component's schema. Its SQL may hold several
// statements separated by semicolons; {{blob}} stands for the dialect's byte
// string type.
type Migration struct {
	Version int
	SQL     string
}

// Migrate brings the tables of one component (such as "store" or
// "custodian") up to date: it applies, in order and each in its own
// transaction, the migrations whose version is not yet recorded in the
// schema_migrations table. Versions must start at 1 and increase by one.
//
// On PostgreSQL a transaction-level advisory lock keeps two replicas starting
// together from applying the same step twice; on SQLite the immediate
// transaction does the same.
func (db *DB) Migrate(ctx context.Context, component string, migrations []Migration) error {
	for i, m := range migrations {
		if m.Version != i+1 {
			panic(fmt.Sprintf("sqldb: internal error: %s migration %d has version %d", component, i, m.Version))
		}
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		component TEXT NOT NULL,
		version BIGINT NOT NULL,
		PRIMARY KEY (component, version))`); err != nil {
		// Two PostgreSQL replicas creating the table at once can collide on
		// the catalog; the loser finds the table there on its next try.
		if !IsUniqueViolation(err) {
			return fmt.Errorf("sqldb: create schema_migrations: %w", err)
		}
	}
	for _, m := range migrations {
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			if db.Dialect == Postgres {
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7306094812530)`); err != nil {
					return err
				}
			}
			var n int
			if err := tx.QueryRowContext(ctx,
				`SELECT COUNT(*) FROM schema_migrations WHERE component = $1 AND version = $2`,
				component, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			for _, stmt := range strings.Split(m.SQL, ";") {
				stmt = strings.TrimSpace(strings.ReplaceAll(stmt, "{{blob}}", db.Blob()))
				if stmt == "" {
					continue
				}
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%w in %q", err, stmt)
				}
			}
			_, err := tx.ExecContext(ctx,
				`INSERT INTO schema_migrations (component, version) VALUES ($1, $2)`,
				component, m.Version)
			return err
		})
		if err != nil {
			return fmt.Errorf("sqldb: migrate %s to version %d: %w", component, m.Version, err)
		}
	}
	return nil
}
