package bridge

import (
	"encoding/hex"
	"math/big"
	"slices"
	"strings"
)

// EIP-712's hashStruct over typed data that checkCanonicalTypedData has
// checked: every value is present, of its type and in range, so encoding
// cannot fail.

// hash is keccak256("\x19\x01" ‖ hashStruct(EIP712Domain, domain) ‖
// hashStruct(primaryType, message)).
func (td *typedData) hash() []byte {
	b := []byte{0x19, 0x01}
	b = append(b, td.hashStruct("EIP712Domain", td.domain)...)
	b = append(b, td.hashStruct(td.primary, td.message)...)
	return keccak(b)
}

// encodeType is the type's signature, "Name(type name,…)", followed by the
// signatures of the struct types it refers to, directly or not, in
// alphabetical order.
func (td *typedData) encodeType(name string) string {
	seen := map[string]bool{name: true}
	var deps []string
	var walk func(string)
	walk = func(n string) {
		for _, f := range td.types[n] {
			t := f.typ
			for t.elem != nil {
				t = t.elem
			}
			if t.struc != "" && !seen[t.struc] {
				seen[t.struc] = true
				deps = append(deps, t.struc)
				walk(t.struc)
			}
		}
	}
	walk(name)
	slices.Sort(deps)
	var sb strings.Builder
	for _, n := range append([]string{name}, deps...) {
		sb.WriteString(n)
		sb.WriteByte('(')
		for i, f := range td.types[n] {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(f.raw)
			sb.WriteByte(' ')
			sb.WriteString(f.name)
		}
		sb.WriteByte(')')
	}
	return sb.String()
}

// hashStruct is keccak256(typeHash ‖ encodeData(o)).
func (td *typedData) hashStruct(name string, o *jsonObject) []byte {
	b := keccak([]byte(td.encodeType(name)))
	for _, f := range td.types[name] {
		b = append(b, td.encodeValue(f.typ, o.vals[f.name])...)
	}
	return keccak(b)
}

// encodeValue is the 32-byte word of v in encodeData: arrays and dynamic
// values by their hash, structs by hashStruct, the rest in place.
func (td *typedData) encodeValue(t *eip712Type, v any) []byte {
	if t.elem != nil {
		var b []byte
		for _, e := range v.([]any) {
			b = append(b, td.encodeValue(t.elem, e)...)
		}
		return keccak(b)
	}
	if t.struc != "" {
		return td.hashStruct(t.struc, v.(*jsonObject))
	}
	word := make([]byte, 32)
	switch t.kind {
	case "bool":
		if v.(bool) {
			word[31] = 1
		}
	case "string":
		return keccak([]byte(v.(string)))
	case "bytes":
		return keccak(hexBytes(v.(string)))
	case "bytesN":
		copy(word, hexBytes(v.(string)))
	case "address":
		copy(word[12:], hexBytes(v.(string)))
	case "int":
		n, _ := new(big.Int).SetString(v.(string), 10)
		if n.Sign() < 0 {
			// Two's complement in 256 bits.
			n.Add(n, new(big.Int).Lsh(big.NewInt(1), 256))
		}
		n.FillBytes(word)
	default:
		panic("bridge: eip712 kind " + t.kind)
	}
	return word
}

// hexBytes decodes 0x hex that checkValue has checked.
func hexBytes(s string) []byte {
	b, err := hex.DecodeString(s[2:])
	if err != nil {
		panic("bridge: unchecked hex " + s)
	}
	return b
}
