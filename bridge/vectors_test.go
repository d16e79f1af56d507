package bridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
)

// A random EIP-712 document, built twice: as the canonical JSON the SDK
// sends, and as go-ethereum's own values (big.Int, []byte), so that the
// digest of the JSON path can be compared with go-ethereum's on native data.
type randomTypedData struct {
	json   []byte
	native apitypes.TypedData
}

type genField struct{ name, typ string }

// orderedJSON writes JSON objects with their keys in a given order, as the
// SDK's canonical form has them.
type orderedJSON struct{ bytes.Buffer }

func (w *orderedJSON) str(s string) {
	b, _ := json.Marshal(s)
	w.Write(b)
}

type typedGen struct {
	r     *mrand.Rand
	types map[string][]genField
}

var primitiveKinds = []string{"address", "bool", "string", "bytes", "bytesN", "int", "uint"}

func (g *typedGen) primitive() string {
	switch k := primitiveKinds[g.r.IntN(len(primitiveKinds))]; k {
	case "bytesN":
		return "bytes" + strconv.Itoa(1+g.r.IntN(32))
	case "int", "uint":
		return k + strconv.Itoa(8*(1+g.r.IntN(32)))
	default:
		return k
	}
}

func (g *typedGen) arrayOf(t string) string {
	if g.r.IntN(2) == 0 {
		return t + "[]"
	}
	return t + "[" + strconv.Itoa(1+g.r.IntN(3)) + "]"
}

func newRandomTypedData(r *mrand.Rand) randomTypedData {
	g := &typedGen{r: r, types: map[string][]genField{}}
	n := 1 + r.IntN(4)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("T%d_%c", i, 'a'+rune(r.IntN(26)))
	}
	for i, name := range names {
		var fields []genField
		for j := range 1 + r.IntN(5) {
			t := g.primitive()
			switch r.IntN(6) {
			case 0:
				t = g.arrayOf(t)
			case 1:
				t = g.arrayOf(g.arrayOf(t))
			case 2:
				if i+1 < n {
					t = names[i+1+r.IntN(n-i-1)]
					if r.IntN(2) == 0 {
						t = g.arrayOf(t)
					}
				}
			}
			fields = append(fields, genField{fmt.Sprintf("f%d", j), t})
		}
		g.types[name] = fields
	}
	// Every type is reachable from the primary one, as ethers requires.
	for i := 1; i < n; i++ {
		parent := names[r.IntN(i)]
		g.types[parent] = append(g.types[parent], genField{fmt.Sprintf("ref%d", i), names[i]})
	}
	var domainType []genField
	domainJSON := map[string]string{}
	native := apitypes.TypedDataDomain{}
	for len(domainType) == 0 {
		for _, f := range domainFields {
			if r.IntN(2) == 0 {
				continue
			}
			domainType = append(domainType, genField{f[0], f[1]})
			switch f[0] {
			case "name", "version":
				s := g.text(1)
				domainJSON[f[0]] = s
				if f[0] == "name" {
					native.Name = s
				} else {
					native.Version = s
				}
			case "chainId":
				c := new(big.Int).SetUint64(r.Uint64() >> r.IntN(64))
				c.Add(c, big.NewInt(1))
				domainJSON[f[0]] = c.String()
				native.ChainId = (*math.HexOrDecimal256)(c)
			case "verifyingContract":
				a := g.bytes(20)
				domainJSON[f[0]] = hexutil.Encode(a)
				native.VerifyingContract = hexutil.Encode(a)
			case "salt":
				s := g.bytes(32)
				domainJSON[f[0]] = hexutil.Encode(s)
				native.Salt = hexutil.Encode(s)
			}
		}
	}
	g.types["EIP712Domain"] = domainType

	var w orderedJSON
	w.WriteString(`{"types":{`)
	sorted := append([]string{"EIP712Domain"}, names...)
	sortStrings(sorted)
	apiTypes := apitypes.Types{}
	for i, name := range sorted {
		if i > 0 {
			w.WriteByte(',')
		}
		w.str(name)
		w.WriteString(":[")
		for j, f := range g.types[name] {
			if j > 0 {
				w.WriteByte(',')
			}
			w.WriteString(`{"name":`)
			w.str(f.name)
			w.WriteString(`,"type":`)
			w.str(f.typ)
			w.WriteByte('}')
			apiTypes[name] = append(apiTypes[name], apitypes.Type{Name: f.name, Type: f.typ})
		}
		w.WriteByte(']')
	}
	w.WriteString(`},"primaryType":`)
	w.str(names[0])
	w.WriteString(`,"domain":{`)
	for i, f := range domainType {
		if i > 0 {
			w.WriteByte(',')
		}
		w.str(f.name)
		w.WriteByte(':')
		w.str(domainJSON[f.name])
	}
	w.WriteString(`},"message":`)
	msg := g.structValue(&w, names[0])
	w.WriteByte('}')
	return randomTypedData{
		json:   bytes.Clone(w.Bytes()),
		native: apitypes.TypedData{Types: apiTypes, PrimaryType: names[0], Domain: native, Message: msg},
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func (g *typedGen) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.UintN(256))
	}
	return b
}

