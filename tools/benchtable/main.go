// Benchtable prints the results of two `go test -bench` runs of the same
// benchmarks side by side: one run native, one under WebAssembly in a
// browser. It exists so that `make bench` answers the question the project
// cares about, how much slower the device party is in the browser than the
// same code on the server, in one table rather than two logs.
//
// Usage:
//
//	benchtable [-speed FIGURES] [-json OUT] NATIVE WASM
//
// NATIVE and WASM are files holding the output of `go test -bench`. Lines
// that are not benchmark results are ignored. When a benchmark ran several
// times (-count), the median time per operation is shown.
//
// FIGURES is the JSON the speed benchmark of the e2e package writes (go test
// -tags duetbench -run TestBench ./e2e/): its figures become more rows of the
// same table, with their targets. With -json, everything is also written to
// OUT as JSON.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage: benchtable [-speed FIGURES] [-json OUT] NATIVE WASM")

// errNoResults is returned when neither input holds a benchmark result, which
// means the benchmarks did not run, not that they were fast.
var errNoResults = errors.New("benchtable: no benchmark results in either input")

func run(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("benchtable", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	speedFile := fs.String("speed", "", "")
	jsonOut := fs.String("json", "", "")
	if err := fs.Parse(args); err != nil || fs.NArg() != 2 {
		return errUsage
	}
	native, err := parseFile(fs.Arg(0))
	if err != nil {
		return err
	}
	wasm, err := parseFile(fs.Arg(1))
	if err != nil {
		return err
	}
	var speed *speedFigures
	if *speedFile != "" {
		if speed, err = readSpeed(*speedFile); err != nil {
			return err
		}
	}
	if len(native.names) == 0 && len(wasm.names) == 0 && (speed == nil || len(speed.Figures) == 0) {
		return errNoResults
	}
	if *jsonOut != "" {
		if err := writeJSON(*jsonOut, native, wasm, speed); err != nil {
			return err
		}
	}
	_, err = io.WriteString(w, formatTable(native, wasm, speed))
	return err
}

// speedFigures is what the e2e speed benchmark writes.
type speedFigures struct {
	Figures []struct {
		Name    string    `json:"name"`
		Unit    string    `json:"unit"`
		Median  *float64  `json:"median"`
		P99     *float64  `json:"p99,omitempty"`
		Samples []float64 `json:"samples,omitempty"`
		Target  string    `json:"target,omitempty"`
		Note    string    `json:"note,omitempty"`
	} `json:"figures"`
}

func readSpeed(name string) (*speedFigures, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("benchtable: %w", err)
	}
	var s speedFigures
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("benchtable: %s: %w", name, err)
	}
	return &s, nil
}

func writeJSON(name string, native, wasm *results, speed *speedFigures) error {
	type mpcRow struct {
		Name   string   `json:"name"`
		Native *float64 `json:"nativeNsPerOp"`
		Wasm   *float64 `json:"wasmNsPerOp"`
	}
	out := struct {
		MPC   []mpcRow `json:"mpc"`
		Speed any      `json:"speed,omitempty"`
	}{MPC: []mpcRow{}}
	for _, name := range allNames(native, wasm) {
		row := mpcRow{Name: name}
		if v, ok := native.samples[name]; ok {
			m := median(v)
			row.Native = &m
		}
		if v, ok := wasm.samples[name]; ok {
			m := median(v)
			row.Wasm = &m
		}
		out.MPC = append(out.MPC, row)
	}
	if speed != nil {
		out.Speed = speed.Figures
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(name, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("benchtable: %w", err)
	}
	return nil
}

func allNames(native, wasm *results) []string {
	names := slices.Clone(native.names)
	for _, name := range wasm.names {
		if _, ok := native.samples[name]; !ok {
			names = append(names, name)
		}
	}
	return names
}

func parseFile(name string) (*results, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("benchtable: %w", err)
	}
	defer f.Close()
	r, err := parse(f)
	if err != nil {
		return nil, fmt.Errorf("benchtable: %s: %w", name, err)
	}
	return r, nil
}

// results holds the ns/op samples of one run, by benchmark name, with names
// in the order they first appeared.
type results struct {
	names   []string
	samples map[string][]float64
}

// parse reads `go test -bench` output. It accepts the output of several
// packages and of -count > 1 runs concatenated.
func parse(r io.Reader) (*results, error) {
	type line struct {
		name string
		ns   float64
	}
	var lines []line
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		name, ns, ok := parseLine(sc.Text())
		if ok {
			lines = append(lines, line{name, ns})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}

	names := make([]string, len(lines))
	for i, l := range lines {
		names[i] = l.name
	}
	strip := procsSuffix(names)

	res := &results{samples: make(map[string][]float64)}
	for _, l := range lines {
		name := strings.TrimSuffix(l.name, strip)
		if _, seen := res.samples[name]; !seen {
			res.names = append(res.names, name)
		}
		res.samples[name] = append(res.samples[name], l.ns)
	}
	return res, nil
}

