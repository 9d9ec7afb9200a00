package relocate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bundle-dev/bundle/bundle/relocate/buildpath"
	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/platforms"
)

// Options configures Relocate.
type Options struct {
	// Runner runs patchelf, and Python in a jail (default runner.Default).
	Runner runner.Runner
	// Platform gives the base libraries that need no search path entry
	// and the base files scripts may keep as interpreters. Required.
	Platform *platforms.Platform
	// BuildPaths are build-root, staging and source-cache paths that must
	// not survive ("/builddir/build/BUILDROOT", the staging root...). The
	// staging root (root, absolute and with symlinks resolved) is always
	// added.
	BuildPaths []string
	// Python is the bundle path of the interpreter used to byte-compile
	// ("/usr/bin/python3"); empty or not runnable means pyc files are
	// removed or patched instead (see the package documentation).
	Python string
	// Workers bounds the files processed at once (default GOMAXPROCS).
	Workers int
	// Logger receives progress and warnings (default slog.Default()).
	Logger *slog.Logger
}

// Report lists what Relocate changed, as bundle paths, sorted.
type Report struct {
	// ELFPatched are the ELF files whose search path was rewritten.
	ELFPatched []string `json:"elf_patched"`
	// ShebangsRewritten are the scripts that got a relocatable launcher.
	ShebangsRewritten []string `json:"shebangs_rewritten"`
	// TextRewritten are text files whose build paths were rewritten
	// (pkg-config files included).
	TextRewritten []string `json:"text_rewritten"`
	// BinaryPatched are ELF, ar and pyc files whose build paths were
	// overwritten in place.
	BinaryPatched []string `json:"binary_patched"`
	// Recompiled are the pyc files Python wrote again.
	Recompiled []string `json:"recompiled"`
	// Removed are the files deleted (*.la, stale pyc files).
	Removed []string `json:"removed"`
	// Unresolved are "file: soname" pairs: a DT_NEEDED found neither in the
	// bundle nor in the platform base.
	Unresolved []string `json:"unresolved"`
	// Unrelocated are "file: reason" pairs: scripts whose interpreter has
	// no launcher or is not in the bundle, binary files still holding a
	// build path.
	Unrelocated []string `json:"unrelocated"`
}

func (r *Report) sort() {
	for _, l := range []*[]string{&r.ELFPatched, &r.ShebangsRewritten, &r.TextRewritten, &r.BinaryPatched,
		&r.Recompiled, &r.Removed, &r.Unresolved, &r.Unrelocated} {
		if *l == nil {
			*l = []string{}
		}
		sort.Strings(*l)
	}
}

// relocator carries one run's state.
type relocator struct {
	root    string // absolute host path of the tree
	opts    Options
	log     *slog.Logger
	paths   *buildpath.Set
	tops    map[string]bool // top-level entry names of the tree
	base    map[string]bool // base library sonames
	files   []entry         // regular files, path order
	links   []entry         // symlinks, path order
	mu      sync.Mutex
	rep     Report
	removed map[string]bool
	// rewrittenPy are Python sources the text stage rewrote and
	// pycWithPaths the pyc files it found holding a build path; the pyc
	// stage handles both.
	rewrittenPy  []string
	pycWithPaths []string
}

// entry is one tree entry.
type entry struct {
	path string // bundle path, "/usr/bin/x"
	mode fs.FileMode
}

// Relocate rewrites the tree at root in place (see the package
// documentation) and reports what it changed.
func Relocate(ctx context.Context, root string, opts Options) (*Report, error) {
	if opts.Platform == nil {
		return nil, errors.New("relocate: no platform given")
	}
	if opts.Runner == nil {
		opts.Runner = runner.Default
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("relocate %s: %w", root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("relocate: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("relocate: %s is not a directory", root)
	}
	bp := append([]string{abs}, opts.BuildPaths...)
	if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
		bp = append(bp, real)
	}
	set, err := buildpath.New(bp)
	if err != nil {
		return nil, fmt.Errorf("relocate: %w", err)
	}
	r := &relocator{root: abs, opts: opts, log: opts.Logger, paths: set, tops: map[string]bool{},
		base: map[string]bool{}, removed: map[string]bool{}}
	for _, l := range opts.Platform.Base.Libraries {
		r.base[l] = true
	}
	if err := r.walk(ctx); err != nil {
		return nil, err
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"libtool archives", r.removeLibtool},
		{"ELF search paths", r.elfStage},
		{"scripts", r.scriptStage},
		{"build paths", r.textStage},
		{"byte-compiled files", r.pycStage},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("relocate: %w", err)
		}
		start := time.Now()
		if err := s.fn(ctx); err != nil {
			return nil, fmt.Errorf("relocate: %s: %w", s.name, err)
		}
		r.log.Debug("relocate step done", "step", s.name, "duration", time.Since(start).Round(time.Millisecond))
	}
	r.rep.sort()
	for _, u := range r.rep.Unresolved {
		r.log.Warn("relocate: library found neither in the bundle nor in the platform base", "need", u)
	}
	for _, u := range r.rep.Unrelocated {
		r.log.Warn("relocate: not relocated", "what", u)
	}
	r.log.Info("relocated", "elf", len(r.rep.ELFPatched), "scripts", len(r.rep.ShebangsRewritten),
		"text", len(r.rep.TextRewritten), "binary", len(r.rep.BinaryPatched), "recompiled", len(r.rep.Recompiled),
		"removed", len(r.rep.Removed))
	rep := r.rep
	return &rep, nil
}

