package clientip_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/duetwallet/duet/server/internal/clientip"
)

func request(remote string, xff ...string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = remote
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	return r
}

func TestOf(t *testing.T) {
	proxies, err := clientip.Parse("10.0.0.0/8, 192.0.2.7,fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct, no header", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"direct, spoofed header", "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5"},
		{"direct, spoofed trusted hop", "203.0.113.5:4000", []string{"198.51.100.1, 10.0.0.1"}, "203.0.113.5"},
		{"through a proxy", "10.1.2.3:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client's own entry left of the proxy's", "10.1.2.3:4000", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"client's entry that looks trusted", "10.1.2.3:4000", []string{"10.9.9.9, 198.51.100.1"}, "198.51.100.1"},
		{"two proxies", "10.1.2.3:4000", []string{"6.6.6.6, 198.51.100.1, 192.0.2.7"}, "198.51.100.1"},
		{"two header lines", "10.1.2.3:4000", []string{"6.6.6.6", "198.51.100.1, 10.0.0.9"}, "198.51.100.1"},
		{"entry with a port", "10.1.2.3:4000", []string{"198.51.100.1:5555"}, "198.51.100.1"},
		{"IPv6 entry", "[fd00::1]:4000", []string{"2001:db8::5"}, "2001:db8::5"},
		{"bracketed IPv6 entry with a port", "[fd00::1]:4000", []string{"[2001:db8::5]:443"}, "2001:db8::5"},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"IPv4-mapped entry", "10.1.2.3:4000", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"no header from a proxy", "10.1.2.3:4000", nil, "10.1.2.3"},
		{"only trusted entries", "10.1.2.3:4000", []string{"10.0.0.2, 192.0.2.7"}, "10.1.2.3"},
		{"garbage before any untrusted entry", "10.1.2.3:4000", []string{"198.51.100.1, not-an-ip"}, "10.1.2.3"},
		{"empty entry", "10.1.2.3:4000", []string{"198.51.100.1, "}, "10.1.2.3"},
		{"zone", "10.1.2.3:4000", []string{"fe80::1%eth0"}, "10.1.2.3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := proxies.Of(request(c.remote, c.xff...)); got != c.want {
				t.Errorf("Of = %q, want %q", got, c.want)
			}
		})
	}
	// Without trusted proxies the header is never read.
	var none *clientip.Proxies
	if got := none.Of(request("10.1.2.3:4000", "198.51.100.1")); got != "10.1.2.3" {
		t.Errorf("no trusted proxies: Of = %q", got)
	}
	empty, err := clientip.Parse("")
	if err != nil {
		t.Fatal(err)
	}
	if got := empty.Of(request("10.1.2.3:4000", "198.51.100.1")); got != "10.1.2.3" {
		t.Errorf("empty list: Of = %q", got)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, s := range []string{"10.0.0.0/33", "example.com", "10.0.0.0/8;", "fe80::1%eth0", "10.0.0.0/8, nope"} {
		if _, err := clientip.Parse(s); !errors.Is(err, clientip.ErrProxies) {
			t.Errorf("Parse(%q): %v, want ErrProxies", s, err)
		}
	}
	p, err := clientip.Parse("::ffff:10.0.0.0/104")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Trusts(netip.MustParseAddr("10.200.0.1")) || p.Trusts(netip.MustParseAddr("11.0.0.1")) {
		t.Error("an IPv4-mapped range does not mean its IPv4 range")
	}
}

// FuzzOf: whatever the header says, Of names the peer or an address that
// stands in the header and is not trusted; from an untrusted peer, always
// the peer.
func FuzzOf(f *testing.F) {
	f.Add("10.1.2.3:4000", "6.6.6.6, 198.51.100.1, 10.0.0.1")
	f.Add("203.0.113.5:1", "198.51.100.1")
	f.Add("[fd00::1]:4000", "[2001:db8::5]:443, not-an-ip")
	proxies, err := clientip.Parse("10.0.0.0/8,fd00::/8")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		got := proxies.Of(request(remote, xff))
		peer, perr := netip.ParseAddrPort(remote)
		if perr != nil {
			return
		}
		if !proxies.Trusts(peer.Addr()) {
			if got != peer.Addr().Unmap().String() {
				t.Fatalf("untrusted peer %s: Of = %q", remote, got)
			}
			return
		}
		if got == peer.Addr().Unmap().String() {
			return
		}
		addr, err := netip.ParseAddr(got)
		if err != nil || proxies.Trusts(addr) || !containsAddr(xff, addr) {
			t.Fatalf("Of = %q from %q with X-Forwarded-For %q", got, remote, xff)
		}
	})
}

// containsAddr reports whether some entry of xff parses as addr.
func containsAddr(xff string, addr netip.Addr) bool {
	for _, e := range strings.Split(xff, ",") {
		e = strings.Trim(strings.TrimSpace(e), "[]")
		if a, err := netip.ParseAddr(e); err == nil && a.Unmap() == addr {
			return true
		}
		if ap, err := netip.ParseAddrPort(strings.TrimSpace(e)); err == nil && ap.Addr().Unmap() == addr {
			return true
		}
	}
	return false
}
