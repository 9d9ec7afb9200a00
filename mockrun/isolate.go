package mockrun

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bundle-dev/bundle/bundle/runner"
)

// overlayScript runs in fresh namespaces made by unshare(1): it joins the
// memory cgroup ($1, when given), mounts the overlay (options $2) on the
// merged directory ($3) in the private mount namespace, so the mount
// disappears with the process, and execs bubblewrap with the rest of the
// arguments.
const overlayScript = `set -eu
if [ -n "$1" ]; then echo $$ > "$1/cgroup.procs"; fi
mount -t overlay bundle-sandbox -o "$2" "$3"
shift 3
exec "$@"`

// bind is one host path made visible in the sandbox.
type bind struct {
	Src, Dst string
	RW       bool
}

// sandboxRun describes one command run in the sandbox.
type sandboxRun struct {
	// Lower layers, top first: the job's BuildRequires layer, then the
	// rootfs.
	Lower  []string
	Upper  string // scratch upper layer, discarded afterwards
	Work   string // overlayfs work directory (same file system as Upper)
	Merged string // where the overlay is mounted (inside the private namespace)
	Binds  []bind
	// Privileged: the caller is root. The build then drops to the
	// unprivileged build user with setpriv inside bubblewrap. Otherwise
	// everything runs in a user namespace where the caller is root.
	Privileged bool
	Cgroup     string // memory cgroup directory to join ("" = none)
	RlimitAS   int64  // address-space cap in bytes through prlimit (0 = none)
	Env        []string
	Dir        string   // working directory inside
	Argv       []string // the command inside
}

// overlayOptions renders the overlayfs mount options. overlayfs splits on
// ',' and ':' and treats '\' as an escape, so paths holding them are
// refused rather than mangled.
func (s sandboxRun) overlayOptions() (string, error) {
	if len(s.Lower) == 0 || s.Upper == "" || s.Work == "" {
		return "", errors.New("sandbox: overlay needs lower, upper and work directories")
	}
	all := append(append([]string(nil), s.Lower...), s.Upper, s.Work, s.Merged)
	for _, p := range all {
		if !filepath.IsAbs(p) {
			return "", fmt.Errorf("sandbox: overlay path %q is not absolute", p)
		}
		if strings.ContainsAny(p, ",:\\\n") {
			return "", fmt.Errorf("sandbox: overlay path %q holds ',', ':' or '\\', which overlayfs cannot take: use a work and cache directory without them", p)
		}
	}
	opts := "lowerdir=" + strings.Join(s.Lower, ":") + ",upperdir=" + s.Upper + ",workdir=" + s.Work
	if !s.Privileged {
		// Unprivileged overlay mounts keep their metadata in user.* xattrs.
		opts += ",userxattr"
	}
	return opts, nil
}

// command returns the host command line that runs s: [prlimit] unshare sh
// (mount overlay) bwrap [setpriv] argv.
func (s sandboxRun) command() (string, []string, error) {
	if len(s.Argv) == 0 {
		return "", nil, errors.New("sandbox: no command")
	}
	opts, err := s.overlayOptions()
	if err != nil {
		return "", nil, err
	}
	var argv []string
	if s.RlimitAS > 0 {
		argv = append(argv, "prlimit", "--as="+strconv.FormatInt(s.RlimitAS, 10), "--")
	}
	argv = append(argv, "unshare")
	if !s.Privileged {
		argv = append(argv, "--user", "--map-root-user")
	}
	argv = append(argv, "--mount", "--propagation", "private", "--",
		"/bin/sh", "-c", overlayScript, "bundle-sandbox", s.Cgroup, opts, s.Merged)
	argv = append(argv, s.bwrapArgs()...)
	return argv[0], argv[1:], nil
}

// bwrapArgs is the bubblewrap part: the overlay as /, a minimal /dev, a
// private /proc, /tmp on tmpfs, only the listed binds, new pid, ipc, uts,
// cgroup and network namespaces (loopback only), a clean environment, and
// no capabilities for the build.
func (s sandboxRun) bwrapArgs() []string {
	a := []string{"bwrap",
		"--bind", s.Merged, "/",
		"--dev", "/dev",
		"--proc", "/proc",
		"--perms", "1777", "--tmpfs", "/tmp",
	}
	for _, b := range s.Binds {
		if b.RW {
			a = append(a, "--bind", b.Src, b.Dst)
		} else {
			a = append(a, "--ro-bind", b.Src, b.Dst)
		}
	}
	a = append(a,
		"--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
		"--hostname", "bundle-sandbox",
		"--die-with-parent", "--new-session",
		"--clearenv")
	for _, e := range s.Env {
		k, v, _ := strings.Cut(e, "=")
		a = append(a, "--setenv", k, v)
	}
	if s.Dir != "" {
		a = append(a, "--chdir", s.Dir)
	}
	if s.Privileged {
		// setpriv needs these two to switch to the build user; it then
		// drops every capability, for good (bounding set, no_new_privs).
		a = append(a, "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--",
			"setpriv", "--reuid="+strconv.Itoa(buildUID), "--regid="+strconv.Itoa(buildGID),
			"--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--")
	} else {
		// Root of the user namespace, with no capabilities even there and
		// no way to gain any (no_new_privs).
		a = append(a, "--cap-drop", "ALL", "--", "setpriv", "--no-new-privs", "--")
	}
	return append(a, s.Argv...)
}