// walk lists the tree's regular files and symlinks and its top-level names.
func (r *relocator) walk(ctx context.Context) error {
	return filepath.WalkDir(r.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(r.root, p)
		if rel == "." {
			return nil
		}
		bpath := "/" + filepath.ToSlash(rel)
		if path.Dir(bpath) == "/" {
			r.tops[d.Name()] = true
		}
		switch t := d.Type(); {
		case t.IsRegular():
			fi, err := d.Info()
			if err != nil {
				return fmt.Errorf("stat %s: %w", p, err)
			}
			r.files = append(r.files, entry{path: bpath, mode: fi.Mode()})
		case t&fs.ModeSymlink != 0:
			r.links = append(r.links, entry{path: bpath, mode: t})
		}
		return nil
	})
}

// host returns the host path of bundle path p.
func (r *relocator) host(p string) string {
	return filepath.Join(r.root, filepath.FromSlash(p))
}

func (r *relocator) add(list *[]string, s string) {
	r.mu.Lock()
	*list = append(*list, s)
	r.mu.Unlock()
}

// remove deletes bundle path p and records it.
func (r *relocator) remove(p string) error {
	if err := os.Remove(r.host(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	r.mu.Lock()
	r.removed[p] = true
	r.rep.Removed = append(r.rep.Removed, p)
	r.mu.Unlock()
	return nil
}

func (r *relocator) isRemoved(p string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.removed[p]
}

// removeLibtool deletes libtool archives.
func (r *relocator) removeLibtool(ctx context.Context) error {
	for _, f := range r.files {
		if !strings.HasSuffix(f.path, ".la") {
			continue
		}
		head, err := readHead(r.host(f.path), 512)
		if err != nil {
			return err
		}
		if strings.Contains(string(head), "libtool") {
			if err := r.remove(f.path); err != nil {
				return err
			}
		}
	}
	return nil
}

// readHead returns up to n first bytes of the file at p.
func readHead(p string, n int) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, n)
	m, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return buf[:m], nil
}

// maxRewrite is the largest file Relocate loads to rewrite.
const maxRewrite = 256 << 20

// replaceFile writes data over the file at host path p through a temporary
// file renamed into place, keeping the old mode, owner and times.
func replaceFile(p string, data []byte) error {
	return replaceWith(p, func(tmp *os.File) error {
		_, err := tmp.Write(data)
		return err
	})
}

// replaceWith makes a temporary copy target of p's directory, lets fill
// write it, gives it p's mode, owner and times, and renames it over p.
func replaceWith(p string, fill func(tmp *os.File) error) (err error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".bundle-relocate-*")
	if err != nil {
		return fmt.Errorf("rewrite %s: %w", p, err)
	}
	name := tmp.Name()
	defer func() {
		if err != nil {
			os.Remove(name)
		}
	}()
	if err = fill(tmp); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("rewrite %s: %w", p, err)
	}
	return finishReplace(name, p, fi)
}

// finishReplace gives tmp the mode, owner and times of fi (p's old state)
// and renames it over p.
func finishReplace(tmp, p string, fi fs.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		if err := os.Lchown(tmp, int(st.Uid), int(st.Gid)); err != nil {
			return fmt.Errorf("rewrite %s: %w", p, err)
		}
	}
	if err := os.Chmod(tmp, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return fmt.Errorf("rewrite %s: %w", p, err)
	}
	atime := fi.ModTime()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		atime = time.Unix(st.Atim.Sec, st.Atim.Nsec)
	}
	if err := os.Chtimes(tmp, atime, fi.ModTime()); err != nil {
		return fmt.Errorf("rewrite %s: %w", p, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("rewrite %s: %w", p, err)
	}
	return nil
}
