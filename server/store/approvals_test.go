package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/duetwallet/duet/server/store"
)

func request(walletID, id string, at time.Time) store.Approval {
	return store.Approval{
		ID: id, WalletID: walletID, Device: devB, SID: bytes.Repeat([]byte{1}, 64), Request: []byte("message of " + id),
		CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute),
	}
}

func answer() store.Approval {
	return store.Approval{ApproverDevice: devA, ApproverGeneration: 1, Delta: []byte("secret delta 32 bytes long......"), Response: []byte("response"), Ciphertext: []byte("sealed share")}
}

// TestApprovalSteps walks a request through its states, on both backends
// and from two stores on one database (two replicas): each conditional step
// wins once, a newer request replaces a pending one, an expired one cannot
// be approved, and δ is sealed at rest.
func TestApprovalSteps(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		s, db := openStore(t, source)
		s2, _ := openStore(t, source)
		w := newDeviceWallet(t, s, devA)
		now := time.Now()
		if _, err := s.PendingApproval(ctx, w.ID, now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("pending with none: %v", err)
		}
		if err := s.PutApproval(ctx, request(w.ID, "r1", now)); err != nil {
			t.Fatal(err)
		}
		got, err := s2.PendingApproval(ctx, w.ID, now)
		if err != nil || got.ID != "r1" || got.State != store.ApprovalPending || got.Device != devB || string(got.Request) != "message of r1" {
			t.Fatalf("pending: %+v %v", got, err)
		}
		// A newer request replaces it.
		if err := s2.PutApproval(ctx, request(w.ID, "r2", now.Add(time.Second))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetApproval(ctx, "r1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("replaced request: %v", err)
		}
		// Not after its expiry.
		if err := s.Approve(ctx, "r2", now.Add(6*time.Minute), answer()); !errors.Is(err, store.ErrApprovalState) {
			t.Fatalf("approving an expired request: %v", err)
		}
		if _, err := s.PendingApproval(ctx, w.ID, now.Add(6*time.Minute)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an expired request is pending: %v", err)
		}
		if err := s.Approve(ctx, "r2", now, answer()); err != nil {
			t.Fatal(err)
		}
		if err := s2.Approve(ctx, "r2", now, answer()); !errors.Is(err, store.ErrApprovalState) {
			t.Fatalf("approving twice: %v", err)
		}
		got, err = s2.GetApproval(ctx, "r2")
		if err != nil || got.State != store.ApprovalApproved || !bytes.Equal(got.Delta, answer().Delta) || got.ApproverDevice != devA || got.ApproverGeneration != 1 || string(got.Ciphertext) != "sealed share" {
			t.Fatalf("approved: %+v %v", got, err)
		}
		var sealed []byte
		if err := db.QueryRowContext(ctx, `SELECT delta FROM device_approvals WHERE id = 'r2'`).Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(sealed, []byte("secret delta")) {
			t.Fatal("δ stored in the clear")
		}
		// An approved request is not replaced by a newer one.
		if err := s.PutApproval(ctx, request(w.ID, "r3", now.Add(2*time.Second))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetApproval(ctx, "r2"); err != nil {
			t.Fatalf("a newer request deleted an approved one: %v", err)
		}
		if err := s.SetApprovalState(ctx, "r2", store.ApprovalApproved, store.ApprovalOpened); err != nil {
			t.Fatal(err)
		}
		if got, err := s2.GetApproval(ctx, "r2"); err != nil || got.State != store.ApprovalOpened || got.Delta != nil || got.Ciphertext != nil {
			t.Fatalf("an opened approval keeps δ or the sealed share: %+v %v", got, err)
		}
		if err := s2.SetApprovalState(ctx, "r2", store.ApprovalApproved, store.ApprovalFailed); !errors.Is(err, store.ErrApprovalState) {
			t.Fatalf("moving on from a state it left: %v", err)
		}
		if err := s.DeleteApproval(ctx, "r2"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetApprovalState(ctx, "r2", store.ApprovalOpened, store.ApprovalFailed); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("moving a deleted request: %v", err)
		}
		if err := s.Approve(ctx, "r2", now, answer()); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("approving a deleted request: %v", err)
		}
		// A request long expired goes with the next one put.
		if err := s.PutApproval(ctx, request(w.ID, "r4", now.Add(2*time.Hour))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetApproval(ctx, "r3"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a request long expired was kept: %v", err)
		}
		// Bad input changes nothing.
		bad := request(w.ID, "r5", now)
		bad.Device = "not hex"
		if err := s.PutApproval(ctx, bad); err == nil {
			t.Fatal("stored a request with a bad device id")
		}
		if err := s.PutApproval(ctx, request("no such wallet", "r6", now)); err == nil {
			t.Fatal("stored a request for no wallet")
		}
		if got, err := s.GetApproval(ctx, "r4"); err != nil || got.State != store.ApprovalPending {
			t.Fatalf("bad input changed what was stored: %+v %v", got, err)
		}
	})
}
