//go:build wasm || 386 || arm

package mont

// Word is a limb. WebAssembly and 32-bit targets have a 32×32→64-bit
// multiply but no 64×64→128-bit one (bits.Mul64 is emulated there with four
// multiplies and a carry dance), so limbs are 32 bits and every product with
// its carries fits in a uint64.
type Word = uint32

const wordBits = 32

// WordBits is the width of a limb in bits.
const WordBits = wordBits

// expWindow is the width in bits of the fixed windows of Exp and Exp2: each
// window costs expWindow squarings, one multiplication and one scan of a
// table of 2^expWindow entries. In WebAssembly 4 measured about 5% faster
// than 5, the longer table scans costing more than the saved products.
const expWindow = 4

// montMul sets t = x·y·R⁻¹ mod n, for x, y < 2^(k·W) with at least one of
// them below n (then the result is fully reduced). t must not alias x or y;
// all slices have the length k of n. It is the coarsely integrated operand
// scanning method (CIOS): each row adds x[i]·y and a multiple of n that
// clears the lowest word, and shifts one word down. With 32-bit limbs
// a·b + c + d < 2^64 for words a, b, c, d, so carries need no flags.
//
// Rows are taken two at a time: one pass over the limbs adds x[i]·y,
// m_i·n, x[i+1]·y and m_(i+1)·n through four carry chains. A pass is bound
// by the latency of its carries from one limb to the next more than by the
// multiplies, so doing twice the work per limb is almost free (and halves
// the loads and stores of t).
func montMul(t, x, y, n []Word, n0inv Word) {
	k := len(n)
	if k%2 != 0 {
		montMul1(t, x, y, n, n0inv)
		return
	}
	t, x, y = t[:k], x[:k], y[:k]
	clear(t)
	var top uint64
	for i := 0; i < k; i += 2 {
		xa, xb := uint64(x[i]), uint64(x[i+1])
		p := xa*uint64(y[0]) + uint64(t[0])
		ma := uint64(uint32(p) * n0inv)
		q := ma*uint64(n[0]) + uint64(uint32(p))
		ca1, ca2 := p>>32, q>>32
		p = xa*uint64(y[1]) + uint64(t[1]) + ca1
		q = ma*uint64(n[1]) + uint64(uint32(p)) + ca2
		ca1, ca2 = p>>32, q>>32
		r := xb*uint64(y[0]) + uint64(uint32(q))
		mb := uint64(uint32(r) * n0inv)
		s := mb*uint64(n[0]) + uint64(uint32(r))
		cb1, cb2 := r>>32, s>>32
		yp, np := uint64(y[1]), uint64(n[1])
		j := 2
		for ; j+4 <= k; j += 4 {
			yy, nn, tt := y[j:j+4:j+4], n[j:j+4:j+4], t[j-2:j+4:j+4]
			p = xa*uint64(yy[0]) + uint64(tt[2]) + ca1
			q = ma*uint64(nn[0]) + uint64(uint32(p)) + ca2
			r = xb*yp + uint64(uint32(q)) + cb1
			s = mb*np + uint64(uint32(r)) + cb2
			tt[0] = uint32(s)
			p = xa*uint64(yy[1]) + uint64(tt[3]) + p>>32
			q = ma*uint64(nn[1]) + uint64(uint32(p)) + q>>32
			r = xb*uint64(yy[0]) + uint64(uint32(q)) + r>>32
			s = mb*uint64(nn[0]) + uint64(uint32(r)) + s>>32
			tt[1] = uint32(s)
			p = xa*uint64(yy[2]) + uint64(tt[4]) + p>>32
			q = ma*uint64(nn[2]) + uint64(uint32(p)) + q>>32
			r = xb*uint64(yy[1]) + uint64(uint32(q)) + r>>32
			s = mb*uint64(nn[1]) + uint64(uint32(r)) + s>>32
			tt[2] = uint32(s)
			p = xa*uint64(yy[3]) + uint64(tt[5]) + p>>32
			q = ma*uint64(nn[3]) + uint64(uint32(p)) + q>>32
			r = xb*uint64(yy[2]) + uint64(uint32(q)) + r>>32
			s = mb*uint64(nn[2]) + uint64(uint32(r)) + s>>32
			tt[3] = uint32(s)
			ca1, ca2, cb1, cb2 = p>>32, q>>32, r>>32, s>>32
			yp, np = uint64(yy[3]), uint64(nn[3])
		}
		for ; j < k; j++ {
			p = xa*uint64(y[j]) + uint64(t[j]) + ca1
			q = ma*uint64(n[j]) + uint64(uint32(p)) + ca2
			r = xb*yp + uint64(uint32(q)) + cb1
			s = mb*np + uint64(uint32(r)) + cb2
			t[j-2] = uint32(s)
			ca1, ca2, cb1, cb2 = p>>32, q>>32, r>>32, s>>32
			yp, np = uint64(y[j]), uint64(n[j])
		}
		a := top + ca1 + ca2
		r = xb*yp + a&0xffffffff + cb1
		s = mb*np + uint64(uint32(r)) + cb2
		t[k-2] = uint32(s)
		b := a>>32 + r>>32 + s>>32
		t[k-1] = uint32(b)
		top = b >> 32
	}
	finalSub(t, n, uint32(top))
}

