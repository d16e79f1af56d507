// Package mont is constant-time Montgomery arithmetic modulo an odd
// modulus, on fixed-length little-endian slices of limbs. The modulus size
// (its limb count) and the announced bit lengths of exponents are the only
// values that the running time and the memory accesses depend on.
package mont

import (
	"errors"
	mathbits "math/bits"
)

var errModulus = errors.New("mont: modulus must be odd and greater than one")

// Modulus is an odd modulus n > 1 of k limbs with its Montgomery constants,
// R = 2^(k·W).
type Modulus struct {
	n     []Word
	n0inv Word   // −n⁻¹ mod 2^W
	rr    []Word // R² mod n
	one   []Word // R mod n, the Montgomery form of 1
	bits  int
}

// NewModulus returns the big-endian n as a Modulus. Its running time
// depends only on the bit length of n (and on whether n is odd and greater
// than one); n itself may be secret, as a prime factor is.
func NewModulus(b []byte) (*Modulus, error) {
	// The bit length of a modulus is public.
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	if len(b) == 0 || b[len(b)-1]&1 == 0 || len(b) == 1 && b[0] == 1 {
		return nil, errModulus
	}
	bits := 8*len(b) - mathbits.LeadingZeros8(b[0])
	n := make([]Word, (bits+wordBits-1)/wordBits)
	SetBytes(n, b)
	m := &Modulus{n: n, n0inv: negInverse(n[0]), bits: bits}
	m.one = make([]Word, len(n))
	m.rr = make([]Word, len(n))
	m.computeR()
	return m, nil
}

// negInverse returns −x⁻¹ mod 2^W for an odd x by Newton's iteration, each
// step doubling the number of correct low bits.
func negInverse(x Word) Word {
	y := x // correct to 3 bits, as x·x ≡ 1 mod 8
	for range 5 {
		y *= 2 - x*y
	}
	return -y
}

// computeR sets one = R mod n and rr = R² mod n without variable-time
// division: R mod n by doubling 2^(bits−1) up to R, then R² by Montgomery
// squarings of R·2^h, each of which doubles the power of two.
func (m *Modulus) computeR() {
	k := len(m.n)
	x := m.one
	clear(x)
	// 2^(bits−1) < n, so it is already reduced.
	x[(m.bits-1)/wordBits] = 1 << ((m.bits - 1) % wordBits)
	for range k*wordBits - m.bits + 1 {
		m.double(x)
	}
	// k·W = h·2^s with h odd.
	h, s := k*wordBits, 0
	for h%2 == 0 {
		h, s = h/2, s+1
	}
	copy(m.rr, x)
	for range h {
		m.double(m.rr)
	}
	t := make([]Word, k)
	for range s {
		montMul(t, m.rr, m.rr, m.n, m.n0inv)
		copy(m.rr, t)
	}
}

// double sets x = 2x mod n for x < n.
func (m *Modulus) double(x []Word) {
	var c Word
	for i := range x {
		x[i], c = x[i]<<1|c, x[i]>>(wordBits-1)
	}
	finalSub(x, m.n, c)
}

// Limbs returns the number of limbs k of the modulus.
func (m *Modulus) Limbs() int { return len(m.n) }

// BitLen returns the bit length of the modulus.
func (m *Modulus) BitLen() int { return m.bits }

// SetBytes sets the limbs of z to the big-endian b, whose length must fit
// in z (leading zero bytes count).
func SetBytes(z []Word, b []byte) {
	clear(z)
	for i := range b {
		j := len(b) - 1 - i
		z[i/(wordBits/8)] |= Word(b[j]) << (8 * (i % (wordBits / 8)))
	}
}

// FillBytes writes x big-endian into all of b, which must hold it.
func FillBytes(b []byte, x []Word) {
	for i := range b {
		j := len(b) - 1 - i
		if w := i / (wordBits / 8); w < len(x) {
			b[j] = byte(x[w] >> (8 * (i % (wordBits / 8))))
		} else {
			b[j] = 0
		}
	}
}

// Select sets z = x if c is 1 and leaves z unchanged if c is 0, without a
// branch on c.
func Select(z, x []Word, c Word) {
	mask := -c
	x = x[:len(z)]
	for i := range z {
		z[i] ^= (z[i] ^ x[i]) & mask
	}
}
