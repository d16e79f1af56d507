package bridge

import (
	"bytes"
	"encoding/json"
	"math/big"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rlp"
)

// hexInputs are JSON values at the edges of go-ethereum's hex rules.
var hexInputs = []string{
	`""`, `"0x"`, `"0X"`, `"0x0"`, `"0x00"`, `"0x01"`, `"0x1"`, `"0xf"`, `"0xF"`, `"0Xabc"`, `"0xABcd"`,
	`"0xg"`, `"0x0g"`, `"0xgg"`, `"12"`, `"x12"`, `"0x-1"`, `"0x+1"`, `" 0x1"`, `"0x1 "`, `"\u0030x1"`,
	`0`, `1`, `null`, `true`, `[]`, `{}`, `"0x` + strings.Repeat("f", 16) + `"`, `"0x1` + strings.Repeat("0", 16) + `"`,
	`"0x` + strings.Repeat("f", 64) + `"`, `"0x1` + strings.Repeat("0", 64) + `"`, `"0x0` + strings.Repeat("f", 64) + `"`,
	`"0x` + strings.Repeat("ab", 20) + `"`, `"0x` + strings.Repeat("AB", 20) + `"`, `"0X` + strings.Repeat("aB", 20) + `"`,
	`"0x` + strings.Repeat("ab", 19) + `"`, `"0x` + strings.Repeat("ab", 21) + `"`, `"0x` + strings.Repeat("a", 41) + `"`,
	`"0x` + strings.Repeat("ab", 19) + `zz"`, `"` + strings.Repeat("ab", 20) + `"`,
	`"0x` + strings.Repeat("cd", 32) + `"`, `"0x` + strings.Repeat("cd", 31) + `c"`, `"0x` + strings.Repeat("cd", 31) + `cx"`,
}

// sameHexDecoding checks that the device's JSON-RPC value types accept
// exactly what go-ethereum's accept, as the same values.
func sameHexDecoding(t *testing.T, in []byte) {
	t.Helper()
	decode := func(v any) error { return json.Unmarshal(in, v) }
	var big1 hexBig
	var big2 hexutil.Big
	err1, err2 := decode(&big1), decode(&big2)
	if (err1 == nil) != (err2 == nil) || err1 == nil && big1.toInt().Cmp(big2.ToInt()) != 0 {
		t.Errorf("quantity %s: %v (%v), go-ethereum %v (%v)", in, big1.toInt(), err1, big2.ToInt(), err2)
	}
	var u1 hexUint64
	var u2 hexutil.Uint64
	err1, err2 = decode(&u1), decode(&u2)
	if (err1 == nil) != (err2 == nil) || err1 == nil && uint64(u1) != uint64(u2) {
		t.Errorf("uint64 %s: %d (%v), go-ethereum %d (%v)", in, u1, err1, u2, err2)
	}
	var b1 hexData
	var b2 hexutil.Bytes
	err1, err2 = decode(&b1), decode(&b2)
	if (err1 == nil) != (err2 == nil) || err1 == nil && !bytes.Equal(b1, b2) {
		t.Errorf("data %s: %x (%v), go-ethereum %x (%v)", in, b1, err1, b2, err2)
	}
	var a1 Address
	var a2 common.Address
	err1, err2 = decode(&a1), decode(&a2)
	if (err1 == nil) != (err2 == nil) || a1 != Address(a2) {
		t.Errorf("address %s: %x (%v), go-ethereum %x (%v)", in, a1, err1, a2, err2)
	}
	if err1 == nil && a1.Hex() != a2.Hex() {
		t.Errorf("address %s written %s, go-ethereum %s", in, a1.Hex(), a2.Hex())
	}
	var h1 Hash
	var h2 common.Hash
	err1, err2 = decode(&h1), decode(&h2)
	if (err1 == nil) != (err2 == nil) || h1 != Hash(h2) {
		t.Errorf("hash %s: %x (%v), go-ethereum %x (%v)", in, h1, err1, h2, err2)
	}
	if err1 == nil && h1.Hex() != h2.Hex() {
		t.Errorf("hash %s written %s, go-ethereum %s", in, h1.Hex(), h2.Hex())
	}
}

func TestHexValuesAgainstGoEthereum(t *testing.T) {
	for _, in := range hexInputs {
		sameHexDecoding(t, []byte(in))
	}
	// Inside a transaction's fields, a bad value names its field.
	var f txFields
	err := json.Unmarshal([]byte(`{"nonce":"0x01"}`), &f)
	if err == nil || !strings.Contains(err.Error(), "nonce") || !strings.Contains(err.Error(), "leading zero") {
		t.Errorf("a nonce with a leading zero: %v, want an error naming the field and the rule", err)
	}
}

func FuzzHexValues(f *testing.F) {
	for _, in := range hexInputs {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		sameHexDecoding(t, in)
	})
}

func TestRLPAgainstGoEthereum(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	lengths := []int{0, 1, 2, 55, 56, 255, 256, 1024, 65535, 65536, 70000}
	for _, n := range lengths {
		for _, first := range []byte{0x00, 0x7f, 0x80, 0xff} {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			if n > 0 {
				b[0] = first
			}
			want, _ := rlp.EncodeToBytes(b)
			if got := rlpBytes(b); !bytes.Equal(got, want) {
				t.Errorf("bytes of length %d from %#x: %x, go-ethereum %x", n, first, got[:min(len(got), 8)], want[:min(len(want), 8)])
			}
		}
	}
	for _, v := range []uint64{0, 1, 0x7f, 0x80, 0xff, 0x100, 1<<56 - 1, 1 << 56, 1<<64 - 1} {
		want, _ := rlp.EncodeToBytes(v)
		if got := rlpUint(v); !bytes.Equal(got, want) {
			t.Errorf("uint %d: %x, go-ethereum %x", v, got, want)
		}
		x := new(big.Int).SetUint64(v)
		x.Lsh(x, uint(r.IntN(200)))
		want, _ = rlp.EncodeToBytes(x)
		if got := rlpBig(x); !bytes.Equal(got, want) {
			t.Errorf("big %v: %x, go-ethereum %x", x, got, want)
		}
	}
	// Lists around the long-list boundary, and nested.
	for _, n := range []int{0, 1, 27, 28, 200, 40000} {
		items := make([][]byte, n)
		raw := make([][]byte, n)
		for i := range items {
			raw[i] = []byte{byte(i), byte(i >> 8)}
			items[i] = rlpBytes(raw[i])
		}
		want, _ := rlp.EncodeToBytes([]any{raw, raw})
		if got := rlpList(rlpList(items...), rlpList(items...)); !bytes.Equal(got, want) {
			t.Errorf("list of %d items: %x…, go-ethereum %x…", n, got[:min(len(got), 8)], want[:min(len(want), 8)])
		}
	}
}
