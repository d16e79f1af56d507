package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/build"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// collect expands the targets into files and returns their guards and
// mutants, in file and line order.
func collect(root string, targets []string, filter *regexp.Regexp) ([]guard, []mutant, error) {
	files := map[string][]string{} // relative path -> function names (nil: all)
	var order []string
	addFile := func(rel string, funcs []string) {
		if _, ok := files[rel]; !ok {
			order = append(order, rel)
		}
		if funcs == nil {
			files[rel] = nil
			return
		}
		if old, ok := files[rel]; !ok || old != nil {
			files[rel] = append(old, funcs...)
		}
	}
	for _, t := range targets {
		spec, funcs, hasFuncs := strings.Cut(t, ":")
		spec = path.Clean(filepath.ToSlash(spec))
		full := filepath.Join(root, filepath.FromSlash(spec))
		if hasFuncs {
			if !strings.HasSuffix(spec, ".go") {
				return nil, nil, fmt.Errorf("target %q: functions can only be named in a file", t)
			}
			addFile(spec, strings.Split(funcs, "+"))
			continue
		}
		if strings.HasSuffix(spec, ".go") {
			if _, err := os.Stat(full); err != nil {
				return nil, nil, fmt.Errorf("target %q: %w", t, err)
			}
			addFile(spec, nil)
			continue
		}
		dir, recursive := strings.CutSuffix(spec, "/...")
		if spec == "..." {
			dir, recursive = ".", true
		}
		names, err := goFiles(root, dir, recursive)
		if err != nil {
			return nil, nil, fmt.Errorf("target %q: %w", t, err)
		}
		for _, n := range names {
			addFile(n, nil)
		}
	}
	sort.Strings(order)
	var guards []guard
	var mutants []mutant
	for _, rel := range order {
		if filter != nil && !filter.MatchString(rel) {
			continue
		}
		g, m, err := fileGuards(root, rel, files[rel])
		if err != nil {
			return nil, nil, err
		}
		guards = append(guards, g...)
		mutants = append(mutants, m...)
	}
	return guards, mutants, nil
}

