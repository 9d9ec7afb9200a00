package localrepo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/bundle-dev/bundle/bundle/runner"
)

// Refresh brings DIR/repodata up to date with the packages in the
// repository by running createrepo_c. The metadata depends only on the
// packages: the revision and every timestamp in repomd.xml are the newest
// package build time (--revision, --set-timestamp-to-revision), packages'
// mtimes are their build times (set by Add), compression is gzip and no
// sqlite databases are made (dnf does not need them and they are not
// reproducible). Unchanged packages' metadata is reused (--update) except
// after a Remove. Two Refreshes of one repository never overlap, in one
// process or across processes.
func (r *Repo) Refresh(ctx context.Context) error {
	unlock, err := r.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()

	pkgs, err := r.List()
	if err != nil {
		return err
	}
	var revision int64
	for _, p := range pkgs {
		fi, err := os.Stat(filepath.Join(r.Dir, filepath.FromSlash(p)))
		if err != nil {
			return fmt.Errorf("refresh repo %s: %w", r.Dir, err)
		}
		revision = max(revision, fi.ModTime().Unix())
	}
	// A createrepo_c killed earlier leaves its work directory behind and
	// would refuse to start; we hold the lock, so it is stale.
	if err := os.RemoveAll(filepath.Join(r.Dir, ".repodata")); err != nil {
		return fmt.Errorf("refresh repo %s: remove stale .repodata: %w", r.Dir, err)
	}
	marker := filepath.Join(r.Dir, fullRefreshMarker)
	full := false
	if _, err := os.Stat(marker); err == nil {
		full = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("refresh repo %s: %w", r.Dir, err)
	}

	workers := r.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	args := []string{
		"--workers", strconv.Itoa(workers),
		"--general-compress-type=gz",
		"--checksum=sha256",
		"--no-database",
		"--revision", strconv.FormatInt(revision, 10),
		"--set-timestamp-to-revision",
		"--retain-old-md=0",
		// Fail when a package cannot be read instead of leaving it out.
		"--error-exit-val",
	}
	if !full {
		args = append([]string{"--update"}, args...)
	}
	args = append(args, r.Dir)
	cmd := runner.Cmd{Name: "createrepo_c", Args: args}
	if r.LogDir != "" {
		cmd.Log = filepath.Join(r.LogDir, "createrepo_c.log")
	}
	run := r.Runner
	if run == nil {
		run = runner.Default
	}
	if _, err := run.Run(ctx, cmd); err != nil {
		return fmt.Errorf("refresh repo %s: %w", r.Dir, err)
	}
	if full {
		if err := os.Remove(marker); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("refresh repo %s: %w", r.Dir, err)
		}
	}
	r.log().Debug("repo metadata refreshed", "dir", r.Dir, "packages", len(pkgs), "full", full)
	return nil
}
