// Package affg is Πaff-g, the proof that a Paillier ciphertext D under the
// verifier's key N₀ is the affine function D = (x ⊙ C) ⊕ enc₀(y; ρ) of the
// verifier's ciphertext C, with x the discrete logarithm of X = x·G, and
// Y = enc₁(y; ρ_y) the same y under the prover's key N₁; x ∈ I = ±2^ℓ and
// y ∈ J = ±2^ℓ′ ([CGGMP21] Πaff-g, 2021-era revision, Fig. 25 of the 2024
// revision; docs/PROTOCOL.md §3.6).
//
// It is the sender's proof in each MtA of presigning: C = K_j, x = γ_i or
// x_i, and y := −β where β is the sender's additive share, so that the
// receiver decrypts α = x·k − β and α + β = x·k. The ranges (guaranteed as
// x ∈ I_ε, y ∈ J_ε) keep x·k + y far from N₀/2, so the receiver's decryption
// never wraps around (the Alpha-Rays lesson).
//
// The prover commits to x and y under the verifier's ring-Pedersen
// parameters (N̂, s, t). The verifier owns N₀ and N̂, and checks both the
// commitments and the equation under N₀ through its factorisation.
package affg

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
	ErrMalformed   = errors.New("aff-g: proof or statement element missing")
	ErrParams      = errors.New("aff-g: statement's ring-Pedersen parameters are not the verifier's")
	ErrVerifierKey = errors.New("aff-g: verifier's secret key is not the statement's N₀")
	ErrC           = errors.New("aff-g: C not in Z*_{N₀²}")
	ErrD           = errors.New("aff-g: D not in Z*_{N₀²}")
	ErrY           = errors.New("aff-g: Y not in Z*_{N₁²}")
	ErrPoint       = errors.New("aff-g: X or B_x is the identity")
	ErrA           = errors.New("aff-g: A not in Z*_{N₀²}")
	ErrBy          = errors.New("aff-g: B_y not in Z*_{N₁²}")
	ErrW           = errors.New("aff-g: w not in Z*_{N₀}")
	ErrWy          = errors.New("aff-g: w_y not in Z*_{N₁}")
	ErrE           = errors.New("aff-g: E not in Z*_N̂")
	ErrS           = errors.New("aff-g: S not in Z*_N̂")
	ErrF           = errors.New("aff-g: F̃ not in Z*_N̂")
	ErrT           = errors.New("aff-g: T not in Z*_N̂")
	ErrZ1Range     = errors.New("aff-g: z₁ outside I_ε")
	ErrZ2Range     = errors.New("aff-g: z₂ outside J_ε")
	ErrZ3Size      = errors.New("aff-g: z₃ over its size cap")
	ErrZ4Size      = errors.New("aff-g: z₄ over its size cap")
	ErrGroup       = errors.New("aff-g: z₁·G ≠ B_x + e·X")
	ErrPaillier0   = errors.New("aff-g: C^z₁·(1+N₀)^z₂·w^N₀ ≠ A·D^e mod N₀²")
	ErrPaillier1   = errors.New("aff-g: enc₁(z₂; w_y) ≠ B_y·Y^e mod N₁²")
	ErrPedersenX   = errors.New("aff-g: s^z₁·t^z₃ ≠ E·S^e mod N̂")
	ErrPedersenY   = errors.New("aff-g: s^z₂·t^z₄ ≠ F̃·T^e mod N̂")
)

// Errors returned by Prove for inputs that no honest caller passes.
var (
	ErrWitnessX  = errors.New("aff-g: witness x outside I")
	ErrWitnessY  = errors.New("aff-g: witness y outside J")
	ErrProverKey = errors.New("aff-g: secret key is not the statement's N₁")
	ErrSameKey   = errors.New("aff-g: N₀ and N₁ are the same key")
)

