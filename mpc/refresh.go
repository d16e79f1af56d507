package mpc

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"io"
	"math/big"

	"github.com/duetwallet/duet/mpc/arith"
	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/mpc/hash"
	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/mpc/pedersen"
	"github.com/duetwallet/duet/mpc/safeprime"
	"github.com/duetwallet/duet/mpc/zk"
	"github.com/duetwallet/duet/mpc/zk/fac"
	"github.com/duetwallet/duet/mpc/zk/logstar"
	"github.com/duetwallet/duet/mpc/zk/mod"
	"github.com/duetwallet/duet/mpc/zk/prm"
	"github.com/duetwallet/duet/mpc/zk/sch"
)

// Primes are two safe primes for a new Paillier key, used for exactly one key.
type Primes struct {
	P, Q *big.Int
}

// RefreshConfig configures a refresh run.
type RefreshConfig struct {
	Config
	// Share is the party's current share of the pair being refreshed.
	Share *KeyShare
	// Primes make new aux info (a Paillier key and ring-Pedersen parameters,
	// proven with Πprm, Πmod and Πfac), so the output is signing-ready. This
	// is aux-info after keygen, proactive refresh, and recovery from the
	// backup pair. Nil refreshes the shares only, carrying the zero sharing
	// under the current, already verified Paillier keys; its output has no
	// aux: that is how the backup pair is made from the signing pair.
	Primes *Primes
	// Generation is the output's generation; zero means Share.Generation + 1.
	// A recovery sets it past the generation of the signing pair it replaces.
	Generation uint64
}

// Refresh starts a key refresh ([CGGMP21] Fig. 6 of the 2021 revision, Fig. 7
// of 2024; docs/PROTOCOL.md §4.2 and §4.2.1). Its output is a *KeyShare of the same
// public key X at generation Share.Generation + 1, independent of the input
// shares: each party shifts its share by a random d, and the two shifts
// cancel.
//
// One departure from the paper: the encrypted shift C comes with Πlog*
// (C encrypts the discrete logarithm of U, in range). The paper decrypts C
// unproven because every refresh there makes fresh Paillier keys; the
// backup-pair refresh here decrypts under the long-lived key that presigning
// uses too, and a C made from the peer's presigning ciphertext K would turn
// "does dec(C) mod q match U" into an oracle on k. With the proof, C's
// plaintext is the d behind U, so the check cannot fail for a C the sender
// could make, and whether it passes tells the sender nothing.
func Refresh(cfg RefreshConfig) (Round, *Message, error) {
	if err := cfg.validate(); err != nil {
		return nil, nil, err
	}
	s := cfg.Share
	if s == nil || s.Self != cfg.Self || s.Peer != cfg.Peer {
		return nil, nil, errors.New("mpc: refresh needs the party's current share")
	}
	if cfg.Primes == nil && s.Aux == nil {
		return nil, nil, errors.New("mpc: a refresh without new aux info needs a signing-ready share")
	}
	h := &header{cfg: &cfg.Config, protocol: ProtocolRefresh}
	r := &refreshRound1{h: h, rc: &cfg}
	if cfg.Primes != nil {
		sk, err := paillier.NewSecretKey(cfg.Primes.P, cfg.Primes.Q)
		if err != nil {
			return nil, nil, err
		}
		ped, lambda, err := pedersen.Generate(cfg.Rand, sk)
		if err != nil {
			return nil, nil, err
		}
		ctx := &zk.Context{SessionID: cfg.SessionID, Prover: []byte(cfg.Self)}
		proof, err := prm.Prove(cfg.Rand, ctx, prm.Public{N: sk.N(), S: ped.S(), T: ped.T()}, prm.Private{Key: sk, Lambda: lambda})
		arith.WipeNat(lambda)
		if err != nil {
			return nil, nil, err
		}
		r.sk, r.ped, r.prm = sk, ped, proof
	}
	d, err := curve.RandomScalar(cfg.Rand)
	if err != nil {
		return nil, nil, err
	}
	com, err := sch.NewCommitment(cfg.Rand)
	if err != nil {
		d.Zero()
		return nil, nil, err
	}
	r.d = d
	r.toPeer = curve.BaseMul(d)
	r.com = com
	r.rho, r.u = make([]byte, 32), make([]byte, 32)
	if err := readRandom(cfg.Rand, r.rho, r.u); err != nil {
		r.wipe()
		return nil, nil, err
	}
	r.opening = r.encodeOpening()
	r.V = refreshCommit(cfg.SessionID, cfg.Self, r.opening)
	return r, h.message(1, r.V), nil
}

