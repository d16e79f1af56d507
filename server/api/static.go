package api

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
)

// StaticFiles serves files from dirs, looked up in order: the first directory
// holding a path serves it. duetd passes the js/ folder first and web/ second,
// so /duet.js and the SDK's worker files sit at the root beside the demo page,
// and the SDK wins a name clash. Directory listings are not served, and
// responses are not cached, since the files change under development.
func StaticFiles(dirs ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := path.Clean("/" + r.URL.Path)
		if strings.HasSuffix(name, "/") || name == "/" {
			name = path.Join(name, "index.html")
		}
		rel := strings.TrimPrefix(name, "/")
		for _, dir := range dirs {
			root, err := os.OpenRoot(dir)
			if err != nil {
				continue
			}
			info, err := root.Stat(rel)
			if err != nil || info.IsDir() {
				root.Close()
				continue
			}
			f, err := root.Open(rel)
			root.Close()
			if err != nil {
				continue
			}
			w.Header().Set("Cache-Control", "no-cache")
			http.ServeContent(w, r, info.Name(), info.ModTime(), f)
			f.Close()
			return
		}
		writeError(w, errorf(http.StatusNotFound, codeNotFound, "no such file: %s", name))
	})
}

// FramePath is the page of the SDK's isolation frame (js/duet-frame.html),
// which apps embed to keep the device party on the server's origin.
const FramePath = "/duet-frame.html"

// IsolationFrame serves static, giving the isolation frame's page a strict
// Content-Security-Policy: its own scripts only (and WebAssembly, which its
// worker compiles), no plugins, no forms, no base URL, connections to this
// origin only, and embedding only by the pages of frameAncestors (CSP
// source expressions such as https://app.example.com or http://localhost:*;
// none when empty). The SDK's scripts, the frame's included, are served as
// every static file.
func IsolationFrame(static http.Handler, frameAncestors []string) http.Handler {
	ancestors := "'none'"
	if len(frameAncestors) > 0 {
		ancestors = strings.Join(frameAncestors, " ")
	}
	csp := "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; " +
		"style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; " +
		"frame-ancestors " + ancestors
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if path.Clean("/"+r.URL.Path) == FramePath {
			h := w.Header()
			h.Set("Content-Security-Policy", csp)
			// The frame's own frame-ancestors replace the server's, and
			// X-Frame-Options, which cannot name them, goes.
			h.Del("X-Frame-Options")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
		}
		static.ServeHTTP(w, r)
	})
}

// errNotDir is reported for a static folder that is not a directory.
var errNotDir = errors.New("api: not a directory")

// CheckDir reports whether dir exists and is a directory, so duetd can warn
// at start about a static folder it will not find.
func CheckDir(dir string) error {
	info, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return &fs.PathError{Op: "stat", Path: dir, Err: errNotDir}
	}
	return nil
}
