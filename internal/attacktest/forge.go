package attacktest

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"

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
	"github.com/duetwallet/duet/wire"
)

const ciphertextBits = 2 * paillier.MaxModulusBits

// fail records a tamper that could not do its work; Err reports it.
func (s *Session) fail(err error) {
	if _, ok := s.State["error"]; !ok {
		s.State["error"] = err
	}
}

// Err is the first error of the session's tamper, if it failed to forge.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err, _ := s.State["error"].(error)
	return err
}

// Tampered reports whether the session's tamper changed anything.
func (s *Session) Tampered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.State["tampered"] == true
}

func (s *Session) once(key string) bool {
	k := "once:" + key
	if s.State[k] == true {
		return false
	}
	s.State[k] = true
	s.State["tampered"] = true
	return true
}

func mpcRaw(m *mpc.Message) []byte { return wire.MPCFrame(m).Marshal() }

// EditMPC rewrites the server's first message of (protocol, round) with
// edit, which changes the message in place.
func EditMPC(protocol string, round int, edit func(s *Session, m *mpc.Message) error) Tamper {
	return func(s *Session, f *Frame) [][]byte {
		if f.Dir != FromServer || !f.IsMPC(protocol, round) || !s.once(protocol+"/edit") {
			return [][]byte{f.Raw}
		}
		m := *f.Msg
		if err := edit(s, &m); err != nil {
			s.fail(fmt.Errorf("attacktest: editing %s round %d: %w", protocol, round, err))
			return [][]byte{f.Raw}
		}
		return [][]byte{mpcRaw(&m)}
	}
}

// Chain applies tampers in turn, each to what the previous let through.
func Chain(ts ...Tamper) Tamper {
	return func(s *Session, f *Frame) [][]byte {
		frames := []*Frame{f}
		for _, t := range ts {
			var next []*Frame
			for _, g := range frames {
				for _, raw := range t(s, g) {
					if bytes.Equal(raw, g.Raw) {
						next = append(next, g)
					} else {
						next = append(next, decode(g.Dir, raw))
					}
				}
			}
			frames = next
		}
		out := make([][]byte, len(frames))
		for i, g := range frames {
			out[i] = g.Raw
		}
		return out
	}
}

// Duplicate sends the server's message of (protocol, round) twice.
func Duplicate(protocol string, round int) Tamper {
	return func(s *Session, f *Frame) [][]byte {
		if f.Dir == FromServer && f.IsMPC(protocol, round) && s.once(protocol+"/dup") {
			return [][]byte{f.Raw, f.Raw}
		}
		return [][]byte{f.Raw}
	}
}

// Swap holds the server's message of (protocol, first) and sends it after
// the one of (protocol, second).
func Swap(protocol string, first, second int) Tamper {
	return func(s *Session, f *Frame) [][]byte {
		if f.Dir != FromServer {
			return [][]byte{f.Raw}
		}
		if f.IsMPC(protocol, first) && s.once(protocol+"/hold") {
			s.State["held"] = f.Raw
			return nil
		}
		if f.IsMPC(protocol, second) {
			if held, ok := s.State["held"].([]byte); ok {
				delete(s.State, "held")
				return [][]byte{f.Raw, held}
			}
		}
		return [][]byte{f.Raw}
	}
}

// Corrupt sends the server's message of (protocol, round) in a frame of an
// unknown wire version.
func Corrupt(protocol string, round int) Tamper {
	return func(s *Session, f *Frame) [][]byte {
		if f.Dir == FromServer && f.IsMPC(protocol, round) && s.once(protocol+"/corrupt") {
			b := bytes.Clone(f.Raw)
			b[0] = wire.Version + 7
			return [][]byte{b}
		}
		return [][]byte{f.Raw}
	}
}

// Truncate cuts the last byte off the payload of the server's message of
// (protocol, round), leaving the frame and envelope well formed.
func Truncate(protocol string, round int) Tamper {
	return EditMPC(protocol, round, func(_ *Session, m *mpc.Message) error {
		m.Payload = m.Payload[:len(m.Payload)-1]
		return nil
	})
}

