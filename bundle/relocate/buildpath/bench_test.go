package buildpath

import (
	"bytes"
	"math/rand"
	"testing"
)

// BenchmarkScan measures the matcher on 8 MiB of ELF-like bytes (many '/'
// and NULs, no match), the case that dominates relocation and the audit.
func BenchmarkScan(b *testing.B) {
	s, _ := New([]string{"/builddir/build/BUILDROOT", "/builddir/build/BUILD", "/work/.bundle/staging/TOP", "/root/.cache/bundle/sources"})
	rng := rand.New(rand.NewSource(1))
	data := make([]byte, 8<<20)
	for i := range data {
		switch r := rng.Intn(16); {
		case r < 2:
			data[i] = '/'
		case r < 4:
			data[i] = 0
		default:
			data[i] = byte('a' + rng.Intn(26))
		}
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		if res, err := s.Scan(bytes.NewReader(data), false); err != nil || res.Found != "" {
			b.Fatal(res, err)
		}
	}
}
