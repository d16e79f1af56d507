package sqldb

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestMigrateAppliesEachStepOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "t.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("database file mode %v, %v; want 0600", info.Mode().Perm(), err)
	}
	v1 := []Migration{{1, `CREATE TABLE a (id TEXT PRIMARY KEY, b {{blob}}); INSERT INTO a (id) VALUES ('x')`}}
	for range 2 {
		if err := db.Migrate(ctx, "test", v1); err != nil {
			t.Fatal(err)
		}
	}
	v2 := append(v1, Migration{2, `ALTER TABLE a ADD COLUMN c BIGINT`})
	if err := db.Migrate(ctx, "test", v2); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM a`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows after migrating thrice: %d, %v; want the insert applied once", n, err)
	}
	// Another component's versions are its own.
	if err := db.Migrate(ctx, "other", []Migration{{1, `CREATE TABLE b (id TEXT)`}}); err != nil {
		t.Fatal(err)
	}

	_, err = db.Exec(`INSERT INTO a (id) VALUES ('x')`)
	if !IsUniqueViolation(err) || IsForeignKeyViolation(err) {
		t.Errorf("duplicate key error %v not recognised", err)
	}
	bad := []Migration{{1, `CREATE TABLE c (id TEXT)`}, {2, `THIS IS NOT SQL`}}
	if err := db.Migrate(ctx, "bad", bad); err == nil {
		t.Fatal("broken migration succeeded")
	}
	// The good first step stays applied; the broken one left nothing.
	if _, err := db.Exec(`SELECT id FROM c`); err != nil {
		t.Errorf("step 1 of a migration whose step 2 failed was lost: %v", err)
	}
}

func TestMigrateRejectsMisnumberedSteps(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defer func() {
		if recover() == nil {
			t.Error("misnumbered migrations did not panic")
		}
	}()
	db.Migrate(context.Background(), "x", []Migration{{2, `SELECT 1`}})
}

func TestIsPostgresURL(t *testing.T) {
	for s, want := range map[string]bool{
		"postgres://u@h/db":   true,
		"postgresql://h/db":   true,
		"./data/duet.db":      false,
		"mysql://h/db":        false,
		"/tmp/postgres://odd": false,
	} {
		if got := IsPostgresURL(s); got != want {
			t.Errorf("IsPostgresURL(%q) = %v", s, got)
		}
	}
}
