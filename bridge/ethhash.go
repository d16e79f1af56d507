package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
)

// PersonalMessageHash is EIP-191's hash for personal_sign:
// keccak256("\x19Ethereum Signed Message:\n" + len(message) + message).
func PersonalMessageHash(message []byte) []byte {
	prefix := "\x19Ethereum Signed Message:\n" + strconv.Itoa(len(message))
	return keccak(append([]byte(prefix), message...))
}

// jsonObject is a JSON object as it was written: its keys in order, each
// once.
type jsonObject struct {
	keys []string
	vals map[string]any
}

// decodeStrict decodes one JSON value, refusing an object that has a key
// twice, or two keys equal but for letter case (encoding/json, and so
// go-ethereum, matches struct fields ignoring case and keeps the last
// match). Objects become *jsonObject, numbers json.Number, arrays []any.
func decodeStrict(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := strictValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

func strictValue(dec *json.Decoder, depth int) (any, error) {
	if depth > 64 {
		return nil, errors.New("JSON nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &jsonObject{vals: map[string]any{}}
			folded := map[string]string{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k := kt.(string)
				if _, dup := o.vals[k]; dup {
					return nil, fmt.Errorf("key %q appears twice in one object", k)
				}
				if prev, dup := folded[strings.ToLower(k)]; dup {
					return nil, fmt.Errorf("keys %q and %q differ only in letter case", prev, k)
				}
				folded[strings.ToLower(k)] = k
				v, err := strictValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				o.keys = append(o.keys, k)
				o.vals[k] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return o, nil
		case '[':
			a := []any{}
			for dec.More() {
				v, err := strictValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return a, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return tok, nil
	}
}

// exactKeys checks that o has exactly the keys of want (in any order) when
// all is true, or only keys of want otherwise.
func exactKeys(o *jsonObject, what string, all bool, want ...string) error {
	allowed := map[string]bool{}
	for _, k := range want {
		allowed[k] = true
	}
	for _, k := range o.keys {
		if !allowed[k] {
			return fmt.Errorf("%s has an unknown key %q", what, k)
		}
	}
	if all {
		for _, k := range want {
			if _, ok := o.vals[k]; !ok {
				return fmt.Errorf("%s has no %q", what, k)
			}
		}
	}
	return nil
}

// The shapes of EIP-712's names and canonical values, matched by hand (the
// device module links no regular expressions).

func isLetter(c byte) bool { return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

// allBytes reports whether s is non-empty and ok holds for each byte.
func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return s != ""
}

// isIdentifier matches [A-Za-z][A-Za-z0-9_]*, a type name.
func isIdentifier(s string) bool {
	return s != "" && isLetter(s[0]) && allBytes(s, func(c byte) bool { return isLetter(c) || isDigit(c) || c == '_' })
}

// isFieldName matches [A-Za-z_$][A-Za-z0-9_$]*.
func isFieldName(s string) bool {
	return s != "" && !isDigit(s[0]) && allBytes(s, func(c byte) bool { return isLetter(c) || isDigit(c) || c == '_' || c == '$' })
}

// digitsAfter returns the digits that follow prefix in s, if s is prefix
// then one or more digits.
func digitsAfter(s, prefix string) (string, bool) {
	d, ok := strings.CutPrefix(s, prefix)
	return d, ok && allBytes(d, isDigit)
}

// splitArray splits "T[n]" or "T[]" into T and n: T is not empty and has no
// line break, n is digits or nothing.
func splitArray(s string) (elem, length string, ok bool) {
	if !strings.HasSuffix(s, "]") {
		return "", "", false
	}
	i := strings.LastIndexByte(s, '[')
	if i < 1 || strings.IndexByte(s[:i], '\n') >= 0 {
		return "", "", false
	}
	length = s[i+1 : len(s)-1]
	if length != "" && !allBytes(length, isDigit) {
		return "", "", false
	}
	return s[:i], length, true
}

// isDecimalInt matches -?(0|[1-9][0-9]*).
func isDecimalInt(s string) bool {
	s = strings.TrimPrefix(s, "-")
	return allBytes(s, isDigit) && (s == "0" || s[0] != '0')
}

func isLowerHexDigit(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' }

// isLowerHex matches 0x([0-9a-f]{2})*.
func isLowerHex(s string) bool {
	d, ok := strings.CutPrefix(s, "0x")
	return ok && len(d)%2 == 0 && (d == "" || allBytes(d, isLowerHexDigit))
}

// isLowerAddress matches 0x[0-9a-f]{40}.
func isLowerAddress(s string) bool { return len(s) == 42 && isLowerHex(s) }

// eip712Type is a parsed field type: an array of elem (length -1 for a
// dynamic one), a struct, or a primitive.
type eip712Type struct {
	name   string
	elem   *eip712Type
	length int
	struc  string
	kind   string // address, bool, string, bytes, bytesN, int
	size   int    // bytesN's N, int's bits
	signed bool
}

// ErrTypeAlias is wrapped when typed data uses the uint or int alias,
// which implementations hash differently.
var ErrTypeAlias = errors.New("the uint and int aliases are refused; write uint256 or int256")

func primitiveType(s string) (*eip712Type, error) {
	switch s {
	case "address", "bool", "string", "bytes":
		return &eip712Type{name: s, kind: s}, nil
	case "uint", "int":
		return nil, fmt.Errorf("type %q: %w", s, ErrTypeAlias)
	}
	unsigned := strings.HasPrefix(s, "u")
	if d, ok := digitsAfter(strings.TrimPrefix(s, "u"), "int"); ok {
		bits, err := strconv.Atoi(d)
		if err != nil || bits < 8 || bits > 256 || bits%8 != 0 || strconv.Itoa(bits) != d {
			return nil, fmt.Errorf("type %s has no such size", s)
		}
		return &eip712Type{name: s, kind: "int", size: bits, signed: !unsigned}, nil
	}
	if d, ok := digitsAfter(s, "bytes"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > 32 || strconv.Itoa(n) != d {
			return nil, fmt.Errorf("type %s has no such size", s)
		}
		return &eip712Type{name: s, kind: "bytesN", size: n}, nil
	}
	return nil, nil
}

func parseFieldType(s string, types map[string][]eip712Field) (*eip712Type, error) {
	if s == "" {
		return nil, errors.New("empty type")
	}
	if elemName, length, ok := splitArray(s); ok {
		n := -1
		if length != "" {
			v, err := strconv.Atoi(length)
			if err != nil || v < 1 || v > 1024 || strconv.Itoa(v) != length {
				return nil, fmt.Errorf("type %s has a malformed array length", s)
			}
			n = v
		}
		elem, err := parseFieldType(elemName, types)
		if err != nil {
			return nil, err
		}
		return &eip712Type{name: s, elem: elem, length: n}, nil
	}
	p, err := primitiveType(s)
	if err != nil || p != nil {
		return p, err
	}
	if !isIdentifier(s) {
		return nil, fmt.Errorf("type %q is not a type name", s)
	}
	if _, ok := types[s]; !ok {
		return nil, fmt.Errorf("type %s is not defined", s)
	}
	return &eip712Type{name: s, struc: s}, nil
}

type eip712Field struct {
	name string
	typ  *eip712Type
	raw  string
}

// domainFields are EIP-712's domain fields in the order wallets and
// libraries declare them.
var domainFields = [][2]string{
	{"name", "string"}, {"version", "string"}, {"chainId", "uint256"}, {"verifyingContract", "address"}, {"salt", "bytes32"},
}

// typedData is canonical typed data, checked: every value is of its type.
type typedData struct {
	types   map[string][]eip712Field
	primary string
	domain  *jsonObject
	message *jsonObject
}

// checkCanonicalTypedData checks that b is typed data in the canonical form
// the SDK produces (request.js): exact keys, no duplicate or case-variant
// keys, no JSON numbers, integers as decimal strings in range, addresses and
// bytes as lowercase hex of the right length, every struct field present,
// EIP712Domain listing exactly the domain's fields in EIP-712's order, no
// recursive types and no uint/int aliases. It returns the document with its
// types parsed, ready to hash.
func checkCanonicalTypedData(b []byte) (*typedData, error) {
	v, err := decodeStrict(b)
	if err != nil {
		return nil, err
	}
	top, ok := v.(*jsonObject)
	if !ok {
		return nil, errors.New("typed data must be an object")
	}
	if err := exactKeys(top, "typed data", true, "types", "primaryType", "domain", "message"); err != nil {
		return nil, err
	}
	rawTypes, ok := top.vals["types"].(*jsonObject)
	if !ok {
		return nil, errors.New("types must be an object")
	}
	types := map[string][]eip712Field{}
	for _, name := range rawTypes.keys {
		if !isIdentifier(name) {
			return nil, fmt.Errorf("type name %q is malformed", name)
		}
		if p, err := primitiveType(name); err != nil || p != nil {
			return nil, fmt.Errorf("type name %q is a primitive type", name)
		}
		types[name] = nil
	}
	for _, name := range rawTypes.keys {
		list, ok := rawTypes.vals[name].([]any)
		if !ok {
			return nil, fmt.Errorf("types.%s must be an array", name)
		}
		seen := map[string]bool{}
		fields := make([]eip712Field, 0, len(list))
		for i, e := range list {
			o, ok := e.(*jsonObject)
			if !ok {
				return nil, fmt.Errorf("types.%s[%d] must be an object", name, i)
			}
			if err := exactKeys(o, fmt.Sprintf("types.%s[%d]", name, i), true, "name", "type"); err != nil {
				return nil, err
			}
			fname, ok1 := o.vals["name"].(string)
			ftype, ok2 := o.vals["type"].(string)
			if !ok1 || !ok2 || !isFieldName(fname) {
				return nil, fmt.Errorf("types.%s[%d] needs a name and a type, strings", name, i)
			}
			if seen[fname] {
				return nil, fmt.Errorf("types.%s has the field %s twice", name, fname)
			}
			seen[fname] = true
			t, err := parseFieldType(ftype, types)
			if err != nil {
				return nil, fmt.Errorf("types.%s.%s: %w", name, fname, err)
			}
			fields = append(fields, eip712Field{name: fname, typ: t, raw: ftype})
		}
		types[name] = fields
	}
	if err := checkAcyclic(types); err != nil {
		return nil, err
	}
	primary, ok := top.vals["primaryType"].(string)
	if !ok || primary == "" {
		return nil, errors.New("primaryType must be a non-empty string")
	}
	if _, ok := types[primary]; !ok || primary == "EIP712Domain" {
		return nil, fmt.Errorf("primaryType %q is not a struct type of types", primary)
	}
	domainType, ok := types["EIP712Domain"]
	if !ok {
		return nil, errors.New("types has no EIP712Domain")
	}
	domain, ok := top.vals["domain"].(*jsonObject)
	if !ok {
		return nil, errors.New("domain must be an object")
	}
	var want []string
	for _, f := range domainFields {
		if _, ok := domain.vals[f[0]]; ok {
			want = append(want, f[1]+" "+f[0])
		}
	}
	var got []string
	for _, f := range domainType {
		got = append(got, f.raw+" "+f.name)
	}
	if len(want) == 0 || strings.Join(want, ",") != strings.Join(got, ",") {
		return nil, fmt.Errorf("EIP712Domain (%s) does not list the domain's fields in EIP-712's order (%s)", strings.Join(got, ", "), strings.Join(want, ", "))
	}
	if err := checkStruct(types, "EIP712Domain", domain, "domain"); err != nil {
		return nil, err
	}
	for _, k := range []string{"name", "version"} {
		if s, ok := domain.vals[k].(string); ok && s == "" {
			return nil, fmt.Errorf("domain.%s is empty", k)
		}
	}
	if c, ok := domain.vals["chainId"].(string); ok && (c == "0" || strings.HasPrefix(c, "-")) {
		return nil, errors.New("domain.chainId must be positive")
	}
	if err := checkStruct(types, primary, top.vals["message"], "message"); err != nil {
		return nil, err
	}
	return &typedData{types: types, primary: primary, domain: domain, message: top.vals["message"].(*jsonObject)}, nil
}

func checkAcyclic(types map[string][]eip712Field) error {
	state := map[string]int{}
	var visit func(string) error
	visit = func(name string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("type %s refers to itself", name)
		case 2:
			return nil
		}
		state[name] = 1
		for _, f := range types[name] {
			t := f.typ
			for t.elem != nil {
				t = t.elem
			}
			if t.struc != "" {
				if err := visit(t.struc); err != nil {
					return err
				}
			}
		}
		state[name] = 2
		return nil
	}
	for name := range types {
		if err := visit(name); err != nil {
			return err
		}
	}
	return nil
}

func checkStruct(types map[string][]eip712Field, name string, v any, where string) error {
	o, ok := v.(*jsonObject)
	if !ok {
		return fmt.Errorf("%s must be an object", where)
	}
	fields := types[name]
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	if err := exactKeys(o, where, true, names...); err != nil {
		return err
	}
	for _, f := range fields {
		if err := checkValue(types, f.typ, o.vals[f.name], where+"."+f.name); err != nil {
			return err
		}
	}
	return nil
}

func checkValue(types map[string][]eip712Field, t *eip712Type, v any, where string) error {
	if t.elem != nil {
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s must be an array", where)
		}
		if t.length >= 0 && len(a) != t.length {
			return fmt.Errorf("%s has %d items, want %d", where, len(a), t.length)
		}
		for i, e := range a {
			if err := checkValue(types, t.elem, e, fmt.Sprintf("%s[%d]", where, i)); err != nil {
				return err
			}
		}
		return nil
	}
	if t.struc != "" {
		return checkStruct(types, t.struc, v, where)
	}
	if t.kind == "bool" {
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s must be true or false", where)
		}
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("%s (%s) must be a string in canonical form", where, t.name)
	}
	switch t.kind {
	case "string":
		return nil
	case "address":
		if !isLowerAddress(s) {
			return fmt.Errorf("%s must be a lowercase 0x address", where)
		}
	case "bytes":
		if !isLowerHex(s) {
			return fmt.Errorf("%s must be lowercase 0x hex of whole bytes", where)
		}
	case "bytesN":
		if !isLowerHex(s) || len(s) != 2+2*t.size {
			return fmt.Errorf("%s must be %d bytes of lowercase 0x hex", where, t.size)
		}
	case "int":
		if !isDecimalInt(s) || s == "-0" {
			return fmt.Errorf("%s must be a decimal integer string", where)
		}
		n, _ := new(big.Int).SetString(s, 10)
		lo, hi := new(big.Int), new(big.Int).Lsh(big.NewInt(1), uint(t.size))
		if t.signed {
			hi.Rsh(hi, 1)
			lo.Neg(hi)
		}
		if n.Cmp(lo) < 0 || n.Cmp(hi) >= 0 {
			return fmt.Errorf("%s %s is out of range for %s", where, s, t.name)
		}
	}
	return nil
}
