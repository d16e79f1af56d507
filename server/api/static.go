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
