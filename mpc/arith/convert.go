package arith

import (
	"github.com/cronokirby/saferith"

	"github.com/duetwallet/duet/mpc/arith/internal/mont"
)

// words returns x as the limbs of m's Montgomery modulus. An x whose
// announced length exceeds the limbs is reduced modulo m first (in constant
// time, by saferith); a shorter one may still be above m, which the
// Montgomery operations accept.
func (m *Modulus) words(x *saferith.Nat) []mont.Word {
	k := m.mont.Limbs()
	if x.AnnouncedLen() > k*mont.WordBits {
		x = new(saferith.Nat).Mod(x, m.ct)
	}
	z := make([]mont.Word, k)
	mont.SetBytes(z, x.Bytes())
	return z
}

// nat returns the reduced z as a saferith number announced with the bit
// length of m, as saferith's own modular operations return.
func (m *Modulus) nat(z []mont.Word) *saferith.Nat {
	buf := make([]byte, (m.BitLen()+7)/8)
	mont.FillBytes(buf, z)
	x := new(saferith.Nat).SetBytes(buf).Resize(m.BitLen())
	clear(buf)
	return x
}

// expWords returns the limbs of an exponent and its announced length, the
// only thing about it that the exponentiations leak.
func expWords(e *saferith.Nat) ([]mont.Word, int) {
	b := e.Bytes()
	z := make([]mont.Word, (8*len(b)+mont.WordBits-1)/mont.WordBits)
	mont.SetBytes(z, b)
	clear(b)
	return z, e.AnnouncedLen()
}