// sandboxEnv is the environment inside: runner.CleanEnv with the build
// user's home and name.
func sandboxEnv() []string {
	env := setEnv(runner.CleanEnv(), "HOME", buildHome)
	env = setEnv(env, "USER", buildUser)
	return setEnv(env, "LOGNAME", buildUser)
}

// layerFix moves what the job's BuildRequires put under a directory that
// is a symlink in the rootfs (Debian's merged /usr: /lib64 -> usr/lib64,
// /bin -> usr/bin, ...) to where the symlink points. Otherwise the layer's
// real directory would hide the rootfs's symlink in the overlay and, for
// /lib64, the dynamic loader with it.
func layerFix(layer, rootfs string) error {
	for pass := 0; pass < 1000; pass++ {
		moved, err := layerFixPass(layer, rootfs, "")
		if err != nil {
			return err
		}
		if !moved {
			return nil
		}
	}
	return errors.New("layer: too many symlinked directories to merge")
}

// layerFixPass walks the layer and merges the first directory it finds that
// is a symlink in the rootfs; it reports whether it moved anything.
func layerFixPass(layer, rootfs, rel string) (bool, error) {
	ents, err := os.ReadDir(filepath.Join(layer, rel))
	if err != nil {
		return false, fmt.Errorf("layer: %w", err)
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		p := path.Join(rel, e.Name())
		target, isLink, err := resolveIn(rootfs, p)
		if err != nil {
			return false, err
		}
		if isLink {
			if target == p || strings.HasPrefix(target+"/", p+"/") {
				return false, fmt.Errorf("layer: rootfs symlink %s points into itself", p)
			}
			if err := mergeInto(filepath.Join(layer, p), filepath.Join(layer, target)); err != nil {
				return false, err
			}
			return true, nil
		}
		moved, err := layerFixPass(layer, rootfs, p)
		if moved || err != nil {
			return moved, err
		}
	}
	return false, nil
}

// resolveIn reports whether rel is a symlink in root and, if so, the path
// it leads to relative to root, resolved like a chroot would (".." stops at
// root, absolute targets start at root).
func resolveIn(root, rel string) (string, bool, error) {
	st, err := os.Lstat(filepath.Join(root, rel))
	if err != nil || st.Mode()&os.ModeSymlink == 0 {
		return rel, false, nil
	}
	cur := rel
	for hops := 0; hops < 40; hops++ {
		resolved, link, err := resolveStep(root, cur)
		if err != nil {
			return "", false, err
		}
		if !link {
			return cur, true, nil
		}
		cur = resolved
	}
	return "", false, fmt.Errorf("layer: too many levels of symlinks at %s in the rootfs", rel)
}

// resolveStep resolves the first symlink among the components of rel.
func resolveStep(root, rel string) (string, bool, error) {
	parts := strings.Split(rel, "/")
	for i := range parts {
		prefix := path.Join(parts[:i+1]...)
		st, err := os.Lstat(filepath.Join(root, prefix))
		if err != nil {
			return rel, false, nil // does not exist (yet): nothing to resolve
		}
		if st.Mode()&os.ModeSymlink == 0 {
			continue
		}
		target, err := os.Readlink(filepath.Join(root, prefix))
		if err != nil {
			return "", false, fmt.Errorf("layer: %w", err)
		}
		var next string
		if path.IsAbs(target) {
			next = path.Clean("/" + target)
		} else {
			next = path.Clean("/" + path.Join(path.Dir(prefix), target))
		}
		rest := path.Join(parts[i+1:]...)
		next = strings.TrimPrefix(path.Join(next, rest), "/")
		if next == "" {
			next = "."
		}
		return next, true, nil
	}
	return rel, false, nil
}

// mergeInto moves the tree at src into dst (created when missing) and
// removes src. Two files at one path are an error: two BuildRequires
// packages would conflict.
func mergeInto(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	for _, e := range ents {
		s, d := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		di, err := os.Lstat(d)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if err := os.Rename(s, d); err != nil {
				return fmt.Errorf("layer: %w", err)
			}
		case err != nil:
			return fmt.Errorf("layer: %w", err)
		case e.IsDir() && di.IsDir():
			if err := mergeInto(s, d); err != nil {
				return err
			}
		default:
			return fmt.Errorf("layer: %s and %s are the same path in the build root; two BuildRequires packages conflict", s, d)
		}
	}
	return os.Remove(src)
}
