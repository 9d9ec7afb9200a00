package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/bundle-dev/bundle/bundle/atomicfile"
	"github.com/bundle-dev/bundle/bundle/cachedir"
	"github.com/bundle-dev/bundle/bundle/ctxio"
)

// Store is a build cache directory (DefaultDir, or WORKDIR/cache):
//
//	entries/ab/abcd…/rpms/*.rpm   the outputs of the build keyed abcd…
//	entries/ab/abcd…/inputs.json  its KeyInputs
//	entries/ab/abcd…/entry.json   key, files with size and sha256, meta
//	last/NAME                     key of the last build stored or used for NAME
//	tmp/                          entries being written
//
// An entry is assembled in tmp/ and renamed into entries/ complete, so a
// partial entry is never visible; its files are verified against
// entry.json on every Get. Several processes may share a Store.
type Store struct {
	Dir string
	// Logger receives warnings about damaged entries (nil:
	// slog.Default()).
	Logger *slog.Logger
}

func (s *Store) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// DefaultDir is the builds/ folder of bundle's cache root (cachedir.Root).
func DefaultDir() (string, error) {
	d, err := cachedir.Root()
	if err != nil {
		return "", fmt.Errorf("build cache: %w", err)
	}
	return filepath.Join(d, "builds"), nil
}

// Meta is stored with an entry.
type Meta struct {
	// Inputs are the key's inputs; Key(Inputs) must equal the entry key.
	Inputs KeyInputs `json:"-"`
	// Duration is how long the build took (the next plan's Weight).
	Duration time.Duration `json:"duration,omitempty"`
	// Created is when the entry was stored (set by Put when zero).
	Created time.Time `json:"created"`
}

type fileEntry struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

type entryFile struct {
	Key   string      `json:"key"`
	Files []fileEntry `json:"files"`
	Meta
}

// tmpMaxAge is how old a leftover tmp/ directory must be before Put
// removes it (its writer is certainly gone).
const tmpMaxAge = 24 * time.Hour

func validKey(key string) bool {
	if len(key) != 64 {
		return false
	}
	_, err := hex.DecodeString(key)
	return err == nil && strings.ToLower(key) == key
}

func (s *Store) entryDir(key string) string {
	return filepath.Join(s.Dir, "entries", key[:2], key)
}

// lastPath is the pointer file for a node name (names that are not
// plain file names are hashed).
func (s *Store) lastPath(name string) string {
	safe := name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00") && len(name) < 200
	if !safe {
		sum := sha256.Sum256([]byte(name))
		name = "sha256-" + hex.EncodeToString(sum[:])
	}
	return filepath.Join(s.Dir, "last", name)
}

// Get returns the RPMs stored under key, sorted by file name, after
// checking each against its recorded size and sha256. A missing entry
// gives false; a damaged one is removed, logged, and gives false, so the
// package is rebuilt. The returned files belong to the cache: copy them,
// never modify them. A hit also records key as the last build used for
// its package (see Last).
func (s *Store) Get(key string) ([]string, bool) {
	if !validKey(key) {
		return nil, false
	}
	dir := s.entryDir(key)
	ent, err := readEntry(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false
	}
	if err == nil {
		err = verify(dir, ent)
	}
	if err != nil {
		s.log().Warn("build cache entry damaged; removing it, the package will be rebuilt", "entry", dir, "err", err)
		s.remove(dir)
		return nil, false
	}
	paths := make([]string, len(ent.Files))
	for i, f := range ent.Files {
		paths[i] = filepath.Join(dir, "rpms", f.Name)
	}
	if err := s.setLast(ent.Meta.Inputs.Name, key); err != nil {
		s.log().Debug("build cache: last-build pointer not updated", "err", err)
	}
	return paths, true
}

func readEntry(dir string) (*entryFile, error) {
	data, err := os.ReadFile(filepath.Join(dir, "entry.json"))
	if err != nil {
		return nil, err
	}
	in, err := os.ReadFile(filepath.Join(dir, "inputs.json"))
	if err != nil {
		return nil, fmt.Errorf("inputs.json: %v", err) // damaged, not absent
	}
	return parseEntry(filepath.Base(dir), data, in)
}

