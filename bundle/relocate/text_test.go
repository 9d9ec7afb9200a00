package relocate

import (
	"bytes"
	"io"
	"log/slog"
	"testing"

	"github.com/bundle-dev/bundle/bundle/relocate/buildpath"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func testRelocator(t testing.TB) *relocator {
	t.Helper()
	set, err := buildpath.New([]string{"/b/BUILDROOT", "/b/BUILD", "/w/staging/TOP"})
	if err != nil {
		t.Fatal(err)
	}
	return &relocator{paths: set, tops: map[string]bool{"usr": true, "etc": true, "opt": true, "bin": true}, log: quiet}
}

func TestRewriteText(t *testing.T) {
	r := testRelocator(t)
	tests := []struct{ in, want string }{
		{"/b/BUILDROOT/pkg-1.0-1.x86_64/usr/lib64/x", "/usr/lib64/x"},
		{"/w/staging/TOP/usr/bin", "/usr/bin"},
		{"x=/w/staging/TOP\n", "x=/\n"},
		{"'/b/BUILD'", "'/'"},
		{"-I/b/BUILD/src/include -L/b/BUILDROOT/p/usr/lib", "-I/src/include -L/usr/lib"},
		{"/b/BUILDROOTX/usr", "/usr"},
		{"a /b/BUILD/x:/b/BUILDROOT/p/etc/y", "a /x:/etc/y"},
		{"/b/BUILD/Python-3.11/Lib/bin/x", "/bin/x"},
		{"/w/b/BUILD/staging/TOP", "/"},
		{"nothing here", "nothing here"},
	}
	for _, tt := range tests {
		if got := string(r.rewriteText([]byte(tt.in))); got != tt.want {
			t.Errorf("rewriteText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestScrubBinary(t *testing.T) {
	r := testRelocator(t)
	in := []byte("\x00/b/BUILDROOT/pkg-1.0/usr/lib64/x\x00/b/BUILD/src/a.c\x00")
	data := bytes.Clone(in)
	if !r.scrubBinary(data, true) {
		t.Fatal("nothing scrubbed")
	}
	if want := "\x00/////////////////////usr/lib64/x\x00/////////src/a.c\x00"; string(data) != want {
		t.Errorf("scrubBinary = %q, want %q", data, want)
	}
	data = bytes.Clone(in)
	r.scrubBinary(data, false)
	if want := "\x00/////////////pkg-1.0/usr/lib64/x\x00/////////src/a.c\x00"; string(data) != want {
		t.Errorf("scrubBinary without extend = %q, want %q", data, want)
	}
}

func TestRelocatePC(t *testing.T) {
	r := testRelocator(t)
	in := "prefix=/b/BUILDROOT/p/usr\nlibdir=/b/BUILDROOT/p/usr/lib64\nincludedir=/usr/include\nother=/usrx\nCflags: -I/usr/include -I${includedir}\n"
	got := string(r.relocatePC(r.rewriteText([]byte(in)), "/usr/lib64/pkgconfig"))
	want := "prefix=${pcfiledir}/../..\nlibdir=${prefix}/lib64\nincludedir=${prefix}/include\nother=/usrx\nCflags: -I${prefix}/include -I${includedir}\n"
	if got != want {
		t.Errorf("relocatePC:\n%s\nwant:\n%s", got, want)
	}
	if again := string(r.relocatePC([]byte(got), "/usr/lib64/pkgconfig")); again != got {
		t.Errorf("relocatePC is not idempotent:\n%s", again)
	}
}

func TestPycName(t *testing.T) {
	tests := []struct {
		in, stem, tag string
		level         int
		ok            bool
	}{
		{"__pycache__/os.cpython-311.pyc", "os", "cpython-311", 0, true},
		{"x/__pycache__/_sysconfigdata.cpython-311.opt-2.pyc", "_sysconfigdata", "cpython-311", 2, true},
		{"mod.pyc", "", "", 0, false},
		{"a.b.opt-3.pyc", "", "", 0, false},
		{"a.py", "", "", 0, false},
	}
	for _, tt := range tests {
		stem, tag, level, ok := pycName(tt.in)
		if stem != tt.stem || tag != tt.tag || level != tt.level || ok != tt.ok {
			t.Errorf("pycName(%q) = %q %q %d %v", tt.in, stem, tag, level, ok)
		}
	}
}

func FuzzRewrite(f *testing.F) {
	for _, s := range []string{"/b/BUILDROOT/p/usr/lib", "prefix=/w/staging/TOP/usr\nlibdir=${prefix}/lib\n", "/w/b/BUILD/staging/TOP", "x\x00/b/BUILD"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := testRelocator(t)
		out := r.rewriteText(data)
		if i, p := r.paths.Index(out); i >= 0 {
			t.Fatalf("rewriteText(%q) = %q still holds %s", data, out, p)
		}
		pc := r.relocatePC(out, "/usr/lib64/pkgconfig")
		if again := r.relocatePC(pc, "/usr/lib64/pkgconfig"); !bytes.Equal(again, pc) {
			t.Fatalf("relocatePC not idempotent on %q:\n%q\n%q", out, pc, again)
		}
		bin := bytes.Clone(data)
		r.scrubBinary(bin, true)
		if len(bin) != len(data) {
			t.Fatal("scrubBinary changed the length")
		}
		if i, p := r.paths.Index(bin); i >= 0 {
			t.Fatalf("scrubBinary(%q) = %q still holds %s", data, bin, p)
		}
		pycName(string(data))
	})
}
