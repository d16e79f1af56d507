package bridge

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/duetwallet/duet/wire"
)

func TestParseApprovalCode(t *testing.T) {
	for in, want := range map[string]string{
		"12345678":     "12345678",
		"1234 5678":    "12345678",
		"1234-5678":    "12345678",
		" 12-34 56 78": "12345678",
		"00000000":     "00000000",
	} {
		if got, err := ParseApprovalCode(in); err != nil || got != want {
			t.Errorf("ParseApprovalCode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1234567", "123456789", "1234 567a", "1234_5678", "１２３４５６７８", "1234\n5678"} {
		if _, err := ParseApprovalCode(in); Code(err) != wire.CodeInvalidArgument {
			t.Errorf("ParseApprovalCode(%q): %v, want INVALID_ARGUMENT", in, err)
		}
	}
}

// A malformed code is refused before any network use: the device's URL
// leads nowhere, and the store is left untouched.
func TestApproveDeviceRefusesBadCodes(t *testing.T) {
	st := &memStore{}
	d := &Device{URL: "http://127.0.0.1:1", APIKey: "duet_cli_test", Store: st}
	for _, code := range []string{"", "1234", "abcdefgh", "1234 56789"} {
		if err := d.ApproveDevice(t.Context(), code); Code(err) != wire.CodeInvalidArgument {
			t.Errorf("ApproveDevice(%q): %v, want INVALID_ARGUMENT", code, err)
		}
	}
	if len(st.m) != 0 {
		t.Fatalf("a refused approval stored %d items", len(st.m))
	}
	if _, err := d.RequestApproval(t.Context(), nil); Code(err) != wire.CodeInvalidArgument {
		t.Errorf("RequestApproval without a way to show the code: %v", err)
	}
}

func TestApprovalCodes(t *testing.T) {
	seen := map[string]bool{}
	var first [10]int
	for range 2000 {
		c, err := newApprovalCode(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != wire.ApprovalCodeDigits || strings.Trim(c, "0123456789") != "" {
			t.Fatalf("code %q", c)
		}
		seen[c] = true
		first[c[0]-'0']++
		if f := formatCode(c); f != c[:4]+" "+c[4:] {
			t.Fatalf("formatted %q as %q", c, f)
		}
	}
	if len(seen) < 1990 {
		t.Fatalf("2000 codes gave only %d distinct ones", len(seen))
	}
	for d, n := range first {
		if n == 0 {
			t.Fatalf("no code of 2000 starts with %d", d)
		}
	}
	// Values at or over the largest multiple of 10^8 below 2^32 are drawn
	// again: a source that gives one first yields the next value's code.
	src := bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 42})
	if c, err := newApprovalCode(src); err != nil || c != "00000042" {
		t.Fatalf("rejection sampling: %q %v", c, err)
	}
}
