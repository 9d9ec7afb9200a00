package sources

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzSource checks that source descriptions from recipes, however odd,
// never panic and never yield a by-name entry or a mirror URL outside the
// places they belong.
func FuzzSource(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "sources.tsv"))
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		fields := strings.Split(line, "\t")
		for len(fields) < 4 {
			fields = append(fields, "")
		}
		f.Add(fields[0], fields[1], fields[2], fields[3])
	}
	f.Fuzz(func(t *testing.T, rawURL, path, name, sha string) {
		s := Source{URL: rawURL, Path: path, Name: name, SHA256: sha}
		n, err := sourceName(s)
		if err == nil && n != "" {
			if !safeName(n) {
				t.Fatalf("unsafe name %q accepted", n)
			}
			dir := filepath.Join("/cache", "by-name")
			if p := filepath.Join(dir, n); filepath.Dir(p) != dir {
				t.Fatalf("name %q escapes the by-name index: %s", n, p)
			}
		}
		want, err := normalizeSHA(sha)
		if err == nil && want != "" {
			c := &Cache{Dir: "/cache", Mirrors: []string{"https://mirror.example/base/"}}
			if p := c.ObjectPath(want); filepath.Dir(filepath.Dir(p)) != "/cache/sha256" {
				t.Fatalf("object path %s for %q", p, sha)
			}
			cands := c.candidates(rawURL, want)
			if cands[0] != rawURL {
				t.Fatalf("own URL not tried first: %v", cands)
			}
			for _, u := range cands[1:] {
				rest, ok := strings.CutPrefix(u, "https://mirror.example/base/")
				if !ok || strings.Contains(rest, "/") && !strings.HasPrefix(rest, "sha256/") {
					t.Fatalf("mirror candidate %q leaves the mirror base", u)
				}
			}
		}
		_, _, _ = localPath(s)
	})
}
