package rpm

import (
	"bytes"
	"context"
	"crypto"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/rpm/rpmtest"
	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/testenv"
)

type readEntry struct {
	e    *Entry
	data []byte
}

func readPayload(pl *Payload) ([]readEntry, error) {
	var out []readEntry
	for {
		e, err := pl.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		b, err := io.ReadAll(pl)
		if err != nil {
			return out, err
		}
		if int64(len(b)) != e.DataSize {
			return out, fmt.Errorf("%s: read %d bytes, DataSize %d", e.Path, len(b), e.DataSize)
		}
		out = append(out, readEntry{e, b})
	}
}

func hashHex(algo string, b []byte) string {
	h := map[string]crypto.Hash{"md5": crypto.MD5, "sha1": crypto.SHA1, "sha256": crypto.SHA256, "sha512": crypto.SHA512}[algo].New()
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// TestPayloadFixtures streams every fixture's payload and checks each data
// carrying file against its header digest.
func TestPayloadFixtures(t *testing.T) {
	for _, f := range fixtureFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, pl, err := Open(f)
			if strings.Contains(f, "corrupted") {
				// Detected at payload time: the headers are intact, the
				// payload is gone.
				if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), f) {
					t.Fatalf("corrupted fixture: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer pl.Close()
			entries, err := readPayload(pl)
			if err != nil {
				t.Fatal(err)
			}
			nonGhost := 0
			for _, fl := range p.Files {
				if !fl.IsGhost() {
					nonGhost++
				}
			}
			if len(entries) != nonGhost {
				t.Errorf("%d entries, %d non-ghost files", len(entries), nonGhost)
			}
			for _, re := range entries {
				e := re.e
				if !strings.HasPrefix(e.Path, "/") {
					t.Errorf("path %q not absolute", e.Path)
				}
				if e.IsRegular() && e.DataSize > 0 && e.Digest != "" && hashHex(p.FileDigestAlgo, re.data) != e.Digest {
					t.Errorf("%s: content does not match digest %s", e.Path, e.Digest)
				}
				if e.IsSymlink() && e.LinkTo == "" {
					t.Errorf("%s: symlink without target", e.Path)
				}
			}
			if _, err := pl.Next(); err != io.EOF {
				t.Errorf("Next after end: %v", err)
			}
		})
	}
}

