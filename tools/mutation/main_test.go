package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const fixture = "testdata/guards"

// wantMutants is every mutant of the fixture, with the outcome its tests
// give: k killed, s survived, i invalid, u survived because no test reaches
// it.
var wantMutants = []struct{ line, outcome string }{
	{"guards.go:29 — Parse: drop condition: len(b) < 2", "k"},
	{"guards.go:29 — Parse: len(b) < 2 widened by 1", "s"},
	{"guards.go:32 — Parse: drop condition: b[0] == 0 || b[1] == 0", "k"},
	{"guards.go:32 — Parse: drop b[0] == 0", "k"},
	{"guards.go:32 — Parse: drop b[1] == 0", "s"},
	{`guards.go:41 — Parse: drop check "bits": n > MaxBits`, "k"},
	{`guards.go:41 — Parse: n > MaxBits widened 1 bit (check "bits")`, "s"},
	{"guards.go:52 — Valid: drop condition: name < minName", "k"},
	{"guards.go:52 — Valid: name < minName widened by 1", "i"},
	{`guards.go:77 — Handle: drop condition: r.Header.Get("Authorization") == ""`, "k"},
	{"guards.go:89 — check: drop condition: v < 0", "k"},
	{"guards.go:89 — check: v < 0 widened by 1", "k"},
	{"guards.go:113 — Unreached: drop condition: v > 9", "u"},
	{"guards.go:113 — Unreached: v > 9 widened by 1", "u"},
	{"guards.go:121 — Sized: drop condition: len(b) != 4", "u"},
}

