package rpm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/rpm/rpmtest"
	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/testenv"
)

var fixtures = testenv.FixturesDir

func fixtureFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fixtures, "*", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures under %s: %v", fixtures, err)
	}
	var out []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".md") {
			out = append(out, f)
		}
	}
	return out
}

func TestReadPackageFileFixtures(t *testing.T) {
	tests := []struct {
		file, nevra, comp string
		source            bool
		files             int
		err               error
	}{
		{"createrepo-testsuite/Archer-3.4.5-6.x86_64.rpm", "Archer-2:3.4.5-6.x86_64", "xz", false, 3, nil},
		{"createrepo-testsuite/balicek-iso88591-1.1.1-1.x86_64.rpm", "balicek-iso88591-1.1.1-1.x86_64", "xz", false, 0, nil},
		{"createrepo-testsuite/empty-0-0.src.rpm", "empty-0-0.src", "gzip", true, 1, nil},
		{"createrepo-testsuite/empty-signed-v6-multiple-0-0.x86_64.rpm", "empty-0-0.x86_64", "xz", false, 0, nil},
		{"rpm-testsuite/hello-1.0-1.src.rpm", "hello-1.0-1.src", "gzip", true, 2, nil},
		{"rpm-testsuite/foo-1.0-1.src.rpm", "foo-1.0-1.src", "gzip", true, 1, nil},
		{"rpm-testsuite/hello-1.0-1.x86_64.rpm-v3", "hello-1.0-1.x86_64", "gzip", false, 3, nil},
		{"rpm-testsuite/hello-1.0-1.ppc64.rpm", "hello-1.0-1.ppc64", "gzip", false, 3, nil},
		{"rpm-testsuite/hello-2.0-1.x86_64-signed-mldsa87.rpm", "hello-2.0-1.x86_64", "gzip", false, 5, nil},
		{"rpm-testsuite/hello-2.0-1.x86_64-badima.rpm", "hello-2.0-1.x86_64", "gzip", false, 5, nil},
		{"rpm-testsuite/hlinktest-1.0-1.noarch.rpm", "hlinktest-1.0-1.noarch", "gzip", false, 8, nil},
		{"rpm-testsuite/hlinktest-1.0-1.noarch-v3sig.rpm", "hlinktest-1.0-1.noarch", "zstd", false, 7, nil},
		{"rpm-testsuite/capstest-1.0-1.noarch.rpm", "capstest-1.0-1.noarch", "xz", false, 3, nil},
		{"rpm-testsuite/imatest-1.0-1.fc34.noarch.rpm", "test-1.0-1.fc34.noarch", "zstd", false, 2, nil},
		// Truncated after its headers: the header digest holds, the payload
		// digest does not.
		{"rpm-testsuite/hello-2.0-1.x86_64-corrupted.rpm", "", "", false, 0, ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			path := filepath.Join(fixtures, tc.file)
			p, err := ReadPackageFile(path)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), path) {
					t.Fatalf("error %v, want %v naming %s", err, tc.err, path)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.NEVRA() != tc.nevra || p.IsSource != tc.source || p.PayloadCompressor != tc.comp || len(p.Files) != tc.files {
				t.Errorf("got %s source=%v comp=%s files=%d", p.NEVRA(), p.IsSource, p.PayloadCompressor, len(p.Files))
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			if p.Path != path || p.Size != int64(len(b)) || p.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("location: %s %d %s", p.Path, p.Size, p.SHA256)
			}
			if _, err := json.Marshal(p); err != nil {
				t.Errorf("json: %v", err)
			}
		})
	}
}

func TestEveryFixtureReadsOrFailsCleanly(t *testing.T) {
	for _, f := range fixtureFiles(t) {
		p, err := ReadPackageFile(f)
		if err != nil {
			if !strings.Contains(err.Error(), f) {
				t.Errorf("error does not name the file: %v", err)
			}
			continue
		}
		if p.Name == "" || p.EVR.Version == "" {
			t.Errorf("%s: empty NEVRA %+v", f, p)
		}
	}
}

