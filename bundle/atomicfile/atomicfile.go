// Package atomicfile writes a file so that readers see its old content or
// its new content, never a mix or a partial file: a temporary file beside
// it, fsynced, renamed over it, then the directory fsynced.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write writes data to path with mode perm. The temporary file is
// ".BASE.tmp-*" in path's directory and is removed on any error.
func Write(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	for _, step := range []func() error{
		func() error { _, err := f.Write(data); return err },
		func() error { return f.Chmod(perm) },
		f.Sync,
		f.Close,
		func() error { return os.Rename(tmp, path) },
	} {
		if err := step(); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	ok = true
	// The rename is durable once the directory is synced; some file
	// systems cannot sync a directory, which loses nothing written.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
