// Package enc is Πenc, the proof that a Paillier ciphertext K = enc₀(k; ρ)
// under the prover's own key N₀ encrypts a value k ∈ I = ±2^ℓ
// ([CGGMP21] Πenc, 2021-era revision; docs/PROTOCOL.md §3.5).
//
// It is the range proof on the first message of presigning: without it a
// peer could send K encrypting a value that wraps around N₀ in the MtA and
// learn bits of the other party's secrets from whether signing succeeds (the
// Alpha-Rays and BitForge attacks). The proof only guarantees k ∈ I_ε =
// ±2^(ℓ+ε), which the protocol's parameters account for.
//
// The prover commits to k under the verifier's ring-Pedersen parameters
// (N̂, s, t), so the verifier, who knows the factorisation of N̂, checks those
// commitments through the CRT.
package enc

import (
	"errors"
	"io"
	"math/big"

	"github.com/cronokirby/saferith"

	"github.com/duetwallet/duet/mpc/arith"
	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/hash"
	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/mpc/pedersen"
	"github.com/duetwallet/duet/mpc/zk"
)

// Errors returned by Verify, one per check, so that an abort names the check
// that failed.
var (
	ErrMalformed = errors.New("enc: proof or statement element missing")
	ErrParams    = errors.New("enc: statement's ring-Pedersen parameters are not the verifier's")
	ErrK         = errors.New("enc: K not in Z*_{N₀²}")
	ErrA         = errors.New("enc: A not in Z*_{N₀²}")
	ErrZ2        = errors.New("enc: z₂ not in Z*_{N₀}")
	ErrS         = errors.New("enc: S not in Z*_N̂")
	ErrC         = errors.New("enc: C̃ not in Z*_N̂")
	ErrZ1Range   = errors.New("enc: z₁ outside I_ε")
	ErrZ3Size    = errors.New("enc: z₃ over its size cap")
	ErrPaillier  = errors.New("enc: enc₀(z₁; z₂) ≠ A·K^e mod N₀²")
	ErrPedersen  = errors.New("enc: s^z₁·t^z₃ ≠ C̃·S^e mod N̂")
)

