package mockrun

import (
	"errors"
	"fmt"
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
