package tarball

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/testenv"
)

var compressions = []string{"gzip", "zstd", "none"}

func TestWriteTwiceIdentical(t *testing.T) {
	for _, c := range compressions {
		t.Run(c, func(t *testing.T) {
			_, a := writeTree(t, smallTree(), Options{Compression: c})
			// Another tree built at another time in another place, written
			// under another name: same bytes.
			_, b := writeTree(t, smallTree(), Options{Compression: c, Out: filepath.Join(t.TempDir(), "other-name.bin")})
			if !bytes.Equal(a, b) {
				t.Fatalf("%s: two writes of the same tree differ: %s vs %s", c, sha(a), sha(b))
			}
		})
	}
}

// The GOMAXPROCS test re-runs the test binary with GOMAXPROCS=1, 2 and 8
// (so nothing read at start-up can leak the core count into the output) and
// compares the bytes. The trees are large enough to keep every pgzip block
// (1 MiB) busy and to make several zstd frames (16 MiB).
func TestWriteSameBytesAnyGOMAXPROCS(t *testing.T) {
	if os.Getenv("BUNDLE_TARBALL_HELPER_ROOT") != "" {
		t.Skip("inside the helper process")
	}
	sizes := map[string]int{"gzip": 6 << 20, "zstd": 40 << 20}
	for _, c := range []string{"gzip", "zstd"} {
		t.Run(c, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "root")
			specs := append(smallTree(), spec{path: "data/big.txt", data: string(textData(sizes[c], 7))})
			if err := os.Mkdir(root, 0o755); err != nil {
				t.Fatal(err)
			}
			makeTree(t, root, specs)
			var first string
			for _, procs := range []string{"1", "2", "8"} {
				out := filepath.Join(t.TempDir(), "p"+procs+suffixOf(c))
				cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWrite$", "-test.count=1")
				cmd.Env = append(os.Environ(), "GOMAXPROCS="+procs, "BUNDLE_TARBALL_HELPER_ROOT="+root,
					"BUNDLE_TARBALL_HELPER_OUT="+out, "BUNDLE_TARBALL_HELPER_COMP="+c)
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("helper GOMAXPROCS=%s: %v\n%s", procs, err, b)
				}
				data, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				if first == "" {
					first = sha(data)
					readBack(t, data, c) // and it decodes
				} else if sha(data) != first {
					t.Fatalf("GOMAXPROCS=%s gives %s, GOMAXPROCS=1 gave %s", procs, sha(data), first)
				}
			}
		})
	}
}

// TestHelperWrite is the subprocess of TestWriteSameBytesAnyGOMAXPROCS.
func TestHelperWrite(t *testing.T) {
	root := os.Getenv("BUNDLE_TARBALL_HELPER_ROOT")
	if root == "" {
		t.Skip("only run as a helper process")
	}
	writeOpts(t, Options{Root: root, Out: os.Getenv("BUNDLE_TARBALL_HELPER_OUT"),
		Compression: os.Getenv("BUNDLE_TARBALL_HELPER_COMP")})
}

// TestGolden pins the bytes of the small tree. The sums change only when the
// format, the tree or a pinned compressor (level, block size, library
// version) changes; then review the change and run `go test -run TestGolden
// -update`.
func TestGolden(t *testing.T) {
	golden := filepath.Join("testdata", "golden.json")
	want := map[string]string{}
	if b, err := os.ReadFile(golden); err == nil {
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("%s: %v", golden, err)
		}
	} else if !testenv.Update() {
		t.Fatalf("%v (create it with -update)", err)
	}
	got := map[string]string{}
	for _, c := range compressions {
		res, data := writeTree(t, smallTree(), Options{Compression: c})
		got[c] = sha(data)
		if res.SHA256 != got[c] {
			t.Errorf("%s: Result.SHA256 %s, file hashes to %s", c, res.SHA256, got[c])
		}
		if res.Size != int64(len(data)) {
			t.Errorf("%s: Result.Size %d, file has %d bytes", c, res.Size, len(data))
		}
	}
	if testenv.Update() {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, c := range compressions {
		if got[c] != want[c] {
			t.Errorf("%s: sha256 %s, golden %s (if the change is intended: go test -run TestGolden -update)", c, got[c], want[c])
		}
	}
}

