package recipes

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The embedded default recipe is the one in this folder, complete: every
// spec and patch it names is embedded, and it loads from where Default
// writes it.
func TestDefaultEmbedded(t *testing.T) {
	files, err := DefaultFiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		onDisk, err := os.ReadFile(filepath.FromSlash(f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		emb, _ := defaultFS.ReadFile(f)
		if string(onDisk) != string(emb) {
			t.Errorf("%s: embedded copy differs from the file", f)
		}
	}
	dir := t.TempDir()
	r, err := Default(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Python == nil || r.Name == "" {
		t.Fatalf("default recipe without python: %+v", r)
	}
	for _, p := range r.All() {
		if !p.Spec.IsZero() {
			rel, _ := filepath.Rel(dir, p.Spec.Resolved)
			if !slices.Contains(files, filepath.ToSlash(rel)) {
				t.Errorf("%s: spec %s is not embedded", p.Name, rel)
			}
		}
		for _, pt := range p.Patches {
			rel, _ := filepath.Rel(dir, pt.Path.Resolved)
			if pt.URL == "" && !slices.Contains(files, filepath.ToSlash(rel)) {
				t.Errorf("%s: patch %s is not embedded", p.Name, rel)
			}
		}
	}
	// Writing again over the same files is a no-op that still loads.
	if _, err := Default(dir); err != nil {
		t.Fatal(err)
	}
}