func (g *typedGen) text(min int) string {
	alphabet := []rune("abcXYZ 09_-\"\\é漢🙂\n")
	n := min + g.r.IntN(12)
	out := make([]rune, n)
	for i := range out {
		out[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(out)
}

func (g *typedGen) structValue(w *orderedJSON, name string) map[string]any {
	out := map[string]any{}
	w.WriteByte('{')
	for i, f := range g.types[name] {
		if i > 0 {
			w.WriteByte(',')
		}
		w.str(f.name)
		w.WriteByte(':')
		out[f.name] = g.value(w, f.typ)
	}
	w.WriteByte('}')
	return out
}

func (g *typedGen) value(w *orderedJSON, typ string) any {
	if m := arrayPattern.FindStringSubmatch(typ); m != nil {
		n := g.r.IntN(3)
		if m[2] != "" {
			n, _ = strconv.Atoi(m[2])
		}
		items := []any{}
		w.WriteByte('[')
		for i := range n {
			if i > 0 {
				w.WriteByte(',')
			}
			items = append(items, g.value(w, m[1]))
		}
		w.WriteByte(']')
		return items
	}
	if _, ok := g.types[typ]; ok {
		return g.structValue(w, typ)
	}
	switch {
	case typ == "address":
		a := hexutil.Encode(g.bytes(20))
		w.str(a)
		return a
	case typ == "bool":
		b := g.r.IntN(2) == 0
		if b {
			w.WriteString("true")
		} else {
			w.WriteString("false")
		}
		return b
	case typ == "string":
		s := g.text(0)
		w.str(s)
		return s
	case typ == "bytes":
		b := g.bytes(g.r.IntN(40))
		w.str(hexutil.Encode(b))
		return b
	case strings.HasPrefix(typ, "bytes"):
		n, _ := strconv.Atoi(typ[5:])
		b := g.bytes(n)
		w.str(hexutil.Encode(b))
		return b
	}
	m := intPattern.FindStringSubmatch(typ)
	bits, _ := strconv.Atoi(m[2])
	signed := m[1] == ""
	v := new(big.Int)
	switch g.r.IntN(4) {
	case 0: // the edges of the range
		v.Lsh(big.NewInt(1), uint(bits))
		if signed {
			v.Rsh(v, 1)
			if g.r.IntN(2) == 0 {
				v.Neg(v)
			} else {
				v.Sub(v, big.NewInt(1))
			}
		} else {
			v.Sub(v, big.NewInt(1))
		}
	case 1:
		v.SetInt64(int64(g.r.IntN(3)))
	default:
		width := bits
		if signed {
			width--
		}
		for i := range width {
			if g.r.IntN(2) == 0 {
				v.SetBit(v, i, 1)
			}
		}
		if signed && g.r.IntN(2) == 0 {
			v.Neg(v)
		}
	}
	w.str(v.String())
	return new(big.Int).Set(v)
}

// TestTypedDataRandomAgainstGoEthereum hashes random typed data in the
// SDK's canonical JSON and compares the digest with go-ethereum's on the
// same document in native values.
func TestTypedDataRandomAgainstGoEthereum(t *testing.T) {
	seed := mrand.Uint64()
	r := mrand.New(mrand.NewPCG(seed, 712))
	for i := range 300 {
		doc := newRandomTypedData(r)
		got, err := TypedDataHash(doc.json)
		if err != nil {
			t.Fatalf("seed %d, document %d: %v\n%s", seed, i, err, doc.json)
		}
		want, _, err := apitypes.TypedDataAndHash(doc.native)
		if err != nil {
			t.Fatalf("seed %d, document %d: go-ethereum: %v\n%s", seed, i, err, doc.json)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("seed %d, document %d: digest %x, go-ethereum %x\n%s", seed, i, got, want, doc.json)
		}
	}
}

type typedVector struct {
	TypedData json.RawMessage `json:"typedData"`
	Digest    string          `json:"digest"`
}

type txVector struct {
	Transaction json.RawMessage `json:"transaction"`
	SigningHash string          `json:"signingHash"`
}

func randomTransaction(r *mrand.Rand) (map[string]any, *types.Transaction, types.Signer) {
	g := &typedGen{r: r}
	q := func(bits int) *big.Int {
		v := new(big.Int)
		n := r.IntN(bits + 1)
		for i := range n {
			if r.IntN(2) == 0 || i == n-1 {
				v.SetBit(v, i, 1)
			}
		}
		return v
	}
	typ := uint64(r.IntN(3))
	chainID := new(big.Int).Add(q(64), big.NewInt(1))
	// ethers holds a nonce in a JavaScript number.
	nonce := q(52).Uint64()
	gas := new(big.Int).Add(q(62), big.NewInt(1)).Uint64()
	value := q(256)
	data := g.bytes(r.IntN(80))
	var to *common.Address
	if r.IntN(5) != 0 {
		a := common.BytesToAddress(g.bytes(20))
		to = &a
	}
	var al types.AccessList
	for range r.IntN(3) {
		tuple := types.AccessTuple{Address: common.BytesToAddress(g.bytes(20)), StorageKeys: []common.Hash{}}
		for range r.IntN(3) {
			tuple.StorageKeys = append(tuple.StorageKeys, common.BytesToHash(g.bytes(32)))
		}
		al = append(al, tuple)
	}
	fields := map[string]any{
		"type": hexutil.EncodeUint64(typ), "chainId": hexutil.EncodeBig(chainID), "nonce": hexutil.EncodeUint64(nonce),
		"value": hexutil.EncodeBig(value), "data": hexutil.Encode(data), "gas": hexutil.EncodeUint64(gas),
	}
	if to != nil {
		fields["to"] = strings.ToLower(to.Hex())
	}
	var inner types.TxData
	switch typ {
	case 0:
		price := q(256)
		fields["gasPrice"] = hexutil.EncodeBig(price)
		inner = &types.LegacyTx{Nonce: nonce, GasPrice: price, Gas: gas, To: to, Value: value, Data: data}
	case 1:
		price := q(256)
		fields["gasPrice"] = hexutil.EncodeBig(price)
		fields["accessList"] = al
		inner = &types.AccessListTx{ChainID: chainID, Nonce: nonce, GasPrice: price, Gas: gas, To: to, Value: value, Data: data, AccessList: al}
	case 2:
		feeCap := q(256)
		tip := new(big.Int).Rsh(feeCap, uint(r.IntN(8)))
		fields["maxFeePerGas"] = hexutil.EncodeBig(feeCap)
		fields["maxPriorityFeePerGas"] = hexutil.EncodeBig(tip)
		fields["accessList"] = al
		inner = &types.DynamicFeeTx{ChainID: chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: gas, To: to, Value: value, Data: data, AccessList: al}
	}
	return fields, types.NewTx(inner), types.LatestSignerForChainID(chainID)
}

// TestTransactionRandomAgainstGoEthereum parses random transactions from the
// SDK's JSON and compares the hash that is signed, and the signed encoding
// and its hash, with go-ethereum's for the transaction built directly.
func TestTransactionRandomAgainstGoEthereum(t *testing.T) {
	seed := mrand.Uint64()
	r := mrand.New(mrand.NewPCG(seed, 155))
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	from := Address(crypto.PubkeyToAddress(key.PublicKey))
	for i := range 300 {
		fields, want, wantSigner := randomTransaction(r)
		b, _ := json.Marshal(fields)
		tx, err := ParseTransaction(b)
		if err != nil {
			t.Fatalf("seed %d, transaction %d: %v\n%s", seed, i, err, b)
		}
		digest := TransactionDigest(tx)
		if h := wantSigner.Hash(want); digest != [32]byte(h) {
			t.Fatalf("seed %d, transaction %d: signing hash %x, go-ethereum %x\n%s", seed, i, digest, h, b)
		}
		sig, err := crypto.Sign(digest[:], key)
		if err != nil {
			t.Fatal(err)
		}
		signed, err := AttachSignature(tx, sig, from)
		if err != nil {
			t.Fatalf("seed %d, transaction %d: %v", seed, i, err)
		}
		ref, err := want.WithSignature(wantSigner, sig)
		if err != nil {
			t.Fatal(err)
		}
		refRaw, err := ref.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(signed.Raw, refRaw) || signed.Hash != Hash(ref.Hash()) {
			t.Fatalf("seed %d, transaction %d: signed %x (hash %s), go-ethereum %x (hash %s)", seed, i, signed.Raw, signed.Hash, refRaw, ref.Hash())
		}
	}
}

// TestVectorFiles checks the vector files the SDK's Node tests compare with
// ethers: each was made by go-ethereum from a fixed seed. With -update (the
// flag of backup_test.go) they are written again.
func TestVectorFiles(t *testing.T) {
	r := mrand.New(mrand.NewPCG(2026, 12))
	var typed []typedVector
	for range 40 {
		doc := newRandomTypedData(r)
		want, _, err := apitypes.TypedDataAndHash(doc.native)
		if err != nil {
			t.Fatal(err)
		}
		got, err := TypedDataHash(doc.json)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("digest %x (%v), go-ethereum %x\n%s", got, err, want, doc.json)
		}
		typed = append(typed, typedVector{TypedData: doc.json, Digest: hexutil.Encode(want)})
	}
	var txs []txVector
	for range 40 {
		fields, tx, txSigner := randomTransaction(r)
		b, _ := json.Marshal(fields)
		parsed, err := ParseTransaction(b)
		if err != nil {
			t.Fatal(err)
		}
		h := TransactionDigest(parsed)
		if want := txSigner.Hash(tx); h != [32]byte(want) {
			t.Fatalf("signing hash %x, go-ethereum %x", h, want)
		}
		txs = append(txs, txVector{Transaction: b, SigningHash: hexutil.Encode(h[:])})
	}
	for name, v := range map[string][]any{"eip712-vectors.json": anySlice(typed), "tx-vectors.json": anySlice(txs)} {
		// One vector a line.
		var b []byte
		for i, e := range v {
			line, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				b = append(b, "[\n"...)
			} else {
				b = append(b, ",\n"...)
			}
			b = append(b, line...)
		}
		b = append(b, "\n]\n"...)
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		old, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestVectorFiles -update ./bridge/)", err)
		}
		if !bytes.Equal(old, b) {
			t.Errorf("%s is not what go-ethereum makes from its seed; run go test -run TestVectorFiles -update ./bridge/", path)
		}
	}
}

func anySlice[T any](s []T) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