// parseEntry decodes an entry's manifest and inputs and checks that both
// belong to key: the manifest names it and the inputs hash to it.
func parseEntry(key string, entry, inputs []byte) (*entryFile, error) {
	var ent entryFile
	if err := json.Unmarshal(entry, &ent); err != nil {
		return nil, fmt.Errorf("entry.json: %w", err)
	}
	if err := json.Unmarshal(inputs, &ent.Meta.Inputs); err != nil {
		return nil, fmt.Errorf("inputs.json: %w", err)
	}
	if got := Key(ent.Meta.Inputs); got != ent.Key || key != ent.Key {
		return nil, fmt.Errorf("entry %s records key %s and inputs hashing to %s", key, ent.Key, got)
	}
	for _, f := range ent.Files {
		if f.Name != filepath.Base(f.Name) || f.Name == "." || f.Name == ".." || !strings.HasSuffix(f.Name, ".rpm") {
			return nil, fmt.Errorf("entry %s lists a bad file name %q", key, f.Name)
		}
	}
	return &ent, nil
}

// verify checks every file of an entry; nothing else may be in rpms/.
func verify(dir string, ent *entryFile) error {
	if len(ent.Files) == 0 {
		return errors.New("entry lists no files")
	}
	ents, err := os.ReadDir(filepath.Join(dir, "rpms"))
	if err != nil {
		return err
	}
	if len(ents) != len(ent.Files) {
		return fmt.Errorf("rpms/ holds %d files, entry.json lists %d", len(ents), len(ent.Files))
	}
	for _, f := range ent.Files {
		size, sum, err := digestFile(filepath.Join(dir, "rpms", f.Name))
		if err != nil {
			return err
		}
		if size != f.Size || sum != f.SHA256 {
			return fmt.Errorf("%s: size %d sha256 %s, recorded %d %s", f.Name, size, sum, f.Size, f.SHA256)
		}
	}
	return nil
}

