package main

import (
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A guard is a check on input whose failure ends the function with an error:
// an if statement, or a case of a tagless switch, whose body's last statement
// returns a non-nil error (or false from a bool validation function), or
// writes an HTTP 4xx/5xx status and returns.
type guard struct {
	File      string // slash-separated, relative to the root
	Line      int
	Reach     int // the line whose coverage shows the condition was evaluated
	Func      string
	Check     string // the check's name, where the abort names one
	Redundant string // the text of a "Redundant:" comment, if any
}

// A mutant is one change to one guard's condition, as a byte range of the
// file's source and the text that replaces it.
type mutant struct {
	guard
	Desc       string
	Start, End int
	Repl       string
}

// String is the mutant's line in -list: file:line — Func: change.
func (m mutant) String() string {
	return fmt.Sprintf("%s:%d — %s: %s", m.File, m.Line, m.Func, m.Desc)
}

// fileGuards parses the file at root/rel and returns its guards and their
// mutants. funcs, when not empty, keeps only the guards inside the top-level
// functions or methods of those names.
func fileGuards(root, rel string, funcs []string) ([]guard, []mutant, error) {
	path := filepath.Join(root, filepath.FromSlash(rel))
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return nil, nil, err
	}
	consts := packageConsts(filepath.Dir(path))
	imports := map[string]bool{}
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		name := p[strings.LastIndex(p, "/")+1:]
		if im.Name != nil {
			name = im.Name.Name
		}
		imports[name] = true
	}
	redundant := redundantLines(fset, f)
	v := &visitor{
		fset: fset, src: src, rel: rel, consts: consts, imports: imports, redundant: redundant,
	}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		if len(funcs) > 0 && !slices.Contains(funcs, fd.Name.Name) {
			continue
		}
		// A prover's checks are on the witness and statement our own code
		// hands it, not on anything a peer sent: they are not guards on
		// untrusted input.
		if isProver(fd.Name.Name) {
			continue
		}
		v.fn = funcName(fd)
		v.walk(fd.Type, fd.Body)
	}
	// Nested guards are found before the case clauses around them are
	// done; report in line order.
	slices.SortStableFunc(v.guards, func(a, b guard) int { return a.Line - b.Line })
	slices.SortStableFunc(v.mutants, func(a, b mutant) int { return a.Line - b.Line })
	return v.guards, v.mutants, nil
}

func isProver(name string) bool {
	return strings.HasPrefix(name, "Prove") || strings.HasPrefix(name, "prove")
}

func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
			continue
		case *ast.IndexExpr:
			t = x.X
			continue
		case *ast.IndexListExpr:
			t = x.X
			continue
		}
		break
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}

// packageConsts returns the names of the constants declared at top level in
// the non-test Go files of dir, which count as bounds in comparisons.
func packageConsts(dir string) map[string]bool {
	consts := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				for _, n := range s.(*ast.ValueSpec).Names {
					consts[n.Name] = true
				}
			}
		}
	}
	return consts
}

// redundantBound begins a comment that documents only the bound of a guard
// as redundant: its bound-widening mutants are not made, its others are.
const redundantBound = "Redundant bound:"

// redundantLines maps the line of each comment that begins with
// "Redundant:" or "Redundant bound:", and the line after the comment group
// holding it, to the comment's text.
func redundantLines(fset *token.FileSet, f *ast.File) map[int]string {
	m := map[int]string{}
	for _, g := range f.Comments {
		for _, c := range g.List {
			text := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(c.Text, "//"), "/*"))
			if !strings.HasPrefix(text, "Redundant:") && !strings.HasPrefix(text, redundantBound) {
				continue
			}
			text = strings.TrimSpace(strings.TrimSuffix(text, "*/"))
			m[fset.Position(c.Pos()).Line] = text
			m[fset.Position(g.End()).Line+1] = text
		}
	}
	return m
}

