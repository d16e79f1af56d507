package attacktest

import (
	"crypto/rand"
	"errors"
	"math/big"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/hash"
	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/mpc/zk"
	"github.com/duetwallet/duet/mpc/zk/mod"
	"github.com/duetwallet/duet/mpc/zk/prm"
)

// Modulus is a bad Paillier modulus of the right size with its
// factorisation, as a BitForge attacker makes it.
type Modulus struct {
	Kind   string
	N      *big.Int
	phi    *big.Int
	primes []*big.Int
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
		var primes []*big.Int
		for i, bits := range sizes {
			p, err := rand.Prime(rand.Reader, bits)
			if err != nil {
				return nil, err
			}
			blum := p.Bit(1) == 1 // p ≡ 3 mod 4
			if (kind == NotBlum && i == 0 && blum) || (kind == SmallFactor && !blum) {
				n = nil
				break
			}
			n.Mul(n, p)
			phi.Mul(phi, new(big.Int).Sub(p, big.NewInt(1)))
			primes = append(primes, p)
		}
		if n != nil && n.BitLen() == paillier.MaxModulusBits {
			return &Modulus{Kind: kind, N: n, phi: phi, primes: primes}, nil
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

// ProveMod makes a valid Πmod for a small-factor modulus, which is a
// Paillier–Blum modulus: Πmod cannot tell, only Πfac can.
func (m *Modulus) ProveMod(ctx *zk.Context) (*mod.Proof, error) {
	if m.Kind != SmallFactor {
		return nil, errors.New("attacktest: only a small-factor modulus has a Πmod")
	}
	n, p, q := m.N, m.primes[0], m.primes[1]
	var w *big.Int
	for {
		u, err := rand.Int(rand.Reader, n)
		if err != nil {
			return nil, err
		}
		if big.Jacobi(u, n) == -1 {
			w = u
			break
		}
	}
	ys := hash.ChalUnits(ctx.Transcript("mod").Nat(n).Nat(w).Reader(), n, zk.Repetitions)
	nInv := new(big.Int).ModInverse(n, m.phi)
	if nInv == nil {
		return nil, errors.New("attacktest: gcd(N, φ(N)) ≠ 1")
	}
	// A square modulo a Blum prime p has a fourth root y^(((p+1)/4)²).
	fourth := func(y, p *big.Int) *big.Int {
		e := new(big.Int).Rsh(new(big.Int).Add(p, big.NewInt(1)), 2)
		e.Mul(e, e).Mod(e, new(big.Int).Sub(p, big.NewInt(1)))
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
		found := false
		for _, ab := range [4][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			v := new(big.Int).Set(y)
			if ab[1] {
				v.Mul(v, w).Mod(v, n)
			}
			if ab[0] {
				v.Neg(v).Mod(v, n)
			}
			if big.Jacobi(new(big.Int).Mod(v, p), p) != 1 || big.Jacobi(new(big.Int).Mod(v, q), q) != 1 {
				continue
			}
			proof.X[k] = crt(fourth(v, p), fourth(v, q))
			proof.A[k], proof.B[k] = ab[0], ab[1]
			found = true
			break
		}
		if !found {
			return nil, errors.New("attacktest: no fourth root")
		}
		proof.Z[k] = new(big.Int).Exp(y, nInv, n)
	}
	if err := proof.Verify(ctx, mod.Public{N: n}); err != nil {
		return nil, err
	}
	return proof, nil
}