func TestEntriesOrderAndMetadata(t *testing.T) {
	res, data := writeTree(t, smallTree(), Options{Compression: "gzip", CatalogMin: 1, CatalogMax: 10})
	es := readBack(t, data, "gzip")
	seen := map[string]bool{}
	var files, dirs, links int
	var bytesSum int64
	for i, e := range es {
		h := e.hdr
		name := strings.TrimSuffix(h.Name, "/")
		if name != "demo" && !strings.HasPrefix(name, "demo/") {
			t.Errorf("%s: outside the single top directory", h.Name)
		}
		if i > 0 {
			prev := strings.TrimSuffix(es[i-1].hdr.Name, "/")
			if !pathLess(prev, name) {
				t.Errorf("order: %s before %s", prev, name)
			}
		}
		if name != "demo" && !seen[path.Dir(name)] {
			t.Errorf("%s comes before its parent directory", name)
		}
		seen[name] = true
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner %d/%d %q/%q", name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		if !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() || len(h.Xattrs) > 0 {
			t.Errorf("%s: atime/ctime/xattrs present", name)
		}
		for k := range h.PAXRecords {
			if k != "path" && k != "linkpath" {
				t.Errorf("%s: unexpected PAX record %s", name, k)
			}
		}
		// USTAR unless the name or link target cannot be USTAR.
		needPAX := len(h.PAXRecords) > 0
		if wantFmt := map[bool]tar.Format{false: tar.FormatUSTAR, true: tar.FormatPAX}[needPAX]; h.Format != wantFmt {
			t.Errorf("%s: format %v, want %v", name, h.Format, wantFmt)
		}
		if h.ModTime.After(clampTime) || h.ModTime.Nanosecond() != 0 {
			t.Errorf("%s: mtime %v not clamped to whole seconds <= %v", name, h.ModTime, clampTime)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			dirs++
			if h.Mode != 0o755 {
				t.Errorf("%s: dir mode %o", name, h.Mode)
			}
		case tar.TypeReg:
			files++
			bytesSum += h.Size
			if h.Mode != 0o644 && h.Mode != 0o755 {
				t.Errorf("%s: file mode %o", name, h.Mode)
			}
		case tar.TypeSymlink:
			links++
			if h.Mode != 0o777 {
				t.Errorf("%s: symlink mode %o", name, h.Mode)
			}
		default:
			t.Errorf("%s: entry type %q", name, h.Typeflag)
		}
	}
	m := byName(es)
	checks := []struct {
		name string
		mode int64
		data string
	}{
		{"demo/bin/tool", 0o755, "#!/bin/sh\necho tool\n"},
		{"demo/bin/userexec", 0o755, "x\n"},
		{"demo/bin/private", 0o644, "secret\n"},
		{"demo/share/hard1", 0o644, "hard linked\n"},
		{"demo/share/hard2", 0o644, "hard linked\n"},
		{"demo/share/données.txt", 0o644, "non-ASCII name\n"},
	}
	for _, c := range checks {
		e, ok := m[c.name]
		if !ok || e.hdr.Typeflag != tar.TypeReg || e.hdr.Mode != c.mode || string(e.data) != c.data {
			t.Errorf("%s: got %+v %q, want regular %o %q", c.name, e.hdr, e.data, c.mode, c.data)
		}
	}
	if e := m["demo/lib/libfoo.so"]; e.hdr == nil || e.hdr.Typeflag != tar.TypeSymlink || e.hdr.Linkname != "libfoo.so.1" {
		t.Errorf("libfoo.so symlink: %+v", e.hdr)
	}
	if e := m["demo/share/longlink"]; e.hdr == nil || e.hdr.Format != tar.FormatPAX || len(e.hdr.Linkname) <= 100 {
		t.Errorf("long symlink target must use PAX: %+v", e.hdr)
	}
	for name, e := range m {
		if len(name) > 100 && strings.HasSuffix(name, ".txt") && strings.Contains(name, "fff") {
			if e.hdr.Format != tar.FormatPAX || e.hdr.PAXRecords["path"] != name {
				t.Errorf("long name %s must use a PAX path record: %v %v", name, e.hdr.Format, e.hdr.PAXRecords)
			}
		}
	}
	if e := m["demo/README"]; e.hdr == nil || e.hdr.Format != tar.FormatUSTAR || !e.hdr.ModTime.Equal(oldTime) {
		t.Errorf("README: %+v (want USTAR, mtime %v kept)", e.hdr, oldTime)
	}
	if e := m["demo/share/future"]; e.hdr == nil || !e.hdr.ModTime.Equal(clampTime) {
		t.Errorf("future file mtime not clamped: %+v", e.hdr)
	}
	if res.Entries != len(es) || res.Files != files || res.Dirs != dirs || res.Symlinks != links || res.Bytes != bytesSum {
		t.Errorf("Result counts %+v; tar has %d entries, %d files, %d dirs, %d links, %d bytes",
			res, len(es), files, dirs, links, bytesSum)
	}
}