// parseLine recognises a benchmark result line such as
//
//	BenchmarkSign/presign-2   	      12	  98765432 ns/op	  1024 B/op
//
// and returns the name and the time per operation in nanoseconds.
func parseLine(s string) (name string, ns float64, ok bool) {
	fields := strings.Fields(s)
	if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
		return "", 0, false
	}
	if _, err := strconv.ParseUint(fields[1], 10, 64); err != nil {
		return "", 0, false
	}
	for i := 2; i+1 < len(fields); i += 2 {
		if fields[i+1] != "ns/op" {
			continue
		}
		v, err := strconv.ParseFloat(fields[i], 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return "", 0, false
		}
		return fields[0], v, true
	}
	return "", 0, false
}

// procsSuffix returns the "-N" suffix that the testing package appends to
// every benchmark name when GOMAXPROCS is not 1, or "" if the names do not
// all share one. Native runs carry it ("BenchmarkSign-2") and js/wasm runs,
// where GOMAXPROCS is 1, do not, so it must go before the two runs can be
// matched. Only a suffix common to all names is taken for the GOMAXPROCS
// one: a single sub-benchmark such as "BenchmarkModExp/bits-2048" ending in
// digits is a name, not a processor count.
func procsSuffix(names []string) string {
	var common string
	for i, name := range names {
		dash := strings.LastIndexByte(name, '-')
		if dash < 0 {
			return ""
		}
		suffix := name[dash:]
		if _, err := strconv.ParseUint(suffix[1:], 10, 32); err != nil {
			return ""
		}
		if i == 0 {
			common = suffix
		} else if suffix != common {
			return ""
		}
	}
	return common
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// formatTable lays out one row per benchmark, native order first, then any
// benchmark that ran only under wasm. A benchmark missing from one run shows
// "-" there.
func formatTable(native, wasm *results, speed *speedFigures) string {
	names := allNames(native, wasm)

	rows := [][]string{{"benchmark", "native", "wasm", "wasm/native"}}
	for _, name := range names {
		n, nok := native.samples[name]
		w, wok := wasm.samples[name]
		row := []string{strings.TrimPrefix(name, "Benchmark"), "-", "-", "-"}
		if nok {
			row[1] = formatDuration(median(n))
		}
		if wok {
			row[2] = formatDuration(median(w))
		}
		if nok && wok && median(n) > 0 {
			row[3] = formatRatio(median(w) / median(n))
		}
		rows = append(rows, row)
	}
	if speed != nil {
		rows[0] = append(rows[0], "target")
		for i := 1; i < len(rows); i++ {
			rows[i] = append(rows[i], "")
		}
		for _, f := range speed.Figures {
			value := "n/a"
			if f.Median != nil {
				value = figure(*f.Median) + " " + f.Unit
				if f.P99 != nil {
					value = "p50 " + value + ", p99 " + figure(*f.P99) + " " + f.Unit
				}
			}
			row := []string{f.Name, "-", "-", "-", f.Target}
			// Server figures come from native Go; the rest from Chromium.
			if strings.HasPrefix(f.Name, "server:") {
				row[1] = value
			} else {
				row[2] = value
			}
			rows = append(rows, row)
		}
	}

	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	var b strings.Builder
	writeRow := func(row []string) {
		b.WriteString("|")
		for i, cell := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			if i == 0 {
				b.WriteString(" " + cell + pad + " |")
			} else {
				b.WriteString(" " + pad + cell + " |")
			}
		}
		b.WriteString("\n")
	}
	writeRow(rows[0])
	b.WriteString("|")
	for i, w := range widths {
		if i == 0 {
			b.WriteString(" " + strings.Repeat("-", w) + " |")
		} else {
			b.WriteString(" " + strings.Repeat("-", w-1) + ": |")
		}
	}
	b.WriteString("\n")
	for _, row := range rows[1:] {
		writeRow(row)
	}
	return b.String()
}

// formatDuration prints a time per operation with three significant digits
// in the largest unit that keeps it at or above 1.
func formatDuration(ns float64) string {
	// Round first so that 999.7 ms becomes "1.00 s", not "1000 ms".
	ns = roundSig(ns)
	units := []struct {
		name  string
		scale float64
	}{{"s", 1e9}, {"ms", 1e6}, {"µs", 1e3}, {"ns", 1}}
	for _, u := range units {
		if ns >= u.scale || u.scale == 1 {
			return sigDigits(ns/u.scale) + " " + u.name
		}
	}
	panic("benchtable: internal error: no unit for duration")
}

func formatRatio(r float64) string {
	return sigDigits(r) + "x"
}

// sigDigits formats v with three significant digits, without switching to
// an exponent for large values.
func sigDigits(v float64) string {
	v = roundSig(v)
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// roundSig rounds v to three significant digits.
func roundSig(v float64) float64 {
	if v == 0 {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(math.Abs(v)))-2)
	return math.Round(v/p) * p
}

// figure prints a speed figure with three significant digits.
func figure(v float64) string {
	if math.Abs(v) >= 1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
