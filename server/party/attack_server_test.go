package party_test

import (
	"errors"
	"math/big"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/internal/attacktest"
	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/wire"
)

// The malicious server: the real server party behind a man-in-the-middle
// that rewrites what the device receives. Each attack must end the
// device's run with PROTOCOL_ABORT (BAD_FRAME for a frame that does not
// decode) naming the server and the failed check in the device's own
// error, leave the device's store as it was, tell the server no check where
// the check is on the device's secrets, and leave a wallet that signs
// through the honest server.

type serverAttack struct {
	name   string
	op     string // keygen, aux, sign or refresh
	tamper func(t *testing.T) attacktest.Tamper
	code   string
	// checks lists the checks the device may name (any one); none for a
	// frame error.
	checks []string
	// secret: the step decrypts or uses values derived from the device's
	// secrets, so the server must not learn which of its checks failed.
	secret bool
	// quiet: the server may have ended the session by the time the device
	// checks (after σ, or when the server itself refuses the proofs the
	// device made for a forged modulus), so the device may find nobody left
	// to tell.
	quiet bool
}

// attackBed is one wallet behind the malicious server.
type attackBed struct {
	e       *env
	proxy   *attacktest.Proxy
	url     string
	dev     *bridge.Device
	address string
	keygen  *attacktest.Session // the wallet's aux-info, after its key generation
	signs   []*attacktest.Session
}

func newAttackBed(t *testing.T) *attackBed {
	t.Helper()
	e := newEnv(t)
	p := &attacktest.Proxy{Target: e.srv.URL}
	ps := httptest.NewServer(p)
	t.Cleanup(ps.Close)
	b := &attackBed{e: e, proxy: p, url: ps.URL, dev: e.newDevice(ps.URL)}
	info, err := keygenReady(ctx(t), b.dev)
	if err != nil {
		t.Fatal(err)
	}
	// The aux-info session holds the device's Paillier key.
	b.address, b.keygen = info.Address, p.Last()
	return b
}

// newDevice is a device of a new client of the bed's organization, behind
// the proxy.
func (b *attackBed) newDevice(t *testing.T) *bridge.Device {
	t.Helper()
	c, err := b.e.store.AuthenticateClient(ctx(t), b.e.client)
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := b.e.store.CreateClient(ctx(t), c.OrganizationID)
	if err != nil {
		t.Fatal(err)
	}
	d := b.e.newDevice(b.url)
	d.APIKey = key
	return d
}

// sign signs through the proxy as it is now and records the session.
func (b *attackBed) sign(t *testing.T, msg string) *attacktest.Session {
	t.Helper()
	mustSign(t, b.dev, b.address, msg)
	s := b.proxy.Last()
	b.signs = append(b.signs, s)
	return s
}

// opAux is the aux-info that follows key generation, played against a new
// wallet whose key generation committed.
const opAux = "aux"

func run(t *testing.T, dev *bridge.Device, op string) error {
	switch op {
	case opAux:
		_, err := dev.FinishAux(ctx(t))
		return err
	case wire.OpKeygen:
		_, err := dev.Keygen(ctx(t))
		return err
	case wire.OpSign:
		_, err := dev.Sign(ctx(t), [32]byte(crypto.Keccak256([]byte("attacked"))))
		return err
	case wire.OpRefresh:
		_, err := dev.Refresh(ctx(t))
		return err
	}
	t.Fatalf("no operation %q", op)
	return nil
}

