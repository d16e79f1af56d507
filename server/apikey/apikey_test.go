package apikey_test

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/duetwallet/duet/server/apikey"
)

func TestNewParseVerify(t *testing.T) {
	id, err := apikey.NewID(rand.Reader)
	if err != nil || !apikey.ValidID(id) {
		t.Fatalf("NewID = %q, %v", id, err)
	}
	key, hash, err := apikey.New(rand.Reader, apikey.Client, id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, "duet_cli_"+id+"_") {
		t.Fatalf("key %q lacks its prefix and owner", key)
	}
	owner, err := apikey.Parse(apikey.Client, key)
	if err != nil || owner != id {
		t.Fatalf("Parse = %q, %v", owner, err)
	}
	if !apikey.Verify(key, hash[:]) {
		t.Fatal("key does not verify against its own hash")
	}
	other, _, _ := apikey.New(rand.Reader, apikey.Client, id)
	if other == key || apikey.Verify(other, hash[:]) {
		t.Fatal("a second key for the same owner verifies against the first one's hash")
	}
	if _, err := apikey.Parse(apikey.Organization, key); err == nil {
		t.Error("client key parsed as an organization key")
	}
}

func TestParseRejects(t *testing.T) {
	id := strings.Repeat("a", 32)
	secret := strings.Repeat("B", 42) + "A" // canonical: last char's low bits are zero
	good := "duet_org_" + id + "_" + secret
	if _, err := apikey.Parse(apikey.Organization, good); err != nil {
		t.Fatalf("well-formed key rejected: %v", err)
	}
	for name, key := range map[string]string{
		"empty":           "",
		"no prefix":       id + "_" + secret,
		"short secret":    "duet_org_" + id + "_" + secret[1:],
		"long secret":     good + "A",
		"upper-case id":   "duet_org_" + strings.Repeat("A", 32) + "_" + secret,
		"non-hex id":      "duet_org_" + strings.Repeat("g", 32) + "_" + secret,
		"missing sep":     "duet_org_" + id + "X" + secret,
		"bad base64":      "duet_org_" + id + "_" + strings.Repeat("!", 43),
		"non-canonical":   "duet_org_" + id + "_" + strings.Repeat("B", 42) + "B",
		"space in secret": "duet_org_" + id + "_" + strings.Repeat("B", 41) + " A",
	} {
		if _, err := apikey.Parse(apikey.Organization, key); err == nil {
			t.Errorf("%s: %q accepted", name, key)
		}
	}
	if _, _, err := apikey.New(rand.Reader, apikey.Client, "not-an-id"); err == nil {
		t.Error("New accepted an invalid owner id")
	}
}

func TestValidIDLength(t *testing.T) {
	id, _ := apikey.NewID(rand.Reader)
	for _, bad := range []string{"", "0", "abc123", id[:31], id + "0", id + id} {
		if apikey.ValidID(bad) {
			t.Errorf("%q (%d hex digits) accepted as an id", bad, len(bad))
		}
	}
	if _, _, err := apikey.New(rand.Reader, apikey.Client, id[:30]); err == nil {
		t.Error("New made a key for a 30-digit owner id")
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

// An id is never made from a source that failed.
func TestNewIDFailingRandom(t *testing.T) {
	if id, err := apikey.NewID(failingReader{}); err == nil || id != "" {
		t.Fatalf("NewID with a failing source = %q, %v; want an error", id, err)
	}
}

// Nor is a key.
func TestNewFailingRandom(t *testing.T) {
	if key, _, err := apikey.New(failingReader{}, apikey.Client, strings.Repeat("ab", 16)); err == nil || key != "" {
		t.Fatalf("New with a failing source = %q, %v; want an error", key, err)
	}
}
