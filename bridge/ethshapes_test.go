package bridge

import (
	mrand "math/rand/v2"
	"regexp"
	"testing"
)

// The shapes the typed-data checks match by hand, as regular expressions.
var (
	identifierPattern   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	fieldPattern        = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)
	intPattern          = regexp.MustCompile(`^(u?)int([0-9]+)$`)
	bytesNPattern       = regexp.MustCompile(`^bytes([0-9]+)$`)
	arrayPattern        = regexp.MustCompile(`^(.+)\[([0-9]*)\]$`)
	decimalIntPattern   = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)
	lowerHexPattern     = regexp.MustCompile(`^0x([0-9a-f]{2})*$`)
	lowerAddressPattern = regexp.MustCompile(`^0x[0-9a-f]{40}$`)
)

var shapeSeeds = []string{
	"", "a", "A", "_", "$", "0", "a0", "0a", "a_b", "a$b", "$a", "_a", "a-b", "a b", "a\n", "\na", "é", "a\xff",
	"int", "uint", "int8", "uint256", "int0", "int08", "uuint8", "uint8x", "xint8", "int8\n", "Int8",
	"bytes", "bytes1", "bytes32", "bytes01", "bytes1a",
	"T[]", "T[3]", "T[03]", "[]", "[3]", "T[", "T]", "T[a]", "T[1][2]", "T[][]", "T[[]", "T[]]", "T\n[]", "T[\n]", "\n[]",
	"-", "-0", "0", "00", "01", "10", "-10", "--1", "1-", "+1",
	"0x", "0x0", "0x00", "0x0g", "0xAB", "0xab", "0X00", "x00", "0x" + "0123456789abcdef0123456789abcdef01234567",
	"0x" + "0123456789abcdef0123456789abcdef0123456", "0x" + "0123456789ABCDEF0123456789abcdef01234567",
}

// sameShapes checks each hand-written matcher against its pattern.
func sameShapes(t *testing.T, s string) {
	t.Helper()
	for _, c := range []struct {
		name string
		got  bool
		re   *regexp.Regexp
	}{
		{"isIdentifier", isIdentifier(s), identifierPattern},
		{"isFieldName", isFieldName(s), fieldPattern},
		{"isDecimalInt", isDecimalInt(s), decimalIntPattern},
		{"isLowerHex", isLowerHex(s), lowerHexPattern},
		{"isLowerAddress", isLowerAddress(s), lowerAddressPattern},
	} {
		if want := c.re.MatchString(s); c.got != want {
			t.Errorf("%s(%q) = %v, pattern %v", c.name, s, c.got, want)
		}
	}
	elem, length, ok := splitArray(s)
	if m := arrayPattern.FindStringSubmatch(s); (m != nil) != ok || ok && (elem != m[1] || length != m[2]) {
		t.Errorf("splitArray(%q) = %q, %q, %v; pattern %q", s, elem, length, ok, m)
	}
	// primitiveType reads int and bytesN sizes where the patterns match.
	_, err := primitiveType(s)
	if m := intPattern.FindStringSubmatch(s); m != nil && err == nil {
		if p, _ := primitiveType(s); p == nil || p.kind != "int" || p.signed != (m[1] == "") {
			t.Errorf("primitiveType(%q) = %+v, pattern %q", s, p, m)
		}
	}
	if m := bytesNPattern.FindStringSubmatch(s); m != nil && err == nil {
		if p, _ := primitiveType(s); p == nil || p.kind != "bytesN" {
			t.Errorf("primitiveType(%q) = %+v, pattern %q", s, p, m)
		}
	}
	if intPattern.MatchString(s) || bytesNPattern.MatchString(s) || s == "address" || s == "bool" || s == "string" || s == "bytes" || s == "uint" || s == "int" {
		return
	}
	if p, err := primitiveType(s); p != nil || err != nil {
		t.Errorf("primitiveType(%q) = %+v, %v; want no primitive", s, p, err)
	}
}

func TestShapesAgainstPatterns(t *testing.T) {
	for _, s := range shapeSeeds {
		sameShapes(t, s)
	}
	// Random strings over the alphabet the patterns care about.
	const alphabet = "aZ_$09-x[]\nuintbytes0x"
	r := mrand.New(mrand.NewPCG(3, 4))
	for range 20000 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		sameShapes(t, string(b))
	}
}

func FuzzShapes(f *testing.F) {
	for _, s := range shapeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sameShapes(t, s)
	})
}
