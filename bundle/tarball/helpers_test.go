package tarball

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// clampTime is the mtime clamp of the tests: in the past of any test run, so
// entries created during a test (symlinks, whose times we do not set) are
// clamped to it and the output stays reproducible.
var clampTime = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// oldTime is older than the clamp: entries with it keep it.
var oldTime = time.Date(2019, 6, 1, 12, 0, 0, 0, time.UTC)

// spec is one entry of a test tree: a directory (path ends in "/"), a
// regular file (data), a symlink (target != "") or a hard link to an earlier
// file (link != "").
type spec struct {
	path   string
	data   string
	mode   fs.FileMode
	target string
	link   string
	mtime  time.Time // zero: oldTime
}

// makeTree creates the entries under root with fixed modes and mtimes.
// Directory mtimes are set last, deepest first, so creating their contents
// does not move them.
func makeTree(t testing.TB, root string, specs []spec) {
	t.Helper()
	var dirs []spec
	for _, s := range specs {
		p := filepath.Join(root, filepath.FromSlash(strings.TrimSuffix(s.path, "/")))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(s.path, "/"):
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			dirs = append(dirs, s)
			continue
		case s.target != "":
			if err := os.Symlink(s.target, p); err != nil {
				t.Fatal(err)
			}
			continue
		case s.link != "":
			if err := os.Link(filepath.Join(root, filepath.FromSlash(s.link)), p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		mode := s.mode
		if mode == 0 {
			mode = 0o644
		}
		if err := os.WriteFile(p, []byte(s.data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // umask-proof
			t.Fatal(err)
		}
		setTime(t, p, s.mtime)
	}
	// Every directory, listed or implied, gets a fixed mtime, deepest first.
	var all []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			all = append(all, p)
		}
		return err
	})
	slices.Reverse(all)
	for _, p := range all {
		mt := time.Time{}
		for _, s := range dirs {
			if filepath.Join(root, filepath.FromSlash(strings.TrimSuffix(s.path, "/"))) == p {
				mt = s.mtime
			}
		}
		setTime(t, p, mt)
	}
}

func setTime(t testing.TB, p string, mt time.Time) {
	t.Helper()
	if mt.IsZero() {
		mt = oldTime
	}
	if err := os.Chtimes(p, mt, mt); err != nil {
		t.Fatal(err)
	}
}

// textData returns n bytes of deterministic, compressible text.
func textData(n int, seed uint64) []byte {
	words := []string{"grid", "site", "cvmfs", "bundle", "python", "lib64", "rpm", "payload",
		"catalog", "tarball", "relocatable", "dirac", "x86_64", "el9", "glibc", "closure"}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var b bytes.Buffer
	b.Grow(n + 16)
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		if r.IntN(12) == 0 {
			b.WriteByte('\n')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

// smallTree is the fixed tree of the golden and metadata tests.
func smallTree() []spec {
	long := strings.Repeat("d", 60) + "/" + strings.Repeat("e", 60) + "/" + strings.Repeat("f", 110) + ".txt"
	return []spec{
		{path: "README", data: "bundle test tree\n"},
		{path: "bin/tool", data: "#!/bin/sh\necho tool\n", mode: 0o755},
		{path: "bin/userexec", data: "x\n", mode: 0o700},
		{path: "bin/private", data: "secret\n", mode: 0o600},
		{path: "lib/libfoo.so.1", data: string(textData(5000, 1))},
		{path: "lib/libfoo.so", target: "libfoo.so.1"},
		{path: "lib/python3.9/site-packages/pkg/__init__.py", data: "VERSION = '1.0'\n"},
		{path: "lib/python3.9/site-packages/pkg-1.0.dist-info/RECORD", data: "pkg/__init__.py,,\n"},
		{path: "lib-extra/a", data: "a\n"}, // "lib-extra" sorts between "lib" and "lib/..." bytewise
		{path: "empty/"},
		{path: "share/données.txt", data: "non-ASCII name\n"},
		{path: "share/" + long, data: "long name\n"},
		{path: "share/longlink", target: strings.Repeat("../", 40) + "target"},
		{path: "share/future", data: "from the future\n", mtime: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		{path: "share/hard1", data: "hard linked\n"},
		{path: "share/hard2", link: "share/hard1"},
	}
}

// writeTree builds specs in a fresh directory and writes a tarball of it.
func writeTree(t testing.TB, specs []spec, opts Options) (*Result, []byte) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	makeTree(t, root, specs)
	opts.Root = root
	return writeOpts(t, opts)
}

func writeOpts(t testing.TB, opts Options) (*Result, []byte) {
	t.Helper()
	if opts.TopDir == "" {
		opts.TopDir = "demo"
	}
	if opts.Out == "" {
		opts.Out = filepath.Join(t.TempDir(), "out", "demo"+suffixOf(opts.Compression))
	}
	if opts.Mtime.IsZero() {
		opts.Mtime = clampTime
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	res, err := Write(context.Background(), opts)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	data, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	return res, data
}

func suffixOf(compression string) string {
	switch compression {
	case "zstd":
		return ".tar.zst"
	case "none":
		return ".tar"
	}
	return ".tar.gz"
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// entry is one tar entry read back, with its content.
type entry struct {
	hdr  *tar.Header
	data []byte
}

// readBack decompresses data with independent decoders (the standard
// library's gzip, klauspost's zstd decoder) and lists the tar.
func readBack(t testing.TB, data []byte, compression string) []entry {
	t.Helper()
	var r io.Reader = bytes.NewReader(data)
	switch compression {
	case "", "gzip":
		gz, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = gz
	case "zstd":
		zr, err := zstd.NewReader(r)
		if err != nil {
			t.Fatalf("zstd: %v", err)
		}
		defer zr.Close()
		r = zr
	}
	tr := tar.NewReader(r)
	var out []entry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("tar: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("tar %s: %v", h.Name, err)
		}
		out = append(out, entry{h, b})
	}
}

func byName(es []entry) map[string]entry {
	m := make(map[string]entry, len(es))
	for _, e := range es {
		m[strings.TrimSuffix(e.hdr.Name, "/")] = e
	}
	return m
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// pathLess orders paths as Write promises: bytewise with "/" lowest, i.e.
// component by component.
func pathLess(a, b string) bool {
	return strings.ReplaceAll(a, "/", "\x00") < strings.ReplaceAll(b, "/", "\x00")
}
