package safeprime

import (
	"math/big"
	"math/bits"
)

// An eulerTest runs the base-2 Euler test, 2^((n−1)/2) ≡ (2|n) mod n, which
// every odd prime n passes and almost every composite fails. It is the filter
// between the sieve and the full primality test: a sieve survivor is almost
// always composite, so this test runs hundreds of times per safe prime and its
// speed is the speed of Generate.
//
// The exponentiation is specialised to base 2: a Montgomery squaring for each
// exponent bit, and for each set bit a doubling (a shift and at most one
// subtraction) in place of a general multiplication. It runs in variable time
// and, once its buffers have grown, allocates nothing.
//
// Limbs are 64 bits on every target. In WebAssembly, which has no 64×64→128
// multiplication, bits.Mul64 costs four 64-bit multiplications, yet 64-bit
// limbs still beat 32-bit ones (and math/big) there, because the loop
// overhead per limb, not the multiplication, dominates Go's WebAssembly code.
type eulerTest struct {
	buf     []byte
	m, y, r []uint64 // modulus, accumulator, R mod m (the Montgomery form of 1)
	t       []uint64 // double-width square
}

// passes reports whether the odd n > 1 passes the base-2 Euler test.
func (e *eulerTest) passes(n *big.Int) bool {
	size := (n.BitLen() + 63) / 64
	e.load(n, size)
	m, y, r := e.m, e.y, e.r
	k0 := -inverse64(m[0])

	// r = R mod m for R = 2^(64·size), reached by doubling the highest power
	// of two below m, so that no division is needed.
	clear(r)
	top := n.BitLen() - 1
	r[top/64] = 1 << (top % 64)
	for range 64*size - top {
		double(r, m)
	}

	// The exponent (n−1)/2 is n's bits above bit 0. Its leading 1 starts y
	// at 2 in Montgomery form; each following bit squares, and a 1 doubles.
	copy(y, r)
	double(y, m)
	for i := top - 1; i >= 1; i-- {
		montSqr(y, m, e.t, k0)
		if n.Bit(i) == 1 {
			double(y, m)
		}
	}

	// (2|n) is +1 for n ≡ ±1 mod 8 and −1 for n ≡ ±3 mod 8.
	if low := n.Bits()[0] & 7; low == 1 || low == 7 {
		return equal(y, r)
	}
	// y must be −1, that is m − (R mod m). m is not needed any more.
	sub(m, r)
	return equal(y, m)
}

func (e *eulerTest) load(n *big.Int, size int) {
	if cap(e.m) < size {
		e.buf = make([]byte, 8*size)
		e.m = make([]uint64, size)
		e.y = make([]uint64, size)
		e.r = make([]uint64, size)
		e.t = make([]uint64, 2*size)
	}
	e.buf = e.buf[:8*size]
	e.m, e.y, e.r, e.t = e.m[:size], e.y[:size], e.r[:size], e.t[:2*size]
	// Bytes rather than n.Bits, whose words are 32 bits on some targets.
	n.FillBytes(e.buf)
	for i := range size {
		off := len(e.buf) - 8*(i+1)
		b := e.buf[off : off+8]
		e.m[i] = uint64(b[7]) | uint64(b[6])<<8 | uint64(b[5])<<16 | uint64(b[4])<<24 |
			uint64(b[3])<<32 | uint64(b[2])<<40 | uint64(b[1])<<48 | uint64(b[0])<<56
	}
}

// inverse64 returns x⁻¹ mod 2⁶⁴ for odd x by Newton's iteration, which
// doubles the number of correct low bits at each step, starting from the 3
// bits that x·x ≡ 1 mod 8 gives.
func inverse64(x uint64) uint64 {
	inv := x
	for range 5 {
		inv *= 2 - x*inv
	}
	return inv
}

