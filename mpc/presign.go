package mpc

import (
	"bytes"
	"errors"
	"math/big"

	"github.com/cronokirby/saferith"

	"github.com/duetwallet/duet/mpc/arith"
	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/mpc/hash"
	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/mpc/zk"
	"github.com/duetwallet/duet/mpc/zk/affg"
	"github.com/duetwallet/duet/mpc/zk/enc"
	"github.com/duetwallet/duet/mpc/zk/logstar"
)

// PresignConfig configures a presigning run.
type PresignConfig struct {
	Config
	// Share is the party's signing-ready share of the active generation.
	Share *KeyShare
}

// Presign starts presigning ([CGGMP21] Fig. 7 of the 2021 revision; CGGMP.md
// §4.3): three message-independent rounds whose output, a *Presignature,
// later signs one digest with a single message. All proofs bind to
// psid = H("presign", ssid, sid), hence to the share's generation.
func Presign(cfg PresignConfig) (Round, *Message, error) {
	if err := cfg.validate(); err != nil {
		return nil, nil, err
	}
	s := cfg.Share
	if s == nil || s.Aux == nil || s.Self != cfg.Self || s.Peer != cfg.Peer {
		return nil, nil, errors.New("mpc: presigning needs the party's signing-ready share")
	}
	h := &header{cfg: &cfg.Config, protocol: ProtocolPresign}
	psid := hash.New("presign").Bytes(s.SSID).Bytes(cfg.SessionID).Digest()
	r := &presignRound1{h: h, pc: &cfg, psid: psid}
	var err error
	if r.k, err = curve.RandomScalar(cfg.Rand); err != nil {
		return nil, nil, err
	}
	if r.gamma, err = curve.RandomScalar(cfg.Rand); err != nil {
		return nil, nil, err
	}
	sk := s.Aux.Paillier
	if r.K, r.rho, err = sk.Encrypt(cfg.Rand, r.k.Int()); err != nil {
		return nil, nil, err
	}
	if r.G, r.nu, err = sk.Encrypt(cfg.Rand, r.gamma.Int()); err != nil {
		return nil, nil, err
	}
	proof, err := enc.Prove(cfg.Rand, r.ctx(cfg.Self, cfg.Peer),
		enc.Public{N0: sk.PublicKey, K: r.K, Aux: s.Aux.PeerPedersen},
		enc.Private{SecretKey: sk, K: r.k.Int(), Rho: r.rho})
	if err != nil {
		return nil, nil, err
	}
	// The ssid names the generation both parties presign with; a peer on
	// another generation is stopped here, before any proof is checked.
	e := codec.NewEncoder(4 << 10).Fixed(s.SSID).Nat(r.K).Nat(r.G)
	proof.Encode(e)
	return r, h.message(1, e.Bytes()), nil
}

type presignRound1 struct {
	h        *header
	pc       *PresignConfig
	psid     []byte
	k, gamma *curve.Scalar
	K, G     *big.Int
	rho, nu  *saferith.Nat
}

func (r *presignRound1) ctx(prover, verifier PartyID) *zk.Context {
	return &zk.Context{SessionID: r.psid, Prover: []byte(prover), Verifier: []byte(verifier)}
}

const ciphertextBits = 2 * paillier.MaxModulusBits

