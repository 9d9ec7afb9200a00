package plan

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/rpm"
)

func mustDep(t testing.TB, s string) rpm.Dep {
	t.Helper()
	d, err := ParseDep(s)
	if err != nil {
		t.Fatalf("ParseDep(%q): %v", s, err)
	}
	return d
}

func mustDeps(t testing.TB, ss ...string) []rpm.Dep {
	t.Helper()
	out := make([]rpm.Dep, len(ss))
	for i, s := range ss {
		out[i] = mustDep(t, s)
	}
	return out
}

func TestParseDep(t *testing.T) {
	tests := []struct {
		in      string
		want    rpm.Dep
		wantErr string
	}{
		{in: "gcc", want: rpm.Dep{Name: "gcc"}},
		{in: "  /usr/bin/make\t", want: rpm.Dep{Name: "/usr/bin/make"}},
		{in: "zlib-devel >= 1.2.11", want: rpm.Dep{Name: "zlib-devel", Flags: rpm.SenseGreater | rpm.SenseEqual, EVR: rpm.EVR{Version: "1.2.11"}}},
		{in: "perl(Foo::Bar) = 1:2.3-4.el9", want: rpm.Dep{Name: "perl(Foo::Bar)", Flags: rpm.SenseEqual, EVR: rpm.EVR{Epoch: "1", Version: "2.3", Release: "4.el9"}}},
		{in: "a < 2", want: rpm.Dep{Name: "a", Flags: rpm.SenseLess, EVR: rpm.EVR{Version: "2"}}},
		{in: "a <= 2", want: rpm.Dep{Name: "a", Flags: rpm.SenseLess | rpm.SenseEqual, EVR: rpm.EVR{Version: "2"}}},
		{in: "a > 2", want: rpm.Dep{Name: "a", Flags: rpm.SenseGreater, EVR: rpm.EVR{Version: "2"}}},
		{in: "a => 2", want: rpm.Dep{Name: "a", Flags: rpm.SenseGreater | rpm.SenseEqual, EVR: rpm.EVR{Version: "2"}}},
		{in: "(python3-setuptools or python3-pip)", want: rpm.Dep{Name: "(python3-setuptools or python3-pip)"}},
		{in: "(foo >= 1.0 with foo < 2)", want: rpm.Dep{Name: "(foo >= 1.0 with foo < 2)"}},
		{in: "", wantErr: "empty"},
		{in: "a >=", wantErr: "want"},
		{in: "a ~ 1", wantErr: "not a comparison"},
		{in: "a = -1", wantErr: "no version"},
		{in: "a = 1 2", wantErr: "want"},
		{in: "(a or", wantErr: "rich dependency"},
		{in: "(a and b or c)", wantErr: "rich dependency"},
	}
	for _, tt := range tests {
		got, err := ParseDep(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseDep(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseDep(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseDeps(t *testing.T) {
	got, err := ParseDeps([]byte("gcc\n\nzlib-devel >= 1.2\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := mustDeps(t, "gcc", "zlib-devel >= 1.2")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	_, err = ParseDeps([]byte("gcc\nfoo bar\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error %v does not name line 2", err)
	}
}

func TestParseSpecQuery(t *testing.T) {
	data, err := os.ReadFile("testdata/specquery-demo.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseSpecQuery(data)
	if err != nil {
		t.Fatal(err)
	}
	want := mustDeps(t, "demo = 1:2.1-3.el9", "demo(x86-64) = 1:2.1-3.el9",
		"demo-devel = 1:2.1-3.el9", "demo-devel(x86-64) = 1:2.1-3.el9", "libdemo-devel(x86-64) = 2.1")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	data, err = os.ReadFile("testdata/specquery-hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err = parseSpecQuery(data)
	if err != nil {
		t.Fatal(err)
	}
	if want := mustDeps(t, "hello = 1.0-1", "hello(x86-64) = 1.0-1"); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"package onlyname\n", "provide a = \n", "error: bad spec\n"} {
		if _, err := parseSpecQuery([]byte(bad)); err == nil {
			t.Errorf("parseSpecQuery(%q) succeeded", bad)
		}
	}
}

func TestInstallable(t *testing.T) {
	tests := map[string][]string{
		"(a or b)":                 {"a", "b"},
		"(a and (b >= 2 or c))":    {"a", "b >= 2", "c"},
		"(a if cond)":              {"a"},
		"(a if cond else b)":       {"a", "b"},
		"(a unless cond else b)":   {"a", "b"},
		"(a without b)":            {"a"},
		"(a with b)":               {"a", "b"},
		"((a if c1) or (b if c2))": {"a", "b"},
	}
	for in, want := range tests {
		e, err := rpm.ParseRich(in)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range installable(e) {
			got = append(got, d.String())
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("installable(%s) = %q, want %q", in, got, want)
		}
	}
}

func seedLines(f *testing.F, pattern string) {
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files %s", pattern)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			f.Add(line)
		}
	}
}

// FuzzParseDep checks that ParseDep never panics and that a plain
// dependency survives String and a second parse.
func FuzzParseDep(f *testing.F) {
	seedLines(f, "testdata/deps.txt")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDep(s)
		if err != nil || strings.HasPrefix(d.Name, "(") {
			return
		}
		again, err := ParseDep(d.String())
		if err != nil {
			t.Fatalf("ParseDep(%q) = %+v, but its String %q does not parse: %v", s, d, d.String(), err)
		}
		if again != d {
			t.Fatalf("round trip of %q: %+v became %+v", s, d, again)
		}
	})
}

// FuzzParseSpecQuery checks that rpmspec output of any shape gives deps
// or an error, never a panic.
func FuzzParseSpecQuery(f *testing.F) {
	for _, name := range []string{"testdata/specquery-demo.txt", "testdata/specquery-hello.txt"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		deps, err := parseSpecQuery(data)
		if err != nil {
			return
		}
		for _, d := range deps {
			if d.Name == "" {
				t.Fatalf("empty dependency name from %q", data)
			}
		}
	})
}
