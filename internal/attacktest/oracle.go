package attacktest

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/mpc/pedersen"
	"github.com/duetwallet/duet/mpc/zk"
	"github.com/duetwallet/duet/mpc/zk/logstar"
	"github.com/duetwallet/duet/mpc/zk/sch"
	"github.com/duetwallet/duet/wire"
)

// Oracle is the backup-refresh decryption oracle as a malicious server
// plays it against a device that backs up: it answers a backup session
// itself and sends, as its zero-sharing ciphertext, C = K_D·enc(−t) under
// the device's Paillier key, K_D being the device's presigning ciphertext of
// its nonce share k_D. The device decrypts k_D − t; if how it aborts
// depended on the sign of that, each backup would be one step of a
// bisection for k_D, and k_D with the signature of that presignature gives
// the key. Everything it uses it saw on the wire.
type Oracle struct {
	WalletID string
	// Pair is the digest of the wallet's active pair, as the last Welcome
	// seen named it; the oracle's Welcome names it too.
	Pair      []byte
	DeviceKey *paillier.PublicKey
	DevicePed *pedersen.Params
	// From one presigning run: the device's K_D, Γ = Γ_D + Γ_S and the
	// device's Δ_D = k_D·Γ, against which a guess of k_D is checked.
	K            *big.Int
	Gamma, Delta *curve.Point
}

// LearnDeviceKey reads the device's Paillier key from its aux-info opening
// in a session that made new aux info (wallet creation or refresh).
func (o *Oracle) LearnDeviceKey(s *Session) error {
	m := s.FindMPC(FromDevice, mpc.ProtocolRefresh, 2)
	if m == nil {
		return errors.New("attacktest: no device refresh opening in the session")
	}
	op, err := DecodeOpening(m.Payload)
	if err != nil {
		return err
	}
	if !op.HasAux {
		return errors.New("attacktest: the device's opening has no aux info")
	}
	pk, err := paillier.NewPublicKey(op.N)
	if err != nil {
		return err
	}
	ped, err := pedersen.NewParams(pk.Modulus(), op.S, op.T)
	if err != nil {
		return err
	}
	o.DeviceKey, o.DevicePed = pk, ped
	if s.Welcome != nil {
		o.WalletID = s.Welcome.WalletID
	}
	o.learnPair(s)
	return nil
}

func (o *Oracle) learnPair(s *Session) {
	if s.Welcome != nil && len(s.Welcome.Pair) != 0 {
		o.Pair = s.Welcome.Pair
	}
}

// LearnPresign reads K_D, Γ and Δ_D from a signing session.
func (o *Oracle) LearnPresign(s *Session) error {
	d1 := s.FindMPC(FromDevice, mpc.ProtocolPresign, 1)
	d2 := s.FindMPC(FromDevice, mpc.ProtocolPresign, 2)
	s2 := s.FindMPC(FromServer, mpc.ProtocolPresign, 2)
	d3 := s.FindMPC(FromDevice, mpc.ProtocolPresign, 3)
	if d1 == nil || d2 == nil || s2 == nil || d3 == nil {
		return errors.New("attacktest: the session has no complete presigning run")
	}
	p1, err := decodePresign1(d1.Payload)
	if err != nil {
		return err
	}
	pd, err := decodePresign2(d2.Payload)
	if err != nil {
		return err
	}
	ps, err := decodePresign2(s2.Payload)
	if err != nil {
		return err
	}
	p3, err := decodePresign3(d3.Payload)
	if err != nil {
		return err
	}
	o.K, o.Gamma, o.Delta = p1.K, pd.Gamma.Add(ps.Gamma), p3.BigDel
	o.learnPair(s)
	return nil
}

// Check reports whether k is the device's nonce share: k·Γ = Δ_D.
func (o *Oracle) Check(k *big.Int) bool {
	if k.Sign() < 0 || k.Cmp(curve.Order()) >= 0 {
		return false
	}
	return o.Gamma.Mul(curve.ScalarFromBigVarTime(k)).Equal(o.Delta)
}

