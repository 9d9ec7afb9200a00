package closure

import (
	"context"
	"errors"
	"fmt"
	"github.com/bundle-dev/bundle/bundle/workpool"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/bundle-dev/bundle/bundle/repodata"
	"github.com/bundle-dev/bundle/bundle/rpm"
)

// LoadRepo returns the packages of the repository in dir. When
// dir/repodata/repomd.xml exists, is not older than any *.rpm under dir,
// and lists exactly the *.rpm files present, the metadata is read
// (repodata.Read); otherwise — no metadata, stale metadata, metadata that
// cannot be read, or a different set of files — every *.rpm under dir
// (recursively) is opened with rpm.ReadPackageFile, several at a time.
// Either way the result is sorted by name, arch, EVR and path. Source
// packages are included, with IsSource set.
// What it chose and why is logged to log (nil: slog.Default()).
func LoadRepo(ctx context.Context, dir string, log *slog.Logger) ([]*rpm.Package, error) {
	if log == nil {
		log = slog.Default()
	}
	files, newest, err := findRPMs(ctx, dir)
	if err != nil {
		return nil, err
	}
	var pkgs []*rpm.Package
	if ok, why := metadataUsable(dir, newest); ok {
		pkgs, err = repodata.ReadPrimary(ctx, dir)
		if err == nil && sameFiles(pkgs, files) && needFilelists(pkgs) {
			log.Debug("a file dependency is not in primary.xml's file subset; reading filelists", "repo", dir)
			pkgs, err = repodata.Read(ctx, dir)
		}
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, fmt.Errorf("load repo %s: %w", dir, ctx.Err())
		case err != nil:
			log.Warn("repository metadata unusable, reading package headers instead", "repo", dir, "err", err)
			pkgs = nil
		case !sameFiles(pkgs, files):
			log.Warn("repository metadata does not list the packages present, reading package headers instead", "repo", dir)
			pkgs = nil
		}
	} else {
		log.Debug("reading package headers", "repo", dir, "reason", why)
	}
	if pkgs == nil {
		if pkgs, err = readHeaders(ctx, files); err != nil {
			return nil, err
		}
	}
	sortPackages(pkgs)
	return pkgs, nil
}

// findRPMs lists the *.rpm files under dir (sorted; symlinks to files
// count, symlinked directories are not followed) and the newest
// modification time among them.
func findRPMs(ctx context.Context, dir string) ([]string, time.Time, error) {
	var files []string
	var newest time.Time
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !strings.HasSuffix(d.Name(), ".rpm") || d.IsDir() {
			return nil
		}
		// Regular files, and symlinks to regular files.
		info, err := os.Stat(path)
		if err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			if info.ModTime().After(newest) {
				newest = info.ModTime()
			}
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("load repo %s: %w", dir, err)
	}
	sort.Strings(files)
	return files, newest, nil
}

// metadataUsable reports whether repomd.xml exists and is not older than
// the newest package.
func metadataUsable(dir string, newest time.Time) (bool, string) {
	info, err := os.Stat(filepath.Join(dir, filepath.FromSlash(repodata.RepomdPath)))
	if errors.Is(err, fs.ErrNotExist) {
		return false, "no repodata"
	}
	if err != nil {
		return false, err.Error()
	}
	if info.ModTime().Before(newest) {
		return false, "repodata older than the packages"
	}
	return true, ""
}

// sameFiles reports whether the metadata lists exactly the files found.
func sameFiles(pkgs []*rpm.Package, files []string) bool {
	if len(pkgs) != len(files) {
		return false
	}
	listed := make([]string, len(pkgs))
	for i, p := range pkgs {
		listed[i] = filepath.Clean(p.Path)
	}
	sort.Strings(listed)
	for i := range files {
		if listed[i] != filepath.Clean(files[i]) {
			return false
		}
	}
	return true
}

// readHeaders reads every file with a bounded pool of workers; the result
// is in the order of files. All failures are reported, in file order.
func readHeaders(ctx context.Context, files []string) ([]*rpm.Package, error) {
	pkgs := make([]*rpm.Package, len(files))
	idx := make([]int, len(files))
	for i := range idx {
		idx[i] = i
	}
	err := workpool.ForEach(ctx, min(runtime.GOMAXPROCS(0), 8), idx, func(i int) (err error) {
		pkgs[i], err = rpm.ReadPackageFile(files[i])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load repo: %w", err)
	}
	return pkgs, nil
}

// sortPackages orders by name, arch, EVR (oldest first) and path.
func sortPackages(pkgs []*rpm.Package) {
	sort.SliceStable(pkgs, func(i, j int) bool {
		a, b := pkgs[i], pkgs[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Arch != b.Arch {
			return a.Arch < b.Arch
		}
		if c := rpm.CompareEVR(a.EVR, b.EVR); c != 0 {
			return c < 0
		}
		if a.EVR != b.EVR {
			return a.EVR.Epoch+":"+a.EVR.Version+"-"+a.EVR.Release < b.EVR.Epoch+":"+b.EVR.Version+"-"+b.EVR.Release
		}
		return a.Path < b.Path
	})
}

// needFilelists reports whether some file dependency of pkgs (a Requires,
// weak dependency or atom of a rich one naming an absolute path) may be
// satisfied by a file primary.xml does not carry: only then are the full
// file lists needed. createrepo_c puts every file under a bin/ directory
// or /etc, and /usr/lib/sendmail, into primary.xml, so for those paths
// primary is complete (a dependency on /bin/sh that no package provides is
// left to the platform base).
func needFilelists(pkgs []*rpm.Package) bool {
	have := map[string]bool{}
	for _, p := range pkgs {
		for _, f := range p.Files {
			have[f.Path] = true
		}
		for _, d := range p.Provides {
			if strings.HasPrefix(d.Name, "/") {
				have[d.Name] = true
			}
		}
	}
	missing := func(name string) bool {
		return strings.HasPrefix(name, "/") && !have[name] && !primaryFile(name)
	}
	for _, p := range pkgs {
		for _, deps := range [][]rpm.Dep{p.Requires, p.Recommends, p.Supplements, p.Conflicts} {
			for _, d := range deps {
				if rpm.IsRich(d.Name) {
					e, err := rpm.ParseRich(d.Name)
					if err != nil {
						return true
					}
					for _, a := range e.Atoms() {
						if missing(a.Name) {
							return true
						}
					}
					continue
				}
				if missing(d.Name) {
					return true
				}
			}
		}
	}
	return false
}

// primaryFile reports whether createrepo_c lists path in primary.xml.
func primaryFile(path string) bool {
	return strings.HasPrefix(path, "/etc/") || strings.Contains(path, "bin/") || path == "/usr/lib/sendmail"
}
