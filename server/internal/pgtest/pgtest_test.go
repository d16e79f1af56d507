package pgtest

import (
	"context"
	"database/sql"
	"strings"
	"testing"
)

func TestMissingBinariesFail(t *testing.T) {
	t.Setenv("DUET_PG_BIN", t.TempDir())
	if _, err := Start(); err == nil || !strings.Contains(err.Error(), "pg_ctl") {
		t.Fatalf("Start with no binaries: %v, want an error naming pg_ctl", err)
	}
}

func TestStartAndNewDatabase(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	}()
	ctx := context.Background()
	a, err := s.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.NewDatabase(ctx)
	if a == b {
		t.Fatal("two databases with one URL")
	}
	db, err := sql.Open("pgx", a)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (x INT)`); err != nil {
		t.Fatal(err)
	}
	// The second database does not see the first one's table.
	db2, err := sql.Open("pgx", b)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if _, err := db2.ExecContext(ctx, `SELECT x FROM t`); err == nil {
		t.Fatal("a table of one test database is visible in another")
	}
	if _, err := db2.ExecContext(ctx, `CREATE TABLE t (y TEXT)`); err != nil {
		t.Fatalf("same table name in the second database: %v", err)
	}
	var user string
	if err := db.QueryRowContext(ctx, `SELECT current_user`).Scan(&user); err != nil || user != "postgres" {
		t.Fatalf("current_user = %q, %v", user, err)
	}
}