// Size caps of the encoding (docs/PROTOCOL.md §3.0). Elements of Z_N and Z_N² are
// capped by the largest accepted modulus; Verify then checks them against
// the actual one.
const (
	maxModBits = paillier.MaxModulusBits
	maxCtBits  = 2 * paillier.MaxModulusBits
	// z₁ ∈ I_ε and z₂ ∈ J_ε need one bit more than the exponent of their
	// bound for the bound itself.
	z1Bits = zk.L + zk.Epsilon + 1
	z2Bits = zk.LPrime + zk.Epsilon + 1
	// z₃ = γ + e·m̃ and z₄ = δ + e·μ: the masks lie in ±2^(ℓ+ε)·N̂, the
	// products in ±2^(2ℓ)·N̂.
	z34Bits = zk.L + zk.Epsilon + maxModBits + 2
)

// Public is the statement.
type Public struct {
	N0 *paillier.PublicKey // the verifier's Paillier key, of C and D
	N1 *paillier.PublicKey // the prover's Paillier key, of Y
	C  *big.Int            // the verifier's ciphertext under N₀
	D  *big.Int            // D = (x ⊙ C) ⊕ enc₀(y; ρ)
	Y  *big.Int            // Y = enc₁(y; ρ_y)
	X  *curve.Point        // X = x·G
	// Aux is the verifier's ring-Pedersen parameters (N̂, s, t), under which
	// the prover commits. The verifier may leave it nil: it uses its own.
	Aux *pedersen.Params
}

// Private is the witness.
type Private struct {
	// SecretKey is the prover's key N₁, with which it encrypts through the
	// CRT.
	SecretKey *paillier.SecretKey
	X         *saferith.Int // x ∈ I
	Y         *saferith.Int // y ∈ J
	Rho       *saferith.Nat // ρ ∈ Z*_{N₀}, the nonce in D
	RhoY      *saferith.Nat // ρ_y ∈ Z*_{N₁}, the nonce of Y
}

// Proof is the prover's first message (A, B_x, B_y, E, S, F̃, T) and its
// responses.
type Proof struct {
	A  *big.Int     // (α ⊙ C) ⊕ enc₀(β̃; r)
	Bx *curve.Point // α·G
	By *big.Int     // enc₁(β̃; r_y)
	E  *big.Int     // s^α·t^γ mod N̂
	S  *big.Int     // s^x·t^m̃ mod N̂
	F  *big.Int     // F̃ = s^β̃·t^δ mod N̂
	T  *big.Int     // s^y·t^μ mod N̂
	Z1 *big.Int     // α + e·x
	Z2 *big.Int     // β̃ + e·y
	Z3 *big.Int     // γ + e·m̃
	Z4 *big.Int     // δ + e·μ
	W  *big.Int     // r·ρ^e mod N₀
	Wy *big.Int     // r_y·ρ_y^e mod N₁
}

// Prove proves the statement for the witness. It checks its own z₁ and z₂
// against the verifier's ranges and draws again on the negligible failure.
func Prove(rand io.Reader, ctx *zk.Context, pub Public, priv Private) (*Proof, error) {
	if ctx == nil || pub.N0 == nil || pub.N1 == nil || pub.C == nil || pub.D == nil || pub.Y == nil || pub.X == nil ||
		pub.Aux == nil || priv.SecretKey == nil || priv.X == nil || priv.Y == nil || priv.Rho == nil || priv.RhoY == nil {
		return nil, ErrMalformed
	}
	if pub.X.IsIdentity() {
		return nil, ErrPoint
	}
	if !priv.SecretKey.Equal(pub.N1) {
		return nil, ErrProverKey
	}
	if pub.N0.Equal(pub.N1) {
		return nil, ErrSameKey
	}
	// C is raised to the signed α, which needs a unit.
	if pub.N0.ValidateCiphertext(pub.C) != nil {
		return nil, ErrC
	}
	if !zk.InRangeSecret(priv.X, zk.L) {
		return nil, ErrWitnessX
	}
	if !zk.InRangeSecret(priv.Y, zk.LPrime) {
		return nil, ErrWitnessY
	}
	for {
		p, err := prove(rand, ctx, pub, priv)
		if err != nil {
			return nil, err
		}
		if zk.InRange(p.Z1, zk.L+zk.Epsilon) && zk.InRange(p.Z2, zk.LPrime+zk.Epsilon) {
			return p, nil
		}
	}
}