var wantRedundant = []string{
	"guards.go:36 — Parse: Redundant: the length check above rejects empty input.",
	"guards.go:69 — Flag: Redundant: a test fixture, documented on its own line.",
	"guards.go:121 — Sized: Redundant bound: a test fixture; its decoder caps b at 4 bytes.",
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func TestListFindsExactlyTheGuards(t *testing.T) {
	var out strings.Builder
	if err := run([]string{"-root", fixture, "-targets", ".", "-list"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, m := range wantMutants {
		want = append(want, m.line)
	}
	for _, r := range wantRedundant {
		file, rest, _ := strings.Cut(r, ": Redundant")
		want = append(want, file+": documented redundant: Redundant"+rest)
	}
	want = append(want, "10 guards, 3 documented redundant, 15 mutants")
	if got := lines(out.String()); !slices.Equal(got, want) {
		t.Errorf("mutants:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRunReportsSurvivors runs every mutant of the fixture against its tests
// and checks the report's sections and score, and that the mutants reached
// the compiler through the overlay only.
// The verdicts are the same whether each mutant runs the whole suite
// (-cover=false), only the tests that reach its guard (the default), or
// some tests first (-first).
func TestRunReportsSurvivors(t *testing.T) {
	for name, extra := range map[string][]string{
		"whole suite":     {"-cover=false"},
		"by coverage":     nil,
		"TestParse first": {"-first", "^TestParse$"},
	} {
		t.Run(name, func(t *testing.T) { testRunReportsSurvivors(t, extra) })
	}
}

func testRunReportsSurvivors(t *testing.T, extra []string) {
	byCoverage := !slices.Contains(extra, "-cover=false")
	src := filepath.Join(fixture, "guards.go")
	before, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "report.txt")
	var stdout, stderr strings.Builder
	args := append([]string{"-root", fixture, "-targets", ".", "-j", "2", "-timeout", "1m", "-out", out}, extra...)
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if after, err := os.ReadFile(src); err != nil || string(after) != string(before) {
		t.Errorf("the run changed %s (%v)", src, err)
	}
	written, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(written) != stdout.String() {
		t.Errorf("-out file differs from the printed report")
	}
	report := stdout.String()
	section := func(title string) []string {
		_, rest, ok := strings.Cut(report, title)
		if !ok {
			t.Fatalf("report has no %q section:\n%s", title, report)
		}
		rest = rest[strings.Index(rest, "\n")+1:]
		body, _, _ := strings.Cut(rest, "\n\n")
		return lines(body)
	}
	var survived, invalid []string
	for _, m := range wantMutants {
		switch m.outcome {
		case "s":
			survived = append(survived, m.line)
		case "u":
			if byCoverage {
				survived = append(survived, m.line+" (no test reaches it)")
			} else {
				survived = append(survived, m.line)
			}
		case "i":
			invalid = append(invalid, m.line)
		}
	}
	if got := section("Surviving mutants"); !slices.Equal(got, survived) {
		t.Errorf("survivors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(survived, "\n"))
	}
	if got := section("Invalid mutants"); !slices.Equal(got, invalid) {
		t.Errorf("invalid:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(invalid, "\n"))
	}
	if got := section("Documented redundant"); !slices.Equal(got, wantRedundant) {
		t.Errorf("redundant:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRedundant, "\n"))
	}
	score := section("Score (killed/total)")
	want := []string{". 8/14 (1 invalid)", "total 8/14 (1 invalid)"}
	for i := range score {
		score[i] = strings.Join(strings.Fields(score[i]), " ")
	}
	if !slices.Equal(score, want) {
		t.Errorf("score %q, want %q", score, want)
	}

	// Which tests each mutant ran, from the progress log: by coverage, the
	// Authorization check's mutant runs TestHandle alone, the "bits" case
	// (whose switch is what coverage sees) TestParse alone.
	log := stderr.String()
	for _, m := range []string{
		`guards.go:77 — drop condition: r.Header.Get("Authorization") == "" (`,
		`guards.go:41 — drop check "bits": n > MaxBits (`,
	} {
		want := m + "all tests, "
		if byCoverage {
			want = m + "1 of 4 tests, "
		}
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if got := strings.Contains(log, "coverage of 4 tests"); got != byCoverage {
		t.Errorf("coverage recorded: %v, want %v:\n%s", got, byCoverage, log)
	}
}

func TestCoverageSelectsReachingTests(t *testing.T) {
	profA := `mode: set
example.com/guards/guards.go:28.36,29.16 1 1
example.com/guards/guards.go:29.16,31.3 1 0
example.com/guards/guards.go:88.25,89.11 1 0
`
	profB := `mode: set
example.com/guards/guards.go:28.36,29.16 1 0
example.com/guards/guards.go:88.25,89.11 1 1
example.com/guards/other.go:5.1,9.2 2 1
`
	var c coverage
	for name, prof := range map[string]string{"TestA": profA, "TestB": profB} {
		bs, err := parseProfile(strings.NewReader(prof), "pkg/sub")
		if err != nil {
			t.Fatal(err)
		}
		c.tests = append(c.tests, name)
		c.blocks = append(c.blocks, bs)
	}
	for _, tc := range []struct {
		file string
		line int
		want []string
	}{
		{"pkg/sub/guards.go", 28, []string{"TestA"}},
		{"pkg/sub/guards.go", 29, []string{"TestA"}}, // the block that ran ends there; the one starting there did not run
		{"pkg/sub/guards.go", 30, nil},
		{"pkg/sub/guards.go", 89, []string{"TestB"}},
		{"pkg/sub/other.go", 7, []string{"TestB"}},
		{"pkg/other/guards.go", 28, nil},
	} {
		got := c.reaching(tc.file, tc.line)
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("reaching(%s, %d) = %q, want %q", tc.file, tc.line, got, tc.want)
		}
	}
	if got, want := runPattern([]string{"TestA", "Test_B.x"}), `^(TestA|Test_B\.x)$`; got != want {
		t.Errorf("runPattern = %q, want %q", got, want)
	}
	for _, bad := range []string{
		"",
		"example.com/g.go:1.1,2.2 1 1\n",
		"mode: set\nexample.com/g.go:1.1,2.2 1\n",
		"mode: set\nexample.com/g.go:1.1 1 1\n",
		"mode: set\nexample.com/g.go:3.1,2.2 1 1\n",
		"mode: set\nexample.com/g.go:x.1,2.2 1 1\n",
		"mode: set\nexample.com/g.go:1.1,2.2 1 many\n",
	} {
		if _, err := parseProfile(strings.NewReader(bad), "."); err == nil {
			t.Errorf("parseProfile(%q) succeeded", bad)
		}
	}
}

func TestTargetFunctionsAndFilter(t *testing.T) {
	var out strings.Builder
	if err := run([]string{"-root", fixture, "-targets", "guards.go:Valid+Handle", "-list"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	got := lines(out.String())
	if len(got) != 4 || !strings.HasSuffix(got[3], "2 guards, 0 documented redundant, 3 mutants") {
		t.Errorf("functions Valid and Handle: %q", got)
	}
	out.Reset()
	if err := run([]string{"-root", fixture, "-targets", ".", "-pkgs", `^nothing/`, "-list"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got := lines(out.String()); !slices.Equal(got, []string{"0 guards, 0 documented redundant, 0 mutants"}) {
		t.Errorf("-pkgs matching nothing: %q", got)
	}
	out.Reset()
	if err := run([]string{"-root", fixture, "-targets", ".", "-only", `:32 — .*drop b\[|widened 1 bit`, "-list"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"guards.go:32 — Parse: drop b[0] == 0",
		"guards.go:32 — Parse: drop b[1] == 0",
		`guards.go:41 — Parse: n > MaxBits widened 1 bit (check "bits")`,
	}
	if got := lines(out.String()); len(got) != 7 || !slices.Equal(got[:3], want) || got[6] != "10 guards, 3 documented redundant, 3 mutants" {
		t.Errorf("-only: %q, want %q", got, want)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-j", "0"},
		{"-pkgs", "("},
		{"-only", "("},
		{"-root", fixture, "-targets", "nosuch.go"},
		{"-root", fixture, "-targets", "nosuchdir"},
		{"-root", fixture, "-targets", ".:Func"},
		{"extra"},
	} {
		if err := run(args, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

// TestReportInterrupted checks that mutants an interrupted run did not reach
// count as not run in their own package, not as killed or survived.
func TestReportInterrupted(t *testing.T) {
	g := guard{File: "a/x.go", Line: 3, Func: "F"}
	res := []result{
		{mutant: mutant{guard: g, Desc: "drop one"}, outcome: killed},
		{mutant: mutant{guard: g, Desc: "drop two"}, outcome: survived},
		{mutant: mutant{guard: guard{File: "b/y.go", Line: 9, Func: "G"}, Desc: "drop three"}},
	}
	var b strings.Builder
	report(&b, []guard{g}, res, time.Minute, true)
	got := b.String()
	for _, want := range []string{
		"Interrupted after 1m0s: 1 mutants not run.",
		"a/x.go:3 — F: drop two\n",
		"  a                      1/2\n",
		"  b                      0/0 (1 not run)\n",
		"  total                  1/2 (1 not run)\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "drop three") {
		t.Errorf("a mutant not run is listed:\n%s", got)
	}
}

// With -run, only the matching tests count: the baseline and the coverage
// know no other, so the guard only TestCheck reaches is reported unreached.
func TestRunOnlySomeTests(t *testing.T) {
	var stdout, stderr strings.Builder
	args := []string{"-root", fixture, "-targets", "guards.go:Handle+check", "-timeout", "1m", "-run", "^TestHandle$"}
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	report := stdout.String()
	for _, want := range []string{
		"Surviving mutants (no test noticed): 2\n",
		"guards.go:89 — check: drop condition: v < 0 (no test reaches it)\n",
		"guards.go:89 — check: v < 0 widened by 1 (no test reaches it)\n",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if !strings.Contains(stderr.String(), "coverage of 1 tests") {
		t.Errorf("coverage of other tests than TestHandle:\n%s", stderr.String())
	}
	if err := run([]string{"-run", "("}, io.Discard, io.Discard); err == nil {
		t.Error("-run ( accepted")
	}
}
