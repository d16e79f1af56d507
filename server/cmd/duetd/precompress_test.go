package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestPrecompress(t *testing.T) {
	name := filepath.Join(t.TempDir(), "duet.wasm")
	body := bytes.Repeat([]byte("module "), 1000)
	if err := os.WriteFile(name, body, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runContext(context.Background(), []string{"precompress", name}, &out, io.Discard, noEnv); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name + ".gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(zr); err != nil || !bytes.Equal(got, body) {
		t.Errorf("%s.gz does not hold the file: %v", name, err)
	}
	if info, err := os.Stat(name + ".br"); err != nil || info.Size() == 0 || info.Size() >= int64(len(body)) {
		t.Errorf("%s.br: %v", name, err)
	}
	if err := runContext(context.Background(), []string{"precompress", name + ".missing"}, &out, io.Discard, noEnv); err == nil {
		t.Error("precompress of a missing file succeeded")
	}
}
