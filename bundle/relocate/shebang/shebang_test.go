package shebang

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/relocate/elfdeps/elftest"
	"github.com/bundle-dev/bundle/bundle/testenv"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Line
		ok   bool
	}{
		{"#!/usr/bin/python3.11\nprint(1)\n", Line{Interp: "/usr/bin/python3.11"}, true},
		{"#! /usr/bin/perl -w\n", Line{Interp: "/usr/bin/perl", Arg: "-w"}, true},
		{"#!/usr/bin/env python3 -s  \r\n", Line{Interp: "/usr/bin/env", Arg: "python3 -s"}, true},
		{"#!/bin/sh\t-e\n", Line{Interp: "/bin/sh", Arg: "-e"}, true},
		{"#!\n", Line{}, false},
		{"# comment\n", Line{}, false},
		{"#!/bin/sh", Line{Interp: "/bin/sh"}, true},
	}
	for _, tt := range tests {
		got, ok := Parse([]byte(tt.in))
		if ok != tt.ok || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestKindOf(t *testing.T) {
	for in, want := range map[string]Kind{
		"/usr/bin/python3.11": Python, "/usr/bin/python3": Python, "/opt/x/bin/python": Python, "/usr/bin/python3.11d": Python,
		"/usr/bin/perl": Perl, "/usr/bin/perl5.36": Perl, "/bin/bash": Bash, "/usr/bin/zsh": Zsh,
		"/usr/bin/tclsh8.6": Tcl, "/usr/bin/wish": Tcl, "/usr/bin/gawk": Unknown, "/usr/bin/python-config": Unknown,
	} {
		if got := KindOf(in); got != want {
			t.Errorf("KindOf(%s) = %v, want %v", in, got, want)
		}
	}
}

func TestFind(t *testing.T) {
	pip := "#!/bin/sh\n'''exec' \"/builddir/build/BUILDROOT/usr/bin/python3.11\" \"$0\" \"$@\"\n' '''\nimport sys\n"
	l, ok := Find([]byte(pip))
	if !ok || l.Relative || l.Interp != "/builddir/build/BUILDROOT/usr/bin/python3.11" || l.Lines != 3 {
		t.Errorf("pip launcher: %+v %v", l, ok)
	}
	bare := "#!/bin/sh\n'''exec' /usr/bin/python3 \"$0\" \"$@\"\n' '''\n"
	if l, ok := Find([]byte(bare)); !ok || l.Interp != "/usr/bin/python3" {
		t.Errorf("bare pip launcher: %+v %v", l, ok)
	}
	for _, interp := range []string{"/usr/bin/python3.11", "/usr/bin/perl", "/bin/bash", "/usr/bin/zsh", "/usr/bin/tclsh8.6"} {
		out, err := Rewrite([]byte("#!"+interp+"\nbody\n"), interp, "../bin/x", "")
		if err != nil {
			t.Fatal(err)
		}
		l, ok := Find(out)
		if !ok || !l.Relative || l.Interp != "../bin/x" {
			t.Errorf("%s launcher not found: %+v %v\n%s", interp, l, ok, out)
		}
		lines := strings.SplitN(string(out), "\n", l.Lines+1)
		if lines[l.Lines] != "body\n" {
			t.Errorf("%s launcher takes %d lines, body is %q", interp, l.Lines, lines[l.Lines])
		}
		again, err := Rewrite(out, interp, "../bin/x", "")
		if err != nil || string(again) != string(out) {
			t.Errorf("%s: rewriting a launcher again changed it:\n%s", interp, again)
		}
	}
	for _, s := range []string{"#!/bin/sh\necho hi\n", "#!/bin/bash\n'''exec' x\n", "#!/bin/sh\n'''exec' \"$X/python\" \"$0\"\n' '''\n"} {
		if l, ok := Find([]byte(s)); ok {
			t.Errorf("Find(%q) = %+v", s, l)
		}
	}
}

func TestRewriteRefuses(t *testing.T) {
	tests := []struct{ data, interp, rel, arg string }{
		{"#!/usr/bin/gawk -f\n", "/usr/bin/gawk", "gawk", "-f"},
		{"#!/usr/bin/python3\n", "/usr/bin/python3", "my python", ""},
		{"#!/usr/bin/python3\n", "/usr/bin/python3", "python3", "-c 'x'"},
		{"#!/usr/bin/python3\n", "/usr/bin/python3", "/usr/bin/python3", ""},
		{"#!/usr/bin/python3\n# -*- coding: latin-1 -*-\n", "/usr/bin/python3", "python3", ""},
		{"no shebang\n", "/usr/bin/python3", "python3", ""},
	}
	for _, tt := range tests {
		if out, err := Rewrite([]byte(tt.data), tt.interp, tt.rel, tt.arg); err == nil {
			t.Errorf("Rewrite(%q, %q, %q) = %q, want an error", tt.data, tt.rel, tt.arg, out)
		}
	}
	if _, err := Rewrite([]byte("#!/usr/bin/awk\n"), "/usr/bin/awk", "awk", ""); !errors.Is(err, ErrUnsupported) {
		t.Errorf("awk: %v", err)
	}
	if _, err := Rewrite([]byte("#!/usr/bin/python3\n# -*- coding: utf-8 -*-\n"), "/usr/bin/python3", "python3", ""); err != nil {
		t.Errorf("a utf-8 coding line is fine: %v", err)
	}
}

// TestLaunchersRun runs each launcher with the real interpreters, called by
// absolute path, relative path, through a symlink from another directory
// and through PATH, with arguments holding blanks; the "bundle" interpreter
// is a wrapper that marks its children so the test knows it ran.
func TestLaunchersRun(t *testing.T) {
	type lang struct {
		host, name, arg, body string
	}
	langs := []lang{
		{"python3", "python3.11", "-s", "import os, sys\nprint(os.environ.get('MARK'), sys.argv[1:], 'no_user_site=%d' % sys.flags.no_user_site)\n"},
		{"perl", "perl", "-w", "print \"$ENV{MARK} [@ARGV]\\n\";\n"},
		{"bash", "bash", "-e", "echo \"$MARK [$*] ${BUNDLE_LAUNCHER-unset}\"\n"},
		{"zsh", "zsh", "", "echo \"$MARK [$*] ${BUNDLE_LAUNCHER-unset}\"\n"},
		{"tclsh", "tclsh", "", "puts \"$env(MARK) \\[$argv\\]\"\n"},
	}
	for _, l := range langs {
		t.Run(l.name, func(t *testing.T) {
			elftest.RequireTools(t, "readlink", "dirname")
			host := testenv.LookPath(t, l.host)
			top := filepath.Join(t.TempDir(), "TOP")
			bin := filepath.Join(top, "usr/bin")
			libexec := filepath.Join(top, "usr/libexec/tool")
			os.MkdirAll(bin, 0o755)
			os.MkdirAll(libexec, 0o755)
			wrapper := "#!/bin/sh\nMARK=bundle exec " + host + " \"$@\"\n"
			if err := os.WriteFile(filepath.Join(bin, l.name), []byte(wrapper), 0o755); err != nil {
				t.Fatal(err)
			}
			script := []byte("#!/usr/bin/" + l.name + " " + l.arg + "\n" + l.body)
			out, err := Rewrite(script, "/usr/bin/"+l.name, "../../bin/"+l.name, l.arg)
			if err != nil {
				t.Fatal(err)
			}
			tool := filepath.Join(libexec, "tool")
			if err := os.WriteFile(tool, out, 0o755); err != nil {
				t.Fatal(err)
			}
			elsewhere := t.TempDir()
			if err := os.Symlink(tool, filepath.Join(elsewhere, "tool")); err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(elsewhere, tool)
			cases := []struct {
				name string
				argv []string
				path string
			}{
				{"absolute", []string{tool}, ""},
				{"relative", []string{rel}, ""},
				{"symlink", []string{filepath.Join(elsewhere, "tool")}, ""},
				{"PATH", []string{"/bin/sh", "-c", `tool "$@"`, "sh"}, elsewhere},
				{"sh", []string{"/bin/sh", tool}, ""},
			}
			for _, c := range cases {
				argv := append(c.argv, "a b", "c")
				cmd := exec.Command(argv[0], argv[1:]...)
				cmd.Dir = elsewhere
				env := []string{"PATH=/usr/bin:/bin", "HOME=" + elsewhere}
				if c.path != "" {
					env[0] = "PATH=" + c.path + ":/usr/bin:/bin"
				}
				cmd.Env = env
				got, err := cmd.CombinedOutput()
				if err != nil {
					t.Errorf("%s: %v\n%s\nscript:\n%s", c.name, err, got, out)
					continue
				}
				s := string(got)
				if !strings.HasPrefix(s, "bundle ") || !strings.Contains(s, "a b") || strings.Contains(s, "MARK") {
					t.Errorf("%s: the bundle interpreter did not get the arguments: %q", c.name, s)
				}
				if l.host == "python3" && !strings.Contains(s, "no_user_site=1") {
					t.Errorf("%s: the #! argument -s was lost: %q", c.name, s)
				}
				if strings.Contains(s, "BUNDLE_LAUNCHER") || (l.host == "bash" || l.host == "zsh") && !strings.Contains(s, "unset") {
					t.Errorf("%s: BUNDLE_LAUNCHER leaked into the script: %q", c.name, s)
				}
			}
		})
	}
}

func FuzzFind(f *testing.F) {
	for _, s := range []string{
		"#!/bin/sh\n'''exec' \"/usr/bin/python3\" \"$0\" \"$@\"\n' '''\n",
		"#!/usr/bin/python3 -s\nprint(1)\n",
		"#!/bin/sh\nif [ \"${BUNDLE_LAUNCHER-}\" != \"$0\" ]; then BUNDLE_LAUNCHER=$0 exec \"$(dirname -- \"$(readlink -f -- \"$0\")\")/bash\" \"$0\" \"$@\"; fi; unset BUNDLE_LAUNCHER\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, ok := Parse(data)
		if ok && l.Interp == "" {
			t.Fatal("a parsed line without an interpreter")
		}
		if fl, ok := Find(data); ok && (fl.Interp == "" || fl.Lines < 2) {
			t.Fatalf("Find = %+v", fl)
		}
		if ok && KindOf(l.Interp) != Unknown {
			out, err := Rewrite(data, l.Interp, "../bin/x", "")
			if err == nil {
				if fl, ok := Find(out); !ok || !fl.Relative || fl.Interp != "../bin/x" {
					t.Fatalf("rewritten launcher not found: %q", out)
				}
			}
		}
	})
}