// Reflect sends the device its own message of (protocol, round) in place of
// the server's, under the server's name.
func Reflect(protocol string, round int) Tamper {
	return func(s *Session, f *Frame) [][]byte {
		reflect := func(m *mpc.Message) []byte {
			r := *m
			r.From = mpc.Server
			return mpcRaw(&r)
		}
		switch {
		case f.Dir == FromServer && f.IsMPC(protocol, round) && s.once(protocol+"/reflect"):
			if own := s.FindMPC(FromDevice, protocol, round); own != nil {
				return [][]byte{reflect(own)}
			}
			s.State["reflect-pending"] = true
			return nil
		case f.Dir == FromDevice && f.IsMPC(protocol, round) && s.State["reflect-pending"] == true:
			delete(s.State, "reflect-pending")
			if err := s.toDevice(reflect(f.Msg)); err != nil {
				s.fail(err)
			}
		}
		return [][]byte{f.Raw}
	}
}

// Replace sends msg in place of the server's message of the same protocol
// and round. With keepSession the envelope is rewritten to this session's
// id, so only the payload is replayed.
func Replace(msg *mpc.Message, keepSession bool) Tamper {
	return EditMPC(msg.Protocol, int(msg.Round), func(_ *Session, m *mpc.Message) error {
		sid := m.SessionID
		*m = *msg
		m.Payload = bytes.Clone(msg.Payload)
		if keepSession {
			m.SessionID = sid
		}
		return nil
	})
}

// EditSigma rewrites the server's σ share.
func EditSigma(edit func(sigma *curve.Scalar) *curve.Scalar) Tamper {
	return func(s *Session, f *Frame) [][]byte {
		if f.Dir != FromServer || f.Frame == nil || f.Frame.Type != wire.TypeData {
			return [][]byte{f.Raw}
		}
		data, err := wire.ParseData(f.Frame, "sigma")
		if err != nil || !s.once("sigma") {
			return [][]byte{f.Raw}
		}
		ps := new(mpc.PartialSignature)
		if err := ps.UnmarshalBinary(data.Body); err != nil {
			s.fail(err)
			return [][]byte{f.Raw}
		}
		ps.Sigma = edit(ps.Sigma)
		b, _ := ps.MarshalBinary()
		return [][]byte{(&wire.Data{Kind: "sigma", Body: b}).Frame().Marshal()}
	}
}

// PlusOne returns σ + 1.
func PlusOne(x *curve.Scalar) *curve.Scalar { return x.Add(curve.ScalarFromUint64(1)) }

func bigPlusOne(x *big.Int) *big.Int { return new(big.Int).Add(x, big.NewInt(1)) }

// presign1 is the presigning round-1 message: ssid, K, G and Πenc.
type presign1 struct {
	SSID  []byte
	K, G  *big.Int
	Proof *enc.Proof
}

func decodePresign1(b []byte) (*presign1, error) {
	d := codec.NewDecoder(b)
	p := &presign1{SSID: d.Fixed(hash.DigestSize), K: d.Nat(ciphertextBits), G: d.Nat(ciphertextBits)}
	p.Proof = enc.Decode(d)
	return p, d.Finish()
}

func (p *presign1) encode() []byte {
	e := codec.NewEncoder(4 << 10).Fixed(p.SSID).Nat(p.K).Nat(p.G)
	p.Proof.Encode(e)
	return e.Bytes()
}

// presign2 is the presigning round-2 message.
type presign2 struct {
	Gamma            *curve.Point
	D, F, DHat, FHat *big.Int
	PDelta, PChi     *affg.Proof
	PLog             *logstar.Proof
}

func decodePresign2(b []byte) (*presign2, error) {
	d := codec.NewDecoder(b)
	p := &presign2{Gamma: d.Point(), D: d.Nat(ciphertextBits), F: d.Nat(ciphertextBits), DHat: d.Nat(ciphertextBits), FHat: d.Nat(ciphertextBits)}
	p.PDelta, p.PChi, p.PLog = affg.Decode(d), affg.Decode(d), logstar.Decode(d)
	return p, d.Finish()
}

func (p *presign2) encode() []byte {
	e := codec.NewEncoder(12 << 10).Point(p.Gamma).Nat(p.D).Nat(p.F).Nat(p.DHat).Nat(p.FHat)
	p.PDelta.Encode(e)
	p.PChi.Encode(e)
	p.PLog.Encode(e)
	return e.Bytes()
}

