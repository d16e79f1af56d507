package mont

// window returns the w bits of e starting at bit pos, zero past the end.
// Only the public pos and w decide which limbs are read.
func window(e []Word, pos, w int) Word {
	i, s := pos/wordBits, pos%wordBits
	if i >= len(e) {
		return 0
	}
	v := e[i] >> s
	if s+w > wordBits && i+1 < len(e) {
		v |= e[i+1] << (wordBits - s)
	}
	return v & (1<<w - 1)
}

// eqMask returns all ones if a == b and zero otherwise, for a, b < 2^(W−1),
// without a branch.
func eqMask(a, b Word) Word {
	return -(((a ^ b) - 1) >> (wordBits - 1))
}

// lookup sets z to entry idx of a table of len(z)-limb entries, reading
// every entry so that the memory accesses do not depend on idx.
func lookup(z, table []Word, idx Word) {
	k := len(z)
	clear(z)
	for i := 0; i*k < len(table); i++ {
		orMasked(z, table[i*k:i*k+k], eqMask(Word(i), idx))
	}
}

// orMasked sets z |= x & mask. It is the inner loop of every table lookup,
// hence unrolled.
func orMasked(z, x []Word, mask Word) {
	x = x[:len(z)]
	i := 0
	for ; i+8 <= len(z); i += 8 {
		zz, xx := z[i:i+8:i+8], x[i:i+8:i+8]
		zz[0] |= xx[0] & mask
		zz[1] |= xx[1] & mask
		zz[2] |= xx[2] & mask
		zz[3] |= xx[3] & mask
		zz[4] |= xx[4] & mask
		zz[5] |= xx[5] & mask
		zz[6] |= xx[6] & mask
		zz[7] |= xx[7] & mask
	}
	for ; i < len(z); i++ {
		z[i] |= x[i] & mask
	}
}

// scratch holds the temporaries of one exponentiation.
type scratch struct {
	acc, t, u []Word
}

func (m *Modulus) newScratch() *scratch {
	k := len(m.n)
	b := make([]Word, 3*k)
	return &scratch{acc: b[:k:k], t: b[k : 2*k : 2*k], u: b[2*k:]}
}

// mul sets s.acc = s.acc·y·R⁻¹.
func (m *Modulus) mul(s *scratch, y []Word) {
	montMul(s.t, s.acc, y, m.n, m.n0inv)
	s.acc, s.t = s.t, s.acc
}

// sqr sets s.acc = s.acc²·R⁻¹. Dedicated squarings that compute each cross
// product once (a full square then a separate reduction, or a CIOS pass
// over a doubled operand) measured no faster than montMul in WebAssembly,
// where the carry latency per limb rather than the number of products sets
// the pace, and would need their own assembly on amd64.
func (m *Modulus) sqr(s *scratch) {
	montMul(s.t, s.acc, s.acc, m.n, m.n0inv)
	s.acc, s.t = s.t, s.acc
}

// toMont sets z = x·R mod n for any x < R. z must not alias x.
func (m *Modulus) toMont(z, x []Word) { montMul(z, x, m.rr, m.n, m.n0inv) }

// fromMont sets z = x·R⁻¹ mod n. z must not alias x.
func (m *Modulus) fromMont(z, x []Word) {
	one := make([]Word, len(m.n))
	one[0] = 1
	montMul(z, x, one, m.n, m.n0inv)
}

// powerTable returns x^0 … x^(2^w − 1) in Montgomery form, for xm = x·R,
// in one slice of 2^w entries of k limbs.
func (m *Modulus) powerTable(xm []Word, w int) []Word {
	k := len(m.n)
	table := make([]Word, k<<w)
	copy(table, m.one)
	copy(table[k:], xm)
	for i := 2; i < 1<<w; i++ {
		montMul(table[i*k:(i+1)*k], table[(i-1)*k:i*k], xm, m.n, m.n0inv)
	}
	return table
}

// Exp sets z = x^e mod n for any x < R and an exponent e, little endian with
// an announced length of ebits bits. The running time and the memory
// accesses depend only on k and ebits. z may alias x.
func (m *Modulus) Exp(z, x, e []Word, ebits int) {
	m.Exp2(z, x, e, ebits, nil, nil, 0)
}

// Exp2 sets z = x^a · y^b mod n for any x, y < R and exponents a, b, little
// endian with announced lengths abits and bbits, sharing the squarings of
// the two exponentiations (interleaved fixed windows). The running time and
// the memory accesses depend only on k, abits and bbits. z may alias x or y.
func (m *Modulus) Exp2(z, x, a []Word, abits int, y, b []Word, bbits int) {
	k := len(m.n)
	s := m.newScratch()
	na := (abits + expWindow - 1) / expWindow
	nb := (bbits + expWindow - 1) / expWindow
	var tx, ty []Word
	if na > 0 {
		m.toMont(s.u, x)
		tx = m.powerTable(s.u, expWindow)
	}
	if nb > 0 {
		m.toMont(s.u, y)
		ty = m.powerTable(s.u, expWindow)
	}
	copy(s.acc, m.one)
	for i := max(na, nb) - 1; i >= 0; i-- {
		if i != max(na, nb)-1 {
			for range expWindow {
				m.sqr(s)
			}
		}
		if i < na {
			lookup(s.u, tx, window(a, i*expWindow, expWindow))
			m.mul(s, s.u)
		}
		if i < nb {
			lookup(s.u, ty, window(b, i*expWindow, expWindow))
			m.mul(s, s.u)
		}
	}
	m.fromMont(s.t, s.acc)
	copy(z[:k], s.t)
}

// Mul sets z = x·y mod n for any x, y < R. z may alias x or y.
func (m *Modulus) Mul(z, x, y []Word) {
	k := len(m.n)
	xm, t := make([]Word, k), make([]Word, k)
	m.toMont(xm, x)
	montMul(t, xm, y, m.n, m.n0inv)
	copy(z, t)
}

// Sub sets z = x − y mod n for x, y < n, in constant time.
func (m *Modulus) Sub(z, x, y []Word) {
	b := subVV(z, x, y)
	addVVMasked(z, m.n, -b)
}

// ToMont sets z = x·R mod n for any x < R. z must not alias x.
func (m *Modulus) ToMont(z, x []Word) { m.toMont(z, x) }

// MontMul sets z = x·y·R⁻¹ mod n for x, y < R, at least one of them below
// n. z must not alias x or y.
func (m *Modulus) MontMul(z, x, y []Word) { montMul(z, x, y, m.n, m.n0inv) }

// Reduce sets z = x mod n for any x < R. z may alias x.
func (m *Modulus) Reduce(z, x []Word) {
	one := make([]Word, len(m.n))
	one[0] = 1
	m.Mul(z, x, one)
}

// MulAdd sets z = x·y + a, for len(z) = len(x) + len(y) and len(a) ≤
// len(x). z must not alias its operands.
func MulAdd(z, x, y, a []Word) {
	clear(z)
	copy(z, a)
	for i, yi := range y {
		// z[i+len(x)] is still zero: a and the earlier rows end below it.
		z[i+len(x)] = mulAddVWW(z[i:i+len(x)], x, yi, 0)
	}
}
