// Package logstar is Πlog*, the proof that the plaintext of a Paillier
// ciphertext C = enc₀(x; ρ) under the prover's own key N₀ is the discrete
// logarithm of X = x·B to a base B, and lies in I = ±2^ℓ
// ([CGGMP21] Πlog*, 2021-era revision; docs/PROTOCOL.md §3.7).
//
// Presigning uses it twice per party: to tie Γ_i = γ_i·G to G_i = enc(γ_i),
// and Δ_i = k_i·Γ to K_i = enc(k_i). The range guarantee is x ∈ I_ε =
// ±2^(ℓ+ε).
//
// The prover commits to x under the verifier's ring-Pedersen parameters
// (N̂, s, t), so the verifier, who knows the factorisation of N̂, checks those
// commitments through the CRT.
package logstar

import (
	"errors"
	"io"
	"math/big"

	"github.com/cronokirby/saferith"

	"github.com/duetwallet/duet/mpc/arith"
	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/mpc/hash"
	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/mpc/pedersen"
	"github.com/duetwallet/duet/mpc/zk"
)

// Errors returned by Verify, one per check, so that an abort names the check
// that failed.
var (
	ErrMalformed = errors.New("log*: proof or statement element missing")
	ErrParams    = errors.New("log*: statement's ring-Pedersen parameters are not the verifier's")
	ErrC         = errors.New("log*: C not in Z*_{N₀²}")
	ErrPoint     = errors.New("log*: X, B or Y is the identity")
	ErrA         = errors.New("log*: A not in Z*_{N₀²}")
	ErrZ2        = errors.New("log*: z₂ not in Z*_{N₀}")
	ErrS         = errors.New("log*: S not in Z*_N̂")
	ErrD         = errors.New("log*: D̃ not in Z*_N̂")
	ErrZ1Range   = errors.New("log*: z₁ outside I_ε")
	ErrZ3Size    = errors.New("log*: z₃ over its size cap")
	ErrGroup     = errors.New("log*: z₁·B ≠ Y + e·X")
	ErrPaillier  = errors.New("log*: enc₀(z₁; z₂) ≠ A·C^e mod N₀²")
	ErrPedersen  = errors.New("log*: s^z₁·t^z₃ ≠ D̃·S^e mod N̂")
)

// Errors returned by Prove for inputs that no honest caller passes.
var (
	ErrWitness   = errors.New("log*: witness x outside I")
	ErrProverKey = errors.New("log*: secret key is not the statement's N₀")
)

// Size caps of the encoding (docs/PROTOCOL.md §3.0). Elements of Z_N and Z_N² are
// capped by the largest accepted modulus; Verify then checks them against
// the actual one.
const (
	maxModBits = paillier.MaxModulusBits
	maxCtBits  = 2 * paillier.MaxModulusBits
	// z₁ ∈ I_ε = ±2^(ℓ+ε) needs one bit more than ℓ+ε for the bound itself.
	z1Bits = zk.L + zk.Epsilon + 1
	// z₃ = γ + e·μ with |γ| ≤ 2^(ℓ+ε)·N̂ and |e·μ| ≤ 2^(2ℓ)·N̂.
	z3Bits = zk.L + zk.Epsilon + maxModBits + 2
)

// Public is the statement: C encrypts under the prover's N₀ the discrete
// logarithm of X to the base B, and it lies in I.
type Public struct {
	N0 *paillier.PublicKey // the prover's Paillier key
	C  *big.Int            // C = enc₀(x; ρ)
	X  *curve.Point        // X = x·B
	B  *curve.Point        // the base: G, or Γ in presigning's last round
	// Aux is the verifier's ring-Pedersen parameters (N̂, s, t), under which
	// the prover commits. The verifier may leave it nil: it uses its own.
	Aux *pedersen.Params
}