// play runs one attack and checks the device's reaction.
func (b *attackBed) play(t *testing.T, a serverAttack) {
	t.Helper()
	dev := b.dev
	if a.op == wire.OpKeygen || a.op == opAux {
		dev = b.newDevice(t)
	}
	if a.op == opAux {
		if _, err := dev.Keygen(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	store := dev.Store.(*memStore)
	before := store.Snapshot()
	b.proxy.SetTamper(a.tamper(t))
	err := run(t, dev, a.op)
	b.proxy.SetTamper(nil)
	s := b.proxy.Last()
	if ferr := s.Err(); ferr != nil {
		t.Fatalf("forging the attack: %v", ferr)
	}
	if !s.Tampered() {
		t.Fatal("the tamper never met its message")
	}
	if err == nil {
		t.Fatal("the device accepted the attack")
	}
	if got := bridge.Code(err); got != a.code {
		t.Fatalf("device failed with %s (%v), want %s", got, err, a.code)
	}
	if !equalSnapshots(before, store.Snapshot()) {
		t.Fatal("the attack changed the device's store")
	}
	var abort *mpc.AbortError
	if len(a.checks) > 0 {
		if !errors.As(err, &abort) {
			t.Fatalf("device error %v is not a protocol abort", err)
		}
		if abort.Culprit != mpc.Server {
			t.Fatalf("device blames %q: %v", abort.Culprit, err)
		}
		named := false
		for _, c := range a.checks {
			named = named || strings.Contains(abort.Check, c)
		}
		if !named || !strings.Contains(err.Error(), abort.Check) || !strings.Contains(err.Error(), `"server"`) {
			t.Fatalf("device error %q does not name the server and one of the checks %q", err, a.checks)
		}
		told := s.DeviceError()
		if told == nil && a.quiet {
			t.Logf("device: %v; the server had gone", err)
			return
		}
		if told == nil || told.Code != wire.CodeProtocolAbort {
			t.Fatalf("device told the server %v, want a %s", told, wire.CodeProtocolAbort)
		}
		if told.Message != abort.PeerMessage() {
			t.Fatalf("device told the server %q, not its abort's peer message %q", told.Message, abort.PeerMessage())
		}
		if a.secret && (!abort.Secret || strings.Contains(told.Message, abort.Check)) {
			t.Fatalf("the check %q is on the device's secrets, but the server was told %q", abort.Check, told.Message)
		}
		t.Logf("device: %v; server told: %s", err, told.Message)
	} else if errors.As(err, &abort) {
		t.Fatalf("a malformed frame gave a protocol abort: %v", err)
	}

	// Through the honest server the wallet still works.
	switch a.op {
	case wire.OpKeygen:
		info, err := dev.Keygen(ctx(t))
		if err != nil {
			t.Fatalf("creating the wallet after the attack: %v", err)
		}
		mustSign(t, dev, info.Address, "after "+a.name)
		return
	case opAux:
		// Signing runs the aux-info the attack stopped.
		st, err := dev.State(ctx(t))
		if err != nil || st == nil {
			t.Fatalf("device state after the attack: %+v, %v", st, err)
		}
		mustSign(t, dev, st.Address, "after "+a.name)
		return
	}
	mustSign(t, dev, b.address, "after "+a.name)
	if st, err := dev.State(ctx(t)); err != nil || st.Address != b.address {
		t.Fatalf("device state after the attack: %+v, %v", st, err)
	}
}

func TestAttackServerForgesAndReplays(t *testing.T) {
	b := newAttackBed(t)
	first := b.sign(t, "first")
	oldSSID, err := attacktest.SSID(first.FindMPC(attacktest.FromServer, mpc.ProtocolPresign, 1))
	if err != nil {
		t.Fatal(err)
	}
	// A proactive refresh moves the wallet on a generation; oldSSID is
	// now another generation's.
	if _, err := b.dev.Refresh(ctx(t)); err != nil {
		t.Fatal(err)
	}

	// Another wallet's presigning message, from the same server.
	other := b.newDevice(t)
	oinfo, err := keygenReady(ctx(t), other)
	if err != nil {
		t.Fatal(err)
	}
	mustSign(t, other, oinfo.Address, "other wallet")
	otherWallet := b.proxy.Last().FindMPC(attacktest.FromServer, mpc.ProtocolPresign, 1)

	fixed := func(tm attacktest.Tamper) func(*testing.T) attacktest.Tamper {
		return func(*testing.T) attacktest.Tamper { return tm }
	}
	// replay sends the server's presigning round 1 of an earlier session of
	// this generation.
	replay := func(keepSession bool) func(*testing.T) attacktest.Tamper {
		return func(t *testing.T) attacktest.Tamper {
			earlier := b.sign(t, "replay source").FindMPC(attacktest.FromServer, mpc.ProtocolPresign, 1)
			return attacktest.Replace(earlier, keepSession)
		}
	}
	bitforge := func(kind string) func(*testing.T) attacktest.Tamper {
		return func(t *testing.T) attacktest.Tamper {
			m, err := attacktest.NewModulus(kind)
			if err != nil {
				t.Fatal(err)
			}
			return attacktest.BitForge(m)
		}
	}
	abort := wire.CodeProtocolAbort
	attacks := []serverAttack{
		// Wallet creation.
		{"BitForge small factor", opAux, bitforge(attacktest.SmallFactor), abort, []string{"Πfac"}, true, true},
		{"BitForge not Paillier-Blum", opAux, bitforge(attacktest.NotBlum), abort, []string{"Πmod"}, true, true},
		{"BitForge three primes", opAux, bitforge(attacktest.ThreePrimes), abort, []string{"Πmod"}, true, true},
		{"forged Schnorr in key generation", wire.OpKeygen, fixed(attacktest.ForgeKeygenSchnorr()), abort, []string{"Πsch"}, false, false},
		{"own commitment reflected", wire.OpKeygen, fixed(attacktest.Reflect(mpc.ProtocolKeygen, 1)), abort, []string{"commitment reflection"}, false, false},
		// Refresh with new aux info.
		{"forged Πprm", wire.OpRefresh, fixed(attacktest.ForgePrm()), abort, []string{"Πprm"}, false, false},
		{"forged Πmod", wire.OpRefresh, fixed(attacktest.ForgeMod()), abort, []string{"Πmod"}, true, false},
		{"forged Πfac", wire.OpRefresh, fixed(attacktest.ForgeFac()), abort, []string{"Πfac"}, true, false},
		{"forged Πlog* of the zero-sharing ciphertext", wire.OpRefresh, fixed(attacktest.ForgeRefreshLog()), abort, []string{"Πlog*"}, true, false},
		{"forged Schnorr of the zero sharing", wire.OpRefresh, fixed(attacktest.ForgeRefreshSchnorr()), abort, []string{"Πsch"}, true, false},
		{"reordered frames", wire.OpRefresh, fixed(attacktest.Swap(mpc.ProtocolRefresh, 1, 2)), abort, []string{"round"}, false, false},
		// Signing.
		{"forged Πenc", wire.OpSign, fixed(attacktest.ForgeEnc()), abort, []string{"Πenc"}, false, false},
		{"forged Πaff-g of the δ MtA", wire.OpSign, fixed(attacktest.ForgeAffg(false)), abort, []string{"δ MtA (Πaff-g)"}, false, false},
		{"forged Πaff-g of the χ MtA", wire.OpSign, fixed(attacktest.ForgeAffg(true)), abort, []string{"χ MtA (Πaff-g)"}, false, false},
		{"forged Πlog* of Γ", wire.OpSign, fixed(attacktest.ForgeLogGamma()), abort, []string{"Πlog*"}, false, false},
		{"forged Πlog* of Δ", wire.OpSign, fixed(attacktest.ForgeLogDelta()), abort, []string{"Πlog*"}, true, false},
		{"σ share that does not verify", wire.OpSign, fixed(attacktest.EditSigma(attacktest.PlusOne)), abort, []string{"signature validity"}, true, true},
		{"wrong generation", wire.OpSign, fixed(attacktest.SetSSID(oldSSID)), abort, []string{"ssid"}, false, false},
		{"replayed from another session", wire.OpSign, replay(false), abort, []string{"session id"}, false, false},
		{"replayed payload under this session's id", wire.OpSign, replay(true), abort, []string{"Πenc"}, false, false},
		{"replayed from another wallet", wire.OpSign, fixed(attacktest.Replace(otherWallet, false)), abort, []string{"session id"}, false, false},
		{"other wallet's payload under this session's id", wire.OpSign, fixed(attacktest.Replace(otherWallet, true)), abort, []string{"ssid"}, false, false},
		{"own message reflected", wire.OpSign, fixed(attacktest.Reflect(mpc.ProtocolPresign, 1)), abort, []string{"ciphertext K", "Πenc"}, false, false},
		{"duplicated frame", wire.OpSign, fixed(attacktest.Duplicate(mpc.ProtocolPresign, 1)), abort, []string{"round"}, false, false},
		{"truncated payload", wire.OpSign, fixed(attacktest.Truncate(mpc.ProtocolPresign, 2)), abort, []string{"round 2 encoding"}, false, false},
		{"malformed frame", wire.OpSign, fixed(attacktest.Corrupt(mpc.ProtocolPresign, 2)), wire.CodeBadFrame, nil, false, false},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) { b.play(t, a) })
	}
}

