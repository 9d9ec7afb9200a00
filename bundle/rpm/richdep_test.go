package rpm

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/testenv"
)

func atom(s string) RichExpr { return RichExpr{Op: RichAtom, Dep: dep(s)} }

func TestParseRich(t *testing.T) {
	tests := []struct {
		in   string
		want RichExpr
		str  string // canonical rendering
	}{
		{"(a or b)", RichExpr{Op: RichOr, Args: []RichExpr{atom("a"), atom("b")}}, "(a or b)"},
		{"(a >= 1.0 or b)", RichExpr{Op: RichOr, Args: []RichExpr{atom("a >= 1.0"), atom("b")}}, "(a >= 1.0 or b)"},
		{"(a and b and c)", RichExpr{Op: RichAnd, Args: []RichExpr{atom("a"), atom("b"), atom("c")}}, "(a and b and c)"},
		{"(a if b)", RichExpr{Op: RichIf, Args: []RichExpr{atom("a"), atom("b")}}, "(a if b)"},
		{"(a if b else c)", RichExpr{Op: RichIf, Args: []RichExpr{atom("a"), atom("b"), atom("c")}}, "(a if b else c)"},
		{"(a unless b)", RichExpr{Op: RichUnless, Args: []RichExpr{atom("a"), atom("b")}}, "(a unless b)"},
		{"(a unless b else c)", RichExpr{Op: RichUnless, Args: []RichExpr{atom("a"), atom("b"), atom("c")}}, "(a unless b else c)"},
		{"(a with b)", RichExpr{Op: RichWith, Args: []RichExpr{atom("a"), atom("b")}}, "(a with b)"},
		{"(a without b)", RichExpr{Op: RichWithout, Args: []RichExpr{atom("a"), atom("b")}}, "(a without b)"},
		{"(a or (b and c))", RichExpr{Op: RichOr, Args: []RichExpr{atom("a"), {Op: RichAnd, Args: []RichExpr{atom("b"), atom("c")}}}}, "(a or (b and c))"},
		{"((a or b) with c)", RichExpr{Op: RichWith, Args: []RichExpr{{Op: RichOr, Args: []RichExpr{atom("a"), atom("b")}}, atom("c")}}, "((a or b) with c)"},
		{"(foo)", atom("foo"), "(foo)"},
		{"((foo > 1))", atom("foo > 1"), "(foo > 1)"},
		{"(perl(Foo::Bar) >= 1:1.02-3 or perl(Baz))", RichExpr{Op: RichOr, Args: []RichExpr{atom("perl(Foo::Bar) >= 1:1.02-3"), atom("perl(Baz)")}}, "(perl(Foo::Bar) >= 1:1.02-3 or perl(Baz))"},
		{"(a => 1 and b == 2 and c =< 3)", RichExpr{Op: RichAnd, Args: []RichExpr{atom("a >= 1"), atom("b = 2"), atom("c <= 3")}}, "(a >= 1 and b = 2 and c <= 3)"},
		{"(a , or ,b)", RichExpr{Op: RichOr, Args: []RichExpr{atom("a"), atom("b")}}, "(a or b)"}, // commas are white space
		{"(a\tor\nb)", RichExpr{Op: RichOr, Args: []RichExpr{atom("a"), atom("b")}}, "(a or b)"},
		{"(libfoo.so.1()(64bit) if bar)", RichExpr{Op: RichIf, Args: []RichExpr{atom("libfoo.so.1()(64bit)"), atom("bar")}}, "(libfoo.so.1()(64bit) if bar)"},
		{"(a>=1)", atom("a>=1"), "(a>=1)"}, // rpm needs spaces around the operator: this is one name
	}
	for _, tc := range tests {
		got, err := ParseRich(tc.in)
		if err != nil {
			t.Errorf("ParseRich(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseRich(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
		if s := got.String(); s != tc.str {
			t.Errorf("ParseRich(%q).String() = %q, want %q", tc.in, s, tc.str)
		}
	}
}

func TestParseRichErrors(t *testing.T) {
	tests := []struct{ in, msg string }{
		{"", "starts with '('"},
		{"a or b", "starts with '('"},
		{" (a or b)", "starts with '('"},
		{"()", "empty rich dependency"},
		{"(a or)", "missing operand after \"or\""},
		{"(a or b", "unterminated"},
		{"(a or b))", "junk after"},
		{"(a or b) ", "junk after"},
		{"(a xor b)", "unknown rich dependency operator \"xor\""},
		{"(a b)", "unknown rich dependency operator \"b\""},
		{"( a ,b )", "unknown rich dependency operator \"b\""},
		{"(a and b or c)", "cannot chain different operators"},
		{"(a if b if c)", "only and, or and with can be chained"},
		{"(a unless b unless c)", "only and, or and with can be chained"},
		{"(a without b without c)", "only and, or and with can be chained"},
		{"(a if b else c else d)", "'else' only follows"},
		{"(a if b else c and d)", "cannot chain different operators"},
		{"(a else b)", "'else' only follows"},
		{"(a and b else c)", "'else' only follows"},
		{"(a >= )", "version required"},
		{"(a >=)", "version required"},
		{"(a = -)", "empty version"},
		{"((a and b) with c)", "may not contain and, if or unless"},
		{"(a without (b or (c if d)))", "may not contain and, if or unless"},
		{"(a or (b and c", "unterminated"},
		{"(" + strings.Repeat("(", maxRichDepth) + "a" + strings.Repeat(")", maxRichDepth+1), "nested deeper"},
	}
	for _, tc := range tests {
		_, err := ParseRich(tc.in)
		if err == nil {
			t.Errorf("ParseRich(%q) succeeded, want error containing %q", tc.in, tc.msg)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseRich(%q) error %q does not contain %q", tc.in, err, tc.msg)
		}
	}
}

// richLine is one line of testdata/richdeps.txt.
type richLine struct{ tag, expr string }

// readRichFile returns the lines of testdata/richdeps.txt.
func readRichFile(t testing.TB) []richLine {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "richdeps.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []richLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		tag, expr, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("testdata/richdeps.txt: %q is not \"Tag: expression\"", line)
		}
		out = append(out, richLine{tag, expr})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseRichFile(t *testing.T) {
	for _, l := range readRichFile(t) {
		s := l.expr
		e, err := ParseRich(s)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		again, err := ParseRich(e.String())
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Errorf("%q renders as %q which parses to %v, %v", s, e.String(), again, err)
		}
	}
}