func TestPayloadHardLinks(t *testing.T) {
	for _, tc := range []struct {
		file     string
		groups   string
		carriers []string // paths whose entry carries the group's data
	}{
		{"hlinktest-1.0-1.noarch.rpm", "[[1 7] [3 4 5 6]]", []string{"/foo/zzzz", "/foo/hello-world"}},
		{"hlinktest-1.0-1.noarch-v3sig.rpm", "[[0 6]]", []string{"/foo/zzzz"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			p, pl, err := Open(filepath.Join(fixtures, "rpm-testsuite", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer pl.Close()
			if g := fmt.Sprint(p.HardLinks()); g != tc.groups {
				t.Errorf("groups %s, want %s", g, tc.groups)
			}
			entries, err := readPayload(pl)
			if err != nil {
				t.Fatal(err)
			}
			var carriers []string
			for _, re := range entries {
				if re.e.Nlink > 1 && re.e.DataSize > 0 {
					carriers = append(carriers, re.e.Path)
				}
				if (re.e.Nlink > 1) != (re.e.Links != nil) || (re.e.Links != nil && len(re.e.Links) != re.e.Nlink) {
					t.Errorf("%s: nlink %d links %v", re.e.Path, re.e.Nlink, re.e.Links)
				}
			}
			if fmt.Sprint(carriers) != fmt.Sprint(tc.carriers) {
				t.Errorf("data carried by %v, want %v", carriers, tc.carriers)
			}
		})
	}
}

func synthFiles() []rpmtest.File {
	return []rpmtest.File{
		{Path: "/opt", Mode: rpmtest.TypeDir | 0o755},
		{Path: "/opt/a", Mode: rpmtest.TypeReg | 0o644, Data: []byte("alpha\n"), Mtime: 1700000000},
		{Path: "/opt/big", Mode: rpmtest.TypeReg | 0o755, Data: bytes.Repeat([]byte("0123456789abcdef"), 8192)},
		{Path: "/opt/h1", Mode: rpmtest.TypeReg | 0o644, Data: []byte("linked"), Inode: 7},
		{Path: "/opt/h2", Mode: rpmtest.TypeReg | 0o644, Data: []byte("linked"), Inode: 7},
		{Path: "/opt/link", Mode: rpmtest.TypeLink | 0o777, LinkTo: "a"},
		{Path: "/opt/ghost", Mode: rpmtest.TypeReg | 0o644, Flags: uint32(FileGhost)},
		{Path: "/opt/empty", Mode: rpmtest.TypeReg | 0o600},
	}
}

func TestPayloadSynthetic(t *testing.T) {
	comps := []string{"gzip", "xz", "lzma", "zstd", "identity", "bzip2"}
	for _, comp := range comps {
		for _, stripped := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s-stripped=%v", comp, stripped), func(t *testing.T) {
				files := synthFiles()
				pkg := rpmtest.Package{Name: "synth", Compressor: comp, Stripped: stripped, Files: files, Integrity: true}
				if comp == "bzip2" {
					testenv.Tools(t, "bzip2")
					raw := rpmtest.PayloadFor(withInodes(files), stripped, nil)
					out, err := runner.Output(context.Background(), runner.Exec{}, runner.Cmd{Name: "bzip2", Args: []string{"-c"}, Stdin: bytes.NewReader(raw)})
					if err != nil {
						t.Fatal(err)
					}
					pkg.Compressed = out
				}
				b, err := rpmtest.Build(pkg)
				if err != nil {
					t.Fatal(err)
				}
				p, pl, err := OpenReader(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				defer pl.Close()
				if p.PayloadCompressor != comp {
					t.Errorf("compressor %q", p.PayloadCompressor)
				}
				entries, err := readPayload(pl)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, re := range entries {
					got = append(got, fmt.Sprintf("%s %o %d %d %q %s", re.e.Path, re.e.Mode, re.e.Nlink, len(re.data), trunc(re.data), re.e.LinkTo))
				}
				want := []string{
					"/opt 40755 1 0 \"\" ",
					"/opt/a 100644 1 6 \"alpha\\n\" ",
					"/opt/big 100755 1 131072 \"0123456789abcdef\" ",
					"/opt/h1 100644 2 0 \"\" ",
					"/opt/h2 100644 2 6 \"linked\" ",
					"/opt/link 120777 1 0 \"\" a",
					"/opt/empty 100600 1 0 \"\" ",
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			})
		}
	}
}

// withInodes gives synthFiles the inodes rpmtest.Build assigns, so that an
// externally compressed payload matches the header Build writes.
func withInodes(files []rpmtest.File) []rpmtest.File {
	out := append([]rpmtest.File(nil), files...)
	next := uint32(1 << 20)
	for i := range out {
		if out[i].Inode == 0 {
			out[i].Inode = next
			next++
		}
	}
	return out
}

func trunc(b []byte) string {
	if len(b) > 16 {
		return string(b[:16])
	}
	return string(b)
}

func TestSourcePayload(t *testing.T) {
	_, pl, err := Open(filepath.Join(fixtures, "rpm-testsuite", "hello-1.0-1.src.rpm"))
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	entries, err := readPayload(pl)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, re := range entries {
		paths = append(paths, re.e.Path)
	}
	if fmt.Sprint(paths) != "[/hello-1.0.tar.gz /hello.spec]" {
		t.Errorf("paths %v", paths)
	}
}

// TestPayloadHostile feeds payloads that disagree with their header or try
// to escape; each must fail with an error naming the problem.
func TestPayloadHostile(t *testing.T) {
	reg := func(p string, data string) rpmtest.File {
		return rpmtest.File{Path: p, Mode: rpmtest.TypeReg | 0o644, Data: []byte(data)}
	}
	newc := func(entries ...rpmtest.Entry) []byte {
		var a rpmtest.Archive
		for _, e := range entries {
			a.Newc(e)
		}
		a.Trailer()
		return a.Bytes()
	}
	tests := []struct {
		name    string
		pkg     rpmtest.Package
		errText string
		errIs   error
	}{
		{"dotdot name", rpmtest.Package{Files: []rpmtest.File{reg("/a", "x")}, ArchiveNames: map[int]string{0: "./../a"}}, "unsafe name", nil},
		{"absolute name", rpmtest.Package{Files: []rpmtest.File{reg("/a", "x")}, ArchiveNames: map[int]string{0: "/a"}}, "absolute", nil},
		{"unmapped name", rpmtest.Package{Files: []rpmtest.File{reg("/a", "x")}, ArchiveNames: map[int]string{0: "./b"}}, "not in the header", nil},
		{"dotdot header path", rpmtest.Package{Files: []rpmtest.File{reg("/x/../../etc/passwd", "x")}}, "unsafe path", nil},
		{"relative header path", rpmtest.Package{Files: []rpmtest.File{reg("etc/passwd", "x")}}, "unsafe path", nil},
		{"duplicate header path", rpmtest.Package{Files: []rpmtest.File{reg("/a", "x"), reg("/a/", "x")}}, "listed twice", nil},
		{"duplicate entry", rpmtest.Package{Files: []rpmtest.File{reg("/a", "x")},
			Payload: newc(rpmtest.Entry{Name: "./a", Mode: 0o100644, Data: []byte("x")}, rpmtest.Entry{Name: "./a", Mode: 0o100644, Data: []byte("x")})}, "appears twice", nil},
		{"type mismatch", rpmtest.Package{Files: []rpmtest.File{reg("/a", "x")},
			Payload: newc(rpmtest.Entry{Name: "./a", Mode: 0o120777, Data: []byte("x")})}, "has type", nil},
		{"size mismatch", rpmtest.Package{Files: []rpmtest.File{reg("/a", "xy")},
			Payload: newc(rpmtest.Entry{Name: "./a", Mode: 0o100644, Data: []byte("xyz")})}, "bytes in the archive", nil},
		{"missing data", rpmtest.Package{Files: []rpmtest.File{reg("/a", "xy")},
			Payload: newc(rpmtest.Entry{Name: "./a", Mode: 0o100644})}, "no data", nil},
		{"missing file", rpmtest.Package{Files: []rpmtest.File{reg("/a", "x"), reg("/b", "y")},
			Payload: newc(rpmtest.Entry{Name: "./a", Mode: 0o100644, Data: []byte("x")})}, "missing from the archive", nil},
		{"symlink target differs", rpmtest.Package{Files: []rpmtest.File{{Path: "/l", Mode: rpmtest.TypeLink | 0o777, LinkTo: "ok"}},
			Payload: newc(rpmtest.Entry{Name: "./l", Mode: 0o120777, Data: []byte("/etc/shadow")})}, "points to", nil},
		{"data on a directory", rpmtest.Package{Files: []rpmtest.File{{Path: "/d", Mode: rpmtest.TypeDir | 0o755}},
			Payload: newc(rpmtest.Entry{Name: "./d", Mode: 0o40755, Data: []byte("zz")})}, "carries", nil},
		{"stripped index out of range", rpmtest.Package{Files: []rpmtest.File{reg("/a", "x")},
			Payload: func() []byte { var a rpmtest.Archive; a.Stripped(5, nil); a.Trailer(); return a.Bytes() }()}, "out of range", nil},
		{"truncated gzip", rpmtest.Package{Files: []rpmtest.File{reg("/a", strings.Repeat("data", 1000))}, Truncate: 30}, "", io.ErrUnexpectedEOF},
		{"truncated zstd", rpmtest.Package{Compressor: "zstd", Files: []rpmtest.File{reg("/a", strings.Repeat("data", 1000))}, Truncate: 20}, "", io.ErrUnexpectedEOF},
		{"unknown compression", rpmtest.Package{Compressor: "lzip", Compressed: []byte("LZIP\x01garbage"), Files: []rpmtest.File{reg("/a", "x")}}, "unrecognised payload compression", nil},
		{"integrity", rpmtest.Package{Integrity: true, Compressor: "identity", Files: []rpmtest.File{reg("/a", "x")},
			Compressed: newc(rpmtest.Entry{Name: "./a", Mode: 0o100644, Data: []byte("x")}, rpmtest.Entry{Name: "TRAILER!!!"})}, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.pkg.Name = "hostile"
			b, err := rpmtest.Build(tc.pkg)
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "integrity" {
				// A valid payload followed by bytes the size and digests do
				// not cover.
				b = append(b, "trailing junk"...)
				tc.errIs = ErrCorrupt
			}
			_, pl, err := OpenReader(bytes.NewReader(b))
			if err == nil {
				defer pl.Close()
				_, err = readPayload(pl)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if tc.errText != "" && !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("error %q does not mention %q", err, tc.errText)
			}
			if tc.errIs != nil && !errors.Is(err, tc.errIs) {
				t.Errorf("error %v is not %v", err, tc.errIs)
			}
		})
	}
}

