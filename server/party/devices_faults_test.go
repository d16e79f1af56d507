package party_test

import (
	"crypto/rand"
	"testing"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/store"
)

// The device operations when the store or the custodian fails under them:
// each is refused with its own message, nothing changes, and the devices
// still sign.
func TestDeviceStoreFaults(t *testing.T) {
	e, f := newFaultEnv(t)
	a := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	pw := &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"}
	if err := a.Backup(ctx(t), pw); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		w := walletState(t, e)
		ds, err := e.store.Devices(ctx(t), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(ds)
	}

	b := e.newDevice(e.srv.URL)
	f.failOnce("Devices", errBroken)
	_, err = b.AddDevice(ctx(t), pw)
	f.reset()
	wantRefused(t, "add-device whose devices cannot be counted", err, "SERVER_ERROR", "loading the wallet's devices failed")
	if n := count(); n != 1 {
		t.Fatalf("a refused add-device left %d devices", n)
	}
	if _, err := b.AddDevice(ctx(t), pw); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		what, method, msg string
	}{
		{"a list the store cannot load", "Devices", "loading the wallet's devices failed"},
		{"a stored device id that is not hex", "Devices:corrupt", "a stored device id is corrupt"},
	} {
		f.failOnce(tc.method, errBroken)
		_, err := a.ListDevices(ctx(t))
		f.reset()
		wantRefused(t, tc.what, err, "SERVER_ERROR", tc.msg)
	}

	for _, tc := range []struct {
		what, method, msg string
	}{
		{"a removal whose devices cannot be counted", "Devices", "loading the wallet's devices failed"},
		{"a removal the store refuses", "RemoveDevice", "removing the device failed"},
	} {
		f.failOnce(tc.method, errBroken)
		err := a.RemoveDevice(ctx(t), deviceOf(t, b))
		f.reset()
		wantRefused(t, tc.what, err, "SERVER_ERROR", tc.msg)
		if n := count(); n != 2 {
			t.Fatalf("%s: %d devices left, want 2", tc.what, n)
		}
	}
	mustSign(t, b, info.Address, "the device whose removal failed")

	// The last device: the custodian is asked whether a backup is
	// complete, and a custodian that cannot say keeps the device.
	if err := a.RemoveDevice(ctx(t), deviceOf(t, b)); err != nil {
		t.Fatal(err)
	}
	f.route(`^GET .*/wallets/[^/]+$`, answer(500, `{"error":{"code":"internal","message":"refused"}}`))
	err = a.RemoveDevice(ctx(t), deviceOf(t, a))
	f.reset()
	wantRefused(t, "removing the last device with the custodian down", err, "SERVER_ERROR", "custodian store unavailable")
	if n := count(); n != 1 {
		t.Fatalf("a refused removal of the last device left %d devices", n)
	}
	mustSign(t, a, info.Address, "the last device after the refused removal")
}

// A creation that finds the client's unfinished wallet committed by its
// own session meanwhile (the drop reports it no longer pending) looks
// again: a wallet now active is WALLET_EXISTS, a lookup that fails is
// SERVER_ERROR, and neither starts over.
func TestKeygenFindsUnfinishedWalletCommitted(t *testing.T) {
	e, f := newFaultEnv(t)
	id, _ := apikey.NewID(rand.Reader)
	w := store.Wallet{ID: id, ClientID: e.clientID, PublicKey: []byte{2, 1}, Address: "0x00000000000000000000000000000000000000aa"}
	if err := e.store.CreateWallet(ctx(t), w, 1, []byte("share 1"), make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	// The second lookup, after the drop, is the one rewritten.
	secondLookup := func(second func(store.Wallet) (store.Wallet, error)) {
		calls := 0
		f.mu.Lock()
		f.wallet = func(w store.Wallet, err error) (store.Wallet, error) {
			calls++
			if calls == 2 && err == nil {
				return second(w)
			}
			return w, err
		}
		f.mu.Unlock()
	}
	for _, tc := range []struct {
		what      string
		second    func(store.Wallet) (store.Wallet, error)
		code, msg string
	}{
		{"committed meanwhile", func(w store.Wallet) (store.Wallet, error) {
			w.ActiveGeneration, w.PendingGeneration = 1, 0
			return w, nil
		}, "WALLET_EXISTS", "this client already has a wallet"},
		{"a lookup that fails", func(store.Wallet) (store.Wallet, error) {
			return store.Wallet{}, errBroken
		}, "SERVER_ERROR", "loading the wallet failed"},
	} {
		f.failOnce("DropPending", store.ErrNotPending)
		secondLookup(tc.second)
		_, err := e.newDevice(e.srv.URL).Keygen(ctx(t))
		f.reset()
		wantRefused(t, tc.what, err, tc.code, tc.msg)
		got, err := e.store.WalletByClient(ctx(t), e.clientID)
		if err != nil || got.ID != id || got.ActiveGeneration != 0 || got.PendingGeneration != 1 {
			t.Fatalf("%s: the unfinished wallet changed: %+v, %v", tc.what, got, err)
		}
	}
}
