//go:build !wasm && !386 && !arm && (!amd64 || purego)

package mont

// montMul sets t = x·y·R⁻¹ mod n; see montMulGeneric.
func montMul(t, x, y, n []Word, n0inv Word) { montMulGeneric(t, x, y, n, n0inv) }