func refreshCommit(sid []byte, id PartyID, opening []byte) []byte {
	return hash.New("aux-com").Bytes(sid).String(string(id)).Bytes(opening).Digest()
}

// refreshSecrets are what the rounds of a refresh hold secret; each Receive
// moves them into the next round and keeps nothing.
type refreshSecrets struct {
	// New aux info, when the run makes it (the primes live in big.Int values
	// that cannot be wiped; they end in the output share or are dropped).
	sk  *paillier.SecretKey
	ped *pedersen.Own
	// The zero sharing: d goes to the peer (U^{→peer} = d·G), −d stays.
	d   *curve.Scalar
	com *sch.Commitment
}

// move hands the secrets on, leaving the source empty.
func (s *refreshSecrets) move() refreshSecrets {
	out := *s
	*s = refreshSecrets{}
	return out
}

// wipe erases what is still held.
func (s *refreshSecrets) wipe() {
	s.d.Zero()
	s.com.Erase()
	*s = refreshSecrets{}
}

type refreshRound1 struct {
	once
	refreshSecrets
	h       *header
	rc      *RefreshConfig
	prm     *prm.Proof
	toPeer  *curve.Point
	rho, u  []byte
	opening []byte
	V       []byte
}

// encodeOpening is the round-2 message; the commitment V is its hash, so
// the canonical encoding is what is committed to.
func (r *refreshRound1) encodeOpening() []byte {
	e := codec.NewEncoder(48 << 10)
	e.Point(r.toPeer).Point(r.com.A).Fixed(r.rho).Fixed(r.u).Bool(r.sk != nil)
	if r.sk != nil {
		e.Nat(r.sk.N()).Nat(r.ped.S()).Nat(r.ped.T())
		r.prm.Encode(e)
	}
	return e.Bytes()
}

// Receive takes the peer's commitment and sends our opening.
func (r *refreshRound1) Receive(msg *Message) (Round, *Message, error) {
	if err := r.take(r.h, 1); err != nil {
		return nil, nil, err
	}
	defer r.wipe()
	peerV, err := r.h.commitment(msg, r.V)
	if err != nil {
		return nil, nil, err
	}
	next := &refreshRound2{refreshSecrets: r.refreshSecrets.move(), h: r.h, rc: r.rc, toPeer: r.toPeer, rho: r.rho, peerV: peerV}
	return next, r.h.message(2, r.opening), nil
}

type refreshRound2 struct {
	once
	refreshSecrets
	h      *header
	rc     *RefreshConfig
	toPeer *curve.Point
	rho    []byte
	peerV  []byte
}