func digestFile(path string) (int64, string, error) {
	if fi, err := os.Lstat(path); err != nil {
		return 0, "", err
	} else if !fi.Mode().IsRegular() {
		return 0, "", fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, "", err
	}
	if !fi.Mode().IsRegular() {
		return 0, "", fmt.Errorf("%s is not a regular file", path)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// remove takes an entry out of entries/ atomically, then deletes it.
func (s *Store) remove(dir string) {
	tmp := filepath.Join(s.Dir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err == nil {
		dead, err := os.MkdirTemp(tmp, "removed-")
		if err == nil {
			if err := os.Rename(dir, filepath.Join(dead, "e")); err == nil {
				os.RemoveAll(dead)
				return
			}
			os.RemoveAll(dead)
		}
	}
	os.RemoveAll(dir)
}

// Put stores rpms (the outputs of the build keyed key, after it
// succeeded) with meta. It refuses a key that is not Key(meta.Inputs), so
// an entry is always found under its inputs. The files are copied into a
// private directory, hashed, synced and renamed into place with their
// manifest: a crash or cancellation leaves no visible entry. If another
// writer stored the key first, its entry is kept and Put succeeds.
func (s *Store) Put(ctx context.Context, key string, rpms []string, meta Meta) error {
	if !validKey(key) {
		return fmt.Errorf("build cache: %q is not a key (64 lowercase hex digits)", key)
	}
	if got := Key(meta.Inputs); got != key {
		return fmt.Errorf("build cache: store %s: key %s is not the key of the given inputs (%s); compute it with cache.Key", meta.Inputs.Name, key, got)
	}
	if meta.Inputs.Name == "" {
		return errors.New("build cache: inputs have no package name")
	}
	if len(rpms) == 0 {
		return fmt.Errorf("build cache: store %s: no RPMs given", meta.Inputs.Name)
	}
	seen := map[string]bool{}
	for _, p := range rpms {
		b := filepath.Base(p)
		if !strings.HasSuffix(b, ".rpm") {
			return fmt.Errorf("build cache: store %s: %s is not an .rpm file", meta.Inputs.Name, p)
		}
		if seen[b] {
			return fmt.Errorf("build cache: store %s: two outputs are named %s", meta.Inputs.Name, b)
		}
		seen[b] = true
	}
	final := s.entryDir(key)
	if _, err := os.Lstat(final); err == nil {
		ent, err := readEntry(final)
		if err == nil {
			err = verify(final, ent)
		}
		if err == nil {
			return s.setLast(meta.Inputs.Name, key) // already stored
		}
		s.log().Warn("build cache entry damaged; replacing it", "entry", final, "err", err)
		s.remove(final)
	}
	tmpRoot := filepath.Join(s.Dir, "tmp")
	if err := os.MkdirAll(tmpRoot, 0o755); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	s.cleanTmp(tmpRoot)
	tmp, err := os.MkdirTemp(tmpRoot, key[:16]+"-")
	if err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	defer os.RemoveAll(tmp) // after a successful rename there is nothing left
	if err := s.assemble(ctx, tmp, key, rpms, meta); err != nil {
		return fmt.Errorf("build cache: store %s: %w", meta.Inputs.Name, err)
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("build cache: store %s: %w", meta.Inputs.Name, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		if errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
			return s.setLast(meta.Inputs.Name, key) // stored concurrently
		}
		return fmt.Errorf("build cache: store %s: %w", meta.Inputs.Name, err)
	}
	atomicfile.SyncDir(filepath.Dir(final))
	return s.setLast(meta.Inputs.Name, key)
}

// assemble writes a complete entry into dir.
func (s *Store) assemble(ctx context.Context, dir, key string, rpms []string, meta Meta) error {
	rdir := filepath.Join(dir, "rpms")
	if err := os.Mkdir(rdir, 0o755); err != nil {
		return err
	}
	ent := entryFile{Key: key, Meta: meta}
	if ent.Created.IsZero() {
		ent.Created = time.Now().UTC().Truncate(time.Second)
	}
	for _, p := range rpms {
		fe, err := copyFile(ctx, p, filepath.Join(rdir, filepath.Base(p)))
		if err != nil {
			return err
		}
		ent.Files = append(ent.Files, fe)
	}
	slices.SortFunc(ent.Files, func(a, b fileEntry) int { return strings.Compare(a.Name, b.Name) })
	atomicfile.SyncDir(rdir)
	in, err := json.MarshalIndent(meta.Inputs, "", "  ")
	if err != nil {
		return err
	}
	if err := writeSynced(filepath.Join(dir, "inputs.json"), append(in, '\n')); err != nil {
		return err
	}
	data, err := json.MarshalIndent(ent, "", "  ")
	if err != nil {
		return err
	}
	if err := writeSynced(filepath.Join(dir, "entry.json"), append(data, '\n')); err != nil {
		return err
	}
	atomicfile.SyncDir(dir)
	return nil
}

func copyFile(ctx context.Context, src, dst string) (fileEntry, error) {
	in, err := os.Open(src)
	if err != nil {
		return fileEntry{}, err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return fileEntry{}, err
	}
	if !fi.Mode().IsRegular() {
		return fileEntry{}, fmt.Errorf("%s is not a regular file", src)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fileEntry{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), ctxio.Reader(ctx, in))
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fileEntry{}, fmt.Errorf("copy %s: %w", src, err)
	}
	return fileEntry{Name: filepath.Base(dst), Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// cleanTmp removes tmp/ directories left by writers that died long ago.
func (s *Store) cleanTmp(tmpRoot string) {
	ents, err := os.ReadDir(tmpRoot)
	if err != nil {
		return
	}
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > tmpMaxAge {
			os.RemoveAll(filepath.Join(tmpRoot, e.Name()))
		}
	}
}

// setLast records key as the last build of name (atomic replace).
func (s *Store) setLast(name, key string) error {
	p := s.lastPath(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	if err := atomicfile.Write(p, []byte(key+"\n"), 0o644); err != nil {
		return fmt.Errorf("build cache: record last build of %s: %w", name, err)
	}
	return nil
}

// Last returns the inputs of the last build stored or used for the
// package name, for `bundle plan --explain` (see Diff).
func (s *Store) Last(name string) (KeyInputs, bool) {
	m, ok := s.LastMeta(name)
	return m.Inputs, ok
}

// LastMeta is Last with the entry's Meta (its build Duration is the next
// plan's Weight for name).
func (s *Store) LastMeta(name string) (Meta, bool) {
	data, err := os.ReadFile(s.lastPath(name))
	if err != nil {
		return Meta{}, false
	}
	key := strings.TrimSpace(string(data))
	if !validKey(key) {
		return Meta{}, false
	}
	ent, err := readEntry(s.entryDir(key))
	if err != nil || ent.Meta.Inputs.Name != name {
		return Meta{}, false
	}
	return ent.Meta, true
}
