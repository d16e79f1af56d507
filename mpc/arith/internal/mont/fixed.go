package mont

// fixedWindow is the width in bits of the windows of a FixedBase: an
// exponentiation costs one multiplication and one scan of 2^fixedWindow − 1
// entries per window, and the table holds that many entries per window.
const fixedWindow = 4

// FixedBase holds, for a base x, the powers x^(d·2^(w·i)) for every digit
// d ∈ [1, 2^w) and window i, so that x^e is a product of one table entry per
// window of e, with no squaring; and x^(−2^(w·i)), which lets a signed
// exponent e be computed as x^(2^K + e) · x^(−2^K) with a non-negative
// exponent.
type FixedBase struct {
	m       *Modulus
	windows int    // windows covered, each 2^w − 1 entries of k limbs
	table   []Word // Montgomery form
	inv     []Word // x^(−2^(w·i)) for i ≤ windows−1, Montgomery form
}

// NewFixedBase precomputes the tables of x for exponents of up to maxBits
// bits in absolute value. x and xInv = x⁻¹ mod n are below R. The running
// time depends only on k and maxBits.
func (m *Modulus) NewFixedBase(x, xInv []Word, maxBits int) *FixedBase {
	k := len(m.n)
	const entries = 1<<fixedWindow - 1
	// The offset exponent 2^K ± e needs one window above K ≥ maxBits.
	windows := (maxBits+fixedWindow-1)/fixedWindow + 1
	fb := &FixedBase{m: m, windows: windows,
		table: make([]Word, windows*entries*k),
		inv:   make([]Word, windows*k),
	}
	s := m.newScratch()
	// base is x^(2^(w·i)) in the loop.
	base := make([]Word, k)
	m.toMont(base, x)
	for i := range windows {
		row := fb.table[i*entries*k : (i+1)*entries*k]
		copy(row, base)
		for d := 1; d < entries; d++ {
			montMul(row[d*k:(d+1)*k], row[(d-1)*k:d*k], base, m.n, m.n0inv)
		}
		// The next base is the last entry times base: x^(2^w·2^(w·i)).
		montMul(s.t, row[(entries-1)*k:], base, m.n, m.n0inv)
		copy(base, s.t)
	}
	m.toMont(s.acc, xInv)
	for i := range windows {
		copy(fb.inv[i*k:(i+1)*k], s.acc)
		for range fixedWindow {
			m.sqr(s)
		}
	}
	return fb
}

// MaxBits returns the largest announced exponent length that fb covers.
func (fb *FixedBase) MaxBits() int { return (fb.windows - 1) * fixedWindow }

// TableWords returns the number of limbs held by the tables.
func (fb *FixedBase) TableWords() int { return len(fb.table) + len(fb.inv) }

// Exp sets z = x^e mod n for the signed exponent (−1)^neg·e, e little endian
// with an announced length of ebits ≤ MaxBits bits and neg 0 or 1. The
// running time and memory accesses depend only on k and ebits.
func (fb *FixedBase) Exp(z, e []Word, ebits int, neg Word) {
	fb.m.FixedExp2(z, fb, e, ebits, neg, nil, nil, 0, 0)
}

// FixedExp2 sets z = a^ea · b^eb mod n for two fixed bases of m and signed
// exponents as in (*FixedBase).Exp. b may be nil.
func (m *Modulus) FixedExp2(z []Word, a *FixedBase, ea []Word, eabits int, nega Word, b *FixedBase, eb []Word, ebbits int, negb Word) {
	k := len(m.n)
	s := m.newScratch()
	copy(s.acc, m.one)
	a.mulPow(s, ea, eabits, nega)
	if b != nil {
		b.mulPow(s, eb, ebbits, negb)
	}
	m.fromMont(s.t, s.acc)
	copy(z[:k], s.t)
}

// mulPow multiplies s.acc by x^((−1)^neg·e).
func (fb *FixedBase) mulPow(s *scratch, e []Word, ebits int, neg Word) {
	m := fb.m
	k := len(m.n)
	if ebits > fb.MaxBits() {
		panic("mont: exponent longer than the fixed-base table")
	}
	const entries = 1<<fixedWindow - 1
	// f = 2^K + (−1)^neg·e, with K the window boundary at or above ebits,
	// lies in [0, 2^(K+1)) since e < 2^K.
	K := (ebits + fixedWindow - 1) / fixedWindow * fixedWindow
	fl := K/wordBits + 1
	f, g := make([]Word, fl), make([]Word, fl)
	copy(f, e[:min(len(e), fl)])
	g[K/wordBits] = 1 << (K % wordBits)
	subVV(g, g, f)                       // 2^K − e
	f[K/wordBits] |= 1 << (K % wordBits) // 2^K + e
	mask := -neg
	for i := range f {
		f[i] ^= (f[i] ^ g[i]) & mask
	}
	row := make([]Word, k)
	for i := range K/fixedWindow + 1 {
		d := window(f, i*fixedWindow, fixedWindow)
		clear(row)
		tab := fb.table[i*entries*k : (i+1)*entries*k]
		for j := range entries {
			orMasked(row, tab[j*k:(j+1)*k], eqMask(Word(j+1), d))
		}
		orMasked(row, m.one, eqMask(0, d))
		m.mul(s, row)
	}
	m.mul(s, fb.inv[K/fixedWindow*k:(K/fixedWindow+1)*k])
}