// TestAttackServerBackupOracle plays the backup-refresh decryption oracle
// from the server: with C = K_D·enc(−t) in backup after backup, the device's
// reaction must be the same whether k_D ≥ t or not, so a full bisection
// learns nothing about the nonce share of a presignature that signed.
func TestAttackServerBackupOracle(t *testing.T) {
	b := newAttackBed(t)
	o := new(attacktest.Oracle)
	if err := o.LearnDeviceKey(b.keygen); err != nil {
		t.Fatal(err)
	}
	if err := o.LearnPresign(b.sign(t, "the presignature under attack")); err != nil {
		t.Fatal(err)
	}
	store := b.dev.Store.(*memStore)
	before := store.Snapshot()
	pw := &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"}
	queries := 0
	query := func(x *big.Int) (string, error) {
		b.proxy.SetServe(func(h *wire.Hello) attacktest.Serve {
			if h.Op == wire.OpBackup {
				return o.Query(x)
			}
			return nil
		})
		defer b.proxy.SetServe(nil)
		err := b.dev.Backup(ctx(t), pw)
		queries++
		if bridge.Code(err) != wire.CodeProtocolAbort {
			t.Fatalf("backup %d: device failed with %v, want %s", queries, err, wire.CodeProtocolAbort)
		}
		var abort *mpc.AbortError
		if !errors.As(err, &abort) || abort.Culprit != mpc.Server {
			t.Fatalf("backup %d: device error %v does not blame the server", queries, err)
		}
		if !equalSnapshots(before, store.Snapshot()) {
			t.Fatalf("backup %d changed the device's store", queries)
		}
		return attacktest.Reaction(b.proxy.Last()), nil
	}
	// k_D − 0 ≥ 0 and k_D − q < 0: the two branches the oracle relies on.
	above, _ := query(new(big.Int))
	below, _ := query(curve.Order())
	if above != below {
		t.Fatalf("the device reacts differently to k_D − t ≥ 0 and < 0:\n  %s\n  %s", above, below)
	}
	for _, word := range []string{"range", "consistency", "zero-sharing"} {
		if strings.Contains(below, word) {
			t.Fatalf("the device told the server %q", below)
		}
	}
	t.Logf("reaction to every query: %s", below)
	steps := 256
	if testing.Short() {
		steps = 16
	}
	guess, err := attacktest.Bisect(steps, below, query)
	if err != nil {
		t.Fatal(err)
	}
	// An attacker tries the neighbours too: the last step may stop one
	// short.
	for d := int64(-1); d <= 1; d++ {
		if o.Check(new(big.Int).Add(guess, big.NewInt(d))) {
			t.Fatalf("%d backups recovered the device's nonce share", queries)
		}
	}
	t.Logf("%d backups; the bisection's guess fails k·Γ = Δ_D", queries)
	mustSign(t, b.dev, b.address, "after the oracle")
}

