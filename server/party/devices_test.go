package party_test

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/server/party"
	"github.com/duetwallet/duet/wire"
)

// deviceIDs lists the ids ListDevices gives, and which one is current.
func deviceIDs(t *testing.T, d *bridge.Device) (ids []string, current string) {
	t.Helper()
	list, err := d.ListDevices(ctx(t))
	if err != nil {
		t.Fatalf("list devices: %v", err)
	}
	for _, x := range list {
		ids = append(ids, x.ID)
		if x.Current {
			if current != "" {
				t.Fatalf("two devices marked current: %+v", list)
			}
			current = x.ID
		}
	}
	return ids, current
}

func deviceOf(t *testing.T, d *bridge.Device) string {
	t.Helper()
	st, err := d.State(ctx(t))
	if err != nil || st == nil || len(st.Device) != 2*wire.DeviceIDSize {
		t.Fatalf("device state %+v, %v; want a device id", st, err)
	}
	return st.Device
}

// TestTwoDevicesOneWallet: a second device joins through a backup method and
// gets its own signing pair; both sign, each refreshes its own pair without
// touching the other's; removing one stops it (DEVICE_REMOVED) while the
// other signs on; the removed device comes back through add-device, and a
// recovery retires every other device.
func TestTwoDevicesOneWallet(t *testing.T) {
	e := newEnv(t)
	registerWebhook(t, e, "https://hooks.example.com/duet", http.StatusCreated)
	a := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	pw := &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"}
	if err := a.Backup(ctx(t), pw); err != nil {
		t.Fatal(err)
	}
	b := e.newDevice(e.srv.URL)
	wrong := &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "incorrect horse"}
	if _, err := b.AddDevice(ctx(t), wrong); bridge.Code(err) != wire.CodeWrongPassword {
		t.Fatalf("add-device with a wrong password: %v", err)
	}
	if st := b.Store.(*memStore).Snapshot(); len(st) != 0 {
		t.Fatalf("a failed add-device stored %d items", len(st))
	}
	added, err := b.AddDevice(ctx(t), pw)
	if err != nil {
		t.Fatal(err)
	}
	idA, idB := deviceOf(t, a), deviceOf(t, b)
	if added.Address != info.Address || added.Device != idB || idA == idB || added.Generation != info.Generation+1 {
		t.Fatalf("added device %+v; want address %s, its own id and generation %d", added, info.Address, info.Generation+1)
	}
	mustSign(t, a, info.Address, "first device")
	mustSign(t, b, info.Address, "second device")

	ids, cur := deviceIDs(t, a)
	if strings.Join(ids, " ") != idA+" "+idB || cur != idA {
		t.Fatalf("devices listed to a: %v current %s; want %s %s, current %s", ids, cur, idA, idB, idA)
	}
	list, err := b.ListDevices(ctx(t))
	if err != nil || len(list) != 2 || !list[1].Current || list[1].LastUsedAt.IsZero() || time.Since(list[1].CreatedAt) > time.Hour {
		t.Fatalf("devices listed to b: %+v %v; want b current, with a last use", list, err)
	}

	// Each device's refresh changes its own pair only.
	refA, err := a.Refresh(ctx(t))
	if err != nil || refA.Generation != added.Generation+1 {
		t.Fatalf("a's refresh: %+v %v; want generation %d", refA, err, added.Generation+1)
	}
	mustSign(t, b, info.Address, "b after a's refresh")
	refB, err := b.Refresh(ctx(t))
	if err != nil || refB.Generation != refA.Generation+1 {
		t.Fatalf("b's refresh: %+v %v; want generation %d", refB, err, refA.Generation+1)
	}
	mustSign(t, a, info.Address, "a after b's refresh")

	// b removes a: a is told DEVICE_REMOVED and keeps its share, marked.
	if err := b.RemoveDevice(ctx(t), idA); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Sign(ctx(t), [32]byte{1}); bridge.Code(err) != wire.CodeDeviceRemoved {
		t.Fatalf("removed device signing: %v, want DEVICE_REMOVED", err)
	}
	if _, err := a.ListDevices(ctx(t)); bridge.Code(err) != wire.CodeDeviceRemoved {
		t.Fatalf("removed device listing: %v, want DEVICE_REMOVED", err)
	}
	if st, err := a.State(ctx(t)); err != nil || st == nil || !st.Stale {
		t.Fatalf("removed device state %+v, %v; want its share kept, stale", st, err)
	}
	if ready, err := a.IsSigningReady(ctx(t)); err != nil || ready {
		t.Fatalf("removed device signing-ready: %v %v, want false", ready, err)
	}
	mustSign(t, b, info.Address, "b after removing a")
	if ids, _ := deviceIDs(t, b); strings.Join(ids, " ") != idB {
		t.Fatalf("devices after removing a: %v", ids)
	}

	// The removed device joins again through the backup; b keeps its pair.
	if _, err := a.AddDevice(ctx(t), pw); err != nil {
		t.Fatalf("add-device on a removed device: %v", err)
	}
	mustSign(t, a, info.Address, "a added again")
	mustSign(t, b, info.Address, "b after a came back")
	if st, err := a.State(ctx(t)); err != nil || st.Stale || st.Device != idA {
		t.Fatalf("a's state after joining again: %+v %v", st, err)
	}
	if ready, err := a.IsSigningReady(ctx(t)); err != nil || !ready {
		t.Fatalf("a signing-ready after joining again: %v %v, want true", ready, err)
	}

	// A recovery on a third device retires both.
	c := e.newDevice(e.srv.URL)
	if _, err := c.Recover(ctx(t), pw); err != nil {
		t.Fatal(err)
	}
	mustSign(t, c, info.Address, "recovered")
	for name, d := range map[string]*bridge.Device{"a": a, "b": b} {
		if _, err := d.Sign(ctx(t), [32]byte{2}); bridge.Code(err) != wire.CodeDeviceRemoved {
			t.Errorf("%s after a recovery elsewhere: %v, want DEVICE_REMOVED", name, err)
		}
	}
	if ids, cur := deviceIDs(t, c); len(ids) != 1 || cur != ids[0] {
		t.Fatalf("devices after the recovery: %v current %s", ids, cur)
	}
	// A retired device recovers in turn.
	if _, err := b.Recover(ctx(t), pw); err != nil {
		t.Fatalf("recovery on a retired device: %v", err)
	}
	mustSign(t, b, info.Address, "b recovered")
	wantEvents(t, e, "wallet.created", "wallet.backed_up", "device.added", "device.removed", "device.added", "wallet.recovered", "wallet.recovered")
}