// prove makes one attempt, without any check on its inputs or on its
// responses: tests use it to play a cheating prover.
func prove(rand io.Reader, ctx *zk.Context, pub Public, priv Private) (*Proof, error) {
	sk, aux, n0 := priv.SecretKey, pub.Aux, pub.N0
	// α ≡ 0 mod q (probability 2^−256) would make B_x the identity, which
	// has no encoding.
	var alpha *saferith.Int
	var a *curve.Scalar
	for a == nil || a.IsZero() {
		var err error
		if alpha, err = arith.SampleSigned(rand, zk.L+zk.Epsilon); err != nil {
			return nil, err
		}
		a = curve.ScalarFromInt(alpha)
	}
	beta, err := arith.SampleSigned(rand, zk.LPrime+zk.Epsilon)
	if err != nil {
		return nil, err
	}
	// enc₀(β̃; r) under the verifier's key: its nonce r may come
	// precomputed with r^N₀ (PublicKey.WithNonces).
	encBeta, r, err := n0.Encrypt(rand, beta)
	if err != nil {
		return nil, err
	}
	defer arith.WipeNat(r)
	// B_y = enc₁(β̃; r_y) under the prover's own key, likewise.
	By, rY, err := sk.Encrypt(rand, beta)
	if err != nil {
		return nil, err
	}
	defer arith.WipeNat(rY)
	gamma, err := arith.SampleSignedScaled(rand, zk.L+zk.Epsilon, aux.N())
	if err != nil {
		return nil, err
	}
	delta, err := arith.SampleSignedScaled(rand, zk.L+zk.Epsilon, aux.N())
	if err != nil {
		return nil, err
	}
	mTilde, err := arith.SampleSignedScaled(rand, zk.L, aux.N())
	if err != nil {
		return nil, err
	}
	mu, err := arith.SampleSignedScaled(rand, zk.L, aux.N())
	if err != nil {
		return nil, err
	}

	// A = C^α · enc₀(β̃; r) mod N₀², under the verifier's key: no CRT, and
	// constant time, as α and r are secret.
	n0sq := n0.ModulusSquared()
	cAlpha := n0sq.ExpInt(natOf(pub.C, n0sq), alpha)
	p := &Proof{
		A:  n0sq.Mul(cAlpha, natOf(encBeta, n0sq)).Big(),
		Bx: curve.BaseMul(a),
		By: By,
		E:  aux.Commit(alpha, gamma),
		S:  aux.Commit(priv.X, mTilde),
		F:  aux.Commit(beta, delta),
		T:  aux.Commit(priv.Y, mu),
	}
	a.Zero()
	e := challenge(ctx, aux, pub, p)
	ei := arith.IntFromBig(e)
	p.Z1 = arith.MulAdd(alpha, ei, priv.X).Big()
	p.Z2 = arith.MulAdd(beta, ei, priv.Y).Big()
	p.Z3 = arith.MulAdd(gamma, ei, mTilde).Big()
	p.Z4 = arith.MulAdd(delta, ei, mu).Big()
	p.W = n0.Modulus().Mul(r, n0.Modulus().ExpInt(priv.Rho, ei)).Big()
	p.Wy = sk.Modulus().Mul(rY, sk.CRT().ExpInt(priv.RhoY, ei)).Big()
	return p, nil
}

