package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
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

func TestStaticFilesCompressedAndHashed(t *testing.T) {
	dir := t.TempDir()
	wasm := bytes.Repeat([]byte("\x00asm duet module "), 4096)
	write := func(name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("duet.wasm", wasm)
	write("wasm_exec.js", []byte("// go loader"))
	write("logo.png", []byte("png"))
	h := StaticFiles(dir)
	get := func(p, accept string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, p, nil)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	decode := func(rec *httptest.ResponseRecorder) []byte {
		t.Helper()
		var rd io.Reader = rec.Body
		switch rec.Header().Get("Content-Encoding") {
		case "br":
			rd = brotli.NewReader(rec.Body)
		case "gzip":
			zr, err := gzip.NewReader(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			rd = zr
		}
		b, err := io.ReadAll(rd)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	for _, c := range []struct{ accept, want string }{
		{"gzip, deflate, br", "br"}, {"gzip", "gzip"}, {"br;q=0, gzip;q=0.5", "gzip"}, {"", ""}, {"identity", ""}, {"*", "br"}, {"br;q=0, *;q=0", ""},
	} {
		rec := get("/duet.wasm", c.accept)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Encoding") != c.want {
			t.Fatalf("Accept-Encoding %q: %d, Content-Encoding %q, want %q", c.accept, rec.Code, rec.Header().Get("Content-Encoding"), c.want)
		}
		if c.want != "" && rec.Body.Len() >= len(wasm) {
			t.Errorf("Accept-Encoding %q: %d bytes sent for %d", c.accept, rec.Body.Len(), len(wasm))
		}
		if !bytes.Equal(decode(rec), wasm) {
			t.Errorf("Accept-Encoding %q: body differs from the file", c.accept)
		}
		if rec.Header().Get("Cache-Control") != "no-cache" || rec.Header().Get("Content-Type") != "application/wasm" || rec.Header().Get("Vary") != "Accept-Encoding" {
			t.Errorf("Accept-Encoding %q: headers %v", c.accept, rec.Header())
		}
	}

	// The manifest names the hashed files, which are immutable.
	rec := get(AssetsPath, "")
	var names map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &names); err != nil || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("manifest %q (%v), Cache-Control %q", rec.Body.String(), err, rec.Header().Get("Cache-Control"))
	}
	sum := sha256.Sum256(wasm)
	if want := "duet." + hex.EncodeToString(sum[:8]) + ".wasm"; names["duet.wasm"] != want || !strings.HasPrefix(names["wasm_exec.js"], "wasm_exec.") || len(names) != 2 {
		t.Fatalf("manifest %v, want duet.wasm as %s", names, want)
	}
	rec = get("/"+names["duet.wasm"], "gzip")
	if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" || !bytes.Equal(decode(rec), wasm) {
		t.Fatalf("GET %s: %d, Cache-Control %q", names["duet.wasm"], rec.Code, rec.Header().Get("Cache-Control"))
	}
	// Revalidation by ETag.
	if rec2 := get("/"+names["duet.wasm"], "gzip", "If-None-Match", rec.Header().Get("ETag")); rec2.Code != http.StatusNotModified {
		t.Errorf("If-None-Match %s: %d", rec.Header().Get("ETag"), rec2.Code)
	}
	// A hash that is not the file's, and a hashed name of a file not hashed, are not found.
	for _, p := range []string{"/duet.0123456789abcdef.wasm", "/logo.0123456789abcdef.png", "/nothing.0123456789abcdef.js"} {
		if rec := get(p, ""); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d", p, rec.Code)
		}
	}
	// Other files are served from disk as before.
	if rec := get("/logo.png", "gzip"); rec.Code != http.StatusOK || rec.Body.String() != "png" || rec.Header().Get("Content-Encoding") != "" {
		t.Errorf("GET /logo.png: %d %q %q", rec.Code, rec.Body.String(), rec.Header().Get("Content-Encoding"))
	}

	// A new build gets a new name; the old one is gone.
	wasm2 := append(bytes.Clone(wasm), "v2"...)
	write("duet.wasm", wasm2)
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "duet.wasm"), future, future); err != nil {
		t.Fatal(err)
	}
	if rec := get("/"+names["duet.wasm"], ""); rec.Code != http.StatusNotFound {
		t.Errorf("old hashed name after a rebuild: %d", rec.Code)
	}
	if rec := get("/duet.wasm", "br"); !bytes.Equal(decode(rec), wasm2) {
		t.Error("the rebuilt module is not served")
	}
}

func TestStaticFilesPrecompressed(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "duet.wasm")
	body := bytes.Repeat([]byte("precompressed module "), 2000)
	if err := os.WriteFile(name, body, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Precompress(name); err != nil {
		t.Fatal(err)
	}
	get := func(h http.Handler, accept string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/duet.wasm", nil)
		req.Header.Set("Accept-Encoding", accept)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for ext, enc := range map[string]string{".br": "br", ".gz": "gzip"} {
		want, err := os.ReadFile(name + ext)
		if err != nil {
			t.Fatal(err)
		}
		if rec := get(StaticFiles(dir), enc); rec.Header().Get("Content-Encoding") != enc || !bytes.Equal(rec.Body.Bytes(), want) {
			t.Errorf("%s: not the file compressed ahead of time (%d bytes, want %d)", enc, rec.Body.Len(), len(want))
		}
	}
	// A compressed file of another content is not used.
	if err := os.WriteFile(name, append(body, '!'), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := get(StaticFiles(dir), "br")
	got, err := io.ReadAll(brotli.NewReader(rec.Body))
	if err != nil || !bytes.Equal(got, append(body, '!')) {
		t.Errorf("stale name.br served: %v", err)
	}
}
