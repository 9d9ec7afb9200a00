package rpm

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/bundle-dev/bundle/bundle/rpm/rpmtest"
	"github.com/bundle-dev/bundle/bundle/testenv"
	"github.com/ulikunitz/xz"
)

// testdataPackages are the synthetic packages kept in testdata/ as fuzz
// seeds. Identity compression keeps them byte-for-byte reproducible.
func testdataPackages() map[string]rpmtest.Package {
	epoch := uint32(1)
	var files []rpmtest.File
	for _, f := range synthFiles() {
		if len(f.Data) > 64 {
			f.Data = f.Data[:64]
		}
		files = append(files, f)
	}
	return map[string]rpmtest.Package{
		"synth-newc.rpm": {Name: "synth", Epoch: &epoch, Compressor: "identity", Files: files, Integrity: true,
			Requires: []rpmtest.Dep{{Name: "libc.so.6()(64bit)"}, {Name: "(a or b)"}, {Name: "c", Flags: 12, Version: "2:1.0-3"}},
			Provides: []rpmtest.Dep{{Name: "synth", Flags: 8, Version: "1:1-1"}}},
		"synth-stripped.rpm": {Name: "synth", Compressor: "identity", Stripped: true, Files: files},
	}
}

// TestTestdataReproducible rebuilds the testdata packages and compares them
// byte for byte (go test -run TestTestdataReproducible -update rewrites
// them).
func TestTestdataReproducible(t *testing.T) {
	for name, pkg := range testdataPackages() {
		b, err := rpmtest.Build(pkg)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", name)
		if testenv.Update() {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		old, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(old, b) {
			t.Errorf("%s differs from what rpmtest builds now (%d vs %d bytes)", path, len(old), len(b))
		}
		p, err := ReadPackageFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if name == "synth-newc.rpm" {
			want := []Dep{{Name: "libc.so.6()(64bit)"}, {Name: "(a or b)"},
				{Name: "c", Flags: SenseGreater | SenseEqual, EVR: EVR{"2", "1.0", "3"}}}
			if !reflect.DeepEqual(p.Requires, want) {
				t.Errorf("requires %#v, want %#v", p.Requires, want)
			}
		}
	}
}

func fuzzSeeds(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.rpm")
	for _, fx := range fixtureFiles(f) {
		if st, err := os.Stat(fx); err == nil && st.Size() < 16<<10 {
			seeds = append(seeds, fx)
		}
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzReadHeader(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ReadHeader(bytes.NewReader(b))
		if err != nil {
			return
		}
		if p.Name == "" {
			t.Fatal("package without a name accepted")
		}
		_ = p.NEVRA()
		_ = p.HardLinks()
	})
}

// payloadSeeds are small packages, one per payload compressor and cpio
// format, with symlinks, hard links and directories: every decoder and
// the whole cpio path for a fuzzer to mutate, in under 2 KiB each (the
// fuzzer minimises every new input byte by byte, so big seeds cost it
// minutes).
func payloadSeeds(f *testing.F) {
	var files []rpmtest.File
	for _, fl := range synthFiles() {
		if len(fl.Data) > 16 {
			fl.Data = fl.Data[:16]
		}
		files = append(files, fl)
	}
	var small bytes.Buffer
	w, err := xz.WriterConfig{DictCap: 64 << 10}.NewWriter(&small)
	if err != nil {
		f.Fatal(err)
	}
	w.Write(rpmtest.PayloadFor(files, false, nil))
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	for _, p := range []rpmtest.Package{
		{Compressor: "identity"}, {Compressor: "identity", Stripped: true}, {Compressor: "gzip", Integrity: true},
		{Compressor: "zstd"}, {Compressor: "lzma"}, {Compressor: "xz", Compressed: small.Bytes()},
	} {
		p.Name, p.Files = "seed", files
		b, err := rpmtest.Build(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzPayload runs in memory, without external processes and with small
// decoder windows: a mutated frame header asking for the 512 MiB maximum
// would otherwise cost each exec that allocation.
func FuzzPayload(f *testing.F) {
	payloadSeeds(f)
	defer func(x bool, w, d int) { ExternalXZ, decoderWindow, xzDictCap = x, w, d }(ExternalXZ, decoderWindow, xzDictCap)
	ExternalXZ, decoderWindow, xzDictCap = false, 1<<20, 64<<10
	f.Fuzz(func(t *testing.T, b []byte) {
		_, pl, err := OpenReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		defer pl.Close()
		for i := 0; i < 1000; i++ {
			e, err := pl.Next()
			if err != nil {
				return
			}
			if !filepath.IsAbs(e.Path) || filepath.Clean(e.Path) != e.Path {
				t.Fatalf("entry path %q not absolute and clean", e.Path)
			}
			n, err := io.Copy(io.Discard, io.LimitReader(pl, 1<<20))
			if err != nil {
				return
			}
			if n > e.DataSize {
				t.Fatalf("%s: read %d bytes, DataSize %d", e.Path, n, e.DataSize)
			}
		}
	})
}