type visitor struct {
	fset      *token.FileSet
	src       []byte
	rel       string
	fn        string
	consts    map[string]bool
	imports   map[string]bool
	redundant map[int]string
	guards    []guard
	mutants   []mutant
}

// walk visits the body of a function of type ft; function literals inside
// it are walked with their own result types.
func (v *visitor) walk(ft *ast.FuncType, body *ast.BlockStmt) {
	ast.Inspect(body, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.FuncLit:
			v.walk(x.Type, x.Body)
			return false
		case *ast.IfStmt:
			if check, ok := v.isGuardBody(ft, x.Body.List); ok {
				v.add(x.Pos(), x.Pos(), check, []ast.Expr{x.Cond})
			}
		case *ast.SwitchStmt:
			if x.Tag != nil {
				return true
			}
			for _, s := range x.Body.List {
				cc := s.(*ast.CaseClause)
				if cc.List == nil {
					continue
				}
				if check, ok := v.isGuardBody(ft, cc.Body); ok {
					// A case's expressions belong to no coverage block
					// of their own: the switch's line shows they ran.
					v.add(cc.Pos(), x.Pos(), check, cc.List)
				}
			}
		}
		return true
	})
}

// isGuardBody reports whether a block ending in stmts ends the function with
// an error, and returns the name of the failed check if the error names one.
func (v *visitor) isGuardBody(ft *ast.FuncType, stmts []ast.Stmt) (string, bool) {
	if len(stmts) == 0 {
		return "", false
	}
	for _, st := range stmts {
		if recordsError(st) {
			return "", true
		}
	}
	ret, ok := stmts[len(stmts)-1].(*ast.ReturnStmt)
	if !ok {
		return "", false
	}
	if len(ret.Results) == 0 {
		// A handler that writes an error status and returns.
		if ft.Results != nil && ft.Results.NumFields() > 0 {
			return "", false
		}
		for _, s := range stmts[:len(stmts)-1] {
			if writesErrorStatus(s) {
				return "", true
			}
		}
		return "", false
	}
	if ft.Results == nil || len(ft.Results.List) == 0 {
		return "", false
	}
	lastType := ft.Results.List[len(ft.Results.List)-1].Type
	last := ret.Results[len(ret.Results)-1]
	if id, ok := lastType.(*ast.Ident); ok && id.Name == "bool" {
		if r, ok := last.(*ast.Ident); ok && r.Name == "false" {
			return "", true
		}
		return "", false
	}
	if !isErrorType(lastType) {
		return "", false
	}
	switch e := last.(type) {
	case *ast.CallExpr:
		return checkName(e), true
	case *ast.Ident:
		return "", isSentinel(e.Name)
	case *ast.SelectorExpr:
		return "", isSentinel(e.Sel.Name)
	case *ast.UnaryExpr:
		if cl, ok := e.X.(*ast.CompositeLit); ok && e.Op == token.AND {
			return litCheck(cl), true
		}
	case *ast.CompositeLit:
		return litCheck(e), true
	}
	return "", false
}

// recordsError reports whether s records an error in a sticky decoder:
// d.Fail(err), or d.err = ErrX (or a call).
func recordsError(s ast.Stmt) bool {
	switch x := s.(type) {
	case *ast.ExprStmt:
		call, ok := x.X.(*ast.CallExpr)
		return ok && calleeName(call) == "Fail" && len(call.Args) == 1
	case *ast.AssignStmt:
		if len(x.Lhs) != 1 || len(x.Rhs) != 1 {
			return false
		}
		sel, ok := x.Lhs[0].(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "err" {
			return false
		}
		switch r := x.Rhs[0].(type) {
		case *ast.CallExpr:
			return true
		case *ast.Ident:
			return isSentinel(r.Name)
		case *ast.SelectorExpr:
			return isSentinel(r.Sel.Name)
		}
	}
	return false
}

func isErrorType(t ast.Expr) bool {
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
			continue
		case *ast.SelectorExpr:
			t = x.Sel
			continue
		case *ast.Ident:
			return x.Name == "error" || strings.HasSuffix(x.Name, "Error")
		}
		return false
	}
}

