package bridge

import (
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// The example of EIP-155: its signing hash and signed encoding under the
// private key 0x4646…46.
const (
	eip155Tx      = `{"type":"0x0","chainId":"0x1","nonce":"0x9","gasPrice":"0x4a817c800","gas":"0x5208","to":"0x3535353535353535353535353535353535353535","value":"0xde0b6b3a7640000","data":"0x"}`
	eip155Digest  = "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53"
	eip155Signed  = "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
	eip155KeyByte = 0x46
)

func eip155Key(t *testing.T) ([]byte, Address) {
	t.Helper()
	k, err := crypto.ToECDSA([]byte(strings.Repeat(string(rune(eip155KeyByte)), 32)))
	if err != nil {
		t.Fatal(err)
	}
	return crypto.FromECDSA(k), Address(crypto.PubkeyToAddress(k.PublicKey))
}

func TestTransactionEIP155Vector(t *testing.T) {
	tx, err := ParseTransaction([]byte(eip155Tx))
	if err != nil {
		t.Fatal(err)
	}
	digest := TransactionDigest(tx)
	if got := hex.EncodeToString(digest[:]); got != eip155Digest {
		t.Fatalf("digest %s, want %s", got, eip155Digest)
	}
	keyBytes, from := eip155Key(t)
	key, _ := crypto.ToECDSA(keyBytes)
	sig, err := crypto.Sign(digest[:], key)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := AttachSignature(tx, sig, from)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(signed.Raw); got != eip155Signed {
		t.Fatalf("raw %s\nwant %s", got, eip155Signed)
	}
	if signed.From != from {
		t.Errorf("from %s, want %s", signed.From, from)
	}
}

// Each type signs, encodes and decodes back to the same fields and sender.
func TestTransactionTypesRoundTrip(t *testing.T) {
	keyBytes, from := eip155Key(t)
	key, _ := crypto.ToECDSA(keyBytes)
	al := `[{"address":"0x1111111111111111111111111111111111111111","storageKeys":["0x0000000000000000000000000000000000000000000000000000000000000001"]}]`
	cases := []struct {
		name, json string
		typ        uint8
	}{
		{"legacy", `{"type":"0x0","chainId":"0x539","nonce":"0x0","gasPrice":"0x3b9aca00","gas":"0x5208","to":"0x3535353535353535353535353535353535353535","value":"0x1"}`, types.LegacyTxType},
		{"access list", `{"type":"0x1","chainId":"0x539","nonce":"0x1","gasPrice":"0x3b9aca00","gas":"0x6000","to":"0x3535353535353535353535353535353535353535","value":"0x2","data":"0xdeadbeef","accessList":` + al + `}`, types.AccessListTxType},
		{"dynamic fee", `{"type":"0x2","chainId":"0x539","nonce":"0x2","maxFeePerGas":"0x77359400","maxPriorityFeePerGas":"0x3b9aca00","gas":"0x6000","to":"0x3535353535353535353535353535353535353535","value":"0x3","accessList":` + al + `}`, types.DynamicFeeTxType},
		{"contract creation", `{"type":"0x2","chainId":"0x539","nonce":"0x3","maxFeePerGas":"0x77359400","maxPriorityFeePerGas":"0x0","gas":"0x10000","data":"0x60006000fd"}`, types.DynamicFeeTxType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tx, err := ParseTransaction([]byte(c.json))
			if err != nil {
				t.Fatal(err)
			}
			if tx.Type != c.typ {
				t.Fatalf("type %d, want %d", tx.Type, c.typ)
			}
			digest := TransactionDigest(tx)
			sig, err := crypto.Sign(digest[:], key)
			if err != nil {
				t.Fatal(err)
			}
			signed, err := AttachSignature(tx, sig, from)
			if err != nil {
				t.Fatal(err)
			}
			var back types.Transaction
			if err := back.UnmarshalBinary(signed.Raw); err != nil {
				t.Fatal(err)
			}
			if Hash(back.Hash()) != signed.Hash {
				t.Errorf("hash %s, decoded %s", signed.Hash, back.Hash())
			}
			if back.Type() != c.typ || back.Nonce() != tx.Nonce || back.Gas() != tx.Gas ||
				back.Value().Cmp(tx.Value) != 0 || back.ChainId().Cmp(big.NewInt(1337)) != 0 ||
				len(back.AccessList()) != len(tx.AccessList) || hex.EncodeToString(back.Data()) != hex.EncodeToString(tx.Data) {
				t.Errorf("decoded transaction differs: type %d nonce %d gas %d", back.Type(), back.Nonce(), back.Gas())
			}
			if (back.To() == nil) != (tx.To == nil) || (tx.To != nil && Address(*back.To()) != *tx.To) {
				t.Errorf("to %v, want %v", back.To(), tx.To)
			}
			if len(tx.AccessList) > 0 && Hash(back.AccessList()[0].StorageKeys[0]) != tx.AccessList[0].StorageKeys[0] {
				t.Errorf("access list %v, want %v", back.AccessList(), tx.AccessList)
			}
			sender, err := types.Sender(types.LatestSignerForChainID(big.NewInt(1337)), &back)
			if err != nil || Address(sender) != from {
				t.Errorf("sender %s (%v), want %s", sender, err, from)
			}
		})
	}
}

