package party_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"math/big"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cronokirby/saferith"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/internal/fixtures"
	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/mpc/hash"
	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/mpc/zk"
	"github.com/duetwallet/duet/mpc/zk/affg"
	"github.com/duetwallet/duet/mpc/zk/enc"
	"github.com/duetwallet/duet/mpc/zk/fac"
	"github.com/duetwallet/duet/mpc/zk/logstar"
	"github.com/duetwallet/duet/mpc/zk/mod"
	"github.com/duetwallet/duet/mpc/zk/prm"
	"github.com/duetwallet/duet/mpc/zk/sch"
	"github.com/duetwallet/duet/server/party"
	"github.com/duetwallet/duet/wire"
)

const ciphertextBits = 2 * paillier.MaxModulusBits

// attackWallet is a wallet made by an honest device, and the attacker that
// holds the same device share.
type attackWallet struct {
	e       *attackEnv
	key     string
	store   *memStore
	honest  *bridge.Device
	evil    *evilDevice
	address string
}

func newAttackWallet(t *testing.T, e *attackEnv) *attackWallet {
	t.Helper()
	_, key := e.newClient()
	st := &memStore{}
	dev := e.honestDevice(key, st)
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatalf("keygen: %v", err)
	}
	return &attackWallet{e: e, key: key, store: st, honest: dev, evil: evilFromStore(t, e, key, st), address: info.Address}
}

// expect is how an attack must end.
type expect struct {
	code string // the code the attacker is sent
	// check is (part of) the name of the check the server's log must give,
	// with the device as culprit; for a frame that does not decode, part of
	// the logged decoding error.
	check string
	// secret marks a check on a value the server decrypted or derived from
	// its secrets: the attacker's message must not name any check.
	secret bool
}

// checkNames are words of the checks that run on secret-dependent values;
// none of them may reach the attacker after such a check fails.
var checkNames = []string{"range", "consistency", "zero-sharing", "Πaff-g", "Πlog*", "Πenc", "Πmod", "Πfac", "Πsch", "failed"}

// assertAbort checks one played attack: what the attacker saw, what the
// server logged since mark, and that the server's stored state is before.
func (w *attackWallet) assertAbort(t *testing.T, mark int, before map[string][]string, o observation, want expect) {
	t.Helper()
	if o.Code != want.code {
		t.Errorf("attacker saw %v, want code %s", o, want.code)
	}
	if o.Close != wire.CloseError || o.Reason != want.code {
		t.Errorf("socket closed with %d %q, want %d %q", o.Close, o.Reason, wire.CloseError, want.code)
	}
	var logged []string
	found := false
	for _, r := range w.e.logs.since(mark) {
		if r.Msg != "session failed" {
			continue
		}
		logged = append(logged, r.Attrs["code"]+" "+r.Attrs["error"])
		if r.Attrs["code"] != want.code {
			continue
		}
		errText := r.Attrs["error"]
		if want.code == wire.CodeBadFrame {
			// A frame that does not decode has no culprit check: the log
			// says what did not decode.
			found = found || strings.Contains(errText, want.check)
			continue
		}
		i := strings.Index(errText, `party "device" failed `)
		if i < 0 || !strings.Contains(errText[i:], want.check) {
			continue
		}
		found = true
		if want.secret {
			check := strings.TrimPrefix(errText[i:], `party "device" failed `)
			if j := strings.Index(check, ": "); j >= 0 {
				check = check[:j]
			}
			if strings.Contains(o.Message, check) {
				t.Errorf("attacker was told the failed check %q: %q", check, o.Message)
			}
			for _, name := range checkNames {
				if strings.Contains(o.Message, name) {
					t.Errorf("attacker's message %q names a check (%q)", o.Message, name)
				}
			}
		}
	}
	if !found {
		t.Errorf("server log does not blame the device for %q with %s; it logged %q", want.check, want.code, logged)
	}
	if after := w.e.snapshot(); !equalTables(before, after) {
		t.Errorf("stored state changed:\nbefore %v\nafter  %v", before, after)
	}
}

// play runs one attack and checks its end, then that the wallet still
// signs with the honest device.
func (w *attackWallet) play(t *testing.T, want expect, attack func(ctx context.Context) observation) {
	t.Helper()
	// The attacker reports its own failures to the subtest that plays it
	// (subtests of one wallet run one after the other).
	parent := w.evil.t
	w.evil.t = t
	defer func() { w.evil.t = parent }()
	mark := w.e.logs.mark()
	before := w.e.snapshot()
	o := attack(ctx(t))
	w.assertAbort(t, mark, before, o, want)
	mustSign(t, w.honest, w.address, "after "+t.Name())
}

// devicePrimes are the attacker's primes for an aux-info refresh.
func devicePrimes() *mpc.Primes {
	p, q := fixtures.SafePrimePair(2)
	return &mpc.Primes{P: p, Q: q}
}

// refreshSession plays a proactive refresh (new aux info) through h.
func (d *evilDevice) refreshSession(ctx context.Context, h hooks) observation {
	s, err := d.open(ctx, wire.OpRefresh, wire.Hello{})
	if s == nil {
		d.t.Fatalf("dial: %v", err)
	}
	defer s.close()
	if err != nil {
		return s.end(ctx, err)
	}
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		d.t.Fatal(err)
	}
	rc := mpc.RefreshConfig{Config: s.config(mpc.ProtocolRefresh, d.share.Generation), Share: d.share, Primes: devicePrimes()}
	if h.commit != nil {
		s.opening = previewOpening(d.t, rc, seed)
	}
	rc.Rand = newSeededRand(seed)
	r, first, err := mpc.Refresh(rc)
	if err != nil {
		d.t.Fatal(err)
	}
	_, err = s.run(ctx, r, first, h)
	return s.end(ctx, err)
}

