package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/bundle-dev/bundle/bundle/jail"
	"github.com/bundle-dev/bundle/bundle/relocate/buildpath"
	"github.com/bundle-dev/bundle/bundle/runner"
)

// DefaultBrokenList is the file listing removed symlinks (the links
// stage's).
const DefaultBrokenList = "broken-links.txt"

// rootfsMount is where the bundle is mounted inside a root filesystem.
const rootfsMount = "/tmp/bundle-test"

// Run unpacks and checks a bundle (see the package documentation). It
// returns the report and, when a check failed, an error wrapping
// ErrFailed; other errors (an unreadable target, a missing tool) come
// without a report.
func Run(ctx context.Context, opts Options) (*Report, error) {
	start := time.Now()
	if opts.Target == "" {
		return nil, errors.New("bundle test: no bundle given (a tarball or a directory)")
	}
	if opts.Platform == nil {
		return nil, errors.New("bundle test: no platform given")
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
	if opts.BrokenList == "" {
		opts.BrokenList = DefaultBrokenList
	}
	if opts.WorkDir == "" {
		opts.WorkDir = os.TempDir()
	}
	log := opts.Logger
	target, err := filepath.Abs(opts.Target)
	if err != nil {
		return nil, err
	}
	tfi, err := os.Stat(target)
	if err != nil {
		return nil, fmt.Errorf("bundle test: %w", err)
	}
	paths := opts.BuildPaths
	if tfi.IsDir() {
		paths = append(paths, target)
	}
	set, err := buildpath.New(paths)
	if err != nil {
		return nil, fmt.Errorf("bundle test: %w", err)
	}

	workDir, err := filepath.Abs(opts.WorkDir)
	if err != nil {
		return nil, err
	}
	// A fresh directory of this run's own, with an unpredictable name,
	// straight under the work directory: no fixed path another user could
	// have created first and then swap things in.
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return nil, fmt.Errorf("bundle test: %w", err)
	}
	runDir, err := os.MkdirTemp(workDir, "bundle-test-")
	if err != nil {
		return nil, fmt.Errorf("bundle test: %w", err)
	}
	defer func() {
		if opts.Keep {
			log.Info("bundle test: kept the unpacked bundle", "dir", runDir)
			return
		}
		setWritable(runDir, true)
		if err := os.RemoveAll(runDir); err != nil {
			log.Warn("bundle test: could not remove the test directory", "dir", runDir, "err", err)
		}
	}()
	if err := os.Chmod(runDir, 0o755); err != nil {
		return nil, err
	}
	// The jail makes runDir reachable for nobody even below a private
	// parent (bundle/jail), so any work directory does.
	root := os.Geteuid() == 0
	// The bundle goes at a path longer than every build path, on the host
	// and inside a root filesystem, so that a path baked into a fixed-size
	// buffer at build time shows.
	pad := "p" + strings.Repeat("x", max(8, set.MaxLen()-min(len(runDir), len(rootfsMount))))
	unpackDir := filepath.Join(runDir, pad)
	if err := os.Mkdir(unpackDir, 0o755); err != nil {
		return nil, err
	}
	log.Info("bundle test: unpacking", "target", target, "dir", unpackDir)
	u, err := unpack(ctx, target, unpackDir)
	if err != nil {
		return nil, fmt.Errorf("bundle test: unpack %s: %w", opts.Target, err)
	}
	rep := &Report{Target: opts.Target, Dir: u.top}
	un := newResult("unpack")
	un.Count = u.entries
	for _, s := range u.unsafe {
		un.fail("%s", s)
	}
	un.Detail = "unpacked to " + u.top
	rep.Checks = append(rep.Checks, un.done())
	if err := setWritable(u.top, false); err != nil {
		return nil, fmt.Errorf("bundle test: make %s read-only: %w", u.top, err)
	}

	t, err := walkTree(ctx, u.top)
	if err != nil {
		return nil, err
	}
	rep.Checks = append(rep.Checks, checkTree(u, t, opts.BrokenList)...)
	elfs, unreadable, err := readELFs(ctx, t, opts.Workers)
	if err != nil {
		return nil, err
	}
	rep.Checks = append(rep.Checks, checkELF(t, elfs, unreadable, opts.Platform.Base.Libraries, opts.Platform.GlibcCeiling)...)
	bp, err := checkBuildPaths(ctx, t, set, opts.Workers)
	if err != nil {
		return nil, err
	}
	rep.Checks = append(rep.Checks, bp, checkShebangs(t, opts.Platform.Base.Files))

	host, err := hostSandbox(runDir, u.top, elfs, opts)
	if err != nil {
		return nil, fmt.Errorf("bundle test: %w", err)
	}
	log.Info("bundle test: running the loader and the checks", "user", userLabel(root))
	rep.Checks = append(rep.Checks, host.checkLoader(ctx, "ldd", elfs, opts.Platform.Base.Libraries))
	_, rcErr := os.Lstat(filepath.Join(u.top, "bundlerc"))
	rep.Checks = append(rep.Checks, host.checkEnvScript(ctx, opts.RootVar, rcErr == nil))
	for _, c := range opts.Checks {
		rep.Checks = append(rep.Checks, host.runCheck(ctx, "check:"+c.Name, c))
	}
	if opts.RootFS != "" {
		rfs, err := rootfsSandbox(runDir, u.top, pad, elfs, opts)
		if err != nil {
			return nil, fmt.Errorf("bundle test: %w", err)
		}
		log.Info("bundle test: running in the root filesystem", "rootfs", opts.RootFS)
		rep.Checks = append(rep.Checks, rfs.checkLoader(ctx, "rootfs:ldd", elfs, opts.Platform.Base.Libraries))
		for _, c := range opts.Checks {
			rep.Checks = append(rep.Checks, rfs.runCheck(ctx, "rootfs:"+c.Name, c))
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep.Seconds = time.Since(start).Seconds()
	if !rep.OK() {
		return rep, fmt.Errorf("%w: %s", ErrFailed, strings.Join(rep.Failed(), ", "))
	}
	return rep, nil
}

func userLabel(root bool) string {
	if root {
		return "nobody"
	}
	return "the calling user"
}

// scratch makes the read-only HOME and the writable TMPDIR under runDir.
func scratch(runDir string) (home, tmp string, err error) {
	home = filepath.Join(runDir, "home")
	tmp = filepath.Join(runDir, "tmp")
	if err := os.Mkdir(home, 0o555); err != nil {
		return "", "", err
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return "", "", err
	}
	// Mkdir's mode goes through the umask; sticky and world-writable need
	// chmod.
	if err := os.Chmod(tmp, 0o1777); err != nil {
		return "", "", err
	}
	return home, tmp, os.Chmod(home, 0o555)
}

func baseEnv(home, tmp, pathVar string) []string {
	return []string{"HOME=" + home, "TMPDIR=" + tmp, "PATH=" + pathVar, "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TZ=UTC",
		"USER=nobody", "LOGNAME=nobody", "TERM=dumb"}
}

// hostSandbox runs commands on the host as nobody with PATH at a
// directory of basic tools.
func hostSandbox(runDir, top string, elfs *elfSet, opts Options) (*sandbox, error) {
	home, tmp, err := scratch(runDir)
	if err != nil {
		return nil, err
	}
	hostBin := filepath.Join(runDir, "hostbin")
	tools, err := makeHostBin(hostBin)
	if err != nil {
		return nil, err
	}
	decoys := filepath.Join(runDir, "decoys")
	n, spared, err := makeDecoys(decoys, elfs, opts.Platform.Base.Libraries, toolNeeds("/", tools))
	if err != nil {
		return nil, err
	}
	opts.Logger.Debug("bundle test: decoys", "written", n, "spared for host tools", strings.Join(spared, " "))
	s := &sandbox{sysroot: "/", top: top, decoys: decoys, env: baseEnv(home, tmp, hostBin), dir: tmp,
		run: opts.Runner, logDir: filepath.Join(runDir, "logs"), workers: opts.Workers}
	// The bundle's programs and the recipe's checks run in a jail: the
	// host read-only with a private /tmp, this run's directory readable,
	// its TMPDIR writable, no network, new pid/ipc/uts namespaces, and as
	// nobody when bundle is root.
	uid, gid := nobody()
	prefix, err := jail.Jail{Readable: []string{runDir}, Writable: []string{tmp}, UID: uid, GID: gid}.Prefix(tmp)
	if err != nil {
		return nil, err
	}
	s.prefix = prefix
	return s, nil
}

// rootfsSandbox runs commands inside opts.RootFS with bubblewrap: the root
// filesystem read-only as /, the bundle read-only at the same padded depth
// under /tmp, no network.
func rootfsSandbox(runDir, top, pad string, elfs *elfSet, opts Options) (*sandbox, error) {
	rootfs, err := filepath.Abs(opts.RootFS)
	if err != nil {
		return nil, err
	}
	if _, ok := findTool(rootfs, "sh"); !ok {
		return nil, fmt.Errorf("%s is not a root filesystem (no /usr/bin/sh or /bin/sh)", opts.RootFS)
	}
	bwrap, err := lookPath("bwrap")
	if err != nil {
		return nil, err
	}
	var tools []string
	for _, t := range basicTools {
		if p, ok := findTool(rootfs, t); ok {
			tools = append(tools, p)
		}
	}
	decoys := filepath.Join(runDir, "decoys-rootfs")
	if _, _, err := makeDecoys(decoys, elfs, opts.Platform.Base.Libraries, toolNeeds(rootfs, tools)); err != nil {
		return nil, err
	}
	home := filepath.Join(runDir, "home")
	inTop := rootfsMount + "/" + pad + "/" + filepath.Base(top)
	inDecoys := rootfsMount + "/decoys"
	prefix := []string{bwrap,
		"--ro-bind", rootfs, "/",
		"--dev", "/dev", "--proc", "/proc",
		"--perms", "1777", "--tmpfs", "/tmp",
		// bwrap makes missing mount points private (0700): nobody could
		// not reach the bundle.
		"--perms", "0755", "--dir", rootfsMount,
		"--perms", "0755", "--dir", rootfsMount + "/" + pad,
		"--ro-bind", top, inTop,
		"--ro-bind", decoys, inDecoys,
		"--ro-bind", home, "/tmp/home",
		"--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
		"--die-with-parent", "--new-session", "--chdir", "/tmp",
	}
	if os.Geteuid() == 0 {
		setpriv, ok := findTool(rootfs, "setpriv")
		if !ok {
			return nil, fmt.Errorf("%s has no setpriv (util-linux) to drop to nobody with", opts.RootFS)
		}
		uid, gid := nobody()
		prefix = append(append(prefix, "--"), dropArgs(setpriv, uid, gid)...)
	} else {
		prefix = append(prefix, "--unshare-user", "--")
	}
	return &sandbox{label: "rootfs", sysroot: rootfs, top: inTop, decoys: inDecoys, prefix: prefix,
		env: baseEnv("/tmp/home", "/tmp", "/usr/bin:/bin"), dir: runDir, run: opts.Runner,
		logDir: filepath.Join(runDir, "logs"), workers: opts.Workers}, nil
}
