package apikey

import (
	"bytes"
	"errors"
	"strings"
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

// Each shape check of ParseSessionToken refuses on its own.
func TestParseSessionTokenRejects(t *testing.T) {
	id := strings.Repeat("ab", 16)
	mac := strings.Repeat("A", 43)
	good := SessionTokenPrefix + id + "_1700000000_" + mac
	if _, _, _, err := ParseSessionToken(good); err != nil {
		t.Fatalf("a well-formed token: %v", err)
	}
	for name, tok := range map[string]string{
		"no prefix":         "duet_cli_" + id + "_1700000000_" + mac,
		"short":             SessionTokenPrefix + "abc",
		"id only":           SessionTokenPrefix + id,
		"no separator":      SessionTokenPrefix + id + "x1700000000_" + mac,
		"id not hex":        SessionTokenPrefix + strings.Repeat("zz", 16) + "_1700000000_" + mac,
		"no expiry":         SessionTokenPrefix + id + "__" + mac,
		"leading zero":      SessionTokenPrefix + id + "_01700000000_" + mac,
		"expiry not digits": SessionTokenPrefix + id + "_17000x0000_" + mac,
		"signed expiry":     SessionTokenPrefix + id + "_+1700000000_" + mac,
		"negative expiry":   SessionTokenPrefix + id + "_-1700000000_" + mac,
		"bare":              id + "_1700000000_" + mac,
		"expiry too long":   SessionTokenPrefix + id + "_1234567890123_" + mac,
		"mac too short":     SessionTokenPrefix + id + "_1700000000_" + mac[1:],
		"mac not base64url": SessionTokenPrefix + id + "_1700000000_" + strings.Repeat("!", 43),
		"mac not canonical": SessionTokenPrefix + id + "_1700000000_" + strings.Repeat("A", 42) + "B",
	} {
		if _, _, _, err := ParseSessionToken(tok); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}
