// Package clientip finds the IP address a request came from when the
// server may sit behind reverse proxies: per-address limits count that
// address, and a client must not be able to choose it.
package clientip

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the address ranges of the reverse proxies the server
// trusts to tell it, in X-Forwarded-For, whom they forward. The zero value
// trusts none.
type Proxies struct {
	prefixes []netip.Prefix
}

// ErrProxies is returned for a list of trusted proxies that does not parse.
var ErrProxies = errors.New("clientip: invalid trusted proxy")

// Parse reads a comma-separated list of CIDR ranges (10.0.0.0/8,
// fd00::/8) or single addresses. An empty list trusts none.
func Parse(list string) (*Proxies, error) {
	p := new(Proxies)
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			addr, aerr := netip.ParseAddr(s)
			if aerr != nil || addr.Zone() != "" {
				return nil, fmt.Errorf("%w %q: want an address range such as 10.0.0.0/8 or an address", ErrProxies, s)
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		p.prefixes = append(p.prefixes, unmapPrefix(prefix).Masked())
	}
	return p, nil
}

// unmapPrefix turns an IPv4-mapped IPv6 range into the IPv4 range, so that
// ::ffff:10.0.0.0/104 and 10.0.0.0/8 mean the same.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// Trusts reports whether addr is one of the trusted proxies.
func (p *Proxies) Trusts(addr netip.Addr) bool {
	if p == nil {
		return false
	}
	addr = addr.Unmap()
	for _, prefix := range p.prefixes {
		if prefix.Contains(addr) {
			return true
		}
	}
	return false
}

// Of returns the IP address r came from. It is the address of the peer
// that sent r, unless that peer is a trusted proxy: then it is the
// rightmost address in X-Forwarded-For that is not a trusted proxy. Each
// proxy appends the address it received the request from, so that entry
// was written by a proxy we trust; whatever the client wrote stands left of
// it and is never read. A header that is missing, holds only trusted
// proxies or has an entry that does not parse before an untrusted one
// leaves the peer's address. From an untrusted peer the header is ignored,
// so a client that connects directly cannot pick its address.
func (p *Proxies) Of(r *http.Request) string {
	peer := peerAddr(r.RemoteAddr)
	if !peer.IsValid() {
		return r.RemoteAddr
	}
	if !p.Trusts(peer) {
		return peer.String()
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		entries := strings.Split(hops[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			addr := parseHop(entries[j])
			if !addr.IsValid() {
				return peer.String()
			}
			if !p.Trusts(addr) {
				return addr.String()
			}
		}
	}
	return peer.String()
}

// peerAddr is the address of RemoteAddr ("host:port"), unmapped.
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return addr.Unmap()
}

// parseHop reads one X-Forwarded-For entry: an address, an address with a
// port, or a bracketed IPv6 address with or without one. Zones are not
// addresses of the Internet and are refused.
func parseHop(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		s = ap.Addr().String()
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" {
		return netip.Addr{}
	}
	return addr.Unmap()
}