// montSqr sets y = y²·R⁻¹ mod m, for y < m and R = 2^(64·len(m)), using t
// (2·len(m) limbs) as scratch. k0 is −m⁻¹ mod 2⁶⁴.
func montSqr(y, m, t []uint64, k0 uint64) {
	n := len(m)
	y = y[:n]
	t = t[:2*n]
	clear(t)

	// The products y[i]·y[j] with i < j, each counted once.
	for i := 0; i < n-1; i++ {
		t[i+n] = addMul(t[2*i+1:i+n], y[i+1:], y[i])
	}

	// Twice those, plus the squares y[i]².
	var shift, c uint64
	for i := range n {
		t0, t1 := t[2*i], t[2*i+1]
		d0 := t0<<1 | shift
		d1 := t1<<1 | t0>>63
		shift = t1 >> 63
		hi, lo := bits.Mul64(y[i], y[i])
		t[2*i], c = bits.Add64(d0, lo, c)
		t[2*i+1], c = bits.Add64(d1, hi, c)
	}

	// Montgomery reduction: add the multiples of m that clear the low n
	// limbs, one limb at a time.
	var carry uint64
	for i := range n {
		c := addMul(t[i:i+n], m, t[i]*k0)
		s, c1 := bits.Add64(t[i+n], c, 0)
		s, c2 := bits.Add64(s, carry, 0)
		t[i+n] = s
		carry = c1 + c2
	}
	copy(y, t[n:])
	// The result is below 2m, so one subtraction reduces it.
	if carry != 0 || !less(y, m) {
		sub(y, m)
	}
}

// addMul sets z += x·y over len(x) limbs and returns the carry out. The
// loop is unrolled by four: Go's WebAssembly code pays heavily per loop
// iteration.
func addMul(z, x []uint64, y uint64) (c uint64) {
	z = z[:len(x)]
	i := 0
	for ; i+4 <= len(x); i += 4 {
		xs := x[i : i+4 : i+4]
		zs := z[i : i+4 : i+4]
		var cc uint64
		h0, l0 := bits.Mul64(xs[0], y)
		h1, l1 := bits.Mul64(xs[1], y)
		h2, l2 := bits.Mul64(xs[2], y)
		h3, l3 := bits.Mul64(xs[3], y)
		l0, cc = bits.Add64(l0, zs[0], 0)
		h0 += cc
		l0, cc = bits.Add64(l0, c, 0)
		h0 += cc
		l1, cc = bits.Add64(l1, zs[1], 0)
		h1 += cc
		l1, cc = bits.Add64(l1, h0, 0)
		h1 += cc
		l2, cc = bits.Add64(l2, zs[2], 0)
		h2 += cc
		l2, cc = bits.Add64(l2, h1, 0)
		h2 += cc
		l3, cc = bits.Add64(l3, zs[3], 0)
		h3 += cc
		l3, cc = bits.Add64(l3, h2, 0)
		h3 += cc
		zs[0], zs[1], zs[2], zs[3] = l0, l1, l2, l3
		c = h3
	}
	for ; i < len(x); i++ {
		hi, lo := bits.Mul64(x[i], y)
		var cc uint64
		lo, cc = bits.Add64(lo, z[i], 0)
		hi += cc
		lo, cc = bits.Add64(lo, c, 0)
		hi += cc
		z[i] = lo
		c = hi
	}
	return c
}

// double sets y = 2y mod m for y < m.
func double(y, m []uint64) {
	var c uint64
	for i := range y {
		y[i], c = y[i]<<1|c, y[i]>>63
	}
	if c != 0 || !less(y, m) {
		sub(y, m)
	}
}

// less reports whether x < y, both of the same length.
func less(x, y []uint64) bool {
	for i := len(x) - 1; i >= 0; i-- {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return false
}

// sub sets x = x − y mod 2^(64·len(x)).
func sub(x, y []uint64) {
	var b uint64
	for i := range x {
		x[i], b = bits.Sub64(x[i], y[i], b)
	}
}

func equal(x, y []uint64) bool {
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}
