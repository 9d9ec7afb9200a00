package tests

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// assembleDemo runs `bundle assemble` on the demo repo into out.
func assembleDemo(t *testing.T, out string, env []string, extra ...string) string {
	t.Helper()
	repo := demoRepo(t)
	args := append([]string{"assemble", "--repo", repo, "--platform", "debian12-x86_64",
		"--name", "demo", "--version", "1.0", "--workdir", filepath.Join(out, "work"), "-o", out}, extra...)
	// demo-libs is not asked for: the closure pulls it in.
	args = append(args, "demo", "demo-devel")
	mustRun(t, env, args...)
	name := "demo-1.0-debian12-x86_64.tar.gz"
	for i, a := range extra {
		if a == "--compression" && i+1 < len(extra) {
			name = map[string]string{"zstd": "demo-1.0-debian12-x86_64.tar.zst", "none": "demo-1.0-debian12-x86_64.tar"}[extra[i+1]]
		}
	}
	return filepath.Join(out, name)
}

func TestAssembleDemo(t *testing.T) {
	out := t.TempDir()
	tgz := assembleDemo(t, out, nil)

	// The sidecars: coreutils sha256 file, manifest, ingest script.
	need(t, "sha256sum")
	sh(t, out, "sha256sum", "-c", filepath.Base(tgz)+".sha256")
	var m struct {
		Packages []struct {
			NEVRA     string `json:"nevra"`
			SHA256    string `json:"sha256"`
			Requested bool   `json:"requested"`
			Why       []struct{ By, Requires string }
		} `json:"packages"`
		Counts struct{ Files, Catalogs int }
		Ingest string `json:"ingest"`
	}
	data, err := os.ReadFile(tgz + ".manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	byName := map[string]int{}
	for i, p := range m.Packages {
		byName[strings.SplitN(p.NEVRA, "-1.0", 2)[0]] = i
		if len(p.SHA256) != 64 {
			t.Errorf("%s: sha256 %q", p.NEVRA, p.SHA256)
		}
	}
	libs, ok := byName["demo-libs"]
	if !ok {
		t.Fatalf("manifest lacks demo-libs: %s", data)
	}
	if p := m.Packages[libs]; p.Requested || len(p.Why) == 0 || !strings.Contains(p.Why[0].Requires, "libdemo.so.1") {
		t.Errorf("demo-libs should be in because something requires libdemo.so.1: %+v", p)
	}
	if m.Counts.Catalogs < 1 {
		t.Errorf("no .cvmfscatalog at all")
	}
	if !strings.Contains(m.Ingest, "cvmfs_server ingest") {
		t.Errorf("ingest command %q", m.Ingest)
	}

	// What is in the tarball.
	entries := readTarGz(t, tgz)
	want := map[string]func(h *tar.Header) bool{
		"demo/usr/bin/demo":              func(h *tar.Header) bool { return h.Typeflag == tar.TypeReg && h.Mode == 0o755 },
		"demo/usr/lib64/libdemo.so.1.0":  func(h *tar.Header) bool { return h.Typeflag == tar.TypeReg },
		"demo/usr/lib64/libdemo.so":      func(h *tar.Header) bool { return h.Typeflag == tar.TypeSymlink && h.Linkname == "libdemo.so.1.0" },
		"demo/usr/include/demo-compat.h": func(h *tar.Header) bool { return h.Typeflag == tar.TypeReg && h.Mode == 0o644 },
		"demo/.cvmfscatalog":             func(h *tar.Header) bool { return h.Typeflag == tar.TypeReg && h.Size == 0 },
	}
	seen := map[string]bool{}
	for _, h := range entries {
		if check, ok := want[h.Name]; ok {
			seen[h.Name] = true
			if !check(h) {
				t.Errorf("%s: unexpected header %+v", h.Name, h)
			}
		}
		if strings.Contains(h.Name, "/usr/share/doc") {
			t.Errorf("documentation not removed: %s", h.Name)
		}
		if h.Typeflag == tar.TypeLink || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: hard link or owner leaked: %+v", h.Name, h)
		}
		if !strings.HasPrefix(h.Name, "demo/") && h.Name != "demo/" && h.Name != "demo" {
			t.Errorf("entry outside the one top directory: %s", h.Name)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("tarball lacks %s", name)
		}
	}
	// Parents come before children, in sorted order.
	dirs := map[string]bool{}
	for _, h := range entries {
		name := strings.TrimSuffix(h.Name, "/")
		if parent := filepath.Dir(name); parent != "." && !dirs[parent] {
			t.Errorf("%s comes before its parent directory", h.Name)
		}
		if h.Typeflag == tar.TypeDir {
			dirs[name] = true
		}
	}
}