// backupSession plays the refresh that makes a backup pair through h.
func (d *evilDevice) backupSession(ctx context.Context, h hooks) observation {
	s, err := d.open(ctx, wire.OpBackup, wire.Hello{Method: bridge.MethodPassword})
	if s == nil {
		d.t.Fatalf("dial: %v", err)
	}
	defer s.close()
	if err != nil {
		return s.end(ctx, err)
	}
	r, first, err := mpc.Refresh(mpc.RefreshConfig{Config: s.config(mpc.ProtocolRefresh, d.share.Generation), Share: d.share})
	if err != nil {
		d.t.Fatal(err)
	}
	_, err = s.run(ctx, r, first, h)
	return s.end(ctx, err)
}

// signSession plays presigning for a digest through h; the output is the
// device's presignature when the run completed.
func (d *evilDevice) signSession(ctx context.Context, digest [32]byte, h hooks) (*evilSession, *mpc.Presignature, error) {
	s, err := d.open(ctx, wire.OpSign, wire.Hello{Digest: digest[:]})
	if s == nil {
		d.t.Fatalf("dial: %v", err)
	}
	if err != nil {
		return s, nil, err
	}
	r, first, err := mpc.Presign(mpc.PresignConfig{Config: s.config(mpc.ProtocolPresign, d.share.Generation), Share: d.share})
	if err != nil {
		d.t.Fatal(err)
	}
	out, err := s.run(ctx, r, first, h)
	if err != nil {
		return s, nil, err
	}
	return s, out.(*mpc.Presignature), nil
}

// presignAttack plays presigning through h and returns how it ended.
func (d *evilDevice) presignAttack(ctx context.Context, h hooks) observation {
	s, _, err := d.signSession(ctx, [32]byte{1, 2, 3}, h)
	defer s.close()
	return s.end(ctx, err)
}

// keygenSession plays key generation for a client without a wallet.
func (d *evilDevice) keygenSession(ctx context.Context, h hooks) observation {
	s, err := d.open(ctx, wire.OpKeygen, wire.Hello{})
	if s == nil {
		d.t.Fatalf("dial: %v", err)
	}
	defer s.close()
	if err != nil {
		return s.end(ctx, err)
	}
	r, first, err := mpc.Keygen(s.config(mpc.ProtocolKeygen, 0))
	if err != nil {
		d.t.Fatal(err)
	}
	_, err = s.run(ctx, r, first, h)
	return s.end(ctx, err)
}

// refresh3 is the device's round-3 refresh message.
type refresh3 struct {
	hasAux bool
	mod    *mod.Proof
	fac    *fac.Proof
	C      *big.Int
	log    *logstar.Proof // C encrypts the discrete log of U^{→server}
	resp   *sch.Response
}

func decodeRefresh3(t *testing.T, p []byte) *refresh3 {
	d := codec.NewDecoder(p)
	m := &refresh3{hasAux: d.Bool()}
	if m.hasAux {
		m.mod, m.fac = mod.Decode(d), fac.Decode(d)
	}
	m.C = d.Nat(ciphertextBits)
	m.log = logstar.Decode(d)
	m.resp = sch.DecodeResponse(d)
	if err := d.Finish(); err != nil {
		t.Fatalf("refresh round 3: %v", err)
	}
	return m
}

func (m *refresh3) encode() []byte {
	e := codec.NewEncoder(48 << 10).Bool(m.hasAux)
	if m.hasAux {
		m.mod.Encode(e)
		m.fac.Encode(e)
	}
	e.Nat(m.C)
	m.log.Encode(e)
	m.resp.Encode(e)
	return e.Bytes()
}

func tamperRefresh3(t *testing.T, f func(m *refresh3)) hooks {
	return tamperPayload(3, func(p []byte) []byte {
		m := decodeRefresh3(t, p)
		f(m)
		return m.encode()
	})
}

// opening is the device's round-2 refresh message, which its round-1
// commitment binds.
type opening struct {
	toPeer, A *curve.Point
	rho, u    []byte
	hasAux    bool
	N, S, T   *big.Int
	prm       *prm.Proof
}

func decodeOpening(t *testing.T, p []byte) *opening {
	d := codec.NewDecoder(p)
	o := &opening{toPeer: d.Point(), A: d.Point(), rho: d.Fixed(32), u: d.Fixed(32), hasAux: d.Bool()}
	if o.hasAux {
		o.N, o.S, o.T = d.Nat(paillier.MaxModulusBits), d.Nat(paillier.MaxModulusBits), d.Nat(paillier.MaxModulusBits)
		o.prm = prm.Decode(d)
	}
	if err := d.Finish(); err != nil {
		t.Fatalf("refresh opening: %v", err)
	}
	return o
}

func (o *opening) encode() []byte {
	e := codec.NewEncoder(48 << 10).Point(o.toPeer).Point(o.A).Fixed(o.rho).Fixed(o.u).Bool(o.hasAux)
	if o.hasAux {
		e.Nat(o.N).Nat(o.S).Nat(o.T)
		o.prm.Encode(e)
	}
	return e.Bytes()
}

