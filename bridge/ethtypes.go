package bridge

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
)

// The device reads Ethereum's JSON-RPC values and writes RLP itself, with
// go-ethereum's rules (common.Address, common.Hash, hexutil.Big, Uint64 and
// Bytes, rlp): go-ethereum's packages would bring their reflection-driven
// RLP codec, regular expressions and 256-bit integer library into the device
// module. The tests check both against go-ethereum.

// Address is an Ethereum account address.
type Address [20]byte

// Hex is the EIP-55 checksummed address.
func (a Address) Hex() string { return checksumAddress(a[:]) }

func (a Address) String() string { return a.Hex() }

// UnmarshalJSON reads a JSON string of 0x and 40 hex digits, either case.
func (a *Address) UnmarshalJSON(b []byte) error {
	return unmarshalFixedJSON(b, a[:], reflect.TypeFor[Address]())
}

// Hash is a Keccak-256 digest.
type Hash [32]byte

// Hex is 0x and the hash's 64 lowercase hex digits.
func (h Hash) Hex() string { return hexPrefixed(h[:]) }

func (h Hash) String() string { return h.Hex() }

// UnmarshalJSON reads a JSON string of 0x and 64 hex digits, either case.
func (h *Hash) UnmarshalJSON(b []byte) error {
	return unmarshalFixedJSON(b, h[:], reflect.TypeFor[Hash]())
}

func hexPrefixed(b []byte) string { return "0x" + hex.EncodeToString(b) }

// hexError is a malformed hex value; the JSON decoder names the field.
type hexError string

func (e hexError) Error() string { return string(e) }

const (
	errHexSyntax     hexError = "invalid hex string"
	errMissingPrefix hexError = "hex string without 0x prefix"
	errOddLength     hexError = "hex string of odd length"
	errEmptyNumber   hexError = "hex string \"0x\""
	errLeadingZero   hexError = "hex number with leading zero digits"
	errUint64Range   hexError = "hex number > 64 bits"
	errBig256Range   hexError = "hex number > 256 bits"
)

// jsonString returns the text inside a JSON string, its escapes as they
// stand (a hex value has none).
func jsonString(b []byte, typ reflect.Type) ([]byte, error) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return nil, &json.UnmarshalTypeError{Value: "non-string", Type: typ}
	}
	return b[1 : len(b)-1], nil
}

// typeError gives a malformed value the JSON decoder's form, which names the
// field.
func typeError(err error, typ reflect.Type) error {
	var he hexError
	if errors.As(err, &he) {
		return &json.UnmarshalTypeError{Value: err.Error(), Type: typ}
	}
	return err
}

