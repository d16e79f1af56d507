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
	// PeerNonces and OwnNonces, if set, hold nonces precomputed under the
	// peer's Paillier key (Share.Aux.PeerPaillier) and under the party's own
	// (Share.Aux.Paillier), which the run uses up first: PeerNoncesPerRun
	// and OwnNoncesPerRun a run, each an exponentiation taken off the run's
	// critical path. A pool made for another key is ignored; an empty one
	// only means the run computes its nonces itself.
	PeerNonces, OwnNonces *paillier.NoncePool
}

// Nonces a presigning run encrypts with. Under the peer's key: enc(−β) of
// each MtA and the A of each Πaff-g. Under one's own: K and G, the F of
// each MtA, the A of Πenc, the B_y of each Πaff-g and the A of each Πlog*.
// A proof that draws again (a response out of range, probability about
// 2^−ε) takes more.
const (
	PeerNoncesPerRun = 4
	OwnNoncesPerRun  = 9
)

// Presign starts presigning ([CGGMP21] Fig. 7 of the 2021 revision;
// docs/PROTOCOL.md §4.3): three message-independent rounds whose output, a
// *Presignature, later signs one digest with a single message. All proofs
// bind to psid = H("presign", ssid, sid), hence to the share's generation.
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
	proof, err := r.start()
	if err != nil {
		r.wipe()
		return nil, nil, err
	}
	// The ssid names the generation both parties presign with; a peer on
	// another generation is stopped here, before any proof is checked.
	e := codec.NewEncoder(4 << 10).Fixed(s.SSID).Nat(r.K).Nat(r.G)
	proof.Encode(e)
	return r, h.message(1, e.Bytes()), nil
}

// start draws k_i and γ_i, encrypts them and proves K_i's range.
func (r *presignRound1) start() (*enc.Proof, error) {
	cfg, sk := r.pc, r.pc.Share.Aux.Paillier.WithNonces(r.pc.OwnNonces)
	var err error
	if r.k, err = curve.RandomScalar(cfg.Rand); err != nil {
		return nil, err
	}
	if r.gamma, err = curve.RandomScalar(cfg.Rand); err != nil {
		return nil, err
	}
	kInt, gammaInt := r.k.Int(), r.gamma.Int()
	defer arith.WipeInt(kInt)
	defer arith.WipeInt(gammaInt)
	if r.K, r.rho, err = sk.Encrypt(cfg.Rand, kInt); err != nil {
		return nil, err
	}
	if r.G, r.nu, err = sk.Encrypt(cfg.Rand, gammaInt); err != nil {
		return nil, err
	}
	return enc.Prove(cfg.Rand, r.ctx(cfg.Self, cfg.Peer),
		enc.Public{N0: sk.PublicKey, K: r.K, Aux: r.pc.Share.Aux.PeerPedersen},
		enc.Private{SecretKey: sk, K: kInt, Rho: r.rho})
}

// presignSecrets are what the rounds of a presigning run hold secret; each
// Receive moves them into the next round and keeps nothing.
type presignSecrets struct {
	k, gamma      *curve.Scalar
	rho, nu       *saferith.Nat // nonces of K and G
	beta, betaHat *saferith.Int // our MtA shares
	delta, chi    *curve.Scalar
}

func (s *presignSecrets) move() presignSecrets {
	out := *s
	*s = presignSecrets{}
	return out
}

func (s *presignSecrets) wipe() {
	s.k.Zero()
	s.gamma.Zero()
	s.delta.Zero()
	s.chi.Zero()
	arith.WipeNat(s.rho)
	arith.WipeNat(s.nu)
	arith.WipeInt(s.beta)
	arith.WipeInt(s.betaHat)
	*s = presignSecrets{}
}

type presignRound1 struct {
	once
	presignSecrets
	h    *header
	pc   *PresignConfig
	psid []byte
	K, G *big.Int
}

func (r *presignRound1) ctx(prover, verifier PartyID) *zk.Context {
	return presignCtx(r.psid, prover, verifier)
}

func presignCtx(psid []byte, prover, verifier PartyID) *zk.Context {
	return &zk.Context{SessionID: psid, Prover: []byte(prover), Verifier: []byte(verifier)}
}

const ciphertextBits = 2 * paillier.MaxModulusBits

