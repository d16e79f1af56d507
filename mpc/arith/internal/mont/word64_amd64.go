//go:build amd64 && !purego

package mont

import "golang.org/x/sys/cpu"

// useADX reports whether montMulADX can run: it needs MULX (BMI2) and the
// two independent carry chains of ADCX and ADOX (ADX).
var useADX = cpu.X86.HasADX && cpu.X86.HasBMI2

// montMul sets t = x·y·R⁻¹ mod n; see montMulGeneric. Moduli of a multiple
// of four limbs (every size the protocol uses) take the assembly path.
func montMul(t, x, y, n []Word, n0inv Word) {
	k := len(n)
	if !useADX || k%4 != 0 {
		montMulGeneric(t, x, y, n, n0inv)
		return
	}
	t, x, y = t[:k], x[:k], y[:k]
	top := montMulADX(&t[0], &x[0], &y[0], &n[0], k, n0inv)
	finalSub(t, n, top)
}

// montMulADX sets z, a k-limb buffer, and the returned top word to x·y·R⁻¹
// (mod n, below 2n). k is a positive multiple of 4; z must not alias x or y.
//
//go:noescape
func montMulADX(z, x, y, n *Word, k int, n0inv Word) (top Word)