// Receive checks the peer's opening — its Paillier modulus, its ring-Pedersen
// parameters and their Πprm before anything is committed under them — and
// sends Πmod, Πfac, the encrypted zero-sharing part with its Πlog*, and the
// Schnorr response.
func (r *refreshRound2) Receive(msg *Message) (Round, *Message, error) {
	const round = 2
	if err := r.take(r.h, round); err != nil {
		return nil, nil, err
	}
	defer r.wipe()
	if err := r.h.check(msg, round); err != nil {
		return nil, nil, err
	}
	cfg := r.rc
	if subtle.ConstantTimeCompare(refreshCommit(cfg.SessionID, cfg.Peer, msg.Payload), r.peerV) != 1 {
		return nil, nil, r.h.abort(round, "commitment opening", errors.New("opening does not match the commitment"))
	}
	d := codec.NewDecoder(msg.Payload)
	toUs := d.Point()
	peerA := d.Point()
	peerRho := d.Fixed(32)
	d.Fixed(32)
	hasAux := d.Bool()
	var n, s, t *big.Int
	var proof *prm.Proof
	if hasAux {
		n, s, t = d.Nat(paillier.MaxModulusBits), d.Nat(paillier.MaxModulusBits), d.Nat(paillier.MaxModulusBits)
		proof = prm.Decode(d)
	}
	if err := d.Finish(); err != nil {
		return nil, nil, r.h.abort(round, "opening encoding", err)
	}
	if hasAux != (r.sk != nil) {
		return nil, nil, r.h.abort(round, "aux info presence", errors.New("parties disagree on making new aux info"))
	}
	var peerPK *paillier.PublicKey
	var peerPed *pedersen.Params
	if hasAux {
		pk, err := paillier.NewPublicKey(n)
		if err != nil {
			return nil, nil, r.h.abort(round, "Paillier modulus", err)
		}
		if pk.Equal(r.sk.PublicKey) {
			return nil, nil, r.h.abort(round, "Paillier modulus reflection", errors.New("peer's N equals ours"))
		}
		params, err := pedersen.NewParams(pk.Modulus(), s, t)
		if err != nil {
			return nil, nil, r.h.abort(round, "ring-Pedersen parameters", err)
		}
		// Πprm first: our Πfac below commits to our primes under these
		// parameters, which would leak them if s were not in ⟨t⟩.
		ctx := &zk.Context{SessionID: cfg.SessionID, Prover: []byte(cfg.Peer)}
		if err := proof.Verify(ctx, prm.Public{N: n, S: s, T: t}); err != nil {
			return nil, nil, r.h.abort(round, "ring-Pedersen proof (Πprm)", err)
		}
		peerPK, peerPed = pk, params
	} else {
		peerPK, peerPed = cfg.Share.Aux.PeerPaillier, cfg.Share.Aux.PeerPedersen
	}
	if toUs.Equal(r.toPeer) {
		return nil, nil, r.h.abort(round, "zero-sharing reflection", errors.New("peer's share of the zero sharing equals ours"))
	}
	rho := make([]byte, 32)
	subtle.XORBytes(rho, r.rho, peerRho)

	e := codec.NewEncoder(48 << 10)
	e.Bool(r.sk != nil)
	if r.sk != nil {
		ctxMod := &zk.Context{SessionID: cfg.SessionID, Prover: []byte(cfg.Self), Rand: rho}
		pm, err := mod.Prove(cfg.Rand, ctxMod, mod.Public{N: r.sk.N()}, mod.Private{Key: r.sk})
		if err != nil {
			return nil, nil, err
		}
		ctxFac := &zk.Context{SessionID: cfg.SessionID, Prover: []byte(cfg.Self), Verifier: []byte(cfg.Peer), Rand: rho}
		pf, err := fac.Prove(cfg.Rand, ctxFac, fac.Public{N0: r.sk.N(), Aux: peerPed}, fac.Private{P: r.sk.P(), Q: r.sk.Q()})
		if err != nil {
			return nil, nil, err
		}
		pm.Encode(e)
		pf.Encode(e)
	}
	// d travels to the peer encrypted under the peer's key: new in an
	// aux-info run (its Πmod and Πfac are still to come, but d is meant for
	// the peer anyway), already verified in a backup-pair run. Πlog* under
	// the peer's ring-Pedersen parameters binds C to U = d·G.
	dInt := r.d.Int()
	c, nonce, err := peerPK.Encrypt(cfg.Rand, dInt)
	if err != nil {
		arith.WipeInt(dInt)
		return nil, nil, err
	}
	ctxLog := &zk.Context{SessionID: cfg.SessionID, Prover: []byte(cfg.Self), Verifier: []byte(cfg.Peer), Rand: rho}
	pLog, err := logstar.Prove(cfg.Rand, ctxLog,
		logstar.Public{N0: peerPK, C: c, X: r.toPeer, B: curve.Generator(), Aux: peerPed},
		logstar.Private{X: dInt, Rho: nonce})
	arith.WipeInt(dInt)
	arith.WipeNat(nonce)
	if err != nil {
		return nil, nil, err
	}
	e.Nat(c)
	pLog.Encode(e)
	ctxSch := &zk.Context{SessionID: cfg.SessionID, Prover: []byte(cfg.Self), Rand: rho}
	r.com.Prove(ctxSch, r.toPeer, r.d).Encode(e)
	next := &refreshRound3{refreshSecrets: r.refreshSecrets.move(), h: r.h, rc: r.rc, toPeer: r.toPeer,
		toUs: toUs, peerA: peerA, peerPK: peerPK, peerPed: peerPed, rhoJoint: rho}
	return next, r.h.message(3, e.Bytes()), nil
}