// recommit rewrites the device's refresh opening with f and commits to the
// result in round 1, so the server's commitment check passes and its next
// check decides.
func recommit(t *testing.T, f func(sid []byte, o *opening)) hooks {
	return editOpening(t, func(m *mpc.Message) []byte {
		o := decodeOpening(t, m.Payload)
		f(m.SessionID, o)
		return o.encode()
	}, nil)
}

// editOpening commits in round 1 to edit's rewrite of the device's
// opening and sends that rewrite in round 2; later rounds go through out,
// if set.
func editOpening(t *testing.T, edit func(opening *mpc.Message) []byte, out func(m *mpc.Message) []*wire.Frame) hooks {
	var honest, edited []byte
	return hooks{
		commit: func(r1, opening *mpc.Message) []*wire.Frame {
			honest, edited = opening.Payload, edit(opening)
			V := hash.New("aux-com").Bytes(r1.SessionID).String(string(mpc.Device)).Bytes(edited).Digest()
			return frames(withPayload(r1, V))
		},
		out: func(m *mpc.Message) []*wire.Frame {
			if m.Round == 2 {
				if !bytes.Equal(m.Payload, honest) {
					t.Fatal("the run's opening is not the previewed one")
				}
				return frames(withPayload(m, edited))
			}
			if out != nil {
				return out(m)
			}
			return frames(m)
		},
	}
}

// presign1 is the device's round-1 presigning message.
type presign1 struct {
	ssid []byte
	K, G *big.Int
	enc  *enc.Proof
}

func tamperPresign1(t *testing.T, f func(m *presign1)) hooks {
	return tamperPayload(1, func(p []byte) []byte {
		d := codec.NewDecoder(p)
		m := &presign1{ssid: d.Fixed(hash.DigestSize), K: d.Nat(ciphertextBits), G: d.Nat(ciphertextBits), enc: enc.Decode(d)}
		if err := d.Finish(); err != nil {
			t.Fatalf("presign round 1: %v", err)
		}
		f(m)
		e := codec.NewEncoder(len(p) + 64).Fixed(m.ssid).Nat(m.K).Nat(m.G)
		m.enc.Encode(e)
		return e.Bytes()
	})
}

// presign2 is the device's round-2 presigning message.
type presign2 struct {
	Gamma            *curve.Point
	D, F, DHat, FHat *big.Int
	delta, chi       *affg.Proof
	log              *logstar.Proof
}

func decodePresign2(t *testing.T, p []byte) *presign2 {
	d := codec.NewDecoder(p)
	m := &presign2{Gamma: d.Point(), D: d.Nat(ciphertextBits), F: d.Nat(ciphertextBits), DHat: d.Nat(ciphertextBits), FHat: d.Nat(ciphertextBits)}
	m.delta, m.chi, m.log = affg.Decode(d), affg.Decode(d), logstar.Decode(d)
	if err := d.Finish(); err != nil {
		t.Fatalf("presign round 2: %v", err)
	}
	return m
}

func tamperPresign2(t *testing.T, f func(m *presign2)) hooks {
	return tamperPayload(2, func(p []byte) []byte {
		m := decodePresign2(t, p)
		f(m)
		e := codec.NewEncoder(len(p) + 64).Point(m.Gamma).Nat(m.D).Nat(m.F).Nat(m.DHat).Nat(m.FHat)
		m.delta.Encode(e)
		m.chi.Encode(e)
		m.log.Encode(e)
		return e.Bytes()
	})
}

// presign3 is the device's round-3 presigning message.
type presign3 struct {
	delta *curve.Scalar
	Delta *curve.Point
	log   *logstar.Proof
}

func decodePresign3(t *testing.T, p []byte) *presign3 {
	d := codec.NewDecoder(p)
	m := &presign3{delta: d.Scalar(), Delta: d.Point(), log: logstar.Decode(d)}
	if err := d.Finish(); err != nil {
		t.Fatalf("presign round 3: %v", err)
	}
	return m
}

func tamperPresign3(t *testing.T, f func(m *presign3)) hooks {
	return tamperPayload(3, func(p []byte) []byte {
		m := decodePresign3(t, p)
		f(m)
		e := codec.NewEncoder(len(p) + 64).Scalar(m.delta).Point(m.Delta)
		m.log.Encode(e)
		return e.Bytes()
	})
}

func inc(x *big.Int) *big.Int { return new(big.Int).Add(x, big.NewInt(1)) }

func incScalar(s *curve.Scalar) *curve.Scalar { return s.Add(curve.ScalarFromUint64(1)) }

// raiseLimits lets one client play hundreds of aborting sessions.
func raiseLimits(h *party.Handler) {
	h.Limits = party.Limits{ShareChanges: 1000, Aborts: 1000}
}

// loot is what an attacker keeps from one signature: the server's
// presigning ciphertext K_S = enc_S(k_S) and Δ_S = k_S·Γ, its own k_D, and
// the signature's values, from which x follows once k_S is known.
type loot struct {
	KS            *big.Int
	Gamma, DeltaS *curve.Point
	kD            *curve.Scalar
	m, r, s       *curve.Scalar
}

// matches reports whether g is the server's nonce share k_S.
func (l *loot) matches(g *curve.Scalar) bool { return l.Gamma.Mul(g).Equal(l.DeltaS) }

// key returns x = (s/k − m)/r for k = k_D + g, the key a right guess gives.
func (l *loot) key(g *curve.Scalar) *curve.Scalar {
	k := l.kD.Add(g)
	return l.s.Mul(k.Inverse()).Sub(l.m).Mul(l.r.Inverse())
}

