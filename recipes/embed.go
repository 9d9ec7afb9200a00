package recipes

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/bundle-dev/bundle/bundle/atomicfile"
)

// defaultFS is the reference recipe compiled into the binary with
// everything it names: spec files, patches, the pip requirements and lock.
//
//go:embed default.yaml requirements.txt requirements.lock specs patches
var defaultFS embed.FS

// DefaultFile is the embedded reference recipe's file name.
const DefaultFile = "default.yaml"

// Default writes the embedded reference recipe and the files it names into
// dir (created; files already there with the same content are left alone,
// others replaced) and loads it from there, so that `bundle build` with no
// recipe argument builds it.
func Default(dir string) (*Recipe, error) {
	err := fs.WalkDir(defaultFS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := defaultFS.ReadFile(p)
		if err != nil {
			return err
		}
		if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, data) {
			return nil
		}
		return atomicfile.Write(dst, data, 0o644)
	})
	if err != nil {
		return nil, fmt.Errorf("write the embedded default recipe into %s: %w", dir, err)
	}
	return Load(filepath.Join(dir, DefaultFile))
}

// DefaultFiles lists the embedded files (slash-separated), for tests.
func DefaultFiles() ([]string, error) {
	var out []string
	err := fs.WalkDir(defaultFS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, path.Clean(p))
		}
		return err
	})
	return out, err
}