type refreshRound3 struct {
	once
	refreshSecrets
	h           *header
	rc          *RefreshConfig
	toPeer      *curve.Point
	toUs, peerA *curve.Point
	peerPK      *paillier.PublicKey
	peerPed     *pedersen.Params
	rhoJoint    []byte
}

// Receive checks the peer's proofs and the share it sent us, and outputs the
// new share. This step decrypts a value the peer chose with our Paillier
// key, so its aborts do not say which check failed (AbortError.Secret).
func (r *refreshRound3) Receive(msg *Message) (Round, *Message, error) {
	const round = 3
	if err := r.take(r.h, round); err != nil {
		return nil, nil, err
	}
	defer r.wipe()
	if err := r.h.check(msg, round); err != nil {
		return nil, nil, err
	}
	cfg := r.rc
	d := codec.NewDecoder(msg.Payload)
	hasAux := d.Bool()
	var pm *mod.Proof
	var pf *fac.Proof
	if hasAux {
		pm = mod.Decode(d)
		pf = fac.Decode(d)
	}
	c := d.Nat(2 * paillier.MaxModulusBits)
	pLog := logstar.Decode(d)
	resp := sch.DecodeResponse(d)
	if err := d.Finish(); err != nil {
		return nil, nil, r.h.abort(round, "round 3 encoding", err)
	}
	abort := r.h.abortSecret
	if hasAux != (r.sk != nil) {
		return nil, nil, abort(round, "aux info presence", errors.New("parties disagree on making new aux info"))
	}
	ownSK, ownPed := r.sk, r.ped
	if ownSK == nil {
		ownSK, ownPed = cfg.Share.Aux.Paillier, cfg.Share.Aux.Pedersen
	}
	if hasAux {
		ctxMod := &zk.Context{SessionID: cfg.SessionID, Prover: []byte(cfg.Peer), Rand: r.rhoJoint}
		if err := pm.Verify(ctxMod, mod.Public{N: r.peerPK.N()}); err != nil {
			return nil, nil, abort(round, "Paillier-Blum modulus proof (Πmod)", err)
		}
		ctxFac := &zk.Context{SessionID: cfg.SessionID, Prover: []byte(cfg.Peer), Verifier: []byte(cfg.Self), Rand: r.rhoJoint}
		if err := pf.Verify(ctxFac, fac.Public{N0: r.peerPK.N(), Aux: ownPed.Params}, ownPed); err != nil {
			return nil, nil, abort(round, "no-small-factor proof (Πfac)", err)
		}
	}
	ctxSch := &zk.Context{SessionID: cfg.SessionID, Prover: []byte(cfg.Peer), Rand: r.rhoJoint}
	if err := sch.Verify(ctxSch, r.toUs, r.peerA, resp); err != nil {
		return nil, nil, abort(round, "Schnorr proof (Πsch) of the zero sharing", err)
	}
	ctxLog := &zk.Context{SessionID: cfg.SessionID, Prover: []byte(cfg.Peer), Verifier: []byte(cfg.Self), Rand: r.rhoJoint}
	if err := pLog.Verify(ctxLog, logstar.Public{N0: ownSK.PublicKey, C: c, X: r.toUs, B: curve.Generator(), Aux: ownPed.Params}, ownPed); err != nil {
		return nil, nil, abort(round, "log proof of the zero-sharing ciphertext (Πlog*)", err)
	}
	plain, err := ownSK.Decrypt(c)
	// Redundant: Πlog* above refuses a C that is not a unit mod N², the only
	// C that Decrypt refuses.
	if err != nil {
		return nil, nil, abort(round, "zero-sharing ciphertext", err)
	}
	// As in the paper: the plaintext is taken mod q, and the one check on it
	// is against the committed U. Πlog* bounds it far below N/2, so it is the
	// d behind U; there is no separate range verdict to leak.
	dPeer := curve.ScalarFromInt(plain)
	arith.WipeInt(plain)
	// Redundant: Πlog* above proves that C encrypts the discrete logarithm
	// of U, in range, so dec(C) mod q is it. The check stays so that the
	// share is never built from a d′ that was not matched against U.
	if !curve.BaseMul(dPeer).Equal(r.toUs) {
		dPeer.Zero()
		return nil, nil, abort(round, "zero-sharing consistency", errors.New("ciphertext does not match U"))
	}

	old := cfg.Share
	// x* = x − d + d′; X_self* = X_self − d·G + d′·G; X_peer* = X_peer + d·G − d′·G.
	// The new shares add up to X and x*·G = X_self* by construction: d·G is
	// U^{→peer}, d′·G = U^{→us} was just checked, and the old share holds.
	secret := old.Secret.Sub(r.d).Add(dPeer)
	selfPub := old.SelfPublic.Sub(r.toPeer).Add(r.toUs)
	peerPub := old.PeerPublic.Add(r.toPeer).Sub(r.toUs)
	dPeer.Zero()
	gen := cfg.Generation
	if gen == 0 {
		gen = old.Generation + 1
	}
	share := &KeyShare{
		Generation: gen,
		Self:       cfg.Self,
		Peer:       cfg.Peer,
		Secret:     secret,
		SelfPublic: selfPub,
		PeerPublic: peerPub,
		PublicKey:  old.PublicKey,
	}
	if r.sk != nil {
		share.Aux = &Aux{Paillier: r.sk, Pedersen: r.ped, PeerPaillier: r.peerPK, PeerPedersen: r.peerPed}
	}
	share.SSID = ssidAux(old.SSID, r.rhoJoint, share)
	return &Done{Output: share}, nil, nil
}