// TestParseRichAgainstRpmspec has rpm itself parse the testdata
// expressions (all must be accepted) and the structurally invalid ones
// of TestParseRichErrors (all must be refused), as Requires of a spec.
func TestParseRichAgainstRpmspec(t *testing.T) {
	testenv.Tools(t, "rpmspec")
	dir := t.TempDir()
	accepts := func(tag, expr string) (bool, string) {
		spec := "Name: richtest\nVersion: 1\nRelease: 1\nSummary: s\nLicense: MIT\n" + tag + ": " + expr +
			"\n%description\nd\n%files\n"
		path := filepath.Join(dir, "richtest.spec")
		if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("rpmspec", "-q", "--requires", path).CombinedOutput()
		return err == nil, string(out)
	}
	for _, l := range readRichFile(t) {
		if ok, out := accepts(l.tag, l.expr); !ok {
			t.Errorf("rpmspec refuses %s: %q: %s", l.tag, l.expr, out)
		}
	}
	for _, s := range []string{"(a or)", "(a xor b)", "(a and b or c)", "(a if b if c)", "(a without b without c)",
		"(a if b else c else d)", "(a >= )", "((a and b) with c)", "(a or b", "()"} {
		if ok, out := accepts("Requires", s); ok {
			t.Errorf("rpmspec accepts %q, which ParseRich refuses: %s", s, out)
		}
		if _, err := ParseRich(s); err == nil {
			t.Errorf("ParseRich accepts %q", s)
		}
	}
}

// provided builds a providers function from "package: capability..." lines.
func provided(pkgs map[string][]string) func(Dep) []string {
	return func(d Dep) []string {
		var out []string
		for name, caps := range pkgs {
			for _, c := range caps {
				if d.SatisfiedBy(dep(c)) {
					out = append(out, name)
					break
				}
			}
		}
		return out
	}
}