// montMul1 is montMul one row at a time, for an odd number of limbs.
func montMul1(t, x, y, n []Word, n0inv Word) {
	k := len(n)
	t, x, y = t[:k], x[:k], y[:k]
	clear(t)
	var top uint64
	for i := range k {
		xi := uint64(x[i])
		p := xi*uint64(y[0]) + uint64(t[0])
		m := uint64(uint32(p) * n0inv)
		q := m*uint64(n[0]) + uint64(uint32(p))
		c1, c2 := p>>32, q>>32
		j := 1
		for ; j+8 <= k; j += 8 {
			yy, nn, tt := y[j:j+8:j+8], n[j:j+8:j+8], t[j-1:j+8:j+8]
			p = xi*uint64(yy[0]) + uint64(tt[1]) + c1
			q = m*uint64(nn[0]) + uint64(uint32(p)) + c2
			tt[0] = uint32(q)
			p = xi*uint64(yy[1]) + uint64(tt[2]) + p>>32
			q = m*uint64(nn[1]) + uint64(uint32(p)) + q>>32
			tt[1] = uint32(q)
			p = xi*uint64(yy[2]) + uint64(tt[3]) + p>>32
			q = m*uint64(nn[2]) + uint64(uint32(p)) + q>>32
			tt[2] = uint32(q)
			p = xi*uint64(yy[3]) + uint64(tt[4]) + p>>32
			q = m*uint64(nn[3]) + uint64(uint32(p)) + q>>32
			tt[3] = uint32(q)
			p = xi*uint64(yy[4]) + uint64(tt[5]) + p>>32
			q = m*uint64(nn[4]) + uint64(uint32(p)) + q>>32
			tt[4] = uint32(q)
			p = xi*uint64(yy[5]) + uint64(tt[6]) + p>>32
			q = m*uint64(nn[5]) + uint64(uint32(p)) + q>>32
			tt[5] = uint32(q)
			p = xi*uint64(yy[6]) + uint64(tt[7]) + p>>32
			q = m*uint64(nn[6]) + uint64(uint32(p)) + q>>32
			tt[6] = uint32(q)
			p = xi*uint64(yy[7]) + uint64(tt[8]) + p>>32
			q = m*uint64(nn[7]) + uint64(uint32(p)) + q>>32
			tt[7] = uint32(q)
			c1, c2 = p>>32, q>>32
		}
		for ; j < k; j++ {
			p = xi*uint64(y[j]) + uint64(t[j]) + c1
			q = m*uint64(n[j]) + uint64(uint32(p)) + c2
			c1, c2 = p>>32, q>>32
			t[j-1] = uint32(q)
		}
		s := c1 + c2 + top
		t[k-1] = uint32(s)
		top = s >> 32
	}
	finalSub(t, n, uint32(top))
}

// finalSub subtracts n from (top, t) when that value is at least n, in
// constant time. (top, t) must be below 2n.
func finalSub(t, n []Word, top Word) {
	n = n[:len(t)]
	var b uint64
	for j := range t {
		b = (uint64(t[j]) - uint64(n[j]) - b) >> 63
	}
	// Subtract when there is a top word or the subtraction did not borrow.
	mask := -uint64(uint32(top) | uint32(b^1))
	b = 0
	for j := range t {
		d := uint64(t[j]) - uint64(n[j])&mask - b
		t[j] = uint32(d)
		b = d >> 63
	}
}

// subVV sets z = x − y and returns the borrow, 0 or 1.
func subVV(z, x, y []Word) Word {
	x, y = x[:len(z)], y[:len(z)]
	var b uint64
	for i := range z {
		d := uint64(x[i]) - uint64(y[i]) - b
		z[i] = uint32(d)
		b = d >> 63
	}
	return Word(b)
}

// addVVMasked adds y&mask to z, dropping the carry.
func addVVMasked(z, y []Word, mask Word) {
	y = y[:len(z)]
	var c uint64
	for i := range z {
		s := uint64(z[i]) + uint64(y[i]&mask) + c
		z[i] = uint32(s)
		c = s >> 32
	}
}

// mulAddVWW sets z = z + x·y + c and returns the carry word.
func mulAddVWW(z, x []Word, y, c Word) Word {
	x = x[:len(z)]
	cc := uint64(c)
	for i := range z {
		p := uint64(x[i])*uint64(y) + uint64(z[i]) + cc
		z[i] = uint32(p)
		cc = p >> 32
	}
	return Word(cc)
}
