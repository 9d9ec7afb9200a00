package engine

import (
	"strings"
	"testing"
)

const autosetupSpec = `Name: demo
Version: 1
Release: 1
Source0: demo-1.tar.gz
Patch0: fix.patch

%description
x

%prep
%autosetup -p1

%build
make
`

const setupSpec = `Name: demo
Version: 1
Release: 1
Source0: demo-1.tar.gz

%description
x

%prep
%setup -q
cd src

%build
make
`

func TestApplyPatches(t *testing.T) {
	tests := []struct {
		name    string
		spec    string
		patches []recipePatch
		want    []string // substrings in order
		wantErr string
	}{
		{"no patches", setupSpec, nil, []string{"%setup -q\ncd src\n\n%build"}, ""},
		{"spec mode with autosetup", autosetupSpec, []recipePatch{{"a.patch", "spec"}, {"b.patch", "spec"}},
			[]string{"Patch0: fix.patch\nPatch9000: a.patch\nPatch9001: b.patch\n", "%autosetup -p1\n\n%build"}, ""},
		{"p1 mode at the end of prep", setupSpec, []recipePatch{{"a.patch", "p1"}},
			[]string{"Source0: demo-1.tar.gz\nSource9000: a.patch\n", "cd src\n\n# recipe patches (mode p1)\n",
				"%{__patch} -p1 --fuzz=0 --no-backup-if-mismatch -s -i %{SOURCE9000}\n\n%build"}, ""},
		{"mixed modes number in recipe order", autosetupSpec, []recipePatch{{"a.patch", "p1"}, {"b.patch", "spec"}},
			[]string{"Source9000: a.patch\nPatch9001: b.patch\n", "%{SOURCE9000}"}, ""},
		{"spec mode without autosetup", setupSpec, []recipePatch{{"a.patch", "spec"}}, nil, "needs %autosetup or %autopatch"},
		{"unknown mode", setupSpec, []recipePatch{{"a.patch", "p0"}}, nil, `unknown mode "p0"`},
		{"no prep", "Name: x\nSource0: a\n%build\nmake\n", []recipePatch{{"a.patch", "p1"}}, nil, "no %prep section"},
		{"prep last", "Name: x\nSource0: a\n%prep\n%setup\n", []recipePatch{{"a.patch", "p1"}}, []string{"%setup\n# recipe patches (mode p1)\n"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := applyPatches([]byte(tt.spec), tt.patches)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rest := string(out)
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (in order):\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func FuzzApplyPatches(f *testing.F) {
	f.Add(autosetupSpec, "p1")
	f.Add(setupSpec, "spec")
	f.Fuzz(func(t *testing.T, spec, mode string) {
		out, err := applyPatches([]byte(spec), []recipePatch{{"x.patch", mode}})
		if err == nil && !strings.Contains(string(out), "x.patch") {
			t.Fatalf("patch not added:\n%s", out)
		}
	})
}
