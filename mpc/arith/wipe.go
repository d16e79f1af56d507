package arith

import (
	"reflect"
	"unsafe"

	"github.com/cronokirby/saferith"
)

// WipeNat overwrites every limb of n's backing array, capacity included, and
// leaves n equal to 0. saferith's SetUint64(0) rewrites only the first limb,
// and its operations shrink slices without clearing what lies past the new
// length, so a secret can outlive both: the backing array is reached through
// reflection because saferith keeps it unexported.
func WipeNat(n *saferith.Nat) {
	if n == nil {
		return
	}
	wipeLimbs(reflect.ValueOf(n).Elem().FieldByName("limbs"))
	n.SetUint64(0)
}

// WipeInt is WipeNat for a signed value.
func WipeInt(x *saferith.Int) {
	if x == nil {
		return
	}
	abs := reflect.ValueOf(x).Elem().FieldByName("abs")
	wipeLimbs(abs.FieldByName("limbs"))
	x.SetUint64(0)
}

func wipeLimbs(v reflect.Value) {
	if v.Kind() != reflect.Slice || v.Type().Elem().Kind() != reflect.Uint {
		panic("arith: internal error: saferith's limb layout changed")
	}
	if v.Cap() == 0 {
		return
	}
	limbs := unsafe.Slice((*saferith.Word)(v.UnsafePointer()), v.Cap())
	clear(limbs)
}
