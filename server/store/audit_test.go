package store_test

import (
	"context"
	"testing"

	"github.com/duetwallet/duet/server/store"
)

func TestAuditLog(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		s, _ := openStore(t, source)
		for i, org := range []string{"o1", "o2", "o1", "o1"} {
			r := store.AuditRecord{OrganizationID: org, ClientID: "c", WalletID: "w", Generation: uint64(i + 1), Action: store.AuditSignature, Outcome: "ok"}
			if err := s.AppendAudit(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		page, err := s.AuditLog(ctx, "o1", "", 2)
		if err != nil || len(page) != 2 || page[0].Generation != 1 || page[1].Generation != 3 {
			t.Fatalf("first page: %+v %v", page, err)
		}
		rest, err := s.AuditLog(ctx, "o1", page[1].ID, 2)
		if err != nil || len(rest) != 1 || rest[0].Generation != 4 || rest[0].OrganizationID != "o1" || rest[0].At.IsZero() {
			t.Fatalf("second page: %+v %v", rest, err)
		}
		if end, err := s.AuditLog(ctx, "o1", rest[0].ID, 2); err != nil || len(end) != 0 {
			t.Fatalf("past the end: %+v %v", end, err)
		}
		other, err := s.AuditLog(ctx, "o2", "", 10)
		if err != nil || len(other) != 1 || other[0].Generation != 2 {
			t.Fatalf("another organization's log: %+v %v", other, err)
		}
		if err := s.AppendAudit(ctx, store.AuditRecord{OrganizationID: "o1", Action: store.AuditBackup, Outcome: "ok"}); err == nil {
			t.Fatal("a record without a client was written")
		}
		if all, _ := s.AuditLog(ctx, "o1", "", 10); len(all) != 3 {
			t.Fatalf("the refused record changed the log: %d records", len(all))
		}
	})
}
