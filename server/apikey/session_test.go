package apikey

import (
	"bytes"
	"testing"
	"time"
)

func TestSessionTokenRoundTrip(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef"
	exp := time.Unix(1796000000, 0)
	mac := bytes.Repeat([]byte{0xfe}, 32)
	tok := FormatSessionToken(id, exp, mac)
	gotID, gotExp, gotMAC, err := ParseSessionToken(tok)
	if err != nil || gotID != id || !gotExp.Equal(exp) || !bytes.Equal(gotMAC, mac) {
		t.Fatalf("ParseSessionToken(%q) = %s, %v, %x, %v", tok, gotID, gotExp, gotMAC, err)
	}
	if _, err := Parse(Client, tok); err == nil {
		t.Fatal("a session token parses as a client key")
	}
}

// Whatever parses formats back to the same string: one token, one spelling.
func FuzzParseSessionToken(f *testing.F) {
	f.Add(FormatSessionToken("0123456789abcdef0123456789abcdef", time.Unix(1796000000, 0), make([]byte, 32)))
	f.Add("duet_cst_0123456789abcdef0123456789abcdef_01_AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		id, exp, mac, err := ParseSessionToken(s)
		if err != nil {
			return
		}
		if again := FormatSessionToken(id, exp, mac); again != s {
			t.Fatalf("%q parses, formats as %q", s, again)
		}
	})
}