func TestRichEval(t *testing.T) {
	set := provided(map[string][]string{
		"pkgA-1":  {"pkgA = 1", "pkgA-foo", "pkgA-bar"},
		"pkgB-2":  {"pkgB = 2", "pkgA-foo", "capX"},
		"mariaDB": {"mariaDB"},
		"pkgC-1":  {"pkgC = 1", "capX"},
	})
	tests := []struct {
		expr string
		want bool
	}{
		{"(pkgA)", true},
		{"(pkgZ)", false},
		{"(pkgA and pkgB)", true},
		{"(pkgA and pkgZ)", false},
		{"(pkgZ or pkgB)", true},
		{"(pkgZ or pkgY)", false},
		{"(pkgA >= 2 or pkgB >= 2)", true},
		{"(pkgA >= 2 or pkgB >= 3)", false},
		{"(pkgZ if mariaDB)", false}, // condition holds, consequence missing
		{"(pkgA if mariaDB)", true},
		{"(pkgZ if sqlite)", true},           // condition false: fulfilled
		{"(pkgZ if sqlite else pkgA)", true}, // else branch
		{"(pkgZ if sqlite else pkgY)", false},
		{"(pkgA if mariaDB else pkgY)", true},
		{"(pkgZ unless mariaDB)", true}, // condition true: fulfilled
		{"(pkgZ unless sqlite)", false}, // condition false: consequence needed
		{"(pkgA unless sqlite)", true},
		{"(pkgZ unless mariaDB else pkgA)", true},
		{"(pkgZ unless mariaDB else pkgY)", false},
		{"(pkgA-foo with pkgA-bar)", true},       // pkgA-1 has both
		{"(pkgA-foo with capX)", true},           // pkgB-2 has both
		{"(pkgA-bar with capX)", false},          // no single package has both
		{"(pkgA-foo without pkgA-bar)", true},    // pkgB-2
		{"(pkgA-bar without pkgA-foo)", false},   // pkgA-1 has both
		{"((pkgA-bar or pkgC) with capX)", true}, // pkgC-1
		{"(pkgA-foo with pkgA-bar with capX)", false},
		{"((pkgZ if sqlite) or pkgY)", true}, // rpm's documented "if" surprise
	}
	for _, tc := range tests {
		e, err := ParseRich(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Eval(set); got != tc.want {
			t.Errorf("Eval(%s) = %v, want %v", tc.expr, got, tc.want)
		}
	}
}

func TestRichProviderSetAndAtoms(t *testing.T) {
	set := provided(map[string][]string{"p1": {"a", "b"}, "p2": {"a"}, "p3": {"b", "c"}})
	e, err := ParseRich("((a or c) without b)")
	if err != nil {
		t.Fatal(err)
	}
	if got := e.ProviderSet(set); !reflect.DeepEqual(got, []string{"p2"}) {
		t.Errorf("ProviderSet = %v, want [p2]", got)
	}
	e, _ = ParseRich("((a or c) with b)")
	if got := e.ProviderSet(set); !reflect.DeepEqual(got, []string{"p1", "p3"}) {
		t.Errorf("ProviderSet = %v, want [p1 p3]", got)
	}
	e, _ = ParseRich("(x >= 1 and (y if z else w))")
	if got := e.ProviderSet(set); got != nil {
		t.Errorf("ProviderSet of an and = %v, want nil", got)
	}
	want := []Dep{dep("x >= 1"), dep("y"), dep("z"), dep("w")}
	if got := e.Atoms(); !reflect.DeepEqual(got, want) {
		t.Errorf("Atoms = %v, want %v", got, want)
	}
}

// FuzzParseRich checks that the parser never panics and that what it
// accepts renders to a string that parses back to the same expression.
func FuzzParseRich(f *testing.F) {
	for _, l := range readRichFile(f) {
		f.Add(l.expr)
	}
	f.Add("(a if b else c else d)")
	f.Add("(((((a)))))")
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseRich(s)
		if err != nil {
			return
		}
		r := e.String()
		again, err := ParseRich(r)
		if err != nil {
			t.Fatalf("ParseRich(%q) ok, but its rendering %q fails: %v", s, r, err)
		}
		if !reflect.DeepEqual(again, e) {
			t.Fatalf("ParseRich(%q) = %#v; rendering %q parses to %#v", s, e, r, again)
		}
		if again.String() != r {
			t.Fatalf("rendering is not stable: %q then %q", r, again.String())
		}
	})
}
