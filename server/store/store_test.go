package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/internal/pgtest"
	"github.com/duetwallet/duet/server/internal/sqldb"
	"github.com/duetwallet/duet/server/seal"
	"github.com/duetwallet/duet/server/store"
)

var pg *pgtest.Server

func TestMain(m *testing.M) {
	var err error
	pg, err = pgtest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "store tests need PostgreSQL:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := pg.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// eachBackend runs test once on a fresh SQLite database and once on a fresh
// PostgreSQL database. source names the database, for tests that open it
// twice as two server replicas would.
func eachBackend(t *testing.T, test func(t *testing.T, source string)) {
	t.Run("sqlite", func(t *testing.T) {
		test(t, filepath.Join(t.TempDir(), "duet.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		source, err := pg.NewDatabase(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		test(t, source)
	})
}

var testKey = bytes.Repeat([]byte{0x42}, seal.KeySize)

func openStore(t testing.TB, source string) (*store.SQLStore, *sqldb.DB) {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, err := seal.New(testKey)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, store.Config{DB: db, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	return s, db
}

// newClient makes an organization and one of its clients.
func newClient(t testing.TB, s *store.SQLStore) store.Client {
	t.Helper()
	ctx := context.Background()
	orgID, err := apikey.NewID(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateOrganization(ctx, orgID, "Acme", "duet_cus_custodian-key"); err != nil {
		t.Fatal(err)
	}
	c, _, err := s.CreateClient(ctx, orgID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newWallet makes a client with a wallet whose generation 1 is active.
func newWallet(t testing.TB, s *store.SQLStore) store.Wallet {
	t.Helper()
	ctx := context.Background()
	c := newClient(t, s)
	id, _ := apikey.NewID(rand.Reader)
	w := store.Wallet{ID: id, ClientID: c.ID, PublicKey: []byte{2, 1, 2, 3}, Address: "0x00000000000000000000000000000000000000aa"}
	if err := s.CreateWallet(ctx, w, 1, []byte("share 1"), genDigest(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Activate(ctx, w.ID, 1, genDigest(1)); err != nil {
		t.Fatal(err)
	}
	w, err := s.Wallet(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestOpenTwiceKeepsData(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		s, _ := openStore(t, source)
		c := newClient(t, s)
		s2, _ := openStore(t, source)
		got, err := s2.Client(context.Background(), c.ID)
		if err != nil || got.OrganizationID != c.OrganizationID {
			t.Fatalf("after reopening: %+v, %v; want %+v", got, err, c)
		}
	})
}

func TestAccounts(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		s, _ := openStore(t, source)
		orgID, _ := apikey.NewID(rand.Reader)
		orgKey, err := s.CreateOrganization(ctx, orgID, "Acme", "duet_cus_secret")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateOrganization(ctx, orgID, "Acme again", "x"); err == nil {
			t.Error("second organization with the same id was accepted")
		}
		org, err := s.AuthenticateOrganization(ctx, orgKey)
		if err != nil || org.ID != orgID || org.Name != "Acme" {
			t.Fatalf("AuthenticateOrganization = %+v, %v", org, err)
		}
		if key, err := s.CustodianKey(ctx, orgID); err != nil || key != "duet_cus_secret" {
			t.Errorf("CustodianKey = %q, %v", key, err)
		}

		c, clientKey, err := s.CreateClient(ctx, orgID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.AuthenticateClient(ctx, clientKey)
		if err != nil || got.ID != c.ID || got.OrganizationID != orgID {
			t.Fatalf("AuthenticateClient = %+v, %v", got, err)
		}

		// Flip one character of the secret: same owner id, wrong key.
		wrong := []byte(clientKey)
		wrong[len(wrong)-2] ^= 'A' ^ 'B'
		for name, key := range map[string]string{
			"wrong secret":      string(wrong),
			"org key as client": orgKey,
			"empty":             "",
			"garbage":           "Bearer nonsense",
		} {
			if _, err := s.AuthenticateClient(ctx, key); !errors.Is(err, store.ErrUnauthenticated) {
				t.Errorf("AuthenticateClient(%s) = %v, want ErrUnauthenticated", name, err)
			}
		}
		if _, err := s.AuthenticateOrganization(ctx, clientKey); !errors.Is(err, store.ErrUnauthenticated) {
			t.Errorf("AuthenticateOrganization(client key) = %v, want ErrUnauthenticated", err)
		}
		unknownOrg, _ := apikey.NewID(rand.Reader)
		if _, _, err := s.CreateClient(ctx, unknownOrg); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CreateClient(unknown org) = %v, want ErrNotFound", err)
		}
	})
}

func TestKeysStoredOnlyAsHashes(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		s, db := openStore(t, source)
		orgID, _ := apikey.NewID(rand.Reader)
		orgKey, err := s.CreateOrganization(ctx, orgID, "Acme", "duet_cus_plain-custodian-key")
		if err != nil {
			t.Fatal(err)
		}
		_, clientKey, err := s.CreateClient(ctx, orgID)
		if err != nil {
			t.Fatal(err)
		}
		var orgHash, custodian, clientHash []byte
		if err := db.QueryRowContext(ctx, `SELECT key_hash, custodian_key FROM organizations`).Scan(&orgHash, &custodian); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, `SELECT key_hash FROM clients`).Scan(&clientHash); err != nil {
			t.Fatal(err)
		}
		if h := apikey.Hash(orgKey); !bytes.Equal(orgHash, h[:]) {
			t.Error("organization key_hash is not the key's hash")
		}
		if h := apikey.Hash(clientKey); !bytes.Equal(clientHash, h[:]) {
			t.Error("client key_hash is not the key's hash")
		}
		if bytes.Contains(custodian, []byte("plain-custodian-key")) {
			t.Error("custodian key stored in the clear")
		}
	})
}

func TestTwoPhaseCommit(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		s, _ := openStore(t, source)
		c := newClient(t, s)
		w := store.Wallet{ID: "w1", ClientID: c.ID, PublicKey: []byte{2, 9}, Address: "0xabc"}

		if err := s.CreateWallet(ctx, w, 1, []byte("share 1"), genDigest(1)); err != nil {
			t.Fatal(err)
		}
		got, err := s.WalletByClient(ctx, c.ID)
		if err != nil || got.ActiveGeneration != 0 || got.PendingGeneration != 1 || got.Address != "0xabc" {
			t.Fatalf("new wallet = %+v, %v; want pending 1, no active", got, err)
		}
		if err := s.CreateWallet(ctx, store.Wallet{ID: "w2", ClientID: c.ID, PublicKey: []byte{2}, Address: "0xdef"}, 1, nil, genDigest(1)); !errors.Is(err, store.ErrWalletExists) {
			t.Errorf("second wallet for one client: %v, want ErrWalletExists", err)
		}
		if err := s.PutPresignature(ctx, "w1", 1, "p", []byte("x")); !errors.Is(err, store.ErrNoActiveShare) {
			t.Errorf("presignature on a pending share: %v, want ErrNoActiveShare", err)
		}
		if err := s.Activate(ctx, "w1", 1, genDigest(1)); err != nil {
			t.Fatal(err)
		}
		if sh, err := s.Share(ctx, "w1", 1); err != nil || sh.State != store.Active || string(sh.Data) != "share 1" {
			t.Fatalf("share 1 = %+v, %v", sh, err)
		}

		if err := s.PutPending(ctx, "w1", 3, []byte("share 3"), genDigest(3)); !errors.Is(err, store.ErrGenerationMismatch) {
			t.Errorf("PutPending(3) after active 1: %v, want ErrGenerationMismatch", err)
		}
		if err := s.PutPending(ctx, "w1", 2, []byte("share 2"), genDigest(2)); err != nil {
			t.Fatal(err)
		}
		if err := s.PutPending(ctx, "w1", 2, []byte("share 2 again"), genDigest(2)); !errors.Is(err, store.ErrPendingExists) {
			t.Errorf("second PutPending(2): %v, want ErrPendingExists", err)
		}
		if sh, err := s.Share(ctx, "w1", 2); err != nil || sh.State != store.Pending || string(sh.Data) != "share 2" {
			t.Fatalf("pending share 2 = %+v, %v", sh, err)
		}
		// Generation 1 keeps signing while 2 is pending.
		for _, id := range []string{"a", "b"} {
			if err := s.PutPresignature(ctx, "w1", 1, id, []byte("presig "+id)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Activate(ctx, "w1", 2, genDigest(2)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Share(ctx, "w1", 1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("share 1 after activating 2: %v, want ErrNotFound", err)
		}
		if n, err := s.CountPresignatures(ctx, "w1", 1); err != nil || n != 0 {
			t.Errorf("presignatures of generation 1 after activating 2: %d, %v", n, err)
		}
		if _, err := s.TakePresignature(ctx, "w1", 1, "a"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("taking a presignature of a retired generation: %v, want ErrNotFound", err)
		}
		if err := s.Activate(ctx, "w1", 2, genDigest(2)); !errors.Is(err, store.ErrNotPending) {
			t.Errorf("activating 2 twice: %v, want ErrNotPending", err)
		}
		got, _ = s.Wallet(ctx, "w1")
		if got.ActiveGeneration != 2 || got.PendingGeneration != 0 {
			t.Fatalf("after activate: %+v", got)
		}

		if err := s.PutPending(ctx, "w1", 3, []byte("share 3"), genDigest(3)); err != nil {
			t.Fatal(err)
		}
		if err := s.DropPending(ctx, "w1", 3); err != nil {
			t.Fatal(err)
		}
		if err := s.DropPending(ctx, "w1", 3); !errors.Is(err, store.ErrNotPending) {
			t.Errorf("dropping 3 twice: %v, want ErrNotPending", err)
		}
		if _, err := s.Share(ctx, "w1", 3); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("share 3 after drop: %v, want ErrNotFound", err)
		}
		got, _ = s.Wallet(ctx, "w1")
		if got.ActiveGeneration != 2 || got.PendingGeneration != 0 {
			t.Errorf("after drop: %+v, want active 2 and nothing pending", got)
		}
		if sh, err := s.Share(ctx, "w1", 2); err != nil || string(sh.Data) != "share 2" {
			t.Errorf("share 2 after drop of 3 = %+v, %v", sh, err)
		}
		if err := s.Activate(ctx, "nope", 1, genDigest(1)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Activate(unknown wallet) = %v, want ErrNotFound", err)
		}
		if err := s.PutPending(ctx, "nope", 1, nil, genDigest(1)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("PutPending(unknown wallet) = %v, want ErrNotFound", err)
		}
	})
}

func TestDropPendingOfUncommittedWallet(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		s, _ := openStore(t, source)
		c := newClient(t, s)
		w := store.Wallet{ID: "w1", ClientID: c.ID, PublicKey: []byte{2}, Address: "0x1"}
		if err := s.CreateWallet(ctx, w, 1, []byte("share"), genDigest(1)); err != nil {
			t.Fatal(err)
		}
		if err := s.DropPending(ctx, "w1", 1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.WalletByClient(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("wallet after dropping its only generation: %v, want ErrNotFound", err)
		}
		if _, err := s.Share(ctx, "w1", 1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("share after drop: %v, want ErrNotFound", err)
		}
		// The client can start over.
		w.ID = "w2"
		if err := s.CreateWallet(ctx, w, 1, []byte("share"), genDigest(1)); err != nil {
			t.Fatalf("creating a wallet after a dropped one: %v", err)
		}
	})
}

// TestConcurrentActivate plays several replicas, each with its own connection
// pool, racing to activate and to put the same pending generation.
func TestConcurrentActivate(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		replicas := make([]*store.SQLStore, 3)
		for i := range replicas {
			replicas[i], _ = openStore(t, source)
		}
		w := newWallet(t, replicas[0])
		const rounds, racers = 10, 6
		for gen := uint64(2); gen < 2+rounds; gen++ {
			var puts, activations atomic.Int32
			var wg sync.WaitGroup
			errs := make(chan error, 2*racers)
			for i := range racers {
				wg.Go(func() {
					err := replicas[i%len(replicas)].PutPending(ctx, w.ID, gen, fmt.Appendf(nil, "share %d from %d", gen, i), genDigest(gen))
					switch {
					case err == nil:
						puts.Add(1)
					case !errors.Is(err, store.ErrPendingExists) && !errors.Is(err, store.ErrGenerationMismatch):
						errs <- fmt.Errorf("PutPending: %w", err)
					}
				})
			}
			wg.Wait()
			for i := range racers {
				wg.Go(func() {
					err := replicas[i%len(replicas)].Activate(ctx, w.ID, gen, genDigest(gen))
					switch {
					case err == nil:
						activations.Add(1)
					case !errors.Is(err, store.ErrNotPending):
						errs <- fmt.Errorf("Activate: %w", err)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if puts.Load() != 1 || activations.Load() != 1 {
				t.Fatalf("generation %d: %d puts and %d activations succeeded, want exactly 1 each", gen, puts.Load(), activations.Load())
			}
			got, err := replicas[0].Wallet(ctx, w.ID)
			if err != nil || got.ActiveGeneration != gen || got.PendingGeneration != 0 {
				t.Fatalf("generation %d: wallet %+v, %v", gen, got, err)
			}
			if _, err := replicas[1].Share(ctx, w.ID, gen-1); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("generation %d: old share still there: %v", gen, err)
			}
		}
	})
}

// TestTakePresignatureOnce has many goroutines on two replicas try to take
// every presignature; each must be handed out exactly once.
func TestTakePresignatureOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		a, _ := openStore(t, source)
		b, _ := openStore(t, source)
		w := newWallet(t, a)
		const n, takers = 40, 8
		for i := range n {
			if err := a.PutPresignature(ctx, w.ID, 1, fmt.Sprint(i), fmt.Appendf(nil, "presig %d", i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.PutPresignature(ctx, w.ID, 1, "0", []byte("dup")); !errors.Is(err, store.ErrPresignatureExists) {
			t.Errorf("duplicate presignature id: %v, want ErrPresignatureExists", err)
		}
		var taken [n]atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, n*takers)
		for g := range takers {
			s := a
			if g%2 == 1 {
				s = b
			}
			wg.Go(func() {
				for k := range n {
					i := (k + g*5) % n // each taker starts elsewhere
					data, err := s.TakePresignature(ctx, w.ID, 1, fmt.Sprint(i))
					if errors.Is(err, store.ErrNotFound) {
						continue
					}
					if err != nil {
						errs <- err
						continue
					}
					if want := fmt.Sprintf("presig %d", i); string(data) != want {
						errs <- fmt.Errorf("presignature %d holds %q", i, data)
					}
					taken[i].Add(1)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for i := range taken {
			if got := taken[i].Load(); got != 1 {
				t.Errorf("presignature %d taken %d times", i, got)
			}
		}
		if left, err := a.CountPresignatures(ctx, w.ID, 1); err != nil || left != 0 {
			t.Errorf("%d presignatures left, %v", left, err)
		}
	})
}

// TestActivateRetiresConcurrentPresignatures stores presignatures of the
// active generation while another replica activates the next one: no
// presignature of the retired generation may survive.
func TestActivateRetiresConcurrentPresignatures(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		a, _ := openStore(t, source)
		b, _ := openStore(t, source)
		w := newWallet(t, a)
		if err := a.PutPending(ctx, w.ID, 2, []byte("share 2"), genDigest(2)); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var stored atomic.Int32
		wg.Go(func() {
			for i := range 60 {
				err := b.PutPresignature(ctx, w.ID, 1, fmt.Sprint(i), []byte("p"))
				if err == nil {
					stored.Add(1)
				} else if !errors.Is(err, store.ErrNoActiveShare) {
					t.Errorf("PutPresignature: %v", err)
				}
			}
		})
		wg.Go(func() {
			if err := a.Activate(ctx, w.ID, 2, genDigest(2)); err != nil {
				t.Errorf("Activate: %v", err)
			}
		})
		wg.Wait()
		if n, err := a.CountPresignatures(ctx, w.ID, 1); err != nil || n != 0 {
			t.Errorf("%d presignatures of the retired generation survive (%d stored before activation), %v", n, stored.Load(), err)
		}
	})
}

func TestSharesSealedAtRest(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		s, db := openStore(t, source)
		w1 := newWallet(t, s)
		w2 := newWallet(t, s)
		if err := s.PutPresignature(ctx, w1.ID, 1, "p", []byte("secret presignature")); err != nil {
			t.Fatal(err)
		}
		var sealed []byte
		if err := db.QueryRowContext(ctx, `SELECT sealed FROM server_shares WHERE wallet_id = $1`, w1.ID).Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(sealed, []byte("share 1")) || sealed[0] != seal.Version1 {
			t.Fatalf("share not sealed at rest: %x", sealed)
		}
		var presig []byte
		if err := db.QueryRowContext(ctx, `SELECT sealed FROM presignatures`).Scan(&presig); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(presig, []byte("secret presignature")) {
			t.Fatal("presignature stored in the clear")
		}
		// Copy wallet 1's sealed share into wallet 2's row: it must not open
		// as wallet 2's share.
		if _, err := db.ExecContext(ctx, `UPDATE server_shares SET sealed = $1 WHERE wallet_id = $2`, sealed, w2.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Share(ctx, w2.ID, 1); !errors.Is(err, seal.ErrAuthentication) {
			t.Errorf("share swapped between wallets opened: %v, want seal.ErrAuthentication", err)
		}
		// A store holding another master key cannot open anything.
		other, _ := seal.New(bytes.Repeat([]byte{7}, seal.KeySize))
		s2, err := store.Open(ctx, store.Config{DB: db, Sealer: other})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s2.Share(ctx, w1.ID, 1); !errors.Is(err, seal.ErrWrongKey) {
			t.Errorf("share under another master key: %v, want seal.ErrWrongKey", err)
		}
	})
}

// genDigest stands for the digest of a pair's public data, for tests where
// only one share per generation is ever stored.
func genDigest(gen uint64) []byte {
	d := sha256.Sum256(fmt.Appendf(nil, "pair of generation %d", gen))
	return d[:]
}

// TestActivateIsBoundToTheStoredShare replays breakage (1) of two replicas:
// replica A stores pending generation 2, replica B drops it and stores its
// own generation 2. A's acknowledgement must not activate B's share: it names
// A's pair by its digest, and only B's digest activates.
func TestActivateIsBoundToTheStoredShare(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		a, _ := openStore(t, source)
		b, _ := openStore(t, source)
		w := newWallet(t, a)
		digestA, digestB := sha256.Sum256([]byte("pair A")), sha256.Sum256([]byte("pair B"))
		if err := a.PutPending(ctx, w.ID, 2, []byte("share A"), digestA[:]); err != nil {
			t.Fatal(err)
		}
		if err := b.DropPending(ctx, w.ID, 2); err != nil {
			t.Fatal(err)
		}
		if err := b.PutPending(ctx, w.ID, 2, []byte("share B"), digestB[:]); err != nil {
			t.Fatal(err)
		}
		if err := a.Activate(ctx, w.ID, 2, digestA[:]); !errors.Is(err, store.ErrNotPending) {
			t.Fatalf("activating A's pair over B's pending share: %v, want ErrNotPending", err)
		}
		got, err := a.Wallet(ctx, w.ID)
		if err != nil || got.ActiveGeneration != 1 || got.PendingGeneration != 2 {
			t.Fatalf("after the refused activation: %+v, %v; want active 1, pending 2", got, err)
		}
		if sh, err := a.Share(ctx, w.ID, 1); err != nil || string(sh.Data) != "share 1" {
			t.Fatalf("the active share went with the refused activation: %+v, %v", sh, err)
		}
		if err := a.Activate(ctx, w.ID, 2, nil); !errors.Is(err, store.ErrNotPending) {
			t.Fatalf("activating without a digest: %v, want ErrNotPending", err)
		}
		if err := b.Activate(ctx, w.ID, 2, digestB[:]); err != nil {
			t.Fatal(err)
		}
		sh, err := a.Share(ctx, w.ID, 2)
		if err != nil || string(sh.Data) != "share B" || sh.State != store.Active || !bytes.Equal(sh.Digest, digestB[:]) {
			t.Fatalf("active share = %+v, %v; want B's", sh, err)
		}
	})
}

// TestWalletLock checks the change lock across two replicas: one holder at a
// time, renewal by the holder, release, and a lease that runs out on its own
// when the holder never releases it.
func TestWalletLock(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		var clock atomic.Int64
		clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
		now := func() time.Time { return time.UnixMilli(clock.Load()) }
		replica := func() *store.SQLStore {
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
		a, b := replica(), replica()
		const lease = time.Minute
		if err := a.LockWallet(ctx, "w1", "a", lease); err != nil {
			t.Fatal(err)
		}
		if err := b.LockWallet(ctx, "w1", "b", lease); !errors.Is(err, store.ErrLocked) {
			t.Fatalf("second holder: %v, want ErrLocked", err)
		}
		if err := b.LockWallet(ctx, "w2", "b", lease); err != nil {
			t.Fatalf("another wallet's lock: %v", err)
		}
		clock.Add((lease - time.Second).Milliseconds())
		if err := a.LockWallet(ctx, "w1", "a", lease); err != nil {
			t.Fatalf("renewal by the holder: %v", err)
		}
		clock.Add((lease - time.Second).Milliseconds())
		if err := b.LockWallet(ctx, "w1", "b", lease); !errors.Is(err, store.ErrLocked) {
			t.Fatalf("before the renewed lease ran out: %v, want ErrLocked", err)
		}
		if err := b.UnlockWallet(ctx, "w1", "b"); err != nil {
			t.Fatal(err)
		}
		if err := b.LockWallet(ctx, "w1", "b", lease); !errors.Is(err, store.ErrLocked) {
			t.Fatalf("a non-holder's unlock released the lock: %v", err)
		}
		if err := a.UnlockWallet(ctx, "w1", "a"); err != nil {
			t.Fatal(err)
		}
		if err := b.LockWallet(ctx, "w1", "b", lease); err != nil {
			t.Fatalf("after release: %v", err)
		}
		// b never releases; its lease runs out and a can take the lock.
		clock.Add(lease.Milliseconds())
		if err := a.LockWallet(ctx, "w1", "a", lease); err != nil {
			t.Fatalf("after the lease ran out: %v", err)
		}
		if err := b.LockWallet(ctx, "w1", "b", lease); !errors.Is(err, store.ErrLocked) {
			t.Fatalf("the expired holder took the lock back: %v", err)
		}
	})
}

// TestTrimPresignatures drops the expired presignatures, then all but the
// newest keep, of one wallet and generation only.
func TestTrimPresignatures(t *testing.T) {
	eachBackend(t, func(t *testing.T, source string) {
		ctx := context.Background()
		var clock atomic.Int64
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		clock.Store(start.UnixMilli())
		db, err := sqldb.Open(ctx, source)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		sealer, _ := seal.New(testKey)
		s, err := store.Open(ctx, store.Config{DB: db, Sealer: sealer, Now: func() time.Time { return time.UnixMilli(clock.Load()) }})
		if err != nil {
			t.Fatal(err)
		}
		w, other := newWallet(t, s), newWallet(t, s)
		for i := range 5 {
			for _, x := range []store.Wallet{w, other} {
				if err := s.PutPresignature(ctx, x.ID, 1, fmt.Sprint(i), []byte("p")); err != nil {
					t.Fatal(err)
				}
			}
			clock.Add(int64(time.Hour / time.Millisecond))
		}
		// Made at start+0h … start+4h; those before start+1h30 expire.
		if err := s.TrimPresignatures(ctx, w.ID, 1, 2, start.Add(90*time.Minute)); err != nil {
			t.Fatal(err)
		}
		for i, want := range []bool{false, false, false, true, true} {
			_, err := s.TakePresignature(ctx, w.ID, 1, fmt.Sprint(i))
			if got := err == nil; got != want {
				t.Errorf("presignature %d kept: %v, want %v (%v)", i, got, want, err)
			}
		}
		if n, err := s.CountPresignatures(ctx, other.ID, 1); err != nil || n != 5 {
			t.Errorf("another wallet's presignatures: %d, %v", n, err)
		}
		if err := s.TrimPresignatures(ctx, other.ID, 1, 0, start); err != nil {
			t.Fatal(err)
		}
		if n, err := s.CountPresignatures(ctx, other.ID, 1); err != nil || n != 0 {
			t.Errorf("trim to none left %d, %v", n, err)
		}
	})
}