// Receive checks the peer's K_j with its Πenc and runs our side of both MtAs.
func (r *presignRound1) Receive(msg *Message) (Round, *Message, error) {
	const round = 1
	if err := r.h.check(msg, round); err != nil {
		return nil, nil, err
	}
	s := r.pc.Share
	peerPK, ownSK := s.Aux.PeerPaillier, s.Aux.Paillier
	d := codec.NewDecoder(msg.Payload)
	ssid := d.Fixed(hash.DigestSize)
	Kj := d.Nat(ciphertextBits)
	Gj := d.Nat(ciphertextBits)
	proof := enc.Decode(d)
	if err := d.Finish(); err != nil {
		return nil, nil, r.h.abort(round, "round 1 encoding", err)
	}
	if !bytes.Equal(ssid, s.SSID) {
		return nil, nil, r.h.abort(round, "key generation (ssid)", errors.New("peer presigns with another generation of the key"))
	}
	if err := peerPK.ValidateCiphertext(Kj); err != nil {
		return nil, nil, r.h.abort(round, "ciphertext K", err)
	}
	if err := peerPK.ValidateCiphertext(Gj); err != nil {
		return nil, nil, r.h.abort(round, "ciphertext G", err)
	}
	if err := proof.Verify(r.ctx(r.pc.Peer, r.pc.Self), enc.Public{N0: peerPK, K: Kj, Aux: s.Aux.Pedersen.Params}, s.Aux.Pedersen); err != nil {
		return nil, nil, r.h.abort(round, "range proof of K (Πenc)", err)
	}
	rand := r.pc.Rand
	next := &presignRound2{presignRound1: r, Kj: Kj, Gj: Gj}
	next.Gamma = curve.BaseMul(r.gamma)

	// δ-MtA multiplies our γ by the peer's k; χ-MtA our x by the peer's k.
	mta := func(x *curve.Scalar, X *curve.Point) (D, F *big.Int, beta *saferith.Int, proof *affg.Proof, err error) {
		beta, err = arith.SampleSigned(rand, zk.LPrime)
		if err != nil {
			return
		}
		y := new(saferith.Int).SetInt(beta).Neg(1)
		omega, err := arith.SampleUnit(rand, peerPK.Modulus())
		if err != nil {
			return
		}
		encY := peerPK.EncryptWithNonce(y, omega)
		D = peerPK.Add(peerPK.MulConst(Kj, x.Int()), encY)
		var omegaY *saferith.Nat
		F, omegaY, err = ownSK.Encrypt(rand, y)
		if err != nil {
			return
		}
		proof, err = affg.Prove(rand, r.ctx(r.pc.Self, r.pc.Peer),
			affg.Public{N0: peerPK, N1: ownSK.PublicKey, C: Kj, D: D, Y: F, X: X, Aux: s.Aux.PeerPedersen},
			affg.Private{X: x.Int(), Y: y, Rho: omega, RhoY: omegaY, SecretKey: ownSK})
		return
	}
	var err error
	var pDelta, pChi *affg.Proof
	if next.D, next.F, next.beta, pDelta, err = mta(r.gamma, next.Gamma); err != nil {
		return nil, nil, err
	}
	if next.DHat, next.FHat, next.betaHat, pChi, err = mta(s.Secret, s.SelfPublic); err != nil {
		return nil, nil, err
	}
	pLog, err := logstar.Prove(rand, r.ctx(r.pc.Self, r.pc.Peer),
		logstar.Public{N0: ownSK.PublicKey, C: r.G, X: next.Gamma, B: curve.Generator(), Aux: s.Aux.PeerPedersen},
		logstar.Private{SecretKey: ownSK, X: r.gamma.Int(), Rho: r.nu})
	if err != nil {
		return nil, nil, err
	}
	e := codec.NewEncoder(12 << 10).Point(next.Gamma).Nat(next.D).Nat(next.F).Nat(next.DHat).Nat(next.FHat)
	pDelta.Encode(e)
	pChi.Encode(e)
	pLog.Encode(e)
	return next, r.h.message(2, e.Bytes()), nil
}

type presignRound2 struct {
	*presignRound1
	Kj, Gj           *big.Int
	Gamma            *curve.Point
	D, F, DHat, FHat *big.Int
	beta, betaHat    *saferith.Int
}

