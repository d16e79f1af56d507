package api

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIsolationFrameHeaders(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"duet-frame.html": "<!doctype html>", "frame.js": "// frame"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	get := func(h http.Handler, p string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		return rec
	}

	h := IsolationFrame(StaticFiles(dir), []string{"https://app.example.com", "http://localhost:*"})
	rec := get(h, FramePath)
	if rec.Code != http.StatusOK || rec.Body.String() != "<!doctype html>" {
		t.Fatalf("GET %s: %d %q", FramePath, rec.Code, rec.Body.String())
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors https://app.example.com http://localhost:*", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-eval'") && !strings.Contains(csp, "wasm-unsafe-eval") {
		t.Errorf("CSP allows eval: %q", csp)
	}
	// Other files are served as before, without the frame's policy.
	if rec := get(h, "/frame.js"); rec.Code != http.StatusOK || rec.Header().Get("Content-Security-Policy") != "" {
		t.Errorf("GET /frame.js: %d, CSP %q", rec.Code, rec.Header().Get("Content-Security-Policy"))
	}
	// Without allowed origins nobody may embed the frame.
	rec = get(IsolationFrame(StaticFiles(dir), nil), "/duet-frame.html")
	if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("CSP without origins: %q", rec.Header().Get("Content-Security-Policy"))
	}
	// A path that cleans to the frame's gets its policy too.
	rec = get(h, "/x/../duet-frame.html")
	if rec.Code == http.StatusOK && rec.Header().Get("Content-Security-Policy") == "" {
		t.Errorf("GET /x/../duet-frame.html served without the frame's policy")
	}
}