func TestOpenSetsLocation(t *testing.T) {
	path := filepath.Join(fixtures, "rpm-testsuite", "hello-2.0-1.x86_64.rpm")
	p, pl, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	st, _ := os.Stat(path)
	if p.Path != path || p.Size != st.Size() {
		t.Errorf("%s %d", p.Path, p.Size)
	}
	if err := pl.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

// Checks that happen while the payload streams: a file's digest when its
// last byte is read, and the signed size as soon as the payload runs past
// it — not only once every file was handed out.
func TestStreamingChecks(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<14)
	files := func() []rpmtest.File {
		return []rpmtest.File{
			{Path: "/a", Mode: rpmtest.TypeReg | 0o644, Data: []byte("alpha\n")},
			{Path: "/big", Mode: rpmtest.TypeReg | 0o644, Data: big},
			{Path: "/z", Mode: rpmtest.TypeReg | 0o644, Data: []byte("last\n")},
		}
	}
	// readAll reads entries until an error, returning the paths read in
	// full before it.
	readAll := func(b []byte) ([]string, error) {
		_, pl, err := OpenReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		defer pl.Close()
		read, err := readPayload(pl)
		var done []string
		for _, r := range read {
			done = append(done, r.e.Path)
		}
		return done, err
	}

	fs := files()
	fs[1].Digest = strings.Repeat("ab", 32)
	b, err := rpmtest.Build(rpmtest.Package{Name: "d", Compressor: "identity", Files: fs})
	if err != nil {
		t.Fatal(err)
	}
	done, err := readAll(b)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "/big") || len(done) != 1 {
		t.Errorf("bad file digest: read %v, err %v; want ErrCorrupt on /big right after /a", done, err)
	}

	b, err = rpmtest.Build(rpmtest.Package{Name: "s", Compressor: "identity", Files: files(), Integrity: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(b); err != nil {
		t.Fatalf("intact package: %v", err)
	}
	// SIG_SIZE is the signature header's first value: shrink it so that
	// only part of /big is covered.
	sizeAt := 96 + 16 + 16*int(binary.BigEndian.Uint32(b[96+8:]))
	binary.BigEndian.PutUint32(b[sizeAt:], binary.BigEndian.Uint32(b[sizeAt:])-uint32(len(big)))
	done, err = readAll(b)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "run past") || len(done) > 1 {
		t.Errorf("payload over its signed size: read %v, err %v; want ErrCorrupt before /big is complete", done, err)
	}
}