func TestAttachSignatureRejectsAnotherSender(t *testing.T) {
	tx, err := ParseTransaction([]byte(eip155Tx))
	if err != nil {
		t.Fatal(err)
	}
	keyBytes, from := eip155Key(t)
	key, _ := crypto.ToECDSA(keyBytes)
	digest := TransactionDigest(tx)
	sig, _ := crypto.Sign(digest[:], key)

	other := Address(common.HexToAddress("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"))
	if _, err := AttachSignature(tx, sig, other); err == nil {
		t.Error("a signature of another key was attached")
	}
	flipped := append([]byte(nil), sig...)
	flipped[64] ^= 1
	if _, err := AttachSignature(tx, flipped, from); err == nil {
		t.Error("a signature with the wrong recovery id was attached")
	}
	if _, err := AttachSignature(tx, sig[:64], from); err == nil {
		t.Error("a 64-byte signature was attached")
	}
}

func TestParseTransactionRejects(t *testing.T) {
	const to = `"to":"0x3535353535353535353535353535353535353535"`
	cases := map[string]string{
		"not JSON":           `{`,
		"unknown field":      `{"type":"0x0","chainId":"0x1","nonce":"0x0","gasPrice":"0x1","gas":"0x5208",` + to + `,"form":"0x0"}`,
		"no type":            `{"chainId":"0x1","nonce":"0x0","gasPrice":"0x1","gas":"0x5208",` + to + `}`,
		"type 3":             `{"type":"0x3","chainId":"0x1","nonce":"0x0","gas":"0x5208",` + to + `}`,
		"type 4":             `{"type":"0x4","chainId":"0x1","nonce":"0x0","gas":"0x5208",` + to + `}`,
		"no chain id":        `{"type":"0x0","nonce":"0x0","gasPrice":"0x1","gas":"0x5208",` + to + `}`,
		"zero chain id":      `{"type":"0x0","chainId":"0x0","nonce":"0x0","gasPrice":"0x1","gas":"0x5208",` + to + `}`,
		"no nonce":           `{"type":"0x0","chainId":"0x1","gasPrice":"0x1","gas":"0x5208",` + to + `}`,
		"no gas":             `{"type":"0x0","chainId":"0x1","nonce":"0x0","gasPrice":"0x1",` + to + `}`,
		"zero gas":           `{"type":"0x0","chainId":"0x1","nonce":"0x0","gasPrice":"0x1","gas":"0x0",` + to + `}`,
		"decimal nonce":      `{"type":"0x0","chainId":"0x1","nonce":9,"gasPrice":"0x1","gas":"0x5208",` + to + `}`,
		"bad hex value":      `{"type":"0x0","chainId":"0x1","nonce":"0x0","gasPrice":"0x1","gas":"0x5208",` + to + `,"value":"0xzz"}`,
		"short address":      `{"type":"0x0","chainId":"0x1","nonce":"0x0","gasPrice":"0x1","gas":"0x5208","to":"0x3535"}`,
		"odd data":           `{"type":"0x0","chainId":"0x1","nonce":"0x0","gasPrice":"0x1","gas":"0x5208",` + to + `,"data":"0xabc"}`,
		"legacy no price":    `{"type":"0x0","chainId":"0x1","nonce":"0x0","gas":"0x5208",` + to + `}`,
		"legacy 1559 fees":   `{"type":"0x0","chainId":"0x1","nonce":"0x0","gasPrice":"0x1","maxFeePerGas":"0x1","gas":"0x5208",` + to + `}`,
		"legacy access list": `{"type":"0x0","chainId":"0x1","nonce":"0x0","gasPrice":"0x1","gas":"0x5208",` + to + `,"accessList":[{"address":"0x3535353535353535353535353535353535353535","storageKeys":[]}]}`,
		"1559 no tip":        `{"type":"0x2","chainId":"0x1","nonce":"0x0","maxFeePerGas":"0x2","gas":"0x5208",` + to + `}`,
		"1559 gas price":     `{"type":"0x2","chainId":"0x1","nonce":"0x0","maxFeePerGas":"0x2","maxPriorityFeePerGas":"0x1","gasPrice":"0x1","gas":"0x5208",` + to + `}`,
		"1559 tip over cap":  `{"type":"0x2","chainId":"0x1","nonce":"0x0","maxFeePerGas":"0x1","maxPriorityFeePerGas":"0x2","gas":"0x5208",` + to + `}`,
		"trailing data":      `{"type":"0x0","chainId":"0x1","nonce":"0x0","gasPrice":"0x1","gas":"0x5208",` + to + `} {}`,
	}
	for name, in := range cases {
		if _, err := ParseTransaction([]byte(in)); !errors.Is(err, ErrInvalidTransaction) {
			t.Errorf("%s: err %v, want ErrInvalidTransaction", name, err)
		}
	}
}

