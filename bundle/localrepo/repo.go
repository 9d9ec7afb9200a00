// Package localrepo keeps the RPMs bundle builds in a local yum/dnf
// repository: binary packages under DIR/<arch>/, their source packages
// beside them under DIR/src/, and metadata from createrepo_c in
// DIR/repodata, made as deterministic as createrepo_c allows.
//
// Files enter the repository atomically (temp file + rename) under the name
// rpmbuild gives them (<name>-<version>-<release>.<arch>.rpm, read from the
// header, whatever the file was called), so one name always means one
// package. Every operation that changes the repository holds an in-process
// lock and a flock(2) on DIR/.lock, so goroutines and processes sharing a
// repository never run createrepo_c on it at the same time nor see a
// half-added package.
package localrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bundle-dev/bundle/bundle/atomicfile"
	"github.com/bundle-dev/bundle/bundle/ctxio"
	"github.com/bundle-dev/bundle/bundle/flock"
	"github.com/bundle-dev/bundle/bundle/runner"
)

// Repo is a local RPM repository rooted at Dir. Use Open to make one; a
// Repo must not be copied after first use.
type Repo struct {
	// Dir is the repository root (absolute after Open).
	Dir string
	// Runner runs createrepo_c; nil means runner.Default.
	Runner runner.Runner
	// LogDir, when set, receives createrepo_c.log with createrepo_c's output.
	LogDir string
	// Workers is createrepo_c's --workers; 0 means the number of CPUs.
	Workers int
	// Logger receives progress; nil means slog.Default().
	Logger *slog.Logger

	once sync.Once
	sem  chan struct{} // the in-process lock (a channel so waiting honours ctx)
}

// Open returns the repository in dir, creating the directory if needed.
func Open(dir string, r runner.Runner) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open repo %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("open repo %s: %w", dir, err)
	}
	return &Repo{Dir: abs, Runner: r}, nil
}

func (r *Repo) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// lock takes the in-process lock and then the file lock DIR/.lock.
func (r *Repo) lock(ctx context.Context) (func(), error) {
	if r.Dir == "" {
		return nil, errors.New("local repo: no directory set")
	}
	r.once.Do(func() { r.sem = make(chan struct{}, 1) })
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for repo %s: %w", r.Dir, ctx.Err())
	}
	unlockFile, err := flock.Lock(ctx, filepath.Join(r.Dir, ".lock"))
	if err != nil {
		<-r.sem
		return nil, err
	}
	return func() {
		unlockFile()
		<-r.sem
	}, nil
}

// Add copies RPM files into the repository: binary packages to
// DIR/<arch>/, source packages to DIR/src/, named after their header. It
// returns where each file went, as slash-separated paths relative to Dir
// (the form List returns and Remove takes). Every file is checked first (a
// readable header, a payload matching its digest): if one fails nothing is
// added. A package already present with identical bytes is fine; a
// different file under the same name is an error. Add does not update the
// metadata: call Refresh.
func (r *Repo) Add(ctx context.Context, files []string) ([]string, error) {
	infos := make([]pkgInfo, len(files))
	var errs []error
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		info, err := inspect(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		infos[i] = info
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("add to repo %s: %w", r.Dir, errors.Join(errs...))
	}
	unlock, err := r.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	out := make([]string, 0, len(files))
	for i, f := range files {
		if err := r.place(ctx, f, infos[i]); err != nil {
			return out, fmt.Errorf("add %s to repo %s: %w", f, r.Dir, err)
		}
		out = append(out, infos[i].rel)
	}
	return out, nil
}

