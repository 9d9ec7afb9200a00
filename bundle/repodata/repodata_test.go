package repodata

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bundle-dev/bundle/bundle/rpm"
	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/testenv"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

var fixtures = testenv.Fixture("createrepo-testsuite")

// copyFixtures copies the createrepo test-suite packages into dir.
func copyFixtures(t testing.TB, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(fixtures, "*.rpm"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixtures in %s: %v", fixtures, err)
	}
	return testenv.CopyFiles(t, dir, names...)
}

// makeRepo copies the fixtures into a temporary repository and runs
// createrepo_c on it. createrepo_c 0.17 compresses with gz, bz2 or xz; for
// "zst" and "plain" the gz metadata is recompressed and repomd.xml updated
// as createrepo_c ≥ 1.0 (zstd by default) would write it.
func makeRepo(t testing.TB, compress string) string {
	t.Helper()
	testenv.Tools(t, "createrepo_c")
	dir := t.TempDir()
	copyFixtures(t, dir)
	ct := compress
	if compress == "zst" || compress == "plain" {
		ct = "gz"
	}
	_, err := runner.Exec{}.Run(context.Background(), runner.Cmd{
		Name: "createrepo_c", Args: []string{"--no-database", "--general-compress-type=" + ct, dir}})
	if err != nil {
		t.Fatal(err)
	}
	if ct != compress {
		recompress(t, dir, compress)
	}
	return dir
}