// isSentinel reports whether name is an error sentinel (ErrX or errX); a bare
// err is a propagated error, whose check is elsewhere.
func isSentinel(name string) bool {
	for _, p := range []string{"Err", "err"} {
		if rest, ok := strings.CutPrefix(name, p); ok && rest != "" && rest[0] >= 'A' && rest[0] <= 'Z' {
			return true
		}
	}
	return false
}

// checkName returns the check an abort names: the first string literal
// argument of an abort call such as h.abort(round, "check", err).
func checkName(call *ast.CallExpr) string {
	if !strings.Contains(strings.ToLower(calleeName(call)), "abort") {
		return ""
	}
	for _, a := range call.Args {
		if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			s, _ := strconv.Unquote(lit.Value)
			return s
		}
	}
	return ""
}

func litCheck(cl *ast.CompositeLit) string {
	for _, e := range cl.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Check" {
			if lit, ok := kv.Value.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s, _ := strconv.Unquote(lit.Value)
				return s
			}
		}
	}
	return ""
}

func calleeName(call *ast.CallExpr) string {
	switch f := call.Fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		return f.Sel.Name
	}
	return ""
}

// successStatuses are the net/http status names below 400.
var successStatuses = map[string]bool{
	"StatusContinue": true, "StatusSwitchingProtocols": true, "StatusProcessing": true,
	"StatusEarlyHints": true, "StatusOK": true, "StatusCreated": true, "StatusAccepted": true,
	"StatusNonAuthoritativeInfo": true, "StatusNoContent": true, "StatusResetContent": true,
	"StatusPartialContent": true, "StatusMultiStatus": true, "StatusAlreadyReported": true,
	"StatusIMUsed": true, "StatusMultipleChoices": true, "StatusMovedPermanently": true,
	"StatusFound": true, "StatusSeeOther": true, "StatusNotModified": true, "StatusUseProxy": true,
	"StatusTemporaryRedirect": true, "StatusPermanentRedirect": true,
}

// writesErrorStatus reports whether s is a call that writes an HTTP error:
// http.Error, a WriteError helper, or any call given a 4xx/5xx status.
func writesErrorStatus(s ast.Stmt) bool {
	es, ok := s.(*ast.ExprStmt)
	if !ok {
		return false
	}
	call, ok := es.X.(*ast.CallExpr)
	if !ok {
		return false
	}
	if name := calleeName(call); name == "WriteError" || name == "writeError" {
		return true
	}
	if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Error" {
		if id, ok := sel.X.(*ast.Ident); ok && id.Name == "http" {
			return true
		}
	}
	found := false
	ast.Inspect(call, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.SelectorExpr:
			if id, ok := x.X.(*ast.Ident); ok && id.Name == "http" && strings.HasPrefix(x.Sel.Name, "Status") && !successStatuses[x.Sel.Name] {
				found = true
			}
		case *ast.BasicLit:
			if n, err := strconv.Atoi(x.Value); err == nil && x.Kind == token.INT && n >= 400 && n < 600 {
				found = true
			}
		}
		return !found
	})
	return found
}

func (v *visitor) text(n ast.Node) string {
	return string(v.src[v.fset.Position(n.Pos()).Offset:v.fset.Position(n.End()).Offset])
}

func (v *visitor) span(n ast.Node) (int, int) {
	return v.fset.Position(n.Pos()).Offset, v.fset.Position(n.End()).Offset
}

