package closure

import (
	"context"
	"fmt"
	"math/rand"
	"testing"

	"github.com/bundle-dev/bundle/bundle/rpm"
)

// syntheticRepo builds n packages whose requirements reach earlier
// packages through sonames, files, versioned names and rich dependencies,
// plus an older version of every tenth package and an i686 build of every
// twentieth, all deterministic.
func syntheticRepo(n int) []*rpm.Package {
	rng := rand.New(rand.NewSource(42))
	var pkgs []*rpm.Package
	for i := 0; i < n; i++ {
		arch := "x86_64"
		if i%3 == 0 {
			arch = "noarch"
		}
		name := fmt.Sprintf("pkg%05d", i)
		lines := []string{
			fmt.Sprintf("P: lib%s.so.1()(64bit)", name),
			fmt.Sprintf("F: /usr/bin/%s", name),
			fmt.Sprintf("F: /usr/lib64/lib%s.so.1", name),
			fmt.Sprintf("F: /usr/share/doc/%s/README", name),
			"R: libc.so.6()(64bit)",
			"R: /bin/sh",
		}
		if i > 0 {
			for k := 0; k < 5; k++ {
				lines = append(lines, fmt.Sprintf("R: libpkg%05d.so.1()(64bit)", rng.Intn(i)))
			}
			lines = append(lines, fmt.Sprintf("R: /usr/bin/pkg%05d", rng.Intn(i)))
			lines = append(lines, fmt.Sprintf("R: pkg%05d >= 1.0", rng.Intn(i)))
		}
		if i > 1 && i%20 == 0 {
			lines = append(lines, fmt.Sprintf("R: (pkg%05d or pkg%05d)", rng.Intn(i), rng.Intn(i)))
		}
		if i > 1 && i%50 == 0 {
			lines = append(lines, fmt.Sprintf("R: (pkg%05d if pkg%05d)", rng.Intn(i), rng.Intn(i)))
		}
		pkgs = append(pkgs, mk(fmt.Sprintf("%s-1.%d-1.%s", name, i%7, arch), lines...))
		if i%10 == 0 {
			pkgs = append(pkgs, mk(fmt.Sprintf("%s-0.9-1.%s", name, arch), lines...))
		}
		if i%20 == 0 {
			pkgs = append(pkgs, mk(fmt.Sprintf("%s-1.%d-1.i686", name, i%7), lines...))
		}
	}
	return pkgs
}

func BenchmarkResolve(b *testing.B) {
	pkgs := syntheticRepo(5000)
	for _, bc := range []struct {
		name string
		want []string
	}{
		{"want100", func() []string {
			var w []string
			for i := 4900; i < 5000; i++ {
				w = append(w, fmt.Sprintf("pkg%05d", i))
			}
			return w
		}()},
		{"all", nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			opts := Options{Platform: testPlatform(), Want: bc.want}
			var res *Result
			for b.Loop() {
				var err error
				if res, err = Resolve(context.Background(), pkgs, opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(res.Packages)), "packages")
		})
	}
}

// TestSyntheticRepoResolves keeps the benchmark's input honest: it
// resolves, and the closure of the last package is not trivial.
func TestSyntheticRepoResolves(t *testing.T) {
	res, err := Resolve(context.Background(), syntheticRepo(500), Options{Platform: testPlatform(), Want: []string{"pkg00499"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Packages) < 50 {
		t.Errorf("closure of pkg00499 has only %d packages", len(res.Packages))
	}
	for _, s := range res.Packages {
		if s.Package.Arch == "i686" || s.Package.EVR.Version == "0.9" {
			t.Errorf("%s selected", s.Package.NEVRA())
		}
	}
}
