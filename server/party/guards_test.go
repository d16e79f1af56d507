package party_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/store"
	"github.com/duetwallet/duet/wire"
)

// Each test here makes exactly one of the session's guards fail and checks
// the code the device gets, the check's message where it has one, and that
// nothing stored changed.

// nextFrame reads one frame the server sends.
func nextFrame(t *testing.T, c *websocket.Conn) *wire.Frame {
	t.Helper()
	_, b, err := c.Read(ctx(t))
	if err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	f, err := wire.ParseFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// wantErrorFrame checks that f is an Error frame with code and a message
// holding msg.
func wantErrorFrame(t *testing.T, what string, f *wire.Frame, code, msg string) {
	t.Helper()
	if f.Type != wire.TypeError {
		t.Fatalf("%s: server answered %v, want an error %s", what, f.Type, code)
	}
	e, err := wire.ParseError(f)
	if err != nil {
		t.Fatal(err)
	}
	if e.Code != code || !strings.Contains(e.Message, msg) {
		t.Fatalf("%s: %v, want %s with %q", what, e, code, msg)
	}
}

func hello(t *testing.T, e *env, op string, gens wire.Generations) *wire.Hello {
	nonce := make([]byte, 32)
	rand.Read(nonce)
	return &wire.Hello{APIKey: e.client, Op: op, Nonce: nonce, Gens: gens, Device: onlyDevice(t, e)}
}

// onlyDevice is the id of the env's wallet's device, when it has exactly
// one; nil otherwise.
func onlyDevice(t *testing.T, e *env) []byte {
	t.Helper()
	w, err := e.store.WalletByClient(ctx(t), e.clientID)
	if err != nil {
		return nil
	}
	ds, err := e.store.Devices(ctx(t), w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		return nil
	}
	id, err := hex.DecodeString(ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// walletState is the server's view of the env's client's wallet.
func walletState(t *testing.T, e *env) store.Wallet {
	t.Helper()
	w, err := e.store.WalletByClient(ctx(t), e.clientID)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestSessionGuards(t *testing.T) {
	e := newEnv(t)
	dev := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	active := wire.Generations{Active: info.Generation}
	before := walletState(t, e)
	unchanged := func(what string) {
		t.Helper()
		if w := walletState(t, e); w.ActiveGeneration != before.ActiveGeneration || w.PendingGeneration != 0 {
			t.Fatalf("%s changed the wallet: %+v, before %+v", what, w, before)
		}
	}

	t.Run("sign digest length", func(t *testing.T) {
		for _, n := range []int{0, 31} {
			h := hello(t, e, wire.OpSign, active)
			h.Digest = make([]byte, n)
			f := nextFrame(t, rawSession(t, e, h))
			wantErrorFrame(t, "short digest", f, wire.CodeInvalidArgument, "sign needs a 32-byte digest")
		}
	})

	t.Run("device holds the active generation", func(t *testing.T) {
		// A device that holds another generation gets the Welcome that
		// tells it which one is active, and the session ends there: the
		// server does not start presigning with it.
		for _, gens := range []wire.Generations{{}, {Active: info.Generation + 5}} {
			h := hello(t, e, wire.OpSign, gens)
			h.Digest = make([]byte, 32)
			c := rawSession(t, e, h)
			if f := nextFrame(t, c); f.Type != wire.TypeWelcome {
				t.Fatalf("first frame %v, want welcome", f.Type)
			}
			_, b, err := c.Read(ctx(t))
			if err == nil {
				f, _ := wire.ParseFrame(b)
				t.Fatalf("device holding %+v got a %v frame after Welcome", gens, f.Type)
			}
			if websocket.CloseStatus(err) != wire.CloseDone {
				t.Fatalf("session of a device holding %+v ended with %v, want close %d", gens, err, wire.CloseDone)
			}
		}
	})

	t.Run("backup method", func(t *testing.T) {
		h := hello(t, e, wire.OpBackup, active)
		h.Method = "sms"
		f := nextFrame(t, rawSession(t, e, h))
		wantErrorFrame(t, "backup", f, wire.CodeInvalidArgument, `unknown backup method "sms"`)
	})

	t.Run("recover and eject method", func(t *testing.T) {
		for _, op := range []string{wire.OpRecover, wire.OpEject} {
			h := hello(t, e, op, wire.Generations{})
			h.Method = "sms"
			f := nextFrame(t, rawSession(t, e, h))
			wantErrorFrame(t, op, f, wire.CodeInvalidArgument, `unknown backup method "sms"`)
		}
	})

	t.Run("one change of a wallet at a time", func(t *testing.T) {
		// A refresh that has begun (Welcome sent, the server waits for
		// the device's first message) holds the wallet: a second one is
		// refused until it ends.
		c := rawSession(t, e, hello(t, e, wire.OpRefresh, active))
		if f := nextFrame(t, c); f.Type != wire.TypeWelcome {
			t.Fatalf("first frame %v, want welcome", f.Type)
		}
		_, err := dev.Refresh(ctx(t))
		if bridge.Code(err) != wire.CodeBusy || !strings.Contains(err.Error(), "another change of this wallet is running") {
			t.Fatalf("refresh during another change: %v, want %s", err, wire.CodeBusy)
		}
		c.CloseNow()
		unchanged("a refused refresh")
		mustSign(t, dev, info.Address, "after a refused refresh")
	})

	unchanged("the refused sessions")
	mustSign(t, dev, info.Address, "after the refused sessions")
}

// A wallet whose creation never committed is no wallet: sessions other than
// keygen are refused with NO_WALLET and leave it as it is.
func TestUncommittedWalletIsNoWallet(t *testing.T) {
	e := newEnv(t)
	id, _ := apikey.NewID(rand.Reader)
	w := store.Wallet{ID: id, ClientID: e.clientID, PublicKey: []byte{2, 1}, Address: "0x00000000000000000000000000000000000000aa"}
	if err := e.store.CreateWallet(ctx(t), w, 1, []byte("share 1"), make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{wire.OpSign, wire.OpRefresh, wire.OpBackup} {
		h := hello(t, e, op, wire.Generations{Pending: 1})
		if op == wire.OpSign {
			h.Digest = make([]byte, 32)
		}
		if op == wire.OpBackup {
			h.Method = bridge.MethodPassword
		}
		f := nextFrame(t, rawSession(t, e, h))
		wantErrorFrame(t, op, f, wire.CodeNoWallet, "no wallet for this client")
		got := walletState(t, e)
		if got.ID != id || got.ActiveGeneration != 0 || got.PendingGeneration != 1 {
			t.Fatalf("%s changed the uncommitted wallet: %+v", op, got)
		}
	}
}

// tamperProxy relays WebSocket messages between a device and the server and
// lets tamper rewrite each message from the device.
type tamperProxy struct {
	target string
	tamper func(b []byte) []byte
}

func (p *tamperProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer in.CloseNow()
	in.SetReadLimit(-1)
	out, _, err := websocket.Dial(r.Context(), p.target, nil)
	if err != nil {
		return
	}
	defer out.CloseNow()
	out.SetReadLimit(-1)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	relay := func(from, to *websocket.Conn, tamper func([]byte) []byte) {
		defer cancel()
		for {
			typ, b, err := from.Read(ctx)
			if err != nil {
				var ce websocket.CloseError
				if errors.As(err, &ce) {
					to.Close(ce.Code, ce.Reason)
				}
				return
			}
			if tamper != nil {
				b = tamper(b)
			}
			if to.Write(ctx, typ, b) != nil {
				return
			}
		}
	}
	go relay(in, out, p.tamper)
	relay(out, in, nil)
}

// The device's Ack names the generation it stored; an Ack for another
// generation, with the right digest, is refused and nothing commits.
func TestAckOfAnotherGeneration(t *testing.T) {
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
		if err != nil {
			return b
		}
		ack.Gen++
		return ack.Frame().Marshal()
	}})
	t.Cleanup(proxy.Close)
	_, err = withURL(dev, proxy.URL).Refresh(ctx(t))
	if bridge.Code(err) != wire.CodeProtocolAbort || !strings.Contains(err.Error(), "device acknowledged another generation or pair") {
		t.Fatalf("refresh with a tampered Ack: %v, want %s", err, wire.CodeProtocolAbort)
	}
	if w := walletState(t, e); w.ActiveGeneration != info.Generation {
		t.Fatalf("tampered Ack committed: %+v", w)
	}
	mustSign(t, dev, info.Address, "after a tampered Ack")
	// The next refresh, untampered, commits the generation after.
	ref, err := dev.Refresh(ctx(t))
	if err != nil || ref.Generation != info.Generation+1 {
		t.Fatalf("refresh after the tampered one: %+v, %v", ref, err)
	}
}
