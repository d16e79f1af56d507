package party_test

import (
	"crypto/rand"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/custodian"
	"github.com/duetwallet/duet/server/store"
	"github.com/duetwallet/duet/wire"
)

// More of the session's guards, each made to fail on its own: the bound
// just past the presignature id's, the digest half of the Ack check,
// aux-info before a backup, and the code a frame that does not decode gets.

func TestSessionGuardBounds(t *testing.T) {
	e := newEnv(t)
	dev := e.newDevice(e.srv.URL)
	info, err := dev.Keygen(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	active := wire.Generations{Active: info.Generation}

	// Before aux-info, a backup is refused after Welcome as a signature
	// is: the backup's refresh needs the share's aux-info.
	h := hello(t, e, wire.OpBackup, active)
	h.Method = custodian.MethodPassword
	c := rawSession(t, e, h)
	if f := nextFrame(t, c); f.Type != wire.TypeWelcome {
		t.Fatalf("first frame %v, want welcome", f.Type)
	}
	wantErrorFrame(t, "backup before aux-info", nextFrame(t, c), wire.CodeNotSigningReady, "aux-info of this wallet has not run yet")

	if info, err = dev.FinishAux(ctx(t)); err != nil {
		t.Fatal(err)
	}
	active = wire.Generations{Active: info.Generation}
	before := walletState(t, e)

	// One byte past the digest's size never reaches the session's own
	// check: the Hello's decoder refuses it (which is why that check's
	// bound is documented as redundant).
	h = hello(t, e, wire.OpSign, active)
	h.Digest = make([]byte, 33)
	wantErrorFrame(t, "33-byte digest", nextFrame(t, rawSession(t, e, h)), wire.CodeBadFrame, "value too large")

	// A one-byte presignature id names a pooled presignature like any
	// other: there is none, and no fresh presigning starts.
	h = hello(t, e, wire.OpSign, active)
	h.Digest = make([]byte, 32)
	h.Presignature = []byte{1}
	got := readUntilError(t, rawSession(t, e, h))
	if got == nil || got.Code != wire.CodeNoPresignature || !strings.Contains(got.Message, "no pooled presignature 01 of generation") {
		t.Fatalf("one-byte presignature id: %v, want %s", got, wire.CodeNoPresignature)
	}

	// A Hello that does not decode is a bad frame.
	conn, _, err := websocket.Dial(ctx(t), wsURL(e), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	if err := conn.Write(ctx(t), websocket.MessageBinary, []byte{wire.Version, byte(wire.TypeHello), 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	wantErrorFrame(t, "truncated Hello", nextFrame(t, conn), wire.CodeBadFrame, "")

	if w := walletState(t, e); w.ActiveGeneration != before.ActiveGeneration || w.PendingGeneration != 0 {
		t.Fatalf("refused sessions changed the wallet: %+v, before %+v", w, before)
	}
	mustSign(t, dev, info.Address, "after the refused sessions")
}

// The device's Ack names the pair it stored by its digest; an Ack of the
// right generation with another digest is refused and nothing commits.
func TestAckOfAnotherPair(t *testing.T) {
	e := newEnv(t)
	dev := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(&tamperProxy{target: wsURL(e), tamper: func(b []byte) []byte {
		f, err := wire.ParseFrame(b)
		if err != nil || f.Type != wire.TypeAck {
			return b
		}
		ack, err := wire.ParseAck(f)
		if err != nil || len(ack.Digest) == 0 {
			return b
		}
		ack.Digest[0] ^= 1
		return ack.Frame().Marshal()
	}})
	t.Cleanup(proxy.Close)
	_, err = withURL(dev, proxy.URL).Refresh(ctx(t))
	if bridge.Code(err) != wire.CodeProtocolAbort || !strings.Contains(err.Error(), "device acknowledged another generation or pair") {
		t.Fatalf("refresh with an Ack of another pair: %v, want %s", err, wire.CodeProtocolAbort)
	}
	if w := walletState(t, e); w.ActiveGeneration != info.Generation {
		t.Fatalf("an Ack of another pair committed: %+v", w)
	}
	mustSign(t, dev, info.Address, "after an Ack of another pair")
}

// A client with no wallet, and one whose wallet's creation never
// committed, get NO_WALLET from every session that needs a wallet:
// signing, recovery and eject alike.
func TestNoCommittedWallet(t *testing.T) {
	e := newEnv(t)
	session := func(op string) *wire.Error {
		h := hello(t, e, op, wire.Generations{Pending: 1})
		if len(h.Device) == 0 {
			// Recovery needs the device's id before it looks for a wallet.
			h.Device = make([]byte, wire.DeviceIDSize)
			rand.Read(h.Device)
		}
		h.Digest = make([]byte, 32)
		h.Method = custodian.MethodPassword
		return readUntilError(t, rawSession(t, e, h))
	}
	for _, op := range []string{wire.OpSign, wire.OpRecover, wire.OpEject} {
		if got := session(op); got == nil || got.Code != wire.CodeNoWallet || got.Message != "no wallet for this client" {
			t.Errorf("%s without a wallet: %v, want %s", op, got, wire.CodeNoWallet)
		}
	}
	id, _ := apikey.NewID(rand.Reader)
	w := store.Wallet{ID: id, ClientID: e.clientID, PublicKey: []byte{2, 1}, Address: "0x00000000000000000000000000000000000000aa"}
	if err := e.store.CreateWallet(ctx(t), w, 1, []byte("share 1"), make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{wire.OpRecover, wire.OpEject} {
		if got := session(op); got == nil || got.Code != wire.CodeNoWallet || got.Message != "no wallet for this client" {
			t.Errorf("%s of an uncommitted wallet: %v, want %s", op, got, wire.CodeNoWallet)
		}
	}
	if got := walletState(t, e); got.ID != id || got.ActiveGeneration != 0 || got.PendingGeneration != 1 {
		t.Fatalf("refused sessions changed the uncommitted wallet: %+v", got)
	}
}

// The device's sealed half names the pair it belongs to; a half that
// names another pair than the one the session made is refused, and the
// custodian completes nothing.
func TestBackupHalfOfAnotherPair(t *testing.T) {
	e := newEnv(t)
	dev := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(&tamperProxy{target: wsURL(e), tamper: func(b []byte) []byte {
		f, err := wire.ParseFrame(b)
		if err != nil || f.Type != wire.TypeData {
			return b
		}
		d, err := wire.ParseData(f, "backup")
		if err != nil {
			return b
		}
		p, err := wire.ParseBackupPayload(d.Body)
		if err != nil {
			return b
		}
		p.PairDigest[0] ^= 1
		return (&wire.Data{Kind: "backup", Body: p.Marshal()}).Frame().Marshal()
	}})
	t.Cleanup(proxy.Close)
	pw := &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"}
	err = withURL(dev, proxy.URL).Backup(ctx(t), pw)
	if bridge.Code(err) != wire.CodeProtocolAbort || !strings.Contains(err.Error(), "device sealed another backup pair") {
		t.Fatalf("backup half of another pair: %v, want %s", err, wire.CodeProtocolAbort)
	}
	if got := backedUp(t, e); len(got) != 0 {
		t.Fatalf("backup half of another pair completed: backed up %q", got)
	}
	if err := dev.Backup(ctx(t), pw); err != nil {
		t.Fatalf("backup after the refused one: %v", err)
	}
	mustSign(t, dev, info.Address, "after a refused backup half")
}

// A session that makes a new pair (creation, recovery, adding a device)
// must name the device it is for: without an id it is refused before
// anything is stored, and the wallet's devices stay as they were.
func TestNewPairNeedsDeviceID(t *testing.T) {
	e := newEnv(t)
	session := func(op string) *wire.Error {
		h := hello(t, e, op, wire.Generations{})
		h.Device = nil
		h.Method = custodian.MethodPassword
		return readUntilError(t, rawSession(t, e, h))
	}
	want := func(op string) {
		t.Helper()
		got := session(op)
		msg := op + " needs the device's 16-byte id"
		if got == nil || got.Code != wire.CodeInvalidArgument || got.Message != msg {
			t.Errorf("%s without a device id: %v, want %s %q", op, got, wire.CodeInvalidArgument, msg)
		}
	}
	want(wire.OpKeygen)
	if _, err := e.store.WalletByClient(ctx(t), e.clientID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused creation left a wallet: %v", err)
	}

	dev := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.Backup(ctx(t), &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	before := walletState(t, e)
	for _, op := range []string{wire.OpRecover, wire.OpAddDevice} {
		want(op)
	}
	after := walletState(t, e)
	ds, err := e.store.Devices(ctx(t), after.ID)
	if err != nil || len(ds) != 1 || after.ActiveGeneration != before.ActiveGeneration || after.PendingGeneration != 0 {
		t.Fatalf("refused sessions changed the wallet: %+v (before %+v), devices %v, %v", after, before, ds, err)
	}
	mustSign(t, dev, info.Address, "after the refused sessions")
}