// Receive checks both MtA proofs and the peer's Γ_j, decrypts our MtA
// shares, and sends δ_i with Δ_i = k_i·Γ and its Πlog*.
func (r *presignRound2) Receive(msg *Message) (Round, *Message, error) {
	const round = 2
	if err := r.h.check(msg, round); err != nil {
		return nil, nil, err
	}
	s := r.pc.Share
	peerPK, ownSK, own := s.Aux.PeerPaillier, s.Aux.Paillier, s.Aux.Pedersen
	d := codec.NewDecoder(msg.Payload)
	Gammaj := d.Point()
	Dij, Fij := d.Nat(ciphertextBits), d.Nat(ciphertextBits)
	DHatij, FHatij := d.Nat(ciphertextBits), d.Nat(ciphertextBits)
	pDelta := affg.Decode(d)
	pChi := affg.Decode(d)
	pLog := logstar.Decode(d)
	if err := d.Finish(); err != nil {
		return nil, nil, r.h.abort(round, "round 2 encoding", err)
	}
	for _, c := range []struct {
		name string
		pk   *paillier.PublicKey
		v    *big.Int
	}{{"ciphertext D", ownSK.PublicKey, Dij}, {"ciphertext D̂", ownSK.PublicKey, DHatij}, {"ciphertext F", peerPK, Fij}, {"ciphertext F̂", peerPK, FHatij}} {
		if err := c.pk.ValidateCiphertext(c.v); err != nil {
			return nil, nil, r.h.abort(round, c.name, err)
		}
	}
	ctx := r.ctx(r.pc.Peer, r.pc.Self)
	if err := pDelta.Verify(ctx, affg.Public{N0: ownSK.PublicKey, N1: peerPK, C: r.K, D: Dij, Y: Fij, X: Gammaj, Aux: own.Params}, own, ownSK); err != nil {
		return nil, nil, r.h.abort(round, "affine-operation proof of the δ MtA (Πaff-g)", err)
	}
	if err := pChi.Verify(ctx, affg.Public{N0: ownSK.PublicKey, N1: peerPK, C: r.K, D: DHatij, Y: FHatij, X: s.PeerPublic, Aux: own.Params}, own, ownSK); err != nil {
		return nil, nil, r.h.abort(round, "affine-operation proof of the χ MtA (Πaff-g)", err)
	}
	if err := pLog.Verify(ctx, logstar.Public{N0: peerPK, C: r.Gj, X: Gammaj, B: curve.Generator(), Aux: own.Params}, own); err != nil {
		return nil, nil, r.h.abort(round, "log proof of Γ (Πlog*)", err)
	}
	Gamma := r.Gamma.Add(Gammaj)
	if Gamma.IsIdentity() {
		return nil, nil, r.h.abort(round, "Γ", errors.New("Γ is the identity"))
	}
	alpha, err := ownSK.Decrypt(Dij)
	if err != nil {
		return nil, nil, r.h.abort(round, "ciphertext D", err)
	}
	alphaHat, err := ownSK.Decrypt(DHatij)
	if err != nil {
		return nil, nil, r.h.abort(round, "ciphertext D̂", err)
	}
	// δ_i = γ_i·k_i + α_i + β_i and χ_i = x_i·k_i + α̂_i + β̂_i (mod q).
	delta := r.gamma.Mul(r.k).Add(curve.ScalarFromInt(alpha)).Add(curve.ScalarFromInt(r.beta))
	chi := s.Secret.Mul(r.k).Add(curve.ScalarFromInt(alphaHat)).Add(curve.ScalarFromInt(r.betaHat))
	Delta := Gamma.Mul(r.k)
	pLog2, err := logstar.Prove(r.pc.Rand, r.ctx(r.pc.Self, r.pc.Peer),
		logstar.Public{N0: ownSK.PublicKey, C: r.K, X: Delta, B: Gamma, Aux: s.Aux.PeerPedersen},
		logstar.Private{SecretKey: ownSK, X: r.k.Int(), Rho: r.rho})
	if err != nil {
		return nil, nil, err
	}
	r.gamma.Zero()
	next := &presignRound3{presignRound2: r, BigGamma: Gamma, delta: delta, chi: chi, Delta: Delta}
	e := codec.NewEncoder(2 << 10).Scalar(delta).Point(Delta)
	pLog2.Encode(e)
	return next, r.h.message(3, e.Bytes()), nil
}

type presignRound3 struct {
	*presignRound2
	BigGamma   *curve.Point
	delta, chi *curve.Scalar
	Delta      *curve.Point
}

// ErrPresignRetry is returned in the rare case (probability about 2^-128)
// that R.x ≥ q, which an Ethereum recovery id cannot express; nobody is to
// blame and a new presigning run follows.
var ErrPresignRetry = errors.New("mpc: presignature has R.x ≥ q; presign again")

// Receive checks δ_j against Δ_j and outputs the presignature.
func (r *presignRound3) Receive(msg *Message) (Round, *Message, error) {
	const round = 3
	if err := r.h.check(msg, round); err != nil {
		return nil, nil, err
	}
	s := r.pc.Share
	d := codec.NewDecoder(msg.Payload)
	deltaj := d.Scalar()
	Deltaj := d.Point()
	pLog := logstar.Decode(d)
	if err := d.Finish(); err != nil {
		return nil, nil, r.h.abort(round, "round 3 encoding", err)
	}
	own := s.Aux.Pedersen
	if err := pLog.Verify(r.ctx(r.pc.Peer, r.pc.Self), logstar.Public{N0: s.Aux.PeerPaillier, C: r.Kj, X: Deltaj, B: r.BigGamma, Aux: own.Params}, own); err != nil {
		return nil, nil, r.h.abort(round, "log proof of Δ (Πlog*)", err)
	}
	delta := r.delta.Add(deltaj)
	if delta.IsZero() {
		return nil, nil, r.h.abort(round, "δ", errors.New("δ is zero"))
	}
	if !curve.BaseMul(delta).Equal(r.Delta.Add(Deltaj)) {
		return nil, nil, r.h.abort(round, "δ·G = Δ", errors.New("δ does not match Δ₁ + Δ₂"))
	}
	R := r.BigGamma.Mul(delta.Inverse())
	if R.IsIdentity() {
		return nil, nil, r.h.abort(round, "R", errors.New("R is the identity"))
	}
	rx, overflow := R.XScalar()
	if rx.IsZero() {
		return nil, nil, r.h.abort(round, "r", errors.New("r is zero"))
	}
	if overflow {
		return nil, nil, ErrPresignRetry
	}
	p := &Presignature{
		ID:         r.psid,
		Generation: s.Generation,
		SSID:       s.SSID,
		Self:       r.pc.Self,
		Peer:       r.pc.Peer,
		R:          R,
		PublicKey:  s.PublicKey,
		K:          r.k,
		Chi:        r.chi,
	}
	return &Done{Output: p}, nil, nil
}
