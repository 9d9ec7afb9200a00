// Package tarball writes the bundle's deterministic, CVMFS-ready tarball: one
// top directory, entries in a fixed order with normalised metadata, nested
// catalog markers planned from the tree's shape, compressed with pinned
// parameters, written atomically with its sha256.
//
// The same tree and options give the same bytes on any machine, whatever its
// core count, umask, owner or clock.
package tarball

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bundle-dev/bundle/bundle/atomicfile"
)

// Options configure Write.
type Options struct {
	// Root is the directory whose contents become the tarball's single top
	// directory. It is only read.
	Root string
	// TopDir is the name of that top directory inside the tar.
	TopDir string
	// Out is the final tarball path. Its directory is created if missing;
	// Out must not lie inside Root.
	Out string
	// Compression is "gzip" (default when empty), "zstd" or "none".
	Compression string
	// Mtime clamps every entry's modification time: min(actual, Mtime),
	// whole seconds. Zero means SOURCE_DATE_EPOCH, and an error when that
	// is unset.
	Mtime time.Time
	// CatalogMax is the most entries a CVMFS catalog should hold (default
	// DefaultCatalogMax); CatalogMin the fewest a nested catalog should
	// hold (default DefaultCatalogMin). See PlanCatalogs.
	CatalogMax int
	CatalogMin int
	// Sidecars are other files that describe the tarball (its manifest,
	// its ingest script). Like Out+".sha256" they are removed before the
	// new tarball is renamed into place, so that no sidecar of a previous
	// tarball ever sits beside the new one; the caller writes them again
	// after Write returns.
	Sidecars []string
	// Logger receives warnings (files over 1 GiB, catalogs out of bounds)
	// and progress; nil means slog.Default().
	Logger *slog.Logger
}

// Result describes a written tarball.
type Result struct {
	Path        string `json:"path"`
	SHA256      string `json:"sha256"`      // of the compressed file, lowercase hex
	Size        int64  `json:"size"`        // bytes of the compressed file
	Compression string `json:"compression"` // gzip, zstd or none
	Entries     int    `json:"entries"`     // tar entries: Files + Dirs + Symlinks
	Files       int    `json:"files"`       // regular files, added .cvmfscatalog markers included
	Dirs        int    `json:"dirs"`        // directories, the top directory included
	Symlinks    int    `json:"symlinks"`
	Bytes       int64  `json:"bytes"` // sum of regular file sizes
	// Catalogs are the directories holding a .cvmfscatalog in the tar,
	// relative to the top directory ("." is the top directory itself), in
	// tar order.
	Catalogs []string `json:"catalogs"`
}

// largeFile is the size above which CVMFS warns about a file (1 GiB); a
// variable only so a test can lower it.
var largeFile int64 = 1 << 30

// Write archives opts.Root into opts.Out and writes Out+".sha256" beside it.
//
// The tar holds one top directory, opts.TopDir, with Root's contents below
// it, in depth-first order with each directory's names sorted bytewise:
// every directory precedes its contents, and the whole sequence is sorted
// bytewise by path if "/" is taken as the lowest byte (the order of GNU tar
// --sort=name). Metadata is normalised: uid/gid 0 with empty user and group
// names; directories 0755; regular files 0755 when any execute bit is set,
// else 0644; symlinks 0777; mtime min(actual, Mtime) in whole seconds, and
// never before 1970; no atime, ctime or xattrs. Entries are USTAR; PAX
// records appear only for what USTAR cannot hold (a long or non-ASCII name
// or link target, a size of 8 GiB or more); GNU extensions never. A hard
// linked file is written as an independent regular file each time it is
// met. A special file (device, FIFO, socket) is refused: earlier stages must
// have removed it. Empty .cvmfscatalog files are added to the stream (never
// to Root) where PlanCatalogs says.
//
// The tarball is written to a temporary file beside Out, fsynced and renamed
// into place, so Out never holds a partial file; on any error, cancellation
// included, the temporary file is removed and a previous Out is untouched.
func Write(ctx context.Context, opts Options) (res *Result, err error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	log := o.Logger
	started := time.Now()

	plan, err := planTree(ctx, o.Root, o.CatalogMax, o.CatalogMin)
	if err != nil {
		return nil, err
	}
	res = &Result{Path: o.Out, Compression: o.Compression}
	addMarker := make(map[string]bool)
	for _, c := range plan {
		if c.Added {
			addMarker[c.Path] = true
		}
		switch {
		case c.Entries > o.CatalogMax:
			log.Warn("CVMFS catalog over the maximum: a directory holds too many entries itself to split it",
				"catalog", c.Path, "entries", c.Entries, "max", o.CatalogMax)
		case c.Path != "." && c.Entries < o.CatalogMin:
			log.Info("CVMFS catalog under the minimum, needed to keep its parent under the maximum or already marked",
				"catalog", c.Path, "entries", c.Entries, "min", o.CatalogMin)
		}
	}

	dir := filepath.Dir(o.Out)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tarball: create output directory: %w", err)
	}
	tmp, err := atomicfile.Create(o.Out)
	if err != nil {
		return nil, fmt.Errorf("tarball: create temporary file beside %s: %w", o.Out, err)
	}
	defer tmp.Cleanup()

	buf := bufio.NewWriterSize(tmp, 1<<20)
	sum := &hashCounter{h: sha256.New()}
	comp, err := newCompressor(io.MultiWriter(buf, sum), o.Compression)
	if err != nil {
		return nil, fmt.Errorf("tarball %s: %w", o.Out, err)
	}
	e := newEmitter(ctx, comp, o, addMarker, res, log)
	werr := e.writeTree()
	if werr == nil {
		werr = e.tw.Close()
	}
	// Close the compressor on every path: it stops its goroutines.
	if cerr := comp.Close(); werr == nil && cerr != nil {
		werr = fmt.Errorf("tarball %s: finish %s stream: %w", o.Out, o.Compression, cerr)
	}
	if werr != nil {
		return nil, werr
	}
	if err := buf.Flush(); err != nil {
		return nil, fmt.Errorf("tarball %s: write: %w", o.Out, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("tarball %s: %w", o.Out, err)
	}
	res.SHA256 = hex.EncodeToString(sum.h.Sum(nil))
	res.Size = sum.n
	// A stale checksum or sidecar must never sit beside the new tarball:
	// remove them before the rename, write the new ones after.
	for _, stale := range append([]string{o.Out + ".sha256"}, o.Sidecars...) {
		if err := os.Remove(stale); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("tarball %s: remove stale %s: %w", o.Out, stale, err)
		}
	}
	if len(o.Sidecars) > 0 {
		if err := atomicfile.SyncDir(dir); err != nil {
			return nil, fmt.Errorf("tarball %s: fsync directory: %w", o.Out, err)
		}
	}
	if err := tmp.Commit(0o644); err != nil {
		return nil, fmt.Errorf("tarball: %w", err)
	}
	if err := WriteSHA256File(o.Out, res.SHA256); err != nil {
		return nil, err
	}
	log.Info("tarball written", "path", o.Out, "compression", o.Compression, "size", res.Size,
		"entries", res.Entries, "bytes", res.Bytes, "catalogs", len(res.Catalogs),
		"sha256", res.SHA256, "duration", time.Since(started).Round(time.Millisecond))
	return res, nil
}