// add records a guard whose condition is the disjunction of conds (one
// expression for an if, the list of a case clause) and its mutants; reach
// is the statement whose line a test must run to evaluate the condition.
func (v *visitor) add(pos, reach token.Pos, check string, conds []ast.Expr) {
	line := v.fset.Position(pos).Line
	g := guard{File: v.rel, Line: line, Reach: v.fset.Position(reach).Line, Func: v.fn, Check: check, Redundant: v.redundant[line]}
	v.guards = append(v.guards, g)
	boundOnly := strings.HasPrefix(g.Redundant, redundantBound)
	if g.Redundant != "" && !boundOnly {
		return
	}
	var terms []ast.Expr
	for _, c := range conds {
		terms = append(terms, orTerms(c)...)
	}
	what := "condition"
	if check != "" {
		what = fmt.Sprintf("check %q", check)
	}
	// The whole condition forced false. Each term becomes `false && (term)`,
	// which keeps the variables it uses in use, so the mutant compiles.
	if len(conds) == 1 {
		s, e := v.span(conds[0])
		v.mutants = append(v.mutants, mutant{guard: g, Desc: "drop " + what + ": " + short(v.text(conds[0])),
			Start: s, End: e, Repl: "false && (" + v.text(conds[0]) + ")"})
	} else {
		// A case with several expressions: one mutant changing them all.
		first, _ := v.span(conds[0])
		_, last := v.span(conds[len(conds)-1])
		var parts []string
		for _, c := range conds {
			parts = append(parts, "false && ("+v.text(c)+")")
		}
		v.mutants = append(v.mutants, mutant{guard: g, Desc: "drop " + what + ": " + short(string(v.src[first:last])),
			Start: first, End: last, Repl: strings.Join(parts, ", ")})
	}
	if len(terms) > 1 {
		for _, t := range terms {
			s, e := v.span(t)
			v.mutants = append(v.mutants, mutant{guard: g, Desc: "drop " + short(v.text(t)) + suffix(check),
				Start: s, End: e, Repl: "false && (" + v.text(t) + ")"})
		}
	}
	if boundOnly {
		return
	}
	for _, c := range conds {
		v.bounds(g, check, c)
	}
}

func suffix(check string) string {
	if check == "" {
		return ""
	}
	return fmt.Sprintf(" (check %q)", check)
}

// orTerms splits a condition at its top-level || operators.
func orTerms(e ast.Expr) []ast.Expr {
	if p, ok := e.(*ast.ParenExpr); ok {
		if b, ok := p.X.(*ast.BinaryExpr); ok && b.Op == token.LOR {
			return orTerms(p.X)
		}
	}
	if b, ok := e.(*ast.BinaryExpr); ok && b.Op == token.LOR {
		return append(orTerms(b.X), orTerms(b.Y)...)
	}
	return []ast.Expr{e}
}

// bounds adds a mutant for each comparison against a bound in the condition
// (through parentheses, && and ||, not under !): the bound is widened by one,
// so that the first value past it is accepted.
func (v *visitor) bounds(g guard, check string, e ast.Expr) {
	switch x := e.(type) {
	case *ast.ParenExpr:
		v.bounds(g, check, x.X)
		return
	case *ast.BinaryExpr:
		switch x.Op {
		case token.LAND, token.LOR:
			v.bounds(g, check, x.X)
			v.bounds(g, check, x.Y)
			return
		case token.LSS, token.LEQ, token.GTR, token.GEQ, token.NEQ:
		default:
			return
		}
		op := x.Op
		bound, other := x.Y, x.X
		switch {
		case v.isBound(x.Y) && !v.isBound(x.X):
		case v.isBound(x.X) && !v.isBound(x.Y):
			bound, other = x.X, x.Y
			op = flip(op)
		case isLength(x.X) && isName(x.Y):
		case isLength(x.Y) && isName(x.X):
			bound, other = x.X, x.Y
			op = flip(op)
		default:
			return
		}
		if op == token.NEQ && !isLength(other) || isSignTest(other, bound) {
			return
		}
		sign := "+"
		if op == token.LSS || op == token.LEQ {
			sign = "-"
		}
		s, end := v.span(bound)
		bt := v.text(bound)
		unit := "by 1"
		if strings.Contains(bt, "Bits") || isBitLen(other) {
			unit = "1 bit"
		}
		var desc, repl string
		if op == token.NEQ {
			// An exact size: the condition also accepts one more.
			s, end = v.span(x)
			repl = "(" + v.text(x) + " && " + v.text(other) + " != (" + bt + " + 1))"
			desc = fmt.Sprintf("%s accepts %s+1", short(v.text(x)), bt)
		} else {
			repl = "(" + bt + " " + sign + " 1)"
			desc = fmt.Sprintf("%s widened %s", short(v.text(x)), unit)
		}
		v.mutants = append(v.mutants, mutant{guard: g, Desc: desc + suffix(check), Start: s, End: end, Repl: repl})
	}
}