// Verify checks the proof for the prover named in ctx. own is the verifier's
// ring-Pedersen parameters and sk its Paillier key N₀, both with their
// factorisation: the checks under them go through the CRT.
func (p *Proof) Verify(ctx *zk.Context, pub Public, own *pedersen.Own, sk *paillier.SecretKey) error {
	if p == nil || p.A == nil || p.Bx == nil || p.By == nil || p.E == nil || p.S == nil || p.F == nil || p.T == nil ||
		p.Z1 == nil || p.Z2 == nil || p.Z3 == nil || p.Z4 == nil || p.W == nil || p.Wy == nil ||
		pub.N0 == nil || pub.N1 == nil || pub.C == nil || pub.D == nil || pub.Y == nil || pub.X == nil ||
		own == nil || sk == nil || ctx == nil {
		return ErrMalformed
	}
	if pub.Aux != nil && !pub.Aux.Equal(own.Params) {
		return ErrParams
	}
	if !sk.Equal(pub.N0) {
		return ErrVerifierKey
	}
	if !zk.InRange(p.Z1, zk.L+zk.Epsilon) {
		return ErrZ1Range
	}
	if !zk.InRange(p.Z2, zk.LPrime+zk.Epsilon) {
		return ErrZ2Range
	}
	capZ34 := new(big.Int).Lsh(big.NewInt(1), z34Bits)
	if p.Z3.CmpAbs(capZ34) >= 0 {
		return ErrZ3Size
	}
	if p.Z4.CmpAbs(capZ34) >= 0 {
		return ErrZ4Size
	}
	n0, n1 := pub.N0, pub.N1
	switch {
	case n0.ValidateCiphertext(pub.C) != nil:
		return ErrC
	case n0.ValidateCiphertext(pub.D) != nil:
		return ErrD
	case n1.ValidateCiphertext(pub.Y) != nil:
		return ErrY
	case pub.X.IsIdentity() || p.Bx.IsIdentity():
		return ErrPoint
	case n0.ValidateCiphertext(p.A) != nil:
		return ErrA
	case n1.ValidateCiphertext(p.By) != nil:
		return ErrBy
	case n0.ValidateNonce(p.W) != nil:
		return ErrW
	case n1.ValidateNonce(p.Wy) != nil:
		return ErrWy
	case own.ValidateElement(p.E) != nil:
		return ErrE
	case own.ValidateElement(p.S) != nil:
		return ErrS
	case own.ValidateElement(p.F) != nil:
		return ErrF
	case own.ValidateElement(p.T) != nil:
		return ErrT
	}
	e := challenge(ctx, own.Params, pub, p)

	// 2. ⟨z₁⟩_q·G = B_x + ⟨e⟩_q·X, the cheap check first.
	z1q := curve.ScalarFromBigVarTime(p.Z1)
	eq := curve.ScalarFromBigVarTime(e)
	if !curve.BaseMul(z1q).Equal(p.Bx.Add(pub.X.Mul(eq))) {
		return ErrGroup
	}
	// 1. C^z₁·(1+N₀)^z₂·w^N₀ = A·D^e mod N₀², under the verifier's own key.
	if !p.equationN0(pub, sk, e) {
		return ErrPaillier0
	}
	// 3. enc₁(z₂; w_y) = B_y·Y^e mod N₁², under the prover's key: public
	// values, variable time.
	ye := n1.MulConstVarTime(pub.Y, e)
	if n1.EncVarTime(p.Z2, p.Wy).Cmp(n1.Add(p.By, ye)) != 0 {
		return ErrPaillier1
	}
	// 4, 5. The commitments, under the verifier's own N̂.
	if !own.Verify(p.Z1, p.Z3, p.E, p.S, e) {
		return ErrPedersenX
	}
	if !own.Verify(p.Z2, p.Z4, p.F, p.T, e) {
		return ErrPedersenY
	}
	return nil
}