// resolve validates opts and fills in defaults.
func (opts Options) resolve() (Options, error) {
	o := opts
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Compression == "" {
		o.Compression = "gzip"
	}
	switch o.Compression {
	case "gzip", "zstd", "none":
	default:
		return o, fmt.Errorf("tarball: unknown compression %q (want gzip, zstd or none)", o.Compression)
	}
	if o.TopDir == "" || o.TopDir == "." || o.TopDir == ".." || strings.ContainsAny(o.TopDir, "/\x00") {
		return o, fmt.Errorf("tarball: top directory name %q must be one non-empty path component", o.TopDir)
	}
	if o.Out == "" {
		return o, errors.New("tarball: no output path")
	}
	if o.CatalogMax == 0 {
		o.CatalogMax = DefaultCatalogMax
	}
	if o.CatalogMin == 0 {
		o.CatalogMin = DefaultCatalogMin
	}
	if o.CatalogMin > o.CatalogMax {
		return o, fmt.Errorf("tarball: catalog minimum %d exceeds the maximum %d", o.CatalogMin, o.CatalogMax)
	}
	if o.Mtime.IsZero() {
		t, ok, err := MtimeFromEnv()
		if err != nil {
			return o, fmt.Errorf("tarball: %w", err)
		}
		if !ok {
			return o, errors.New("tarball: no mtime clamp: set Options.Mtime or SOURCE_DATE_EPOCH")
		}
		o.Mtime = t
	}
	if o.Mtime.Unix() < 0 {
		return o, fmt.Errorf("tarball: mtime clamp %s is before 1970", o.Mtime.UTC().Format(time.RFC3339))
	}
	fi, err := os.Stat(o.Root)
	if err != nil {
		return o, fmt.Errorf("tarball: root: %w", err)
	}
	if !fi.IsDir() {
		return o, fmt.Errorf("tarball: root %s is not a directory", o.Root)
	}
	root, err := realPath(o.Root)
	if err != nil {
		return o, fmt.Errorf("tarball: root %s: %w", o.Root, err)
	}
	outDir, err := realPath(filepath.Dir(o.Out))
	if err != nil {
		return o, fmt.Errorf("tarball: output %s: %w", o.Out, err)
	}
	if outDir == root || strings.HasPrefix(outDir, root+string(filepath.Separator)) || root == "/" {
		return o, fmt.Errorf("tarball: output %s lies inside the archived tree %s; write it elsewhere", o.Out, o.Root)
	}
	return o, nil
}

// realPath resolves p to an absolute path without symlinks; a missing tail
// (an output directory still to be created) is kept as written.
func realPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	var missing []string
	for {
		r, err := filepath.EvalSymlinks(abs)
		if err == nil {
			return filepath.Join(append([]string{r}, missing...)...), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(abs)
		if parent == abs {
			return "", err
		}
		missing = append([]string{filepath.Base(abs)}, missing...)
		abs = parent
	}
}

// hashCounter hashes and counts the bytes written through it.
type hashCounter struct {
	h hash.Hash
	n int64
}

func (c *hashCounter) Write(p []byte) (int, error) {
	c.h.Write(p)
	c.n += int64(len(p))
	return len(p), nil
}