// Query is a Serve that answers one backup session with C = K_D·enc(−t).
func (o *Oracle) Query(t *big.Int) Serve {
	return func(ctx context.Context, s *Session, conn *wire.Conn) error {
		h := s.Hello
		if h.Op != wire.OpBackup {
			return fmt.Errorf("attacktest: the oracle answers backups, not %q", h.Op)
		}
		gen := h.Gens.Active
		nonce := make([]byte, 32)
		rho, u := make([]byte, 32), make([]byte, 32)
		for _, b := range [][]byte{nonce, rho, u} {
			if _, err := io.ReadFull(rand.Reader, b); err != nil {
				return err
			}
		}
		send := func(f *wire.Frame) error {
			s.Record(decode(FromServer, f.Marshal()))
			return conn.Send(ctx, f)
		}
		recv := func() (*wire.Frame, error) {
			f, err := conn.Recv(ctx)
			var we *wire.Error
			switch {
			case errors.As(err, &we):
				s.Record(&Frame{Dir: FromDevice, Frame: we.Frame(), Raw: we.Frame().Marshal(), Err: we})
			case err == nil:
				s.Record(decode(FromDevice, f.Marshal()))
			}
			return f, err
		}
		w := &wire.Welcome{WalletID: o.WalletID, Nonce: nonce, Active: gen, Pair: o.Pair, Latest: gen}
		s.Welcome = w
		if err := send(w.Frame()); err != nil {
			return err
		}
		sid := mpc.NewSessionID(mpc.ProtocolRefresh, o.WalletID, gen, mpc.Device, h.Nonce, mpc.Server, nonce)
		msg := func(round int, payload []byte) *wire.Frame {
			return wire.MPCFrame(&mpc.Message{SessionID: sid, Protocol: mpc.ProtocolRefresh, Round: uint8(round), From: mpc.Server, Payload: payload})
		}
		d, err := curve.RandomScalar(rand.Reader)
		if err != nil {
			return err
		}
		com, err := sch.NewCommitment(rand.Reader)
		if err != nil {
			return err
		}
		U := curve.BaseMul(d)
		opening := (&Opening{U: U, A: com.A, Rho: rho, R: u}).Encode()
		if err := send(msg(1, RefreshCommitment(sid, mpc.Server, opening))); err != nil {
			return err
		}
		if _, err := recv(); err != nil {
			return err
		}
		if err := send(msg(2, opening)); err != nil {
			return err
		}
		f, err := recv()
		if err != nil {
			return err
		}
		m, err := wire.ParseMPC(f)
		if err != nil {
			return err
		}
		devOpening, err := DecodeOpening(m.Payload)
		if err != nil {
			return err
		}
		joint := make([]byte, 32)
		subtle.XORBytes(joint, rho, devOpening.Rho)

		// The best the server can send with C: the Πlog* of an honest
		// encryption of its d, which C then replaces.
		pk := o.DeviceKey
		honest, nonceD, err := pk.Encrypt(rand.Reader, d.Int())
		if err != nil {
			return err
		}
		logCtx := &zk.Context{SessionID: sid, Prover: []byte(mpc.Server), Verifier: []byte(mpc.Device), Rand: joint}
		pLog, err := logstar.Prove(rand.Reader, logCtx,
			logstar.Public{N0: pk, C: honest, X: U, B: curve.Generator(), Aux: o.DevicePed},
			logstar.Private{X: d.Int(), Rho: nonceD})
		if err != nil {
			return err
		}
		n := pk.N()
		nonceC, err := rand.Int(rand.Reader, n)
		if err != nil {
			return err
		}
		minusT := new(big.Int).Mod(new(big.Int).Neg(t), n)
		c := pk.Add(o.K, pk.EncVarTime(minusT, nonceC))
		resp := com.Prove(&zk.Context{SessionID: sid, Prover: []byte(mpc.Server), Rand: joint}, U, d)
		if err := send(msg(3, (&refresh3{C: c, Log: pLog, Sch: resp}).encode())); err != nil {
			return err
		}
		// Watch everything the device does until it ends the session.
		for {
			if _, err := recv(); err != nil {
				return nil
			}
		}
	}
}

// Reaction is everything the device sent in a session, as an attacker
// sees it: each frame's type, protocol and round, and any error's code and
// message, in order.
func Reaction(s *Session) string {
	var parts []string
	for _, f := range s.Frames() {
		if f.Dir != FromDevice {
			continue
		}
		switch {
		case f.Err != nil:
			parts = append(parts, fmt.Sprintf("error %s %q", f.Err.Code, f.Err.Message))
		case f.Msg != nil:
			parts = append(parts, fmt.Sprintf("mpc %s/%d", f.Msg.Protocol, f.Msg.Round))
		case f.Frame != nil:
			parts = append(parts, f.Frame.Type.String())
		default:
			parts = append(parts, "garbage")
		}
	}
	return strings.Join(parts, ", ")
}

// Bisect runs the bisection for k_D ∈ [0, q): each step asks query for the
// device's reaction to t and decides k_D < t when it equals below, the
// reaction to a t known to lie above k_D. It returns the lower end after
// the given number of steps (k_D itself after 256 if the oracle works).
func Bisect(steps int, below string, query func(t *big.Int) (string, error)) (*big.Int, error) {
	lo, hi := new(big.Int), curve.Order()
	for range steps {
		t := new(big.Int).Add(lo, hi)
		t.Rsh(t, 1)
		if t.Cmp(lo) == 0 {
			break
		}
		r, err := query(t)
		if err != nil {
			return nil, err
		}
		if r == below {
			hi = t
		} else {
			lo = t
		}
	}
	return lo, nil
}
