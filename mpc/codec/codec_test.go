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