// Receive checks the peer's K_j with its Πenc and runs our side of both MtAs.
func (r *presignRound1) Receive(msg *Message) (Round, *Message, error) {
	const round = 1
	if err := r.take(r.h, round); err != nil {
		return nil, nil, err
	}
	defer r.wipe()
	if err := r.h.check(msg, round); err != nil {
		return nil, nil, err
	}
	s := r.pc.Share
	// Encryptions take their nonces from the pools while they have any.
	peerPK, ownSK := s.Aux.PeerPaillier.WithNonces(r.pc.PeerNonces), s.Aux.Paillier.WithNonces(r.pc.OwnNonces)
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
	Gamma := curve.BaseMul(r.gamma)

	// δ-MtA multiplies our γ by the peer's k; χ-MtA our x by the peer's k.
	mta := func(x *curve.Scalar, X *curve.Point) (D, F *big.Int, beta *saferith.Int, proof *affg.Proof, err error) {
		beta, err = arith.SampleSigned(rand, zk.LPrime)
		if err != nil {
			return
		}
		y := new(saferith.Int).SetInt(beta).Neg(1)
		defer arith.WipeInt(y)
		encY, omega, err := peerPK.Encrypt(rand, y)
		if err != nil {
			return
		}
		defer arith.WipeNat(omega)
		xi := x.Int()
		defer arith.WipeInt(xi)
		D = peerPK.Add(peerPK.MulConst(Kj, xi), encY)
		var omegaY *saferith.Nat
		F, omegaY, err = ownSK.Encrypt(rand, y)
		if err != nil {
			return
		}
		defer arith.WipeNat(omegaY)
		proof, err = affg.Prove(rand, r.ctx(r.pc.Self, r.pc.Peer),
			affg.Public{N0: peerPK, N1: ownSK.PublicKey, C: Kj, D: D, Y: F, X: X, Aux: s.Aux.PeerPedersen},
			affg.Private{X: xi, Y: y, Rho: omega, RhoY: omegaY, SecretKey: ownSK})
		return
	}
	next := &presignRound2{h: r.h, pc: r.pc, psid: r.psid, K: r.K, Kj: Kj, Gj: Gj, Gamma: Gamma}
	var err error
	var pDelta, pChi *affg.Proof
	if next.D, next.F, r.beta, pDelta, err = mta(r.gamma, Gamma); err != nil {
		return nil, nil, err
	}
	if next.DHat, next.FHat, r.betaHat, pChi, err = mta(s.Secret, s.SelfPublic); err != nil {
		return nil, nil, err
	}
	gammaInt := r.gamma.Int()
	pLog, err := logstar.Prove(rand, r.ctx(r.pc.Self, r.pc.Peer),
		logstar.Public{N0: ownSK.PublicKey, C: r.G, X: Gamma, B: curve.Generator(), Aux: s.Aux.PeerPedersen},
		logstar.Private{SecretKey: ownSK, X: gammaInt, Rho: r.nu})
	arith.WipeInt(gammaInt)
	if err != nil {
		return nil, nil, err
	}
	// ν has served its only proof; the rest moves on.
	arith.WipeNat(r.nu)
	r.nu = nil
	next.presignSecrets = r.presignSecrets.move()
	e := codec.NewEncoder(12 << 10).Point(Gamma).Nat(next.D).Nat(next.F).Nat(next.DHat).Nat(next.FHat)
	pDelta.Encode(e)
	pChi.Encode(e)
	pLog.Encode(e)
	return next, r.h.message(2, e.Bytes()), nil
}

type presignRound2 struct {
	once
	presignSecrets
	h                *header
	pc               *PresignConfig
	psid             []byte
	K, Kj, Gj        *big.Int
	Gamma            *curve.Point
	D, F, DHat, FHat *big.Int
}

func (r *presignRound2) ctx(prover, verifier PartyID) *zk.Context {
	return presignCtx(r.psid, prover, verifier)
}

