package recipes

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// minimal is a valid recipe that snippets are appended to.
const minimal = `name: t
version: "1"
platform: debian12-x86_64
`

func parseSnippet(t *testing.T, yml string) (*Recipe, error) {
	t.Helper()
	return Parse("r.yaml", []byte(yml), "testdata")
}

// TestDecodeErrors checks the message of one decoding or validation problem
// per snippet, position included.
func TestDecodeErrors(t *testing.T) {
	pkg := minimal + "packages:\n  - name: a\n    spec: specs/hello.spec\n"
	tests := []struct {
		name, yml, want string
	}{
		{"unknown field with suggestion", pkg + "    sorces: []\n", `r.yaml:7:5: packages[0].sorces: unknown field; did you mean "sources"?`},
		{"transposed letters", pkg + "    jbos: 2\n", `r.yaml:7:5: packages[0].jbos: unknown field; did you mean "jobs"?`},
		{"underscore for dash", pkg + "    build_only: true\n", `r.yaml:7:5: packages[0].build_only: unknown field; did you mean "build-only"?`},
		{"integer", pkg + "    jobs: four\n", `r.yaml:7:11: packages[0].jobs: expected an integer, got "four"`},
		{"quoted integer", pkg + "    jobs: '4'\n", `r.yaml:7:11: packages[0].jobs: expected an integer, got "4" (remove the quotes)`},
		{"float for integer", pkg + "    jobs: 2.5\n", `r.yaml:7:11: packages[0].jobs: expected an integer, got 2.5`},
		{"bool", pkg + "    build-only: 1\n", `r.yaml:7:17: packages[0].build-only: expected true or false, got 1`},
		{"bool for string", pkg + "    defines: {a: true}\n", `r.yaml:7:18: packages[0].defines.a: expected a string, got true (quote it to mean the text)`},
		{"mapping for string", pkg + "    with: [{a: b}]\n", `r.yaml:7:12: packages[0].with[0]: expected a string, got a mapping`},
		{"scalar for list", pkg + "    without: docs\n", `r.yaml:7:14: packages[0].without: expected a list, got "docs" (write [docs] for a list of one)`},
		{"list for struct", pkg + "output: [gzip]\n", `r.yaml:7:9: output: expected a mapping, got a list`},
		{"custom tag", pkg + "    defines: {a: !weird x}\n", `r.yaml:7:18: packages[0].defines.a: expected a string, got a value tagged !weird`},
		{"non-scalar key", pkg + "    ? [a]\n    : b\n", `r.yaml:7:7: packages[0]: keys must be plain names, got a list`},
		{"duplicate key", pkg + "    name: b\n", `r.yaml:7:5: packages[0].name: duplicate key; first given at line 5`},
		{"duplicate map key", pkg + "    defines: {a: '1', a: '2'}\n", `r.yaml:7:23: packages[0].defines.a: duplicate key; first given at line 7`},
		{"odd map key", pkg + "    defines: {'a.b': x}\n", `r.yaml:7:15: packages[0].defines["a.b"]: "a.b" is not a macro name (letters, digits, _; no leading digit, no %)`},
		{"memory garbage", pkg + "    memory: 4 gigs\n", `r.yaml:7:13: packages[0].memory: expected a size such as "4G" or "512M" (units B, K, M, G, T), got "4 gigs"`},
		{"with-python outside bootstrap", pkg + "    with-python: false\n", `r.yaml:7:18: packages[0].with-python: only for bootstrap packages`},
		{"extension key below top level", pkg + "    x-note: hi\n", `r.yaml:7:5: packages[0].x-note: unknown field; expected one of name, srpm, spec, sources, patches, defines, with, without, keep, exclude, build-only, jobs, memory, with-python`},
		{"self alias", minimal + "packages: &p\n  - name: a\n    spec: specs/hello.spec\n    with: *p\n", `r.yaml:7:11: packages[0].with: alias *p refers to a value that contains it`},
		{"merge of scalar", pkg + "    <<: 3\n", `r.yaml:7:9: packages[0]: <<: expected a mapping or a list of mappings to merge, got 3`},
		{"second document", pkg + "---\nname: x\n", `r.yaml:7:1: a recipe is one YAML document; found a second one (remove the ---)`},
		{"top-level scalar", "just text\n", `r.yaml:1:1: expected a mapping, got "just text"`},
		{"empty", "", `r.yaml:1:1: empty recipe: expected a mapping with name, version, platform and packages`},
		{"null document", "~\n", `r.yaml:1:1: empty recipe: expected a mapping with name, version, platform and packages`},
		{"syntax", "name: [\n", `r.yaml:1: invalid YAML: did not find expected node content`},
		{"tab indentation", "name: a\n\tversion: 1\n", `r.yaml:2: invalid YAML: found a tab character that violates indentation`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSnippet(t, tt.yml)
			if err == nil {
				t.Fatalf("no error; want %s", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
		})
	}
}

// TestDecodeValues checks what accepted spellings decode to.
func TestDecodeValues(t *testing.T) {
	r, err := parseSnippet(t, `name: t
version: 2.10
platform: debian12-x86_64
x-common: &common
  jobs: 3
  defines: {from_merge: "yes"}
packages:
  - <<: *common
    name: a
    spec: specs/hello.spec
    jobs: 5
    memory: 1536M
    defines: {n: 10, f: 1.0, s: plain}
  - name: b
    srpm: {path: files/hello.txt}
    <<: [*common]
    memory: 2048
    build-only: ~
defaults:
  keep: ~
output:
  catalog-max: 0x100
  catalog-min: 0o10
`)
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != "2.10" {
		t.Errorf("version = %q; want the text as written, 2.10", r.Version)
	}
	a, b := r.Packages[0], r.Packages[1]
	if a.Jobs != 5 || b.Jobs != 3 {
		t.Errorf("jobs = %d, %d; want 5 (explicit beats merge), 3 (merged)", a.Jobs, b.Jobs)
	}
	if a.Memory != 1536<<20 || b.Memory != 2048 {
		t.Errorf("memory = %d, %d", a.Memory, b.Memory)
	}
	if got := a.Defines; len(got) != 3 || got["n"] != "10" || got["f"] != "1.0" || got["s"] != "plain" {
		t.Errorf("a.defines = %v; want explicit defines only, numbers as written", got)
	}
	if b.Defines["from_merge"] != "yes" {
		t.Errorf("b.defines = %v; want the merged ones", b.Defines)
	}
	if r.Output.CatalogMax != 256 || r.Output.CatalogMin != 8 || r.Output.Compression != DefaultCompression {
		t.Errorf("output = %+v", r.Output)
	}
	if r.posOf("packages[1].memory") != (Pos{17, 13}) {
		t.Errorf("position of packages[1].memory = %v", r.posOf("packages[1].memory"))
	}
}

// TestAliasBomb checks that a billion-laughs document is refused quickly.
func TestAliasBomb(t *testing.T) {
	// each level merges the previous one ten times: 10^9 merges unbounded
	var b strings.Builder
	b.WriteString(minimal + "x-0: &a0 {jobs: 1}\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "x-%d: &a%d {<<: [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]}\n")
	}
	b.WriteString("packages:\n  - {<<: *a9, name: a, spec: specs/hello.spec}\n")
	_, err := parseSnippet(t, b.String())
	if err == nil || !strings.Contains(err.Error(), "too many") {
		t.Fatalf("err = %v; want a too many values/errors error", err)
	}
}

// TestErrorsSortedAndAll checks that every problem is reported, in file
// order, each as an *Error.
func TestErrorsSortedAndAll(t *testing.T) {
	_, err := parseSnippet(t, `version: "1"
packages:
  - name: a
    jobs: x
  - name: a
    spec: specs/hello.spec
platform: nowhere
`)
	if err == nil {
		t.Fatal("no error")
	}
	var lines []int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var re *Error
		if !errors.As(e, &re) {
			t.Fatalf("%T is not *Error", e)
		}
		lines = append(lines, re.Pos.Line)
	}
	want := []int{1, 3, 4, 5, 7}
	if len(lines) != len(want) {
		t.Fatalf("got errors at lines %v; want %v:\n%v", lines, want, err)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Fatalf("got errors at lines %v; want %v:\n%v", lines, want, err)
		}
	}
}

// TestEmptyTrailingDocuments accepts documents markers that add nothing.
func TestEmptyTrailingDocuments(t *testing.T) {
	body := minimal + "packages: [{name: a, spec: specs/hello.spec}]\n"
	for _, yml := range []string{"---\n" + body + "---\n", body + "---\n# only a comment\n", body + "...\n"} {
		if _, err := parseSnippet(t, yml); err != nil {
			t.Errorf("%q: %v", yml, err)
		}
	}
	if _, err := parseSnippet(t, body+"---\n~\n"); err == nil {
		t.Error("an explicit null document was accepted")
	}
}