// The example of EIP-712 (the Mail type) and its digest from the EIP, in
// the canonical form the SDK sends.
const mailTypedData = `{
  "types": {
    "EIP712Domain": [
      {"name": "name", "type": "string"},
      {"name": "version", "type": "string"},
      {"name": "chainId", "type": "uint256"},
      {"name": "verifyingContract", "type": "address"}
    ],
    "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
    "Mail": [{"name": "from", "type": "Person"}, {"name": "to", "type": "Person"}, {"name": "contents", "type": "string"}]
  },
  "primaryType": "Mail",
  "domain": {"name": "Ether Mail", "version": "1", "chainId": "1", "verifyingContract": "0xcccccccccccccccccccccccccccccccccccccccc"},
  "message": {
    "from": {"name": "Cow", "wallet": "0xcd2a3d9f938e13cd947ec05abc7fe734df8dd826"},
    "to": {"name": "Bob", "wallet": "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},
    "contents": "Hello, Bob!"
  }
}`

func TestTypedDataHashEIP712Vector(t *testing.T) {
	h, err := TypedDataHash([]byte(mailTypedData))
	if err != nil {
		t.Fatal(err)
	}
	const want = "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"
	if got := hex.EncodeToString(h); got != want {
		t.Fatalf("digest %s, want %s", got, want)
	}
}

func TestTypedDataHashRejects(t *testing.T) {
	cases := map[string]string{
		"not JSON":        `{"types":`,
		"no primary type": strings.Replace(mailTypedData, `"primaryType": "Mail",`, ``, 1),
		"unknown primary": strings.Replace(mailTypedData, `"primaryType": "Mail"`, `"primaryType": "Letter"`, 1),
		"no domain type":  strings.Replace(mailTypedData, `"EIP712Domain"`, `"Domain"`, 1),
		"bad address":     strings.Replace(mailTypedData, `"0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"`, `"0xbB"`, 1),
		"missing field":   strings.Replace(mailTypedData, `"contents": "Hello, Bob!"`, `"content": "Hello, Bob!"`, 1),
		"bad field type":  strings.Replace(mailTypedData, `{"name": "contents", "type": "string"}`, `{"name": "contents", "type": "strung"}`, 1),
	}
	for name, in := range cases {
		if _, err := TypedDataHash([]byte(in)); !errors.Is(err, ErrInvalidTypedData) {
			t.Errorf("%s: err %v, want ErrInvalidTypedData", name, err)
		}
	}
}

