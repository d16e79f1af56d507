package codec

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math/big"
	"testing"

	"github.com/duetwallet/duet/mpc/curve"
)

func TestRoundTrip(t *testing.T) {
	s, _ := curve.RandomScalar(rand.Reader)
	p := curve.BaseMul(s)
	e := NewEncoder(0).Uint8(7).Uint32(1 << 20).Uint64(1 << 40).Bool(true).
		VarBytes([]byte("abc")).Nat(big.NewInt(0)).Nat(big.NewInt(258)).
		Int(big.NewInt(-5)).Int(big.NewInt(0)).Point(p).Scalar(s)
	d := NewDecoder(e.Bytes())
	if d.Uint8() != 7 || d.Uint32() != 1<<20 || d.Uint64() != 1<<40 || !d.Bool() {
		t.Fatal("fixed fields")
	}
	if string(d.VarBytes(10)) != "abc" || d.Nat(16).Sign() != 0 || d.Nat(16).Int64() != 258 {
		t.Fatal("variable fields")
	}
	if d.Int(8).Int64() != -5 || d.Int(8).Sign() != 0 {
		t.Fatal("signed fields")
	}
	if !d.Point().Equal(p) || !d.Scalar().Equal(s) {
		t.Fatal("curve fields")
	}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
}

func TestStrictness(t *testing.T) {
	cases := map[string]struct {
		in   []byte
		read func(*Decoder)
		want error
	}{
		"leading zero":  {[]byte{0, 0, 0, 2, 0, 1}, func(d *Decoder) { d.Nat(16) }, ErrNonCanonical},
		"too large":     {[]byte{0, 0, 0, 3, 1, 2, 3}, func(d *Decoder) { d.Nat(16) }, ErrTooLarge},
		"bits over cap": {[]byte{0, 0, 0, 2, 0xff, 0xff}, func(d *Decoder) { d.Nat(9) }, ErrTooLarge},
		"one bit over":  {[]byte{0, 0, 0, 2, 0x03, 0xff}, func(d *Decoder) { d.Nat(9) }, ErrTooLarge},
		"bits at cap":   {[]byte{0, 0, 0, 2, 0x01, 0xff}, func(d *Decoder) { d.Nat(9) }, nil},
		"single zero":   {[]byte{0, 0, 0, 1, 0}, func(d *Decoder) { d.Nat(16) }, ErrNonCanonical},
		"single one":    {[]byte{0, 0, 0, 1, 1}, func(d *Decoder) { d.Nat(16) }, nil},
		"fixed −1":      {[]byte{1}, func(d *Decoder) { d.Fixed(-1) }, ErrTruncated},
		"fixed 0":       {nil, func(d *Decoder) { d.Fixed(0) }, nil},
		"negative zero": {[]byte{1, 0, 0, 0, 0}, func(d *Decoder) { d.Int(8) }, ErrNonCanonical},
		"bad bool":      {[]byte{2}, func(d *Decoder) { d.Bool() }, ErrNonCanonical},
		"truncated":     {[]byte{0, 0, 0, 5, 1}, func(d *Decoder) { d.VarBytes(10) }, ErrTruncated},
		"trailing":      {[]byte{1, 2}, func(d *Decoder) { d.Uint8() }, ErrTrailing},
	}
	for name, c := range cases {
		d := NewDecoder(c.in)
		c.read(d)
		if err := d.Finish(); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
}

// Each cap refuses a length one past it and accepts the length at it, with
// the bytes present so that truncation does not refuse them first.
func TestCaps(t *testing.T) {
	for _, max := range []int{0, 3, 32} {
		at := NewEncoder(0).VarBytes(bytes.Repeat([]byte{7}, max)).Bytes()
		d := NewDecoder(at)
		if b := d.VarBytes(max); d.Finish() != nil || len(b) != max {
			t.Errorf("VarBytes(%d) refused %d bytes: %v", max, max, d.Err())
		}
		over := NewEncoder(0).VarBytes(bytes.Repeat([]byte{7}, max+1)).Bytes()
		d = NewDecoder(over)
		if b := d.VarBytes(max); !errors.Is(d.Err(), ErrTooLarge) || b != nil {
			t.Errorf("VarBytes(%d) of %d bytes: got %v, want %v", max, max+1, d.Err(), ErrTooLarge)
		}

		d = NewDecoder(NewEncoder(0).Uint32(uint32(max)).Bytes())
		if n := d.Count(max); d.Finish() != nil || n != max {
			t.Errorf("Count(%d) refused %d: %v", max, max, d.Err())
		}
		d = NewDecoder(NewEncoder(0).Uint32(uint32(max + 1)).Bytes())
		if n := d.Count(max); !errors.Is(d.Err(), ErrTooLarge) || n != 0 {
			t.Errorf("Count(%d) of %d: got %v, want %v", max, max+1, d.Err(), ErrTooLarge)
		}
	}
	d := NewDecoder([]byte{0xff, 0xff, 0xff, 0xff})
	if d.Count(1 << 20); !errors.Is(d.Err(), ErrTooLarge) {
		t.Errorf("Count of 2^32 − 1: got %v, want %v", d.Err(), ErrTooLarge)
	}
}

// A point the curve package refuses is refused with the curve's error, and
// the decoder stops there.
func TestPointErrors(t *testing.T) {
	// The first x ≥ 1 with no point on the curve.
	var offCurve []byte
	for x := byte(1); offCurve == nil; x++ {
		b := make([]byte, curve.PointSize)
		b[0], b[curve.PointSize-1] = 0x02, x
		if _, err := curve.ParsePoint(b); err != nil {
			offCurve = b
		}
	}
	s, _ := curve.RandomScalar(rand.Reader)
	good := curve.BaseMul(s).Bytes()
	uncompressed := append([]byte{0x04}, good[1:]...)
	xOverP := append([]byte{0x02}, bytes.Repeat([]byte{0xff}, curve.PointSize-1)...)
	for name, b := range map[string][]byte{"off the curve": offCurve, "prefix 04": uncompressed, "x ≥ p": xOverP} {
		_, want := curve.ParsePoint(b)
		if want == nil {
			t.Fatalf("%s: the curve package accepts it", name)
		}
		d := NewDecoder(append(b, good...))
		if p := d.Point(); p != nil || !errors.Is(d.Err(), want) {
			t.Errorf("%s: got %v, want %v", name, d.Err(), want)
		}
		if d.Point() != nil || !errors.Is(d.Finish(), want) {
			t.Errorf("%s: the decoder went on after the error", name)
		}
	}
}

// A scalar ≥ q is refused with the curve's error; q − 1 is accepted.
func TestScalarErrors(t *testing.T) {
	q := curve.Order()
	qm1 := new(big.Int).Sub(q, big.NewInt(1)).FillBytes(make([]byte, curve.ScalarSize))
	d := NewDecoder(qm1)
	if s := d.Scalar(); d.Finish() != nil || !bytes.Equal(s.Bytes(), qm1) {
		t.Fatalf("q − 1 refused: %v", d.Err())
	}
	for name, b := range map[string][]byte{
		"q":      q.FillBytes(make([]byte, curve.ScalarSize)),
		"q + 1":  new(big.Int).Add(q, big.NewInt(1)).FillBytes(make([]byte, curve.ScalarSize)),
		"2²⁵⁶−1": bytes.Repeat([]byte{0xff}, curve.ScalarSize),
	} {
		_, want := curve.ScalarFromBytes(b)
		if want == nil {
			t.Fatalf("%s: the curve package accepts it", name)
		}
		d := NewDecoder(b)
		if s := d.Scalar(); s != nil || !errors.Is(d.Finish(), want) {
			t.Errorf("%s: got %v, want %v", name, d.Err(), want)
		}
	}
}

func FuzzNatRoundTrip(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 5})
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		d := NewDecoder(in)
		x := d.Int(64)
		y := d.Nat(64)
		if d.Finish() != nil {
			return
		}
		out := NewEncoder(0).Int(x).Nat(y).Bytes()
		if !bytes.Equal(out, in) {
			t.Fatalf("re-encoding %x gave %x", in, out)
		}
	})
}

