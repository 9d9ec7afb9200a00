package tests

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"
)

// extraSpec is a noarch package whose version the nightly test bumps.
const extraSpec = `Name:           extra
Version:        %s
Release:        1
Summary:        the package that changes between two nightlies
License:        MIT
BuildArch:      noarch
Source0:        extra.txt

%%description
One data file.

%%prep
%%build
%%install
mkdir -p %%{buildroot}%%{_datadir}/extra
install -m 0644 %%{SOURCE0} %%{buildroot}%%{_datadir}/extra/extra.txt

%%files
%%{_datadir}/extra/extra.txt
`

// writeNightlyRecipe writes a recipe of two packages, the real SRPM
// hello-1.0-1.src.rpm of rpm's test suite and extra at the given version.
func writeNightlyRecipe(t *testing.T, dir, extraVersion string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "extra.spec"), []byte(fmt.Sprintf(extraSpec, extraVersion)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "extra.txt"), []byte("extra "+extraVersion+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	recipe := fmt.Sprintf(`name: nightly
version: "1"
platform: debian12-x86_64
defaults:
  jobs: 1
  exclude: ["*-debuginfo", "*-debugsource"]
build:
  jobs: 2
  cpus: 2
packages:
  - name: hello
    srpm:
      path: %s
  - name: extra
    spec: extra.spec
    sources:
      - path: extra.txt
output:
  dir: out
`, filepath.Join(fixtures(t), "rpm-testsuite", "hello-1.0-1.src.rpm"))
	path := filepath.Join(dir, "recipe.yaml")
	if err := os.WriteFile(path, []byte(recipe), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkSPDX reads an SBOM with the SPDX project's own library, validates
// it, and returns the names of the packages the bundle CONTAINS.
func checkSPDX(t *testing.T, data []byte) map[string]bool {
	t.Helper()
	doc, err := spdxjson.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("SBOM unreadable by tools-golang: %v", err)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Fatalf("SBOM invalid: %v", err)
	}
	if doc.SPDXVersion != "SPDX-2.3" {
		t.Errorf("SBOM version %q", doc.SPDXVersion)
	}
	described, err := spdxlib.GetDescribedPackageIDs(doc)
	if err != nil || len(described) != 1 {
		t.Fatalf("SBOM describes %v (%v)", described, err)
	}
	names := map[string]string{}
	for _, p := range doc.Packages {
		names[string(p.PackageSPDXIdentifier)] = p.PackageName
	}
	contained := map[string]bool{}
	for _, r := range doc.Relationships {
		if r.Relationship == "CONTAINS" && r.RefA.ElementRefID == described[0] {
			contained[names[string(r.RefB.ElementRefID)]] = true
		}
	}
	return contained
}

// sbomInside is the SBOM shipped inside a gzip tarball.
func sbomInside(t *testing.T, tgz string) []byte {
	t.Helper()
	f, err := os.Open(tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("%s holds no .bundle/sbom.spdx.json", tgz)
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(h.Name, "/.bundle/sbom.spdx.json") {
			data, _ := io.ReadAll(tr)
			return data
		}
	}
}

type notification struct {
	Status  string `json:"status"`
	Tarball string `json:"tarball"`
	SHA256  string `json:"sha256"`
	Diff    *struct {
		Summary  string `json:"summary"`
		Packages struct {
			Changed []struct{ Name string } `json:"changed"`
		} `json:"packages"`
	} `json:"diff"`
	Failed []struct {
		Package string   `json:"package"`
		Tail    []string `json:"log_tail"`
	} `json:"failed"`
}

func readNotification(t *testing.T, path string) notification {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the --notify command did not run: %v", err)
	}
	var n notification
	if err := json.Unmarshal(data, &n); err != nil {
		t.Fatalf("notification %s: %v", data, err)
	}
	return n
}

