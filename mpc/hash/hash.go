// Package hash is the transcript hash behind every commitment and every
// Fiat–Shamir challenge of the protocol.
//
// Each absorbed value is encoded as type (1 byte) ‖ length (8 bytes,
// big-endian) ‖ body, so that no two different sequences of values hash the
// same way: the ambiguous "a$b$" concatenation of the TSSHOCK attacks cannot
// happen. Values are hashed in this canonical form after decoding, never as the
// bytes that came over the wire. The hash is SHAKE256; a digest is its first
// 32 bytes and challenges are squeezed from its output stream.
package hash

import (
	"crypto/sha3"
	"encoding/binary"
	"io"
	"math/big"

	"github.com/duetwallet/duet/mpc/curve"
)

// DST separates this protocol's hashes from every other use of SHAKE256.
const DST = "CGGMP21-2P/secp256k1/v1"

// DigestSize is the size of a digest (commitments, session ids).
const DigestSize = 32

const (
	typeBytes  = 0x01
	typeNat    = 0x02
	typeInt    = 0x03
	typePoint  = 0x04
	typeScalar = 0x05
	typeList   = 0x06
	typeBit    = 0x07
)

// Transcript absorbs typed values; it is consumed by Digest or Reader.
type Transcript struct {
	h *sha3.SHAKE
}

// New starts a transcript for the given label, after the protocol's DST.
func New(label string) *Transcript {
	t := &Transcript{h: sha3.NewSHAKE256()}
	t.item(typeBytes, uint64(len(DST)), []byte(DST))
	t.item(typeBytes, uint64(len(label)), []byte(label))
	return t
}

func (t *Transcript) item(typ byte, length uint64, body []byte) {
	var hdr [9]byte
	hdr[0] = typ
	binary.BigEndian.PutUint64(hdr[1:], length)
	t.h.Write(hdr[:])
	t.h.Write(body)
}

// Bytes absorbs a byte string (ids, nonces, labels).
func (t *Transcript) Bytes(b []byte) *Transcript {
	t.item(typeBytes, uint64(len(b)), b)
	return t
}

// String absorbs a UTF-8 string.
func (t *Transcript) String(s string) *Transcript { return t.Bytes([]byte(s)) }

// Uint absorbs a non-negative integer given as uint64.
func (t *Transcript) Uint(v uint64) *Transcript {
	return t.Nat(new(big.Int).SetUint64(v))
}

// Nat absorbs a non-negative integer as its minimal big-endian magnitude.
// A negative value is an internal error: signed values go through Int.
func (t *Transcript) Nat(x *big.Int) *Transcript {
	if x.Sign() < 0 {
		panic("hash: internal error: negative value hashed as a natural number")
	}
	b := x.Bytes()
	t.item(typeNat, uint64(len(b)), b)
	return t
}

// Int absorbs a signed integer as a sign byte and its minimal magnitude.
func (t *Transcript) Int(x *big.Int) *Transcript {
	mag := new(big.Int).Abs(x).Bytes()
	body := make([]byte, 1+len(mag))
	if x.Sign() < 0 {
		body[0] = 1
	}
	copy(body[1:], mag)
	t.item(typeInt, uint64(len(body)), body)
	return t
}

// Point absorbs a curve point in compressed form.
func (t *Transcript) Point(p *curve.Point) *Transcript {
	b := p.Bytes()
	t.item(typePoint, uint64(len(b)), b)
	return t
}

// Scalar absorbs a scalar as 32 bytes.
func (t *Transcript) Scalar(s *curve.Scalar) *Transcript {
	b := s.Bytes()
	t.item(typeScalar, uint64(len(b)), b)
	return t
}

// List starts a list of n items; the caller absorbs the n items next.
func (t *Transcript) List(n int) *Transcript {
	t.item(typeList, uint64(n), nil)
	return t
}

// Nats absorbs a list of non-negative integers.
func (t *Transcript) Nats(xs []*big.Int) *Transcript {
	t.List(len(xs))
	for _, x := range xs {
		t.Nat(x)
	}
	return t
}

// Bit absorbs a single bit.
func (t *Transcript) Bit(b bool) *Transcript {
	v := byte(0)
	if b {
		v = 1
	}
	t.item(typeBit, 1, []byte{v})
	return t
}

// Digest finishes the transcript and returns H = the first 32 bytes of the XOF.
func (t *Transcript) Digest() []byte {
	out := make([]byte, DigestSize)
	t.h.Read(out)
	return out
}

// Reader finishes the transcript and returns its XOF output stream, from which
// all challenge material of one proof is read in a fixed order.
func (t *Transcript) Reader() io.Reader { return t.h }