// sign signs honestly as the attacker and keeps the loot.
func (d *evilDevice) sign(ctx context.Context, digest [32]byte) *loot {
	d.t.Helper()
	l := &loot{}
	var gammaD, gammaS *curve.Point
	h := hooks{
		in: func(m *mpc.Message) {
			dec := codec.NewDecoder(m.Payload)
			switch m.Round {
			case 1:
				dec.Fixed(hash.DigestSize)
				l.KS = dec.Nat(ciphertextBits)
			case 2:
				gammaS = dec.Point()
			case 3:
				dec.Scalar()
				l.DeltaS = dec.Point()
			}
		},
		out: func(m *mpc.Message) []*wire.Frame {
			if m.Round == 2 {
				gammaD = codec.NewDecoder(m.Payload).Point()
			}
			return frames(m)
		},
	}
	s, pre, err := d.signSession(ctx, digest, h)
	if err != nil {
		d.t.Fatalf("attacker's honest signature: %v", err)
	}
	defer s.close()
	l.Gamma = gammaD.Add(gammaS)
	l.kD = new(curve.Scalar).Set(pre.K)
	own, err := pre.PartialSign(digest)
	if err != nil {
		d.t.Fatal(err)
	}
	f, err := s.recv(ctx)
	if err != nil {
		d.t.Fatalf("σ: %v", err)
	}
	data, err := wire.ParseData(f, "sigma")
	if err != nil {
		d.t.Fatal(err)
	}
	peer := new(mpc.PartialSignature)
	if err := peer.UnmarshalBinary(data.Body); err != nil {
		d.t.Fatal(err)
	}
	sig, err := pre.Combine(digest, own, peer)
	if err != nil {
		d.t.Fatalf("combine: %v", err)
	}
	l.m = curve.ScalarFromBytesReduce(&digest)
	l.r = sig.R
	l.s = own.Sigma.Add(peer.Sigma)
	return l
}

// oracleHooks replace the device's zero-sharing ciphertext in the backup
// refresh by C = K_S · enc_S(−t), which decrypts to k_S − t.
func oracleHooks(t *testing.T, pk *paillier.PublicKey, KS, threshold *big.Int) hooks {
	return tamperRefresh3(t, func(m *refresh3) {
		negT := new(saferith.Int).SetBig(threshold, 257).Neg(1)
		c, _, err := pk.Encrypt(rand.Reader, negT)
		if err != nil {
			t.Fatal(err)
		}
		m.C = pk.Add(KS, c)
	})
}

// TestAttackBackupDecryptionOracle plays the bisection on k_S through the
// backup refresh: 256 backup sessions, each with C = K_S·enc(−t). What the
// device sees must not depend on t, so its guess is a constant, and the one
// signature it made does not give it x.
func TestAttackBackupDecryptionOracle(t *testing.T) {
	e := newAttackEnv(t, raiseLimits)
	w := newAttackWallet(t, e)
	digest := [32]byte{0xd1, 0x6e, 0x57}
	l := w.evil.sign(ctx(t), digest)
	if !mpc.VerifySignature(w.evil.share.PublicKey, digest, l.r, l.s) && !mpc.VerifySignature(w.evil.share.PublicKey, digest, l.r, l.s.Negate()) {
		t.Fatal("the attacker's signature does not verify")
	}
	before := e.snapshot()
	mark := e.logs.mark()
	pk := w.evil.share.Aux.PeerPaillier

	lo, hi := new(big.Int), curve.Order() // lo ≤ k_S < hi while the oracle answers
	var first observation
	var differ []string
	sessions := 0
	for i := 0; i < 256; i++ {
		th := new(big.Int).Add(lo, hi)
		th.Add(th, big.NewInt(1)).Rsh(th, 1) // lo < th ≤ hi until they meet
		o := w.evil.backupSession(ctx(t), oracleHooks(t, pk, l.KS, th))
		sessions++
		if i == 0 {
			first = o
		} else if !reflect.DeepEqual(o, first) && len(differ) < 3 {
			differ = append(differ, o.String())
		}
		if strings.Contains(o.Message, "range") {
			hi = th // k_S − t decrypted negative: k_S < t
		} else {
			lo = th
		}
	}
	t.Logf("%d backup sessions; first observation %v", sessions, first)
	if len(differ) > 0 {
		t.Errorf("what the attacker observed depended on t (on k_S): first %v, then %q", first, differ)
	}
	if first.Code != wire.CodeProtocolAbort || first.Close != wire.CloseError {
		t.Errorf("backup with a forged ciphertext ended with %v, want %s", first, wire.CodeProtocolAbort)
	}
	for _, name := range checkNames {
		if strings.Contains(first.Message, name) {
			t.Errorf("the attacker was told which check failed: %q", first.Message)
			break
		}
	}
	aborts := 0
	for _, r := range e.logs.since(mark) {
		if r.Msg == "session failed" && r.Attrs["code"] == wire.CodeProtocolAbort &&
			strings.Contains(r.Attrs["error"], `refresh round 3: party "device" failed `) && strings.Contains(r.Attrs["error"], "zero-sharing") {
			aborts++
		}
	}
	if aborts != sessions {
		t.Errorf("server logged %d zero-sharing aborts blaming the device, want %d", aborts, sessions)
	}
	// The bisection leaves k_S ∈ {lo, hi} (a zero plaintext may answer
	// either way); the attacker checks each candidate against Δ_S.
	for _, b := range []*big.Int{lo, hi} {
		g := curve.ScalarFromBigVarTime(new(big.Int).Mod(b, curve.Order()))
		if l.matches(g) {
			t.Errorf("the attacker recovered k_S in %d backups", sessions)
		}
		if x := l.key(g); curve.BaseMul(x).Equal(w.evil.share.PublicKey) {
			t.Errorf("the attacker recovered the wallet's key x")
		}
	}
	if after := e.snapshot(); !equalTables(before, after) {
		t.Errorf("stored state changed:\nbefore %v\nafter  %v", before, after)
	}
	mustSign(t, w.honest, w.address, "after the oracle")
}