// Receive checks both MtA proofs and the peer's Γ_j, decrypts our MtA
// shares, and sends δ_i with Δ_i = k_i·Γ and its Πlog*. Every check here is
// on public values: the decryptions come after all of them, and nothing is
// decided on what they give.
func (r *presignRound2) Receive(msg *Message) (Round, *Message, error) {
	const round = 2
	if err := r.take(r.h, round); err != nil {
		return nil, nil, err
	}
	defer r.wipe()
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
	// Redundant: the ciphertext checks above refuse every D that Decrypt
	// refuses.
	if err != nil {
		return nil, nil, r.h.abort(round, "ciphertext D", err)
	}
	defer arith.WipeInt(alpha)
	alphaHat, err := ownSK.Decrypt(DHatij)
	// Redundant: the ciphertext checks above refuse every D̂ that Decrypt
	// refuses.
	if err != nil {
		return nil, nil, r.h.abort(round, "ciphertext D̂", err)
	}
	defer arith.WipeInt(alphaHat)
	// δ_i = γ_i·k_i + α_i + β_i and χ_i = x_i·k_i + α̂_i + β̂_i (mod q).
	delta := r.gamma.Mul(r.k).Add(curve.ScalarFromInt(alpha)).Add(curve.ScalarFromInt(r.beta))
	chi := s.Secret.Mul(r.k).Add(curve.ScalarFromInt(alphaHat)).Add(curve.ScalarFromInt(r.betaHat))
	Delta := Gamma.Mul(r.k)
	kInt := r.k.Int()
	proverSK := ownSK.WithNonces(r.pc.OwnNonces)
	pLog2, err := logstar.Prove(r.pc.Rand, r.ctx(r.pc.Self, r.pc.Peer),
		logstar.Public{N0: proverSK.PublicKey, C: r.K, X: Delta, B: Gamma, Aux: s.Aux.PeerPedersen},
		logstar.Private{SecretKey: proverSK, X: kInt, Rho: r.rho})
	arith.WipeInt(kInt)
	if err != nil {
		delta.Zero()
		chi.Zero()
		return nil, nil, err
	}
	// Only k_i, δ_i and χ_i go on; γ_i, ρ and the β's are wiped on return.
	next := &presignRound3{h: r.h, pc: r.pc, psid: r.psid, Kj: r.Kj, BigGamma: Gamma, Delta: Delta}
	next.k, r.k = r.k, nil
	next.delta, next.chi = delta, chi
	e := codec.NewEncoder(2 << 10).Scalar(delta).Point(Delta)
	pLog2.Encode(e)
	return next, r.h.message(3, e.Bytes()), nil
}

type presignRound3 struct {
	once
	presignSecrets
	h        *header
	pc       *PresignConfig
	psid     []byte
	Kj       *big.Int
	BigGamma *curve.Point
	Delta    *curve.Point
}

// ErrPresignRetry is returned in the rare case (probability about 2^-128)
// that R.x ≥ q, which an Ethereum recovery id cannot express; nobody is to
// blame and a new presigning run follows.
var ErrPresignRetry = errors.New("mpc: presignature has R.x ≥ q; presign again")

// Receive checks δ_j against Δ_j and outputs the presignature. δ = δ_i + δ_j
// is made from our decrypted MtA shares, so this step's aborts do not say
// which check failed (AbortError.Secret).
func (r *presignRound3) Receive(msg *Message) (Round, *Message, error) {
	const round = 3
	if err := r.take(r.h, round); err != nil {
		return nil, nil, err
	}
	defer r.wipe()
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
	abort := r.h.abortSecret
	own := s.Aux.Pedersen
	if err := pLog.Verify(presignCtx(r.psid, r.pc.Peer, r.pc.Self), logstar.Public{N0: s.Aux.PeerPaillier, C: r.Kj, X: Deltaj, B: r.BigGamma, Aux: own.Params}, own); err != nil {
		return nil, nil, abort(round, "log proof of Δ (Πlog*)", err)
	}
	delta := r.delta.Add(deltaj)
	if delta.IsZero() {
		return nil, nil, abort(round, "δ", errors.New("δ is zero"))
	}
	if !curve.BaseMul(delta).Equal(r.Delta.Add(Deltaj)) {
		return nil, nil, abort(round, "δ·G = Δ", errors.New("δ does not match Δ₁ + Δ₂"))
	}
	R := r.BigGamma.Mul(delta.Inverse())
	// δ ≠ 0 and Γ ≠ O (checked in round 2) make R = δ⁻¹·Γ a point other than
	// O, in a group of prime order.
	rx, overflow := R.XScalar()
	if rx.IsZero() {
		return nil, nil, abort(round, "r", errors.New("r is zero"))
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
	}
	p.K, r.k = r.k, nil
	p.Chi, r.chi = r.chi, nil
	return &Done{Output: p}, nil, nil
}
