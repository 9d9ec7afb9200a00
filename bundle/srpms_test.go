package bundle

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/bundle-dev/bundle/bundle/rpm"
	"github.com/bundle-dev/bundle/bundle/testenv"
)

// hello-1.0-1.src.rpm of rpm's test suite: its spec and one source,
// digests as `rpm -qp --qf '[%{FILENAMES} %{FILEDIGESTS}\n]'` prints them.
func TestSourceFilesOfFixture(t *testing.T) {
	path := filepath.Join("..", "..", "shared", "fixtures", "rpm-testsuite", "hello-1.0-1.src.rpm")
	testenv.Exists(t, path)
	p, err := rpm.ReadPackageFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := sourceFiles(p)
	want := []SourceFile{
		{Name: "hello-1.0.tar.gz", Kind: "source", SHA256: "0cc9305192e9339c560cb9d14ad4d961d1c4783b03048bfb02e77ba0367670da"},
		{Name: "hello.spec", Kind: "spec", SHA256: "71a3ef9f04620a1d14dd0223187fa23f2214ba9f10e6e86988162153e68e71f0"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sourceFiles = %+v, want %+v", got, want)
	}
}

func TestSourceFilesURLsAndPatches(t *testing.T) {
	p := &rpm.Package{
		IsSource: true, FileDigestAlgo: "sha256",
		SourceTags: []string{"https://example.org/x/demo-1.0.tar.gz", "extra.txt"},
		PatchTags:  []string{"fix.patch"},
		Files: []rpm.File{
			{Path: "demo.spec", Digest: "s", Flags: rpm.FileSpec},
			{Path: "demo-1.0.tar.gz", Digest: "t"},
			{Path: "extra.txt", Digest: "e"},
			{Path: "fix.patch", Digest: "p"},
		},
	}
	want := []SourceFile{
		{Name: "demo-1.0.tar.gz", Kind: "source", SHA256: "t", URL: "https://example.org/x/demo-1.0.tar.gz"},
		{Name: "demo.spec", Kind: "spec", SHA256: "s"},
		{Name: "extra.txt", Kind: "source", SHA256: "e"},
		{Name: "fix.patch", Kind: "patch", SHA256: "p"},
	}
	if got := sourceFiles(p); !reflect.DeepEqual(got, want) {
		t.Errorf("sourceFiles = %+v\nwant %+v", got, want)
	}
	p.FileDigestAlgo = "md5"
	if got := sourceFiles(p); got[0].SHA256 != "" {
		t.Errorf("an md5 digest must not be reported as sha256: %+v", got[0])
	}
}

func TestSourceFromFileName(t *testing.T) {
	for _, tc := range []struct{ file, name, version, release string }{
		{"demo-1.0-1.src.rpm", "demo", "1.0", "1"},
		{"python3.11-3.11.2-6.deb12.src.rpm", "python3.11", "3.11.2", "6.deb12"},
		{"odd.src.rpm", "odd", "", ""},
	} {
		sp := sourceFromFileName(tc.file)
		if sp.Name != tc.name || sp.Version != tc.version || sp.Release != tc.release || sp.RPM != tc.file {
			t.Errorf("%s: %+v", tc.file, sp)
		}
	}
}

func TestBuildRequiresPicksNewestProvider(t *testing.T) {
	dep := func(name string, f rpm.DepFlags, v string) rpm.Dep {
		return rpm.Dep{Name: name, Flags: f, EVR: rpm.ParseEVR(v)}
	}
	zlib1 := &rpm.Package{Name: "zlib-devel", EVR: rpm.ParseEVR("1.2-1"), Arch: "x86_64"}
	zlib2 := &rpm.Package{Name: "zlib-devel", EVR: rpm.ParseEVR("1.3-1"), Arch: "x86_64"}
	xz := &rpm.Package{Name: "xz-devel", EVR: rpm.ParseEVR("5.4-1"), Arch: "x86_64",
		Provides: []rpm.Dep{dep("pkgconfig(liblzma)", rpm.SenseEqual, "5.4")}}
	srpm := &rpm.Package{Name: "libxml2", IsSource: true, Requires: []rpm.Dep{
		dep("zlib-devel", rpm.SenseGreater|rpm.SenseEqual, "1.2"),
		dep("pkgconfig(liblzma)", 0, ""),
		dep("rpmlib(CompressedFileNames)", rpm.SenseLess|rpm.SenseEqual, "3.0.4-1"),
		dep("gcc", 0, ""), // from the rootfs
	}}
	got := buildRequires(srpm, []*rpm.Package{zlib1, zlib2, xz})
	if len(got) != 2 || got[0] != zlib2 || got[1] != xz {
		t.Errorf("buildRequires = %v", got)
	}
}
