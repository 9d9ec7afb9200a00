package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	"github.com/bundle-dev/bundle/bundle/cachedir"
	"github.com/bundle-dev/bundle/bundle/runner"
)

// RootFSOptions says which root filesystem EnsureRootFS makes.
type RootFSOptions struct {
	// Suite is the Debian suite (default "trixie", newer than every
	// platform bundle targets).
	Suite string
	// Mirror is the Debian mirror (default http://deb.debian.org/debian).
	Mirror string
	// Arch is the Debian architecture (default "amd64").
	Arch string
	// CacheDir holds the root filesystems (default cachedir.Root()): CacheDir/audit-rootfs/SUITE-ARCH-minbase/root.
	CacheDir string
	// Runner runs mmdebstrap (default runner.Default).
	Runner runner.Runner
	// Logger receives progress (default slog.Default()).
	Logger *slog.Logger
}

// RootFSDir returns where EnsureRootFS keeps the root filesystem for o.
func RootFSDir(o RootFSOptions) (string, error) {
	o, err := o.defaults()
	if err != nil {
		return "", err
	}
	return filepath.Join(o.CacheDir, "audit-rootfs", o.Suite+"-"+o.Arch+"-minbase", "root"), nil
}

func (o RootFSOptions) defaults() (RootFSOptions, error) {
	if o.Suite == "" {
		o.Suite = "trixie"
	}
	if o.Mirror == "" {
		o.Mirror = "http://deb.debian.org/debian"
	}
	if o.Arch == "" {
		o.Arch = "amd64"
	}
	if o.Runner == nil {
		o.Runner = runner.Default
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CacheDir == "" {
		d, err := cachedir.Root()
		if err != nil {
			return o, err
		}
		o.CacheDir = d
	}
	for _, s := range []string{o.Suite, o.Arch} {
		if s == "." || s == ".." || filepath.Base(s) != s {
			return o, fmt.Errorf("%q is not a Debian suite or architecture name", s)
		}
	}
	return o, nil
}

// EnsureRootFS returns a minimal Debian root filesystem to run the checks
// in (Options.RootFS), making it once with
//
//	mmdebstrap --variant=minbase --mode=root --format=directory SUITE DIR MIRROR
//
// (a few minutes and about 200 MB) and reusing it afterwards. It is made
// in a temporary directory beside the final one and renamed into place
// under a lock, so an interrupted run leaves no half root filesystem. It
// needs root and mmdebstrap; any other root filesystem (made with
// debootstrap, or unpacked from a container image) can be given to
// Options.RootFS directly.
func EnsureRootFS(ctx context.Context, o RootFSOptions) (string, error) {
	o, err := o.defaults()
	if err != nil {
		return "", err
	}
	final, _ := RootFSDir(o)
	dest := filepath.Dir(final) // CacheDir/audit-rootfs/SUITE-ARCH-minbase
	base := filepath.Dir(dest)
	if ready(final) {
		return final, nil
	}
	if os.Geteuid() != 0 {
		return "", errors.New("making a root filesystem needs root (mmdebstrap --mode=root); make one yourself and pass its path")
	}
	if _, err := lookPath("mmdebstrap"); err != nil {
		return "", fmt.Errorf("%w (install package mmdebstrap)", err)
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(dest+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if ready(final) {
		return final, nil
	}
	tmp, err := os.MkdirTemp(base, "."+filepath.Base(dest)+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	o.Logger.Info("making a root filesystem for bundle test (once; takes minutes)", "suite", o.Suite, "dir", final)
	args := []string{"--variant=minbase", "--mode=root", "--format=directory", "--architectures=" + o.Arch,
		"--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/doc/*",
		"--dpkgopt=path-exclude=/usr/share/locale/*", o.Suite, filepath.Join(tmp, "root"), o.Mirror}
	env := runner.CleanEnv()
	for _, k := range []string{"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if _, err := o.Runner.Run(ctx, runner.Cmd{Name: "mmdebstrap", Args: args, Env: env, Log: dest + ".log"}); err != nil {
		return "", fmt.Errorf("make the root filesystem: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "suite"), []byte(o.Suite+" "+o.Arch+" minbase\n"), 0o644); err != nil {
		return "", err
	}
	// An incomplete directory from an interrupted run may be in the way.
	if err := os.RemoveAll(dest); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dest); err != nil {
		return "", err
	}
	return final, nil
}

// ready reports a complete root filesystem at dir.
func ready(dir string) bool {
	_, err := os.Stat(filepath.Join(filepath.Dir(dir), "suite"))
	if err != nil {
		return false
	}
	_, ok := findTool(dir, "sh")
	return ok
}
