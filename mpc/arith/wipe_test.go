package arith

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/cronokirby/saferith"
)

// backing returns the whole backing array of a Nat's limbs, as WipeNat sees it.
func backing(n *saferith.Nat) []saferith.Word {
	v := reflect.ValueOf(n).Elem().FieldByName("limbs")
	return unsafe.Slice((*saferith.Word)(v.UnsafePointer()), v.Cap())
}

func TestWipeNatClearsTheWholeBackingArray(t *testing.T) {
	n := new(saferith.Nat).SetBytes(bytesOf(0xA5, 256))
	// Shrink the value: saferith keeps the old limbs past the new length.
	m := saferith.ModulusFromUint64(1<<61 - 1)
	n.Mod(n, m)
	before := backing(n)
	nonzero := 0
	for _, w := range before {
		if w != 0 {
			nonzero++
		}
	}
	if nonzero < 2 {
		t.Fatalf("test setup: expected stale limbs past the value, %d nonzero", nonzero)
	}
	n.SetUint64(0)
	if stale := countNonzero(backing(n)); stale == 0 {
		t.Fatal("test setup: SetUint64(0) cleared everything; the test shows nothing")
	}
	WipeNat(n)
	if stale := countNonzero(backing(n)); stale != 0 {
		t.Fatalf("%d limbs still set after WipeNat", stale)
	}
	if n.Eq(new(saferith.Nat).SetUint64(0)) != 1 {
		t.Fatal("wiped Nat is not 0")
	}
}

func TestWipeInt(t *testing.T) {
	x := new(saferith.Int).SetNat(new(saferith.Nat).SetBytes(bytesOf(0x5A, 128))).Neg(1)
	abs := reflect.ValueOf(x).Elem().FieldByName("abs").FieldByName("limbs")
	arr := unsafe.Slice((*saferith.Word)(abs.UnsafePointer()), abs.Cap())
	WipeInt(x)
	if stale := countNonzero(arr); stale != 0 {
		t.Fatalf("%d limbs still set after WipeInt", stale)
	}
	if x.Eq(new(saferith.Int)) != 1 {
		t.Fatal("wiped Int is not 0")
	}
	WipeInt(nil)
	WipeNat(nil)
}

func bytesOf(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

func countNonzero(ws []saferith.Word) int {
	c := 0
	for _, w := range ws {
		if w != 0 {
			c++
		}
	}
	return c
}