// The same inputs give the same bytes: twice, and on 1 or 2 cores.
func TestAssembleReproducible(t *testing.T) {
	a := assembleDemo(t, t.TempDir(), []string{"GOMAXPROCS=1"})
	b := assembleDemo(t, t.TempDir(), []string{"GOMAXPROCS=2"})
	c := assembleDemo(t, t.TempDir(), nil, "--workers", "3")
	if fileSHA(t, a) != fileSHA(t, b) || fileSHA(t, a) != fileSHA(t, c) {
		t.Fatalf("tarballs differ between runs: %s %s %s", fileSHA(t, a), fileSHA(t, b), fileSHA(t, c))
	}
	ma, _ := os.ReadFile(a + ".manifest.json")
	mb, _ := os.ReadFile(b + ".manifest.json")
	if string(ma) != string(mb) {
		t.Fatalf("manifests differ between runs")
	}
	for _, comp := range []string{"zstd", "none"} {
		x := assembleDemo(t, t.TempDir(), []string{"GOMAXPROCS=1"}, "--compression", comp)
		y := assembleDemo(t, t.TempDir(), []string{"GOMAXPROCS=2"}, "--compression", comp)
		if fileSHA(t, x) != fileSHA(t, y) {
			t.Errorf("%s tarballs differ between 1 and 2 cores", comp)
		}
	}
}

// GNU tar and bsdtar list and extract the tarball.
func TestAssembleReadByPeers(t *testing.T) {
	need(t, "tar", "bsdtar")
	tgz := assembleDemo(t, t.TempDir(), nil)
	for _, tool := range []string{"tar", "bsdtar"} {
		dir := t.TempDir()
		list := sh(t, dir, tool, "-tvzf", tgz)
		if !strings.Contains(list, "demo/usr/bin/demo") {
			t.Errorf("%s -t does not list demo/usr/bin/demo:\n%s", tool, list)
		}
		sh(t, dir, tool, "-xzf", tgz)
		if target, err := os.Readlink(filepath.Join(dir, "demo/usr/lib64/libdemo.so")); err != nil || target != "libdemo.so.1.0" {
			t.Errorf("%s extraction: libdemo.so -> %q, %v", tool, target, err)
		}
	}
}

func readTarGz(t *testing.T, path string) []*tar.Header {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var hs []*tar.Header
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hs
		}
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
}

// The assembled demo runs from wherever it is unpacked, whatever the job's
// LD_LIBRARY_PATH says, and `bundle test` passes it; bundlerc puts it on
// PATH.
func TestAssembledDemoIsRelocatable(t *testing.T) {
	need(t, "tar", "patchelf")
	out := t.TempDir()
	tgz := assembleDemo(t, out, nil)
	dir := filepath.Join(t.TempDir(), strings.Repeat("long-site-path-", 8))
	os.MkdirAll(dir, 0o755)
	sh(t, dir, "tar", "-xzf", tgz)
	cmd := exec.Command(filepath.Join(dir, "demo/usr/bin/demo"))
	cmd.Env = []string{"LD_LIBRARY_PATH=/nonexistent:" + dir}
	got, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(got)) != "hello from libdemo" {
		t.Fatalf("demo from %s: %v\n%s", dir, err, got)
	}
	script := ". " + filepath.Join(dir, "demo/bundlerc") + " && command -v demo && echo \"root=$DEMO\""
	got, err = exec.Command("bash", "-c", script).CombinedOutput()
	if err != nil || !strings.Contains(string(got), filepath.Join(dir, "demo/usr/bin/demo")) || !strings.Contains(string(got), "root="+filepath.Join(dir, "demo")) {
		t.Fatalf("bundlerc: %v\n%s", err, got)
	}
	if os.Geteuid() == 0 {
		r := runBundle(t, nil, "test", "--json", tgz)
		if r.code != 0 {
			t.Fatalf("bundle test: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
	}
}