// goFiles lists the non-test Go files of dir (and of its subdirectories if
// recursive, leaving out testdata) that the native build compiles.
func goFiles(root, dir string, recursive bool) ([]string, error) {
	base := filepath.Join(root, filepath.FromSlash(dir))
	var out []string
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p == base {
				return nil
			}
			name := d.Name()
			if !recursive || name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		if ok, err := build.Default.MatchFile(filepath.Dir(p), name); err != nil || !ok {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err == nil && len(out) == 0 {
		err = errors.New("no Go files")
	}
	return out, err
}

type outcome int

const (
	notRun outcome = iota
	killed
	survived
	invalid
)

type result struct {
	mutant
	outcome outcome
	elapsed time.Duration
	// unreached marks a survivor that no test reaches, by the package's
	// coverage; it was not run.
	unreached bool
}

// pkgOf returns the go test argument for the package holding file rel.
func pkgOf(rel string) string {
	dir := path.Dir(rel)
	if dir == "." {
		return "."
	}
	return "./" + dir
}

// execute runs the package tests of every mutant, -j at a time. It first
// runs each package's tests unchanged: the mutants of a package whose tests
// already fail are not run, since they could only look killed. With -cover,
// that first run is one run of each top-level test on its own, which also
// records the lines each test reaches; a mutant then runs only the tests
// that reach its guard, and the whole suite where that is unknown.
func execute(ctx context.Context, o options, mutants []mutant, log io.Writer) ([]result, error) {
	tmp, err := os.MkdirTemp("", "mutation-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	sources := map[string][]byte{}
	var pkgs []string
	for _, m := range mutants {
		if _, ok := sources[m.File]; !ok {
			src, err := os.ReadFile(filepath.Join(o.root, filepath.FromSlash(m.File)))
			if err != nil {
				return nil, err
			}
			sources[m.File] = src
		}
		if p := pkgOf(m.File); !slices.Contains(pkgs, p) {
			pkgs = append(pkgs, p)
		}
	}

	var mu sync.Mutex
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(log, format, args...)
	}

	// Baselines.
	broken := map[string]bool{}
	covered := map[string]*coverage{}
	parallel(ctx, o.jobs, len(pkgs), func(i int) {
		t0 := time.Now()
		if o.cover {
			c, out, err := collectCoverage(ctx, o, tmp, pkgs[i])
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, errBaseline) {
				mu.Lock()
				broken[pkgs[i]] = true
				mu.Unlock()
				logf("baseline %s: %v; its mutants are not run\n%s\n", pkgs[i], err, tail(out))
				return
			}
			if err == nil {
				mu.Lock()
				covered[pkgs[i]] = c
				mu.Unlock()
				logf("baseline %s: ok, coverage of %d tests (%.1fs)\n", pkgs[i], len(c.tests), time.Since(t0).Seconds())
				return
			}
			logf("baseline %s: no coverage (%v); its mutants run the whole suite\n%s\n", pkgs[i], err, tail(out))
		}
		ok, out, err := goTest(ctx, o, "", pkgs[i], "")
		if ctx.Err() != nil {
			return
		}
		if err != nil || !ok {
			mu.Lock()
			broken[pkgs[i]] = true
			mu.Unlock()
			logf("baseline %s: tests fail without any mutant; its mutants are not run\n%s\n", pkgs[i], tail(out))
			return
		}
		logf("baseline %s: ok (%.1fs)\n", pkgs[i], time.Since(t0).Seconds())
	})

	// Mutants left when the run is interrupted stay not run.
	res := make([]result, len(mutants))
	for i, m := range mutants {
		res[i] = result{mutant: m}
	}
	var done int
	parallel(ctx, o.jobs, len(mutants), func(i int) {
		m := mutants[i]
		if broken[pkgOf(m.File)] {
			return
		}
		// The tests to run: "" for the whole suite; those matching first
		// run before the rest.
		var sel string
		first := ""
		if o.first != nil {
			first = o.first.String()
		}
		what := "all tests"
		if c := covered[pkgOf(m.File)]; c != nil {
			tests := c.reaching(m.File, m.Reach)
			if len(tests) == 0 {
				res[i].outcome = survived
				res[i].unreached = true
				mu.Lock()
				done++
				n := done
				mu.Unlock()
				logf("[%d/%d] %-8s %s:%d — %s (no test reaches it)\n", n, len(mutants), survived, m.File, m.Line, m.Desc)
				return
			}
			what = fmt.Sprintf("%d of %d tests", len(tests), len(c.tests))
			first = ""
			if o.first != nil {
				var early, late []string
				for _, t := range tests {
					if o.first.MatchString(t) {
						early = append(early, t)
					} else {
						late = append(late, t)
					}
				}
				if len(early) > 0 {
					first = runPattern(early)
					tests = late
				}
			}
			if len(tests) > 0 {
				sel = runPattern(tests)
			}
		}
		src, err := m.apply(sources[m.File])
		if err != nil {
			res[i].outcome = invalid
			logf("%v\n", err)
			return
		}
		dir := filepath.Join(tmp, fmt.Sprint(i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			logf("%v\n", err)
			return
		}
		defer os.RemoveAll(dir)
		file := filepath.Join(dir, path.Base(m.File))
		overlay := filepath.Join(dir, "overlay.json")
		js, _ := json.Marshal(map[string]map[string]string{
			"Replace": {filepath.Join(o.root, filepath.FromSlash(m.File)): file},
		})
		if err := os.WriteFile(file, src, 0o644); err != nil {
			logf("%v\n", err)
			return
		}
		if err := os.WriteFile(overlay, js, 0o644); err != nil {
			logf("%v\n", err)
			return
		}
		t0 := time.Now()
		var ok bool
		var out []byte
		if first != "" {
			// The tests most likely to notice go first; only a mutant they
			// miss pays for the rest, so the verdict is the same.
			ok, out, err = goTest(ctx, o, overlay, pkgOf(m.File), first)
		}
		if first == "" || (err == nil && ok && (sel != "" || covered[pkgOf(m.File)] == nil)) {
			ok, out, err = goTest(ctx, o, overlay, pkgOf(m.File), sel)
		}
		if ctx.Err() != nil {
			return
		}
		res[i].elapsed = time.Since(t0)
		switch {
		case err != nil:
			logf("%s:%d: %v\n", m.File, m.Line, err)
			return
		case ok:
			res[i].outcome = survived
		case buildFailed(out):
			res[i].outcome = invalid
		default:
			res[i].outcome = killed
		}
		mu.Lock()
		done++
		n := done
		mu.Unlock()
		logf("[%d/%d] %-8s %s:%d — %s (%s, %.1fs)\n", n, len(mutants), res[i].outcome, m.File, m.Line, m.Desc, what, res[i].elapsed.Seconds())
	})
	return res, nil
}

func (o outcome) String() string {
	return [...]string{"not run", "killed", "survived", "invalid"}[o]
}

// parallel calls f(0..n-1), jobs at a time, until ctx is cancelled.
func parallel(ctx context.Context, jobs, n int, f func(int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range jobs {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
}

// goTest runs the tests of pkg (those matching run if not empty, else those
// matching -run), with the overlay file if not empty. It
// reports whether they passed; err is for a go command that could not run.
func goTest(ctx context.Context, o options, overlay, pkg, run string) (bool, []byte, error) {
	args := []string{"test", "-count=1", "-failfast", "-vet=off", "-timeout", o.timeout.String()}
	if overlay != "" {
		args = append(args, "-overlay="+overlay)
	}
	if run == "" && o.run != nil {
		run = o.run.String()
	}
	if run != "" {
		args = append(args, "-run", run)
	}
	args = append(args, pkg)
	// The go command's own limit is well past the test's, which go test
	// enforces itself.
	cctx, cancel := context.WithTimeout(ctx, o.timeout+5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, o.gocmd, args...)
	cmd.Dir = o.root
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	setProcessGroup(cmd)
	err := cmd.Run()
	if err == nil {
		return true, out.Bytes(), nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && cctx.Err() == nil {
		return false, out.Bytes(), nil
	}
	if cctx.Err() != nil && ctx.Err() == nil {
		// The test binary hung past go test's own timeout: the mutant broke
		// something, which counts as noticed.
		return false, out.Bytes(), nil
	}
	return false, out.Bytes(), err
}

func buildFailed(out []byte) bool {
	return bytes.Contains(out, []byte("[build failed]")) || bytes.Contains(out, []byte("[setup failed]"))
}

func tail(out []byte) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// report writes the surviving and invalid mutants, a score per package and
// in total (killed out of killed + surviving), and the documented-redundant
// guards.
func report(w io.Writer, guards []guard, res []result, elapsed time.Duration, interrupted bool) {
	type score struct{ killed, survived, invalid, notRun int }
	scores := map[string]*score{}
	var pkgs []string
	var total score
	var surv, inv, skipped []result
	for _, r := range res {
		p := pkgOf(r.File)
		s := scores[p]
		if s == nil {
			s = &score{}
			scores[p] = s
			pkgs = append(pkgs, p)
		}
		switch r.outcome {
		case killed:
			s.killed++
			total.killed++
		case survived:
			s.survived++
			total.survived++
			surv = append(surv, r)
		case invalid:
			s.invalid++
			total.invalid++
			inv = append(inv, r)
		default:
			s.notRun++
			total.notRun++
			skipped = append(skipped, r)
		}
	}
	sort.Strings(pkgs)
	line := func(r result) {
		fmt.Fprintf(w, "%s:%d — %s: %s", r.File, r.Line, r.Func, r.Desc)
		if r.unreached {
			fmt.Fprint(w, " (no test reaches it)")
		}
		fmt.Fprintln(w)
	}

	if interrupted {
		fmt.Fprintf(w, "Interrupted after %s: %d mutants not run.\n\n", elapsed.Round(time.Second), total.notRun)
	}
	fmt.Fprintf(w, "Surviving mutants (no test noticed): %d\n", len(surv))
	for _, r := range surv {
		line(r)
	}
	if len(inv) > 0 {
		fmt.Fprintf(w, "\nInvalid mutants (did not compile): %d\n", len(inv))
		for _, r := range inv {
			line(r)
		}
	}
	if len(skipped) > 0 && !interrupted {
		fmt.Fprintf(w, "\nNot run (the package's tests fail without any mutant): %d\n", len(skipped))
		for _, r := range skipped {
			line(r)
		}
	}
	fmt.Fprintf(w, "\nScore (killed/total):\n")
	for _, p := range pkgs {
		s := scores[p]
		fmt.Fprintf(w, "  %-22s %s\n", strings.TrimPrefix(p, "./"), fraction(s.killed, s.survived, s.invalid, s.notRun))
	}
	fmt.Fprintf(w, "  %-22s %s\n", "total", fraction(total.killed, total.survived, total.invalid, total.notRun))
	var red []guard
	for _, g := range guards {
		if g.Redundant != "" {
			red = append(red, g)
		}
	}
	fmt.Fprintf(w, "\nDocumented redundant (not run): %d\n", len(red))
	for _, g := range red {
		fmt.Fprintf(w, "%s:%d — %s: %s\n", g.File, g.Line, g.Func, g.Redundant)
	}
	fmt.Fprintf(w, "\n%d guards, %d mutants, %s\n", len(guards), len(res), elapsed.Round(time.Second))
}

func fraction(killed, survived, invalid, notRun int) string {
	s := fmt.Sprintf("%d/%d", killed, killed+survived)
	var extra []string
	if invalid > 0 {
		extra = append(extra, fmt.Sprintf("%d invalid", invalid))
	}
	if notRun > 0 {
		extra = append(extra, fmt.Sprintf("%d not run", notRun))
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, ", ") + ")"
	}
	return s
}
