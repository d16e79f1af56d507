package crashtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/internal/fixtures"
	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/wire"
)

// world is one op's run: duetd, the proxy in front of it, and the wallet
// the crash points share.
type world struct {
	t   *testing.T
	srv *duetd
	px  *proxy
}

// wallet is a client's wallet as the test follows it.
type wallet struct {
	key   string
	store *memStore // the store of the device that holds the active pair
	// What the server held before the operation ran.
	before serverWallet
	backup uint64 // generation of the confirmed password backup
	// recovering is the store of the new device a recovery or an
	// add-device runs on.
	recovering *memStore
	// other is a second device of the wallet, target its id.
	other  *memStore
	target string
}

var password = &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery staple"}

// nextPair rotates the devices' Paillier primes through the fixtures, so
// that no refresh gets the modulus it replaces.
var nextPair atomic.Int64

// device is a fresh device on a store: a device that crashed and started
// again is one of these on the store it had.
func (w *world) device(key string, st *memStore) *bridge.Device {
	return &bridge.Device{
		URL: w.px.URL(), APIKey: key, Store: st,
		Primes: func(context.Context) (*mpc.Primes, error) {
			p, q := fixtures.SafePrimePair(int(nextPair.Add(1)))
			return &mpc.Primes{P: p, Q: q}, nil
		},
	}
}

