package attacktest

import (
	"crypto/rand"
	"errors"
	"math/big"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/hash"
	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/mpc/zk"
	"github.com/duetwallet/duet/mpc/zk/prm"
)

// Modulus is a bad Paillier modulus of the right size with its
// factorisation, as a BitForge attacker makes it.
type Modulus struct {
	Kind string
	N    *big.Int
	phi  *big.Int
}

// BitForge moduli.
const (
	SmallFactor = "small factor"      // N = p·Q with a 256-bit p
	NotBlum     = "not Paillier-Blum" // N = p·q with p ≡ 1 mod 4
	ThreePrimes = "N = p·q·r"
)

// NewModulus draws a bad modulus of the given kind.
func NewModulus(kind string) (*Modulus, error) {
	var sizes []int
	switch kind {
	case SmallFactor:
		sizes = []int{256, paillier.MaxModulusBits - 256}
	case NotBlum:
		sizes = []int{1024, 1024}
	case ThreePrimes:
		sizes = []int{683, 683, 682}
	default:
		return nil, errors.New("attacktest: unknown modulus kind")
	}
	for {
		n, phi := big.NewInt(1), big.NewInt(1)
		for i, bits := range sizes {
			p, err := rand.Prime(rand.Reader, bits)
			if err != nil {
				return nil, err
			}
			if kind == NotBlum && i == 0 && p.Bit(1) == 1 {
				// p ≡ 3 mod 4; the modulus needs one p ≡ 1 mod 4.
				p = nil
			}
			if p == nil {
				n = nil
				break
			}
			n.Mul(n, p)
			phi.Mul(phi, new(big.Int).Sub(p, big.NewInt(1)))
		}
		if n != nil && n.BitLen() == paillier.MaxModulusBits {
			return &Modulus{Kind: kind, N: n, phi: phi}, nil
		}
	}
}

// Pedersen returns ring-Pedersen parameters s = t^λ on N and their Πprm for
// the session, made with φ(N) as an honest prover would.
func (m *Modulus) Pedersen(sid []byte, prover mpc.PartyID) (s, t *big.Int, proof *prm.Proof, err error) {
	n := m.N
	r, err := rand.Int(rand.Reader, n)
	if err != nil {
		return nil, nil, nil, err
	}
	t = new(big.Int).Exp(r, big.NewInt(2), n)
	lambda, err := rand.Int(rand.Reader, m.phi)
	if err != nil {
		return nil, nil, nil, err
	}
	s = new(big.Int).Exp(t, lambda, n)
	proof = new(prm.Proof)
	var a [zk.Repetitions]*big.Int
	for k := range a {
		if a[k], err = rand.Int(rand.Reader, m.phi); err != nil {
			return nil, nil, nil, err
		}
		proof.A[k] = new(big.Int).Exp(t, a[k], n)
	}
	ctx := &zk.Context{SessionID: sid, Prover: []byte(prover)}
	tr := ctx.Transcript("prm").Nat(n).Nat(s).Nat(t).Nats(proof.A[:])
	e := hash.ChalBits(tr.Reader(), zk.Repetitions)
	for k := range a {
		z := a[k]
		if e[k] {
			z = new(big.Int).Add(z, lambda)
			z.Mod(z, m.phi)
		}
		proof.Z[k] = z
	}
	if err := proof.Verify(ctx, prm.Public{N: n, S: s, T: t}); err != nil {
		return nil, nil, nil, err
	}
	return s, t, proof, nil
}
