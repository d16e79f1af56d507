package seal

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrKeyFilePermissions means a key file can be read or written by users other
// than its owner. Such a key is treated as leaked rather than used.
var ErrKeyFilePermissions = errors.New("seal: key file is accessible to other users")

// LoadOrCreateKeyFile returns the key kept in the file at path. If there is no
// such file, it creates one holding KeySize bytes from rand, with mode 0600 in
// a directory it creates with mode 0700, and reports created = true.
//
// The file holds the raw key bytes. Two processes starting at once on an
// empty data folder end up with the same key.
func LoadOrCreateKeyFile(path string, rand io.Reader) (key []byte, created bool, err error) {
	key, err = LoadKeyFile(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	key = make([]byte, KeySize)
	if _, err := io.ReadFull(rand, key); err != nil {
		return nil, false, fmt.Errorf("seal: generate key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("seal: %w", err)
	}
	// Write the key to a private temporary file, then publish it with a hard
	// link, which fails if path exists. A reader therefore never sees a
	// partly written key, and of two processes racing on an empty data
	// folder, the second adopts the first one's key.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".key-*")
	if err != nil {
		return nil, false, fmt.Errorf("seal: create key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(key)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return nil, false, fmt.Errorf("seal: write key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		key, err = LoadKeyFile(path)
		return key, false, err
	} else if err != nil {
		return nil, false, fmt.Errorf("seal: create key file: %w", err)
	}
	return key, true, nil
}

// LoadKeyFile reads a key file written by LoadOrCreateKeyFile. It refuses a
// file whose mode lets group or others in, and a file of the wrong size.
func LoadKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seal: open key file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("seal: stat key file: %w", err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o, want 0600", ErrKeyFilePermissions, path, perm)
	}
	// Read one byte more than a key so an oversized file is caught.
	key, err := io.ReadAll(io.LimitReader(f, KeySize+1))
	if err != nil {
		return nil, fmt.Errorf("seal: read key file: %w", err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: key file %s: %w", path, ErrKeySize)
	}
	return key, nil
}

// ParseKey decodes a key given as text, for instance in an environment
// variable: 64 hex digits, or base64 (standard or URL alphabet, padded or not)
// of 32 bytes. Surrounding white space is ignored.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if key, err := hex.DecodeString(s); err == nil {
			return key, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(s); err == nil {
			if len(key) != KeySize {
				return nil, ErrKeySize
			}
			return key, nil
		}
	}
	return nil, errors.New("seal: key is neither 64 hex digits nor base64")
}
