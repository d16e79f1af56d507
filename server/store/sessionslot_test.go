package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duetwallet/duet/server/internal/sqldb"
	"github.com/duetwallet/duet/server/seal"
	"github.com/duetwallet/duet/server/store"
)

// openStoreAt is openStore with a clock.
func openStoreAt(t *testing.T, source string, now func() time.Time) *store.SQLStore {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, _ := seal.New(testKey)
	s, err := store.Open(ctx, store.Config{DB: db, Sealer: sealer, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSessionSlots(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		var mu sync.Mutex
		clock := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
		now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
		a, b := openStoreAt(t, source, now), openStoreAt(t, source, now)
		const lease = time.Minute
		if _, err := a.TakeSessionSlot(ctx, "c1", "h1", 2, lease); err != nil {
			t.Fatal(err)
		}
		if _, err := b.TakeSessionSlot(ctx, "c1", "h2", 2, lease); err != nil {
			t.Fatal(err)
		}
		if _, err := a.TakeSessionSlot(ctx, "c1", "h3", 2, lease); !errors.Is(err, store.ErrNoSessionSlot) {
			t.Fatalf("third session of two slots: %v, want ErrNoSessionSlot", err)
		}
		if _, err := a.TakeSessionSlot(ctx, "c2", "h3", 2, lease); err != nil {
			t.Fatalf("another client: %v", err)
		}
		// A release frees exactly the releasing holder's slot.
		if err := b.ReleaseSessionSlot(ctx, "c1", 0, "h2"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.TakeSessionSlot(ctx, "c1", "h3", 2, lease); !errors.Is(err, store.ErrNoSessionSlot) {
			t.Fatalf("released by a non-holder: %v", err)
		}
		if err := b.ReleaseSessionSlot(ctx, "c1", 1, "h2"); err != nil {
			t.Fatal(err)
		}
		slot, err := a.TakeSessionSlot(ctx, "c1", "h3", 2, lease)
		if err != nil || slot != 1 {
			t.Fatalf("after release: slot %d, %v; want 1", slot, err)
		}
		// h1 renews, h3 does not: past h3's lease only its slot is free.
		mu.Lock()
		clock = clock.Add(40 * time.Second)
		mu.Unlock()
		if err := a.RenewSessionSlot(ctx, "c1", 0, "h1", lease); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		clock = clock.Add(30 * time.Second)
		mu.Unlock()
		slot, err = b.TakeSessionSlot(ctx, "c1", "h4", 2, lease)
		if err != nil || slot != 1 {
			t.Fatalf("lapsed lease: slot %d, %v; want 1", slot, err)
		}
		if err := a.RenewSessionSlot(ctx, "c1", 1, "h3", lease); !errors.Is(err, store.ErrNoSessionSlot) {
			t.Fatalf("renewing a lost slot: %v, want ErrNoSessionSlot", err)
		}
		if _, err := a.TakeSessionSlot(ctx, "c1", "h5", 0, lease); err == nil {
			t.Fatal("limit 0 accepted")
		}
	})
}

// TestSessionSlotsConcurrently has two replicas race for a client's slots:
// exactly limit sessions get one.
func TestSessionSlotsConcurrently(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		stores := []*store.SQLStore{openStoreAt(t, source, nil), openStoreAt(t, source, nil)}
		const limit, tries = 3, 12
		var got atomic.Int32
		var wg sync.WaitGroup
		for i := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := stores[i%2].TakeSessionSlot(ctx, "c1", fmt.Sprintf("h%d", i), limit, time.Minute)
				switch {
				case err == nil:
					got.Add(1)
				case !errors.Is(err, store.ErrNoSessionSlot):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if got.Load() != limit {
			t.Fatalf("%d sessions got a slot, want %d", got.Load(), limit)
		}
	})
}
