package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Origins is the set of web origins whose pages may call the API from a
// browser. The demo page and the API can be on different ports, so the
// browser's same-origin rule alone would block the SDK.
type Origins struct {
	exact map[string]bool
	// anyPort holds "scheme://host" prefixes that allow every port.
	anyPort map[string]bool
}

// DevOrigins are the origins --dev allows: any port on the loopback names.
var DevOrigins = []string{"http://127.0.0.1:*", "http://localhost:*"}

// ParseOrigins reads origins such as "https://app.example.com" or
// "http://localhost:*" (any port).
func ParseOrigins(list []string) (*Origins, error) {
	o := &Origins{exact: map[string]bool{}, anyPort: map[string]bool{}}
	for _, s := range list {
		if base, ok := strings.CutSuffix(s, ":*"); ok {
			u, err := url.Parse(base)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Port() != "" || u.Path != "" {
				return nil, fmt.Errorf("api: invalid origin pattern %q, want scheme://host:*", s)
			}
			o.anyPort[base] = true
			continue
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("api: invalid origin %q, want scheme://host[:port]", s)
		}
		o.exact[s] = true
	}
	return o, nil
}

// Allowed reports whether a page from origin may call the API.
func (o *Origins) Allowed(origin string) bool {
	if o == nil || origin == "" {
		return false
	}
	if o.exact[origin] {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Path != "" || u.Port() == "" {
		return false
	}
	return o.anyPort[u.Scheme+"://"+u.Hostname()]
}

// HostPatterns returns the allowed origins as host patterns in the syntax of
// github.com/coder/websocket's AcceptOptions.OriginPatterns, for the session
// socket's own origin check.
func (o *Origins) HostPatterns() []string {
	if o == nil {
		return nil
	}
	var out []string
	for s := range o.exact {
		if u, err := url.Parse(s); err == nil {
			out = append(out, u.Host)
		}
	}
	for s := range o.anyPort {
		if u, err := url.Parse(s); err == nil {
			out = append(out, u.Host+":*")
		}
	}
	return out
}

// cors answers preflight requests and marks responses readable by allowed
// origins. Requests without an Origin header (curl, the organization's
// backend) pass through untouched; a disallowed origin gets no CORS headers,
// so the browser withholds the response from the page.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Origin")
		allowed := s.origins.Allowed(origin)
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if preflight {
			if !allowed {
				writeError(w, errorf(http.StatusForbidden, codeForbidden, "origin %q is not allowed", origin))
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if allowed {
			w.Header().Set("Access-Control-Allow-Origin", origin)
		}
		next.ServeHTTP(w, r)
	})
}