func TestGzipHeaderIsEmpty(t *testing.T) {
	_, data := writeTree(t, smallTree(), Options{Compression: "gzip"})
	// ID1 ID2 CM FLG MTIME(4) XFL OS
	if data[0] != 0x1f || data[1] != 0x8b || data[2] != 8 || data[3] != 0 || !bytes.Equal(data[4:8], []byte{0, 0, 0, 0}) || data[9] != gzipOS {
		t.Errorf("gzip header % x: want no flags, MTIME 0, OS %d", data[:10], gzipOS)
	}
}

func TestMtimeClampFromEnv(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", fmt.Sprint(oldTime.Add(time.Hour).Unix()))
	root := filepath.Join(t.TempDir(), "root")
	makeTree(t, root, []spec{
		{path: "old", data: "o", mtime: oldTime},
		{path: "new", data: "n", mtime: oldTime.Add(48 * time.Hour)},
	})
	out := filepath.Join(t.TempDir(), "t.tar")
	// Zero Mtime: the clamp comes from SOURCE_DATE_EPOCH.
	if _, err := Write(context.Background(), Options{Root: root, TopDir: "x", Out: out, Compression: "none", Logger: quietLogger()}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(out)
	m := byName(readBack(t, data, "none"))
	if got := m["x/old"].hdr.ModTime; !got.Equal(oldTime) {
		t.Errorf("old file mtime %v, want %v", got, oldTime)
	}
	if got := m["x/new"].hdr.ModTime; !got.Equal(oldTime.Add(time.Hour)) {
		t.Errorf("new file mtime %v, want the clamp %v", got, oldTime.Add(time.Hour))
	}
}

func TestSpecialFileRefused(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	makeTree(t, root, []spec{{path: "a/file", data: "x"}})
	fifo := filepath.Join(root, "a", "pipe")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	_, err := Write(context.Background(), Options{Root: root, TopDir: "x", Out: filepath.Join(outDir, "t.tar.gz"), Mtime: clampTime, Logger: quietLogger()})
	if err == nil || !strings.Contains(err.Error(), fifo) || !strings.Contains(err.Error(), "FIFO") {
		t.Fatalf("want an error naming %s as a FIFO, got %v", fifo, err)
	}
	assertEmptyDir(t, outDir)
}

func TestCancellation(t *testing.T) {
	specs := []spec{}
	for i := range 50 {
		specs = append(specs, spec{path: fmt.Sprintf("d/f%02d", i), data: "data"})
	}
	root := filepath.Join(t.TempDir(), "root")
	makeTree(t, root, specs)

	t.Run("before", func(t *testing.T) {
		outDir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Write(ctx, Options{Root: root, TopDir: "x", Out: filepath.Join(outDir, "t.tar.gz"), Mtime: clampTime, Logger: quietLogger()})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("want context.Canceled, got %v", err)
		}
		assertEmptyDir(t, outDir)
	})
	for _, c := range compressions {
		t.Run("midway-"+c, func(t *testing.T) {
			outDir := t.TempDir()
			out := filepath.Join(outDir, "t"+suffixOf(c))
			// A previous tarball stays untouched.
			if err := os.WriteFile(out, []byte("previous"), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			n := 0
			testHookEntry = func(string) {
				if n++; n == 20 {
					cancel()
				}
			}
			defer func() { testHookEntry = nil }()
			_, err := Write(ctx, Options{Root: root, TopDir: "x", Out: out, Compression: c, Mtime: clampTime, Logger: quietLogger()})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("want context.Canceled, got %v", err)
			}
			if b, _ := os.ReadFile(out); string(b) != "previous" {
				t.Errorf("previous tarball changed to %d bytes", len(b))
			}
			ents, _ := os.ReadDir(outDir)
			if len(ents) != 1 {
				t.Errorf("temporary files left: %v", ents)
			}
		})
	}
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("%s should be empty, holds %v", dir, ents)
	}
}

