package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/internal/sqldb"
	"github.com/duetwallet/duet/server/seal"
	"github.com/duetwallet/duet/server/store"
)

const (
	devA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	devB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	devC = "cccccccccccccccccccccccccccccccc"
)

// newDeviceWallet makes a client with a wallet whose generation 1, of
// device dev, is active.
func newDeviceWallet(t *testing.T, s *store.SQLStore, dev string) store.Wallet {
	t.Helper()
	ctx := context.Background()
	c := newClient(t, s)
	id, _ := apikey.NewID(rand.Reader)
	w := store.Wallet{ID: id, ClientID: c.ID, PublicKey: []byte{2, 1, 2, 3}, Address: "0x00000000000000000000000000000000000000aa"}
	if err := s.CreateDeviceWallet(ctx, w, store.NewShare{Device: dev, Generation: 1, Data: []byte("share 1"), Digest: genDigest(1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Activate(ctx, w.ID, 1, genDigest(1)); err != nil {
		t.Fatal(err)
	}
	return w
}

// change stores generation gen for dev and activates it.
func change(t *testing.T, s *store.SQLStore, walletID, dev string, gen uint64, retire bool) {
	t.Helper()
	ctx := context.Background()
	sh := store.NewShare{Device: dev, Generation: gen, Data: []byte("share"), Digest: genDigest(gen), RetiresOthers: retire}
	if err := s.PutPendingShare(ctx, walletID, sh); err != nil {
		t.Fatal(err)
	}
	if err := s.Activate(ctx, walletID, gen, genDigest(gen)); err != nil {
		t.Fatal(err)
	}
}

// deviceGens returns each device's active generation, in the store's order.
func deviceGens(t *testing.T, s *store.SQLStore, walletID string) map[string]uint64 {
	t.Helper()
	ds, err := s.Devices(context.Background(), walletID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, d := range ds {
		out[d.ID] = d.Generation
		if !bytes.Equal(d.Digest, genDigest(d.Generation)) {
			t.Errorf("device %s: digest of another pair", d.ID)
		}
	}
	return out
}

func sameGens(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestActivatePerDevice checks that a device's share change retires only
// that device's older generation and its presignatures, that a recovery
// retires every other device, and that generation numbers stay the
// wallet's.
func TestActivatePerDevice(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		s, _ := openStore(t, source)
		w := newDeviceWallet(t, s, devA)
		change(t, s, w.ID, devB, 2, false) // B added
		if got := deviceGens(t, s, w.ID); !sameGens(got, map[string]uint64{devA: 1, devB: 2}) {
			t.Fatalf("after adding B: %v", got)
		}
		for gen, id := range map[uint64]string{1: "pa", 2: "pb"} {
			if err := s.PutPresignature(ctx, w.ID, gen, id, []byte("p")); err != nil {
				t.Fatal(err)
			}
		}
		// A's next generation follows the wallet's newest, not A's own.
		if err := s.PutPendingShare(ctx, w.ID, store.NewShare{Device: devA, Generation: 2, Data: []byte("x"), Digest: genDigest(2)}); !errors.Is(err, store.ErrGenerationMismatch) {
			t.Fatalf("a generation number taken by another device: %v, want ErrGenerationMismatch", err)
		}
		change(t, s, w.ID, devA, 3, false) // A refreshes
		if got := deviceGens(t, s, w.ID); !sameGens(got, map[string]uint64{devA: 3, devB: 2}) {
			t.Fatalf("after A's refresh: %v", got)
		}
		if _, err := s.Share(ctx, w.ID, 1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("A's old generation: %v, want ErrNotFound", err)
		}
		if n, _ := s.CountPresignatures(ctx, w.ID, 1); n != 0 {
			t.Errorf("%d presignatures of A's old generation left", n)
		}
		if n, _ := s.CountPresignatures(ctx, w.ID, 2); n != 1 {
			t.Errorf("B's presignatures: %d, want 1", n)
		}
		sh, err := s.DeviceShare(ctx, w.ID, devB)
		if err != nil || sh.Generation != 2 || sh.Device != devB || sh.State != store.Active {
			t.Fatalf("B's share: %+v %v", sh, err)
		}
		wl, _ := s.Wallet(ctx, w.ID)
		if wl.ActiveGeneration != 3 || wl.PendingGeneration != 0 {
			t.Fatalf("wallet %+v, want newest generation 3", wl)
		}

		// A recovery on C retires A and B.
		change(t, s, w.ID, devC, 4, true)
		if got := deviceGens(t, s, w.ID); !sameGens(got, map[string]uint64{devC: 4}) {
			t.Fatalf("after a recovery on C: %v", got)
		}
		for _, dev := range []string{devA, devB} {
			if _, err := s.DeviceShare(ctx, w.ID, dev); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("retired device %s: %v, want ErrNotFound", dev, err)
			}
		}
		for _, gen := range []uint64{2, 3} {
			if _, err := s.Share(ctx, w.ID, gen); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("generation %d after the recovery: %v, want ErrNotFound", gen, err)
			}
		}
		if n, _ := s.CountPresignatures(ctx, w.ID, 2); n != 0 {
			t.Errorf("%d presignatures of a retired device left", n)
		}
	})
}

// TestRemoveDevice checks that removing a device deletes its shares and
// presignatures and nothing of the others', and that removing a device the
// wallet does not have changes nothing.
func TestRemoveDevice(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		s, _ := openStore(t, source)
		w := newDeviceWallet(t, s, devA)
		change(t, s, w.ID, devB, 2, false)
		for gen, id := range map[uint64]string{1: "pa", 2: "pb"} {
			if err := s.PutPresignature(ctx, w.ID, gen, id, []byte("p")); err != nil {
				t.Fatal(err)
			}
		}
		for _, dev := range []string{devC, "", "not a device"} {
			if err := s.RemoveDevice(ctx, w.ID, dev); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("removing unknown device %q: %v, want ErrNotFound", dev, err)
			}
		}
		if got := deviceGens(t, s, w.ID); !sameGens(got, map[string]uint64{devA: 1, devB: 2}) {
			t.Fatalf("devices after failed removals: %v", got)
		}
		// B has a pending generation in flight: it goes with B.
		if err := s.PutPendingShare(ctx, w.ID, store.NewShare{Device: devB, Generation: 3, Data: []byte("x"), Digest: genDigest(3)}); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveDevice(ctx, w.ID, devB); err != nil {
			t.Fatal(err)
		}
		if got := deviceGens(t, s, w.ID); !sameGens(got, map[string]uint64{devA: 1}) {
			t.Fatalf("devices after removing B: %v", got)
		}
		for _, gen := range []uint64{2, 3} {
			if _, err := s.Share(ctx, w.ID, gen); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("B's generation %d: %v, want ErrNotFound", gen, err)
			}
		}
		if n, _ := s.CountPresignatures(ctx, w.ID, 2); n != 0 {
			t.Errorf("%d of B's presignatures left", n)
		}
		if n, _ := s.CountPresignatures(ctx, w.ID, 1); n != 1 {
			t.Errorf("A's presignatures: %d, want 1", n)
		}
		wl, _ := s.Wallet(ctx, w.ID)
		if wl.PendingGeneration != 0 || wl.ActiveGeneration != 2 {
			t.Fatalf("wallet after removing B: %+v, want nothing pending and the newest generation kept", wl)
		}
		// The next change still numbers after the newest generation ever
		// made, so a removed pair's number is never reused.
		change(t, s, w.ID, devA, 3, false)
		if got := deviceGens(t, s, w.ID); !sameGens(got, map[string]uint64{devA: 3}) {
			t.Fatalf("devices after A's refresh: %v", got)
		}
		// The last device may go too; the wallet stays, on no device.
		if err := s.RemoveDevice(ctx, w.ID, devA); err != nil {
			t.Fatal(err)
		}
		if got := deviceGens(t, s, w.ID); len(got) != 0 {
			t.Fatalf("devices after removing the last: %v", got)
		}
		if wl, err := s.Wallet(ctx, w.ID); err != nil || wl.ActiveGeneration != 3 {
			t.Fatalf("wallet on no device: %+v %v", wl, err)
		}
	})
}