// The Done-when: two builds of a recipe that differ in one
// package, each notified and published one after the other, give a channel
// with two entries, latest on the newer, release notes naming exactly that
// package, valid SPDX for both, and `bundle diff` exit statuses 0, 1, 2.
func TestNightlyChannel(t *testing.T) {
	needSandbox(t)
	fixtures(t)
	dir := t.TempDir()
	work, pub := filepath.Join(dir, "work"), filepath.Join(dir, "pub")
	env := []string{"BUNDLE_CACHE=" + buildCache(t), "SOURCE_DATE_EPOCH=1767225600"}
	tgz := filepath.Join(dir, "out", "nightly-1-debian12-x86_64.tar.gz")

	var entries []string
	for i, version := range []string{"1", "2"} {
		recipe := writeNightlyRecipe(t, dir, version)
		note := filepath.Join(dir, fmt.Sprintf("notify-%d.json", i+1))
		mustRun(t, env, "build", "--workdir", work, "--no-test", "--notify", "cat > "+note, recipe)
		n := readNotification(t, note)
		if n.Status != "success" || n.SHA256 != fileSHA(t, tgz) {
			t.Errorf("build %d notification: %+v", i+1, n)
		}
		if i == 0 && n.Diff != nil {
			t.Errorf("first build: a diff against nothing: %+v", n.Diff)
		}
		if i == 1 && (n.Diff == nil || len(n.Diff.Packages.Changed) != 1 || n.Diff.Packages.Changed[0].Name != "extra") {
			t.Errorf("second build: the diff should name extra alone: %+v", n.Diff)
		}

		beside, err := os.ReadFile(tgz + ".spdx.json")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(beside, sbomInside(t, tgz)) {
			t.Errorf("build %d: the SBOM inside the tarball differs from the one beside it", i+1)
		}
		contained := checkSPDX(t, beside)
		if !contained["hello"] || !contained["extra"] {
			t.Errorf("build %d: the SBOM's bundle contains %v", i+1, contained)
		}
		t.Logf("build %d: SBOM %d bytes", i+1, len(beside))

		r := mustRun(t, nil, "publish", tgz, "--to", pub, "--keep", "5", "--json")
		var e struct{ ID string }
		if err := json.Unmarshal([]byte(r.stdout), &e); err != nil {
			t.Fatalf("publish --json: %v\n%s", err, r.stdout)
		}
		entries = append(entries, e.ID)
	}

	ch := filepath.Join(pub, "nightly")
	var idx struct {
		Latest  string
		Entries []struct{ ID, Tarball string }
	}
	data, err := os.ReadFile(filepath.Join(ch, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(data, &idx)
	if len(idx.Entries) != 2 || idx.Latest != entries[1] || idx.Entries[0].ID != entries[1] {
		t.Fatalf("channel index %s", data)
	}
	if target, _ := os.Readlink(filepath.Join(ch, "latest")); target != entries[1] {
		t.Errorf("latest -> %q, want %s", target, entries[1])
	}
	notes, err := os.ReadFile(filepath.Join(ch, "latest", "RELEASE-NOTES.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, l := range strings.Split(string(notes), "\n") {
		if strings.HasPrefix(l, "| added |") || strings.HasPrefix(l, "| removed |") || strings.HasPrefix(l, "| changed |") {
			rows = append(rows, l)
		}
	}
	if len(rows) != 1 || !strings.HasPrefix(rows[0], "| changed | extra | extra-1-1.noarch | extra-2-1.noarch |") {
		t.Errorf("release notes should name exactly extra, in:\n%s", notes)
	}
	for _, id := range entries {
		sbom, err := os.ReadFile(filepath.Join(ch, id, filepath.Base(tgz)+".spdx.json"))
		if err != nil {
			t.Fatal(err)
		}
		checkSPDX(t, sbom)
	}
	if page, _ := os.ReadFile(filepath.Join(ch, "index.html")); !strings.Contains(string(page), entries[0]) || !strings.Contains(string(page), entries[1]) {
		t.Errorf("index.html lacks an entry")
	}

	older := filepath.Join(ch, entries[0], filepath.Base(tgz))
	newer := filepath.Join(ch, entries[1], filepath.Base(tgz))
	start := time.Now()
	r := runBundle(t, nil, "diff", older, newer)
	if os.Getenv("KEEP_NIGHTLY") != "" {
		exec.Command("cp", "-r", dir, os.Getenv("KEEP_NIGHTLY")).Run()
	}
	t.Logf("bundle diff of the two entries: %s", time.Since(start).Round(time.Millisecond))
	if r.code != 1 || !strings.Contains(r.stdout, "~ extra: extra-1-1.noarch -> extra-2-1.noarch") ||
		!strings.Contains(r.stdout, "~ usr/share/extra/extra.txt") {
		t.Errorf("diff of different bundles: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runBundle(t, nil, "diff", "--json", older, newer); r.code != 1 || !json.Valid([]byte(r.stdout)) {
		t.Errorf("diff --json: exit %d\n%s", r.code, r.stdout)
	}
	if r := runBundle(t, nil, "diff", newer, filepath.Join(ch, "latest", filepath.Base(tgz))); r.code != 0 || !strings.Contains(r.stdout, "identical") {
		t.Errorf("diff of a bundle with itself: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runBundle(t, nil, "diff", older+".manifest.json", newer+".manifest.json"); r.code != 1 {
		t.Errorf("diff of the manifests: exit %d", r.code)
	}
	if r := runBundle(t, nil, "diff", older, filepath.Join(dir, "missing.tar.gz")); r.code != 2 || r.stderr == "" {
		t.Errorf("diff with a missing bundle: exit %d, stderr %q", r.code, r.stderr)
	}
}

// A failing build notifies too, with the failed package and its log tail.
func TestNotifyOnFailure(t *testing.T) {
	needSandbox(t)
	fixtures(t)
	dir := t.TempDir()
	recipe := writeNightlyRecipe(t, dir, "1")
	// A spec whose %install fails.
	broken := strings.Replace(fmt.Sprintf(extraSpec, "1"), "mkdir -p", "echo extra-install-broke >&2; exit 3\nmkdir -p", 1)
	os.WriteFile(filepath.Join(dir, "extra.spec"), []byte(broken), 0o644)
	note := filepath.Join(dir, "notify.json")
	r := runBundle(t, []string{"BUNDLE_CACHE=" + buildCache(t)}, "build", "--workdir", filepath.Join(dir, "work"),
		"--no-test", "--notify", "cat > "+note, recipe)
	if r.code != 1 {
		t.Fatalf("a failing build: exit %d\n%s", r.code, r.stderr)
	}
	n := readNotification(t, note)
	if n.Status != "failure" || len(n.Failed) != 1 || n.Failed[0].Package != "extra" ||
		!strings.Contains(strings.Join(n.Failed[0].Tail, "\n"), "extra-install-broke") {
		t.Errorf("notification of a failed build: %+v", n)
	}
}