// equationN0 checks C^z₁·(1+N₀)^z₂·w^N₀ ≡ A·D^e (mod N₀²) with the
// verifier's factorisation of N₀, for A, C, D ∈ Z*_{N₀²} and w ∈ Z*_{N₀}.
//
// With U = A·D^e·C^−z₁ (public values, computed in variable time) the
// equation reads U = (1+N₀)^z₂·w^N₀ = enc₀(z₂; w). Since gcd(N₀, φ(N₀)) = 1,
// (m, r) ↦ (1+N₀)^m·r^N₀ is a bijection from Z_N₀ × Z*_N₀ onto Z*_{N₀²}
// (Paillier's Lemma 3), so the equation holds exactly when U decrypts to
// z₂ mod N₀ and its nonce is w, that is w^N₀ ≡ U (mod N₀). Both go through
// the CRT with half-size moduli and exponents below 1024 bits, where
// w^N₀ mod N₀² would need a 2048-bit exponent modulo p² and q². Because the
// factorisation is secret, that part runs in constant time.
func (p *Proof) equationN0(pub Public, sk *paillier.SecretKey, e *big.Int) bool {
	n0 := pub.N0
	cz := n0.MulConstVarTime(pub.C, new(big.Int).Neg(p.Z1))
	de := n0.MulConstVarTime(pub.D, e)
	// Redundant: Verify has already refused a C or D outside Z*_{N₀²} (ErrC,
	// ErrD), so both have inverses and neither power is nil; kept so that
	// equationN0 cannot multiply a nil if it is ever called on its own.
	if cz == nil || de == nil {
		return false
	}
	u := n0.Add(n0.Add(p.A, de), cz)
	m, err := sk.Decrypt(u)
	// Redundant: Decrypt refuses only a u outside Z*_{N₀²}, and u is a
	// product mod N₀² of A, D^e and C^−z₁, units since Verify refused
	// anything else (ErrA, ErrD, ErrC) and sk is N₀ (ErrVerifierKey).
	if err != nil {
		return false
	}
	nm := sk.Modulus()
	plaintextOK := nm.ReduceInt(m).Eq(nm.ReduceInt(arith.IntFromBig(p.Z2)))
	wN := sk.CRT().Exp(arith.NatFromBig(p.W), arith.NatFromBig(n0.N()))
	nonceOK := wN.Eq(natOf(new(big.Int).Mod(u, n0.N()), nm))
	return plaintextOK&nonceOK == 1
}

// challenge derives e ∈ ±q from the statement and the first message, in the
// order of docs/PROTOCOL.md §3.6.
func challenge(ctx *zk.Context, aux *pedersen.Params, pub Public, p *Proof) *big.Int {
	t := ctx.Transcript("aff-g").
		Nat(aux.N()).Nat(aux.S()).Nat(aux.T()).
		Nat(pub.N0.N()).Nat(pub.N1.N()).
		Nat(pub.C).Nat(pub.D).Nat(pub.Y).Point(pub.X).
		Nat(p.A).Point(p.Bx).Nat(p.By).
		Nat(p.E).Nat(p.S).Nat(p.F).Nat(p.T)
	return hash.ChalSigned(t.Reader())
}

// natOf converts x < m to a saferith number of m's size, so that the
// constant-time operations that follow do not depend on x's length.
func natOf(x *big.Int, m *arith.Modulus) *saferith.Nat {
	return new(saferith.Nat).SetBig(x, m.BitLen())
}

// Encode appends the proof. Every field must be set.
func (p *Proof) Encode(e *codec.Encoder) {
	e.Nat(p.A).Point(p.Bx).Nat(p.By).Nat(p.E).Nat(p.S).Nat(p.F).Nat(p.T)
	e.Int(p.Z1).Int(p.Z2).Int(p.Z3).Int(p.Z4).Nat(p.W).Nat(p.Wy)
}

// Decode reads a proof; it returns nil, and d holds the error, if the input
// is malformed or a field is over its size cap.
func Decode(d *codec.Decoder) *Proof {
	p := &Proof{
		A:  d.Nat(maxCtBits),
		Bx: d.Point(),
		By: d.Nat(maxCtBits),
		E:  d.Nat(maxModBits),
		S:  d.Nat(maxModBits),
		F:  d.Nat(maxModBits),
		T:  d.Nat(maxModBits),
		Z1: d.Int(z1Bits),
		Z2: d.Int(z2Bits),
		Z3: d.Int(z34Bits),
		Z4: d.Int(z34Bits),
		W:  d.Nat(maxModBits),
		Wy: d.Nat(maxModBits),
	}
	if d.Err() != nil {
		return nil
	}
	return p
}
