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
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Cleanup()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit(perm)
}

// File is the temporary file that becomes Path on Commit: write into its
// *os.File, then Commit, and defer Cleanup to remove it on any other path.
type File struct {
	*os.File
	Path string
	done bool
}

// Create makes the temporary file ".BASE.tmp-*" in path's directory, which
// must exist.
func Create(path string) (*File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return &File{File: f, Path: path}, nil
}

// Commit gives the file mode perm, fsyncs and closes it, renames it over
// Path and fsyncs the directory. On an error the temporary file is removed.
func (f *File) Commit(perm os.FileMode) error {
	if f.done {
		return fmt.Errorf("write %s: already committed or cleaned up", f.Path)
	}
	defer f.Cleanup()
	tmp := f.Name()
	for _, step := range []func() error{
		func() error { return f.Chmod(perm) },
		f.Sync,
		f.Close,
		func() error { return os.Rename(tmp, f.Path) },
	} {
		if err := step(); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	f.done = true
	// The rename is durable once the directory is synced; some file
	// systems cannot sync a directory, which loses nothing written.
	SyncDir(filepath.Dir(f.Path))
	return nil
}

// Cleanup closes and removes the temporary file unless Commit renamed it;
// it does nothing after Commit or a first Cleanup.
func (f *File) Cleanup() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	os.Remove(f.Name())
}

// SyncDir fsyncs a directory so that renames and removals inside it are
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
