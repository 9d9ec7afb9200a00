package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExitStatus(t *testing.T) {
	fx := fixtures(t)
	corrupted := filepath.Join(fx, "rpm-testsuite", "hello-2.0-1.x86_64-corrupted.rpm")
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"help", []string{"--help"}, 0, ""},
		{"extract help", []string{"extract", "--help"}, 0, ""},
		{"closure help", []string{"closure", "--help"}, 0, ""},
		{"assemble help", []string{"assemble", "--help"}, 0, ""},
		{"unknown flag", []string{"extract", "--no-such-flag"}, 2, "no-such-flag"},
		{"unknown command", []string{"frobnicate"}, 2, "frobnicate"},
		{"extract without -C", []string{"extract", corrupted}, 2, "-C DIR"},
		{"assemble without flags", []string{"assemble"}, 2, "--repo"},
		{"unknown platform", []string{"closure", "--repo", ".", "--platform", "solaris"}, 2, "solaris"},
		{"corrupted rpm", []string{"extract", "-C", t.TempDir(), corrupted}, 1, "hello-2.0-1.x86_64-corrupted.rpm"},
		{"missing rpm", []string{"extract", "-C", t.TempDir(), "/nonexistent/x.rpm"}, 1, "/nonexistent/x.rpm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBundle(t, nil, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.code, r.stdout, r.stderr)
			}
			if tt.msg != "" && !strings.Contains(r.stderr, tt.msg) {
				t.Errorf("stderr does not name %q:\n%s", tt.msg, r.stderr)
			}
			if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
				t.Errorf("panic:\n%s", r.stderr)
			}
		})
	}
}

// Every fixture is read or refused cleanly by `bundle extract`, never a panic,
// and nothing lands outside the target directory.
func TestExtractEveryFixture(t *testing.T) {
	fx := fixtures(t)
	rpms, _ := filepath.Glob(filepath.Join(fx, "*", "*.rpm*"))
	if len(rpms) < 20 {
		t.Fatalf("found only %d fixtures in %s", len(rpms), fx)
	}
	for _, rpm := range rpms {
		t.Run(filepath.Base(rpm), func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "root")
			r := runBundle(t, nil, "extract", "--json", "--keep-docs", "-C", dir, rpm)
			if strings.Contains(r.stderr, "panic") {
				t.Fatalf("panic:\n%s", r.stderr)
			}
			switch r.code {
			case 0:
				var rep map[string]any
				if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
					t.Errorf("--json output is not JSON: %v\n%s", err, r.stdout)
				}
			case 1:
				if !strings.Contains(r.stderr, filepath.Base(rpm)) {
					t.Errorf("error does not name the file:\n%s", r.stderr)
				}
			default:
				t.Errorf("exit %d:\n%s", r.code, r.stderr)
			}
			ents, _ := os.ReadDir(base)
			if len(ents) > 1 {
				t.Errorf("something was written beside the target: %v", ents)
			}
		})
	}
}

func TestClosureDemo(t *testing.T) {
	repo := demoRepo(t)
	r := mustRun(t, nil, "closure", "--repo", repo, "--json", "demo")
	var res struct {
		Packages []struct {
			Name      string
			Requested bool
			Reasons   []struct{ By, Requires string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	var names []string
	for _, p := range res.Packages {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "demo,demo-libs" {
		t.Errorf("closure of demo = %v, want demo,demo-libs", names)
	}
	text := mustRun(t, nil, "closure", "--repo", repo, "demo").stdout
	if !strings.Contains(text, "libdemo.so.1()(64bit)") {
		t.Errorf("text output does not say why demo-libs is in:\n%s", text)
	}
}
