package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/andybalholm/brotli"
)

// AssetsPath is the manifest of the content-hashed names of the device
// module and its loader: {"duet.wasm": "duet.<hash>.wasm", "wasm_exec.js":
// "wasm_exec.<hash>.js"}, the names that exist at the time of the request.
// The SDK reads it to load the module under a name browsers may cache for
// good.
const AssetsPath = "/duet-assets.json"

// assetNames are the files AssetsPath lists.
var assetNames = []string{"duet.wasm", "wasm_exec.js"}

// compressible are the extensions of the files StaticFiles keeps in memory,
// hashed and compressed.
var compressible = map[string]bool{".wasm": true, ".js": true, ".mjs": true, ".html": true, ".css": true, ".json": true, ".svg": true}

// maxCached is the largest file StaticFiles keeps in memory; larger ones are
// served from disk as they are.
const maxCached = 64 << 20

// hashedName matches name.<16 hex digits>.ext.
var hashedName = regexp.MustCompile(`^(.+)\.([0-9a-f]{16})(\.[a-z0-9]+)$`)

const (
	cacheMutable   = "no-cache"
	cacheImmutable = "public, max-age=31536000, immutable"
)

// StaticFiles serves files from dirs, looked up in order: the first directory
// holding a path serves it. duetd passes the js/ folder first and web/ second,
// so /duet.js and the SDK's worker files sit at the root beside the demo page,
// and the SDK wins a name clash. Directory listings are not served.
//
// Files under their own names are served with Cache-Control: no-cache and
// an ETag, since they change under development. The SDK's files and the
// device module (.wasm, .js, .html, .css, .json, .svg) are also served under
// a content-hashed name, name.<hash>.ext (the first 16 hex digits of their
// SHA-256), as immutable; a hash that is not the file's current one is not
// found. These files are kept in memory and sent compressed with brotli or
// gzip, as the request's Accept-Encoding allows. Each version of a file is
// read, hashed and compressed once, on its first request, never again
// until it changes on disk; files compressed ahead of time beside it
// (name.br, name.gz, see Precompress) are used instead when they hold
// exactly its content.
func StaticFiles(dirs ...string) http.Handler {
	s := &staticFiles{dirs: dirs, cache: map[string]*staticEntry{}}
	return s
}

type staticFiles struct {
	dirs  []string
	mu    sync.Mutex
	cache map[string]*staticEntry // by directory and path
}

// staticEntry is one version of a file: its content, hash and compressed
// forms, made once each.
type staticEntry struct {
	modTime time.Time
	size    int64
	raw     []byte
	tag     string // the hash in the file's hashed name

	gzOnce, brOnce sync.Once
	gz, br         []byte
}

func (s *staticFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := path.Clean("/" + r.URL.Path)
	if strings.HasSuffix(name, "/") || name == "/" {
		name = path.Join(name, "index.html")
	}
	if name == AssetsPath {
		s.serveManifest(w, r)
		return
	}
	rel := strings.TrimPrefix(name, "/")
	if s.serveFile(w, r, rel, "") {
		return
	}
	if m := hashedName.FindStringSubmatch(rel); m != nil && s.serveFile(w, r, m[1]+m[3], m[2]) {
		return
	}
	writeError(w, errorf(http.StatusNotFound, codeNotFound, "no such file: %s", name))
}

// serveFile serves rel from the first directory that holds it, under its
// hashed name when tag is set, and reports whether it did.
func (s *staticFiles) serveFile(w http.ResponseWriter, r *http.Request, rel, tag string) bool {
	for _, dir := range s.dirs {
		info, ok := stat(dir, rel)
		if !ok {
			continue
		}
		if !compressible[path.Ext(rel)] || info.Size() > maxCached {
			if tag != "" {
				return false
			}
			return serveFromDisk(w, r, dir, rel, info)
		}
		e, err := s.entry(dir, rel, info)
		if err != nil {
			return false
		}
		if tag != "" && tag != e.tag {
			return false
		}
		s.serveEntry(w, r, rel, e, tag != "")
		return true
	}
	return false
}

func stat(dir, rel string) (fs.FileInfo, bool) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, false
	}
	defer root.Close()
	info, err := root.Stat(rel)
	if err != nil || !info.Mode().IsRegular() {
		return nil, false
	}
	return info, true
}

func serveFromDisk(w http.ResponseWriter, r *http.Request, dir, rel string, info fs.FileInfo) bool {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return false
	}
	f, err := root.Open(rel)
	root.Close()
	if err != nil {
		return false
	}
	defer f.Close()
	w.Header().Set("Cache-Control", cacheMutable)
	http.ServeContent(w, r, info.Name(), info.ModTime(), f)
	return true
}

// entry returns the cached version of dir/rel if the file has not changed
// since, else reads it again.
func (s *staticFiles) entry(dir, rel string, info fs.FileInfo) (*staticEntry, error) {
	key := dir + "\x00" + rel
	s.mu.Lock()
	e := s.cache[key]
	s.mu.Unlock()
	if e != nil && e.modTime.Equal(info.ModTime()) && e.size == info.Size() {
		return e, nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	raw, err := root.ReadFile(rel)
	root.Close()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	e = &staticEntry{modTime: info.ModTime(), size: info.Size(), raw: raw, tag: hex.EncodeToString(sum[:8])}
	// Files compressed ahead of time (Precompress) beside the file are used
	// when they decompress to exactly its content.
	if b, ok := precompressed(dir, rel+".br", raw, func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil }); ok {
		e.br = b
		e.brOnce.Do(func() {})
	}
	if b, ok := precompressed(dir, rel+".gz", raw, func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }); ok {
		e.gz = b
		e.gzOnce.Do(func() {})
	}
	if int64(len(raw)) != info.Size() {
		// The file changed while it was read: serve what was read, and
		// read it again next time.
		e.size = -1
	}
	s.mu.Lock()
	s.cache[key] = e
	s.mu.Unlock()
	return e, nil
}

