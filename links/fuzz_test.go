package links

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// seedTargets reads testdata/link-targets.txt.
func seedTargets(f *testing.F) []string {
	file, err := os.Open(filepath.Join("testdata", "link-targets.txt"))
	if err != nil {
		f.Fatal(err)
	}
	defer file.Close()
	var targets []string
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		targets = append(targets, sc.Text())
	}
	if err := sc.Err(); err != nil {
		f.Fatal(err)
	}
	return targets
}

// fuzzTree is the tree FuzzFix adds its links to.
var fuzzTree = []entry{
	F("usr/lib/libz.so.1.2", "z"),
	L("usr/lib/libz.so.1", "libz.so.1.2"),
	L("usr/lib/sym", "/usr/lib"),
	D("usr/lib/dir/sub"),
	F("usr/lib/file", "f"),
	L("lib64", "usr/lib64"),
	F("usr/lib64/libc.so.6", "c"),
	F("opt/data/f", "d"),
	D("opt/dir"),
	L("usr/bin/loop", "loop"),
	F("usr/bin/x", "x"),
	H("usr/share/x", "usr/bin/x"),
}

// usableTarget reports whether a symlink can hold target.
func usableTarget(target string) bool {
	return target != "" && len(target) < 1024 && !strings.ContainsRune(target, 0)
}

// FuzzFix adds two links with the fuzzed target to a fixed tree, next to a
// host directory, and checks that Fix succeeds, leaves only relative links
// that resolve inside, touches nothing outside, and is idempotent.
func FuzzFix(f *testing.F) {
	for _, t := range seedTargets(f) {
		f.Add(t)
	}
	f.Fuzz(func(t *testing.T, target string) {
		if !usableTarget(target) {
			t.Skip()
		}
		parent := realTempDir(t)
		build(t, filepath.Join(parent, "opt"), F("data/f", "host"), D("dir"))
		root := filepath.Join(parent, "root")
		build(t, root, append(slices.Clone(fuzzTree), L("usr/bin/fz", target), L("usr/lib/dir/fz", target))...)
		host := snapshot(t, filepath.Join(parent, "opt"), true)

		rep, err := Fix(context.Background(), root, Options{Logger: quiet})
		if err != nil {
			t.Fatalf("Fix with target %q: %v", target, err)
		}
		if len(rep.Dropped) > 0 {
			data, err := os.ReadFile(filepath.Join(root, DefaultBrokenList))
			if err != nil || strings.Count(string(data), "\n") != len(rep.Dropped) {
				t.Errorf("broken-links.txt %q does not list the %d dropped links (%v)", data, len(rep.Dropped), err)
			}
		}
		checkSafe(t, root)
		if got := snapshot(t, filepath.Join(parent, "opt"), true); !slices.Equal(got, host) {
			t.Errorf("host files changed:\n%s", diffLines(got, host))
		}
		entries, err := os.ReadDir(parent)
		if err != nil || len(entries) != 2 {
			t.Errorf("parent of the tree holds %d entries (%v), want opt and root", len(entries), err)
		}
		before := snapshot(t, root, true)
		rep2, err := Fix(context.Background(), root, Options{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		if !rep2.Empty() {
			t.Errorf("second run with target %q changed things: %+v", target, rep2)
		}
		if after := snapshot(t, root, true); !slices.Equal(before, after) {
			t.Errorf("second run changed the tree:\n%s", diffLines(after, before))
		}
	})
}

// FuzzResolveMatchesKernel builds a small tree with four relative links of
// fuzzed targets and compares the resolver with the kernel.
func FuzzResolveMatchesKernel(f *testing.F) {
	var targets []string
	for _, t := range seedTargets(f) {
		if !strings.HasPrefix(t, "/") && !strings.HasPrefix(t, "../..") {
			targets = append(targets, t)
		}
	}
	for i := range targets {
		f.Add(targets[i], targets[(i+1)%len(targets)], targets[(i+7)%len(targets)], targets[(i+13)%len(targets)])
	}
	f.Add("l3/../f1", "l2/..", "../../l0", "d1/l1/d2/l2")
	f.Fuzz(func(t *testing.T, t0, t1, t2, t3 string) {
		for _, target := range []string{t0, t1, t2, t3} {
			if !usableTarget(target) || len(target) > 200 || strings.HasPrefix(target, "/") {
				t.Skip()
			}
		}
		spec := []entry{
			D("d1/d2"), F("f1", "1"), F("d1/f2", "2"),
			L("l0", t0), L("d1/l1", t1), L("d1/d2/l2", t2), L("l3", t3),
		}
		root := realTempDir(t)
		build(t, root, spec...)
		if !checkAgainstKernel(t, root, spec) {
			t.Skip("a target climbs above the tree")
		}
	})
}

// FuzzListLine checks that a broken-links line is one line, plain when the
// fields are plain and unquotable back to the fields otherwise.
func FuzzListLine(f *testing.F) {
	for _, t := range seedTargets(f) {
		f.Add("/usr/bin/x", t)
	}
	f.Add("/usr/bin/new\nline", "a -> b")
	f.Add("/x\xff", `"quoted"`)
	f.Fuzz(func(t *testing.T, p, target string) {
		line := listLine(p, target)
		if strings.ContainsAny(line, "\n\r") || !utf8.ValidString(line) {
			t.Fatalf("listLine(%q, %q) = %q is not one valid line", p, target, line)
		}
		for _, field := range []string{p, target} {
			q := quoteField(field)
			if !strings.HasPrefix(q, `"`) {
				if q != field {
					t.Errorf("quoteField(%q) = %q", field, q)
				}
				continue
			}
			if u, err := strconv.Unquote(q); err != nil || u != field {
				t.Errorf("quoteField(%q) = %q unquotes to %q, %v", field, q, u, err)
			}
		}
		if got := parseList([]byte(line + "\n" + line + "\n")); len(got) != 2 || got[0] != line {
			t.Errorf("parseList of two copies of %q = %q", line, got)
		}
	})
}

func TestMergeList(t *testing.T) {
	for _, c := range []struct {
		old   string
		lines []string
		want  string
	}{
		{"", []string{"/b -> x", "/a -> y"}, "/a -> y\n/b -> x\n"},
		{"/c -> z\r\n\n/a -> y", []string{"/a -> y", "/b -> x"}, "/a -> y\n/b -> x\n/c -> z\n"},
		{"/a -> y\n", nil, "/a -> y\n"},
	} {
		if got := string(mergeList([]byte(c.old), c.lines)); got != c.want {
			t.Errorf("mergeList(%q, %q) = %q, want %q", c.old, c.lines, got, c.want)
		}
	}
}

func TestQuoteField(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/x":   "/usr/bin/x",
		"../a b/c":     "../a b/c",
		"/tab\there":   `"/tab\there"`,
		"/a -> b":      `"/a -> b"`,
		`"x`:           `"\"x"`,
		" lead":        `" lead"`,
		"/bad\xffutf8": `"/bad\xffutf8"`,
		"/é":           "/é",
	} {
		if got := quoteField(in); got != want {
			t.Errorf("quoteField(%q) = %s, want %s", in, got, want)
		}
	}
}