func has0x(s []byte) bool { return len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') }

// hexText strips the 0x of hex bytes; an empty string is empty bytes.
func hexText(s []byte) ([]byte, error) {
	if len(s) == 0 {
		return nil, nil
	}
	if !has0x(s) {
		return nil, errMissingPrefix
	}
	s = s[2:]
	if len(s)%2 != 0 {
		return nil, errOddLength
	}
	return s, nil
}

// numberText strips the 0x of a hex quantity, which has at least one digit
// and no leading zero; an empty string is zero.
func numberText(s []byte) ([]byte, error) {
	if len(s) == 0 {
		return nil, nil
	}
	if !has0x(s) {
		return nil, errMissingPrefix
	}
	s = s[2:]
	if len(s) == 0 {
		return nil, errEmptyNumber
	}
	if len(s) > 1 && s[0] == '0' {
		return nil, errLeadingZero
	}
	return s, nil
}

func nibble(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func decodeHex(out, s []byte) error {
	for i := range out {
		hi, ok1 := nibble(s[2*i])
		lo, ok2 := nibble(s[2*i+1])
		if !ok1 || !ok2 {
			return errHexSyntax
		}
		out[i] = hi<<4 | lo
	}
	return nil
}

func unmarshalFixedJSON(b, out []byte, typ reflect.Type) error {
	s, err := jsonString(b, typ)
	if err != nil {
		return err
	}
	raw, err := hexText(s)
	if err != nil {
		return typeError(err, typ)
	}
	if len(raw)/2 != len(out) {
		return fmt.Errorf("hex string has length %d, want %d for %s", len(raw), len(out)*2, typ)
	}
	tmp := make([]byte, len(out))
	if err := decodeHex(tmp, raw); err != nil {
		return typeError(err, typ)
	}
	copy(out, tmp)
	return nil
}

// hexBig is a JSON-RPC quantity of at most 256 bits.
type hexBig big.Int

func (x *hexBig) toInt() *big.Int { return (*big.Int)(x) }

func (x *hexBig) UnmarshalJSON(b []byte) error {
	typ := reflect.TypeFor[hexBig]()
	s, err := jsonString(b, typ)
	if err != nil {
		return err
	}
	raw, err := numberText(s)
	if err != nil {
		return typeError(err, typ)
	}
	if len(raw) > 64 {
		return typeError(errBig256Range, typ)
	}
	padded := raw
	if len(raw)%2 != 0 {
		padded = append([]byte{'0'}, raw...)
	}
	buf := make([]byte, len(padded)/2)
	if err := decodeHex(buf, padded); err != nil {
		return typeError(err, typ)
	}
	x.toInt().SetBytes(buf)
	return nil
}

// hexUint64 is a JSON-RPC quantity of at most 64 bits.
type hexUint64 uint64

func (x *hexUint64) UnmarshalJSON(b []byte) error {
	typ := reflect.TypeFor[hexUint64]()
	s, err := jsonString(b, typ)
	if err != nil {
		return err
	}
	raw, err := numberText(s)
	if err != nil {
		return typeError(err, typ)
	}
	if len(raw) > 16 {
		return typeError(errUint64Range, typ)
	}
	var v uint64
	for _, c := range raw {
		n, ok := nibble(c)
		if !ok {
			return typeError(errHexSyntax, typ)
		}
		v = v<<4 | uint64(n)
	}
	*x = hexUint64(v)
	return nil
}

// hexData is JSON-RPC data: 0x and whole bytes of hex.
type hexData []byte

func (x *hexData) UnmarshalJSON(b []byte) error {
	typ := reflect.TypeFor[hexData]()
	s, err := jsonString(b, typ)
	if err != nil {
		return err
	}
	raw, err := hexText(s)
	if err != nil {
		return typeError(err, typ)
	}
	out := make([]byte, len(raw)/2)
	if err := decodeHex(out, raw); err != nil {
		return typeError(err, typ)
	}
	*x = out
	return nil
}

// RLP, as Ethereum encodes transactions: a byte string is itself when it
// is one byte below 0x80, else a length prefix from 0x80 and the bytes; a
// list is a length prefix from 0xc0 and its items' encodings; an integer is
// its big-endian bytes without leading zeros (zero is the empty string).

func rlpHeader(b []byte, offset byte, n int) []byte {
	if n <= 55 {
		return append(b, offset+byte(n))
	}
	var l [8]byte
	i := len(l)
	for v := uint64(n); v > 0; v >>= 8 {
		i--
		l[i] = byte(v)
	}
	b = append(b, offset+55+byte(len(l)-i))
	return append(b, l[i:]...)
}

func rlpBytes(s []byte) []byte {
	if len(s) == 1 && s[0] < 0x80 {
		return []byte{s[0]}
	}
	return append(rlpHeader(make([]byte, 0, len(s)+9), 0x80, len(s)), s...)
}

func rlpUint(v uint64) []byte {
	var b [8]byte
	i := len(b)
	for ; v > 0; v >>= 8 {
		i--
		b[i] = byte(v)
	}
	return rlpBytes(b[i:])
}

// rlpBig encodes a non-negative integer.
func rlpBig(x *big.Int) []byte {
	if x.Sign() < 0 {
		panic("bridge: rlp: negative integer")
	}
	return rlpBytes(x.Bytes())
}

func rlpList(items ...[]byte) []byte {
	n := 0
	for _, it := range items {
		n += len(it)
	}
	b := rlpHeader(make([]byte, 0, n+9), 0xc0, n)
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}
