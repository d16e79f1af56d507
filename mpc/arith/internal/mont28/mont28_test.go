package mont28

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/duetwallet/duet/mpc/arith/internal/mont"
)

func randOdd(t testing.TB, bits int) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits)))
	if err != nil {
		t.Fatal(err)
	}
	n.SetBit(n, bits-1, 1)
	return n.SetBit(n, 0, 1)
}

func randBelow(t testing.TB, n *big.Int) *big.Int {
	t.Helper()
	x, err := rand.Int(rand.Reader, n)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func bitsExp(t testing.TB, bits int) *big.Int {
	t.Helper()
	if bits == 0 {
		return new(big.Int)
	}
	return randBelow(t, new(big.Int).Lsh(big.NewInt(1), uint(bits)))
}

func checkExp(t *testing.T, n, x, e *big.Int, ebits int) {
	t.Helper()
	m, err := NewModulus(n.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got := new(big.Int).SetBytes(m.Exp(x.Bytes(), e.Bytes(), ebits))
	want := new(big.Int).Exp(x, e, n)
	if got.Cmp(want) != 0 {
		t.Fatalf("n %d bits, x %x, e %x (%d bits): got %x, want %x", n.BitLen(), x, e, ebits, got, want)
	}
}

// Sizes around limb and window boundaries, an odd and an even number of
// limbs, and more than 64 limbs (the carry passes mid-multiplication).
var sizes = []int{2, 3, 27, 28, 29, 55, 56, 57, 84, 100, 256, 1023, 1024, 2047, 2048, 2800, 4096}

func TestExpRandom(t *testing.T) {
	for _, bits := range sizes {
		n := randOdd(t, bits)
		for _, eb := range []int{0, 1, 3, 4, 5, 28, 64, 257, 2048} {
			checkExp(t, n, randBelow(t, n), bitsExp(t, eb), eb)
		}
	}
}

func TestExpEdges(t *testing.T) {
	for _, bits := range sizes {
		// The largest odd n of its size makes every limb all ones; the
		// smallest, a top limb of one bit.
		top := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(bits)), big.NewInt(1))
		bottom := new(big.Int).SetBit(big.NewInt(1), bits-1, 1)
		for _, n := range []*big.Int{top, bottom, randOdd(t, bits)} {
			if n.Cmp(big.NewInt(1)) <= 0 {
				continue
			}
			nm1 := new(big.Int).Sub(n, big.NewInt(1))
			for _, x := range []*big.Int{big.NewInt(0), big.NewInt(1), nm1, new(big.Int).Rsh(n, 1)} {
				if x.Cmp(n) >= 0 {
					continue
				}
				ones := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 300), big.NewInt(1))
				checkExp(t, n, x, ones, 300)
				checkExp(t, n, x, nm1, bits)
				checkExp(t, n, x, big.NewInt(0), 0)
				checkExp(t, n, x, big.NewInt(1), 1)
			}
		}
	}
	checkExp(t, big.NewInt(3), big.NewInt(2), big.NewInt(5), 3)
}

// An exponent announced longer than it is gives the same result; bits
// above the announced length are ignored.
func TestExpAnnouncedLength(t *testing.T) {
	n := randOdd(t, 2048)
	x, e := randBelow(t, n), bitsExp(t, 100)
	m, _ := NewModulus(n.Bytes())
	a := m.Exp(x.Bytes(), e.Bytes(), 100)
	b := m.Exp(x.Bytes(), append(make([]byte, 200), e.Bytes()...), 1600)
	if !bytes.Equal(a, b) {
		t.Fatal("a longer announced length changed the result")
	}
	high := new(big.Int).SetBit(new(big.Int).Set(e), 150, 1)
	if !bytes.Equal(m.Exp(x.Bytes(), high.Bytes(), 100), a) {
		t.Fatal("a bit above the announced length was used")
	}
}

// montMul against x·y·R⁻¹ mod n, including products of values close to n
// whose accumulator needs its top limb.
func TestMontMul(t *testing.T) {
	for _, bits := range sizes {
		for _, n := range []*big.Int{randOdd(t, bits), new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(bits)), big.NewInt(1))} {
			m, err := NewModulus(n.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			r := new(big.Int).Lsh(big.NewInt(1), uint(limbBits*m.Limbs()))
			rInv := new(big.Int).ModInverse(r, n)
			nm1 := new(big.Int).Sub(n, big.NewInt(1))
			for _, xy := range [][2]*big.Int{{randBelow(t, n), randBelow(t, n)}, {nm1, nm1}, {big.NewInt(0), nm1}} {
				got := new(big.Int).SetBytes(m.MontMul(xy[0].Bytes(), xy[1].Bytes()))
				want := new(big.Int).Mul(xy[0], xy[1])
				want.Mul(want, rInv).Mod(want, n)
				if got.Cmp(want) != 0 {
					t.Fatalf("%d bits: montMul(%x, %x) = %x, want %x", bits, xy[0], xy[1], got, want)
				}
			}
		}
	}
}

func TestNewModulus(t *testing.T) {
	for _, b := range [][]byte{nil, {0}, {1}, {0, 1}, {4}, {0xff, 0xfe}} {
		if _, err := NewModulus(b); err == nil {
			t.Errorf("NewModulus(%x) accepted", b)
		}
	}
	m, err := NewModulus([]byte{0, 0, 3})
	if err != nil || m.Limbs() != 1 {
		t.Fatalf("leading zero bytes: %v", err)
	}
}

