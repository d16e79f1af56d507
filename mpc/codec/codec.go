// Package codec is the canonical binary encoding of every protocol message,
// key share and presignature: fixed-width integers big-endian, variable-length
// values with a 4-byte length, integers as minimal magnitudes. Decoding is
// strict — non-minimal integers, values over their size cap, unknown flags
// and trailing bytes are errors — so that every accepted input re-encodes to
// the same bytes.
package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/duetwallet/duet/mpc/curve"
)

var (
	// ErrTruncated is returned when the input ends early.
	ErrTruncated = errors.New("codec: input truncated")
	// ErrTrailing is returned when bytes are left after the last field.
	ErrTrailing = errors.New("codec: trailing bytes")
	// ErrNonCanonical is returned for an encoding that is not the canonical one.
	ErrNonCanonical = errors.New("codec: non-canonical encoding")
	// ErrTooLarge is returned for a value over its size cap.
	ErrTooLarge = errors.New("codec: value too large")
)

// Encoder appends encoded fields to a buffer.
type Encoder struct{ buf []byte }

// NewEncoder returns an encoder with some capacity reserved.
func NewEncoder(capacity int) *Encoder { return &Encoder{buf: make([]byte, 0, capacity)} }

// Bytes returns the encoding so far.
func (e *Encoder) Bytes() []byte { return e.buf }

// Uint8 appends one byte.
func (e *Encoder) Uint8(v uint8) *Encoder { e.buf = append(e.buf, v); return e }

// Uint32 appends a 4-byte big-endian integer.
func (e *Encoder) Uint32(v uint32) *Encoder {
	e.buf = binary.BigEndian.AppendUint32(e.buf, v)
	return e
}

// Uint64 appends an 8-byte big-endian integer.
func (e *Encoder) Uint64(v uint64) *Encoder {
	e.buf = binary.BigEndian.AppendUint64(e.buf, v)
	return e
}

// Bool appends 0x00 or 0x01.
func (e *Encoder) Bool(b bool) *Encoder {
	if b {
		return e.Uint8(1)
	}
	return e.Uint8(0)
}

// VarBytes appends a length-prefixed byte string.
func (e *Encoder) VarBytes(b []byte) *Encoder {
	e.Uint32(uint32(len(b)))
	e.buf = append(e.buf, b...)
	return e
}

// Fixed appends bytes whose length the decoder knows.
func (e *Encoder) Fixed(b []byte) *Encoder { e.buf = append(e.buf, b...); return e }

// Nat appends a non-negative integer as a length-prefixed minimal magnitude.
func (e *Encoder) Nat(x *big.Int) *Encoder {
	if x.Sign() < 0 {
		panic("codec: internal error: negative value encoded as a natural number")
	}
	return e.VarBytes(x.Bytes())
}

// Int appends a signed integer: a sign byte (1 for negative) and its magnitude.
func (e *Encoder) Int(x *big.Int) *Encoder {
	e.Bool(x.Sign() < 0)
	return e.VarBytes(new(big.Int).Abs(x).Bytes())
}

// Point appends a compressed curve point.
func (e *Encoder) Point(p *curve.Point) *Encoder { return e.Fixed(p.Bytes()) }

// Scalar appends a 32-byte scalar.
func (e *Encoder) Scalar(s *curve.Scalar) *Encoder { return e.Fixed(s.Bytes()) }

// Decoder reads fields; the first error sticks and later reads return zero
// values, so a caller checks Err or Finish once at the end.
type Decoder struct {
	buf []byte
	err error
}

// NewDecoder reads from b.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Err returns the first error.
func (d *Decoder) Err() error { return d.err }

// Fail records err unless an error is already recorded.
func (d *Decoder) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Finish returns the first error, or ErrTrailing if input is left over.
func (d *Decoder) Finish() error {
	if d.err == nil && len(d.buf) != 0 {
		d.err = ErrTrailing
	}
	return d.err
}

func (d *Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.buf) < n {
		d.err = ErrTruncated
		return nil
	}
	b := d.buf[:n]
	d.buf = d.buf[n:]
	return b
}

// Uint8 reads one byte.
func (d *Decoder) Uint8() uint8 {
	b := d.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

// Uint32 reads a 4-byte big-endian integer.
func (d *Decoder) Uint32() uint32 {
	b := d.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

// Uint64 reads an 8-byte big-endian integer.
func (d *Decoder) Uint64() uint64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// Bool reads a byte that must be 0 or 1.
func (d *Decoder) Bool() bool {
	v := d.Uint8()
	if v > 1 {
		d.Fail(fmt.Errorf("%w: boolean byte %d", ErrNonCanonical, v))
	}
	return v == 1
}

// VarBytes reads a length-prefixed byte string of at most max bytes.
func (d *Decoder) VarBytes(max int) []byte {
	n := d.Uint32()
	if d.err != nil {
		return nil
	}
	if uint64(n) > uint64(max) {
		d.Fail(ErrTooLarge)
		return nil
	}
	b := d.take(int(n))
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// Fixed reads exactly n bytes.
func (d *Decoder) Fixed(n int) []byte {
	b := d.take(n)
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// Nat reads a non-negative integer of at most maxBits bits, rejecting
// leading zero bytes.
func (d *Decoder) Nat(maxBits int) *big.Int {
	b := d.VarBytes((maxBits + 7) / 8)
	if d.err != nil {
		return new(big.Int)
	}
	if len(b) > 0 && b[0] == 0 {
		d.Fail(ErrNonCanonical)
		return new(big.Int)
	}
	x := new(big.Int).SetBytes(b)
	if x.BitLen() > maxBits {
		d.Fail(ErrTooLarge)
		return new(big.Int)
	}
	return x
}

// Int reads a signed integer of magnitude at most maxBits bits, rejecting
// negative zero.
func (d *Decoder) Int(maxBits int) *big.Int {
	neg := d.Bool()
	x := d.Nat(maxBits)
	if neg {
		if x.Sign() == 0 {
			d.Fail(ErrNonCanonical)
		}
		x.Neg(x)
	}
	return x
}

// Point reads a compressed curve point (never the identity).
func (d *Decoder) Point() *curve.Point {
	b := d.take(curve.PointSize)
	if b == nil {
		return nil
	}
	p, err := curve.ParsePoint(b)
	if err != nil {
		d.Fail(err)
		return nil
	}
	return p
}

// Scalar reads a 32-byte scalar below q.
func (d *Decoder) Scalar() *curve.Scalar {
	b := d.take(curve.ScalarSize)
	if b == nil {
		return nil
	}
	s, err := curve.ScalarFromBytes(b)
	if err != nil {
		d.Fail(err)
		return nil
	}
	return s
}

// Count reads a 4-byte element count of at most max.
func (d *Decoder) Count(max int) int {
	n := d.Uint32()
	if uint64(n) > uint64(max) {
		d.Fail(ErrTooLarge)
		return 0
	}
	return int(n)
}