func TestDeviceIDsAndLastUse(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		now := time.UnixMilli(1_700_000_000_000)
		s, _ := openStore(t, source)
		w := newDeviceWallet(t, s, devA)
		for _, bad := range []string{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "abc", devA + "00", strings.Repeat("g", 32)} {
			err := s.PutPendingShare(ctx, w.ID, store.NewShare{Device: bad, Generation: 2, Data: []byte("x"), Digest: genDigest(2)})
			if err == nil {
				t.Errorf("device id %q accepted", bad)
			}
		}
		if wl, _ := s.Wallet(ctx, w.ID); wl.PendingGeneration != 0 {
			t.Fatalf("a refused share left pending generation %d", wl.PendingGeneration)
		}
		ds, err := s.Devices(ctx, w.ID)
		if err != nil || len(ds) != 1 || !ds[0].LastUsedAt.IsZero() || ds[0].CreatedAt.IsZero() {
			t.Fatalf("devices before use: %+v %v", ds, err)
		}
		s2 := openStoreAt(t, source, func() time.Time { return now })
		if err := s2.TouchDevice(ctx, w.ID, devA); err != nil {
			t.Fatal(err)
		}
		ds, err = s.Devices(ctx, w.ID)
		if err != nil || len(ds) != 1 || !ds[0].LastUsedAt.Equal(now) {
			t.Fatalf("devices after use: %+v %v, want last use at %v", ds, err, now)
		}
	})
}