func TestBytesRoundTrip(t *testing.T) {
	for _, bits := range sizes {
		x := bitsExp(t, bits)
		k := (bits + limbBits - 1) / limbBits
		z := make([]uint64, k)
		setBytes(z, x.Bytes())
		for _, l := range z {
			if l > limbMask {
				t.Fatal("setBytes left a limb over 28 bits")
			}
		}
		b := make([]byte, (bits+7)/8)
		fillBytes(b, z)
		if new(big.Int).SetBytes(b).Cmp(x) != 0 {
			t.Fatalf("%d bits: round trip changed %x", bits, x)
		}
	}
}

func FuzzExp(f *testing.F) {
	f.Add([]byte{0x0f, 0xff}, []byte{7}, []byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, nb, xb, eb []byte) {
		if len(nb) > 80 || len(eb) > 80 {
			return
		}
		n := new(big.Int).SetBytes(nb)
		if n.Bit(0) == 0 || n.Cmp(big.NewInt(1)) <= 0 {
			return
		}
		x := new(big.Int).SetBytes(xb)
		x.Mod(x, n)
		e := new(big.Int).SetBytes(eb)
		checkExp(t, n, x, e, 8*len(eb))
	})
}

// condSub subtracts n when the value has a top limb, also when its limbs
// alone are below n (a borrow that the top limb absorbs).
func TestCondSubTop(t *testing.T) {
	n := []uint64{limbMask - 4, limbMask}
	x := []uint64{3, 0}
	condSub(x, n, 1)
	// 3 + 2^56 − n = 3 + 2^56 − (2^56 − 5) = 8.
	if x[0] != 8 || x[1] != 0 {
		t.Fatalf("got %x, want [8 0]", x)
	}
	y := []uint64{3, 0}
	condSub(y, n, 0)
	if y[0] != 3 || y[1] != 0 {
		t.Fatalf("a value below n changed: %x", y)
	}
}

// paired runs the given functions in turn, once each per iteration, and
// reports each one's mean time per call as a metric "<name>-ns/op" and the
// time of each relative to the first: a loaded machine slows all of them
// alike, which consecutive benchmarks would not.
func paired(b *testing.B, names []string, fs ...func()) {
	total := make([]time.Duration, len(fs))
	for b.Loop() {
		for i, f := range fs {
			start := time.Now()
			f()
			total[i] += time.Since(start)
		}
	}
	for i, name := range names {
		b.ReportMetric(float64(total[i].Nanoseconds())/float64(b.N), name+"-ns/op")
		if i > 0 {
			b.ReportMetric(float64(total[i])/float64(total[0]), name+"/"+names[0])
		}
	}
}

// BenchmarkExp compares a 2048-bit exponent modulo a 2048-bit and a
// 4096-bit modulus (ρ^N mod N² is the latter) with the kernel that
// mpc/arith uses (mont: 32-bit limbs in WebAssembly, 64-bit natively) and
// with math/big; saferith's figures are in mpc/arith's BenchmarkExp.
func BenchmarkExp(b *testing.B) {
	for _, c := range [][2]int{{2048, 2048}, {2048, 4096}} {
		n := randOdd(b, c[1])
		x, e := randBelow(b, n), bitsExp(b, c[0])
		m, _ := NewModulus(n.Bytes())
		xb, ebytes := x.Bytes(), e.Bytes()
		m32, _ := mont.NewModulus(n.Bytes())
		x32, e32 := make([]mont.Word, m32.Limbs()), make([]mont.Word, (c[0]+mont.WordBits-1)/mont.WordBits)
		mont.SetBytes(x32, xb)
		mont.SetBytes(e32, ebytes)
		z32 := make([]mont.Word, m32.Limbs())
		b.Run(fmt.Sprintf("E(%d|%d)", c[0], c[1]), func(b *testing.B) {
			paired(b, []string{"mont28", "mont", "big"},
				func() { m.Exp(xb, ebytes, c[0]) },
				func() { m32.Exp(z32, x32, e32, c[0]) },
				func() { new(big.Int).Exp(x, e, n) })
		})
	}
}

// BenchmarkMontMul is one Montgomery product of each kernel.
func BenchmarkMontMul(b *testing.B) {
	for _, bits := range []int{2048, 4096} {
		n := randOdd(b, bits)
		m, _ := NewModulus(n.Bytes())
		k := m.Limbs()
		x := make([]uint64, k)
		setBytes(x, randBelow(b, n).Bytes())
		t := make([]uint64, k+1)
		m32, _ := mont.NewModulus(n.Bytes())
		x32, z32 := make([]mont.Word, m32.Limbs()), make([]mont.Word, m32.Limbs())
		mont.SetBytes(x32, randBelow(b, n).Bytes())
		b.Run(fmt.Sprint(bits), func(b *testing.B) {
			paired(b, []string{"mont28", "mont"},
				func() {
					for range 16 {
						m.montMul(t, x, x)
					}
				},
				func() {
					for range 16 {
						m32.MontMul(z32, x32, x32)
					}
				})
		})
	}
}
