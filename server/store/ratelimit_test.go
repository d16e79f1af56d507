package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duetwallet/duet/server/store"
)

func TestTakeEvent(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		s, _ := openStore(t, source)
		start := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
		const limit, window = 3, time.Hour
		for i := range limit {
			if _, err := s.TakeEvent(ctx, "change", "w1", start.Add(time.Duration(i)*time.Minute), limit, window); err != nil {
				t.Fatalf("event %d: %v", i+1, err)
			}
		}
		retry, err := s.TakeEvent(ctx, "change", "w1", start.Add(59*time.Minute), limit, window)
		if !errors.Is(err, store.ErrRateLimited) || !retry.Equal(start.Add(window)) {
			t.Fatalf("event over the limit: retry at %v, %v; want %v, ErrRateLimited", retry, err, start.Add(window))
		}
		// Other subjects and other kinds have counts of their own.
		if _, err := s.TakeEvent(ctx, "change", "w2", start, limit, window); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TakeEvent(ctx, "other", "w1", start, limit, window); err != nil {
			t.Fatal(err)
		}
		// A restart (a new store on the same database) keeps the count.
		s2, _ := openStore(t, source)
		if _, err := s2.TakeEvent(ctx, "change", "w1", start.Add(30*time.Minute), limit, window); !errors.Is(err, store.ErrRateLimited) {
			t.Fatalf("after reopening: %v", err)
		}
		// The window's end opens a new one.
		for i := range limit {
			if _, err := s2.TakeEvent(ctx, "change", "w1", start.Add(window), limit, window); err != nil {
				t.Fatalf("new window, event %d: %v", i+1, err)
			}
		}
		if _, err := s.TakeEvent(ctx, "change", "w1", start.Add(window+time.Minute), limit, window); !errors.Is(err, store.ErrRateLimited) {
			t.Fatalf("new window over the limit: %v", err)
		}
		if _, err := s.TakeEvent(ctx, "change", "w1", start, 0, window); err == nil {
			t.Fatal("limit 0 accepted")
		}
	})
}

// TestTakeEventConcurrently has two replicas race for the events of one
// window: exactly limit of them get one.
func TestTakeEventConcurrently(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		replicas := make([]*store.SQLStore, 2)
		for i := range replicas {
			replicas[i], _ = openStore(t, source)
		}
		now := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
		const limit, racers = 4, 12
		var taken atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, racers)
		for i := range racers {
			wg.Go(func() {
				_, err := replicas[i%2].TakeEvent(ctx, "change", "w", now, limit, time.Hour)
				switch {
				case err == nil:
					taken.Add(1)
				case !errors.Is(err, store.ErrRateLimited):
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if taken.Load() != limit {
			t.Fatalf("%d events taken, want %d", taken.Load(), limit)
		}
	})
}

func TestCountFailureLocksOut(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		s, _ := openStore(t, source)
		s2, _ := openStore(t, source)
		start := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
		const limit, window, lockout = 3, 10 * time.Minute, 15 * time.Minute
		// Failures spread over more than one window never add up.
		for i := range 2 * limit {
			now := start.Add(time.Duration(i) * 6 * time.Minute)
			if until, err := s.CountFailure(ctx, "abort", "c1", now, limit, window, lockout); err != nil || !until.IsZero() {
				t.Fatalf("spread failure %d: locked until %v, %v", i+1, until, err)
			}
		}
		start = start.Add(time.Hour)
		// limit failures in one window, counted by two replicas, lock out.
		for i := range limit - 1 {
			until, err := []*store.SQLStore{s, s2}[i%2].CountFailure(ctx, "abort", "c1", start, limit, window, lockout)
			if err != nil || !until.IsZero() {
				t.Fatalf("failure %d: locked until %v, %v", i+1, until, err)
			}
			if until, err := s.LockedUntil(ctx, "abort", "c1", start); err != nil || !until.IsZero() {
				t.Fatalf("after failure %d: locked until %v, %v", i+1, until, err)
			}
		}
		until, err := s2.CountFailure(ctx, "abort", "c1", start.Add(time.Minute), limit, window, lockout)
		want := start.Add(time.Minute + lockout)
		if err != nil || !until.Equal(want) {
			t.Fatalf("failure %d: locked until %v, %v; want %v", limit, until, err, want)
		}
		for _, r := range []*store.SQLStore{s, s2} {
			if got, err := r.LockedUntil(ctx, "abort", "c1", want.Add(-time.Millisecond)); err != nil || !got.Equal(want) {
				t.Fatalf("LockedUntil: %v, %v; want %v", got, err, want)
			}
		}
		if got, err := s.LockedUntil(ctx, "abort", "c2", start); err != nil || !got.IsZero() {
			t.Fatalf("another subject: locked until %v, %v", got, err)
		}
		if got, err := s.LockedUntil(ctx, "abort", "c1", want); err != nil || !got.IsZero() {
			t.Fatalf("lockout over: locked until %v, %v", got, err)
		}
		// The lockout started a new count.
		if until, err := s.CountFailure(ctx, "abort", "c1", want, limit, window, lockout); err != nil || !until.IsZero() {
			t.Fatalf("first failure after the lockout: locked until %v, %v", until, err)
		}
	})
}
