package arith

import (
	"fmt"
	"math/big"
	"testing"

	"github.com/cronokirby/saferith"
)

// benchExp runs E(eb|mb): this package, saferith, and math/big.
func benchExp(b *testing.B, eb, mb int) {
	n := randOdd(b, mb)
	m := MustModulus(n)
	x := randUnit(b, n)
	e := randBits(b, eb)
	xn, en := natOf(x, mb), natOf(e, eb)
	name := fmt.Sprintf("E(%d|%d)", eb, mb)
	b.Run(name+"/arith", func(b *testing.B) {
		for b.Loop() {
			m.Exp(xn, en)
		}
	})
	b.Run(name+"/saferith", func(b *testing.B) {
		for b.Loop() {
			new(saferith.Nat).Exp(xn, en, m.ct)
		}
	})
	b.Run(name+"/big", func(b *testing.B) {
		for b.Loop() {
			new(big.Int).Exp(x, e, n)
		}
	})
}

func BenchmarkExp(b *testing.B) {
	benchExp(b, 1024, 1024)
	benchExp(b, 2048, 2048)
	benchExp(b, 1024, 2048)
	benchExp(b, 2048, 4096)
}

// BenchmarkExpInt includes the constant-time inversion of a signed exponent.
func BenchmarkExpInt(b *testing.B) {
	for _, c := range [][2]int{{768, 4096}, {2048, 4096}} {
		n := randOdd(b, c[1])
		m := MustModulus(n)
		x, e := natOf(randUnit(b, n), c[1]), intOf(signed(b, c[0], true), c[0])
		b.Run(fmt.Sprintf("E(%d|%d)/arith", c[0], c[1]), func(b *testing.B) {
			for b.Loop() {
				m.ExpInt(x, e)
			}
		})
		b.Run(fmt.Sprintf("E(%d|%d)/saferith", c[0], c[1]), func(b *testing.B) {
			for b.Loop() {
				new(saferith.Nat).ExpI(x, e, m.ct)
			}
		})
	}
}

// BenchmarkCRT measures the owner's CRT exponentiations of a Paillier key
// with 1024-bit primes: ρ^N mod N² through p², q² (two E(2048|2048)), and
// x^e mod N through p, q with a 2048-bit e (two E(1024|1024)).
func BenchmarkCRT(b *testing.B) {
	p, q := benchPrimes()
	pm1, qm1 := new(big.Int).Sub(p, one), new(big.Int).Sub(q, one)
	n := new(big.Int).Mul(p, q)
	crtN, _ := NewCRT(p, q, pm1, qm1)
	p2, q2 := new(big.Int).Mul(p, p), new(big.Int).Mul(q, q)
	crtN2, _ := NewCRT(p2, q2, new(big.Int).Mul(p, pm1), new(big.Int).Mul(q, qm1))
	rho := natOf(randUnit(b, n), 2048)
	nn := natOf(n, 2048)
	b.Run("rho^N mod N²/arith", func(b *testing.B) {
		for b.Loop() {
			crtN2.Exp(rho, nn)
		}
	})
	e := intOf(signed(b, 2048, true), 2048)
	b.Run("E(2048|2048) mod p,q/arith", func(b *testing.B) {
		for b.Loop() {
			crtN.ExpInt(rho, e)
		}
	})
	r1, r2 := crtN.m1.Exp(rho, natOf(pm1, 1024)), crtN.m2.Exp(rho, natOf(qm1, 1024))
	b.Run("Combine mod N/arith", func(b *testing.B) {
		for b.Loop() {
			crtN.Combine(r1, r2)
		}
	})
}

// BenchmarkExp2 is the ring-Pedersen commitment s^a·t^b mod a 2048-bit N
// with 768- and 2816-bit signed exponents.
func BenchmarkExp2(b *testing.B) {
	n := randOdd(b, 2048)
	m := MustModulus(n)
	s, t := randUnit(b, n), randUnit(b, n)
	a, c := signed(b, 768, true), signed(b, 2816, false)
	sn, tn, ai, ci := natOf(s, 2048), natOf(t, 2048), intOf(a, 768), intOf(c, 2816)
	b.Run("768+2816|2048/arith", func(b *testing.B) {
		for b.Loop() {
			m.Exp2Int(sn, ai, tn, ci)
		}
	})
	b.Run("768+2816|2048/saferith", func(b *testing.B) {
		for b.Loop() {
			u := new(saferith.Nat).ExpI(sn, ai, m.ct)
			u.ModMul(u, new(saferith.Nat).ExpI(tn, ci, m.ct), m.ct)
		}
	})
	b.Run("768+2816|2048/big", func(b *testing.B) {
		for b.Loop() {
			m.Exp2VarTime(s, a, t, c)
		}
	})
	sb, _ := m.NewFixedBase(sn, 2816)
	tb, _ := m.NewFixedBase(tn, 2816)
	b.Run("768+2816|2048/fixed", func(b *testing.B) {
		for b.Loop() {
			m.FixedExp2(sb, ai, tb, ci)
		}
	})
}

// BenchmarkFixedBase measures one fixed-base exponentiation modulo a
// 2048-bit N, and building the table for 2816-bit exponents.
func BenchmarkFixedBase(b *testing.B) {
	n := randOdd(b, 2048)
	m := MustModulus(n)
	x := randUnit(b, n)
	xn := natOf(x, 2048)
	fb, _ := m.NewFixedBase(xn, 2816)
	for _, eb := range []int{256, 2816} {
		e := signed(b, eb, true)
		ei := intOf(e, eb)
		b.Run(fmt.Sprintf("E(%d|2048)/fixed", eb), func(b *testing.B) {
			for b.Loop() {
				fb.Exp(ei)
			}
		})
		b.Run(fmt.Sprintf("E(%d|2048)/arith", eb), func(b *testing.B) {
			for b.Loop() {
				m.ExpInt(xn, ei)
			}
		})
		b.Run(fmt.Sprintf("E(%d|2048)/saferith", eb), func(b *testing.B) {
			for b.Loop() {
				new(saferith.Nat).ExpI(xn, ei, m.ct)
			}
		})
		b.Run(fmt.Sprintf("E(%d|2048)/big", eb), func(b *testing.B) {
			for b.Loop() {
				m.ExpVarTime(x, e)
			}
		})
	}
	for _, bits := range []int{2816, 4900} {
		b.Run(fmt.Sprintf("table %d/arith", bits), func(b *testing.B) {
			for b.Loop() {
				m.NewFixedBase(xn, bits)
			}
		})
	}
}

// benchPrimes returns two 1024-bit primes, the size of Paillier's.
func benchPrimes() (*big.Int, *big.Int) {
	p, _ := new(big.Int).SetString("e217c2198e42778c083c75b8f72151a23592750fe5361ef1e1e71dcf19f57a9d85599fca3dbc0d3b677840a86345fafed52e6c6d7fbed5592518fa4d51e24ef7db8c6ea0af897642d61172727a8110f564f896aee8041db8454f7a078f93fdc30c694106c9d0eec09ac5a79d1a522af0e0290f35903b12f82127ea75f3f300e9", 16)
	q, _ := new(big.Int).SetString("ff5d3479d67a7a8eb8543e9df1db00c78cadac8453e0a844205a4a866ff7e50bbb861aaff890db4217960b0e47d1cee6de05e68c8c48677436a0a1d2fddca838c8480896aff688a2d29ccb67fc3eebcacad7feb99eef196e09a672c54fa8dae9dfd2b683d5db1d9f25ea8ca99f300f8759b07be86726809660cbb6e21190a6cd", 16)
	return p, q
}
