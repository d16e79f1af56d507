package store

import (
	"context"

	"github.com/duetwallet/duet/server/internal/sqldb"
)

// MigrateTo applies the store's migrations up to version, as an older
// server did.
func MigrateTo(ctx context.Context, db *sqldb.DB, version int) error {
	return db.Migrate(ctx, "store", migrations[:version])
}
