// Package zk holds what the zero-knowledge proofs of the protocol share: the
// parameters of the paper for |q| = 256, the context that binds every
// Fiat–Shamir challenge to its session and parties, and range checks. Each
// proof lives in its own subpackage with its statement (Public), witness
// (Private), Proof, Prove and Verify, in the paper's notation.
package zk

import (
	"math/big"

	"github.com/cronokirby/saferith"

	"github.com/duetwallet/duet/mpc/hash"
)

// Parameters of [CGGMP21] for secp256k1 (docs/PROTOCOL.md §1.2).
const (
	L       = 256  // ℓ: honest secrets lie in I = ±2^ℓ
	LPrime  = 1280 // ℓ′: MtA masks lie in J = ±2^ℓ′
	Epsilon = 512  // ε: proofs only guarantee I_ε = ±2^(ℓ+ε), J_ε = ±2^(ℓ′+ε)
	// Repetitions of Πmod and Πprm. Fiat–Shamir lets a prover grind, so this
	// is also the attack cost in bits; it is never configurable below 80
	// (the TSSHOCK c-guess attack cut such a count to 1).
	Repetitions = 80
)

// Context binds a proof to one session and one ordered pair of parties: the
// challenge of a proof made in one session, by one party, for one verifier,
// is useless anywhere else.
type Context struct {
	SessionID []byte // sid, ssid or psid of the protocol run
	Prover    []byte // the prover's party id
	Verifier  []byte // the verifier's party id; empty for proofs to all
	Rand      []byte // joint randomness (rid or ρ) when the round has it
}

// Transcript starts the Fiat–Shamir transcript of a proof with the given
// label: label, session id, prover id, verifier id, joint randomness and the
// parameter set, in that order. The proof then absorbs its public inputs and
// first messages.
func (c *Context) Transcript(label string) *hash.Transcript {
	return hash.New(label).
		Bytes(c.SessionID).Bytes(c.Prover).Bytes(c.Verifier).Bytes(c.Rand).
		Uint(L).Uint(LPrime).Uint(Epsilon).Uint(Repetitions).String("secp256k1")
}

// InRange reports whether |z| ≤ 2^bits.
func InRange(z *big.Int, bits int) bool {
	a := new(big.Int).Abs(z)
	bound := new(big.Int).Lsh(big.NewInt(1), uint(bits))
	return a.Cmp(bound) <= 0
}

// InRangeSecret reports whether |x| ≤ 2^bits for a secret x, in constant
// time: a prover checks its witness with it before proving.
func InRangeSecret(x *saferith.Int, bits int) bool {
	bound := new(saferith.Nat).Lsh(new(saferith.Nat).SetUint64(1), uint(bits), bits+1)
	gt, _, _ := x.Abs().Cmp(bound)
	return gt == 0
}

// InRangeScaled reports whether |z| ≤ 2^bits·m.
func InRangeScaled(z *big.Int, bits int, m *big.Int) bool {
	a := new(big.Int).Abs(z)
	bound := new(big.Int).Lsh(m, uint(bits))
	return a.Cmp(bound) <= 0
}