// Each of these is read by go-ethereum's lenient decoding as something other
// than what a strict reader (and the user) sees, or hashed differently by
// other implementations; all are refused.
func TestTypedDataHashRefusesNonCanonical(t *testing.T) {
	if _, err := TypedDataHash([]byte(mailTypedData)); err != nil {
		t.Fatalf("the canonical form is refused: %v", err)
	}
	cases := map[string]string{
		"case-variant domain key": strings.Replace(mailTypedData, `"chainId": "1",`, `"chainId": "1", "chainid": "1337",`, 1),
		"duplicate domain key":    strings.Replace(mailTypedData, `"chainId": "1",`, `"chainId": "1", "chainId": "1337",`, 1),
		"case-variant top key":    strings.Replace(mailTypedData, `"primaryType": "Mail",`, `"primaryType": "Mail", "Message": {"contents": "x"},`, 1),
		"capitalised top key":     strings.Replace(mailTypedData, `"message":`, `"Message":`, 1),
		"duplicate message key":   strings.Replace(mailTypedData, `"contents": "Hello, Bob!"`, `"contents": "Hello, Bob!", "contents": "Bye"`, 1),
		"duplicate type entry key": strings.Replace(mailTypedData, `{"name": "contents", "type": "string"}`,
			`{"name": "contents", "type": "string", "type": "bytes"}`, 1),
		"unknown domain key":   strings.Replace(mailTypedData, `"version": "1",`, `"version": "1", "extra": "x",`, 1),
		"number chain id":      strings.Replace(mailTypedData, `"chainId": "1"`, `"chainId": 1`, 1),
		"hex chain id":         strings.Replace(mailTypedData, `"chainId": "1"`, `"chainId": "0x1"`, 1),
		"checksummed address":  strings.Replace(mailTypedData, `0xcd2a3d9f938e13cd947ec05abc7fe734df8dd826`, `0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826`, 1),
		"domain out of order":  strings.Replace(mailTypedData, `{"name": "name", "type": "string"},`+"\n"+`      {"name": "version", "type": "string"},`, `{"name": "version", "type": "string"},`+"\n"+`      {"name": "name", "type": "string"},`, 1),
		"domain field missing": strings.Replace(mailTypedData, `"version": "1", `, ``, 1),
		"extra message field":  strings.Replace(mailTypedData, `"contents": "Hello, Bob!"`, `"contents": "Hello, Bob!", "cc": "x"`, 1),
		"uint alias":           strings.Replace(mailTypedData, `{"name": "contents", "type": "string"}`, `{"name": "contents", "type": "string"}, {"name": "n", "type": "uint"}`, 1),
		"trailing data":        mailTypedData + `{}`,
		"primary EIP712Domain": strings.Replace(mailTypedData, `"primaryType": "Mail"`, `"primaryType": "EIP712Domain"`, 1),
		"recursive type":       strings.Replace(mailTypedData, `{"name": "wallet", "type": "address"}`, `{"name": "wallet", "type": "address"}, {"name": "friend", "type": "Person[]"}`, 1),
	}
	for name, in := range cases {
		if _, err := TypedDataHash([]byte(in)); !errors.Is(err, ErrInvalidTypedData) {
			t.Errorf("%s: err %v, want ErrInvalidTypedData", name, err)
		}
	}
	alias := strings.Replace(mailTypedData, `{"name": "contents", "type": "string"}`, `{"name": "contents", "type": "int"}`, 1)
	if _, err := TypedDataHash([]byte(alias)); !errors.Is(err, ErrTypeAlias) {
		t.Errorf("int alias: err %v, want ErrTypeAlias", err)
	}
}