// BenchmarkPayloadFileDigests reads a 16 MiB payload (16 files, no
// compression) with its per-file SHA-256 checks and without them (no
// digests in the header): the difference is what checking every file's
// digest costs extraction.
func BenchmarkPayloadFileDigests(b *testing.B) {
	for _, checked := range []bool{true, false} {
		var files []rpmtest.File
		for i := range 16 {
			data := bytes.Repeat([]byte(fmt.Sprintf("%015d\n", i)), 1<<16)
			f := rpmtest.File{Path: fmt.Sprintf("/f%02d", i), Mode: rpmtest.TypeReg | 0o644, Data: data}
			if !checked {
				f.Digest = "-" // rpmtest writes it; fixed below
			}
			files = append(files, f)
		}
		pkg, err := rpmtest.Build(rpmtest.Package{Name: "bench", Compressor: "identity", Files: files})
		if err != nil {
			b.Fatal(err)
		}
		name := "checked"
		if !checked {
			name = "unchecked"
			// An empty digest string per file: nothing to check.
			pkg = bytes.ReplaceAll(pkg, []byte("-\x00"), []byte("\x00\x00"))
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(16 << 20)
			for b.Loop() {
				_, pl, err := OpenReader(bytes.NewReader(pkg))
				if err != nil {
					b.Fatal(err)
				}
				for {
					_, err := pl.Next()
					if err == io.EOF {
						break
					}
					if err == nil {
						_, err = io.Copy(io.Discard, pl)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				pl.Close()
			}
		})
	}
}

// The pure-Go xz decoder allocates the dictionary a stream declares: one
// over the decoder window is refused before that.
func TestXZDictionaryBound(t *testing.T) {
	defer func(x bool, w int) { ExternalXZ, decoderWindow = x, w }(ExternalXZ, decoderWindow)
	ExternalXZ = false
	b, err := rpmtest.Build(rpmtest.Package{Name: "x", Compressor: "xz", Files: synthFiles()[:2]}) // 8 MiB dictionary
	if err != nil {
		t.Fatal(err)
	}
	if _, pl, err := OpenReader(bytes.NewReader(b)); err != nil {
		t.Fatalf("within the window: %v", err)
	} else {
		pl.Close()
	}
	decoderWindow = 4 << 20
	if _, _, err := OpenReader(bytes.NewReader(b)); err == nil || !strings.Contains(err.Error(), "dictionary of 8388608 bytes is over the limit of 4194304") {
		t.Fatalf("err = %v, want the dictionary refused", err)
	}
}
