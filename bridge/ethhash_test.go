package bridge

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/duetwallet/duet/mpc/curve"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The test vectors of EIP-55.
var eip55Vectors = []string{
	// All caps.
	"0x52908400098527886E0F7030069857D2E4169EE7",
	"0x8617E340B3D01FA5F11F306F4090FD50E238070D",
	// All lower.
	"0xde709f2102306220921060314715629080e2fb77",
	"0x27b1fdb04752bbc536007a920d24acb045561c26",
	// Normal.
	"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
	"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
	"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
	"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
}

func TestChecksumAddress(t *testing.T) {
	for _, want := range eip55Vectors {
		if got := checksumAddress(unhex(t, strings.ToLower(want))); got != want {
			t.Errorf("checksumAddress = %s, want %s", got, want)
		}
	}
	// And as go-ethereum writes addresses, for keys of every kind of digit.
	for i := range 64 {
		var a common.Address
		for j := range a {
			a[j] = byte(i*37 + j*101)
		}
		if got, want := checksumAddress(a[:]), a.Hex(); got != want {
			t.Errorf("checksumAddress = %s, want %s", got, want)
		}
	}
}

func TestAddressHex(t *testing.T) {
	// The address of private key 1 is that of the generator.
	if got, want := AddressHex(curve.Generator()), "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"; got != want {
		t.Errorf("AddressHex(G) = %s, want %s", got, want)
	}
	for range 8 {
		key, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		X, err := curve.ParsePoint(crypto.CompressPubkey(&key.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := AddressHex(X), crypto.PubkeyToAddress(key.PublicKey).Hex(); got != want {
			t.Errorf("AddressHex = %s, want %s", got, want)
		}
	}
}

func TestKeccak(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"},
		{"abc", "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"},
	} {
		if got := hex.EncodeToString(keccak([]byte(tt.in))); got != tt.want {
			t.Errorf("keccak(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestPersonalMessageHash(t *testing.T) {
	// ethers' documented example: hashMessage("Hello World").
	if got, want := hex.EncodeToString(PersonalMessageHash([]byte("Hello World"))), "a1de988600a42c4b4ab089b619297c17d53cffae5d5120d82d8a92d0bb3b78f2"; got != want {
		t.Errorf("PersonalMessageHash(Hello World) = %s, want %s", got, want)
	}
	long := make([]byte, 1000)
	for i := range long {
		long[i] = byte(i)
	}
	// The length is decimal ASCII of the byte count, whatever the bytes.
	for _, msg := range [][]byte{nil, []byte("x"), []byte("héllo, wörld"), {0, 0xff, 0x19}, long} {
		if got, want := PersonalMessageHash(msg), accounts.TextHash(msg); hex.EncodeToString(got) != hex.EncodeToString(want) {
			t.Errorf("PersonalMessageHash(%d bytes) = %x, want %x", len(msg), got, want)
		}
	}
}