// presign3 is the presigning round-3 message.
type presign3 struct {
	Delta  *curve.Scalar
	BigDel *curve.Point
	PLog   *logstar.Proof
}

func decodePresign3(b []byte) (*presign3, error) {
	d := codec.NewDecoder(b)
	p := &presign3{Delta: d.Scalar(), BigDel: d.Point()}
	p.PLog = logstar.Decode(d)
	return p, d.Finish()
}

func (p *presign3) encode() []byte {
	e := codec.NewEncoder(2 << 10).Scalar(p.Delta).Point(p.BigDel)
	p.PLog.Encode(e)
	return e.Bytes()
}

// ForgeEnc breaks the server's Πenc of K in presigning round 1.
func ForgeEnc() Tamper {
	return EditMPC(mpc.ProtocolPresign, 1, func(_ *Session, m *mpc.Message) error {
		p, err := decodePresign1(m.Payload)
		if err != nil {
			return err
		}
		p.Proof.Z1 = bigPlusOne(p.Proof.Z1)
		m.Payload = p.encode()
		return nil
	})
}

// SetSSID makes the server presign with another generation's ssid.
func SetSSID(ssid []byte) Tamper {
	return EditMPC(mpc.ProtocolPresign, 1, func(_ *Session, m *mpc.Message) error {
		p, err := decodePresign1(m.Payload)
		if err != nil {
			return err
		}
		p.SSID = bytes.Clone(ssid)
		m.Payload = p.encode()
		return nil
	})
}

// SSID reads the ssid of a presigning round-1 message.
func SSID(m *mpc.Message) ([]byte, error) {
	p, err := decodePresign1(m.Payload)
	if err != nil {
		return nil, err
	}
	return p.SSID, nil
}

// ForgeAffg breaks the server's Πaff-g of the χ MtA (chi) or of the δ MtA in
// presigning round 2.
func ForgeAffg(chi bool) Tamper {
	return EditMPC(mpc.ProtocolPresign, 2, func(_ *Session, m *mpc.Message) error {
		p, err := decodePresign2(m.Payload)
		if err != nil {
			return err
		}
		proof := p.PDelta
		if chi {
			proof = p.PChi
		}
		proof.Bx = proof.Bx.Add(curve.Generator())
		m.Payload = p.encode()
		return nil
	})
}

// ForgeLogGamma breaks the server's Πlog* of Γ in presigning round 2.
func ForgeLogGamma() Tamper {
	return EditMPC(mpc.ProtocolPresign, 2, func(_ *Session, m *mpc.Message) error {
		p, err := decodePresign2(m.Payload)
		if err != nil {
			return err
		}
		p.PLog.Y = p.PLog.Y.Add(curve.Generator())
		m.Payload = p.encode()
		return nil
	})
}

// ForgeLogDelta breaks the server's Πlog* of Δ in presigning round 3.
func ForgeLogDelta() Tamper {
	return EditMPC(mpc.ProtocolPresign, 3, func(_ *Session, m *mpc.Message) error {
		p, err := decodePresign3(m.Payload)
		if err != nil {
			return err
		}
		p.PLog.Y = p.PLog.Y.Add(curve.Generator())
		m.Payload = p.encode()
		return nil
	})
}

// refresh3 is the refresh round-3 message.
type refresh3 struct {
	HasAux bool
	Mod    *mod.Proof
	Fac    *fac.Proof
	C      *big.Int
	Log    *logstar.Proof // binds C to U
	Sch    *sch.Response
}

func decodeRefresh3(b []byte) (*refresh3, error) {
	d := codec.NewDecoder(b)
	r := &refresh3{HasAux: d.Bool()}
	if r.HasAux {
		r.Mod, r.Fac = mod.Decode(d), fac.Decode(d)
	}
	r.C = d.Nat(ciphertextBits)
	r.Log = logstar.Decode(d)
	r.Sch = sch.DecodeResponse(d)
	return r, d.Finish()
}