// With the default limits the same attack is cut short: a handful of
// aborted backups lock the client out with RATE_LIMITED, and after the
// lockout the wallet signs again.
func TestAttackBackupDecryptionOracleDefaultLimits(t *testing.T) {
	var skew atomic.Int64
	e := newAttackEnv(t, func(h *party.Handler) {
		h.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	})
	w := newAttackWallet(t, e)
	l := w.evil.sign(ctx(t), [32]byte{0xd1})
	before := e.snapshot()
	mark := e.logs.mark()
	pk := w.evil.share.Aux.PeerPaillier

	const tries = 12
	var played []observation
	refused := 0
	for i := 0; i < tries; i++ {
		th := new(big.Int).Rsh(curve.Order(), uint(i+1))
		o := w.evil.backupSession(ctx(t), oracleHooks(t, pk, l.KS, th))
		if o.Code == wire.CodeRateLimited {
			refused++
			if len(o.Seen) != 0 || !strings.Contains(o.Message, "try again after") {
				t.Errorf("refused session: %v, want RATE_LIMITED before Welcome with a time to retry", o)
			}
			continue
		}
		if refused > 0 {
			t.Errorf("session %d ran after a refusal: %v", i+1, o)
		}
		played = append(played, o)
	}
	// Five aborts lock the client out (the sixth share change of the hour
	// would be allowed, the lockout comes first).
	if len(played) != 5 || refused != tries-5 {
		t.Errorf("%d backups ran and %d were refused, want 5 and %d", len(played), refused, tries-5)
	}
	for _, o := range played[1:] {
		if !reflect.DeepEqual(o, played[0]) {
			t.Errorf("observations differ: %v and %v", played[0], o)
		}
	}
	locked := false
	for _, r := range e.logs.since(mark) {
		locked = locked || r.Msg == "client locked out after repeated aborts"
	}
	if !locked {
		t.Error("the server did not log the lockout")
	}
	if after := e.snapshot(); !equalTables(before, after) {
		t.Errorf("stored state changed:\nbefore %v\nafter  %v", before, after)
	}
	// The lockout covers the client, so its honest device waits too.
	if _, err := w.honest.Sign(ctx(t), [32]byte{1}); bridge.Code(err) != wire.CodeRateLimited {
		t.Errorf("a locked-out client signed: %v", err)
	}
	skew.Store(int64(16 * time.Minute))
	mustSign(t, w.honest, w.address, "after the lockout")
}

