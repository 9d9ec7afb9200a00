package tarball

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkWrite archives a tree of 2,000 files (about 24 MiB of text) per
// compression; b.SetBytes makes `go test -bench` report input MB/s.
func BenchmarkWrite(b *testing.B) {
	root := filepath.Join(b.TempDir(), "root")
	var specs []spec
	var total int64
	for i := range 2000 {
		n := 256 + (i*7919)%24000
		specs = append(specs, spec{path: fmt.Sprintf("pkg%02d/sub%d/file%04d", i%40, i%7, i), data: string(textData(n, uint64(i)))})
		total += int64(n)
	}
	makeTree(b, root, specs)
	for _, c := range compressions {
		b.Run(c, func(b *testing.B) {
			out := filepath.Join(b.TempDir(), "bench"+suffixOf(c))
			b.SetBytes(total)
			for b.Loop() {
				if _, err := Write(context.Background(), Options{Root: root, TopDir: "bench", Out: out,
					Compression: c, Mtime: clampTime, Logger: quietLogger()}); err != nil {
					b.Fatal(err)
				}
			}
			os.Remove(out)
		})
	}
}

// BenchmarkWriteTree archives the tree named by $BUNDLE_BENCH_TREE (e.g. an
// extracted corpus), for profiles on real data: go test -bench WriteTree
// -cpuprofile.
func BenchmarkWriteTree(b *testing.B) {
	root := os.Getenv("BUNDLE_BENCH_TREE")
	if root == "" {
		b.Skip("set BUNDLE_BENCH_TREE to a directory")
	}
	for _, c := range compressions {
		b.Run(c, func(b *testing.B) {
			out := filepath.Join(b.TempDir(), "bench"+suffixOf(c))
			for b.Loop() {
				res, err := Write(context.Background(), Options{Root: root, TopDir: "bench", Out: out,
					Compression: c, Mtime: clampTime, Logger: quietLogger()})
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(res.Bytes)
			}
			os.Remove(out)
		})
	}
}
