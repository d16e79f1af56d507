package sch

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/mpc/zk"
)

func TestSchnorr(t *testing.T) {
	x, _ := curve.RandomScalar(rand.Reader)
	X := curve.BaseMul(x)
	ctx := &zk.Context{SessionID: []byte("sid"), Prover: []byte("a"), Rand: []byte("rid")}
	c, err := NewCommitment(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Prove(ctx, X, x)
	if err := Verify(ctx, X, c.A, r); err != nil {
		t.Fatal(err)
	}
	other := &zk.Context{SessionID: []byte("sid"), Prover: []byte("b"), Rand: []byte("rid")}
	if Verify(other, X, c.A, r) == nil {
		t.Fatal("proof accepted for another prover")
	}
	y, _ := curve.RandomScalar(rand.Reader)
	if Verify(ctx, curve.BaseMul(y), c.A, r) == nil {
		t.Fatal("proof accepted for another statement")
	}
	bad := &Response{Z: r.Z.Add(curve.ScalarFromUint64(1))}
	if err := Verify(ctx, X, c.A, bad); !errors.Is(err, ErrVerify) {
		t.Fatalf("tampered response: got %v, want %v", err, ErrVerify)
	}
}

func TestMissingAndIdentityElements(t *testing.T) {
	x, _ := curve.RandomScalar(rand.Reader)
	X := curve.BaseMul(x)
	ctx := &zk.Context{SessionID: []byte("sid"), Prover: []byte("a"), Rand: []byte("rid")}
	c, err := NewCommitment(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	A := c.A
	r := c.Prove(ctx, X, x)
	O := curve.Identity()
	for _, tc := range []struct {
		name string
		X, A *curve.Point
		r    *Response
		want error
	}{
		{"missing X", nil, A, r, ErrMalformed},
		{"missing A", X, nil, r, ErrMalformed},
		{"missing response", X, A, nil, ErrMalformed},
		{"missing z", X, A, &Response{}, ErrMalformed},
		{"X = O", O, A, r, ErrIdentity},
		{"A = O", X, O, r, ErrIdentity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Verify(ctx, tc.X, tc.A, tc.r); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if err := Verify(ctx, X, A, r); err != nil {
		t.Fatalf("honest proof after the failures: %v", err)
	}
}

func TestDecodeResponse(t *testing.T) {
	z, _ := curve.RandomScalar(rand.Reader)
	e := codec.NewEncoder(0)
	(&Response{Z: z}).Encode(e)
	d := codec.NewDecoder(e.Bytes())
	r := DecodeResponse(d)
	if err := d.Finish(); err != nil || !r.Z.Equal(z) {
		t.Fatalf("round trip: %v", err)
	}
	q := curve.Order().FillBytes(make([]byte, curve.ScalarSize))
	for name, b := range map[string][]byte{"z = q": q, "short": e.Bytes()[:31], "long": append(e.Bytes(), 0)} {
		d := codec.NewDecoder(b)
		DecodeResponse(d)
		if d.Finish() == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func FuzzDecodeResponse(f *testing.F) {
	z, _ := curve.RandomScalar(rand.Reader)
	f.Add(z.Bytes())
	f.Add(make([]byte, curve.ScalarSize))
	f.Add(curve.Order().FillBytes(make([]byte, curve.ScalarSize)))
	f.Add(bytes.Repeat([]byte{0xff}, curve.ScalarSize))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := codec.NewDecoder(b)
		r := DecodeResponse(d)
		if d.Finish() != nil {
			return
		}
		e := codec.NewEncoder(0)
		r.Encode(e)
		if !bytes.Equal(e.Bytes(), b) {
			t.Fatal("decoded response re-encodes differently")
		}
	})
}