func TestNotAnRPM(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"empty.rpm": "", "text.rpm": strings.Repeat("hello, world\n", 20),
		"lead-only.rpm": "\xed\xab\xee\xdb" + strings.Repeat("\x00", 92),
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadPackageFile(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v", name, err)
		}
		if _, _, err := Open(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: Open error %v", name, err)
		}
	}
	if _, err := ReadPackageFile(filepath.Join(dir, "missing.rpm")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestIntegrity(t *testing.T) {
	epoch := uint32(3)
	good, err := rpmtest.Build(rpmtest.Package{
		Name: "integ", Epoch: &epoch, Integrity: true,
		Files: []rpmtest.File{{Path: "/a", Mode: rpmtest.TypeReg | 0o644, Data: []byte(strings.Repeat("payload ", 100))}},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	p, err := ReadPackageFile(write("good.rpm", good))
	if err != nil {
		t.Fatal(err)
	}
	if p.NEVRA() != "integ-3:1-1.noarch" {
		t.Errorf("NEVRA %s", p.NEVRA())
	}
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)-10] ^= 0xff
	extra := append(append([]byte(nil), good...), 0)
	for name, b := range map[string][]byte{"flipped.rpm": flipped, "extra.rpm": extra, "short.rpm": good[:len(good)-1]} {
		path := write(name, b)
		if _, err := ReadPackageFile(path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestSplitEVRString(t *testing.T) {
	tests := []struct {
		in   string
		want EVR
	}{
		{"1.0", EVR{"", "1.0", ""}},
		{"1.0-1", EVR{"", "1.0", "1"}},
		{"2:1.0-1.fc40", EVR{"2", "1.0", "1.fc40"}},
		{"0:1", EVR{"0", "1", ""}},
		{":1-2", EVR{"0", "1", "2"}},
		{"1.0-1-2", EVR{"", "1.0-1", "2"}},
		{"12", EVR{"", "12", ""}},
		{"a:1", EVR{"", "a:1", ""}},
		{"3.0.4-1", EVR{"", "3.0.4", "1"}},
		{"", EVR{}},
	}
	for _, tc := range tests {
		if got := ParseEVR(tc.in); got != tc.want {
			t.Errorf("%q: got %+v want %+v", tc.in, got, tc.want)
		}
	}
}

func TestNEVRA(t *testing.T) {
	tests := []struct {
		p          Package
		nevra, nvr string
	}{
		{Package{Name: "a", EVR: EVR{"", "1", "2"}, Arch: "x86_64"}, "a-1-2.x86_64", "a-1-2"},
		{Package{Name: "a", EVR: EVR{"0", "1", "2"}, Arch: "noarch"}, "a-0:1-2.noarch", "a-1-2"},
		{Package{Name: "a", EVR: EVR{"5", "1", "2"}, Arch: "x86_64", IsSource: true}, "a-5:1-2.src", "a-1-2"},
	}
	for _, tc := range tests {
		if tc.p.NEVRA() != tc.nevra || tc.p.NVR() != tc.nvr {
			t.Errorf("%+v: %s %s", tc.p, tc.p.NEVRA(), tc.p.NVR())
		}
	}
}

func TestModeFromUnix(t *testing.T) {
	tests := []struct {
		in   uint32
		want fs.FileMode
	}{
		{0o100644, 0o644},
		{0o104755, fs.ModeSetuid | 0o755},
		{0o102755, fs.ModeSetgid | 0o755},
		{0o041777, fs.ModeDir | fs.ModeSticky | 0o777},
		{0o120777, fs.ModeSymlink | 0o777},
		{0o020666, fs.ModeDevice | fs.ModeCharDevice | 0o666},
		{0o060660, fs.ModeDevice | 0o660},
		{0o010644, fs.ModeNamedPipe | 0o644},
		{0o140755, fs.ModeSocket | 0o755},
		{0o170644, fs.ModeIrregular | 0o644},
	}
	for _, tc := range tests {
		if got := ModeFromUnix(tc.in); got != tc.want {
			t.Errorf("%o: got %v want %v", tc.in, got, tc.want)
		}
	}
}

func TestLegacyWeakDeps(t *testing.T) {
	b, err := rpmtest.Build(rpmtest.Package{Name: "old", Requires: []rpmtest.Dep{
		{Name: "hard", Flags: uint32(SenseGreater | SenseEqual), Version: "1:2-3"},
		{Name: "soft", Flags: uint32(SenseMissingOK)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := ReadHeader(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	want := []Dep{{Name: "hard", Flags: SenseGreater | SenseEqual, EVR: EVR{"1", "2", "3"}}}
	if !reflect.DeepEqual(p.Requires, want) || len(p.Recommends) != 1 || p.Recommends[0].Name != "soft" {
		t.Errorf("requires %+v recommends %+v", p.Requires, p.Recommends)
	}
}

// rpmQuery runs rpm -qp with a query format over a fixture.
func rpmQuery(t *testing.T, file, qf string) string {
	t.Helper()
	out, err := runner.Output(context.Background(), runner.Exec{}, runner.Cmd{
		Name: "rpm", Args: []string{"-qp", "--nosignature", "--nodigest", "--qf", qf, file},
	})
	if err != nil {
		t.Fatalf("rpm -qp %s: %v", file, err)
	}
	return string(out)
}

func joinEVR(e EVR) string {
	s := e.Version
	if e.Epoch != "" {
		s = e.Epoch + ":" + s
	}
	if e.Release != "" {
		s += "-" + e.Release
	}
	return s
}

// TestHeaderAgainstRPM compares every field ReadHeader fills with what
// rpm(8) reports for every fixture, the corrupted one included.
func TestHeaderAgainstRPM(t *testing.T) {
	testenv.Tools(t, "rpm")
	for _, f := range fixtureFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			p, err := ReadHeader(r)
			if err != nil {
				t.Fatal(err)
			}
			none := func(s string) string {
				if s == "(none)" {
					return ""
				}
				return s
			}
			kinds := []string{"REQUIRE", "PROVIDE", "CONFLICT", "OBSOLETE", "RECOMMEND", "SUGGEST", "SUPPLEMENT", "ENHANCE"}
			qf := "%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\t%{LICENSE}\t%{SUMMARY}\t%{URL}\t%{BUILDTIME}\t%{LONGSIZE}\t%{PAYLOADFORMAT}"
			for _, k := range kinds {
				qf += "\n=@=" + k + "\n[%{" + k + "NAME}\t%{" + k + "FLAGS}\t%{" + k + "VERSION}\n]"
			}
			qf += "\n=@=FILES\n[%{FILENAMES}\t%{FILEMODES}\t%{LONGFILESIZES}\t%{FILELINKTOS}\t%{FILEFLAGS}\t%{FILEMTIMES}\t%{FILEDIGESTS}\t%{FILEINODES}\t%{FILEDEVICES}\t%{FILEUSERNAME}\t%{FILEGROUPNAME}\t%{FILECAPS}\n]"
			sections := strings.Split(rpmQuery(t, f, qf), "\n=@=")
			section := map[string]string{}
			for _, sec := range sections[1:] {
				k, v, _ := strings.Cut(sec, "\n")
				section[k] = v
			}
			meta := strings.Split(sections[0], "\t")
			if len(meta) != 12 || len(section) != len(kinds)+1 {
				t.Fatalf("unexpected rpm output: %q", sections)
			}
			got := []string{p.Name, p.EVR.Epoch, p.EVR.Version, p.EVR.Release, p.Arch, p.SourceRPM, p.License, p.Summary, p.URL,
				strconv.FormatInt(p.BuildTime, 10), strconv.FormatInt(p.InstalledSize, 10), p.PayloadFormat}
			for i := range meta {
				if none(meta[i]) != got[i] && !(i == 9 && meta[i] == "(none)" && got[i] == "0") {
					t.Errorf("field %d: rpm says %q, we read %q", i, meta[i], got[i])
				}
			}
			deps := map[string][]Dep{
				"REQUIRE": p.Requires, "PROVIDE": p.Provides, "CONFLICT": p.Conflicts, "OBSOLETE": p.Obsoletes,
				"RECOMMEND": p.Recommends, "SUGGEST": p.Suggests, "SUPPLEMENT": p.Supplements, "ENHANCE": p.Enhances,
			}
			for _, kind := range kinds {
				mine := deps[kind]
				out := section[kind]
				var want []string
				seen := map[string]bool{}
				for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
					// rpm retrofits a self-provide onto v3 headers
					// (legacyRetrofit), duplicating the one they carry.
					if l != "" && !(kind == "PROVIDE" && seen[l]) {
						want = append(want, l)
					}
					seen[l] = true
				}
				var have []string
				for _, d := range mine {
					have = append(have, fmt.Sprintf("%s\t%d\t%s", d.Name, d.Flags, joinEVR(d.EVR)))
				}
				if strings.Join(want, "\n") != strings.Join(have, "\n") {
					t.Errorf("%s:\nrpm:\n%s\nours:\n%s", kind, strings.Join(want, "\n"), strings.Join(have, "\n"))
				}
			}
			out := section["FILES"]
			var want []string
			for _, l := range strings.Split(out, "\n") {
				if l != "" {
					want = append(want, l)
				}
			}
			var have []string
			for _, fl := range p.Files {
				have = append(have, strings.Join([]string{fl.Path, strconv.FormatUint(uint64(fl.Mode), 10),
					strconv.FormatInt(fl.Size, 10), fl.LinkTo, strconv.FormatUint(uint64(fl.Flags), 10),
					strconv.FormatInt(fl.Mtime, 10), fl.Digest, strconv.FormatUint(uint64(fl.Inode), 10),
					strconv.FormatUint(uint64(fl.Device), 10), fl.User, fl.Group, fl.Caps}, "\t"))
			}
			for i := range want {
				// rpm prints "(none)" for an absent FILECAPS array.
				want[i] = strings.TrimSuffix(want[i], "\t(none)") + map[bool]string{true: "\t"}[strings.HasSuffix(want[i], "\t(none)")]
			}
			if strings.Join(want, "\n") != strings.Join(have, "\n") {
				t.Errorf("files:\nrpm:\n%s\nours:\n%s", strings.Join(want, "\n"), strings.Join(have, "\n"))
			}
		})
	}
}

// TestHostileHeaderNoPanic corrupts the index of a valid header the ways
// that make go-rpmutils panic (offsets past the data, negative counts) and
// checks they come back as errors.
func TestHostileHeaderNoPanic(t *testing.T) {
	good, err := os.ReadFile("testdata/synth-stripped.rpm")
	if err != nil {
		t.Fatal(err)
	}
	magic := []byte{0x8e, 0xad, 0xe8, 0x01}
	gen := 96 + 16 + strings.Index(string(good[96+16:]), string(magic))
	if gen < 96+16 {
		t.Fatal("no general header")
	}
	nTags := int(binary.BigEndian.Uint32(good[gen+8:]))
	for _, tc := range []struct {
		name  string
		field int // byte offset inside an index entry: 4 type, 8 offset, 12 count
		value uint32
	}{
		{"offset past the data", 8, 0x7ffffff0},
		{"negative offset", 8, 0xfffffff0},
		{"negative count", 12, 0xffffffff},
		{"huge count", 12, 0x00ffffff},
		{"unknown type", 4, 77},
	} {
		for entry := 0; entry < nTags; entry++ {
			b := append([]byte(nil), good...)
			binary.BigEndian.PutUint32(b[gen+16+16*entry+tc.field:], tc.value)
			func() {
				defer func() {
					if v := recover(); v != nil {
						t.Fatalf("%s, entry %d: panic %v", tc.name, entry, v)
					}
				}()
				ReadHeader(bytes.NewReader(b))
				if _, pl, err := OpenReader(bytes.NewReader(b)); err == nil {
					io.Copy(io.Discard, pl)
					for {
						if _, err := pl.Next(); err != nil {
							break
						}
					}
					pl.Close()
				}
			}()
		}
	}
	// A header claiming more tags or data than rpm allows is refused before
	// anything is allocated.
	b := append([]byte(nil), good...)
	binary.BigEndian.PutUint32(b[gen+12:], 0xfffffff0)
	if _, err := ReadHeader(bytes.NewReader(b)); err == nil || !strings.Contains(err.Error(), "exceed") {
		t.Errorf("huge header size: %v", err)
	}
}

// generalIndex returns the offsets in b of the general header's index
// entries, by tag.
func generalIndex(t *testing.T, b []byte) map[uint32]int {
	t.Helper()
	off := 96
	il, dl := int(binary.BigEndian.Uint32(b[off+8:])), int(binary.BigEndian.Uint32(b[off+12:]))
	off += 16 + 16*il + dl
	off += (8 - dl%8) % 8
	il = int(binary.BigEndian.Uint32(b[off+8:]))
	out := map[uint32]int{}
	for i := range il {
		e := off + 16 + 16*i
		out[binary.BigEndian.Uint32(b[e:])] = e
	}
	return out
}

// Index entries whose data overlap are refused as rpm refuses them, before
// anything is decoded: four file tags pointing at one offset with huge
// counts would otherwise declare millions of files.
func TestHeaderIndexChecks(t *testing.T) {
	good, err := rpmtest.Build(rpmtest.Package{Name: "synth", Compressor: "identity", Files: synthFiles()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadHeader(bytes.NewReader(good)); err != nil {
		t.Fatalf("the unmodified package: %v", err)
	}
	set := func(b []byte, e, field int, v uint32) { binary.BigEndian.PutUint32(b[e+4*field:], v) }
	const typ, offset, count = 1, 2, 3
	cases := []struct {
		name  string
		patch func(b []byte, idx map[uint32]int)
		want  string
	}{
		{"file tags at offset 0", func(b []byte, idx map[uint32]int) {
			for _, tag := range []uint32{1116, 1117, 1118, 1030} { // dirindexes, basenames, dirnames, filemodes
				set(b, idx[tag], offset, 0)
				set(b, idx[tag], count, 0xffffff)
			}
		}, "overlaps the previous entry"},
		{"one entry moved back", func(b []byte, idx map[uint32]int) {
			set(b, idx[1117], offset, 0)
		}, "overlaps the previous entry"},
		{"count over rpm's limit", func(b []byte, idx map[uint32]int) {
			set(b, idx[1117], count, 0x1000000)
		}, "count over rpm's limit"},
		{"unknown type", func(b []byte, idx map[uint32]int) {
			set(b, idx[1117], typ, 12)
		}, "unknown type"},
		{"strings past the end", func(b []byte, idx map[uint32]int) {
			set(b, idx[1118], count, 0xfffff) // dirnames is the last string array
		}, "past the end"},
		{"misaligned", func(b []byte, idx map[uint32]int) {
			e := idx[1116] // INT32
			binary.BigEndian.PutUint32(b[e+8:], binary.BigEndian.Uint32(b[e+8:])+1)
		}, "not aligned"},
		{"a STRING with two values", func(b []byte, idx map[uint32]int) {
			set(b, idx[1000], count, 2)
		}, "exactly one value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(good)
			c.patch(b, generalIndex(t, b))
			_, err := ReadHeader(bytes.NewReader(b))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one saying %q", err, c.want)
			}
		})
	}
}
