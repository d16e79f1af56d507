package mpc

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/sha3"

	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/mpc/hash"
	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/mpc/pedersen"
)

// KeyShare is one party's share of one 2-of-2 sharing ("pair") of the
// wallet's key, at one generation. A share with Aux is signing-ready.
type KeyShare struct {
	Generation uint64
	Self, Peer PartyID
	// Secret is x_i. It leaves this process only sealed, or through
	// Reconstruct when the wallet's key is ejected.
	Secret     *curve.Scalar
	SelfPublic *curve.Point // X_i = x_i·G
	PeerPublic *curve.Point // X_j
	PublicKey  *curve.Point // X = X_i + X_j
	// SSID binds presignatures to this generation: ssid_key after keygen,
	// ssid_aux after a refresh.
	SSID []byte
	Aux  *Aux
}

// Aux is the auxiliary information that makes a share signing-ready: the
// party's own Paillier and ring-Pedersen keys and the peer's verified ones.
type Aux struct {
	Paillier     *paillier.SecretKey
	Pedersen     *pedersen.Own
	PeerPaillier *paillier.PublicKey
	PeerPedersen *pedersen.Params
}

func (s *KeyShare) orderedPublic() (*curve.Point, *curve.Point) {
	if bytes.Compare([]byte(s.Self), []byte(s.Peer)) < 0 {
		return s.SelfPublic, s.PeerPublic
	}
	return s.PeerPublic, s.SelfPublic
}

// Address returns the Ethereum address of the wallet's public key: the last
// 20 bytes of keccak256 of the uncompressed point without its prefix.
func (s *KeyShare) Address() [20]byte { return Address(s.PublicKey) }

// Address returns the Ethereum address of a public key.
func Address(X *curve.Point) [20]byte {
	h := sha3.NewLegacyKeccak256()
	h.Write(X.UncompressedBytes()[1:])
	var a [20]byte
	copy(a[:], h.Sum(nil)[12:])
	return a
}

// PublicDigest is a hash of the share's public data (generation, parties,
// public shares, ssid, and both parties' aux). Both parties of a pair compute
// the same digest, which the two-phase commit of a share change compares.
func (s *KeyShare) PublicDigest() []byte {
	X1, X2 := s.orderedPublic()
	t := hash.New("share-public").Uint(s.Generation).Point(X1).Point(X2).Point(s.PublicKey).Bytes(s.SSID)
	if s.Aux == nil {
		return t.Bit(false).Digest()
	}
	t.Bit(true)
	own := []*big.Int{s.Aux.Paillier.N(), s.Aux.Pedersen.S(), s.Aux.Pedersen.T()}
	peer := []*big.Int{s.Aux.PeerPaillier.N(), s.Aux.PeerPedersen.S(), s.Aux.PeerPedersen.T()}
	if bytes.Compare([]byte(s.Self), []byte(s.Peer)) < 0 {
		t.Nats(own).Nats(peer)
	} else {
		t.Nats(peer).Nats(own)
	}
	return t.Digest()
}

// Shift returns the share moved by delta: Secret+δ, SelfPublic+δ·G and
// PeerPublic−δ·G, so that the pair still adds up to PublicKey once the peer's
// share moves by −δ. The result keeps the generation, the parties and the
// ssid, and has no aux info. A device approving another hands it its own
// share shifted by a random δ; the server moves its share by −δ.
func (s *KeyShare) Shift(delta *curve.Scalar) *KeyShare {
	dG := curve.BaseMul(delta)
	return &KeyShare{
		Generation: s.Generation,
		Self:       s.Self,
		Peer:       s.Peer,
		Secret:     s.Secret.Add(delta),
		SelfPublic: s.SelfPublic.Add(dG),
		PeerPublic: s.PeerPublic.Sub(dG),
		PublicKey:  s.PublicKey,
		SSID:       bytes.Clone(s.SSID),
	}
}

// Wipe overwrites the secret share. The Paillier primes live in big.Int
// values that cannot be wiped reliably; dropping the share drops them.
func (s *KeyShare) Wipe() {
	if s == nil {
		return
	}
	s.Secret.Zero()
	s.Aux = nil
}

const keyShareVersion = 1

