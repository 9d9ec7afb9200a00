package diff

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// file is an entry of a synthetic bundle: content, or a symlink target.
type file struct {
	body    string
	link    string
	mode    int64
	bodyLen int // when > 0: a generated body of that length, seeded by body
}

// writeTar writes TOP/... entries (sorted by the caller's map order is not
// needed: archive/tar takes any order) in the given compression.
func writeTar(t testing.TB, w io.Writer, top string, files map[string]file, compression string) {
	t.Helper()
	var out io.WriteCloser
	switch compression {
	case "gzip":
		out = gzip.NewWriter(w)
	case "zstd":
		zw, err := zstd.NewWriter(w)
		if err != nil {
			t.Fatal(err)
		}
		out = zw
	default:
		out = nopCloser{w}
	}
	tw := tar.NewWriter(out)
	if err := tw.WriteHeader(&tar.Header{Name: top + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	for name, f := range files {
		if f.link != "" {
			if err := tw.WriteHeader(&tar.Header{Name: top + "/" + name, Typeflag: tar.TypeSymlink, Linkname: f.link, Mode: 0o777}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		body := []byte(f.body)
		if f.bodyLen > 0 {
			body = synthetic(f.body, f.bodyLen)
		}
		mode := f.mode
		if mode == 0 {
			mode = 0o644
		}
		if err := tw.WriteHeader(&tar.Header{Name: top + "/" + name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// synthetic is n bytes of compressible, seed-dependent text.
func synthetic(seed string, n int) []byte {
	var b bytes.Buffer
	x := uint32(len(seed)*7919 + 1)
	for _, c := range seed {
		x = x*31 + uint32(c)
	}
	words := []string{"lib", "python", "bundle", "cvmfs", "grid", "site", "ELF", "\x00\x01", "so.1", "import"}
	for b.Len() < n {
		x = x*1664525 + 1013904223
		b.WriteString(words[x>>28%uint32(len(words))])
		b.WriteByte(byte(x >> 8))
	}
	return b.Bytes()[:n]
}

// bundleOnDisk writes a tarball and its manifest into dir.
func bundleOnDisk(t testing.TB, dir, name string, m bundle.Manifest, files map[string]file, compression string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	writeTar(t, f, m.TopDir, files, compression)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	m.Tarball.File = name
	m.Tarball.SHA256 = name // distinct per file; only compared when no tree is read
	data, _ := json.Marshal(m)
	if err := os.WriteFile(path+".manifest.json", data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func manifest(pkgs ...bundle.PackageInfo) bundle.Manifest {
	return bundle.Manifest{ManifestVersion: bundle.ManifestVersion, Name: "demo", Version: "1.0", Platform: "debian12-x86_64", TopDir: "demo", Packages: pkgs}
}

func pkg(name, nevra, sha string, size int64) bundle.PackageInfo {
	return bundle.PackageInfo{Name: name, Arch: "x86_64", NEVRA: nevra, SHA256: sha, Size: size}
}

var baseFiles = map[string]file{
	"usr/bin/demo":           {body: "demo binary", mode: 0o755},
	"usr/lib64/libdemo.so":   {link: "libdemo.so.1"},
	"usr/lib64/libdemo.so.1": {body: "library"},
	"etc/demo.conf":          {body: "x=1"},
}

func with(base map[string]file, change func(map[string]file)) map[string]file {
	m := map[string]file{}
	for k, v := range base {
		m[k] = v
	}
	change(m)
	return m
}

func TestCompare(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m1 := manifest(pkg("demo", "demo-1.0-1.x86_64", "aa", 100), pkg("extra", "extra-1-1.x86_64", "bb", 10), pkg("gone", "gone-1-1.x86_64", "cc", 5))
	m1.Python = []bundle.PipPin{{Name: "six", Version: "1.16.0"}, {Name: "old", Version: "1"}}
	m2 := manifest(pkg("demo", "demo-1.0-1.x86_64", "aa", 100), pkg("extra", "extra-2-1.x86_64", "dd", 12), pkg("new", "new-1-1.x86_64", "ee", 7))
	m2.Python = []bundle.PipPin{{Name: "six", Version: "1.17.0"}, {Name: "fresh", Version: "2"}}
	m1.Counts.TotalSize, m2.Counts.TotalSize = 1000, 1010
	a := bundleOnDisk(t, dir, "a.tar.gz", m1, baseFiles, "gzip")
	b := bundleOnDisk(t, dir, "b.tar.zst", m2, with(baseFiles, func(f map[string]file) {
		f["etc/demo.conf"] = file{body: "x=2"}
		f["usr/bin/demo"] = file{body: "demo binary", mode: 0o644}
		f["usr/lib64/libdemo.so"] = file{body: "now a file"}
		f["usr/share/new.txt"] = file{body: "n"}
		delete(f, "usr/lib64/libdemo.so.1")
	}), "zstd")

	oldB, newB, err := LoadPair(ctx, a, b)
	if err != nil {
		t.Fatal(err)
	}
	r := Compare(oldB, newB)
	if r.Identical {
		t.Fatal("different bundles reported identical")
	}
	p := r.Packages
	if len(p.Added) != 1 || p.Added[0].Name != "new" || len(p.Removed) != 1 || p.Removed[0].Name != "gone" ||
		len(p.Changed) != 1 || p.Changed[0].Name != "extra" || p.Changed[0].New.NEVRA != "extra-2-1.x86_64" {
		t.Errorf("packages: %+v", p)
	}
	py := r.Python
	if len(py.Added) != 1 || py.Added[0].Name != "fresh" || len(py.Removed) != 1 || py.Removed[0].Name != "old" ||
		len(py.Changed) != 1 || py.Changed[0].New.Version != "1.17.0" {
		t.Errorf("python: %+v", py)
	}
	f := r.Files
	if f == nil {
		t.Fatal("files not compared between two tarballs")
	}
	paths := func(l []FileChange) string {
		var s []string
		for _, c := range l {
			s = append(s, c.Path)
		}
		return strings.Join(s, ",")
	}
	if got := paths(f.Added); got != "usr/share/new.txt" {
		t.Errorf("added %s", got)
	}
	if got := paths(f.Removed); got != "usr/lib64/libdemo.so.1" {
		t.Errorf("removed %s", got)
	}
	if got := paths(f.Changed); got != "etc/demo.conf,usr/bin/demo,usr/lib64/libdemo.so" {
		t.Errorf("changed %s", got)
	}
	if f.Unchanged != 0 {
		t.Errorf("unchanged %d", f.Unchanged)
	}

	var text, mdown bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"~ extra: extra-1-1.x86_64 -> extra-2-1.x86_64", "+ new-1-1.x86_64", "- gone-1-1.x86_64",
		"~ six==1.16.0 -> six==1.17.0", "~ usr/bin/demo (mode 755 -> 644)", "~ usr/lib64/libdemo.so (symlink -> file)",
		"total size: 1000 -> 1010 bytes (+10)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if err := r.WriteMarkdown(&mdown); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Packages", "| changed | extra | extra-1-1.x86_64 | extra-2-1.x86_64 | +2 |", "## Files", "`usr/share/new.txt`"} {
		if !strings.Contains(mdown.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, mdown.String())
		}
	}
	if s := r.Summary(); !strings.HasPrefix(s, "packages +1 -1 ~1, python +1 -1 ~1, files +1 -1 ~3") {
		t.Errorf("summary %q", s)
	}
}

// The same content in other compressions, under another top directory, is
// identical; given as manifests, the tarball digests decide.
func TestIdentical(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m := manifest(pkg("demo", "demo-1.0-1.x86_64", "aa", 100))
	a := bundleOnDisk(t, dir, "a.tar", m, baseFiles, "none")
	m.TopDir = "other"
	b := bundleOnDisk(t, dir, "b.tar.gz", m, baseFiles, "gzip")
	oldB, newB, err := LoadPair(ctx, a, b)
	if err != nil {
		t.Fatal(err)
	}
	r := Compare(oldB, newB)
	if !r.Identical || r.Files.Unchanged != len(baseFiles) {
		t.Errorf("identical bundles reported different: %+v", r)
	}
	var text bytes.Buffer
	r.WriteText(&text)
	if !strings.HasSuffix(text.String(), "identical\n") {
		t.Errorf("text %q", text.String())
	}

	ma, _ := Load(ctx, a+".manifest.json")
	mb, _ := Load(ctx, b+".manifest.json")
	if r := Compare(ma, mb); r.Identical || r.Files != nil {
		t.Errorf("manifests of tarballs with different digests: identical=%v files=%v", r.Identical, r.Files)
	}
	if r := Compare(ma, ma); !r.Identical {
		t.Errorf("a manifest against itself differs")
	}
}

func TestLoadTrouble(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lone := filepath.Join(dir, "lone.tar.gz")
	os.WriteFile(lone, []byte("x"), 0o644)
	broken := bundleOnDisk(t, dir, "broken.tar.gz", manifest(), baseFiles, "gzip")
	data, _ := os.ReadFile(broken)
	os.WriteFile(broken, data[:len(data)/2], 0o644)
	badJSON := filepath.Join(dir, "bad.manifest.json")
	os.WriteFile(badJSON, []byte("{"), 0o644)
	sbomJSON := filepath.Join(dir, "x.spdx.json")
	os.WriteFile(sbomJSON, []byte(`{"spdxVersion":"SPDX-2.3","name":"x"}`), 0o644)
	for name, path := range map[string]string{
		"missing": filepath.Join(dir, "nope.tar.gz"), "no manifest": lone, "truncated": broken, "bad manifest": badJSON,
		"not a manifest": sbomJSON,
	} {
		if _, err := Load(ctx, path); err == nil {
			t.Errorf("%s: Load succeeded", name)
		}
	}
}

func FuzzReadTree(f *testing.F) {
	for _, comp := range []string{"none", "gzip", "zstd"} {
		var b bytes.Buffer
		writeTar(f, &b, "top", baseFiles, comp)
		f.Add(b.Bytes())
	}
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		tree, err := readTree(context.Background(), bytes.NewReader(data))
		if err != nil {
			return
		}
		for p := range tree {
			if p == "" {
				t.Errorf("bad path %q", p)
			}
		}
	})
}