// place copies one checked file to its place in the repository.
func (r *Repo) place(ctx context.Context, file string, info pkgInfo) error {
	dest := filepath.Join(r.Dir, filepath.FromSlash(info.rel))
	if fi, err := os.Lstat(dest); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s exists and is not a regular file", dest)
		}
		same, err := sameContent(file, dest)
		if err != nil {
			return err
		}
		if !same {
			return fmt.Errorf("a different %s is already in the repo: remove it first or build with a new release", info.rel)
		}
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	dir := filepath.Dir(dest)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// The temp name (".NAME.rpm.tmp-*") does not end in .rpm, so
	// createrepo_c never picks it up.
	tmp, err := atomicfile.Create(dest)
	if err != nil {
		return err
	}
	defer tmp.Cleanup()
	src, err := os.Open(file)
	if err != nil {
		return err
	}
	defer src.Close()
	if _, err := io.Copy(tmp, ctxio.Reader(ctx, src)); err != nil {
		return err
	}
	// The build time as mtime: createrepo_c records the file's mtime in the
	// metadata, and this keeps it the same for the same package.
	mt := time.Unix(info.buildTime, 0)
	if err := os.Chtimes(tmp.Name(), mt, mt); err != nil {
		return err
	}
	if err := tmp.Commit(0o644); err != nil {
		return err
	}
	r.log().Debug("added to repo", "file", file, "as", info.rel)
	return nil
}

// sameContent reports whether two files hold the same bytes.
func sameContent(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	sa, err := fa.Stat()
	if err != nil {
		return false, err
	}
	sb, err := fb.Stat()
	if err != nil {
		return false, err
	}
	if os.SameFile(sa, sb) {
		return true, nil
	}
	if sa.Size() != sb.Size() {
		return false, nil
	}
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if ea == io.EOF || ea == io.ErrUnexpectedEOF {
			return eb == ea, nil
		}
		if ea != nil {
			return false, ea
		}
		if eb != nil {
			return false, eb
		}
	}
}

// List returns the packages in the repository as sorted, slash-separated
// paths relative to Dir ("x86_64/hello-2.0-1.x86_64.rpm",
// "src/hello-2.0-1.src.rpm"). It skips repodata and hidden entries.
func (r *Repo) List() ([]string, error) {
	var out []string
	err := filepath.WalkDir(r.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == r.Dir {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") || (d.IsDir() && d.Name() == "repodata") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && strings.HasSuffix(d.Name(), ".rpm") {
			rel, err := filepath.Rel(r.Dir, p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list repo %s: %w", r.Dir, err)
	}
	sort.Strings(out)
	return out, nil
}

// fullRefreshMarker, present in Dir, makes the next Refresh rebuild all
// metadata instead of reusing it: after a removal a package of the same name
// could come back with the same size and mtime, which createrepo_c --update
// would take for the old one.
const fullRefreshMarker = ".full-refresh"

// Remove deletes packages, named as List returns them, from the repository.
// Every name is checked before anything is deleted; a name that is not in
// the repository is an error. Remove does not update the metadata: call
// Refresh.
func (r *Repo) Remove(ctx context.Context, names ...string) error {
	for _, n := range names {
		if !validName(n) {
			return fmt.Errorf("remove %q from repo %s: not a package path as List returns them", n, r.Dir)
		}
	}
	unlock, err := r.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	var errs []error
	for _, n := range names {
		fi, err := os.Lstat(filepath.Join(r.Dir, filepath.FromSlash(n)))
		if err != nil {
			errs = append(errs, fmt.Errorf("remove %s from repo %s: %w", n, r.Dir, err))
		} else if !fi.Mode().IsRegular() {
			errs = append(errs, fmt.Errorf("remove %s from repo %s: not a regular file", n, r.Dir))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if len(names) == 0 {
		return nil
	}
	// Mark first: if we stop half way, the next Refresh still starts over.
	if err := os.WriteFile(filepath.Join(r.Dir, fullRefreshMarker), nil, 0o644); err != nil {
		return fmt.Errorf("remove from repo %s: %w", r.Dir, err)
	}
	for _, n := range names {
		if err := os.Remove(filepath.Join(r.Dir, filepath.FromSlash(n))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s from repo %s: %w", n, r.Dir, err)
		}
		r.log().Debug("removed from repo", "file", n)
	}
	return nil
}

// validName accepts "<dir>/<file>.rpm" with no other components.
func validName(n string) bool {
	if !strings.HasSuffix(n, ".rpm") || path.Clean(n) != n || !filepath.IsLocal(n) {
		return false
	}
	dir, file := path.Split(n)
	dir = strings.TrimSuffix(dir, "/")
	return dir != "" && !strings.Contains(dir, "/") && dir != "repodata" &&
		!strings.HasPrefix(dir, ".") && !strings.HasPrefix(file, ".")
}
