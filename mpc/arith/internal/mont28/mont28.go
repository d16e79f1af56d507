// Package mont28 is constant-time Montgomery arithmetic modulo an odd
// modulus on 28-bit limbs held in 64-bit words, an experiment for
// WebAssembly, which has a 64×64→64-bit multiply but no 128-bit product.
//
// A product of two 28-bit limbs is below 2^56, so a 64-bit word holds the
// sum of 256 of them without overflowing. The Montgomery
// multiplication therefore adds x_i·y_j and m_i·n_j into the accumulator's
// limbs without propagating carries from one limb to the next: a row is a
// string of independent multiply-adds, and the carries are settled in one
// pass every few dozen rows and at the end. The price is more limbs than
// with 32 bits (74 instead of 64 for 2048 bits, 147 instead of 128 for
// 4096), hence about 1.3 times the products.
//
// Nothing in the product uses it: in Chromium it measured slower than the
// 32-bit-limb kernel of mpc/arith/internal/mont, whose carry chains V8
// handles well, by more than its 1.3 times the products (BenchmarkExp here
// runs both, paired, with math/big).
//
// The modulus size (its limb count) and the announced bit length of the
// exponent are the only values that the running time and the memory
// accesses depend on: the exponentiation uses fixed windows, reads every
// entry of its table, and has no branch on a secret.
package mont28

import (
	"errors"
	mathbits "math/bits"
)

const (
	limbBits = 28
	limbMask = 1<<limbBits - 1
	// normEvery is how many rows the accumulator takes between carry
	// passes: each row adds two products below 2^56 to a limb, so after a
	// pass (limbs below 2^28) 64 rows keep every limb below 2^63 + 2^37.
	normEvery = 64
	// window is the width of the fixed windows of Exp.
	window = 4
)

var errModulus = errors.New("mont28: modulus must be odd and greater than one")

// Modulus is an odd modulus n > 1 of k limbs with its Montgomery constants,
// R = 2^(28k).
type Modulus struct {
	n     []uint64
	n0inv uint64   // −n⁻¹ mod 2^28
	rr    []uint64 // R² mod n
	one   []uint64 // R mod n
	bits  int
}

// NewModulus returns the big-endian n as a Modulus. Its running time
// depends only on the bit length of n.
func NewModulus(b []byte) (*Modulus, error) {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	if len(b) == 0 || b[len(b)-1]&1 == 0 || len(b) == 1 && b[0] == 1 {
		return nil, errModulus
	}
	bits := 8*len(b) - mathbits.LeadingZeros8(b[0])
	k := (bits + limbBits - 1) / limbBits
	m := &Modulus{n: make([]uint64, k), bits: bits}
	setBytes(m.n, b)
	m.n0inv = negInverse(m.n[0])
	m.one = make([]uint64, k)
	m.rr = make([]uint64, k)
	m.computeR()
	return m, nil
}

// Limbs returns the number of limbs k.
func (m *Modulus) Limbs() int { return len(m.n) }

// negInverse returns −x⁻¹ mod 2^28 for an odd x by Newton's iteration.
func negInverse(x uint64) uint64 {
	y := x // correct to 3 bits
	for range 4 {
		y *= 2 - x*y
	}
	return -y & limbMask
}

// computeR sets one = R mod n by doubling 2^(bits−1), and rr = R² mod n by
// doubling further up to R·2^h and then Montgomery squarings, each of which
// doubles the exponent of two; no variable-time division.
func (m *Modulus) computeR() {
	k := len(m.n)
	x := m.one
	x[(m.bits-1)/limbBits] = 1 << ((m.bits - 1) % limbBits)
	for range k*limbBits - m.bits + 1 {
		m.double(x)
	}
	h, s := k*limbBits, 0
	for h%2 == 0 {
		h, s = h/2, s+1
	}
	copy(m.rr, x)
	for range h {
		m.double(m.rr)
	}
	t := make([]uint64, k+1)
	for range s {
		m.montMul(t, m.rr, m.rr)
		copy(m.rr, t)
	}
}

// double sets x = 2x mod n for x < n.
func (m *Modulus) double(x []uint64) {
	var c uint64
	for i := range x {
		v := x[i]<<1 | c
		x[i], c = v&limbMask, v>>limbBits
	}
	condSub(x, m.n, c)
}

// condSub subtracts n from (top, x), which must be below 2n, when that
// value is at least n; x is normalised. No branch on the values.
func condSub(x, n []uint64, top uint64) {
	n = n[:len(x)]
	var b uint64
	for i := range x {
		b = (x[i] - n[i] - b) >> 63
	}
	mask := -(top | (b ^ 1))
	b = 0
	for i := range x {
		d := x[i] - n[i]&mask - b
		x[i], b = d&limbMask, d>>63
	}
}

// normalise propagates the carries of t so that every limb but the last is
// below 2^28; the last keeps what is above.
func normalise(t []uint64) {
	var c uint64
	last := len(t) - 1
	for i := range last {
		v := t[i] + c
		t[i], c = v&limbMask, v>>limbBits
	}
	t[last] += c
}