// Private is the witness.
type Private struct {
	// SecretKey is N₀'s secret key when the prover owns N₀, so that it
	// encrypts through the CRT; nil when C is under another party's key (as
	// in the refresh, where C is under the verifier's key), and the prover
	// works with the public key alone.
	SecretKey *paillier.SecretKey
	X         *saferith.Int // x ∈ I
	Rho       *saferith.Nat // ρ ∈ Z*_{N₀}, the nonce of C
}

// Proof is the prover's first message (S, A, Y, D̃) and its responses.
type Proof struct {
	S  *big.Int     // s^x·t^μ mod N̂
	A  *big.Int     // enc₀(α; r)
	Y  *curve.Point // α·B
	D  *big.Int     // D̃ = s^α·t^γ mod N̂
	Z1 *big.Int     // α + e·x
	Z2 *big.Int     // r·ρ^e mod N₀
	Z3 *big.Int     // γ + e·μ
}

// Prove proves that pub.C = enc₀(x; ρ) and pub.X = x·pub.B with x ∈ I. It
// checks its own z₁ against the verifier's range and draws again on the
// negligible failure.
func Prove(rand io.Reader, ctx *zk.Context, pub Public, priv Private) (*Proof, error) {
	if ctx == nil || pub.N0 == nil || pub.C == nil || pub.X == nil || pub.B == nil || pub.Aux == nil ||
		priv.X == nil || priv.Rho == nil {
		return nil, ErrMalformed
	}
	if pub.X.IsIdentity() || pub.B.IsIdentity() {
		return nil, ErrPoint
	}
	if priv.SecretKey != nil && !priv.SecretKey.Equal(pub.N0) {
		return nil, ErrProverKey
	}
	if !zk.InRangeSecret(priv.X, zk.L) {
		return nil, ErrWitness
	}
	for {
		p, err := prove(rand, ctx, pub, priv)
		if err != nil {
			return nil, err
		}
		if zk.InRange(p.Z1, zk.L+zk.Epsilon) {
			return p, nil
		}
	}
}

// prove makes one attempt, without any check on its inputs or on its
// responses: tests use it to play a cheating prover.
func prove(rand io.Reader, ctx *zk.Context, pub Public, priv Private) (*Proof, error) {
	aux := pub.Aux
	n0 := pub.N0
	// α ≡ 0 mod q (probability 2^−256) would make Y the identity, which has
	// no encoding.
	var alpha *saferith.Int
	var a *curve.Scalar
	for a == nil || a.IsZero() {
		var err error
		if alpha, err = arith.SampleSigned(rand, zk.L+zk.Epsilon); err != nil {
			return nil, err
		}
		a = curve.ScalarFromInt(alpha)
	}
	mu, err := arith.SampleSignedScaled(rand, zk.L, aux.N())
	if err != nil {
		return nil, err
	}
	// A = enc(α; r), through the CRT for the key's owner; r may come
	// precomputed with r^N (WithNonces).
	var A *big.Int
	var r *saferith.Nat
	if sk := priv.SecretKey; sk != nil {
		A, r, err = sk.Encrypt(rand, alpha)
	} else {
		A, r, err = n0.Encrypt(rand, alpha)
	}
	if err != nil {
		return nil, err
	}
	gamma, err := arith.SampleSignedScaled(rand, zk.L+zk.Epsilon, aux.N())
	if err != nil {
		arith.WipeNat(r)
		return nil, err
	}
	p := &Proof{
		S: aux.Commit(priv.X, mu),
		Y: pub.B.Mul(a),
		D: aux.Commit(alpha, gamma),
		A: A,
	}
	a.Zero()
	e := challenge(ctx, aux, pub, p)
	ei := arith.IntFromBig(e)
	p.Z1 = arith.MulAdd(alpha, ei, priv.X).Big()
	var rhoE *saferith.Nat
	if sk := priv.SecretKey; sk != nil {
		rhoE = sk.CRT().ExpInt(priv.Rho, ei)
	} else {
		rhoE = n0.Modulus().ExpInt(priv.Rho, ei)
	}
	p.Z2 = n0.Modulus().Mul(r, rhoE).Big()
	p.Z3 = arith.MulAdd(gamma, ei, mu).Big()
	for _, v := range []*saferith.Int{alpha, mu, gamma} {
		arith.WipeInt(v)
	}
	arith.WipeNat(r)
	arith.WipeNat(rhoE)
	return p, nil
}

