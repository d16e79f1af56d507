//go:build !wasm

package safeprime

// Elsewhere math/big has assembly, and its Exp is about 10% faster than the
// portable Montgomery squaring; remainders use the hardware division.
const useMontgomery = false

func residues(x64 []uint64, _ []uint32, primes, out []uint32) {
	residuesDiv(x64, primes, out)
}