// TestMigrationGivesSharesTheEmptyDevice upgrades a database written before
// devices existed: its wallet's share becomes the share of the device with
// the empty id, which signs on, and a pending generation of an unfinished
// change keeps working.
func TestMigrationGivesSharesTheEmptyDevice(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		db, err := sqldb.Open(ctx, source)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := store.MigrateTo(ctx, db, 6); err != nil {
			t.Fatal(err)
		}
		sealer, _ := seal.New(testKey)
		sealed, err := sealer.Seal(rand.Reader, seal.Binding{Purpose: seal.PurposeServerShare, WalletID: "w-old", Generation: 4}, []byte("old share"))
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO organizations (id, name, key_hash, custodian_key, created_at) VALUES ('o', 'Org', $1, $1, 1)`, []any{[]byte{1}}},
			{`INSERT INTO clients (id, org_id, key_hash, created_at) VALUES ('c', 'o', $1, 1)`, []any{[]byte{1}}},
			{`INSERT INTO wallets (id, client_id, public_key, address, active_generation, pending_generation, created_at) VALUES ('w-old', 'c', $1, '0xaa', 4, NULL, 5000)`, []any{[]byte{2}}},
			{`INSERT INTO server_shares (wallet_id, generation, state, sealed, digest, created_at) VALUES ('w-old', 4, 'active', $1, $2, 6000)`, []any{sealed, genDigest(4)}},
		} {
			if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
				t.Fatal(err)
			}
		}
		s, _ := openStore(t, source)
		ds, err := s.Devices(ctx, "w-old")
		if err != nil || len(ds) != 1 || ds[0].ID != "" || ds[0].Generation != 4 || !ds[0].CreatedAt.Equal(time.UnixMilli(5000)) {
			t.Fatalf("devices after the migration: %+v %v", ds, err)
		}
		sh, err := s.DeviceShare(ctx, "w-old", "")
		if err != nil || string(sh.Data) != "old share" || sh.Device != "" {
			t.Fatalf("the empty device's share: %+v %v", sh, err)
		}
		// The old device refreshes as before; another device can join.
		change(t, s, "w-old", "", 5, false)
		change(t, s, "w-old", devA, 6, false)
		if got := deviceGens(t, s, "w-old"); !sameGens(got, map[string]uint64{"": 5, devA: 6}) {
			t.Fatalf("devices after a refresh and an added device: %v", got)
		}
	})
}
