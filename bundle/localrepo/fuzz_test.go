package localrepo

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzInspect feeds damaged RPMs to the header reader: it must return an
// error or a repo path of the form <dir>/<file>.rpm, never panic, never
// allocate what the file does not hold. The seeds are whole packages, which
// Go's fuzzer minimizes slowly: for short runs pass -fuzzminimizetime=100x.
func FuzzInspect(f *testing.F) {
	seeds := []string{
		fixture("rpm-testsuite/hello-2.0-1.x86_64.rpm"),
		fixture("rpm-testsuite/foo-1.0-1.src.rpm"),
		fixture("rpm-testsuite/hlinktest-1.0-1.noarch-v3sig.rpm"),
		fixture("rpm-testsuite/hello-1.0-1.x86_64.rpm-v3"),
		fixture("createrepo-testsuite/empty-0-0.x86_64.rpm"),
		filepath.Join("testdata", "truncated-header.rpm"),
		filepath.Join("testdata", "huge-index.rpm"),
		filepath.Join("testdata", "not-an-rpm.rpm"),
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := inspectRPM(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		d, name := path.Split(info.rel)
		if !validName(info.rel) || !strings.HasSuffix(name, ".rpm") || strings.Count(d, "/") != 1 {
			t.Fatalf("accepted with unsafe repo path %q", info.rel)
		}
	})
}