// TestDeviceRemovesItself: a device may remove itself; once the server
// confirmed, it holds nothing of the wallet, and the other device signs on.
func TestDeviceRemovesItself(t *testing.T) {
	e := newEnv(t)
	a := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	pw := &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"}
	if err := a.Backup(ctx(t), pw); err != nil {
		t.Fatal(err)
	}
	b := e.newDevice(e.srv.URL)
	if _, err := b.AddDevice(ctx(t), pw); err != nil {
		t.Fatal(err)
	}
	mustSign(t, b, info.Address, "before")
	if err := b.RemoveDevice(ctx(t), deviceOf(t, b)); err != nil {
		t.Fatal(err)
	}
	if st := b.Store.(*memStore).Snapshot(); len(st) != 0 {
		keys := make([]string, 0, len(st))
		for k := range st {
			keys = append(keys, k)
		}
		t.Fatalf("a device that removed itself still holds %v", keys)
	}
	if _, err := b.Sign(ctx(t), [32]byte{1}); bridge.Code(err) != wire.CodeDeviceRemoved {
		t.Fatalf("sign after removing itself: %v, want DEVICE_REMOVED", err)
	}
	mustSign(t, a, info.Address, "the other device")
	if ids, _ := deviceIDs(t, a); len(ids) != 1 || ids[0] != deviceOf(t, a) {
		t.Fatalf("devices after b removed itself: %v", ids)
	}
}

