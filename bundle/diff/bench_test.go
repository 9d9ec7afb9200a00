package diff

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
)

// Reference size: the default recipe's bundle (Python 3.11 with its
// libraries, gdb, OpenSSL, ...) holds about 10,000 files and 250 MB
// installed. BUNDLE_BENCH_FILES and BUNDLE_BENCH_MB change that.
func benchSize() (files, mb int) {
	files, mb = 10000, 250
	if v, err := strconv.Atoi(os.Getenv("BUNDLE_BENCH_FILES")); err == nil && v > 0 {
		files = v
	}
	if v, err := strconv.Atoi(os.Getenv("BUNDLE_BENCH_MB")); err == nil && v > 0 {
		mb = v
	}
	return files, mb
}

// BenchmarkDiffReferenceSize diffs two gzip tarballs of reference size
// that differ in 1% of their files (both streamed at once, every file
// digested).
func BenchmarkDiffReferenceSize(b *testing.B) {
	nfiles, mb := benchSize()
	per := mb << 20 / nfiles
	old := map[string]file{}
	for i := range nfiles {
		old[fmt.Sprintf("usr/lib/d%03d/f%05d.so", i%300, i)] = file{body: strconv.Itoa(i), bodyLen: per}
	}
	new := with(old, func(f map[string]file) {
		for i := 0; i < nfiles; i += 100 {
			f[fmt.Sprintf("usr/lib/d%03d/f%05d.so", i%300, i)] = file{body: "changed" + strconv.Itoa(i), bodyLen: per}
		}
	})
	dir := b.TempDir()
	m := manifest(pkg("demo", "demo-1.0-1.x86_64", "aa", 1))
	a := bundleOnDisk(b, dir, "old.tar.gz", m, old, "gzip")
	c := bundleOnDisk(b, dir, "new.tar.gz", m, new, "gzip")
	st, _ := os.Stat(a)
	b.SetBytes(2 * int64(mb) << 20)
	b.ResetTimer()
	for b.Loop() {
		x, y, err := LoadPair(context.Background(), a, c)
		if err != nil {
			b.Fatal(err)
		}
		if r := Compare(x, y); len(r.Files.Changed) != nfiles/100 {
			b.Fatalf("changed %d files, want %d", len(r.Files.Changed), nfiles/100)
		}
	}
	b.ReportMetric(float64(st.Size())/(1<<20), "MB-tarball")
}
