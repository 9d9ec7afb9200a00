package assembled

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bundle-dev/bundle/bundle/atomicfile"
)

// Store is the cache under Dir (CACHE/assembled):
//
//	entries/KEY/   the tarball, its sidecars and entry.json
//	last/GROUP.json  the inputs of the last assembly of one output
//	tests/KEY.json   a passed `bundle test`, by tarball and test inputs
//
// Entries are put in place by renaming a complete directory and checked
// against their recorded sha256 digests whenever they are restored: a
// corrupt entry is removed and reported, never restored.
type Store struct {
	Dir string
	// Keep is how many entries of one output are kept (default 2: the
	// current one and the one before); MaxAge how long an unused entry
	// or test result stays (default 30 days).
	Keep   int
	MaxAge time.Duration
}

// Entry is one stored assembly.
type Entry struct {
	Key     string    `json:"key"`
	Group   string    `json:"group"`
	Created time.Time `json:"created"`
	Inputs  Inputs    `json:"inputs"`
	// Files are the tarball first, then its sidecars, by file name.
	Files []File `json:"files"`
	dir   string
}

// File is one stored file.
type File struct {
	Name   string      `json:"name"`
	SHA256 string      `json:"sha256"`
	Size   int64       `json:"size"`
	Mode   os.FileMode `json:"mode"`
}

const entryFile = "entry.json"

func (s *Store) entryDir(key string) string { return filepath.Join(s.Dir, "entries", key) }

// Get returns the entry stored under key, if it is there whole (every
// file present with its recorded size; digests are checked by Restore).
func (s *Store) Get(key string) (*Entry, bool) {
	if !isHex(key) {
		return nil, false
	}
	dir := s.entryDir(key)
	var e Entry
	if err := readJSON(filepath.Join(dir, entryFile), &e); err != nil || e.Key != key || len(e.Files) == 0 {
		return nil, false
	}
	for _, f := range e.Files {
		fi, err := os.Stat(filepath.Join(dir, f.Name))
		if err != nil || !fi.Mode().IsRegular() || fi.Size() != f.Size {
			return nil, false
		}
	}
	e.dir = dir
	return &e, true
}

// Put stores copies of files (the tarball first, then its sidecars) under
// key for the output group: reflink clones where the file system can,
// else copies — never hard links, which a tool writing into the output in
// place would turn into a corrupt entry. An entry already stored under
// key is kept.
func (s *Store) Put(ctx context.Context, key, group string, in Inputs, files []string) error {
	if !isHex(key) || len(files) == 0 {
		return fmt.Errorf("assembled cache: bad entry %q", key)
	}
	entries := filepath.Join(s.Dir, "entries")
	if err := os.MkdirAll(entries, 0o755); err != nil {
		return fmt.Errorf("assembled cache: %w", err)
	}
	tmp, err := os.MkdirTemp(entries, ".tmp-"+key[:12]+"-")
	if err != nil {
		return fmt.Errorf("assembled cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	e := Entry{Key: key, Group: group, Created: time.Now().UTC(), Inputs: in.canonical()}
	for _, path := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("assembled cache: %w", err)
		}
		sum, size, err := place(path, filepath.Join(tmp, filepath.Base(path)), fi.Mode().Perm())
		if err != nil {
			return fmt.Errorf("assembled cache: store %s: %w", path, err)
		}
		e.Files = append(e.Files, File{Name: filepath.Base(path), SHA256: sum, Size: size, Mode: fi.Mode().Perm()})
	}
	data, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(tmp, entryFile), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("assembled cache: %w", err)
	}
	if err := os.Rename(tmp, s.entryDir(key)); err != nil {
		if _, ok := s.Get(key); ok { // another run stored the same inputs
			return nil
		}
		return fmt.Errorf("assembled cache: %w", err)
	}
	atomicfile.SyncDir(entries)
	s.prune(group, key)
	return nil
}

