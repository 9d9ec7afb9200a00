package tests

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/htmlreport/browsercheck"
)

// TestBuildReportInBrowser builds the small recipe of TestBuildRecipe (twice:
// the second report compares with the first bundle) and once with a zlib
// patch that cannot apply, and loads the HTML reports in headless chromium: no console error, no network
// request, every package on the page, the failed package's log tail (the
// last line of its real log) shown, a screenshot that is not blank. `bundle
// report` writes the same page again from the work directory.
func TestBuildReportInBrowser(t *testing.T) {
	needSandbox(t)
	need(t, "chromium")
	b, err := browsercheck.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	t.Run("succeeded", func(t *testing.T) {
		dir := t.TempDir()
		recipe := writeRecipe(t, dir, "")
		work := filepath.Join(dir, "work")
		s, r := runBuild(t, recipe, work)
		if r.code != 0 {
			t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
		}
		report := s.Tarball + ".report.html"
		var js struct{ Report string }
		if err := json.Unmarshal([]byte(r.stdout), &js); err != nil || js.Report != report {
			t.Errorf("build --json names the report %q (%v), want %s", js.Report, err, report)
		}
		p := loadReport(t, b, report, states(s))
		for _, want := range []string{"succeeded", "sha256", "Installed size by package", "bundle test", "Critical path",
			"No previous build is known"} {
			if !strings.Contains(p.Text, want) {
				t.Errorf("the report lacks %q", want)
			}
		}
		// The same build again: its report compares the new bundle with
		// the one it replaces, which is the same, byte for byte.
		s, r = runBuild(t, recipe, work)
		if r.code != 0 {
			t.Fatalf("second build: exit %d\n%s", r.code, r.stderr)
		}
		p = loadReport(t, b, report, states(s))
		if !strings.Contains(p.Text, "Identical to the previous "+filepath.Base(s.Tarball)) {
			t.Errorf("the second report does not say the bundle is identical to the previous one:\n%s", p.Text)
		}
		if !strings.Contains(p.Text, "assemble: reused from the cache") {
			t.Errorf("the second report does not say the assembled output was reused:\n%s", p.Text)
		}
		regenerated(t, work, report)
	})

	t.Run("failed", func(t *testing.T) {
		dir := t.TempDir()
		patch := filepath.Join(dir, "bad.patch")
		os.WriteFile(patch, []byte("--- a/NO-SUCH-FILE\n+++ b/NO-SUCH-FILE\n@@ -1 +1 @@\n-x\n+y\n"), 0o644)
		recipe := writeRecipe(t, dir, "    patches:\n      - path: "+patch+"\n        mode: p1\n")
		work := filepath.Join(dir, "work")
		_, r := runBuild(t, recipe, work)
		if r.code != 1 {
			t.Fatalf("build with a bad patch: exit %d, want 1\n%s", r.code, r.stderr)
		}
		reports, _ := filepath.Glob(filepath.Join(dir, "out", "*.report.html"))
		if len(reports) != 1 {
			t.Fatalf("want one report in the output directory, got %v", reports)
		}
		want := map[string]string{"zlib": "failed", "libxml2": "skipped", "bzip2": "", "xz": "", "hello": ""}
		p := loadReport(t, b, reports[0], want)
		log, err := os.ReadFile(filepath.Join(work, "logs", "zlib", "build.log"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimRight(string(log), "\n"), "\n")
		last := strings.TrimSpace(lines[len(lines)-1])
		if !strings.Contains(p.Text, last) {
			t.Errorf("the report does not show the log tail of zlib (its last line %q):\n%s", last, p.Text)
		}
		for _, want := range []string{"Failures", "zlib failed", "Last lines of the log", filepath.Join(work, "logs", "zlib", "build.log")} {
			if !strings.Contains(p.Text, want) {
				t.Errorf("the report lacks %q", want)
			}
		}
		regenerated(t, work, reports[0])
	})
}

// loadReport loads a report in the browser and checks what holds for
// every report; states maps each package to its state ("" for any).
func loadReport(t *testing.T, b *browsercheck.Browser, path string, want map[string]string) *browsercheck.Page {
	t.Helper()
	p, err := b.Load(path, browsercheck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	if len(p.Console) > 0 {
		t.Errorf("console messages:\n%s", strings.Join(p.Console, "\n"))
	}
	if len(p.Requests) > 0 {
		t.Errorf("network requests: %v", p.Requests)
	}
	if len(want) == 0 {
		t.Fatal("no package to look for")
	}
	for name, st := range want {
		got, err := browsercheck.Eval[string](p, `(function(){ var r = document.getElementById("pkg-`+name+`");
			return r ? r.querySelector(".state").textContent : "" })()`)
		if err != nil || got == "" {
			t.Errorf("package %s has no row in the report (%v)", name, err)
		} else if st != "" && !strings.HasPrefix(got, st) {
			t.Errorf("package %s is %q in the report, want %s", name, got, st)
		}
	}
	distinct, top, err := browsercheck.Colours(p.Screenshot)
	if err != nil {
		t.Fatal(err)
	}
	if distinct < 16 || top > 0.97 {
		t.Errorf("screenshot looks blank: %d colours, the commonest covers %.1f%%", distinct, top*100)
	}
	return p
}

// regenerated checks that `bundle report WORKDIR -o FILE` writes the
// build's page again, byte for byte.
func regenerated(t *testing.T, work, report string) {
	t.Helper()
	again := filepath.Join(t.TempDir(), "again.html")
	r := mustRun(t, nil, "report", work, "-o", again)
	if strings.TrimSpace(r.stdout) != again {
		t.Errorf("bundle report printed %q, want %s", r.stdout, again)
	}
	if fileSHA(t, again) != fileSHA(t, report) {
		t.Error("bundle report wrote another page than the build")
	}
}
