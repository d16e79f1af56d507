package party_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/wire"
)

// ackHolder relays one session and keeps the device's Ack back: when it
// arrives, the device's socket is dropped (the device crashed after its
// Ack) and the Ack waits until release is closed, then reaches the server.
type ackHolder struct {
	target  string
	held    chan struct{} // closed once the Ack is held
	release chan struct{}
}

func (p *ackHolder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out, _, err := websocket.Dial(r.Context(), p.target, nil)
	if err != nil {
		return
	}
	defer out.CloseNow()
	in, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer in.CloseNow()
	in.SetReadLimit(-1)
	out.SetReadLimit(-1)
	ctx := context.Background()
	go func() {
		for {
			typ, b, err := out.Read(ctx)
			if err != nil || in.Write(ctx, typ, b) != nil {
				return
			}
		}
	}()
	for {
		typ, b, err := in.Read(ctx)
		if err != nil {
			return
		}
		if f, err := wire.ParseFrame(b); err == nil && f.Type == wire.TypeAck {
			in.CloseNow()
			close(p.held)
			<-p.release
			out.Write(ctx, typ, b)
			// Hold the server's side open until it has answered.
			out.Read(ctx)
			return
		}
		if out.Write(ctx, typ, b) != nil {
			return
		}
	}
}

// TestPendingDeviceWaitsForRunningChange: a device that dropped its socket
// right after its Ack, and comes back while the server has not yet acted on
// that Ack, must not be told the old pair is the wallet's: it would drop
// the share the server is about to activate, and neither pair would sign.
// Its session is answered BUSY while the change runs; once the change has
// committed, the device activates its pending share.
func TestPendingDeviceWaitsForRunningChange(t *testing.T) {
	e := newEnv(t)
	dev := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	before := walletState(t, e)

	holder := &ackHolder{
		target: "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/v1/session",
		held:   make(chan struct{}), release: make(chan struct{}),
	}
	ps := httptest.NewServer(holder)
	defer ps.Close()
	released := false
	defer func() {
		if !released {
			close(holder.release)
		}
	}()
	cut := *dev
	cut.URL = ps.URL
	if _, err := cut.Refresh(ctx(t)); err == nil {
		t.Fatal("a refresh whose Commit never came reported success")
	}
	<-holder.held

	// The server has not committed (it may still be storing its pending
	// generation); the device holds the new share as pending.
	if w := walletState(t, e); w.ActiveGeneration != before.ActiveGeneration {
		t.Fatalf("server holds active %d before the Ack; want %d", w.ActiveGeneration, before.ActiveGeneration)
	}
	store := dev.Store.(*memStore)
	if store.Snapshot()["share/pending"] == nil {
		t.Fatal("the device stored no pending share before its Ack")
	}
	if _, err := dev.Sign(ctx(t), [32]byte{1}); bridge.Code(err) != wire.CodeBusy {
		t.Fatalf("sign while the change waits for its Ack: %v, want %s", err, wire.CodeBusy)
	}
	if store.Snapshot()["share/pending"] == nil {
		t.Fatal("the device dropped the pending share the server may still activate")
	}

	close(holder.release)
	released = true
	// The server activates on the Ack; the device learns it at its next
	// session, once the change has given the lock back.
	var signErr error
	for range 100 {
		if signErr = trySign(t, dev, info.Address); bridge.Code(signErr) != wire.CodeBusy {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if signErr != nil {
		t.Fatalf("sign after the change committed: %v", signErr)
	}
	w := walletState(t, e)
	st, err := dev.State(ctx(t))
	if err != nil || st == nil || st.Stale || st.Generation != w.ActiveGeneration || w.ActiveGeneration != before.ActiveGeneration+1 {
		t.Fatalf("device %+v (%v), server active %d; want both at %d", st, err, w.ActiveGeneration, before.ActiveGeneration+1)
	}
	if store.Snapshot()["share/pending"] != nil {
		t.Fatal("the device still holds a pending share")
	}
}

// TestSecondCreationWaitsForFirst: a device that dropped its socket right
// after the Ack of its creation holds the wallet's share as pending; a
// creation it starts again while the first one can still commit is
// answered BUSY, without a Welcome that would make it drop that share.
// Once the first has committed, the second is refused with WALLET_EXISTS
// and the device's next session activates its share.
func TestSecondCreationWaitsForFirst(t *testing.T) {
	e := newEnv(t)
	dev := e.newDevice(e.srv.URL)
	holder := &ackHolder{
		target: "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/v1/session",
		held:   make(chan struct{}), release: make(chan struct{}),
	}
	ps := httptest.NewServer(holder)
	defer ps.Close()
	released := false
	defer func() {
		if !released {
			close(holder.release)
		}
	}()
	cut := *dev
	cut.URL = ps.URL
	if _, err := cut.Keygen(ctx(t)); err == nil {
		t.Fatal("a creation whose Commit never came reported success")
	}
	<-holder.held
	store := dev.Store.(*memStore)
	if store.Snapshot()["share/pending"] == nil {
		t.Fatal("the device stored no pending share before its Ack")
	}
	if _, err := dev.Keygen(ctx(t)); bridge.Code(err) != wire.CodeBusy {
		t.Fatalf("a second creation while the first waits for its Ack: %v, want %s", err, wire.CodeBusy)
	}
	if store.Snapshot()["share/pending"] == nil {
		t.Fatal("the device dropped the pending share the first creation may still commit")
	}

	close(holder.release)
	released = true
	var err error
	for range 100 {
		if _, err = dev.Keygen(ctx(t)); bridge.Code(err) != wire.CodeBusy {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if bridge.Code(err) != wire.CodeWalletExists {
		t.Fatalf("a creation after the first committed: %v, want %s", err, wire.CodeWalletExists)
	}
	w := walletState(t, e)
	if w.ActiveGeneration != 1 {
		t.Fatalf("the first creation left active generation %d, want 1", w.ActiveGeneration)
	}
	if err := trySign(t, dev, w.Address); err != nil {
		t.Fatalf("the device of the committed creation does not sign: %v", err)
	}
}

// TestLostCommitOfRecovery: a recovery on a new device whose Commit never
// arrived leaves the device with its pending share alone; its next session
// activates it and keeps the wallet's record the Commit would have stored.
func TestLostCommitOfRecovery(t *testing.T) {
	e := newEnv(t)
	old := e.newDevice(e.srv.URL)
	if _, err := keygenReady(ctx(t), old); err != nil {
		t.Fatal(err)
	}
	pw := &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"}
	if err := old.Backup(ctx(t), pw); err != nil {
		t.Fatal(err)
	}
	holder := &ackHolder{
		target: "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/v1/session",
		held:   make(chan struct{}), release: make(chan struct{}),
	}
	ps := httptest.NewServer(holder)
	defer ps.Close()
	fresh := e.newDevice(ps.URL)
	if _, err := fresh.Recover(ctx(t), pw); err == nil {
		close(holder.release)
		t.Fatal("a recovery whose Commit never came reported success")
	}
	<-holder.held
	close(holder.release)
	fresh.URL = e.srv.URL
	var err error
	for range 100 {
		if err = trySign(t, fresh, walletState(t, e).Address); bridge.Code(err) != wire.CodeBusy {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the recovered device after its lost Commit: %v", err)
	}
	w := walletState(t, e)
	st, err := fresh.State(ctx(t))
	if err != nil || st == nil || st.WalletID != w.ID || st.Generation != w.ActiveGeneration || st.Stale {
		t.Fatalf("recovered device's state %+v (%v); want wallet %s at generation %d", st, err, w.ID, w.ActiveGeneration)
	}
}
