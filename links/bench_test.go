package links

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// benchTree makes a tree of 100 directories of 200 entries each: 120 files,
// 30 absolute links, 20 relative links, 10 escaping links to files, 10
// dangling links and 10 hard links to files of the previous directory:
// 20,100 entries in all.
func benchTree(b *testing.B, root string) {
	b.Helper()
	check := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	for d := range 100 {
		dir := filepath.Join(root, "usr", "lib", fmt.Sprintf("d%03d", d))
		check(os.MkdirAll(dir, 0o755))
		for i := range 120 {
			check(os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", i)), []byte("content"), 0o644))
		}
		for i := range 30 {
			check(os.Symlink(fmt.Sprintf("/usr/lib/d%03d/f%03d", (d+i)%100, i), filepath.Join(dir, fmt.Sprintf("abs%03d", i))))
		}
		for i := range 20 {
			check(os.Symlink(fmt.Sprintf("../d%03d/f%03d", d, i), filepath.Join(dir, fmt.Sprintf("rel%03d", i))))
		}
		for i := range 10 {
			check(os.Symlink(fmt.Sprintf("../../../../../usr/lib/d%03d/f%03d", d, i), filepath.Join(dir, fmt.Sprintf("esc%03d", i))))
			check(os.Symlink(fmt.Sprintf("missing%03d", i), filepath.Join(dir, fmt.Sprintf("bad%03d", i))))
		}
		if d > 0 {
			for i := range 10 {
				prev := filepath.Join(root, "usr", "lib", fmt.Sprintf("d%03d", d-1), fmt.Sprintf("f%03d", 100+i))
				check(os.Link(prev, filepath.Join(dir, fmt.Sprintf("hard%03d", i))))
			}
		}
	}
}

func BenchmarkFix(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		root := filepath.Join(b.TempDir(), "root")
		benchTree(b, root)
		b.StartTimer()
		rep, err := Fix(context.Background(), root, Options{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Relativised) != 3000 || len(rep.Copied) != 1000 || len(rep.Dropped) != 1000 || len(rep.HardLinksBroken) != 990 {
			b.Fatalf("unexpected report: %d relativised, %d copied, %d dropped, %d hard links",
				len(rep.Relativised), len(rep.Copied), len(rep.Dropped), len(rep.HardLinksBroken))
		}
	}
}