// Verify checks the proof for the prover named in ctx. own is the verifier's
// ring-Pedersen parameters with their factorisation.
func (p *Proof) Verify(ctx *zk.Context, pub Public, own *pedersen.Own) error {
	if p == nil || p.S == nil || p.A == nil || p.Y == nil || p.D == nil || p.Z1 == nil || p.Z2 == nil || p.Z3 == nil ||
		pub.N0 == nil || pub.C == nil || pub.X == nil || pub.B == nil || own == nil || ctx == nil {
		return ErrMalformed
	}
	if pub.Aux != nil && !pub.Aux.Equal(own.Params) {
		return ErrParams
	}
	if !zk.InRange(p.Z1, zk.L+zk.Epsilon) {
		return ErrZ1Range
	}
	if p.Z3.CmpAbs(new(big.Int).Lsh(big.NewInt(1), z3Bits)) >= 0 {
		return ErrZ3Size
	}
	n0 := pub.N0
	if n0.ValidateCiphertext(pub.C) != nil {
		return ErrC
	}
	if pub.X.IsIdentity() || pub.B.IsIdentity() || p.Y.IsIdentity() {
		return ErrPoint
	}
	if n0.ValidateCiphertext(p.A) != nil {
		return ErrA
	}
	if n0.ValidateNonce(p.Z2) != nil {
		return ErrZ2
	}
	if own.ValidateElement(p.S) != nil {
		return ErrS
	}
	if own.ValidateElement(p.D) != nil {
		return ErrD
	}
	e := challenge(ctx, own.Params, pub, p)

	// ⟨z₁⟩_q·B = Y + ⟨e⟩_q·X, the cheap check first.
	z1q := curve.ScalarFromBigVarTime(p.Z1)
	eq := curve.ScalarFromBigVarTime(e)
	if !pub.B.Mul(z1q).Equal(p.Y.Add(pub.X.Mul(eq))) {
		return ErrGroup
	}
	// enc₀(z₁; z₂) = A·C^e mod N₀², under the prover's key: public values,
	// variable time.
	ce := n0.MulConstVarTime(pub.C, e)
	if n0.EncVarTime(p.Z1, p.Z2).Cmp(n0.Add(p.A, ce)) != 0 {
		return ErrPaillier
	}
	if !own.Verify(p.Z1, p.Z3, p.D, p.S, e) {
		return ErrPedersen
	}
	return nil
}

// challenge derives e ∈ ±q from the statement and the first message, in the
// order of docs/PROTOCOL.md §3.7.
func challenge(ctx *zk.Context, aux *pedersen.Params, pub Public, p *Proof) *big.Int {
	t := ctx.Transcript("log*").
		Nat(aux.N()).Nat(aux.S()).Nat(aux.T()).
		Nat(pub.N0.N()).Nat(pub.C).Point(pub.X).Point(pub.B).
		Nat(p.S).Nat(p.A).Point(p.Y).Nat(p.D)
	return hash.ChalSigned(t.Reader())
}

// Encode appends the proof. Every field must be set.
func (p *Proof) Encode(e *codec.Encoder) {
	e.Nat(p.S).Nat(p.A).Point(p.Y).Nat(p.D).Int(p.Z1).Nat(p.Z2).Int(p.Z3)
}

// Decode reads a proof; it returns nil, and d holds the error, if the input
// is malformed or a field is over its size cap.
func Decode(d *codec.Decoder) *Proof {
	p := &Proof{
		S:  d.Nat(maxModBits),
		A:  d.Nat(maxCtBits),
		Y:  d.Point(),
		D:  d.Nat(maxModBits),
		Z1: d.Int(z1Bits),
		Z2: d.Nat(maxModBits),
		Z3: d.Int(z3Bits),
	}
	if d.Err() != nil {
		return nil
	}
	return p
}