// TestAttackForgedProofs tampers one value of each proof the device sends
// (the commitment or envelope around it stays right, so the proof's own
// check decides) and checks the server aborts at that check.
func TestAttackForgedProofs(t *testing.T) {
	e := newAttackEnv(t, raiseLimits)
	w := newAttackWallet(t, e)
	d := w.evil
	refresh := func(h func(t *testing.T) hooks) func(t *testing.T) func(context.Context) observation {
		return func(t *testing.T) func(context.Context) observation {
			return func(ctx context.Context) observation { return d.refreshSession(ctx, h(t)) }
		}
	}
	presign := func(h func(t *testing.T) hooks) func(t *testing.T) func(context.Context) observation {
		return func(t *testing.T) func(context.Context) observation {
			return func(ctx context.Context) observation { return d.presignAttack(ctx, h(t)) }
		}
	}
	cases := []struct {
		name string
		play func(t *testing.T) func(context.Context) observation
		want expect
	}{
		{"Πprm", refresh(func(t *testing.T) hooks {
			return recommit(t, func(_ []byte, o *opening) { o.prm.Z[7] = inc(o.prm.Z[7]) })
		}), expect{wire.CodeProtocolAbort, "ring-Pedersen proof (Πprm)", false}},
		{"Πmod", refresh(func(t *testing.T) hooks {
			return tamperRefresh3(t, func(m *refresh3) { m.mod.Z[3] = inc(m.mod.Z[3]) })
		}), expect{wire.CodeProtocolAbort, "Πmod", true}},
		{"Πfac", refresh(func(t *testing.T) hooks {
			return tamperRefresh3(t, func(m *refresh3) { m.fac.Z1 = inc(m.fac.Z1) })
		}), expect{wire.CodeProtocolAbort, "Πfac", true}},
		{"Schnorr/refresh", refresh(func(t *testing.T) hooks {
			return tamperRefresh3(t, func(m *refresh3) { m.resp.Z = incScalar(m.resp.Z) })
		}), expect{wire.CodeProtocolAbort, "Schnorr proof (Πsch) of the zero sharing", true}},
		{"Schnorr/backup", func(t *testing.T) func(context.Context) observation {
			return func(ctx context.Context) observation {
				return d.backupSession(ctx, tamperRefresh3(t, func(m *refresh3) { m.resp.Z = incScalar(m.resp.Z) }))
			}
		}, expect{wire.CodeProtocolAbort, "Schnorr proof (Πsch) of the zero sharing", true}},
		{"Πlog*/zero sharing", func(t *testing.T) func(context.Context) observation {
			return func(ctx context.Context) observation {
				return d.backupSession(ctx, tamperRefresh3(t, func(m *refresh3) { m.log.Z1 = inc(m.log.Z1) }))
			}
		}, expect{wire.CodeProtocolAbort, "log proof of the zero-sharing ciphertext (Πlog*)", true}},
		{"Πenc", presign(func(t *testing.T) hooks {
			return tamperPresign1(t, func(m *presign1) { m.enc.Z1 = inc(m.enc.Z1) })
		}), expect{wire.CodeProtocolAbort, "range proof of K (Πenc)", false}},
		{"Πaff-g/δ", presign(func(t *testing.T) hooks {
			return tamperPresign2(t, func(m *presign2) { m.delta.Z1 = inc(m.delta.Z1) })
		}), expect{wire.CodeProtocolAbort, "affine-operation proof of the δ MtA (Πaff-g)", false}},
		{"Πaff-g/χ", presign(func(t *testing.T) hooks {
			return tamperPresign2(t, func(m *presign2) { m.chi.Z2 = inc(m.chi.Z2) })
		}), expect{wire.CodeProtocolAbort, "affine-operation proof of the χ MtA (Πaff-g)", false}},
		{"Πlog*/Γ", presign(func(t *testing.T) hooks {
			return tamperPresign2(t, func(m *presign2) { m.log.Z1 = inc(m.log.Z1) })
		}), expect{wire.CodeProtocolAbort, "log proof of Γ (Πlog*)", false}},
		{"Πlog*/Δ", presign(func(t *testing.T) hooks {
			return tamperPresign3(t, func(m *presign3) { m.log.Z1 = inc(m.log.Z1) })
		}), expect{wire.CodeProtocolAbort, "log proof of Δ (Πlog*)", true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { w.play(t, c.want, c.play(t)) })
	}

	// Key generation, for a client that has no wallet yet: nothing may be
	// stored for it.
	t.Run("Schnorr/keygen", func(t *testing.T) {
		clientID, key := e.newClient()
		fresh := &evilDevice{t: t, url: e.wsURL, apiKey: key}
		w.play(t, expect{wire.CodeProtocolAbort, "Schnorr proof (Πsch) of the public share", false}, func(ctx context.Context) observation {
			return fresh.keygenSession(ctx, tamperPayload(3, func(p []byte) []byte {
				z, err := curve.ScalarFromBytes(p)
				if err != nil {
					t.Fatal(err)
				}
				return incScalar(z).Bytes()
			}))
		})
		if _, err := e.store.WalletByClient(ctx(t), clientID); err == nil {
			t.Error("the server kept a wallet for the aborted key generation")
		}
	})
}

// pow2 returns 2^k + c.
func pow2(k uint, c int64) *big.Int {
	x := new(big.Int).Lsh(big.NewInt(1), k)
	return x.Add(x, big.NewInt(c))
}

// forgePrm makes ring-Pedersen parameters for any modulus whose φ the
// attacker knows, with a Πprm that verifies: nothing in Πprm needs N to be
// a Paillier-Blum modulus.
func forgePrm(t *testing.T, sid []byte, n, phi *big.Int) (s, tt *big.Int, proof *prm.Proof) {
	r := big.NewInt(0x1234567)
	for new(big.Int).GCD(nil, nil, r, n).Cmp(big.NewInt(1)) != 0 {
		r.Add(r, big.NewInt(1))
	}
	tt = new(big.Int).Exp(r, big.NewInt(2), n)
	lambda, err := rand.Int(rand.Reader, phi)
	if err != nil {
		t.Fatal(err)
	}
	s = new(big.Int).Exp(tt, lambda, n)
	proof = new(prm.Proof)
	var a [zk.Repetitions]*big.Int
	for k := range a {
		if a[k], err = rand.Int(rand.Reader, phi); err != nil {
			t.Fatal(err)
		}
		proof.A[k] = new(big.Int).Exp(tt, a[k], n)
	}
	ctx := &zk.Context{SessionID: sid, Prover: []byte(mpc.Device)}
	e := hash.ChalBits(ctx.Transcript("prm").Nat(n).Nat(s).Nat(tt).Nats(proof.A[:]).Reader(), zk.Repetitions)
	for k := range a {
		z := new(big.Int).Set(a[k])
		if e[k] {
			z.Add(z, lambda).Mod(z, phi)
		}
		proof.Z[k] = z
	}
	return s, tt, proof
}

// proveMod makes a Πmod that verifies for N = p·q with p ≡ q ≡ 3 mod 4,
// whatever the sizes of p and q: Πmod says nothing about small factors.
func proveMod(ctx *zk.Context, p, q *big.Int) *mod.Proof {
	one := big.NewInt(1)
	n := new(big.Int).Mul(p, q)
	phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
	w := big.NewInt(2)
	for big.Jacobi(w, n) != -1 {
		w.Add(w, one)
	}
	ys := hash.ChalUnits(ctx.Transcript("mod").Nat(n).Nat(w).Reader(), n, zk.Repetitions)
	nInv := new(big.Int).ModInverse(n, phi)
	fourth := func(y, p *big.Int) *big.Int {
		e := new(big.Int).Rsh(new(big.Int).Add(p, one), 2)
		e.Mul(e, e)
		return new(big.Int).Exp(new(big.Int).Mod(y, p), e, p)
	}
	qInv := new(big.Int).ModInverse(q, p)
	crt := func(xp, xq *big.Int) *big.Int {
		// x = xq + q·((xp − xq)·q⁻¹ mod p)
		h := new(big.Int).Sub(xp, xq)
		h.Mul(h, qInv).Mod(h, p)
		return h.Mul(h, q).Add(h, xq)
	}
	proof := &mod.Proof{W: w}
	for k, y := range ys {
		for c := 0; c < 4; c++ {
			a, b := c&1 == 1, c&2 == 2
			yy := new(big.Int).Set(y)
			if a {
				yy.Neg(yy)
			}
			if b {
				yy.Mul(yy, w)
			}
			yy.Mod(yy, n)
			if big.Jacobi(yy, p) != 1 || big.Jacobi(yy, q) != 1 {
				continue
			}
			proof.X[k] = crt(fourth(yy, p), fourth(yy, q))
			proof.A[k], proof.B[k] = a, b
			break
		}
		proof.Z[k] = new(big.Int).Exp(y, nInv, n)
	}
	return proof
}

// bitforge makes the device's aux info a modulus N of the attacker's
// choice (with its own ring-Pedersen parameters and a valid Πprm), and,
// when p and q are given, a Πmod for it that verifies.
func bitforge(t *testing.T, n, phi, p, q *big.Int) hooks {
	var ownRho, serverRho []byte
	h := editOpening(t, func(m *mpc.Message) []byte {
		o := decodeOpening(t, m.Payload)
		o.N = n
		o.S, o.T, o.prm = forgePrm(t, m.SessionID, n, phi)
		ownRho = o.rho
		return o.encode()
	}, func(m *mpc.Message) []*wire.Frame {
		if m.Round != 3 || p == nil {
			return frames(m)
		}
		r3 := decodeRefresh3(t, m.Payload)
		rho := make([]byte, 32)
		for i := range rho {
			rho[i] = ownRho[i] ^ serverRho[i]
		}
		r3.mod = proveMod(&zk.Context{SessionID: m.SessionID, Prover: []byte(mpc.Device), Rand: rho}, p, q)
		return frames(withPayload(m, r3.encode()))
	})
	h.in = func(m *mpc.Message) {
		if m.Round == 2 {
			d := codec.NewDecoder(m.Payload)
			d.Point()
			d.Point()
			serverRho = d.Fixed(32)
		}
	}
	return h
}

// TestAttackBitForgeModuli offers the server Paillier moduli built for the
// BitForge attacks, each with ring-Pedersen parameters proven by a valid
// Πprm so that the server gets as far as Πmod and Πfac.
func TestAttackBitForgeModuli(t *testing.T) {
	e := newAttackEnv(t, raiseLimits)
	w := newAttackWallet(t, e)
	one := big.NewInt(1)
	p0, _ := fixtures.SafePrimePair(3)
	// Primes found by a deterministic search from the given starting points,
	// only checked here.
	r1 := pow2(512, 127)
	r1.Sub(r1, pow2(508, 0))
	r2 := pow2(512, 35)
	r2.Sub(r2, pow2(507, 0))
	notBlum := pow2(1023, 0) // ≡ 1 mod 4
	notBlum.Add(notBlum, pow2(1022, 1037))
	small, big2031 := big.NewInt(65519), pow2(2031, 2091)
	for _, x := range []*big.Int{r1, r2, notBlum, small, big2031} {
		if !x.ProbablyPrime(20) {
			t.Fatalf("%x is not prime", x)
		}
	}
	phiOf := func(ps ...*big.Int) (n, phi *big.Int) {
		n, phi = big.NewInt(1), big.NewInt(1)
		for _, p := range ps {
			n.Mul(n, p)
			phi.Mul(phi, new(big.Int).Sub(p, one))
		}
		return n, phi
	}
	cases := []struct {
		name   string
		primes []*big.Int
		blum   bool // both primes ≡ 3 mod 4: the attacker proves Πmod
		check  string
	}{
		{"N=p·q·r", []*big.Int{p0, r1, r2}, false, "Paillier-Blum modulus proof (Πmod)"},
		{"not Paillier-Blum", []*big.Int{p0, notBlum}, false, "Paillier-Blum modulus proof (Πmod)"},
		{"small factor", []*big.Int{small, big2031}, true, "no-small-factor proof (Πfac)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, phi := phiOf(c.primes...)
			if b := n.BitLen(); b < paillier.MinModulusBits || b > paillier.MaxModulusBits {
				t.Fatalf("N has %d bits", b)
			}
			var p, q *big.Int
			if c.blum {
				p, q = c.primes[0], c.primes[1]
			}
			w.play(t, expect{wire.CodeProtocolAbort, c.check, true}, func(ctx context.Context) observation {
				return w.evil.refreshSession(ctx, bitforge(t, n, phi, p, q))
			})
		})
	}
}