// Errors returned by Prove for inputs that no honest caller passes.
var (
	ErrWitness   = errors.New("enc: witness k outside I")
	ErrProverKey = errors.New("enc: secret key is not the statement's N₀")
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

// Public is the statement: K encrypts a value in I under the prover's N₀.
type Public struct {
	N0 *paillier.PublicKey // the prover's Paillier key
	K  *big.Int            // K = enc₀(k; ρ)
	// Aux is the verifier's ring-Pedersen parameters (N̂, s, t), under which
	// the prover commits. The verifier may leave it nil: it uses its own.
	Aux *pedersen.Params
}

// Private is the witness.
type Private struct {
	// SecretKey is the prover's key N₀, with which it encrypts through the
	// CRT.
	SecretKey *paillier.SecretKey
	K         *saferith.Int // k ∈ I
	Rho       *saferith.Nat // ρ ∈ Z*_{N₀}, the nonce of K
}

// Proof is the prover's first message (S, A, C̃) and its responses.
type Proof struct {
	S  *big.Int // s^k·t^μ mod N̂
	A  *big.Int // enc₀(α; r)
	C  *big.Int // C̃ = s^α·t^γ mod N̂
	Z1 *big.Int // α + e·k
	Z2 *big.Int // r·ρ^e mod N₀
	Z3 *big.Int // γ + e·μ
}

// Prove proves that pub.K = enc₀(k; ρ) with k ∈ I. It checks its own z₁
// against the verifier's range and draws again on the negligible failure.
func Prove(rand io.Reader, ctx *zk.Context, pub Public, priv Private) (*Proof, error) {
	if ctx == nil || pub.N0 == nil || pub.K == nil || pub.Aux == nil || priv.SecretKey == nil || priv.K == nil || priv.Rho == nil {
		return nil, ErrMalformed
	}
	if !priv.SecretKey.Equal(pub.N0) {
		return nil, ErrProverKey
	}
	if !zk.InRangeSecret(priv.K, zk.L) {
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
	sk, aux := priv.SecretKey, pub.Aux
	alpha, err := arith.SampleSigned(rand, zk.L+zk.Epsilon)
	if err != nil {
		return nil, err
	}
	mu, err := arith.SampleSignedScaled(rand, zk.L, aux.N())
	if err != nil {
		return nil, err
	}
	// A = enc(α; r); r may come precomputed with r^N (WithNonces).
	A, r, err := sk.Encrypt(rand, alpha)
	if err != nil {
		return nil, err
	}
	defer arith.WipeNat(r)
	gamma, err := arith.SampleSignedScaled(rand, zk.L+zk.Epsilon, aux.N())
	if err != nil {
		return nil, err
	}
	p := &Proof{
		S: aux.Commit(priv.K, mu),
		A: A,
		C: aux.Commit(alpha, gamma),
	}
	e := challenge(ctx, aux, pub.N0, pub.K, p)
	ei := arith.IntFromBig(e)
	p.Z1 = arith.MulAdd(alpha, ei, priv.K).Big()
	p.Z2 = sk.Modulus().Mul(r, sk.CRT().ExpInt(priv.Rho, ei)).Big()
	p.Z3 = arith.MulAdd(gamma, ei, mu).Big()
	return p, nil
}

// Verify checks the proof for the prover named in ctx. own is the verifier's
// ring-Pedersen parameters with their factorisation.
func (p *Proof) Verify(ctx *zk.Context, pub Public, own *pedersen.Own) error {
	if p == nil || p.S == nil || p.A == nil || p.C == nil || p.Z1 == nil || p.Z2 == nil || p.Z3 == nil ||
		pub.N0 == nil || pub.K == nil || own == nil || ctx == nil {
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
	if n0.ValidateCiphertext(pub.K) != nil {
		return ErrK
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
	if own.ValidateElement(p.C) != nil {
		return ErrC
	}
	e := challenge(ctx, own.Params, n0, pub.K, p)

	// enc₀(z₁; z₂) = A·K^e mod N₀², under the prover's key: public values,
	// variable time.
	ke := n0.MulConstVarTime(pub.K, e)
	if n0.EncVarTime(p.Z1, p.Z2).Cmp(n0.Add(p.A, ke)) != 0 {
		return ErrPaillier
	}
	if !own.Verify(p.Z1, p.Z3, p.C, p.S, e) {
		return ErrPedersen
	}
	return nil
}

// challenge derives e ∈ ±q from the statement and the first message, in the
// order of docs/PROTOCOL.md §3.5.
func challenge(ctx *zk.Context, aux *pedersen.Params, n0 *paillier.PublicKey, k *big.Int, p *Proof) *big.Int {
	t := ctx.Transcript("enc").
		Nat(aux.N()).Nat(aux.S()).Nat(aux.T()).
		Nat(n0.N()).Nat(k).
		Nat(p.S).Nat(p.A).Nat(p.C)
	return hash.ChalSigned(t.Reader())
}

// Encode appends the proof. Every field must be set.
func (p *Proof) Encode(e *codec.Encoder) {
	e.Nat(p.S).Nat(p.A).Nat(p.C).Int(p.Z1).Nat(p.Z2).Int(p.Z3)
}

// Decode reads a proof; it returns nil, and d holds the error, if the input
// is malformed or a field is over its size cap.
func Decode(d *codec.Decoder) *Proof {
	p := &Proof{
		S:  d.Nat(maxModBits),
		A:  d.Nat(maxCtBits),
		C:  d.Nat(maxModBits),
		Z1: d.Int(z1Bits),
		Z2: d.Nat(maxModBits),
		Z3: d.Int(z3Bits),
	}
	if d.Err() != nil {
		return nil
	}
	return p
}