// A field of the fuzz schema: fieldOps[op % len] reads one field into v and
// write appends it again.
type field struct {
	read  func(d *Decoder) any
	write func(e *Encoder, v any)
}

var fieldOps = []field{
	{func(d *Decoder) any { return d.Uint8() }, func(e *Encoder, v any) { e.Uint8(v.(uint8)) }},
	{func(d *Decoder) any { return d.Uint32() }, func(e *Encoder, v any) { e.Uint32(v.(uint32)) }},
	{func(d *Decoder) any { return d.Uint64() }, func(e *Encoder, v any) { e.Uint64(v.(uint64)) }},
	{func(d *Decoder) any { return d.Bool() }, func(e *Encoder, v any) { e.Bool(v.(bool)) }},
	{func(d *Decoder) any { return d.VarBytes(40) }, func(e *Encoder, v any) { e.VarBytes(v.([]byte)) }},
	{func(d *Decoder) any { return d.Fixed(3) }, func(e *Encoder, v any) { e.Fixed(v.([]byte)) }},
	{func(d *Decoder) any { return d.Nat(70) }, func(e *Encoder, v any) { e.Nat(v.(*big.Int)) }},
	{func(d *Decoder) any { return d.Int(70) }, func(e *Encoder, v any) { e.Int(v.(*big.Int)) }},
	{func(d *Decoder) any { return d.Point() }, func(e *Encoder, v any) { e.Point(v.(*curve.Point)) }},
	{func(d *Decoder) any { return d.Scalar() }, func(e *Encoder, v any) { e.Scalar(v.(*curve.Scalar)) }},
	{func(d *Decoder) any { return d.Count(1000) }, func(e *Encoder, v any) { e.Uint32(uint32(v.(int))) }},
}

// FuzzDecoder reads in as the fields that ops name, in order: no input may
// panic, and every accepted input re-encodes to itself.
func FuzzDecoder(f *testing.F) {
	s, _ := curve.RandomScalar(rand.Reader)
	all := NewEncoder(0).Uint8(7).Uint32(1 << 20).Uint64(1 << 40).Bool(true).
		VarBytes([]byte("abc")).Fixed([]byte{1, 2, 3}).Nat(big.NewInt(258)).Int(big.NewInt(-5)).
		Point(curve.BaseMul(s)).Scalar(s).Uint32(999).Bytes()
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, all)
	f.Add([]byte{8, 9}, append(curve.BaseMul(s).Bytes(), curve.Order().Bytes()...))
	f.Add([]byte{4, 10}, []byte{0, 0, 0, 41, 0, 0, 3, 233})
	f.Add([]byte{6, 7}, []byte{0, 0, 0, 1, 0, 1, 0, 0, 0, 0})
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, ops, in []byte) {
		if len(ops) > 64 {
			return
		}
		d := NewDecoder(in)
		vals := make([]any, len(ops))
		for i, op := range ops {
			vals[i] = fieldOps[int(op)%len(fieldOps)].read(d)
		}
		if d.Finish() != nil {
			return
		}
		e := NewEncoder(len(in))
		for i, op := range ops {
			fieldOps[int(op)%len(fieldOps)].write(e, vals[i])
		}
		if !bytes.Equal(e.Bytes(), in) {
			t.Fatalf("ops %v: re-encoding %x gave %x", ops, in, e.Bytes())
		}
	})
}