// recordRound1 runs presigning honestly as d up to its first message and
// returns that message, as an attacker keeps it for a replay.
func (d *evilDevice) recordPresign1(ctx context.Context) *mpc.Message {
	var got *mpc.Message
	s, _, err := d.signSession(ctx, [32]byte{9}, hooks{out: func(m *mpc.Message) []*wire.Frame {
		if m.Round == 1 {
			got = m
		}
		return frames(m)
	}})
	if err != nil {
		d.t.Fatalf("recording a presigning run: %v", err)
	}
	s.close()
	return got
}

// reenvelope puts a recorded message into the current session's envelope.
func reenvelope(rec, cur *mpc.Message) *mpc.Message {
	c := *rec
	c.SessionID = cur.SessionID
	return &c
}

// TestAttackMessages replays, reflects, reorders, duplicates and mangles
// the device's messages, and runs a protocol at the wrong generation.
func TestAttackMessages(t *testing.T) {
	e := newAttackEnv(t, raiseLimits)
	w := newAttackWallet(t, e)
	other := newAttackWallet(t, e)
	d := w.evil
	older := d.recordPresign1(ctx(t))
	foreign := other.evil.recordPresign1(ctx(t))

	presign := func(h hooks) func(context.Context) observation {
		return func(ctx context.Context) observation { return d.presignAttack(ctx, h) }
	}
	replace := func(rec *mpc.Message, envelope bool) hooks {
		return onRound(1, func(m *mpc.Message) []*wire.Frame {
			if envelope {
				return frames(reenvelope(rec, m))
			}
			return frames(rec)
		})
	}
	// reflect sends the server's own round-1 refresh commitment back as the
	// device's, with the sender rewritten or not. It is played in a backup,
	// where the server commits first; in a refresh that makes new aux info
	// the device commits before the server has sent anything to reflect.
	reflectBack := func(from mpc.PartyID) hooks {
		var server1 *mpc.Message
		return hooks{
			in: func(m *mpc.Message) {
				if m.Round == 1 {
					server1 = m
				}
			},
			out: func(m *mpc.Message) []*wire.Frame {
				switch m.Round {
				case 1:
					return nil
				case 2:
					r := *server1
					r.From = from
					return frames(&r)
				}
				return frames(m)
			},
		}
	}
	var held *mpc.Message
	reorder := hooks{out: func(m *mpc.Message) []*wire.Frame {
		switch m.Round {
		case 1:
			held = m
			return nil
		case 2:
			return frames(m, held)
		}
		return frames(m)
	}}
	cases := []struct {
		name string
		play func(context.Context) observation
		want expect
	}{
		{"replay/another session", presign(replace(older, false)), expect{wire.CodeProtocolAbort, "session id", false}},
		{"replay/another session, re-enveloped", presign(replace(older, true)), expect{wire.CodeProtocolAbort, "range proof of K (Πenc)", false}},
		{"replay/another wallet", presign(replace(foreign, false)), expect{wire.CodeProtocolAbort, "session id", false}},
		{"replay/another wallet, re-enveloped", presign(replace(foreign, true)), expect{wire.CodeProtocolAbort, "key generation (ssid)", false}},
		{"reflection/as sent", func(ctx context.Context) observation { return d.backupSession(ctx, reflectBack(mpc.Server)) },
			expect{wire.CodeProtocolAbort, "sender", false}},
		{"reflection/as the device's", func(ctx context.Context) observation { return d.backupSession(ctx, reflectBack(mpc.Device)) },
			expect{wire.CodeProtocolAbort, "commitment reflection", false}},
		{"reordered", presign(reorder), expect{wire.CodeProtocolAbort, "round: message of round 2", false}},
		{"duplicated", presign(onRound(1, func(m *mpc.Message) []*wire.Frame { return frames(m, m) })),
			expect{wire.CodeProtocolAbort, "round: message of round 1", false}},
		{"malformed envelope", presign(onRound(1, func(m *mpc.Message) []*wire.Frame {
			f := wire.MPCFrame(m)
			f.Body = f.Body[:len(f.Body)-1]
			return []*wire.Frame{f}
		})), expect{wire.CodeBadFrame, "mpc: malformed message", false}},
		{"frame of another type", presign(onRound(2, func(m *mpc.Message) []*wire.Frame {
			return []*wire.Frame{(&wire.Ack{Gen: 1, Digest: make([]byte, 32)}).Frame()}
		})), expect{wire.CodeBadFrame, "want mpc, got ack", false}},
		{"wrong generation/session", func(ctx context.Context) observation {
			// The device names the active generation in Hello and runs the
			// protocol at the next one.
			ahead := *d
			share := *d.share
			share.Generation++
			ahead.share, ahead.claim = &share, d.share.Generation
			s, _, err := ahead.signSession(ctx, [32]byte{7}, hooks{})
			defer s.close()
			return s.end(ctx, err)
		}, expect{wire.CodeProtocolAbort, "session id", false}},
		{"wrong generation/ssid", presign(tamperPresign1(t, func(m *presign1) {
			m.ssid = hash.New("ssid-aux").Bytes(m.ssid).Digest()
		})), expect{wire.CodeProtocolAbort, "key generation (ssid)", false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { w.play(t, c.want, c.play) })
	}

	// A device that names a generation the server does not hold is told
	// the active one in Welcome and nothing runs.
	t.Run("wrong generation/hello", func(t *testing.T) {
		mark, before := e.logs.mark(), e.snapshot()
		ahead := *d
		ahead.claim = d.share.Generation + 1
		s, _, err := ahead.signSession(ctx(t), [32]byte{7}, hooks{})
		defer s.close()
		o := s.end(ctx(t), err)
		if o.Close != wire.CloseDone || o.Code != "" || len(o.Seen) != 1 || o.Seen[0] != "welcome" {
			t.Errorf("a device on another generation saw %v, want only Welcome and a normal close", o)
		}
		if got := e.logs.since(mark); len(got) != 0 {
			t.Errorf("server logged %v", got)
		}
		if after := e.snapshot(); !equalTables(before, after) {
			t.Errorf("stored state changed:\nbefore %v\nafter  %v", before, after)
		}
		mustSign(t, w.honest, w.address, "after a wrong generation")
	})
}