func TestTypedDataHashChecksIntegerRanges(t *testing.T) {
	doc := func(typ, v string) string {
		return `{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"T":[{"name":"v","type":"` + typ + `"}]},` +
			`"primaryType":"T","domain":{"name":"x"},"message":{"v":"` + v + `"}}`
	}
	ok := [][2]string{{"int8", "-128"}, {"int8", "127"}, {"uint8", "255"}, {"uint8", "0"},
		{"uint256", "115792089237316195423570985008687907853269984665640564039457584007913129639935"}}
	bad := [][2]string{{"int8", "128"}, {"int8", "-129"}, {"uint8", "256"}, {"uint8", "-1"}, {"uint8", "01"},
		{"uint8", "-0"}, {"uint8", ""}, {"uint8", "0x1"}, {"uint8", "1e2"},
		{"uint256", "115792089237316195423570985008687907853269984665640564039457584007913129639936"}}
	for _, c := range ok {
		if _, err := TypedDataHash([]byte(doc(c[0], c[1]))); err != nil {
			t.Errorf("%s %s: %v", c[0], c[1], err)
		}
	}
	for _, c := range bad {
		if _, err := TypedDataHash([]byte(doc(c[0], c[1]))); !errors.Is(err, ErrInvalidTypedData) {
			t.Errorf("%s %q: err %v, want ErrInvalidTypedData", c[0], c[1], err)
		}
	}
}

func TestParseTransactionRefusesCaseVariantAndDuplicateKeys(t *testing.T) {
	base := `{"type":"0x2","chainId":"0x539","nonce":"0x2","maxFeePerGas":"0x2","maxPriorityFeePerGas":"0x1","gas":"0x6000"}`
	if _, err := ParseTransaction([]byte(base)); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]string{
		"case variant":     strings.Replace(base, `"chainId":"0x539"`, `"chainId":"0x539","chainid":"0x1"`, 1),
		"capitalised":      strings.Replace(base, `"chainId"`, `"ChainId"`, 1),
		"duplicate":        strings.Replace(base, `"nonce":"0x2"`, `"nonce":"0x2","nonce":"0x3"`, 1),
		"access list case": strings.Replace(base, `"gas":"0x6000"`, `"gas":"0x6000","accessList":[{"Address":"0x0000000000000000000000000000000000000001","storageKeys":[]}]`, 1),
		"leading zero":     strings.Replace(base, `"nonce":"0x2"`, `"nonce":"0x02"`, 1),
	} {
		if _, err := ParseTransaction([]byte(in)); !errors.Is(err, ErrInvalidTransaction) {
			t.Errorf("%s: err %v, want ErrInvalidTransaction", name, err)
		}
	}
}

func FuzzTypedDataHash(f *testing.F) {
	f.Add([]byte(mailTypedData))
	f.Add([]byte(`{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"T":[{"name":"v","type":"int8[2]"}]},"primaryType":"T","domain":{"name":"x"},"message":{"v":["-1","1"]}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, err := TypedDataHash(in); err != nil && !errors.Is(err, ErrInvalidTypedData) {
			t.Fatalf("error %v does not wrap ErrInvalidTypedData", err)
		}
	})
}

func FuzzParseTransaction(f *testing.F) {
	f.Add([]byte(eip155Tx))
	f.Add([]byte(`{"type":"0x2","chainId":"0x539","nonce":"0x2","maxFeePerGas":"0x2","maxPriorityFeePerGas":"0x1","gas":"0x6000"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		tx, err := ParseTransaction(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidTransaction) {
				t.Fatalf("error %v does not wrap ErrInvalidTransaction", err)
			}
			return
		}
		// Whatever parses must hash and encode.
		TransactionDigest(tx)
		if _, err := tx.MarshalBinarySigned(make([]byte, 65)); err != nil {
			t.Fatal(err)
		}
	})
}