// recompress rewrites every .xml.gz metadata file as zstd or plain XML.
func recompress(t testing.TB, dir, to string) {
	t.Helper()
	repomdPath := filepath.Join(dir, "repodata", "repomd.xml")
	md, err := os.ReadFile(repomdPath)
	if err != nil {
		t.Fatal(err)
	}
	gzs, _ := filepath.Glob(filepath.Join(dir, "repodata", "*.xml.gz"))
	for _, gz := range gzs {
		f, err := os.Open(gz)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		data, ext := plain, ".xml"
		if to == "zst" {
			enc, _ := zstd.NewWriter(nil)
			data, ext = enc.EncodeAll(plain, nil), ".xml.zst"
		}
		oldSum := sha256.Sum256(mustRead(t, gz))
		newSum := sha256.Sum256(data)
		newName := strings.TrimSuffix(filepath.Base(gz), ".xml.gz") + ext
		if err := os.WriteFile(filepath.Join(dir, "repodata", newName), data, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Remove(gz)
		md = bytes.ReplaceAll(md, []byte(filepath.Base(gz)), []byte(newName))
		md = bytes.ReplaceAll(md, []byte(">"+hex.EncodeToString(oldSum[:])+"<"), []byte(">"+hex.EncodeToString(newSum[:])+"<"))
	}
	if err := os.WriteFile(repomdPath, md, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// utf8ish converts a header string the way createrepo_c does: kept when it
// is UTF-8, read as Latin-1 otherwise.
func utf8ish(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

// depKey renders a dependency for comparison: name, comparison, EVR with
// epoch 0 as none, and (for requires) whether it is a pre-requirement.
func depKey(d rpm.Dep, withPre bool) string {
	e := d.EVR
	if e.Epoch == "0" {
		e.Epoch = ""
	}
	d2 := rpm.Dep{Name: utf8ish(d.Name), Flags: d.Flags & rpm.SenseCompareMask, EVR: e}
	s := d2.String()
	if d.Flags&rpm.SenseCompareMask != 0 && e.Release == "" && e.Version != "" {
		s += " (no release)"
	}
	if withPre && d.Flags&rpm.SensePreReq != 0 {
		s += " [pre]"
	}
	return s
}

// Script-ordering bits createrepo_c folds into pre="1", besides PREREQ.
const (
	senseScriptPre  rpm.DepFlags = 1 << 9
	senseScriptPost rpm.DepFlags = 1 << 10
)

// headerRequires applies createrepo_c's filtering to a header's Requires:
// no rpmlib(), nothing the package provides itself, none of its own files
// under bin/ or /etc, no duplicates; pre="1" for PREREQ, %pre and %post.
// libc.so.6 requirements (createrepo_c keeps only the highest) are left
// out on both sides.
func headerRequires(p *rpm.Package) []string {
	provided := map[string]bool{}
	for _, d := range p.Provides {
		provided[d.Name] = true
	}
	own := map[string]bool{}
	for _, f := range p.Files {
		own[f.Path] = true
	}
	seen := map[string]bool{}
	var out []string
	for _, d := range p.Requires {
		switch {
		case strings.HasPrefix(d.Name, "rpmlib("), strings.HasPrefix(d.Name, "libc.so.6"), provided[d.Name]:
			continue
		case own[d.Name] && (strings.HasPrefix(d.Name, "/etc/") || strings.Contains(d.Name, "bin/") || d.Name == "/usr/lib/sendmail"):
			continue
		}
		if d.Flags&(senseScriptPre|senseScriptPost) != 0 {
			d.Flags |= rpm.SensePreReq
		}
		k := depKey(d, true)
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

func depKeys(ds []rpm.Dep, withPre bool, skipLibc bool) []string {
	var out []string
	for _, d := range ds {
		if skipLibc && strings.HasPrefix(d.Name, "libc.so.6") {
			continue
		}
		out = append(out, depKey(d, withPre))
	}
	return out
}

func fileKeys(fs []rpm.File) []string {
	var out []string
	for _, f := range fs {
		k := f.Path
		switch {
		case f.FileMode().IsDir():
			k += " dir"
		case f.Flags&rpm.FileGhost != 0:
			k += " ghost"
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestReadMatchesHeaders reads repositories generated by createrepo_c
// (every compression) and checks each package against what
// rpm.ReadPackageFile reads from the same file.
func TestReadMatchesHeaders(t *testing.T) {
	for _, compress := range []string{"gz", "xz", "bz2", "zst", "plain"} {
		t.Run(compress, func(t *testing.T) {
			dir := makeRepo(t, compress)
			pkgs, err := Read(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			rpms, _ := filepath.Glob(filepath.Join(dir, "*.rpm"))
			if len(pkgs) != len(rpms) {
				t.Fatalf("Read returned %d packages for %d files", len(pkgs), len(rpms))
			}
			byPath := map[string]*rpm.Package{}
			for _, p := range pkgs {
				byPath[p.Path] = p
			}
			for _, path := range rpms {
				comparePackage(t, path, byPath[path])
			}
		})
	}
}

func comparePackage(t *testing.T, path string, got *rpm.Package) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: not in the metadata", path)
		return
	}
	want, err := rpm.ReadPackageFile(path)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(path)
	if got.Name != want.Name || rpm.CompareEVR(got.EVR, want.EVR) != 0 || got.EVR.Release != want.EVR.Release ||
		got.EVR.Version != want.EVR.Version || got.IsSource != want.IsSource {
		t.Errorf("%s: metadata says %s (source %v), header %s (source %v)", name, got.NEVRA(), got.IsSource, want.NEVRA(), want.IsSource)
	}
	if !want.IsSource && got.Arch != want.Arch {
		t.Errorf("%s: arch %q, header %q", name, got.Arch, want.Arch)
	}
	if got.SHA256 != want.SHA256 || got.Size != want.Size {
		t.Errorf("%s: sha256 %s size %d, file has %s %d", name, got.SHA256, got.Size, want.SHA256, want.Size)
	}
	if got.SourceRPM != want.SourceRPM || got.License != want.License || got.BuildTime != want.BuildTime {
		t.Errorf("%s: sourcerpm/license/buildtime %q %q %d, header %q %q %d", name,
			got.SourceRPM, got.License, got.BuildTime, want.SourceRPM, want.License, want.BuildTime)
	}
	if g, w := depKeys(got.Requires, true, true), headerRequires(want); !equalStrings(g, w) {
		t.Errorf("%s: requires\n got %q\nwant %q", name, g, w)
	}
	for _, set := range []struct {
		kind      string
		got, want []rpm.Dep
	}{
		{"provides", got.Provides, want.Provides}, {"conflicts", got.Conflicts, want.Conflicts},
		{"obsoletes", got.Obsoletes, want.Obsoletes}, {"recommends", got.Recommends, want.Recommends},
		{"suggests", got.Suggests, want.Suggests}, {"supplements", got.Supplements, want.Supplements},
		{"enhances", got.Enhances, want.Enhances},
	} {
		if g, w := depKeys(set.got, false, false), depKeys(set.want, false, false); !equalStrings(g, w) {
			t.Errorf("%s: %s\n got %q\nwant %q", name, set.kind, g, w)
		}
	}
	if g, w := fileKeys(got.Files), fileKeys(want.Files); !equalStrings(g, w) {
		t.Errorf("%s: files\n got %q\nwant %q", name, g, w)
	}
}

// TestReadFixtureDetails pins a few values createrepo_c writes, so that a
// comparison that silently compares nothing cannot pass.
func TestReadFixtureDetails(t *testing.T) {
	dir := makeRepo(t, "gz")
	pkgs, err := Read(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	find := func(file string) *rpm.Package {
		for _, p := range pkgs {
			if filepath.Base(p.Path) == file {
				return p
			}
		}
		t.Fatalf("%s not read", file)
		return nil
	}
	archer := find("Archer-3.4.5-6.x86_64.rpm")
	if archer.EVR != (rpm.EVR{Epoch: "2", Version: "3.4.5", Release: "6"}) {
		t.Errorf("Archer EVR = %+v", archer.EVR)
	}
	var foof *rpm.Dep
	for i := range archer.Requires {
		if archer.Requires[i].Name == "foof" {
			foof = &archer.Requires[i]
		}
	}
	if foof == nil || foof.Flags != rpm.SenseEqual|rpm.SensePreReq || foof.String() != "foof = 6" {
		t.Errorf("Archer requires foof = %+v, want a pre-requirement foof = 6", foof)
	}
	if got := fileKeys(archer.Files); !equalStrings(got, []string{"/usr/bin/complex_a", "/usr/share/doc/Archer-3.4.5 dir", "/usr/share/doc/Archer-3.4.5/README"}) {
		t.Errorf("Archer files = %q", got)
	}
	rimmer := find("Rimmer-1.0.2-2.x86_64.rpm")
	if len(rimmer.Recommends) != 1 || rimmer.Recommends[0].String() != "rec = 8" ||
		len(rimmer.Supplements) != 1 || rimmer.Supplements[0].String() != "sup > 9" {
		t.Errorf("Rimmer weak deps: recommends %v supplements %v", rimmer.Recommends, rimmer.Supplements)
	}
	src := find("empty-0-0.src.rpm")
	if !src.IsSource || src.Arch != "src" {
		t.Errorf("empty-0-0.src.rpm: source %v arch %q", src.IsSource, src.Arch)
	}
}

// writeRepo writes a plain-XML repository with the given primary (and,
// when not empty, filelists) documents and a repomd.xml with their sha256.
func writeRepo(t *testing.T, primary, filelists string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "repodata"), 0o755); err != nil {
		t.Fatal(err)
	}
	var md strings.Builder
	md.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<repomd xmlns="http://linux.duke.edu/metadata/repo">` + "\n")
	for _, doc := range []struct{ typ, data string }{{"primary", primary}, {"filelists", filelists}} {
		if doc.data == "" {
			continue
		}
		name := "repodata/" + doc.typ + ".xml"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(doc.data), 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(doc.data))
		md.WriteString(`<data type="` + doc.typ + `"><checksum type="sha256">` + hex.EncodeToString(sum[:]) +
			`</checksum><location href="` + name + `"/></data>` + "\n")
	}
	md.WriteString("</repomd>\n")
	if err := os.WriteFile(filepath.Join(dir, "repodata", "repomd.xml"), []byte(md.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

const primaryHead = `<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="1">
`

func onePackage(location, format string) string {
	return primaryHead + `<package type="rpm"><name>a</name><arch>noarch</arch><version epoch="0" ver="1" rel="1"/>
<checksum type="sha256" pkgid="YES">abc</checksum><location ` + location + `/><format>` + format + `</format></package></metadata>`
}

func TestReadSynthetic(t *testing.T) {
	dir := writeRepo(t, onePackage(`href="sub/a-1-1.noarch.rpm"`, `
<rpm:requires><rpm:entry name="(b &gt;= 2 or c)"/><rpm:entry name="/usr/bin/sh" pre="1"/><rpm:entry name="d" flags="LT" epoch="1" ver="2"/></rpm:requires>
<rpm:provides><rpm:entry name="a" flags="EQ" epoch="0" ver="1" rel="1"/></rpm:provides>
<file>/usr/bin/a</file><file type="ghost">/var/log/a.log</file><file type="dir">/etc/a</file>`), "")
	pkgs, err := Read(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 1 {
		t.Fatalf("%d packages", len(pkgs))
	}
	p := pkgs[0]
	if p.Path != filepath.Join(dir, "sub", "a-1-1.noarch.rpm") || p.SHA256 != "abc" || p.EVR.Epoch != "" {
		t.Errorf("package = %+v", p)
	}
	want := []string{"(b >= 2 or c)", "/usr/bin/sh", "d < 1:2"}
	for i, d := range p.Requires {
		if d.String() != want[i] {
			t.Errorf("requires[%d] = %q, want %q", i, d.String(), want[i])
		}
	}
	if p.Requires[1].Flags&rpm.SensePreReq == 0 {
		t.Error("pre=\"1\" lost")
	}
	if got := fileKeys(p.Files); !equalStrings(got, []string{"/etc/a dir", "/usr/bin/a", "/var/log/a.log ghost"}) {
		t.Errorf("files (from primary, no filelists) = %q", got)
	}
}

func TestReadErrors(t *testing.T) {
	goodFormat := `<rpm:provides><rpm:entry name="a"/></rpm:provides>`
	tests := []struct {
		name, primary, filelists, msg string
	}{
		{"outside", onePackage(`href="../a.rpm"`, goodFormat), "", "not a path inside the repository"},
		{"absolute", onePackage(`href="/tmp/a.rpm"`, goodFormat), "", "not a path inside the repository"},
		{"remote", onePackage(`xml:base="https://example.org/" href="a.rpm"`, goodFormat), "", "remote repository"},
		{"flags", onePackage(`href="a.rpm"`, `<rpm:requires><rpm:entry name="b" flags="XX" ver="1"/></rpm:requires>`), "", `unknown flags "XX"`},
		{"count", strings.Replace(onePackage(`href="a.rpm"`, goodFormat), `packages="1"`, `packages="2"`, 1), "", "says it has 2 packages but lists 1"},
		{"root", `<filelists packages="0"></filelists>`, "", "root element is <filelists>"},
		{"truncated", onePackage(`href="a.rpm"`, goodFormat)[:300], "", "xml"},
		{"noname", strings.Replace(onePackage(`href="a.rpm"`, goodFormat), "<name>a</name>", "", 1), "", "name, arch and version are required"},
		{"filelists missing entry", onePackage(`href="a.rpm"`, goodFormat), `<filelists packages="0"></filelists>`, "filelists has no entry for a-1-1.noarch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(context.Background(), writeRepo(t, tc.primary, tc.filelists))
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %v, want one containing %q", err, tc.msg)
			}
		})
	}
}

func TestReadStaleChecksum(t *testing.T) {
	dir := writeRepo(t, onePackage(`href="a.rpm"`, ""), "")
	// The metadata changes after repomd.xml was written.
	p := filepath.Join(dir, "repodata", "primary.xml")
	data := mustRead(t, p)
	if err := os.WriteFile(p, bytes.Replace(data, []byte(`ver="1"`), []byte(`ver="2"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Read(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), "stale or damaged") {
		t.Errorf("error %v, want a checksum mismatch", err)
	}
}

func TestReadMissing(t *testing.T) {
	_, err := Read(context.Background(), t.TempDir())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not wrap fs.ErrNotExist", err)
	}
}

func TestReadCancelled(t *testing.T) {
	dir := writeRepo(t, onePackage(`href="a.rpm"`, ""), "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Read(ctx, dir); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

// TestParseTestdata reads the metadata createrepo_c wrote for the twelve
// createrepo test-suite packages (kept in testdata, so no createrepo_c is
// needed).
func TestParseTestdata(t *testing.T) {
	open := func(name string) *os.File {
		f, err := os.Open(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	pkgs, _, err := parsePrimary(context.Background(), open("primary.xml"), "/repo")
	if err != nil || len(pkgs) != 12 {
		t.Fatalf("primary.xml: %d packages, %v", len(pkgs), err)
	}
	files, err := parseFilelists(context.Background(), open("filelists.xml"))
	if err != nil || len(files) != 12 {
		t.Fatalf("filelists.xml: %d packages, %v", len(files), err)
	}
	for _, p := range pkgs {
		if p.Name == "" || p.Arch == "" || len(p.SHA256) != 64 || !strings.HasPrefix(p.Path, "/repo/") {
			t.Errorf("package %+v", p)
		}
		if _, ok := files[keyOf(p.SHA256, p)]; !ok {
			t.Errorf("%s: not in filelists.xml", p.NEVRA())
		}
	}
}

// FuzzPrimary feeds arbitrary documents to the primary and filelists
// readers: they must fail cleanly, and every location they accept must
// stay inside the repository. It parses in memory; the seeds are small
// documents holding every element and attribute the readers know (the
// fuzzer minimises each new input byte by byte, so the 16 KiB testdata
// files would cost it minutes each); TestParseTestdata reads those.
func FuzzPrimary(f *testing.F) {
	f.Add([]byte(onePackage(`href="sub/a-1-1.noarch.rpm"`, `
<rpm:requires><rpm:entry name="(b &gt;= 2 or c)"/><rpm:entry name="/usr/bin/sh" pre="1"/><rpm:entry name="d" flags="LT" epoch="1" ver="2"/></rpm:requires>
<rpm:provides><rpm:entry name="a" flags="EQ" epoch="0" ver="1" rel="1"/></rpm:provides>
<rpm:sourcerpm>a-1-1.src.rpm</rpm:sourcerpm><rpm:license>MIT</rpm:license><rpm:recommends><rpm:entry name="r"/></rpm:recommends>
<file>/usr/bin/a</file><file type="ghost">/var/log/a.log</file><file type="dir">/etc/a</file>`)))
	f.Add([]byte(onePackage(`href="a/../../b.rpm"`, "")))
	f.Add([]byte(`<?xml version="1.0" encoding="UTF-8"?>
<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="1">
<package pkgid="65dd" name="Archer" arch="x86_64"><version epoch="2" ver="3.4.5" rel="6"/>
<file>/usr/bin/complex_a</file><file type="dir">/usr/share/doc/Archer-3.4.5</file><file type="ghost">/g</file></package>
</filelists>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		const root = "/repo"
		pkgs, _, err := parsePrimary(context.Background(), bytes.NewReader(data), root)
		if err == nil {
			for _, p := range pkgs {
				if rel, err := filepath.Rel(root, p.Path); err != nil || !filepath.IsLocal(rel) {
					t.Fatalf("location %q escapes the repository", p.Path)
				}
				if p.Name == "" || p.Arch == "" {
					t.Fatalf("accepted a package without name or arch: %+v", p)
				}
			}
		}
		_, _ = parseFilelists(context.Background(), bytes.NewReader(data))
	})
}