// retryBusy runs f until it does not fail with BUSY: a change lock or a
// session slot of a session that just died (or of a killed process, for
// its lease) is still held. It gives up after a minute, far beyond the
// lease.
func retryBusy(f func() error) error {
	var err error
	for range 600 {
		if err = f(); bridge.Code(err) != wire.CodeBusy {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// signs has d sign a fresh digest and checks that the signature recovers
// to address.
func signs(ctx context.Context, d *bridge.Device, address string) error {
	var digest [32]byte
	rand.Read(digest[:])
	var sig *mpc.Signature
	err := retryBusy(func() (err error) { sig, err = d.Sign(ctx, digest); return err })
	if err != nil {
		return err
	}
	pub, err := crypto.SigToPub(digest[:], sig.Bytes())
	if err != nil {
		return fmt.Errorf("signature does not recover: %v", err)
	}
	if got := crypto.PubkeyToAddress(*pub); got != common.HexToAddress(address) {
		return fmt.Errorf("signature recovers to %s, want %s", got, address)
	}
	return nil
}

// agree asserts the invariant of a wallet after a crash: the device on st
// signs for the server's address with its share of the wallet, and holds
// nothing pending. With one device, its generation is the wallet's newest;
// with several, no newer. It returns the server's view.
func (w *world) agree(t *testing.T, key string, st *memStore) serverWallet {
	return w.agreeOf(t, key, st, true)
}

func (w *world) agreeOf(t *testing.T, key string, st *memStore, only bool) serverWallet {
	t.Helper()
	sv := w.srv.wallet(key)
	if !sv.Exists {
		t.Fatal("the server has no wallet")
	}
	d := w.device(key, st)
	if err := signs(ctx(t), d, sv.Address); err != nil {
		t.Fatalf("the wallet does not sign: %v", err)
	}
	// Signing may have run the aux-info a crash interrupted.
	sv = w.srv.wallet(key)
	info, err := d.State(ctx(t))
	if err != nil || info == nil {
		t.Fatalf("the device holds no wallet after signing: %v", err)
	}
	if info.Stale || info.Address != common.HexToAddress(sv.Address).Hex() || info.Generation > sv.Generation || (only && info.Generation != sv.Generation) || info.WalletID != sv.WalletID {
		t.Fatalf("device holds %+v, server %+v", info, sv)
	}
	if has(st, "share/pending") {
		t.Fatal("the device still holds a pending share after a session")
	}
	return sv
}

// op is one operation whose every frame boundary is a crash point.
type op struct {
	name string
	// prepare readies the wallet the next run starts from; last is what
	// the previous crash point left (nil before the first).
	prepare func(t *testing.T, w *world, last *wallet) *wallet
	run     func(ctx context.Context, w *world, wl *wallet) error
	// check asserts the invariant after a crash (and duetd's restart);
	// err is what run returned. It may change wl for the next point.
	check func(t *testing.T, w *world, wl *wallet, err error)
}

var ops = []op{
	{
		// Creation: key generation, committed alone as generation 1, then
		// aux-info in a session of its own. After a crash the wallet
		// exists on both sides and signs, or on neither and is created
		// again.
		name: "create",
		prepare: func(t *testing.T, w *world, _ *wallet) *wallet {
			return &wallet{key: w.srv.newClient(), store: &memStore{}}
		},
		run: func(ctx context.Context, w *world, wl *wallet) error {
			d := w.device(wl.key, wl.store)
			if _, err := d.Keygen(ctx); err != nil {
				return err
			}
			_, err := d.FinishAux(ctx)
			return err
		},
		check: func(t *testing.T, w *world, wl *wallet, err error) {
			sv := w.srv.wallet(wl.key)
			if !sv.Exists {
				if err == nil {
					t.Fatal("creation reported success, but the server has no wallet")
				}
				d := w.device(wl.key, wl.store)
				if info, err := d.State(ctx(t)); err != nil || info != nil {
					t.Fatalf("the server has no wallet, the device holds %+v (%v)", info, err)
				}
				err := retryBusy(func() error { _, err := d.Keygen(ctx(t)); return err })
				switch {
				case bridge.Code(err) == wire.CodeWalletExists:
					// The session the device left committed after we
					// looked; the device's next session activates its
					// share.
					if !w.srv.wallet(wl.key).Exists {
						t.Fatalf("creating the wallet again: %v, but the server has none", err)
					}
				case err != nil:
					t.Fatalf("creating the wallet again: %v", err)
				}
			}
			sv = w.agree(t, wl.key, wl.store)
			if sv.PendingGeneration != 0 {
				t.Fatalf("generation %d still pending after aux-info", sv.PendingGeneration)
			}
		},
	},
	{
		// Backup (password): a refresh of the signing pair into a backup
		// pair whose halves go to the custodian. After a crash the signing
		// pair is unchanged, and the backup either counts and recovers or
		// does not count and a new one succeeds.
		name:    "backup",
		prepare: prepareSigning(false),
		run: func(ctx context.Context, w *world, wl *wallet) error {
			return w.device(wl.key, wl.store).Backup(ctx, password)
		},
		check: func(t *testing.T, w *world, wl *wallet, err error) {
			sv := w.agree(t, wl.key, wl.store)
			if sv.Generation != wl.before.Generation {
				t.Fatalf("a backup changed the signing generation from %d to %d", wl.before.Generation, sv.Generation)
			}
			gen := w.srv.backupGen(wl.key, sv.WalletID, bridge.MethodPassword)
			switch {
			case gen > wl.backup && err != nil:
				// It counts though the device did not hear so: it must
				// recover, on a new device.
				fresh := &memStore{}
				d := w.device(wl.key, fresh)
				if err := retryBusy(func() error { _, err := d.Recover(ctx(t), password); return err }); err != nil {
					t.Fatalf("backup %d counts but does not recover: %v", gen, err)
				}
				w.agree(t, wl.key, fresh)
				wl.store = fresh
			case gen > wl.backup:
				if err := w.device(wl.key, wl.store).VerifyBackup(ctx(t), password); err != nil {
					t.Fatalf("backup %d reported done, but its drill fails: %v", gen, err)
				}
			case err == nil:
				t.Fatalf("backup reported done, but the confirmed backup is still generation %d", gen)
			default:
				d := w.device(wl.key, wl.store)
				if err := retryBusy(func() error { return d.Backup(ctx(t), password) }); err != nil {
					t.Fatalf("a new backup after the crash fails: %v", err)
				}
				if g := w.srv.backupGen(wl.key, sv.WalletID, bridge.MethodPassword); g <= wl.backup {
					t.Fatalf("a new backup succeeded, but the confirmed backup is generation %d, was %d", g, wl.backup)
				}
				if err := d.VerifyBackup(ctx(t), password); err != nil {
					t.Fatalf("the new backup's drill fails: %v", err)
				}
			}
		},
	},
	{
		// Refresh: a new signing pair of the same key. After a crash the
		// old or the new pair signs, and a pending generation left behind
		// goes with the next share change.
		name:    "refresh",
		prepare: prepareSigning(false),
		run: func(ctx context.Context, w *world, wl *wallet) error {
			_, err := w.device(wl.key, wl.store).Refresh(ctx)
			return err
		},
		check: func(t *testing.T, w *world, wl *wallet, err error) {
			sv := w.agree(t, wl.key, wl.store)
			switch sv.Generation {
			case wl.before.Generation + 1:
				if sv.PendingGeneration != 0 {
					t.Fatalf("generation %d committed, %d still pending", sv.Generation, sv.PendingGeneration)
				}
			case wl.before.Generation:
				if err == nil {
					t.Fatal("refresh reported success, but the server kept the old generation")
				}
				d := w.device(wl.key, wl.store)
				if err := retryBusy(func() error { _, err := d.Refresh(ctx(t)); return err }); err != nil {
					t.Fatalf("a new refresh after the crash fails: %v", err)
				}
				sv = w.agree(t, wl.key, wl.store)
				if sv.Generation != wl.before.Generation+1 || sv.PendingGeneration != 0 {
					t.Fatalf("after a new refresh the server holds generation %d, pending %d", sv.Generation, sv.PendingGeneration)
				}
			default:
				t.Fatalf("refresh of generation %d left generation %d", wl.before.Generation, sv.Generation)
			}
		},
	},
	{
		// Recovery on a new device from the password backup. After a
		// crash exactly one of the two devices signs: the old one if the
		// recovery did not commit, else the new one, and the old one is
		// stale.
		name:    "recovery",
		prepare: prepareSigning(true),
		run: func(ctx context.Context, w *world, wl *wallet) error {
			_, err := w.device(wl.key, wl.fresh()).Recover(ctx, password)
			return err
		},
		check: func(t *testing.T, w *world, wl *wallet, err error) {
			old, fresh := wl.store, wl.recovering
			// The new device goes first: if it holds a pending share, its
			// session waits until the recovery's server session (which
			// may outlive a crashed device) has committed or given up.
			d := w.device(wl.key, fresh)
			errNew := signs(ctx(t), d, wl.before.Address)
			sv := w.srv.wallet(wl.key)
			switch sv.Generation {
			case wl.before.Generation + 1:
				if errNew != nil {
					t.Fatalf("the recovery committed, but the new device does not sign: %v", errNew)
				}
				w.agree(t, wl.key, fresh)
				if err := signs(ctx(t), w.device(wl.key, old), sv.Address); !retired(err) {
					t.Fatalf("after a recovery the old device's signature gives %v, want %s or %s", err, wire.CodeDeviceRemoved, wire.CodeStaleDevice)
				}
			case wl.before.Generation:
				if err == nil {
					t.Fatal("recovery reported success, but the server kept the old generation")
				}
				// The new device holds no pair; what it may still hold
				// pending, its next recovery drops.
				if !holdsNone(errNew) {
					t.Fatalf("the device of the failed recovery signs with %v, want %s or %s", errNew, wire.CodeNoWallet, wire.CodeDeviceRemoved)
				}
				w.agree(t, wl.key, old)
				if has(fresh, "share/active") {
					t.Fatal("the device of the failed recovery holds an active share")
				}
				if err := retryBusy(func() error { _, err := d.Recover(ctx(t), password); return err }); err != nil {
					t.Fatalf("a new recovery after the crash fails: %v", err)
				}
				sv = w.agree(t, wl.key, fresh)
				if sv.Generation != wl.before.Generation+1 || sv.PendingGeneration != 0 {
					t.Fatalf("after a new recovery the server holds generation %d, pending %d", sv.Generation, sv.PendingGeneration)
				}
			default:
				t.Fatalf("recovery from generation %d left generation %d", wl.before.Generation, sv.Generation)
			}
			wl.store = fresh
		},
	},
}

// retired reports the error of a device whose pair the wallet retired.
func retired(err error) bool {
	c := bridge.Code(err)
	return c == wire.CodeDeviceRemoved || c == wire.CodeStaleDevice
}

// holdsNone reports the error of a device that holds no pair of the wallet.
func holdsNone(err error) bool {
	c := bridge.Code(err)
	return c == wire.CodeNoWallet || c == wire.CodeDeviceRemoved
}

// deviceID returns the id of the device on st.
func (w *world) deviceID(t *testing.T, key string, st *memStore) string {
	t.Helper()
	info, err := w.device(key, st).State(ctx(t))
	if err != nil || info == nil || info.Device == "" {
		t.Fatalf("the device holds no id: %+v, %v", info, err)
	}
	return info.Device
}

// removeDevice has the device on st remove the device id, once no other
// change of the wallet runs; it returns the session's error.
func (w *world) removeDevice(t *testing.T, key string, st *memStore, id string) error {
	d := w.device(key, st)
	return retryBusy(func() error { return d.RemoveDevice(ctx(t), id) })
}

// addDevice adds a device on a new store from the password backup.
func (w *world) addDevice(t *testing.T, key string) *memStore {
	t.Helper()
	st := &memStore{}
	d := w.device(key, st)
	if err := retryBusy(func() error { _, err := d.AddDevice(ctx(t), password); return err }); err != nil {
		t.Fatalf("adding a device: %v", err)
	}
	return st
}

// deviceOps are the operations of a wallet with several devices.
var deviceOps = []op{
	{
		// Adding a device from the password backup: a new pair for the
		// new device, the first device's pair untouched. After a crash
		// the first device signs, and the new one signs or holds no pair
		// and a new add-device succeeds.
		name:    "add-device",
		prepare: prepareSigning(true),
		run: func(ctx context.Context, w *world, wl *wallet) error {
			_, err := w.device(wl.key, wl.fresh()).AddDevice(ctx, password)
			return err
		},
		check: func(t *testing.T, w *world, wl *wallet, err error) {
			first, added := wl.store, wl.recovering
			// The new device goes first, as in a recovery.
			d := w.device(wl.key, added)
			errNew := signs(ctx(t), d, wl.before.Address)
			w.agreeOf(t, wl.key, first, false)
			switch {
			case errNew == nil:
			case holdsNone(errNew):
				if err == nil {
					t.Fatalf("add-device reported success, but the device signs with %v", errNew)
				}
				if has(added, "share/active") {
					t.Fatal("the device of the failed add-device holds an active share")
				}
				if err := retryBusy(func() error { _, err := d.AddDevice(ctx(t), password); return err }); err != nil {
					t.Fatalf("a new add-device after the crash fails: %v", err)
				}
			default:
				t.Fatalf("the added device signs with %v", errNew)
			}
			w.agreeOf(t, wl.key, added, false)
			w.agreeOf(t, wl.key, first, false)
			if sv := w.srv.wallet(wl.key); sv.PendingGeneration != 0 {
				t.Fatalf("generation %d still pending", sv.PendingGeneration)
			}
			// The next point adds a device again: this one goes, within
			// the wallet's cap of devices.
			if err := w.removeDevice(t, wl.key, first, w.deviceID(t, wl.key, added)); err != nil {
				t.Fatalf("removing the added device: %v", err)
			}
		},
	},
	{
		// Adding a device by the approval of the first, with a code: both
		// devices' sessions run side by side, and every frame of either is
		// a crash point. After a crash the first device signs with its own
		// pair, and the new one signs or holds no pair and a new approval
		// succeeds.
		name:    "approve-device",
		prepare: prepareSigning(false),
		run: func(ctx context.Context, w *world, wl *wallet) error {
			return w.approveJoin(ctx, wl.key, wl.store, wl.fresh())
		},
		check: func(t *testing.T, w *world, wl *wallet, err error) {
			first, added := wl.store, wl.recovering
			d := w.device(wl.key, added)
			errNew := signs(ctx(t), d, wl.before.Address)
			w.agreeOf(t, wl.key, first, false)
			switch {
			case errNew == nil:
			case holdsNone(errNew):
				if err == nil {
					t.Fatalf("the approval reported success, but the device signs with %v", errNew)
				}
				if has(added, "share/active") {
					t.Fatal("the device of the failed approval holds an active share")
				}
				if err := w.approveJoin(ctx(t), wl.key, first, added); err != nil {
					t.Fatalf("a new approval after the crash fails: %v", err)
				}
			default:
				t.Fatalf("the approved device signs with %v", errNew)
			}
			w.agreeOf(t, wl.key, added, false)
			w.agreeOf(t, wl.key, first, false)
			if sv := w.srv.wallet(wl.key); sv.PendingGeneration != 0 {
				t.Fatalf("generation %d still pending", sv.PendingGeneration)
			}
			if err := w.removeDevice(t, wl.key, first, w.deviceID(t, wl.key, added)); err != nil {
				t.Fatalf("removing the approved device: %v", err)
			}
		},
	},
	{
		// Removing a device, from another: after a crash the remaining
		// device signs, and the removed one is either still a device of
		// the wallet and signs, or gone and says DEVICE_REMOVED.
		name: "remove-device",
		prepare: func(t *testing.T, w *world, last *wallet) *wallet {
			wl := prepareSigning(true)(t, w, last)
			if wl.other == nil {
				wl.other = w.addDevice(t, wl.key)
			}
			wl.target = w.deviceID(t, wl.key, wl.other)
			return wl
		},
		run: func(ctx context.Context, w *world, wl *wallet) error {
			return w.device(wl.key, wl.store).RemoveDevice(ctx, wl.target)
		},
		check: func(t *testing.T, w *world, wl *wallet, err error) {
			// A removal of a device the wallet never had waits for the
			// lock of the one the crash cut, if it still runs.
			var none [16]byte
			rand.Read(none[:])
			if e := w.removeDevice(t, wl.key, wl.store, hex.EncodeToString(none[:])); bridge.Code(e) != wire.CodeInvalidArgument {
				t.Fatalf("removing an unknown device: %v, want %s", e, wire.CodeInvalidArgument)
			}
			w.agreeOf(t, wl.key, wl.store, false)
			errOther := signs(ctx(t), w.device(wl.key, wl.other), wl.before.Address)
			list, lerr := w.device(wl.key, wl.store).ListDevices(ctx(t))
			if lerr != nil {
				t.Fatalf("listing the devices: %v", lerr)
			}
			listed := false
			for _, x := range list {
				listed = listed || x.ID == wl.target
			}
			switch {
			case errOther == nil:
				if err == nil {
					t.Fatal("the removal reported success, but the device still signs")
				}
				if !listed {
					t.Fatal("a device that signs is not listed")
				}
				w.agreeOf(t, wl.key, wl.other, false)
			case bridge.Code(errOther) == wire.CodeDeviceRemoved:
				if listed {
					t.Fatal("a removed device is still listed")
				}
				wl.other = nil
			default:
				t.Fatalf("the device being removed signs with %v", errOther)
			}
		},
	},
}

// approveJoin adds the device on bst to the wallet by the approval of the
// device on ast, as a user would: the new device asks and shows its code,
// the user types it on the other device, and types it again if that one
// failed for want of the network while the new device still waits. It
// returns the new device's error joined with the approving device's last.
func (w *world) approveJoin(ctx context.Context, key string, ast, bst *memStore) error {
	b, a := w.device(key, bst), w.device(key, ast)
	codes := make(chan string, 1)
	out := make(chan error, 1)
	go func() {
		_, err := b.RequestApproval(ctx, func(code string) { codes <- code })
		out <- err
	}()
	var code string
	select {
	case code = <-codes:
	case err := <-out:
		return err
	}
	var errA error
	for range 10 {
		errA = retryBusy(func() error { return a.ApproveDevice(ctx, code) })
		if errA == nil || bridge.Code(errA) == wire.CodeApprovalFailed {
			// Approved, or the request is no longer waiting: the new
			// device's session decides.
			break
		}
		select {
		case errB := <-out:
			return errors.Join(errB, errA)
		case <-time.After(2 * time.Second):
		}
	}
	errB := <-out
	if errB == nil {
		return nil
	}
	return errors.Join(errB, errA)
}

// fresh gives the recovering device of the next run an empty store.
func (wl *wallet) fresh() *memStore {
	wl.recovering = &memStore{}
	return wl.recovering
}

// prepareSigning makes, at first, a signing-ready wallet (with a
// password backup if backedUp), and reuses it afterwards; it notes the
// server's generation and backup before the run.
func prepareSigning(backedUp bool) func(t *testing.T, w *world, last *wallet) *wallet {
	return func(t *testing.T, w *world, wl *wallet) *wallet {
		if wl == nil {
			wl = &wallet{key: w.srv.newClient(), store: &memStore{}}
			d := w.device(wl.key, wl.store)
			if _, err := d.Keygen(ctx(t)); err != nil {
				t.Fatal(err)
			}
			if _, err := d.FinishAux(ctx(t)); err != nil {
				t.Fatal(err)
			}
			if backedUp {
				if err := d.Backup(ctx(t), password); err != nil {
					t.Fatal(err)
				}
			}
		}
		wl.before = w.srv.wallet(wl.key)
		wl.backup = w.srv.backupGen(wl.key, wl.before.WalletID, bridge.MethodPassword)
		return wl
	}
}

// crashKind is what dies at a crash point.
type crashKind struct {
	name string
	// server: duetd is killed with SIGKILL and restarted on the same
	// database and address; otherwise the device's socket drops both ways
	// and a fresh device starts on its store.
	server bool
}

var kinds = []crashKind{{"kill-duetd", true}, {"device-crash", false}}

// TestCrash kills duetd (SIGKILL) or the device at every frame boundary of
// each operation (create, backup, refresh, recovery, add-device,
// approve-device, remove-device) and asserts the operation's invariant after each crash.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills duetd at every frame of every share change")
	}
	// Each operation has its own duetd and database; they run side by
	// side, so that one's restarts and lock leases overlap another's work.
	for _, o := range append(ops, deviceOps...) {
		t.Run(o.name, func(t *testing.T) {
			t.Parallel()
			runCrashPoints(t, o)
		})
	}
}

func runCrashPoints(t *testing.T, o op) {
	start := time.Now()
	srv := startDuetd(t)
	px := newProxy("ws://" + srv.addr + "/v1/session")
	t.Cleanup(px.Close)
	w := &world{t: t, srv: srv, px: px}

	// An uncrashed run counts the frames each way and meets the same
	// invariant.
	wl := o.prepare(t, w, nil)
	px.arm(nil)
	if err := o.run(ctx(t), w, wl); err != nil {
		t.Fatalf("%s without a crash: %v", o.name, err)
	}
	nDevice, nServer, _ := px.counts()
	o.check(t, w, wl, nil)
	if nDevice < 2 || nServer < 2 {
		t.Fatalf("%s: only %d device and %d server frames", o.name, nDevice, nServer)
	}

	points := 0
	for _, kind := range kinds {
		for _, from := range []side{fromDevice, fromServer} {
			n := nDevice
			if from == fromServer {
				n = nServer
			}
			for k := 1; k <= n; k++ {
				name := fmt.Sprintf("%s/%s-frame-%d", kind.name, from, k)
				t.Run(name, func(t *testing.T) {
					wl = o.prepare(t, w, wl)
					crash := func() {}
					if kind.server {
						crash = srv.kill
					}
					var err error
					var fired bool
					// A run that meets BUSY before its crash point found the
					// lock of the last one still held: it starts over.
					for try := 0; ; try++ {
						px.arm(&crashAt{from: from, k: k, crash: crash})
						err = o.run(ctx(t), w, wl)
						_, _, fired = px.counts()
						if fired || bridge.Code(err) != wire.CodeBusy || try == 600 {
							break
						}
						time.Sleep(100 * time.Millisecond)
					}
					px.arm(nil)
					if !fired {
						t.Fatalf("%v (the run ended with %v)", errNotReached, err)
					}
					if kind.server {
						srv.start()
					}
					o.check(t, w, wl, err)
				})
				points++
				if t.Failed() {
					return
				}
			}
		}
	}
	t.Logf("%s: %d device and %d server frames, %d crash points, duetd started %d times, %v",
		o.name, nDevice, nServer, points, srv.starts, time.Since(start).Round(time.Second))
}

// memStore is a device's store in memory; a crashed device's successor
// gets the same one, as it would the same IndexedDB.
type memStore = bridge.MemoryStore

// has reports whether st holds name (the device's store layout:
// share/active and share/pending are its two shares).
func has(st *memStore, name string) bool {
	_, ok := st.Snapshot()[name]
	return ok
}
