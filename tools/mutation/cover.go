package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A coverage records, for each top-level test of a package, the lines of
// the package's files that the test ran, from one run of each test on its
// own. A mutant changes only its guard's condition, so a test that never
// reaches that condition cannot notice the mutant; running only the tests
// that reach it gives the same verdict as the whole suite, sooner.
type coverage struct {
	tests  []string
	blocks [][]block // blocks[i]: the blocks test i ran
}

// A block is a run of lines of one file that a test executed.
type block struct {
	file       string // slash-separated, relative to the root
	start, end int    // lines, inclusive
}

// reaching returns the tests that ran line of file, in the order of
// c.tests.
func (c *coverage) reaching(file string, line int) []string {
	var out []string
	for i, bs := range c.blocks {
		for _, b := range bs {
			if b.file == file && b.start <= line && line <= b.end {
				out = append(out, c.tests[i])
				break
			}
		}
	}
	return out
}

// runPattern returns the go test -run pattern for exactly these top-level
// tests (and their subtests).
func runPattern(tests []string) string {
	q := make([]string, len(tests))
	for i, t := range tests {
		q[i] = regexp.QuoteMeta(t)
	}
	return "^(" + strings.Join(q, "|") + ")$"
}

// parseProfile reads a go test -coverprofile and returns the blocks that
// ran at least once, their files given relative to the root as dir/name.
// Only files of the package itself (at dir) are kept.
func parseProfile(r io.Reader, dir string) ([]block, error) {
	var out []block
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			if !strings.HasPrefix(line, "mode: ") {
				return nil, fmt.Errorf("coverage profile: no mode line")
			}
			continue
		}
		if line == "" {
			continue
		}
		// name.go:startLine.startCol,endLine.endCol numStmts count
		i := strings.LastIndex(line, ":")
		if i < 0 {
			return nil, fmt.Errorf("coverage profile: bad line %q", line)
		}
		name, rest := line[:i], line[i+1:]
		f := strings.Fields(rest)
		if len(f) != 3 {
			return nil, fmt.Errorf("coverage profile: bad line %q", line)
		}
		count, err := strconv.Atoi(f[2])
		if err != nil {
			return nil, fmt.Errorf("coverage profile: bad count in %q", line)
		}
		from, to, ok := strings.Cut(f[0], ",")
		if !ok {
			return nil, fmt.Errorf("coverage profile: bad range in %q", line)
		}
		start, err1 := strconv.Atoi(strings.Split(from, ".")[0])
		end, err2 := strconv.Atoi(strings.Split(to, ".")[0])
		if err1 != nil || err2 != nil || end < start {
			return nil, fmt.Errorf("coverage profile: bad range in %q", line)
		}
		if count == 0 {
			continue
		}
		file := path.Base(name)
		if dir != "." {
			file = dir + "/" + file
		}
		out = append(out, block{file: file, start: start, end: end})
	}
	if first {
		return nil, fmt.Errorf("coverage profile: empty")
	}
	return out, sc.Err()
}

// errBaseline reports that a test of the package fails without any mutant.
var errBaseline = errors.New("a test fails without any mutant")

// collectCoverage builds pkg's tests with coverage of pkg itself and runs
// each top-level test (and each fuzz target's seeds and each example) on
// its own, in the package's directory as go test does. It returns
// errBaseline, with the test's output, if a test fails; any other error
// means the coverage is unknown.
func collectCoverage(ctx context.Context, o options, tmp, pkg string) (*coverage, []byte, error) {
	dir := strings.TrimPrefix(pkg, "./")
	work, err := os.MkdirTemp(tmp, "cover-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "pkg.test")
	build := exec.CommandContext(ctx, o.gocmd, "test", "-c", "-vet=off", "-cover", "-coverpkg="+pkg, "-o", bin, pkg)
	build.Dir = o.root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, out, fmt.Errorf("building the tests with coverage: %w", err)
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, nil, fmt.Errorf("no test binary: %w", err)
	}
	pkgDir := filepath.Join(o.root, filepath.FromSlash(dir))
	list := exec.CommandContext(ctx, bin, "-test.list", ".")
	list.Dir = pkgDir
	listed, err := list.Output()
	if err != nil {
		return nil, listed, fmt.Errorf("listing the tests: %w", err)
	}
	c := &coverage{}
	for _, name := range strings.Fields(string(listed)) {
		if o.run != nil && !o.run.MatchString(name) {
			continue
		}
		if strings.HasPrefix(name, "Test") || strings.HasPrefix(name, "Fuzz") || strings.HasPrefix(name, "Example") {
			c.tests = append(c.tests, name)
		}
	}
	c.blocks = make([][]block, len(c.tests))
	for i, name := range c.tests {
		prof := filepath.Join(work, fmt.Sprintf("%d.cov", i))
		ok, out, err := runTestBinary(ctx, o, bin, pkgDir, name, prof)
		if err != nil {
			return nil, out, err
		}
		if !ok {
			return nil, out, fmt.Errorf("%s: %w", name, errBaseline)
		}
		f, err := os.Open(prof)
		if err != nil {
			return nil, out, err
		}
		c.blocks[i], err = parseProfile(f, dir)
		f.Close()
		if err != nil {
			return nil, out, fmt.Errorf("%s: %w", name, err)
		}
	}
	return c, nil, nil
}

// runTestBinary runs one top-level test of a test binary, writing its
// coverage profile to prof. Like goTest, it reports whether the test passed;
// err is for a binary that could not run.
func runTestBinary(ctx context.Context, o options, bin, dir, name, prof string) (bool, []byte, error) {
	cctx, cancel := context.WithTimeout(ctx, o.timeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, bin, "-test.run", runPattern([]string{name}), "-test.count=1",
		"-test.failfast", "-test.timeout", o.timeout.String(), "-test.coverprofile", prof)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	setProcessGroup(cmd)
	err := cmd.Run()
	if err == nil {
		return true, out.Bytes(), nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) || (cctx.Err() != nil && ctx.Err() == nil) {
		return false, out.Bytes(), nil
	}
	return false, out.Bytes(), err
}