// TestAttackServerWrongCommit names another generation in the server's
// Commit: the device refuses to activate it and keeps its active share;
// the next session reconciles with what the server really committed, and
// the wallet signs.
func TestAttackServerWrongCommit(t *testing.T) {
	b := newAttackBed(t)
	b.proxy.SetTamper(attacktest.ShiftCommit(5))
	_, err := b.dev.Refresh(ctx(t))
	b.proxy.SetTamper(nil)
	if !b.proxy.Last().Tampered() {
		t.Fatalf("the tamper never met the commit (refresh: %v)", err)
	}
	if bridge.Code(err) != wire.CodeProtocolAbort || !strings.Contains(err.Error(), "server committed generation 8, not 3") {
		t.Fatalf("device accepted or misreported a commit of another generation: %v", err)
	}
	if st, err := b.dev.State(ctx(t)); err != nil || st.Generation != 2 {
		t.Fatalf("device activated something on a wrong commit: %+v, %v", st, err)
	}
	mustSign(t, b.dev, b.address, "after a wrong commit")
	w, err := b.e.store.WalletByClient(ctx(t), b.e.clientID)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := b.dev.State(ctx(t)); err != nil || st.Generation != w.ActiveGeneration {
		t.Fatalf("device at %+v, server at generation %d", st, w.ActiveGeneration)
	}
}
