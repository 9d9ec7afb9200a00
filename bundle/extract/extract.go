// Package extract unpacks the payloads of a set of RPMs into one directory
// tree, safely and deterministically: nothing is ever written outside the
// root or through a symlink, ownership of paths shipped by several packages
// is decided from the headers before anything is written, and every
// normalisation CVMFS needs (no device nodes, no setuid/setgid/sticky bits,
// no file capabilities, hard links as independent copies) is applied and
// reported.
//
// The same call serves the bundle's staging tree and the sandbox builder's
// root: Extract(ctx, Options{Root: dir}, rpmPaths).
package extract

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bundle-dev/bundle/bundle/rpm"
)

// Options configures Extract.
type Options struct {
	// Root is the directory to extract into; created if missing.
	Root string
	// Workers bounds how many packages are read and extracted at once
	// (default GOMAXPROCS).
	Workers int
	// Remove lists absolute paths or path.Match globs whose matches are not
	// extracted ("/usr/share/doc", "/usr/share/locale/*",
	// "/usr/lib64/*.a"). A pattern matching a directory removes everything
	// under it.
	Remove []string
	// MaxFiles bounds the entries written in all (files, symlinks and
	// directories; default DefaultMaxFiles) and MaxBytes their total size
	// (default DefaultMaxBytes). Both are checked from the headers before
	// anything is written, as is the free space of Root's file system; a
	// negative value means no limit.
	MaxFiles int64
	MaxBytes int64
	// Logger receives progress at debug level and a summary at info level
	// (default: discard).
	Logger *slog.Logger
}

// Defaults of Options.MaxFiles and MaxBytes: far above any bundle (the
// reference bundle has about 30,000 files and 1 GB), far below what fills
// a disk or a file system's inodes by accident.
const (
	DefaultMaxFiles = 2_000_000
	DefaultMaxBytes = 64 << 30
)