// TestLastDeviceKeepsTheKey: the wallet's only device cannot remove itself
// while the wallet has no backup, which would leave nothing that signs or
// recovers; once backed up, it can.
func TestLastDeviceKeepsTheKey(t *testing.T) {
	e := newEnv(t)
	a := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	before := a.Store.(*memStore).Snapshot()
	if err := a.RemoveDevice(ctx(t), deviceOf(t, a)); bridge.Code(err) != wire.CodeForbidden {
		t.Fatalf("removing the last device of a wallet without a backup: %v, want FORBIDDEN", err)
	}
	if after := a.Store.(*memStore).Snapshot(); len(after) != len(before) {
		t.Fatalf("a refused removal changed the device's store: %d entries, had %d", len(after), len(before))
	}
	mustSign(t, a, info.Address, "after the refused removal")
	if err := a.Backup(ctx(t), &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	if err := a.RemoveDevice(ctx(t), deviceOf(t, a)); err != nil {
		t.Fatalf("removing the last device of a backed-up wallet: %v", err)
	}
}

// TestDeviceGuards: add-device refuses a device that already has a pair
// (a client-key holder cannot replace another device's pair by naming its
// id), a wallet without a backup, and devices beyond the cap; removing an
// unknown device or with a bad id changes nothing; list-devices and
// remove-device need the device's proof of its share, made in that session.
func TestDeviceGuards(t *testing.T) {
	e := newEnvWith(t, envConfig{limits: party.Limits{ShareChanges: 1 << 20, Aborts: 1 << 20, Devices: 2}})
	a := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	pw := &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"}
	if _, err := e.newDevice(e.srv.URL).AddDevice(ctx(t), pw); bridge.Code(err) != wire.CodeNotBackedUp {
		t.Fatalf("add-device without a backup: %v, want NOT_BACKED_UP", err)
	}
	if err := a.Backup(ctx(t), pw); err != nil {
		t.Fatal(err)
	}
	before := a.Store.(*memStore).Snapshot()
	if _, err := a.AddDevice(ctx(t), pw); bridge.Code(err) != wire.CodeWalletExists {
		t.Fatalf("add-device on a device with a pair: %v, want WALLET_EXISTS", err)
	}
	// Another device presenting a's id: refused, a's pair untouched.
	thief := e.newDevice(e.srv.URL)
	thief.Store.Put(ctx(t), "device", a.Store.(*memStore).Snapshot()["device"])
	if _, err := thief.AddDevice(ctx(t), pw); bridge.Code(err) != wire.CodeWalletExists {
		t.Fatalf("add-device naming another device's id: %v, want WALLET_EXISTS", err)
	}
	if !equalSnapshots(before, a.Store.(*memStore).Snapshot()) {
		t.Fatal("a refused add-device changed the device")
	}
	mustSign(t, a, info.Address, "after the refused add-devices")

	b := e.newDevice(e.srv.URL)
	if _, err := b.AddDevice(ctx(t), pw); err != nil {
		t.Fatal(err)
	}
	_, err = e.newDevice(e.srv.URL).AddDevice(ctx(t), pw)
	if bridge.Code(err) != wire.CodeForbidden || !strings.Contains(err.Error(), "the most it may have") {
		t.Fatalf("a third device over a cap of two: %v, want FORBIDDEN", err)
	}

	for _, id := range []string{"zz", "abcd", strings.Repeat("ab", 17)} {
		if err := a.RemoveDevice(ctx(t), id); bridge.Code(err) != wire.CodeInvalidArgument {
			t.Errorf("remove device %q: %v, want INVALID_ARGUMENT", id, err)
		}
	}
	if err := a.RemoveDevice(ctx(t), strings.Repeat("ab", 16)); bridge.Code(err) != wire.CodeInvalidArgument {
		t.Errorf("removing a device the wallet does not have: %v, want INVALID_ARGUMENT", err)
	}
	if ids, _ := deviceIDs(t, a); len(ids) != 2 {
		t.Fatalf("devices after refused removals: %v", ids)
	}

	// Raw sessions: a proof of another session, or of another share, is
	// refused and removes nothing.
	share := deviceShare(t, a)
	for name, proof := range map[string]func(h *wire.Hello, w *wire.Welcome) *wire.Frame{
		"proof of another session": func(h *wire.Hello, w *wire.Welcome) *wire.Frame {
			return proofFrame(t, wire.RemoveDeviceSessionID(w.WalletID, share.Generation, h.Nonce, bytes.Repeat([]byte{9}, 32)), share)
		},
		"list-devices proof": func(h *wire.Hello, w *wire.Welcome) *wire.Frame {
			return proofFrame(t, wire.ListDevicesSessionID(w.WalletID, share.Generation, h.Nonce, w.Nonce), share)
		},
		"proof of b's share": func(h *wire.Hello, w *wire.Welcome) *wire.Frame {
			return proofFrame(t, wire.RemoveDeviceSessionID(w.WalletID, share.Generation, h.Nonce, w.Nonce), deviceShare(t, b))
		},
	} {
		h := hello(t, e, wire.OpRemoveDevice, wire.Generations{Active: share.Generation})
		h.Device, _ = hex.DecodeString(deviceOf(t, a))
		c := rawSession(t, e, h)
		w, err := wire.ParseWelcome(nextFrame(t, c))
		if err != nil {
			t.Fatal(err)
		}
		send(t, c, proof(h, w))
		wantErrorFrame(t, name, nextFrame(t, c), wire.CodeProtocolAbort, "did not prove")
	}
	if ids, _ := deviceIDs(t, a); len(ids) != 2 {
		t.Fatalf("devices after refused proofs: %v", ids)
	}
	mustSign(t, b, info.Address, "b after the refused removals")
}

// TestDeviceFromBeforeDevices: a wallet made before devices existed has one
// device with the empty id. It signs on, lists itself, another device
// joins beside it, and it can be removed by its empty id.
func TestDeviceFromBeforeDevices(t *testing.T) {
	e := newEnv(t)
	a := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	pw := &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"}
	if err := a.Backup(ctx(t), pw); err != nil {
		t.Fatal(err)
	}
	// What the store's migration makes of such a wallet, and what such a
	// device holds: its shares, and no id.
	for _, q := range []string{`UPDATE server_shares SET device_id = ''`, `UPDATE devices SET device_id = ''`} {
		if _, err := e.db.ExecContext(ctx(t), q); err != nil {
			t.Fatal(err)
		}
	}
	a.Store.Delete(ctx(t), "device")
	mustSign(t, a, info.Address, "a device from before devices")
	if st, err := a.State(ctx(t)); err != nil || st.Device != "" {
		t.Fatalf("state of a device from before devices: %+v %v", st, err)
	}
	b := e.newDevice(e.srv.URL)
	if _, err := b.AddDevice(ctx(t), pw); err != nil {
		t.Fatal(err)
	}
	ids, cur := deviceIDs(t, a)
	if len(ids) != 2 || ids[0] != "" || cur != "" {
		t.Fatalf("devices listed to the old device: %v current %q", ids, cur)
	}
	mustSign(t, a, info.Address, "the old device beside a new one")
	if err := b.RemoveDevice(ctx(t), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Sign(ctx(t), [32]byte{1}); bridge.Code(err) != wire.CodeDeviceRemoved {
		t.Fatalf("the old device after its removal: %v, want DEVICE_REMOVED", err)
	}
	mustSign(t, b, info.Address, "b")
}

// TestTwoDevicesChangeSharesAtOnce: two devices of one wallet refresh at
// once through two replicas on one database. The first holds the wallet's
// lock in the database; the second gets a clear BUSY, and each device ends
// with a pair it signs with.
func TestTwoDevicesChangeSharesAtOnce(t *testing.T) {
	eachDatabase(t, func(t *testing.T, c *replicas) {
		ra, rb := c.r[0], c.r[1]
		a := c.device(ra.srv.URL, nil)
		info, err := keygenReady(ctx(t), a)
		if err != nil {
			t.Fatal(err)
		}
		pw := &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"}
		if err := a.Backup(ctx(t), pw); err != nil {
			t.Fatal(err)
		}
		b := c.device(rb.srv.URL, nil)
		added, err := b.AddDevice(ctx(t), pw)
		if err != nil {
			t.Fatal(err)
		}
		wsURL := func(r *replica) string { return "ws" + strings.TrimPrefix(r.srv.URL, "http") + "/v1/session" }
		gate := newAckGate(wsURL(ra))
		pa := httptest.NewServer(gate)
		defer pa.Close()

		resA := make(chan error, 1)
		go func() { _, err := withURL(a, pa.URL).Refresh(ctx(t)); resA <- err }()
		<-gate.held // a's new pair is pending, its Ack held
		_, errB := b.Refresh(ctx(t))
		close(gate.release)
		if err := <-resA; err != nil {
			t.Errorf("a's refresh, which held the lock: %v", err)
		}
		if bridge.Code(errB) != wire.CodeBusy {
			t.Errorf("b's refresh at the same time: %v, want BUSY", errB)
		}
		w := c.wallet()
		if w.ActiveGeneration != added.Generation+1 || w.PendingGeneration != 0 {
			t.Errorf("wallet after both: %+v, want generation %d and nothing pending", w, added.Generation+1)
		}
		mustSign(t, a, info.Address, "a after the race")
		mustSign(t, b, info.Address, "b after the race")
		if st, _ := b.State(ctx(t)); st == nil || st.Generation != added.Generation {
			t.Errorf("b's state %+v, want its pair of generation %d kept", st, added.Generation)
		}
		// The loser tries again and wins.
		if _, err := b.Refresh(ctx(t)); err != nil {
			t.Fatalf("b's refresh after the race: %v", err)
		}
		mustSign(t, b, info.Address, "b refreshed")
		mustSign(t, a, info.Address, "a after b's refresh")
	})
}