func TestOptionErrors(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	makeTree(t, root, []spec{{path: "f", data: "x"}})
	file := filepath.Join(root, "f")
	out := filepath.Join(t.TempDir(), "t.tar.gz")
	cases := []struct {
		name string
		opts Options
		env  *string
		want string
	}{
		{"compression", Options{Root: root, TopDir: "x", Out: out, Compression: "bzip2", Mtime: clampTime}, nil, "unknown compression"},
		{"topdir slash", Options{Root: root, TopDir: "a/b", Out: out, Mtime: clampTime}, nil, "top directory"},
		{"topdir empty", Options{Root: root, Out: out, Mtime: clampTime}, nil, "top directory"},
		{"topdir dotdot", Options{Root: root, TopDir: "..", Out: out, Mtime: clampTime}, nil, "top directory"},
		{"no out", Options{Root: root, TopDir: "x", Mtime: clampTime}, nil, "no output"},
		{"out inside root", Options{Root: root, TopDir: "x", Out: filepath.Join(root, "sub", "t.tar.gz"), Mtime: clampTime}, nil, "inside the archived tree"},
		{"root is file", Options{Root: file, TopDir: "x", Out: out, Mtime: clampTime}, nil, "not a directory"},
		{"root missing", Options{Root: root + "-missing", TopDir: "x", Out: out, Mtime: clampTime}, nil, "root"},
		{"min over max", Options{Root: root, TopDir: "x", Out: out, Mtime: clampTime, CatalogMax: 10, CatalogMin: 11}, nil, "minimum"},
		{"no clamp", Options{Root: root, TopDir: "x", Out: out}, nil, "SOURCE_DATE_EPOCH"},
		{"bad env", Options{Root: root, TopDir: "x", Out: out}, ptr("12abc"), "malformed"},
		{"clamp before 1970", Options{Root: root, TopDir: "x", Out: out, Mtime: time.Unix(-5, 0)}, nil, "before 1970"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("SOURCE_DATE_EPOCH", "")
			if c.env == nil {
				os.Unsetenv("SOURCE_DATE_EPOCH")
			} else {
				os.Setenv("SOURCE_DATE_EPOCH", *c.env)
			}
			c.opts.Logger = quietLogger()
			_, err := Write(context.Background(), c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error containing %q, got %v", c.want, err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(root, "sub")); err == nil {
		t.Errorf("Write created a directory inside Root")
	}
}

func ptr(s string) *string { return &s }

func TestCatalogMarkers(t *testing.T) {
	var specs []spec
	for _, pkg := range []string{"big1", "big2", "small"} {
		n := map[string]int{"big1": 30, "big2": 25, "small": 3}[pkg]
		for i := range n {
			specs = append(specs, spec{path: fmt.Sprintf("lib/%s/f%02d", pkg, i), data: "x"})
		}
	}
	specs = append(specs, spec{path: "opt/marked/.cvmfscatalog", data: ""}, spec{path: "opt/marked/f", data: "y"})
	root := filepath.Join(t.TempDir(), "root")
	makeTree(t, root, specs)
	res, data := writeOpts(t, Options{Root: root, Compression: "none", CatalogMax: 40, CatalogMin: 10})
	// lib's subtree puts 3 + 30 + 25 + 3 = 61 entries into one catalog, over
	// the capacity 39 (40 less a marker slot): big1 (31 with its marker)
	// goes first, leaving 31; small stays, it is under the minimum anyway.
	want := []string{".", "lib/big1", "opt/marked"}
	if strings.Join(res.Catalogs, ",") != strings.Join(want, ",") {
		t.Errorf("catalogs %v, want %v", res.Catalogs, want)
	}
	es := readBack(t, data, "none")
	var markers []string
	for _, e := range es {
		if path.Base(e.hdr.Name) == CatalogMarker {
			markers = append(markers, e.hdr.Name)
			if e.hdr.Typeflag != tar.TypeReg || e.hdr.Size != 0 {
				t.Errorf("%s: not an empty regular file", e.hdr.Name)
			}
		}
	}
	wantMarkers := []string{"demo/.cvmfscatalog", "demo/lib/big1/.cvmfscatalog", "demo/opt/marked/.cvmfscatalog"}
	if strings.Join(markers, ",") != strings.Join(wantMarkers, ",") {
		t.Errorf("markers %v, want %v", markers, wantMarkers)
	}
	// Root is never modified.
	for _, p := range []string{".cvmfscatalog", "lib/big1/.cvmfscatalog"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("Write created %s in Root", p)
		}
	}
}

func TestLargeFileWarning(t *testing.T) {
	old := largeFile
	largeFile = 100
	defer func() { largeFile = old }()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	writeTree(t, []spec{{path: "small", data: "x"}, {path: "big", data: strings.Repeat("b", 101)}}, Options{Logger: log})
	if !strings.Contains(logs.String(), "path=big") || strings.Contains(logs.String(), "path=small") {
		t.Errorf("want one warning about big, got:\n%s", logs.String())
	}
}

func TestResultJSON(t *testing.T) {
	res, _ := writeTree(t, smallTree(), Options{Compression: "zstd"})
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"path"`, `"sha256"`, `"size"`, `"compression":"zstd"`, `"entries"`, `"files"`, `"dirs"`, `"symlinks"`, `"bytes"`, `"catalogs":["."]`} {
		if !bytes.Contains(b, []byte(k)) {
			t.Errorf("JSON %s lacks %s", b, k)
		}
	}
	sumFile, err := os.ReadFile(res.Path + ".sha256")
	if err != nil || string(sumFile) != res.SHA256+"  "+filepath.Base(res.Path)+"\n" {
		t.Errorf("checksum file %q (%v)", sumFile, err)
	}
}

// Sidecars of a previous tarball are gone once the new tarball is in
// place, and kept when the write fails (the previous tarball stays too).
func TestStaleSidecarsRemoved(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "demo.tar.gz")
	sidecars := []string{out + ".manifest.json", out + ".ingest.sh"}
	for _, p := range append([]string{out, out + ".sha256"}, sidecars...) {
		if err := os.WriteFile(p, []byte("previous"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(t.TempDir(), "root")
	makeTree(t, root, smallTree())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Write(ctx, Options{Root: root, TopDir: "x", Out: out, Mtime: clampTime, Sidecars: sidecars, Logger: quietLogger()}); err == nil {
		t.Fatal("cancelled Write succeeded")
	}
	for _, p := range append([]string{out, out + ".sha256"}, sidecars...) {
		if b, _ := os.ReadFile(p); string(b) != "previous" {
			t.Errorf("%s changed by a failed Write: %q", p, b)
		}
	}

	res, _ := writeOpts(t, Options{Root: root, Out: out, Sidecars: sidecars})
	for _, p := range sidecars {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale sidecar %s still beside the new tarball (%v)", p, err)
		}
	}
	if b, _ := os.ReadFile(out + ".sha256"); !strings.HasPrefix(string(b), res.SHA256) {
		t.Errorf("checksum file %q", b)
	}
}