// ssidAux binds a generation: H("ssid-aux", previous ssid, generation, ρ, X₁*,
// X₂*, and both parties' aux when present).
func ssidAux(prev, rho []byte, s *KeyShare) []byte {
	X1, X2 := s.orderedPublic()
	t := hash.New("ssid-aux").Bytes(prev).Uint(s.Generation).Bytes(rho).Point(X1).Point(X2)
	if s.Aux == nil {
		return t.Bit(false).Digest()
	}
	own := []*big.Int{s.Aux.Paillier.N(), s.Aux.Pedersen.S(), s.Aux.Pedersen.T()}
	peer := []*big.Int{s.Aux.PeerPaillier.N(), s.Aux.PeerPedersen.S(), s.Aux.PeerPedersen.T()}
	t.Bit(true)
	if bytes.Compare([]byte(s.Self), []byte(s.Peer)) < 0 {
		t.Nats(own).Nats(peer)
	} else {
		t.Nats(peer).Nats(own)
	}
	return t.Digest()
}

// GeneratePrimes draws two distinct 1024-bit safe primes for a new Paillier
// key, with the search spread over workers goroutines (see
// safeprime.GenerateParallel; 1 in the browser).
func GeneratePrimes(rand io.Reader, workers int) (*Primes, error) {
	p, err := safeprime.GenerateParallel(rand, paillier.PrimeBits, workers)
	if err != nil {
		return nil, err
	}
	for {
		q, err := safeprime.GenerateParallel(rand, paillier.PrimeBits, workers)
		if err != nil {
			return nil, err
		}
		if q.Cmp(p) != 0 {
			return &Primes{P: p, Q: q}, nil
		}
	}
}
