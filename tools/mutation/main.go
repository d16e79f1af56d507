// Mutation disables, one at a time, the guards on untrusted input in Duet's
// MPC library and in the server's authentication and authorisation code, runs
// the tests of the guard's package against each change, and reports the
// changes that no test notices.
//
// A guard is an if statement, or a case of a tagless switch, whose body ends
// by returning a non-nil error (an abort, errors.New, fmt.Errorf, an Err*
// sentinel, an error literal), false from a bool validation function, or by
// writing an HTTP 4xx/5xx status and returning. Each guard gets these
// mutants:
//
//   - its whole condition forced false;
//   - for a condition made of || terms, each term forced false on its own;
//   - for each comparison against a bound (x.BitLen() > MaxBits, n < Min,
//     len(b) != 32), the bound widened by one: one more accepted above an
//     upper bound, one less below a lower bound, one more than an exact size.
//
// Functions named Prove… or prove… are skipped: a zero-knowledge prover
// checks the witness our own code gives it, not a peer's input.
//
// A guard is not mutated when its line, or the comment directly above it,
// holds a comment beginning "Redundant:" that says which other check covers
// the same input; such guards are listed on their own. A comment beginning
// "Redundant bound:" instead leaves out only the guard's widened bounds (a
// decoder that already caps the size, say) and keeps its other mutants.
//
// Before the mutants, each top-level test of a package runs on its own with
// coverage (this is also the check that the tests pass unchanged). A
// mutant changes only its guard's condition, so a test that never reaches
// that condition cannot notice it: each mutant runs only the tests that
// reach its guard's line, with -failfast, and a guard that no test reaches
// is reported as surviving without running anything. Where coverage cannot
// be had, the mutant runs the package's whole suite (as with -cover=false).
//
// Mutants are compiled through go test -overlay, so the work tree is never
// written and mutants can run in parallel. A mutant is killed when the
// package's tests fail, survives when they pass, and is invalid when it does
// not compile. The report is not a gate: the exit status is 0 unless the tool
// itself fails.
//
// Usage, from the repository root:
//
//	go run ./tools/mutation [-j N] [-pkgs REGEXP] [-list] [-out FILE] [-targets LIST] [-first REGEXP] [-run REGEXP] [-only REGEXP] [-cover=false]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

// defaultTargets are the files whose guards are mutated: a directory (its
// non-test Go files), dir/... (recursively), a file, or file:Name+Name for
// only the named functions or methods of a file.
var defaultTargets = []string{
	"mpc",
	"mpc/zk/...",
	"mpc/codec",
	"mpc/paillier",
	"mpc/pedersen",
	"mpc/arith/arith.go",
	"server/apikey",
	"server/store/sql.go:authenticate",
	"server/custodian/store.go:Authenticate",
	"server/custodian/handler.go",
	"server/api/routes.go",
	"server/party/party.go",
	"server/party/devices.go",
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mutation:", err)
		os.Exit(1)
	}
}

type options struct {
	root    string
	targets []string
	pkgs    *regexp.Regexp
	list    bool
	jobs    int
	timeout time.Duration
	out     string
	gocmd   string
	first   *regexp.Regexp
	cover   bool
	run     *regexp.Regexp
	only    *regexp.Regexp
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mutation", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var targets, pkgs string
	fs.StringVar(&o.root, "root", ".", "repository `dir`ectory; the targets are relative to it")
	fs.StringVar(&targets, "targets", strings.Join(defaultTargets, ","), "comma-separated `list` of dir, dir/..., file.go or file.go:Func+Func")
	fs.StringVar(&pkgs, "pkgs", "", "only mutate files whose path (relative to the root) matches this `regexp`")
	fs.BoolVar(&o.list, "list", false, "print the mutants without running them")
	fs.IntVar(&o.jobs, "j", 1, "mutants tested in parallel")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "go test -timeout for one mutant")
	fs.StringVar(&o.out, "out", "", "also write the report to this `file`")
	fs.StringVar(&o.gocmd, "go", "go", "the go command")
	fs.BoolVar(&o.cover, "cover", true, "record which tests reach each line, one test at a time, and run for each mutant only the tests that reach its guard (same verdicts, sooner; a guard no test reaches survives unrun)")
	var first, runTests, only string
	fs.StringVar(&only, "only", "", "test only the mutants whose line (as -list prints it: file:line — Func: change) matches this `regexp`")
	fs.StringVar(&runTests, "run", "", "run only the top-level tests matching this `regexp`, for the baseline and every mutant: a mutant that survives has escaped these tests only")
	fs.StringVar(&first, "first", "", "run the tests matching this `regexp` first and the whole suite only for a mutant they miss (same verdicts, sooner)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.jobs < 1 {
		return fmt.Errorf("-j must be at least 1")
	}
	for _, t := range strings.Split(targets, ",") {
		if t = strings.TrimSpace(t); t != "" {
			o.targets = append(o.targets, t)
		}
	}
	if first != "" {
		re, err := regexp.Compile(first)
		if err != nil {
			return fmt.Errorf("-first: %w", err)
		}
		o.first = re
	}
	if only != "" {
		re, err := regexp.Compile(only)
		if err != nil {
			return fmt.Errorf("-only: %w", err)
		}
		o.only = re
	}
	if runTests != "" {
		re, err := regexp.Compile(runTests)
		if err != nil {
			return fmt.Errorf("-run: %w", err)
		}
		o.run = re
	}
	if pkgs != "" {
		re, err := regexp.Compile(pkgs)
		if err != nil {
			return fmt.Errorf("-pkgs: %w", err)
		}
		o.pkgs = re
	}
	root, err := filepath.Abs(o.root)
	if err != nil {
		return err
	}
	o.root = root

	guards, mutants, err := collect(o.root, o.targets, o.pkgs)
	if err != nil {
		return err
	}
	if o.only != nil {
		mutants = slices.DeleteFunc(mutants, func(m mutant) bool { return !o.only.MatchString(m.String()) })
	}
	if o.list {
		return list(stdout, guards, mutants)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	res, err := execute(ctx, o, mutants, stderr)
	if err != nil {
		return err
	}
	var b strings.Builder
	report(&b, guards, res, time.Since(start), ctx.Err() != nil)
	if _, err := io.WriteString(stdout, b.String()); err != nil {
		return err
	}
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func list(w io.Writer, guards []guard, mutants []mutant) error {
	for _, m := range mutants {
		fmt.Fprintln(w, m)
	}
	n := 0
	for _, g := range guards {
		if g.Redundant != "" {
			fmt.Fprintf(w, "%s:%d — %s: documented redundant: %s\n", g.File, g.Line, g.Func, g.Redundant)
			n++
		}
	}
	_, err := fmt.Fprintf(w, "%d guards, %d documented redundant, %d mutants\n", len(guards), n, len(mutants))
	return err
}
