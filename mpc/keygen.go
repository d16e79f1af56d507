package mpc

import (
	"crypto/subtle"
	"errors"
	"io"

	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/mpc/hash"
	"github.com/duetwallet/duet/mpc/zk"
	"github.com/duetwallet/duet/mpc/zk/sch"
)

// Keygen starts key generation ([CGGMP21] Fig. 5 of the 2021 revision, Fig. 6
// of 2024; docs/PROTOCOL.md §4.1): elliptic-curve work only. The output, a *KeyShare
// of generation 0, fixes the public key X but is not signing-ready until a
// Refresh run with new aux-info.
func Keygen(cfg Config) (Round, *Message, error) {
	if err := cfg.validate(); err != nil {
		return nil, nil, err
	}
	h := &header{cfg: &cfg, protocol: ProtocolKeygen}
	x, err := curve.RandomScalar(cfg.Rand)
	if err != nil {
		return nil, nil, err
	}
	com, err := sch.NewCommitment(cfg.Rand)
	if err != nil {
		return nil, nil, err
	}
	rid := make([]byte, 32)
	u := make([]byte, 32)
	if err := readRandom(cfg.Rand, rid, u); err != nil {
		return nil, nil, err
	}
	r := &keygenRound1{h: h, x: x, X: curve.BaseMul(x), com: com, rid: rid, u: u}
	r.V = keygenCommit(cfg.SessionID, cfg.Self, rid, r.X, com.A, u)
	return r, h.message(1, r.V), nil
}

func readRandom(rand io.Reader, bufs ...[]byte) error {
	for _, b := range bufs {
		if _, err := io.ReadFull(rand, b); err != nil {
			return err
		}
	}
	return nil
}

func keygenCommit(sid []byte, id PartyID, rid []byte, X, A *curve.Point, u []byte) []byte {
	return hash.New("kg-com").Bytes(sid).String(string(id)).Bytes(rid).Point(X).Point(A).Bytes(u).Digest()
}

// Each round owns its secrets: a Receive moves what the next round needs into
// it and drops its own references, so a spent round holds nothing.
type keygenRound1 struct {
	once
	h      *header
	x      *curve.Scalar
	X      *curve.Point
	com    *sch.Commitment
	rid, u []byte
	V      []byte
}

// Receive takes the peer's commitment V_j and sends our opening.
func (r *keygenRound1) Receive(msg *Message) (Round, *Message, error) {
	if err := r.take(r.h, 1); err != nil {
		return nil, nil, err
	}
	defer r.wipe()
	peerV, err := r.h.commitment(msg, r.V)
	if err != nil {
		return nil, nil, err
	}
	e := codec.NewEncoder(32 + 33 + 33 + 32).Fixed(r.rid).Point(r.X).Point(r.com.A).Fixed(r.u)
	next := &keygenRound2{h: r.h, x: r.x, X: r.X, com: r.com, rid: r.rid, peerV: peerV}
	r.x, r.com = nil, nil
	return next, r.h.message(2, e.Bytes()), nil
}

type keygenRound2 struct {
	once
	h     *header
	x     *curve.Scalar
	X     *curve.Point
	com   *sch.Commitment
	rid   []byte
	peerV []byte
}

// Receive takes the peer's opening, checks it against its commitment, and
// sends our Schnorr response, now that rid = rid₁ ⊕ rid₂ is fixed.
func (r *keygenRound2) Receive(msg *Message) (Round, *Message, error) {
	if err := r.take(r.h, 2); err != nil {
		return nil, nil, err
	}
	defer r.wipe()
	if err := r.h.check(msg, 2); err != nil {
		return nil, nil, err
	}
	d := codec.NewDecoder(msg.Payload)
	rid := d.Fixed(32)
	X := d.Point()
	A := d.Point()
	u := d.Fixed(32)
	if err := d.Finish(); err != nil {
		return nil, nil, r.h.abort(2, "opening encoding", err)
	}
	cfg := r.h.cfg
	if subtle.ConstantTimeCompare(keygenCommit(cfg.SessionID, cfg.Peer, rid, X, A, u), r.peerV) != 1 {
		return nil, nil, r.h.abort(2, "commitment opening", errors.New("opening does not match the commitment"))
	}
	if X.Equal(r.X) {
		return nil, nil, r.h.abort(2, "public share reflection", errors.New("peer's X equals ours"))
	}
	ridJoint := make([]byte, 32)
	subtle.XORBytes(ridJoint, r.rid, rid)
	ctx := &zk.Context{SessionID: cfg.SessionID, Prover: []byte(cfg.Self), Rand: ridJoint}
	resp := r.com.Prove(ctx, r.X, r.x)
	e := codec.NewEncoder(32)
	resp.Encode(e)
	next := &keygenRound3{h: r.h, x: r.x, X: r.X, peerX: X, peerA: A, rid: ridJoint}
	r.x, r.com = nil, nil
	return next, r.h.message(3, e.Bytes()), nil
}

type keygenRound3 struct {
	once
	h            *header
	x            *curve.Scalar
	X            *curve.Point
	peerX, peerA *curve.Point
	rid          []byte
}

// Receive verifies the peer's Schnorr proof and outputs the key share.
func (r *keygenRound3) Receive(msg *Message) (Round, *Message, error) {
	if err := r.take(r.h, 3); err != nil {
		return nil, nil, err
	}
	defer r.wipe()
	if err := r.h.check(msg, 3); err != nil {
		return nil, nil, err
	}
	d := codec.NewDecoder(msg.Payload)
	resp := sch.DecodeResponse(d)
	if err := d.Finish(); err != nil {
		return nil, nil, r.h.abort(3, "Schnorr response encoding", err)
	}
	cfg := r.h.cfg
	ctx := &zk.Context{SessionID: cfg.SessionID, Prover: []byte(cfg.Peer), Rand: r.rid}
	if err := sch.Verify(ctx, r.peerX, r.peerA, resp); err != nil {
		return nil, nil, r.h.abort(3, "Schnorr proof (Πsch) of the public share", err)
	}
	X := r.X.Add(r.peerX)
	if X.IsIdentity() {
		return nil, nil, r.h.abort(3, "public key", errors.New("X is the identity"))
	}
	share := &KeyShare{
		Generation: 0,
		Self:       cfg.Self,
		Peer:       cfg.Peer,
		Secret:     r.x,
		SelfPublic: r.X,
		PeerPublic: r.peerX,
		PublicKey:  X,
	}
	share.SSID = ssidKey(cfg, r.rid, share)
	r.x = nil // now the share's
	return &Done{Output: share}, nil, nil
}

// wipe erases the secrets a spent round still holds; what moved on to the
// next round or the output is no longer the round's.
func (r *keygenRound1) wipe() { r.x.Zero(); r.com.Erase(); r.x, r.com = nil, nil }
func (r *keygenRound2) wipe() { r.x.Zero(); r.com.Erase(); r.x, r.com = nil, nil }
func (r *keygenRound3) wipe() { r.x.Zero(); r.x = nil }

// ssidKey binds everything after keygen to this key: H("ssid-key", sid, rid,
// X₁, X₂) with the public shares in party order.
func ssidKey(cfg *Config, rid []byte, s *KeyShare) []byte {
	X1, X2 := s.orderedPublic()
	return hash.New("ssid-key").Bytes(cfg.SessionID).Bytes(rid).Point(X1).Point(X2).Digest()
}