// Extract writes the payloads of the RPMs at rpms into opts.Root.
//
// Before writing, it reads every header and plans ownership: a path shipped
// by several packages belongs to the first in (NEVRA, file path) order; the
// others' differing versions are reported as conflicts (identical content
// is not a conflict). Then packages are streamed in parallel, each by one
// worker. Regular files, directories and symlinks are written with their
// header permissions (setuid/setgid/sticky removed) and mtimes (not for
// symlinks); hard links become independent copies; device nodes, fifos and
// sockets are dropped; file capabilities are never applied; %ghost files
// are skipped. Directories stay owner-writable until the end, when their
// header modes are applied.
//
// The result, including the Report, is the same whatever the worker count
// and input order. On error nothing half-written is left at a final path
// (files appear by rename), but the tree is incomplete and directory modes
// are not applied; the error names the package.
func Extract(ctx context.Context, opts Options, rpms []string) (*Report, error) {
	if opts.Root == "" {
		return nil, errors.New("extract: no root directory given")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	pats, err := checkPatterns(opts.Remove)
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	if err := os.MkdirAll(opts.Root, 0o755); err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	root, err := os.OpenRoot(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	defer root.Close()
	start := time.Now()

	pkgs := make([]*pkgPlan, len(rpms))
	if err := forEach(ctx, len(rpms), workers, func(ctx context.Context, i int) error {
		p, err := readHeader(rpms[i])
		if err != nil {
			return err
		}
		pkgs[i] = &pkgPlan{file: rpms[i], pkg: p, nevra: p.NEVRA()}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	sort.SliceStable(pkgs, func(i, j int) bool {
		return less2(pkgs[i].nevra, pkgs[i].file, pkgs[j].nevra, pkgs[j].file)
	})
	pl, err := makePlan(pkgs, pats)
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	if err := checkBounds(opts, pl); err != nil {
		return nil, fmt.Errorf("extract into %s: %w", opts.Root, err)
	}

	w := newWriter(root)
	results := make([]pkgResult, len(pkgs))
	if err := forEach(ctx, len(pkgs), workers, func(ctx context.Context, i int) error {
		t0 := time.Now()
		res, err := extractPackage(ctx, w, pkgs[i])
		if err != nil {
			return fmt.Errorf("%s: %w", pkgs[i].file, err)
		}
		results[i] = res
		log.Debug("extracted package", "package", pkgs[i].nevra, "files", len(res.written), "bytes", res.bytes, "duration", time.Since(t0))
		return nil
	}); err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}

	sort.Slice(pl.dirs, func(i, j int) bool {
		di, dj := strings.Count(pl.dirs[i].path, "/"), strings.Count(pl.dirs[j].path, "/")
		if di != dj {
			return di > dj
		}
		return pl.dirs[i].path < pl.dirs[j].path
	})
	if err := w.finishDirs(pl.dirs); err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}

	rep := pl.report
	rep.Dirs = len(pl.dirs)
	for i, pp := range pkgs {
		r := results[i]
		sort.Strings(r.written)
		rep.Packages = append(rep.Packages, PackageReport{NEVRA: pp.nevra, Path: pp.file, Files: r.written})
		rep.Files += r.files
		rep.Bytes += r.bytes
	}
	rep.emptyNotNil()
	log.Info("extracted", "root", opts.Root, "packages", len(pkgs), "files", rep.Files, "bytes", rep.Bytes,
		"conflicts", len(rep.Conflicts), "dropped", len(rep.Dropped), "stripped", len(rep.Stripped),
		"caps", len(rep.Caps), "removed", len(rep.Removed), "duration", time.Since(start))
	return &rep, nil
}

// pkgResult is what one package wrote.
type pkgResult struct {
	written []string // paths
	files   int      // regular files and symlinks
	bytes   int64
}

// extractPackage streams one package's payload and writes what it owns.
// Each file's data is checked against its header digest as it streams
// (rpm.Payload does), so a corrupt file never reaches its final path; when
// anything fails, the files and symlinks the package already wrote are
// removed again, so no part of a package that failed its checks stays in
// the tree.
func extractPackage(ctx context.Context, w *writer, pp *pkgPlan) (res pkgResult, err error) {
	p, pl, err := rpm.Open(pp.file)
	if err != nil {
		return res, err
	}
	defer pl.Close()
	defer func() {
		if err != nil {
			w.removeFiles(res.written)
		}
	}()
	if p.NEVRA() != pp.nevra || len(p.Files) != len(pp.pkg.Files) {
		return res, fmt.Errorf("package changed since its header was read (now %s with %d files)", p.NEVRA(), len(p.Files))
	}
	pw := w.forPackage()
	defer pw.close()
	groupDone := map[int]bool{} // hard-link groups written, by first index
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		e, err := pl.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return res, err
		}
		i := e.Index
		mtime := time.Unix(e.Mtime, 0)
		perm := fs.FileMode(e.Mode & 0o777)
		switch {
		case e.IsDir():
			if pp.owns[i] {
				if _, err := pw.dir(e.Path); err != nil {
					return res, err
				}
				res.written = append(res.written, e.Path)
			}
		case e.IsSymlink():
			if pp.owns[i] {
				if err := pw.symlink(e.Path, e.LinkTo); err != nil {
					return res, err
				}
				res.written = append(res.written, e.Path)
				res.files++
			}
		case e.IsRegular() && (e.Links == nil || e.Size == 0):
			if pp.owns[i] {
				if err := pw.writeFile(ctx, e.Path, pl, e.DataSize, perm, mtime); err != nil {
					return res, err
				}
				res.written = append(res.written, e.Path)
				res.files++
				res.bytes += e.DataSize
			}
		case e.IsRegular():
			// A hard-link group: rpm stores the data once, on one member.
			// When it arrives, write it to every member this package owns.
			if groupDone[e.Links[0]] || e.DataSize == 0 {
				continue
			}
			groupDone[e.Links[0]] = true
			first := ""
			for _, m := range e.Links {
				if !pp.owns[m] {
					continue
				}
				f := pp.pkg.Files[m]
				mp := pp.paths[m]
				mperm, mmtime := fs.FileMode(f.Mode&0o777), time.Unix(f.Mtime, 0)
				if first == "" {
					err = pw.writeFile(ctx, mp, pl, e.DataSize, mperm, mmtime)
					first = mp
				} else {
					err = pw.copyFile(ctx, first, mp, e.DataSize, mperm, mmtime)
				}
				if err != nil {
					return res, err
				}
				res.written = append(res.written, mp)
				res.files++
				res.bytes += e.DataSize
			}
		}
	}
	for _, g := range pp.pkg.HardLinks() {
		if pp.pkg.Files[g[0]].Size > 0 && !groupDone[g[0]] {
			for _, m := range g {
				if pp.owns[m] {
					return res, fmt.Errorf("payload: no data for the hard-link group of %s", pp.paths[m])
				}
			}
		}
	}
	return res, nil
}

// forEach runs fn(0..n-1) on at most workers goroutines. The first failure
// cancels the rest; the error returned is that of the lowest index that
// failed for a reason other than cancellation (a cancellation error only
// when nothing else failed).
func forEach(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	if n == 0 {
		return nil
	}
	workers = min(workers, n)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := ctx.Err(); err != nil {
					errs[i] = err
					continue
				}
				if err := fn(ctx, i); err != nil {
					errs[i] = err
					cancel()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	var canceled error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			if canceled == nil {
				canceled = err
			}
			continue
		}
		return err
	}
	return canceled
}