// flip returns the operator with its operands swapped: a < b is b > a.
func flip(op token.Token) token.Token {
	switch op {
	case token.LSS:
		return token.GTR
	case token.LEQ:
		return token.GEQ
	case token.GTR:
		return token.LSS
	case token.GEQ:
		return token.LEQ
	}
	return op
}

// isBound reports whether e is a constant-looking integer: a literal, a
// constant of the package, a package's exported name, or arithmetic on those.
func (v *visitor) isBound(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.BasicLit:
		return x.Kind == token.INT
	case *ast.Ident:
		return v.consts[x.Name]
	case *ast.SelectorExpr:
		id, ok := x.X.(*ast.Ident)
		return ok && v.imports[id.Name] && ast.IsExported(x.Sel.Name)
	case *ast.ParenExpr:
		return v.isBound(x.X)
	case *ast.UnaryExpr:
		return x.Op == token.SUB && v.isBound(x.X)
	case *ast.BinaryExpr:
		switch x.Op {
		case token.ADD, token.SUB, token.MUL, token.QUO, token.SHL:
			return v.isBound(x.X) && v.isBound(x.Y)
		}
	case *ast.CallExpr:
		// len of a constant expression, such as len(prefix) of a const.
		return calleeName(x) == "len" && len(x.Args) == 1 && v.isBound(x.Args[0])
	}
	return false
}

// isSignTest reports whether the comparison is x.Cmp(y) or x.Sign() against
// zero: an ordering, not a bound.
func isSignTest(other, bound ast.Expr) bool {
	call, ok := other.(*ast.CallExpr)
	if !ok {
		return false
	}
	lit, ok := bound.(*ast.BasicLit)
	name := calleeName(call)
	return ok && lit.Value == "0" && (name == "Cmp" || name == "Sign" || name == "CmpAbs")
}

// isName reports whether e is a variable or field, such as a size limit
// passed as a parameter.
func isName(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name != "nil" && x.Name != "true" && x.Name != "false"
	case *ast.SelectorExpr:
		return isName(x.X)
	}
	return false
}

func isLength(e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	switch calleeName(call) {
	case "len", "BitLen", "Len", "AnnouncedLen", "TrueLen":
		return true
	}
	return false
}

func isBitLen(e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	switch calleeName(call) {
	case "BitLen", "AnnouncedLen", "TrueLen":
		return true
	}
	return false
}

// short flattens an expression to one line of at most 60 characters.
func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 60 {
		s = string(r[:57]) + "..."
	}
	return s
}

// apply returns the source with the mutant's change, checked to be valid Go
// syntax.
func (m *mutant) apply(src []byte) ([]byte, error) {
	out := make([]byte, 0, len(src)+len(m.Repl))
	out = append(out, src[:m.Start]...)
	out = append(out, m.Repl...)
	out = append(out, src[m.End:]...)
	if _, err := format.Source(out); err != nil {
		return nil, fmt.Errorf("mutant %s:%d (%s) does not parse: %w", m.File, m.Line, m.Desc, err)
	}
	return out, nil
}
