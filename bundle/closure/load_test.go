package closure

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bundle-dev/bundle/bundle/rpm"
	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/testenv"
	"github.com/bundle-dev/bundle/platforms"
)

var (
	createrepoFixtures = testenv.Fixture("createrepo-testsuite")
	rpmFixtures        = testenv.Fixture("rpm-testsuite")
)

func fixtureRepo(t testing.TB) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(createrepoFixtures, "*.rpm"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in %s", createrepoFixtures)
	}
	dir := t.TempDir()
	testenv.CopyFiles(t, dir, files...)
	return dir
}

func createrepo(t testing.TB, dir string) {
	t.Helper()
	testenv.Tools(t, "createrepo_c")
	if _, err := (runner.Exec{}).Run(context.Background(), runner.Cmd{Name: "createrepo_c", Args: []string{"--no-database", dir}}); err != nil {
		t.Fatal(err)
	}
}

// hasRpmlib reports whether any package still carries rpmlib()
// requirements, which only headers have: createrepo_c drops them.
func hasRpmlib(pkgs []*rpm.Package) bool {
	for _, p := range pkgs {
		for _, d := range p.Requires {
			if strings.HasPrefix(d.Name, "rpmlib(") {
				return true
			}
		}
	}
	return false
}

func TestLoadRepoHeadersThenMetadata(t *testing.T) {
	dir := fixtureRepo(t)
	fromHeaders, err := LoadRepo(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(fromHeaders) != 12 || !hasRpmlib(fromHeaders) {
		t.Fatalf("read %d packages (rpmlib deps: %v), want the 12 headers", len(fromHeaders), hasRpmlib(fromHeaders))
	}
	var names []string
	sources := 0
	for _, p := range fromHeaders {
		names = append(names, p.Name)
		if p.IsSource {
			sources++
		}
	}
	wantNames := []string{"Archer", "Rimmer", "balicek-iso88591", "balicek-iso88592", "balicek-utf8", "empty", "empty", "empty", "empty", "empty", "fake_bash", "super_kernel"}
	if !reflect.DeepEqual(names, wantNames) || sources != 1 {
		t.Errorf("order %q with %d source packages", names, sources)
	}

	createrepo(t, dir)
	fromMetadata, err := LoadRepo(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(fromMetadata) != 12 || hasRpmlib(fromMetadata) {
		t.Fatalf("read %d packages (rpmlib deps: %v), want the 12 of the metadata", len(fromMetadata), hasRpmlib(fromMetadata))
	}
	for i := range fromHeaders {
		if fromHeaders[i].Path != fromMetadata[i].Path {
			t.Errorf("order differs at %d: %s vs %s", i, fromHeaders[i].Path, fromMetadata[i].Path)
		}
	}

	// A package newer than the metadata: the metadata is stale.
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "Archer-3.4.5-6.x86_64.rpm"), future, future); err != nil {
		t.Fatal(err)
	}
	stale, err := LoadRepo(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !hasRpmlib(stale) {
		t.Error("stale metadata was used")
	}
}

func TestLoadRepoMetadataMissingAPackage(t *testing.T) {
	dir := fixtureRepo(t)
	createrepo(t, dir)
	// A package added later but with an old mtime (as cp -p or a cache
	// restore leaves it): the metadata is not older, but does not list it.
	extra := testenv.CopyFiles(t, filepath.Join(dir), filepath.Join(rpmFixtures, "hello-2.0-1.x86_64.rpm"))[0]
	old := time.Unix(1e9, 0)
	if err := os.Chtimes(extra, old, old); err != nil {
		t.Fatal(err)
	}
	pkgs, err := LoadRepo(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 13 || !hasRpmlib(pkgs) {
		t.Errorf("read %d packages (rpmlib deps: %v), want 13 headers", len(pkgs), hasRpmlib(pkgs))
	}
}

func TestLoadRepoErrors(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "x86_64")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.CopyFiles(t, sub, filepath.Join(rpmFixtures, "hello-2.0-1.x86_64-corrupted.rpm"), filepath.Join(rpmFixtures, "hello-2.0-1.x86_64.rpm"))
	_, err := LoadRepo(context.Background(), dir, nil)
	if err == nil || !strings.Contains(err.Error(), "hello-2.0-1.x86_64-corrupted.rpm") {
		t.Errorf("corrupted package: error %v does not name it", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := LoadRepo(ctx, fixtureRepo(t), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}

	pkgs, err := LoadRepo(context.Background(), t.TempDir(), nil)
	if err != nil || len(pkgs) != 0 {
		t.Errorf("empty directory: %d packages, %v", len(pkgs), err)
	}
	if _, err := LoadRepo(context.Background(), filepath.Join(dir, "nonexistent"), nil); err == nil {
		t.Error("a missing directory is not an error")
	}
}

// comparable reduces a result to what both sources must agree on; header
// strings that are not UTF-8 are read as Latin-1, as createrepo_c writes
// them.
func comparable(res *Result) any {
	type sel struct {
		NEVRA     string
		Requested bool
		Reasons   []Reason
	}
	var out struct {
		Packages []sel
		Missing  []Unresolved
		Dropped  []Dropped
		Base     []string
	}
	for _, s := range res.Packages {
		out.Packages = append(out.Packages, sel{s.Package.NEVRA(), s.Requested, s.Reasons})
	}
	for _, m := range res.Missing {
		m.Capability = latin1(m.Capability)
		out.Missing = append(out.Missing, m)
	}
	out.Dropped = res.Dropped
	out.Base = res.BaseProvided
	return out
}

func latin1(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

// TestResolveFixturesHeadersAndMetadata resolves the createrepo test-suite
// packages for el9 from their headers and from createrepo_c metadata: the
// results must be the same.
func TestResolveFixturesHeadersAndMetadata(t *testing.T) {
	plat, err := platforms.Load("el9-x86_64")
	if err != nil {
		t.Fatal(err)
	}
	dir := fixtureRepo(t)
	opts := Options{Platform: plat, MissingOK: true, WeakDeps: true}
	fromHeaders, err := LoadRepo(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Resolve(context.Background(), fromHeaders, opts)
	if err != nil {
		t.Fatal(err)
	}
	createrepo(t, dir)
	fromMetadata, err := LoadRepo(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Resolve(context.Background(), fromMetadata, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(comparable(a), comparable(b)) {
		t.Errorf("headers give\n%+v\nmetadata gives\n%+v", comparable(a), comparable(b))
	}
	wantSel := []string{"Archer-2:3.4.5-6.x86_64", "Rimmer-1.0.2-2.x86_64", "balicek-iso88591-1.1.1-1.x86_64",
		"balicek-iso88592-1.1.1-1.x86_64", "balicek-utf8-1.1.1-1.x86_64", "empty-0-0.x86_64", "fake_bash-1.1.1-1.x86_64",
		"super_kernel-6.0.1-2.x86_64"}
	if got := nevras(b); !reflect.DeepEqual(got, wantSel) {
		t.Errorf("selected %q, want %q", got, wantSel)
	}
	if p := b.Packages[5].Package; filepath.Base(p.Path) != "empty-0-0.x86_64.rpm" {
		t.Errorf("of four identical empty-0-0 packages %s was chosen, want the first path", p.Path)
	}
	var missing []string
	for _, m := range b.Missing {
		missing = append(missing, m.String())
	}
	for _, want := range []string{"Archer → fooa <= 2: nothing provides it", "super_kernel → bzip2 >= 1.0.0: nothing provides it",
		"Rimmer → reqpre = 2: nothing provides it"} {
		found := false
		for _, m := range missing {
			found = found || m == want
		}
		if !found {
			t.Errorf("missing %q not reported; got %q", want, missing)
		}
	}
	if got := reasonOf(b, "super_kernel"); len(got) != 1 || got[0].By != "fake_bash-1.1.1-1.x86_64" {
		t.Errorf("super_kernel reasons = %+v, want fake_bash's requirement", got)
	}

	// Want: fake_bash alone pulls super_kernel, whose requirements nothing
	// provides.
	_, err = Resolve(context.Background(), fromMetadata, Options{Platform: plat, Want: []string{"fake_bash"}})
	var ue *UnresolvedError
	if !errors.As(err, &ue) || len(ue.Missing) != 4 || ue.Missing[0].String() != "fake_bash → super_kernel → bzip2 >= 1.0.0: nothing provides it" {
		t.Errorf("fake_bash: %v", err)
	}
}
