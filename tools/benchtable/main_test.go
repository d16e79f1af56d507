package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// cells splits a rendered table into trimmed cells, dropping the separator
// row under the header.
func cells(t *testing.T, table string) [][]string {
	t.Helper()
	var rows [][]string
	for i, line := range strings.Split(strings.TrimSuffix(table, "\n"), "\n") {
		if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") {
			t.Fatalf("line %d is not a table row: %q", i, line)
		}
		parts := strings.Split(line[1:len(line)-1], "|")
		for j := range parts {
			parts[j] = strings.TrimSpace(parts[j])
		}
		if i == 1 {
			continue
		}
		rows = append(rows, parts)
	}
	return rows
}

func TestRunSample(t *testing.T) {
	var out strings.Builder
	err := run([]string{"testdata/native.txt", "testdata/wasm.txt"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	// Medians worked out by hand from the files in testdata.
	want := [][]string{
		{"benchmark", "native", "wasm", "wasm/native"},
		{"Keygen", "9.88 ms", "41.5 ms", "4.21x"},
		{"AuxInfo", "2.45 s", "60.0 s", "24.5x"},
		{"Sign/presign", "55.5 ms", "240 ms", "4.32x"},
		{"Sign/online", "23.5 µs", "101 µs", "4.32x"},
		{"ModExp/bits-2048", "1.00 ms", "4.87 ms", "4.87x"},
		{"NativeOnly", "812 ns", "-", "-"},
		{"WasmOnly", "-", "13.4 ns", "-"},
	}
	got := cells(t, out.String())
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("table:\n%s\ngot cells  %q\nwant cells %q", out.String(), got, want)
	}

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for i, line := range lines {
		if utf8.RuneCountInString(line) != utf8.RuneCountInString(lines[0]) {
			t.Errorf("line %d is %d characters wide, header is %d: columns are not aligned",
				i, utf8.RuneCountInString(line), utf8.RuneCountInString(lines[0]))
		}
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.txt")
	if err := os.WriteFile(empty, []byte("PASS\nok  \tpkg\t0.1s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run([]string{"testdata/native.txt"}, &out); !errors.Is(err, errUsage) {
		t.Errorf("one argument: got %v, want %v", err, errUsage)
	}
	if err := run([]string{empty, empty}, &out); !errors.Is(err, errNoResults) {
		t.Errorf("no results: got %v, want %v", err, errNoResults)
	}
	if err := run([]string{filepath.Join(dir, "missing.txt"), empty}, &out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v, want an os.ErrNotExist error", err)
	}
	if out.Len() != 0 {
		t.Errorf("failed runs wrote output: %q", out.String())
	}

	// One side empty is a table all the same: the other run's numbers still
	// tell something.
	if err := run([]string{"testdata/native.txt", empty}, &out); err != nil {
		t.Errorf("wasm run empty: %v", err)
	}
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		line string
		name string
		ns   float64
		ok   bool
	}{
		{"BenchmarkSign-2   \t  100\t  12345 ns/op", "BenchmarkSign-2", 12345, true},
		{"BenchmarkSign \t 3\t 1.5 ns/op\t 16 B/op\t 1 allocs/op", "BenchmarkSign", 1.5, true},
		{"BenchmarkSign-2 \t 3\t 16 B/op\t 7 ns/op", "BenchmarkSign-2", 7, true},
		{"BenchmarkSign-2 \t 3\t 16 B/op\t 1 allocs/op", "", 0, false},
		{"BenchmarkSign-2 \t many\t 7 ns/op", "", 0, false},
		{"BenchmarkSign-2 \t 3\t fast ns/op", "", 0, false},
		{"--- BENCH: BenchmarkSign-2", "", 0, false},
		{"    sign_test.go:10: BenchmarkSign 3 7 ns/op", "", 0, false},
		{"PASS", "", 0, false},
	}
	for _, tt := range tests {
		name, ns, ok := parseLine(tt.line)
		if name != tt.name || ns != tt.ns || ok != tt.ok {
			t.Errorf("parseLine(%q) = %q, %v, %v; want %q, %v, %v",
				tt.line, name, ns, ok, tt.name, tt.ns, tt.ok)
		}
	}
}

func TestProcsSuffix(t *testing.T) {
	tests := []struct {
		names []string
		want  string
	}{
		{[]string{"BenchmarkA-2", "BenchmarkB/x-2"}, "-2"},
		{[]string{"BenchmarkA-16"}, "-16"},
		{[]string{"BenchmarkA", "BenchmarkB"}, ""},
		{[]string{"BenchmarkA/bits-2048", "BenchmarkB"}, ""},
		{[]string{"BenchmarkA/bits-2048", "BenchmarkA/bits-3072"}, ""},
		{[]string{"BenchmarkA-2", "BenchmarkB-x"}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := procsSuffix(tt.names); got != tt.want {
			t.Errorf("procsSuffix(%q) = %q, want %q", tt.names, got, tt.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		ns   float64
		want string
	}{
		{0, "0.00 ns"},
		{0.25, "0.25 ns"},
		{999, "999 ns"},
		{999.6, "1.00 µs"},
		{1234, "1.23 µs"},
		{12345678, "12.3 ms"},
		{999712, "1.00 ms"},
		{123456789, "123 ms"},
		{1.5e9, "1.50 s"},
		{754.3e9, "754 s"},
		{12345e9, "12300 s"},
	}
	for _, tt := range tests {
		if got := formatDuration(tt.ns); got != tt.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tt.ns, got, tt.want)
		}
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{5}, 5},
		{[]float64{9, 1, 5}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		in := slices.Clone(tt.in)
		if got := median(in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
		if !slices.Equal(in, tt.in) {
			t.Errorf("median reordered its input: %v", in)
		}
	}
}

func TestSpeedFigures(t *testing.T) {
	dir := t.TempDir()
	speed := filepath.Join(dir, "speed.json")
	err := os.WriteFile(speed, []byte(`{"figures":[
{"name":"browser: time to address","unit":"s","median":0.0412,"target":"≤ 0.3"},
{"name":"server: signature latency","unit":"s","median":0.5,"p99":1.25},
{"name":"browser: sign with a pooled presignature","unit":"s","median":null,"target":"≤ 0.02"}]}`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "results.json")
	var b strings.Builder
	if err := run([]string{"-speed", speed, "-json", out, "testdata/native.txt", "testdata/wasm.txt"}, &b); err != nil {
		t.Fatal(err)
	}
	table := b.String()
	for _, want := range []string{"| target |", "0.0412 s", "≤ 0.3", "p50 0.5 s, p99 1.25 s", "n/a"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	var res struct {
		MPC   []map[string]any `json:"mpc"`
		Speed []map[string]any `json:"speed"`
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &res); err != nil || len(res.MPC) == 0 || len(res.Speed) != 3 {
		t.Fatalf("results.json: %v, %d mpc rows, %d figures", err, len(res.MPC), len(res.Speed))
	}
	if err := run([]string{"-speed", filepath.Join(dir, "missing.json"), "testdata/native.txt", "testdata/wasm.txt"}, &b); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing figures: %v", err)
	}
}
