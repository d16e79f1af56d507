package hash

import (
	"io"
	"math/big"

	"github.com/duetwallet/duet/mpc/curve"
)

// ChalSigned reads a challenge uniform in ±q (both ends included): 33 bytes
// at a time, keeping the low 257 bits as u, accepting u ≤ 2q and returning
// u − q.
func ChalSigned(r io.Reader) *big.Int {
	q := curve.Order()
	twoQ := new(big.Int).Lsh(q, 1)
	var buf [33]byte
	for {
		mustRead(r, buf[:])
		buf[0] &= 0x01
		u := new(big.Int).SetBytes(buf[:])
		if u.Cmp(twoQ) <= 0 {
			return u.Sub(u, q)
		}
	}
}

// ChalScalar reads a challenge uniform in Z_q.
func ChalScalar(r io.Reader) *curve.Scalar {
	var buf [32]byte
	for {
		mustRead(r, buf[:])
		if s, err := curve.ScalarFromBytes(buf[:]); err == nil {
			return s
		}
	}
}

// ChalBits reads m challenge bits: bit k is bit (k mod 8) of byte ⌊k/8⌋.
func ChalBits(r io.Reader, m int) []bool {
	buf := make([]byte, (m+7)/8)
	mustRead(r, buf)
	bits := make([]bool, m)
	for k := range bits {
		bits[k] = buf[k/8]>>(k%8)&1 == 1
	}
	return bits
}

// ChalUnits reads m elements of Z*_N: for each, ⌈bitlen(N)/8⌉ bytes with the
// low bitlen(N) bits kept, accepted iff 0 < y < N and gcd(y, N) = 1.
func ChalUnits(r io.Reader, n *big.Int, m int) []*big.Int {
	bits := n.BitLen()
	buf := make([]byte, (bits+7)/8)
	topMask := byte(0xff)
	if rem := bits % 8; rem != 0 {
		topMask = byte(1)<<rem - 1
	}
	out := make([]*big.Int, 0, m)
	gcd := new(big.Int)
	for len(out) < m {
		mustRead(r, buf)
		buf[0] &= topMask
		y := new(big.Int).SetBytes(buf)
		if y.Sign() > 0 && y.Cmp(n) < 0 && gcd.GCD(nil, nil, y, n).Cmp(big.NewInt(1)) == 0 {
			out = append(out, y)
		}
	}
	return out
}

// mustRead reads from an XOF, which cannot fail or run short.
func mustRead(r io.Reader, buf []byte) {
	if _, err := io.ReadFull(r, buf); err != nil {
		panic("hash: internal error: XOF read failed: " + err.Error())
	}
}