// Restore puts the entry's tarball at tarball and its sidecars beside it
// (each sidecar's name is the tarball's plus its suffix), in the order a
// full assembly writes them: stale sidecars removed, the tarball renamed
// into place, then each sidecar written atomically. Every file is checked
// against its recorded sha256 before anything in the output directory
// changes; a mismatch removes the entry and returns an error.
func (s *Store) Restore(ctx context.Context, e *Entry, tarball string) error {
	top := e.Files[0]
	if filepath.Base(tarball) != top.Name {
		return fmt.Errorf("assembled cache: entry %s holds %s, not %s", short(e.Key), top.Name, filepath.Base(tarball))
	}
	corrupt := func(err error) error {
		os.RemoveAll(e.dir)
		return fmt.Errorf("assembled cache: entry %s removed: %w", short(e.Key), err)
	}
	sidecars := make([][]byte, len(e.Files))
	for i, f := range e.Files[1:] {
		data, err := os.ReadFile(filepath.Join(e.dir, f.Name))
		if err != nil {
			return corrupt(err)
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != f.SHA256 {
			return corrupt(fmt.Errorf("%s: sha256 differs from the recorded one", f.Name))
		}
		sidecars[i+1] = data
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Dir(tarball)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	src := filepath.Join(e.dir, top.Name)
	// The output directory may hold this very tarball already (the
	// common no-op rebuild): then it stays, and only the sidecars are
	// written again.
	if fi, err := os.Stat(tarball); err != nil || !fi.Mode().IsRegular() || fi.Size() != top.Size || !hasDigest(tarball, top.SHA256) {
		f, err := os.CreateTemp(dir, "."+top.Name+".tmp-*")
		if err != nil {
			return err
		}
		tmp := f.Name()
		f.Close()
		os.Remove(tmp)
		defer os.Remove(tmp)
		sum, _, err := place(src, tmp, top.Mode)
		if err != nil {
			return fmt.Errorf("assembled cache: restore %s: %w", top.Name, err)
		}
		if sum != top.SHA256 {
			return corrupt(fmt.Errorf("%s: sha256 differs from the recorded one", top.Name))
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// A stale sidecar must never sit beside the new tarball.
		for _, f := range e.Files[1:] {
			if err := os.Remove(sidecarPath(tarball, top.Name, f.Name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		atomicfile.SyncDir(dir)
		if err := os.Rename(tmp, tarball); err != nil {
			return err
		}
		atomicfile.SyncDir(dir)
	}
	for i, f := range e.Files[1:] {
		if err := atomicfile.Write(sidecarPath(tarball, top.Name, f.Name), sidecars[i+1], f.Mode); err != nil {
			return err
		}
	}
	now := time.Now()
	os.Chtimes(filepath.Join(e.dir, entryFile), now, now) // recently used: pruned last
	return nil
}

func sidecarPath(tarball, top, name string) string {
	return tarball + strings.TrimPrefix(name, top)
}

// lastRecord is the last assembly of one output.
type lastRecord struct {
	Key    string    `json:"key"`
	Time   time.Time `json:"time"`
	Inputs Inputs    `json:"inputs"`
}

// Last returns the inputs of the last assembly recorded for group, and
// when it was.
func (s *Store) Last(group string) (Inputs, time.Time, bool) {
	var r lastRecord
	if !isHex(group) || readJSON(filepath.Join(s.Dir, "last", group+".json"), &r) != nil {
		return Inputs{}, time.Time{}, false
	}
	return r.Inputs, r.Time, true
}

// SetLast records in as the inputs of group's last assembly.
func (s *Store) SetLast(group, key string, in Inputs) error {
	if !isHex(group) {
		return fmt.Errorf("assembled cache: bad group %q", group)
	}
	return writeJSON(filepath.Join(s.Dir, "last", group+".json"), lastRecord{Key: key, Time: time.Now().UTC(), Inputs: in.canonical()})
}

// TestRecord is a passed `bundle test` of one tarball.
type TestRecord struct {
	SHA256 string          `json:"sha256"`
	Passed time.Time       `json:"passed"`
	Report json.RawMessage `json:"report"`
}

// Passed returns the recorded passed test under key (a digest of the
// tarball's sha256 and of the test's inputs).
func (s *Store) Passed(key string) (*TestRecord, bool) {
	var r TestRecord
	if !isHex(key) || readJSON(filepath.Join(s.Dir, "tests", key+".json"), &r) != nil || r.SHA256 == "" {
		return nil, false
	}
	return &r, true
}

// RecordPass records a passed test under key.
func (s *Store) RecordPass(key string, r TestRecord) error {
	if !isHex(key) {
		return fmt.Errorf("assembled cache: bad test key %q", key)
	}
	return writeJSON(filepath.Join(s.Dir, "tests", key+".json"), r)
}

// prune removes group's entries beyond the newest Keep (keeping current),
// any entry, test record or leftover unused for MaxAge, and temporary
// directories of interrupted runs older than a day.
func (s *Store) prune(group, current string) {
	keep, maxAge := s.Keep, s.MaxAge
	if keep <= 0 {
		keep = 2
	}
	if maxAge <= 0 {
		maxAge = 30 * 24 * time.Hour
	}
	now := time.Now()
	type aged struct {
		dir  string
		used time.Time
	}
	var mine []aged
	entries := filepath.Join(s.Dir, "entries")
	des, _ := os.ReadDir(entries)
	for _, de := range des {
		dir := filepath.Join(entries, de.Name())
		if strings.HasPrefix(de.Name(), ".tmp-") {
			if fi, err := de.Info(); err == nil && now.Sub(fi.ModTime()) > 24*time.Hour {
				os.RemoveAll(dir)
			}
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, entryFile))
		if err != nil {
			continue
		}
		if now.Sub(fi.ModTime()) > maxAge && de.Name() != current {
			os.RemoveAll(dir)
			continue
		}
		var e struct {
			Group string `json:"group"`
		}
		if readJSON(filepath.Join(dir, entryFile), &e) == nil && e.Group == group && de.Name() != current {
			mine = append(mine, aged{dir, fi.ModTime()})
		}
	}
	slices.SortFunc(mine, func(a, b aged) int { return b.used.Compare(a.used) })
	for i, a := range mine {
		if i+1 >= keep { // current counts as one
			os.RemoveAll(a.dir)
		}
	}
	for _, sub := range []string{"tests", "last"} {
		des, _ := os.ReadDir(filepath.Join(s.Dir, sub))
		for _, de := range des {
			if fi, err := de.Info(); err == nil && now.Sub(fi.ModTime()) > maxAge {
				os.Remove(filepath.Join(s.Dir, sub, de.Name()))
			}
		}
	}
}

// place puts a copy of src at dst (which must not exist) with mode perm:
// a reflink clone where the file system can, else a copy; fsynced. It
// returns the sha256 and size of what dst holds.
func place(src, dst string, perm os.FileMode) (string, int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return "", 0, err
	}
	ok := false
	defer func() {
		if !ok {
			out.Close()
			os.Remove(dst)
		}
	}()
	var sum string
	var size int64
	if unix.IoctlFileClone(int(out.Fd()), int(in.Fd())) == nil {
		if sum, size, err = hashFile(dst); err != nil {
			return "", 0, err
		}
	} else {
		h := sha256.New()
		if size, err = io.Copy(io.MultiWriter(out, h), in); err != nil {
			return "", 0, err
		}
		sum = hex.EncodeToString(h.Sum(nil))
	}
	if err := out.Chmod(perm); err != nil {
		return "", 0, err
	}
	if err := out.Sync(); err != nil {
		return "", 0, err
	}
	if err := out.Close(); err != nil {
		return "", 0, err
	}
	ok = true
	return sum, size, nil
}

// HashFile returns the hex sha256 and the size of a file.
func HashFile(path string) (string, int64, error) { return hashFile(path) }

// hasDigest reports whether the file at path has the sha256 sum.
func hasDigest(path, sum string) bool {
	got, _, err := hashFile(path)
	return err == nil && got == sum
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	return dec.Decode(v)
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'), 0o644)
}

func isHex(s string) bool {
	return len(s) >= 16 && len(s) <= 64 && strings.Trim(s, "0123456789abcdef") == ""
}