// ErrShareEncoding is returned for a stored share that does not decode.
var ErrShareEncoding = errors.New("mpc: malformed key share")

// MarshalBinary encodes the share, secrets included: callers seal it before
// it is stored anywhere.
func (s *KeyShare) MarshalBinary() ([]byte, error) {
	e := codec.NewEncoder(2048)
	e.Uint8(keyShareVersion).Uint64(s.Generation).VarBytes([]byte(s.Self)).VarBytes([]byte(s.Peer)).
		Scalar(s.Secret).Point(s.SelfPublic).Point(s.PeerPublic).VarBytes(s.SSID)
	e.Bool(s.Aux != nil)
	if s.Aux != nil {
		p, q := s.Aux.Paillier.PrimesVarTime()
		e.Nat(p).Nat(q).Nat(s.Aux.Pedersen.S()).Nat(s.Aux.Pedersen.T())
		e.Nat(s.Aux.PeerPaillier.N()).Nat(s.Aux.PeerPedersen.S()).Nat(s.Aux.PeerPedersen.T())
	}
	return e.Bytes(), nil
}

// UnmarshalBinary decodes a share and re-checks its consistency: x_i·G = X_i,
// and every key's form.
func (s *KeyShare) UnmarshalBinary(b []byte) error {
	d := codec.NewDecoder(b)
	if v := d.Uint8(); d.Err() == nil && v != keyShareVersion {
		return fmt.Errorf("%w: unknown version %d", ErrShareEncoding, v)
	}
	out := KeyShare{}
	out.Generation = d.Uint64()
	out.Self = PartyID(d.VarBytes(maxPartyID))
	out.Peer = PartyID(d.VarBytes(maxPartyID))
	out.Secret = d.Scalar()
	out.SelfPublic = d.Point()
	out.PeerPublic = d.Point()
	out.SSID = d.VarBytes(hash.DigestSize)
	hasAux := d.Bool()
	var p, q, s1, t1, n2, s2, t2 *big.Int
	if hasAux {
		p, q = d.Nat(paillier.PrimeBits), d.Nat(paillier.PrimeBits)
		s1, t1 = d.Nat(paillier.MaxModulusBits), d.Nat(paillier.MaxModulusBits)
		n2 = d.Nat(paillier.MaxModulusBits)
		s2, t2 = d.Nat(paillier.MaxModulusBits), d.Nat(paillier.MaxModulusBits)
	}
	if err := d.Finish(); err != nil {
		return fmt.Errorf("%w: %v", ErrShareEncoding, err)
	}
	// VarBytes above caps the ssid at a digest's size: only a short one is
	// left to refuse.
	if out.Self == "" || out.Peer == "" || out.Self == out.Peer || len(out.SSID) < hash.DigestSize {
		return fmt.Errorf("%w: bad parties or ssid", ErrShareEncoding)
	}
	if !curve.BaseMul(out.Secret).Equal(out.SelfPublic) {
		return fmt.Errorf("%w: secret does not match its public share", ErrShareEncoding)
	}
	out.PublicKey = out.SelfPublic.Add(out.PeerPublic)
	if out.PublicKey.IsIdentity() {
		return fmt.Errorf("%w: public key is the identity", ErrShareEncoding)
	}
	if hasAux {
		aux, err := decodeAux(p, q, s1, t1, n2, s2, t2)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrShareEncoding, err)
		}
		out.Aux = aux
	}
	*s = out
	return nil
}

func decodeAux(p, q, s1, t1, n2, s2, t2 *big.Int) (*Aux, error) {
	sk, err := paillier.NewSecretKey(p, q)
	if err != nil {
		return nil, err
	}
	ownParams, err := pedersen.NewParams(sk.Modulus(), s1, t1)
	if err != nil {
		return nil, err
	}
	own, err := pedersen.NewOwn(ownParams, sk)
	if err != nil {
		return nil, err
	}
	peerPK, err := paillier.NewPublicKey(n2)
	if err != nil {
		return nil, err
	}
	peerParams, err := pedersen.NewParams(peerPK.Modulus(), s2, t2)
	if err != nil {
		return nil, err
	}
	return &Aux{Paillier: sk, Pedersen: own, PeerPaillier: peerPK, PeerPedersen: peerParams}, nil
}