// montMul sets t[:k] = x·y·R⁻¹ mod n for normalised x, y with x·y < R·n
// (one below n, the other below R), normalised and below n; t has k+1
// limbs, the last one a scratch limb for the accumulator's top bit, and
// must not alias x or y. It is the CIOS method with deferred carries: each
// row adds x_i·y + m_i·n, whose lowest limb is then a multiple of 2^28, and
// shifts down by one limb, carrying only out of that lowest limb. The
// accumulator stays below y + n < 2R between rows.
//
// Rows are taken four at a time: the m of each row depends only on the
// lowest limbs after the rows before it, so those few limbs are worked out
// first and then one sweep adds all eight products to each limb, a quarter
// of the loads and stores of t that single rows would take.
func (m *Modulus) montMul(t, x, y []uint64) {
	k := len(m.n)
	t = t[:k+1]
	x, y = x[:k], y[:k]
	clear(t)
	rows, i := 0, 0
	for ; i+4 <= k; i += 4 {
		m.rows4(t, x[i:i+4], y)
		if rows += 4; rows >= normEvery {
			normalise(t)
			rows = 0
		}
	}
	// What is left of k mod 4: two rows, then one.
	for ; i+2 <= k; i += 2 {
		m.rows2(t, x[i], x[i+1], y)
		if rows += 2; rows >= normEvery {
			normalise(t)
			rows = 0
		}
	}
	for ; i < k; i++ {
		m.row1(t, x[i], y)
	}
	normalise(t)
	condSub(t[:k], m.n, t[k])
}

// rows2 is two rows of montMul, k ≥ 2; see rows4.
func (m *Modulus) rows2(t []uint64, xa, xb uint64, y []uint64) {
	n := m.n
	k := len(n)
	n0inv := m.n0inv
	v := t[0] + xa*y[0]
	ma := (v * n0inv) & limbMask
	ca := (v + ma*n[0]) >> limbBits
	w := t[1] + xa*y[1] + ma*n[1] + ca + xb*y[0]
	mb := (w * n0inv) & limbMask
	cb := (w + mb*n[0]) >> limbBits
	src := t[2:k]
	dst := t[:len(src)]
	y2, n2 := y[2:k], n[2:k]
	y2, n2 = y2[:len(src)], n2[:len(src)]
	yp, np := y[1], n[1]
	for j := range src {
		ya, na := y2[j], n2[j]
		dst[j] = src[j] + xa*ya + ma*na + xb*yp + mb*np
		yp, np = ya, na
	}
	t[k-2] = t[k] + xb*y[k-1] + mb*n[k-1]
	t[k-1], t[k] = 0, 0
	t[0] += cb
}

// row1 adds x_i·y + m_i·n to t and shifts it down by one limb.
func (m *Modulus) row1(t []uint64, xa uint64, y []uint64) {
	n := m.n
	k := len(n)
	v := t[0] + xa*y[0]
	ma := (v * m.n0inv) & limbMask
	c := (v + ma*n[0]) >> limbBits
	for j := 1; j < k; j++ {
		t[j-1] = t[j] + xa*y[j] + ma*n[j]
	}
	t[k-1], t[k] = t[k], 0
	t[0] += c
}

// rows4 is four rows of montMul for x[0:4], k ≥ 4.
func (m *Modulus) rows4(t, x, y []uint64) {
	n := m.n
	k := len(n)
	n0inv := m.n0inv
	xa, xb, xc, xd := x[0], x[1], x[2], x[3]
	_, _ = y[3], n[3]
	// The lowest limbs after each row, which fix the next row's m, and
	// the carry out of the limb each row drops.
	v := t[0] + xa*y[0]
	ma := (v * n0inv) & limbMask
	c := (v + ma*n[0]) >> limbBits
	a0 := t[1] + xa*y[1] + ma*n[1] + c // limb 0 after row a
	a1 := t[2] + xa*y[2] + ma*n[2]
	a2 := t[3] + xa*y[3] + ma*n[3]
	v = a0 + xb*y[0]
	mb := (v * n0inv) & limbMask
	c = (v + mb*n[0]) >> limbBits
	b0 := a1 + xb*y[1] + mb*n[1] + c // limb 0 after row b
	b1 := a2 + xb*y[2] + mb*n[2]
	v = b0 + xc*y[0]
	mc := (v * n0inv) & limbMask
	c = (v + mc*n[0]) >> limbBits
	c0 := b1 + xc*y[1] + mc*n[1] + c // limb 0 after row c
	v = c0 + xd*y[0]
	md := (v * n0inv) & limbMask
	c = (v + md*n[0]) >> limbBits
	// After the four rows, limb j (j ≤ k−5) is t[j+4] plus row a's products
	// at j+4, row b's at j+3, row c's at j+2 and row d's at j+1; the
	// operands of rows b, c, d are those of row a one, two and three limbs
	// before, kept rather than loaded again.
	src := t[4:k]
	dst := t[:len(src)]
	y4, n4 := y[4:k], n[4:k]
	y4, n4 = y4[:len(src)], n4[:len(src)]
	y3, y2, y1 := y[3], y[2], y[1]
	n3, n2, n1 := n[3], n[2], n[1]
	for j := range src {
		ya, na := y4[j], n4[j]
		dst[j] = src[j] + xa*ya + ma*na + xb*y3 + mb*n3 + xc*y2 + mc*n2 + xd*y1 + md*n1
		y1, y2, y3 = y2, y3, ya
		n1, n2, n3 = n2, n3, na
	}
	// The top limbs: the old top limb and the products that reach past
	// row a's last limb; above them nothing.
	t[k-4] = t[k] + xb*y3 + mb*n3 + xc*y2 + mc*n2 + xd*y1 + md*n1
	t[k-3] = xc*y3 + mc*n3 + xd*y2 + md*n2
	t[k-2] = xd*y3 + md*n3
	t[k-1], t[k] = 0, 0
	t[0] += c
}
