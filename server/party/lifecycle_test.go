package party_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/wire"
)

// TestRetiredShareKeptUntilRecovery: after a recovery on another device, the
// old device's share is kept and marked stale; everything that needs the
// device's pair fails with DEVICE_REMOVED (the recovery retired it) and
// changes nothing; a recovery on the old device then replaces its share,
// and the other device is retired in turn.
func TestRetiredShareKeptUntilRecovery(t *testing.T) {
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
	if _, err := b.Recover(ctx(t), pw); err != nil {
		t.Fatal(err)
	}

	storeA := a.Store.(*memStore)
	retired := storeA.Snapshot()["share/active"]
	for name, op := range map[string]func() error{
		"sign":    func() error { _, err := a.Sign(ctx(t), [32]byte{1}); return err },
		"refresh": func() error { _, err := a.Refresh(ctx(t)); return err },
		"backup":  func() error { return a.Backup(ctx(t), pw) },
	} {
		if err := op(); bridge.Code(err) != wire.CodeDeviceRemoved {
			t.Errorf("%s on the old device: %v, want DEVICE_REMOVED", name, err)
		}
	}
	if _, err := a.Keygen(ctx(t)); bridge.Code(err) != wire.CodeWalletExists {
		t.Errorf("keygen on the old device: %v, want WALLET_EXISTS", err)
	}
	if got := storeA.Snapshot()["share/active"]; !bytes.Equal(got, retired) {
		t.Fatal("the old device's share changed without a recovery")
	}
	st, err := a.State(ctx(t))
	if err != nil || st == nil || !st.Stale || st.Generation != 2 {
		t.Fatalf("old device state: %+v, %v; want its generation 2 share, stale", st, err)
	}
	if w, err := e.store.WalletByClient(ctx(t), e.clientID); err != nil || w.ActiveGeneration != 3 {
		t.Fatalf("server after the old device's attempts: %+v, %v; want generation 3", w, err)
	}

	rec, err := a.Recover(ctx(t), pw)
	if err != nil {
		t.Fatalf("recovery on a device holding a retired share: %v", err)
	}
	if rec.Address != info.Address || rec.Generation != 4 {
		t.Fatalf("recovered %+v, want %s at generation 4", rec, info.Address)
	}
	if st, err := a.State(ctx(t)); err != nil || st == nil || st.Stale || st.Generation != 4 {
		t.Fatalf("state after recovery: %+v, %v; want generation 4, not stale", st, err)
	}
	mustSign(t, a, info.Address, "recovered over a retired share")
	if _, err := b.Sign(ctx(t), [32]byte{2}); bridge.Code(err) != wire.CodeDeviceRemoved {
		t.Fatalf("the device retired in turn signs: %v, want DEVICE_REMOVED", err)
	}
}

// lyingServer answers every Hello with a Welcome naming the wallet at
// generation gen with the pair digest pair, then waits for the device to
// end the session.
func lyingServer(t *testing.T, walletID string, gen uint64, pair []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		conn := wire.NewConn(ws, 10*time.Second)
		f, err := conn.Recv(r.Context())
		if err != nil {
			return
		}
		if _, err := wire.ParseHello(f); err != nil {
			return
		}
		nonce := make([]byte, 32)
		rand.Read(nonce)
		if err := conn.Send(r.Context(), (&wire.Welcome{WalletID: walletID, Nonce: nonce, Active: gen, Pair: pair, Latest: gen}).Frame()); err != nil {
			return
		}
		conn.Recv(r.Context())
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestAnotherPairDoesNotDeleteTheShare: a server that names another active
// pair — of the device's generation or another — cannot make the device
// delete its share: the device keeps it, marked stale, and signs again once
// the honest server names its pair.
func TestAnotherPairDoesNotDeleteTheShare(t *testing.T) {
	e := newEnv(t)
	dev := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	st, err := dev.State(ctx(t))
	if err != nil || st.Stale || len(st.Pair) != 64 {
		t.Fatalf("state after keygen: %+v, %v", st, err)
	}
	mem := dev.Store.(*memStore)
	held := mem.Snapshot()["share/active"]
	other := bytes.Repeat([]byte{0x5a}, 32)
	for _, gen := range []uint64{info.Generation, info.Generation + 1, info.Generation + 7} {
		liar := &bridge.Device{URL: lyingServer(t, info.WalletID, gen, other), APIKey: dev.APIKey, Store: mem, FrameTimeout: 10 * time.Second}
		if _, err := liar.Sign(ctx(t), [32]byte{3}); bridge.Code(err) != wire.CodeStaleDevice {
			t.Errorf("server naming another pair at generation %d: sign gave %v, want STALE_DEVICE", gen, err)
		}
		if got := mem.Snapshot()["share/active"]; !bytes.Equal(got, held) {
			t.Fatalf("server naming another pair at generation %d changed the device's share", gen)
		}
		if st, err := dev.State(ctx(t)); err != nil || st == nil || !st.Stale {
			t.Fatalf("state after a server named another pair: %+v, %v; want the share kept, stale", st, err)
		}
	}
	// The honest server names the device's pair: the share is active again.
	mustSign(t, dev, info.Address, "the honest server again")
	if st, err := dev.State(ctx(t)); err != nil || st == nil || st.Stale {
		t.Fatalf("state after the honest server: %+v, %v; want not stale", st, err)
	}
}

// TestPendingReconciledByPair: a pending share is activated only when the
// server names its pair; another pair of the same generation drops it and
// leaves the active share as it was.
func TestPendingReconciledByPair(t *testing.T) {
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
	if _, err := b.Recover(ctx(t), pw); err != nil {
		t.Fatal(err)
	}
	// a holds its generation 2 share as active and, as pending, b's
	// generation 3 share and b's device id: what a recovery on a whose
	// commit was interrupted would leave.
	next := b.Store.(*memStore).Snapshot()["share/active"]
	share := new(mpc.KeyShare)
	if err := share.UnmarshalBinary(next); err != nil || share.Generation != 3 {
		t.Fatalf("the recovered share: generation %d, %v; want 3", share.Generation, err)
	}
	memA := a.Store.(*memStore)
	held := memA.Snapshot()["share/active"]
	memA.Put(context.Background(), "share/pending", next)
	memA.Put(context.Background(), "device", b.Store.(*memStore).Snapshot()["device"])

	liar := &bridge.Device{URL: lyingServer(t, info.WalletID, 3, bytes.Repeat([]byte{0x5a}, 32)), APIKey: a.APIKey, Store: memA, FrameTimeout: 10 * time.Second}
	if _, err := liar.Sign(ctx(t), [32]byte{4}); bridge.Code(err) != wire.CodeStaleDevice {
		t.Errorf("pending of another pair: sign gave %v, want STALE_DEVICE", err)
	}
	snap := memA.Snapshot()
	if _, ok := snap["share/pending"]; ok {
		t.Error("a pending share of another pair than the server's was kept")
	}
	if !bytes.Equal(snap["share/active"], held) {
		t.Fatal("a pending share of another pair was activated")
	}

	memA.Put(context.Background(), "share/pending", next)
	mustSign(t, a, info.Address, "pending of the server's pair")
	snap = memA.Snapshot()
	if !bytes.Equal(snap["share/active"], next) || snap["share/pending"] != nil {
		t.Fatal("the pending share of the server's active pair was not activated")
	}
	if st, err := a.State(ctx(t)); err != nil || st.Stale || st.Generation != 3 || !strings.EqualFold(st.Address, info.Address) {
		t.Fatalf("state after activation: %+v, %v", st, err)
	}
}
