package mont28

// setBytes sets the limbs of z to the big-endian b, which must fit in z.
// Which limb a byte goes to depends only on its position.
func setBytes(z []uint64, b []byte) {
	clear(z)
	for i := range b {
		v := uint64(b[len(b)-1-i])
		bit := 8 * i
		l, s := bit/limbBits, bit%limbBits
		z[l] |= v << s & limbMask
		if s > limbBits-8 && l+1 < len(z) {
			z[l+1] |= v >> (limbBits - s)
		}
	}
}

// fillBytes writes the normalised x big-endian into all of b.
func fillBytes(b []byte, x []uint64) {
	for i := range b {
		bit := 8 * i
		l, s := bit/limbBits, bit%limbBits
		var v uint64
		if l < len(x) {
			v = x[l] >> s
			if s > limbBits-8 && l+1 < len(x) {
				v |= x[l+1] << (limbBits - s)
			}
		}
		b[len(b)-1-i] = byte(v)
	}
}

// bitsOf returns the w bits of the big-endian e starting at bit pos (from
// the least significant), zero past the end. Only the public pos and w
// decide which bytes are read.
func bitsOf(e []byte, pos, w int) uint64 {
	var v uint64
	for i := range w {
		p := pos + i
		if byteIdx := p / 8; byteIdx < len(e) {
			v |= uint64(e[len(e)-1-byteIdx]>>(p%8)&1) << i
		}
	}
	return v
}

// lookup sets z to entry idx of a table of len(z)-limb entries, reading
// every entry, so that the memory accesses do not depend on idx.
func lookup(z, table []uint64, idx uint64) {
	k := len(z)
	clear(z)
	for i := 0; i*k < len(table); i++ {
		// All ones when i == idx: (i ^ idx) − 1 borrows exactly then.
		mask := -(((uint64(i) ^ idx) - 1) >> 63)
		e := table[i*k : i*k+k : i*k+k]
		for j := range z {
			z[j] |= e[j] & mask
		}
	}
}

// Exp returns x^e mod n, big-endian in a slice of n's byte length, for a
// big-endian x below n and a big-endian exponent e announced as ebits bits
// long (bits of e above ebits are ignored). The running time and the memory
// accesses depend only on the size of n, on ebits and on the byte lengths
// of x and e, which callers keep public by passing fixed-length encodings
// (big.Int.FillBytes, not Bytes, for secrets).
func (m *Modulus) Exp(x, e []byte, ebits int) []byte {
	k := len(m.n)
	xl := make([]uint64, k)
	setBytes(xl, x)
	// x^0 … x^(2^w − 1) in Montgomery form.
	table := make([]uint64, k<<window)
	t := make([]uint64, k+1)
	copy(table, m.one)
	m.montMul(t, xl, m.rr)
	copy(table[k:], t[:k])
	for i := 2; i < 1<<window; i++ {
		m.montMul(t, table[(i-1)*k:i*k], table[k:2*k])
		copy(table[i*k:], t[:k])
	}
	acc := make([]uint64, k)
	u := make([]uint64, k)
	copy(acc, m.one)
	nw := (ebits + window - 1) / window
	for i := nw - 1; i >= 0; i-- {
		if i != nw-1 {
			for range window {
				m.montMul(t, acc, acc)
				copy(acc, t[:k])
			}
		}
		// The top window reads no bits past ebits.
		w := min(window, ebits-i*window)
		lookup(u, table, bitsOf(e, i*window, w))
		m.montMul(t, acc, u)
		copy(acc, t[:k])
	}
	// Out of Montgomery form: a product with 1.
	clear(u)
	u[0] = 1
	m.montMul(t, acc, u)
	out := make([]byte, (m.bits+7)/8)
	fillBytes(out, t[:k])
	clear(table)
	clear(t)
	clear(acc)
	clear(xl)
	return out
}

// MontMul returns x·y·R⁻¹ mod n for big-endian x, y below n, big-endian
// in n's byte length (for tests and benchmarks of the kernel alone).
func (m *Modulus) MontMul(x, y []byte) []byte {
	k := len(m.n)
	xl, yl, t := make([]uint64, k), make([]uint64, k), make([]uint64, k+1)
	setBytes(xl, x)
	setBytes(yl, y)
	m.montMul(t, xl, yl)
	out := make([]byte, (m.bits+7)/8)
	fillBytes(out, t[:k])
	return out
}
