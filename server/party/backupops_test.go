package party_test

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/server/party"
	"github.com/duetwallet/duet/server/seal"
	"github.com/duetwallet/duet/wire"
)

func key32(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// backedUp is the custodian's list of complete methods of the env's wallet.
func backedUp(t *testing.T, e *env) []string {
	t.Helper()
	st, err := e.cus.Status(ctx(t), e.orgID, walletState(t, e).ID)
	if err != nil {
		t.Fatal(err)
	}
	return st.BackedUp
}

func verifiedAt(t *testing.T, e *env, method string) *time.Time {
	t.Helper()
	st, err := e.cus.Status(ctx(t), e.orgID, walletState(t, e).ID)
	if err != nil {
		t.Fatal(err)
	}
	var at *time.Time
	for _, b := range st.Backups {
		if b.Method == method && b.Confirmed {
			at = b.VerifiedAt
		}
	}
	return at
}

func sameList(a []string, b ...string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Every method keeps its own pair; the drill passes for each and is
// recorded; removing one leaves the others, and recovery goes through any
// that is left.
func TestBackupMethodsDrillAndRemoval(t *testing.T) {
	e := newEnv(t)
	dev := e.newDevice(e.srv.URL)
	info, err := dev.Keygen(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]*bridge.BackupSecret{
		bridge.MethodPassword: {Method: bridge.MethodPassword, Password: "correct horse battery"},
		bridge.MethodPasskey:  {Method: bridge.MethodPasskey, Key: key32(7)},
		bridge.MethodCustom:   {Method: bridge.MethodCustom, Key: key32(9)},
	}
	for _, m := range []string{bridge.MethodPassword, bridge.MethodPasskey, bridge.MethodCustom} {
		if err := dev.Backup(ctx(t), secrets[m]); err != nil {
			t.Fatalf("%s backup: %v", m, err)
		}
	}
	if got := backedUp(t, e); !sameList(got, "custom", "passkey", "password") {
		t.Fatalf("backed up: %v, want custom, passkey, password", got)
	}

	// The drill with a wrong key fails as a wrong key and records nothing.
	wrong := &bridge.BackupSecret{Method: bridge.MethodCustom, Key: key32(8)}
	if err := dev.VerifyBackup(ctx(t), wrong); bridge.Code(err) != wire.CodeWrongPassword {
		t.Fatalf("drill with a wrong key: %v, want %s", err, wire.CodeWrongPassword)
	}
	if at := verifiedAt(t, e, "custom"); at != nil {
		t.Fatalf("a failed drill was recorded at %v", at)
	}
	for m, s := range secrets {
		if err := dev.VerifyBackup(ctx(t), s); err != nil {
			t.Fatalf("%s drill: %v", m, err)
		}
		if verifiedAt(t, e, m) == nil {
			t.Fatalf("%s drill passed but was not recorded", m)
		}
	}
	// A drill is not a share change: the device still signs with its share.
	mustSign(t, dev, info.Address, "after the drills")

	if err := dev.RemoveBackup(ctx(t), bridge.MethodCustom); err != nil {
		t.Fatal(err)
	}
	if got := backedUp(t, e); !sameList(got, "passkey", "password") {
		t.Fatalf("backed up after removing custom: %v", got)
	}
	st, _ := e.cus.Status(ctx(t), e.orgID, walletState(t, e).ID)
	for _, sh := range st.Shares {
		if sh.Method == "custom" {
			t.Fatalf("custodian still holds a custom share: %+v", sh)
		}
	}
	other := e.newDevice(e.srv.URL)
	if _, err := other.Recover(ctx(t), secrets[bridge.MethodCustom]); bridge.Code(err) != wire.CodeNotBackedUp {
		t.Fatalf("recovery through a removed method: %v, want %s", err, wire.CodeNotBackedUp)
	}
	if err := dev.VerifyBackup(ctx(t), secrets[bridge.MethodCustom]); bridge.Code(err) != wire.CodeNotBackedUp {
		t.Fatalf("drill of a removed method: %v, want %s", err, wire.CodeNotBackedUp)
	}
	rec, err := other.Recover(ctx(t), secrets[bridge.MethodPasskey])
	if err != nil || rec.Address != info.Address {
		t.Fatalf("recovery through passkey: %+v, %v", rec, err)
	}
	mustSign(t, other, info.Address, "recovered through passkey")
	// The other methods' pairs still hold after the recovery.
	if err := other.VerifyBackup(ctx(t), secrets[bridge.MethodPassword]); err != nil {
		t.Fatalf("password drill after recovery: %v", err)
	}
}

// The custodian's share tampered in the database: the drill says
// BACKUP_BROKEN, whether the share no longer opens or opens to a secret
// that is not the pair's.
func TestDrillFindsTamperedCustodianShare(t *testing.T) {
	e := newEnv(t)
	dev := e.newDevice(e.srv.URL)
	if _, err := dev.Keygen(ctx(t)); err != nil {
		t.Fatal(err)
	}
	pw := &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"}
	ck := &bridge.BackupSecret{Method: bridge.MethodCustom, Key: key32(3)}
	for _, s := range []*bridge.BackupSecret{pw, ck} {
		if err := dev.Backup(ctx(t), s); err != nil {
			t.Fatal(err)
		}
	}
	w := walletState(t, e)
	b, err := e.cus.Backup(ctx(t), e.orgID, w.ID, "password")
	if err != nil {
		t.Fatal(err)
	}
	share, err := e.cus.Share(ctx(t), e.orgID, w.ID, b.Generation)
	if err != nil {
		t.Fatal(err)
	}
	setShare := func(sealed []byte) {
		t.Helper()
		if _, err := e.db.ExecContext(ctx(t), `UPDATE custodian_shares SET sealed = $1 WHERE wallet_id = $2 AND generation = $3`,
			sealed, w.ID, int64(b.Generation)); err != nil {
			t.Fatal(err)
		}
	}

	// A secret off by one, sealed properly: the pair digest (public data)
	// still matches, but b_C·G ≠ B_C.
	ks := new(mpc.KeyShare)
	if err := ks.UnmarshalBinary(share); err != nil {
		t.Fatal(err)
	}
	ks.Secret = ks.Secret.Add(curve.ScalarFromUint64(1))
	bad, _ := ks.MarshalBinary()
	cusKey, _ := seal.New(bytes.Repeat([]byte{2}, seal.KeySize))
	sealed, err := cusKey.Seal(rand.Reader, seal.Binding{Purpose: seal.PurposeCustodianShare, WalletID: w.ID, Generation: b.Generation}, bad)
	if err != nil {
		t.Fatal(err)
	}
	setShare(sealed)
	if err := dev.VerifyBackup(ctx(t), pw); bridge.Code(err) != wire.CodeBackupBroken {
		t.Fatalf("drill with a wrong custodian secret: %v, want %s", err, wire.CodeBackupBroken)
	}
	// Bytes that do not open under the custodian's key.
	setShare(bytes.Repeat([]byte{0x5a}, 200))
	if err := dev.VerifyBackup(ctx(t), pw); bridge.Code(err) != wire.CodeBackupBroken {
		t.Fatalf("drill with junk for the custodian share: %v, want %s", err, wire.CodeBackupBroken)
	}
	if at := verifiedAt(t, e, "password"); at != nil {
		t.Fatalf("a broken pair's drill was recorded at %v", at)
	}
	// The other method's pair is its own and still passes.
	if err := dev.VerifyBackup(ctx(t), ck); err != nil {
		t.Fatalf("custom drill beside a broken password pair: %v", err)
	}
}

// deviceShare reads the device's active share from its store.
func deviceShare(t *testing.T, d *bridge.Device) *mpc.KeyShare {
	t.Helper()
	s := new(mpc.KeyShare)
	if err := s.UnmarshalBinary(d.Store.(*memStore).Snapshot()["share/active"]); err != nil {
		t.Fatal(err)
	}
	return s
}

// opSession opens a raw session of op for method and reads the Welcome.
func opSession(t *testing.T, e *env, op, method string, gen uint64) (*websocket.Conn, *wire.Hello, *wire.Welcome) {
	t.Helper()
	h := hello(t, e, op, wire.Generations{Active: gen})
	h.Method = method
	c := rawSession(t, e, h)
	w, err := wire.ParseWelcome(nextFrame(t, c))
	if err != nil {
		t.Fatal(err)
	}
	return c, h, w
}

func send(t *testing.T, c *websocket.Conn, f *wire.Frame) {
	t.Helper()
	if err := c.Write(ctx(t), websocket.MessageBinary, f.Marshal()); err != nil {
		t.Fatal(err)
	}
}

func proofFrame(t *testing.T, sid []byte, s *mpc.KeyShare) *wire.Frame {
	t.Helper()
	p, err := mpc.ProveShare(rand.Reader, sid, s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return (&wire.Data{Kind: "proof", Body: b}).Frame()
}

// A remove-backup session deletes nothing unless the device proves, in
// that very session, that it holds the wallet's active signing share.
func TestRemoveBackupSessionGuards(t *testing.T) {
	e := newEnv(t)
	dev := e.newDevice(e.srv.URL)
	if _, err := dev.Keygen(ctx(t)); err != nil {
		t.Fatal(err)
	}
	ck := &bridge.BackupSecret{Method: bridge.MethodCustom, Key: key32(4)}
	if err := dev.Backup(ctx(t), ck); err != nil {
		t.Fatal(err)
	}
	share := deviceShare(t, dev)
	gen := share.Generation
	stillBackedUp := func(what string) {
		t.Helper()
		if got := backedUp(t, e); !sameList(got, "custom") {
			t.Fatalf("%s: backed up %v, want custom still", what, got)
		}
	}

	t.Run("replay", func(t *testing.T) {
		// A proof made for one session is refused in the next.
		c1, h1, w1 := opSession(t, e, wire.OpRemoveBackup, "custom", gen)
		old := proofFrame(t, wire.RemoveBackupSessionID("custom", w1.WalletID, gen, h1.Nonce, w1.Nonce), share)
		c1.CloseNow()
		c2, _, _ := opSession(t, e, wire.OpRemoveBackup, "custom", gen)
		send(t, c2, old)
		wantErrorFrame(t, "replayed proof", nextFrame(t, c2), wire.CodeProtocolAbort, "signing share")
		stillBackedUp("replay")
	})
	t.Run("wrong party", func(t *testing.T) {
		// The proof names the server as its prover.
		c, h, w := opSession(t, e, wire.OpRemoveBackup, "custom", gen)
		swapped := *share
		swapped.Self, swapped.Peer = mpc.Server, mpc.Device
		send(t, c, proofFrame(t, wire.RemoveBackupSessionID("custom", w.WalletID, gen, h.Nonce, w.Nonce), &swapped))
		wantErrorFrame(t, "proof of the wrong party", nextFrame(t, c), wire.CodeProtocolAbort, "signing share")
		stillBackedUp("wrong party")
	})
	t.Run("another method's proof", func(t *testing.T) {
		c, h, w := opSession(t, e, wire.OpRemoveBackup, "custom", gen)
		send(t, c, proofFrame(t, wire.RemoveBackupSessionID("password", w.WalletID, gen, h.Nonce, w.Nonce), share))
		wantErrorFrame(t, "proof for another method", nextFrame(t, c), wire.CodeProtocolAbort, "signing share")
		stillBackedUp("another method")
	})
	t.Run("another secret", func(t *testing.T) {
		c, h, w := opSession(t, e, wire.OpRemoveBackup, "custom", gen)
		forged := *share
		forged.Secret = share.Secret.Add(curve.ScalarFromUint64(1))
		send(t, c, proofFrame(t, wire.RemoveBackupSessionID("custom", w.WalletID, gen, h.Nonce, w.Nonce), &forged))
		wantErrorFrame(t, "proof of another secret", nextFrame(t, c), wire.CodeProtocolAbort, "signing share")
		stillBackedUp("another secret")
	})
	t.Run("out of order", func(t *testing.T) {
		// An Ack where the proof is due.
		c, _, _ := opSession(t, e, wire.OpRemoveBackup, "custom", gen)
		send(t, c, (&wire.Ack{Gen: gen, Digest: share.PublicDigest()}).Frame())
		wantErrorFrame(t, "ack instead of the proof", nextFrame(t, c), wire.CodeBadFrame, "")
		c, _, _ = opSession(t, e, wire.OpRemoveBackup, "custom", gen)
		send(t, c, (&wire.Data{Kind: "proof", Body: []byte{1, 2, 3}}).Frame())
		wantErrorFrame(t, "malformed proof", nextFrame(t, c), wire.CodeBadFrame, "share proof")
		stillBackedUp("out of order")
	})
	t.Run("drill with the signing share", func(t *testing.T) {
		// The drill wants the backup share's proof; the signing share's
		// proves nothing about the backup and is refused as a broken pair.
		c, h, w := opSession(t, e, wire.OpVerifyBackup, "custom", gen)
		if _, err := wire.ParseData(nextFrame(t, c), "backup"); err != nil {
			t.Fatal(err)
		}
		send(t, c, proofFrame(t, wire.VerifyBackupSessionID("custom", w.WalletID, gen, h.Nonce, w.Nonce), share))
		wantErrorFrame(t, "drill with the signing share", nextFrame(t, c), wire.CodeBackupBroken, "")
		if at := verifiedAt(t, e, "custom"); at != nil {
			t.Fatalf("refused drill recorded at %v", at)
		}
	})
	t.Run("unknown method", func(t *testing.T) {
		h := hello(t, e, wire.OpRemoveBackup, wire.Generations{Active: gen})
		h.Method = "email"
		wantErrorFrame(t, "unknown method", nextFrame(t, rawSession(t, e, h)), wire.CodeInvalidArgument, "email")
	})
	if err := dev.RemoveBackup(ctx(t), "custom"); err != nil {
		t.Fatalf("removal with a true proof: %v", err)
	}
	if got := backedUp(t, e); len(got) != 0 {
		t.Fatalf("backed up after removal: %v", got)
	}
	// Removing what is gone is not an error.
	if err := dev.RemoveBackup(ctx(t), "custom"); err != nil {
		t.Fatalf("second removal: %v", err)
	}
}

// Removal counts as a share change for the rate limit, and a refused one
// removes nothing; the drill, which changes nothing, does not count.
func TestRemoveBackupRateLimited(t *testing.T) {
	clk := newClock()
	e := newEnvWith(t, envConfig{limits: party.Limits{ShareChanges: 2, ShareChangeWindow: time.Hour, Aborts: 100}, now: clk.Now})
	dev := e.newDevice(e.srv.URL)
	if _, err := dev.Keygen(ctx(t)); err != nil {
		t.Fatal(err)
	}
	ck := &bridge.BackupSecret{Method: bridge.MethodCustom, Key: key32(5)}
	if err := dev.Backup(ctx(t), ck); err != nil {
		t.Fatal(err)
	}
	if err := dev.Backup(ctx(t), &bridge.BackupSecret{Method: bridge.MethodPasskey, Key: key32(6)}); err != nil {
		t.Fatal(err)
	}
	wantRateLimited(t, "removal", dev.RemoveBackup(ctx(t), bridge.MethodCustom))
	if err := dev.VerifyBackup(ctx(t), ck); err != nil {
		t.Fatalf("drill with the share changes used up: %v", err)
	}
	if got := backedUp(t, e); !sameList(got, "custom", "passkey") {
		t.Fatalf("backed up after refused removal: %v", got)
	}
	clk.Advance(61 * time.Minute)
	if err := dev.RemoveBackup(ctx(t), bridge.MethodCustom); err != nil {
		t.Fatalf("removal in the next window: %v", err)
	}
	if got := backedUp(t, e); !sameList(got, "passkey") {
		t.Fatalf("backed up after removal: %v", got)
	}
}