// precompressed reads dir/name and returns it if it decompresses to want.
func precompressed(dir, name string, want []byte, decompress func(io.Reader) (io.Reader, error)) ([]byte, bool) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, false
	}
	b, err := root.ReadFile(name)
	root.Close()
	if err != nil || len(b) > maxCached {
		return nil, false
	}
	r, err := decompress(bytes.NewReader(b))
	if err != nil {
		return nil, false
	}
	got, err := io.ReadAll(io.LimitReader(r, int64(len(want))+1))
	if err != nil || !bytes.Equal(got, want) {
		return nil, false
	}
	return b, true
}

// Precompress writes name.br (brotli at its best quality) and name.gz (gzip
// at its best) beside name, which StaticFiles then sends as they are, rather
// than compressing the file itself at a quality that costs less time.
func Precompress(name string) error {
	raw, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("api: precompress: %w", err)
	}
	var br, gz bytes.Buffer
	bw := brotli.NewWriterOptions(&br, brotli.WriterOptions{Quality: brotli.BestCompression, LGWin: 24})
	if _, err := bw.Write(raw); err != nil {
		return fmt.Errorf("api: precompress %s: %w", name, err)
	}
	if err := bw.Close(); err != nil {
		return fmt.Errorf("api: precompress %s: %w", name, err)
	}
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		return fmt.Errorf("api: precompress %s: %w", name, err)
	}
	for ext, b := range map[string][]byte{".br": br.Bytes(), ".gz": gz.Bytes()} {
		tmp := name + ext + ".tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return fmt.Errorf("api: precompress: %w", err)
		}
		if err := os.Rename(tmp, name+ext); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("api: precompress: %w", err)
		}
	}
	return nil
}

func (e *staticEntry) gzipped() []byte {
	e.gzOnce.Do(func() {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(e.raw)
		zw.Close()
		e.gz = b.Bytes()
	})
	return e.gz
}

// brotliQuality trades compression time, paid once a file version, for
// size: quality 11 takes close to a minute for the device module on a slow
// core, 6 a second or two.
const brotliQuality = 6

func (e *staticEntry) brotlied() []byte {
	e.brOnce.Do(func() {
		var b bytes.Buffer
		bw := brotli.NewWriterOptions(&b, brotli.WriterOptions{Quality: brotliQuality, LGWin: 22})
		bw.Write(e.raw)
		bw.Close()
		e.br = b.Bytes()
	})
	return e.br
}

func (s *staticFiles) serveEntry(w http.ResponseWriter, r *http.Request, rel string, e *staticEntry, immutable bool) {
	h := w.Header()
	if immutable {
		h.Set("Cache-Control", cacheImmutable)
	} else {
		h.Set("Cache-Control", cacheMutable)
	}
	if ct := mime.TypeByExtension(path.Ext(rel)); ct != "" {
		h.Set("Content-Type", ct)
	}
	h.Add("Vary", "Accept-Encoding")
	body, encoding := e.raw, ""
	switch acceptedEncoding(r.Header.Get("Accept-Encoding")) {
	case "br":
		if b := e.brotlied(); len(b) < len(body) {
			body, encoding = b, "br"
		}
	case "gzip":
		if b := e.gzipped(); len(b) < len(body) {
			body, encoding = b, "gzip"
		}
	}
	if encoding != "" {
		h.Set("Content-Encoding", encoding)
		h.Set("ETag", `"`+e.tag+"-"+encoding+`"`)
	} else {
		h.Set("ETag", `"`+e.tag+`"`)
	}
	http.ServeContent(w, r, path.Base(rel), e.modTime, bytes.NewReader(body))
}

// acceptedEncoding picks br, else gzip, else nothing from an
// Accept-Encoding header, honouring q=0 (and "*").
func acceptedEncoding(header string) string {
	q := map[string]float64{}
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding == "" {
			continue
		}
		weight := 1.0
		if k, v, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.TrimSpace(k) == "q" {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				weight = f
			}
		}
		q[coding] = weight
	}
	for _, c := range []string{"br", "gzip"} {
		if w, ok := q[c]; ok {
			if w > 0 {
				return c
			}
			continue
		}
		if w, ok := q["*"]; ok && w > 0 {
			return c
		}
	}
	return ""
}

func (s *staticFiles) serveManifest(w http.ResponseWriter, r *http.Request) {
	out := map[string]string{}
	for _, rel := range assetNames {
		for _, dir := range s.dirs {
			info, ok := stat(dir, rel)
			if !ok {
				continue
			}
			if e, err := s.entry(dir, rel, info); err == nil {
				ext := path.Ext(rel)
				out[rel] = strings.TrimSuffix(rel, ext) + "." + e.tag + ext
			}
			break
		}
	}
	b, _ := json.Marshal(out)
	h := w.Header()
	h.Set("Cache-Control", cacheMutable)
	h.Set("Content-Type", "application/json")
	sum := sha256.Sum256(b)
	h.Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	http.ServeContent(w, r, "duet-assets.json", time.Time{}, bytes.NewReader(b))
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
