package tests

import (
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type reuseSummary struct {
	Tarball  string `json:"tarball"`
	Manifest struct {
		Tarball struct {
			SHA256 string `json:"sha256"`
		} `json:"tarball"`
	} `json:"manifest"`
	Assemble *struct {
		Key     string   `json:"key"`
		Reused  bool     `json:"reused"`
		Changes []string `json:"changes"`
	} `json:"assemble"`
	Test *struct {
		Checks []json.RawMessage `json:"checks"`
	} `json:"test"`
	TestReused *struct {
		SHA256 string `json:"sha256"`
	} `json:"test_reused"`
}

// buildReuse runs `bundle build --json` with args and decodes what it says
// about reuse; it returns the decoded summary and the run's wall time.
func buildReuse(t *testing.T, recipe, work string, args ...string) (reuseSummary, time.Duration) {
	t.Helper()
	start := time.Now()
	_, r := runBuild(t, recipe, work, args...)
	took := time.Since(start)
	if r.code != 0 {
		t.Fatalf("build %v: exit %d\n%s", args, r.code, r.stderr)
	}
	var s reuseSummary
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("build --json: %v\n%s", err, r.stdout)
	}
	if s.Assemble == nil || s.Tarball == "" || s.Test == nil || len(s.Test.Checks) == 0 {
		t.Fatalf("build --json says nothing of the assembly or the test:\n%s", r.stdout)
	}
	return s, took
}

// outputs maps each file of the output directory to its sha256, but for
// the HTML report of the run (it tells how that run went).
func outputs(t *testing.T, dir string) map[string]string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, de := range des {
		if !strings.HasSuffix(de.Name(), ".report.html") {
			m[de.Name()] = fileSHA(t, filepath.Join(dir, de.Name()))
		}
	}
	return m
}

func hasChange(changes []string, prefix string) bool {
	for _, c := range changes {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

// TestBuildReuse: a build whose inputs are all unchanged restores the
// previous assembled output from the cache — the same tarball, sha256,
// manifest, SBOM and every other sidecar — and skips `bundle test` of
// that tarball, saying so; a changed input (a package added to the local
// repository, the recipe) assembles again and --explain names it.
func TestBuildReuse(t *testing.T) {
	needSandbox(t)
	dir := t.TempDir()
	recipe := writeRecipe(t, dir, "")
	work := filepath.Join(dir, "work")
	out := filepath.Join(dir, "out")

	s1, took := buildReuse(t, recipe, work)
	if s1.Assemble.Reused || s1.TestReused != nil {
		t.Errorf("first build reused something: %+v %+v", s1.Assemble, s1.TestReused)
	}
	t.Logf("first build: %v", took)
	first := outputs(t, out)
	for _, suffix := range []string{"", ".sha256", ".manifest.json", ".spdx.json", ".ingest.sh"} {
		if _, ok := first[filepath.Base(s1.Tarball)+suffix]; !ok {
			t.Errorf("the first build wrote no %s: %v", suffix, first)
		}
	}

	// Nothing changed: reused, byte for byte, and the test is skipped.
	s2, took := buildReuse(t, recipe, work, "--explain")
	t.Logf("no-op build: %v", took)
	if !s2.Assemble.Reused || len(s2.Assemble.Changes) != 0 || s2.Assemble.Key != s1.Assemble.Key {
		t.Errorf("second build: %+v, want reused with no change and key %s", s2.Assemble, s1.Assemble.Key)
	}
	if s2.Manifest.Tarball.SHA256 != s1.Manifest.Tarball.SHA256 || s2.TestReused == nil || s2.TestReused.SHA256 != s1.Manifest.Tarball.SHA256 {
		t.Errorf("second build: sha256 %s (first %s), test reused %+v", s2.Manifest.Tarball.SHA256, s1.Manifest.Tarball.SHA256, s2.TestReused)
	}
	if got := outputs(t, out); !maps.Equal(got, first) {
		t.Errorf("the reused output differs from the full run's:\n got %v\nwant %v", got, first)
	}
	text := mustRun(t, []string{"BUNDLE_CACHE=" + buildCache(t), "SOURCE_DATE_EPOCH=1767225600"},
		"build", "--explain", "--workdir", work, recipe).stdout
	for _, want := range []string{"assemble: reused from the cache: no input changed", "bundle test: skipped: this tarball (sha256 " + s1.Manifest.Tarball.SHA256[:12]} {
		if !strings.Contains(text, want) {
			t.Errorf("the no-op build does not say %q:\n%s", want, text)
		}
	}

	// A package the bundle does not ship appears in the local repository:
	// an input changed, so the bundle is assembled again — into the same
	// bytes, whose test result is then reused.
	foo := filepath.Join(fixtures(t), "rpm-testsuite", "foo-1.0-1.noarch.rpm")
	src, err := os.Open(foo)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.Create(filepath.Join(work, "repo", "foo-1.0-1.noarch.rpm"))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(dst, src)
	src.Close()
	dst.Close()
	s3, _ := buildReuse(t, recipe, work, "--explain")
	if s3.Assemble.Reused || !hasChange(s3.Assemble.Changes, "package foo-1.0-1.noarch added") {
		t.Errorf("after adding foo to the repository: %+v", s3.Assemble)
	}
	if s3.Manifest.Tarball.SHA256 != s1.Manifest.Tarball.SHA256 || s3.TestReused == nil {
		t.Errorf("foo is not shipped: want the same tarball (%s, got %s) and its test reused (%+v)",
			s1.Manifest.Tarball.SHA256, s3.Manifest.Tarball.SHA256, s3.TestReused)
	}

	// The recipe changes (bundlerc gets a variable): assembled again, into
	// other bytes, tested again; --explain names the recipe.
	data, err := os.ReadFile(recipe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(recipe, append(data, "env:\n  vars: {E2E_REUSE: \"1\"}\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, []string{"BUNDLE_CACHE=" + buildCache(t), "SOURCE_DATE_EPOCH=1767225600"},
		"build", "--explain", "--workdir", work, recipe)
	if !strings.Contains(r.stdout, "recipe changed (") || strings.Contains(r.stdout, "reused from the cache") ||
		strings.Contains(r.stdout, "bundle test: skipped") {
		t.Errorf("after the recipe changed, build --explain says:\n%s", r.stdout)
	}
	if got := outputs(t, out); got[filepath.Base(s1.Tarball)] == first[filepath.Base(s1.Tarball)] {
		t.Error("the recipe changed bundlerc but the tarball stayed the same")
	}
}

// BenchmarkNoopBuild measures `bundle build` of the sandbox recipe when
// no input changed: every package a cache hit, the assembled output
// restored from the cache and the test result reused (the goal: < 2 s).
func BenchmarkNoopBuild(b *testing.B) {
	needSandbox(b)
	dir := b.TempDir()
	recipe := writeRecipe(b, dir, "")
	work := filepath.Join(dir, "work")
	if _, r := runBuild(b, recipe, work); r.code != 0 {
		b.Fatalf("build: exit %d\n%s", r.code, r.stderr)
	}
	for b.Loop() {
		if _, r := runBuild(b, recipe, work); r.code != 0 {
			b.Fatalf("no-op build: exit %d\n%s", r.code, r.stderr)
		}
	}
}