func (r *refresh3) encode() []byte {
	e := codec.NewEncoder(48 << 10).Bool(r.HasAux)
	if r.HasAux {
		r.Mod.Encode(e)
		r.Fac.Encode(e)
	}
	e.Nat(r.C)
	r.Log.Encode(e)
	r.Sch.Encode(e)
	return e.Bytes()
}

func editRefresh3(edit func(r *refresh3) error) Tamper {
	return EditMPC(mpc.ProtocolRefresh, 3, func(_ *Session, m *mpc.Message) error {
		r, err := decodeRefresh3(m.Payload)
		if err != nil {
			return err
		}
		if err := edit(r); err != nil {
			return err
		}
		m.Payload = r.encode()
		return nil
	})
}

var errNoAux = errors.New("the run makes no aux info")

// ForgeMod breaks the server's Πmod in a refresh with new aux info.
func ForgeMod() Tamper {
	return editRefresh3(func(r *refresh3) error {
		if !r.HasAux {
			return errNoAux
		}
		r.Mod.Z[0] = bigPlusOne(r.Mod.Z[0])
		return nil
	})
}

// ForgeFac breaks the server's Πfac in a refresh with new aux info.
func ForgeFac() Tamper {
	return editRefresh3(func(r *refresh3) error {
		if !r.HasAux {
			return errNoAux
		}
		r.Fac.Z1 = bigPlusOne(r.Fac.Z1)
		return nil
	})
}

// ForgeRefreshLog breaks the server's Πlog* binding its zero-sharing
// ciphertext to U in refresh round 3.
func ForgeRefreshLog() Tamper {
	return editRefresh3(func(r *refresh3) error {
		r.Log.Y = r.Log.Y.Add(curve.Generator())
		return nil
	})
}

// ForgeRefreshSchnorr breaks the server's Schnorr proof of its zero-sharing
// part in refresh round 3.
func ForgeRefreshSchnorr() Tamper {
	return editRefresh3(func(r *refresh3) error {
		r.Sch.Z = PlusOne(r.Sch.Z)
		return nil
	})
}

// ForgeKeygenSchnorr breaks the server's Schnorr proof of its public share
// in key generation round 3.
func ForgeKeygenSchnorr() Tamper {
	return EditMPC(mpc.ProtocolKeygen, 3, func(_ *Session, m *mpc.Message) error {
		d := codec.NewDecoder(m.Payload)
		r := sch.DecodeResponse(d)
		if err := d.Finish(); err != nil {
			return err
		}
		r.Z = PlusOne(r.Z)
		e := codec.NewEncoder(32)
		r.Encode(e)
		m.Payload = e.Bytes()
		return nil
	})
}

// Opening is a refresh round-2 message: the opening of the round-1
// commitment.
type Opening struct {
	U, A    *curve.Point
	Rho, R  []byte
	HasAux  bool
	N, S, T *big.Int
	Prm     *prm.Proof
}

// DecodeOpening reads a refresh round-2 payload.
func DecodeOpening(b []byte) (*Opening, error) {
	d := codec.NewDecoder(b)
	o := &Opening{U: d.Point(), A: d.Point(), Rho: d.Fixed(32), R: d.Fixed(32), HasAux: d.Bool()}
	if o.HasAux {
		o.N, o.S, o.T = d.Nat(paillier.MaxModulusBits), d.Nat(paillier.MaxModulusBits), d.Nat(paillier.MaxModulusBits)
		o.Prm = prm.Decode(d)
	}
	return o, d.Finish()
}

// Encode writes the opening canonically.
func (o *Opening) Encode() []byte {
	e := codec.NewEncoder(48 << 10)
	e.Point(o.U).Point(o.A).Fixed(o.Rho).Fixed(o.R).Bool(o.HasAux)
	if o.HasAux {
		e.Nat(o.N).Nat(o.S).Nat(o.T)
		o.Prm.Encode(e)
	}
	return e.Bytes()
}

// RefreshCommitment is the round-1 commitment to an opening.
func RefreshCommitment(sid []byte, id mpc.PartyID, opening []byte) []byte {
	return hash.New("aux-com").Bytes(sid).String(string(id)).Bytes(opening).Digest()
}

// EditOpening rewrites the server's refresh opening and recommits to it: it
// holds the server's round-1 commitment until the server's round 2 (which
// comes once the device's round 1 reached the server), then sends the
// device a new commitment and the edited opening.
func EditOpening(edit func(s *Session, sid []byte, o *Opening) error) Tamper {
	return func(s *Session, f *Frame) [][]byte {
		if f.Dir != FromServer {
			return [][]byte{f.Raw}
		}
		if f.IsMPC(mpc.ProtocolRefresh, 1) && s.once("opening/hold") {
			s.State["opening-held"] = f.Msg
			return nil
		}
		held, ok := s.State["opening-held"].(*mpc.Message)
		if !ok || !f.IsMPC(mpc.ProtocolRefresh, 2) {
			return [][]byte{f.Raw}
		}
		delete(s.State, "opening-held")
		o, err := DecodeOpening(f.Msg.Payload)
		if err == nil {
			err = edit(s, f.Msg.SessionID, o)
		}
		if err != nil {
			s.fail(fmt.Errorf("attacktest: editing the refresh opening: %w", err))
			return [][]byte{mpcRaw(held), f.Raw}
		}
		opening := o.Encode()
		com := *held
		com.Payload = RefreshCommitment(f.Msg.SessionID, mpc.Server, opening)
		open := *f.Msg
		open.Payload = opening
		return [][]byte{mpcRaw(&com), mpcRaw(&open)}
	}
}

// ForgePrm breaks the server's Πprm in its refresh opening (recommitted).
func ForgePrm() Tamper {
	return EditOpening(func(_ *Session, _ []byte, o *Opening) error {
		if !o.HasAux {
			return errNoAux
		}
		o.Prm.Z[0] = bigPlusOne(o.Prm.Z[0])
		return nil
	})
}

// BitForge replaces the server's Paillier modulus in its refresh opening by
// a bad one, with ring-Pedersen parameters on it and a valid Πprm (made
// with the factorisation), and recommits: the device meets the modulus at
// Πmod and Πfac. A small-factor modulus, being Paillier–Blum, comes with a
// valid Πmod too, so that only Πfac stands in its way.
func BitForge(m *Modulus) Tamper {
	open := bitForgeOpening(m)
	if m.Kind != SmallFactor {
		return open
	}
	return Chain(open, EditMPC(mpc.ProtocolRefresh, 3, func(s *Session, msg *mpc.Message) error {
		r, err := decodeRefresh3(msg.Payload)
		if err != nil {
			return err
		}
		ours := s.FindMPC(FromServer, mpc.ProtocolRefresh, 2)
		theirs := s.FindMPC(FromDevice, mpc.ProtocolRefresh, 2)
		if !r.HasAux || ours == nil || theirs == nil {
			return errors.New("no aux-info openings to bind Πmod to")
		}
		o1, err := DecodeOpening(ours.Payload)
		if err != nil {
			return err
		}
		o2, err := DecodeOpening(theirs.Payload)
		if err != nil {
			return err
		}
		joint := make([]byte, 32)
		subtle.XORBytes(joint, o1.Rho, o2.Rho)
		if r.Mod, err = m.ProveMod(&zk.Context{SessionID: msg.SessionID, Prover: []byte(mpc.Server), Rand: joint}); err != nil {
			return err
		}
		msg.Payload = r.encode()
		return nil
	}))
}

func bitForgeOpening(m *Modulus) Tamper {
	return EditOpening(func(_ *Session, sid []byte, o *Opening) error {
		if !o.HasAux {
			return errNoAux
		}
		s, t, proof, err := m.Pedersen(sid, mpc.Server)
		if err != nil {
			return err
		}
		o.N, o.S, o.T, o.Prm = m.N, s, t, proof
		return nil
	})
}

// ShiftCommit tells the device that the server committed another
// generation than the one it did.
func ShiftCommit(by uint64) Tamper {
	return func(s *Session, f *Frame) [][]byte {
		if f.Dir != FromServer || f.Frame == nil || f.Frame.Type != wire.TypeCommit || !s.once("commit") {
			return [][]byte{f.Raw}
		}
		c, err := wire.ParseCommit(f.Frame)
		if err != nil {
			s.fail(err)
			return [][]byte{f.Raw}
		}
		c.Gen += by
		return [][]byte{c.Frame().Marshal()}
	}
}
