// Package jail runs the programs of the bundle being made — its freshly
// built Python (pip, sdist builds, compileall, the lock's resolver) and the
// recipe's checks — without letting them touch the host: bubblewrap with
// the host's file system read-only, a private /tmp, new pid, ipc, uts and
// network namespaces (the network only when asked for: pip's index), and,
// when bundle runs as root, as an unprivileged user (setpriv, no
// capabilities, no_new_privs). Only the directories a command must write
// are writable; when dropping to the jail user they are lent to it (owned
// by it for the run, given back afterwards).
//
// A Runner wraps the one runner of bundle/runner, so every command is
// still logged with its duration, exit status and log tail.
package jail

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/bundle-dev/bundle/bundle/runner"
)

// UID and GID are the unprivileged user jailed commands run as when bundle
// runs as root: no account on the host has them (the sandbox builder's
// build user has the same ids inside its rootfs).
const (
	UID = 1999999
	GID = 1999999
)

// Jail says what a jailed command may reach.
type Jail struct {
	// Writable are host directories the command writes (bound read-write
	// at the same path). When bundle is root they are lent to the jail
	// user for the run: chowned to it, and back to root afterwards.
	Writable []string
	// Readable are host paths the command reads: everything is readable
	// anyway, but these are also bound at the same path so that they stay
	// reachable below a private (0700) parent such as /root.
	Readable []string
	// Network keeps the host's network (pip's index); otherwise the
	// command has only a loopback device.
	Network bool
	// UID and GID override the user a root bundle drops to (0: UID, GID).
	UID, GID int
}

// privileged reports whether the jail drops from root to its user.
func privileged() bool { return os.Geteuid() == 0 }

func (j Jail) ids() (int, int) {
	uid, gid := j.UID, j.GID
	if uid == 0 {
		uid = UID
	}
	if gid == 0 {
		gid = GID
	}
	return uid, gid
}

// private are the host directories every jail replaces with an empty
// tmpfs: another user's temporary files are none of a jailed command's
// business, and /tmp is its own, writable scratch.
var private = []string{"/tmp", "/var/tmp", "/dev/shm"}

// Prefix returns the command line that runs a command in the jail: the
// program and its arguments follow it. dir is the working directory
// inside ("" = /).
func (j Jail) Prefix(dir string) ([]string, error) {
	bwrap, err := exec.LookPath("bwrap")
	if err != nil {
		return nil, errors.New("jail: bwrap is missing (install package bubblewrap): the bundle's programs never run on the host without it")
	}
	a := []string{bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"}
	for _, p := range private {
		a = append(a, "--perms", "1777", "--tmpfs", p)
	}
	drop := privileged()
	binds, err := j.binds(drop)
	if err != nil {
		return nil, err
	}
	a = append(a, binds...)
	a = append(a, "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try")
	if !j.Network {
		a = append(a, "--unshare-net")
	}
	a = append(a, "--die-with-parent", "--new-session")
	if dir != "" {
		a = append(a, "--chdir", dir)
	}
	if drop {
		uid, gid := j.ids()
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			return nil, errors.New("jail: setpriv is missing (install package util-linux)")
		}
		// setpriv needs these two to become the jail user; it then drops
		// every capability for good.
		a = append(a, "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--",
			setpriv, "--reuid="+strconv.Itoa(uid), "--regid="+strconv.Itoa(gid), "--clear-groups",
			"--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--")
	} else {
		// The calling user, in a user namespace, without capabilities.
		a = append(a, "--unshare-user", "--cap-drop", "ALL", "--")
	}
	return a, nil
}

// binds renders the writable and readable binds. A path below a private
// tmpfs, or below a directory the jail user cannot search (mode without
// o+x, when dropping privileges), gets that directory replaced by a tmpfs
// holding only the chain of directories down to the bind.
func (j Jail) binds(drop bool) ([]string, error) {
	type mount struct {
		path string
		rw   bool
	}
	var ms []mount
	for _, p := range j.Writable {
		ms = append(ms, mount{p, true})
	}
	for _, p := range j.Readable {
		ms = append(ms, mount{p, false})
	}
	// Paths resolved first: a readable path inside a writable one needs no
	// bind of its own (it would make that part read-only).
	var a []string
	masked := map[string]bool{}
	made := map[string]bool{}
	for i := range ms {
		abs, err := filepath.Abs(ms[i].path)
		if err != nil {
			return nil, fmt.Errorf("jail: %w", err)
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return nil, fmt.Errorf("jail: %s: %w", ms[i].path, err)
		}
		ms[i].path = real
	}
	ms = slices.DeleteFunc(ms, func(m mount) bool {
		if m.rw {
			return false
		}
		for _, w := range ms {
			if w.rw && (m.path == w.path || strings.HasPrefix(m.path, w.path+"/")) {
				return true
			}
		}
		return false
	})
	// Parents first, so a bind inside another bind lands on top of it.
	slices.SortStableFunc(ms, func(x, y mount) int { return strings.Count(x.path, "/") - strings.Count(y.path, "/") })
	for _, m := range ms {
		if m.path == "/" {
			return nil, errors.New("jail: / cannot be a bind")
		}
		if drop && !m.rw {
			if fi, err := os.Stat(m.path); err == nil && fi.IsDir() && fi.Mode().Perm()&0o005 != 0o005 {
				return nil, fmt.Errorf("jail: %s (mode %04o) is not readable by other users, and the bundle's programs run as an unprivileged user: chmod o+rx %s", m.path, fi.Mode().Perm(), m.path)
			}
		}
		mask := ""
		for d := filepath.Dir(m.path); d != "/"; d = filepath.Dir(d) {
			if slices.Contains(private, d) {
				mask = d
				continue
			}
			if drop {
				if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
					mask = d
				}
			}
		}
		if mask != "" {
			if !masked[mask] && !slices.Contains(private, mask) {
				a = append(a, "--perms", "0755", "--tmpfs", mask)
			}
			masked[mask] = true
			rel, _ := filepath.Rel(mask, filepath.Dir(m.path))
			cur := mask
			for _, c := range strings.Split(rel, "/") {
				if c == "." {
					continue
				}
				cur = filepath.Join(cur, c)
				if !made[cur] {
					a = append(a, "--perms", "0755", "--dir", cur)
					made[cur] = true
				}
			}
		}
		if m.rw {
			a = append(a, "--bind", m.path, m.path)
		} else {
			a = append(a, "--ro-bind", m.path, m.path)
		}
	}
	return a, nil
}

// Runner runs commands in a Jail through another runner.
type Runner struct {
	Runner runner.Runner // logs and runs bwrap (default runner.Default)
	Jail   Jail
}

// Run runs c in the jail: c.Dir becomes the working directory inside;
// c.Env passes through. The writable directories are lent to the jail
// user for the run.
func (r Runner) Run(ctx context.Context, c runner.Cmd) (res runner.Result, err error) {
	inner := r.Runner
	if inner == nil {
		inner = runner.Default
	}
	prefix, err := r.Jail.Prefix(c.Dir)
	if err != nil {
		return runner.Result{}, err
	}
	if privileged() {
		uid, gid := r.Jail.ids()
		if err := chownTrees(r.Jail.Writable, uid, gid); err != nil {
			return runner.Result{}, fmt.Errorf("jail: lend %s to the jail user: %w", strings.Join(r.Jail.Writable, ", "), err)
		}
		defer func() {
			if cerr := chownTrees(r.Jail.Writable, os.Geteuid(), os.Getegid()); cerr != nil && err == nil {
				err = fmt.Errorf("jail: take %s back from the jail user: %w", strings.Join(r.Jail.Writable, ", "), cerr)
			}
		}()
	}
	argv := append(prefix, c.Name)
	c.Name, c.Args = argv[0], append(argv[1:], c.Args...)
	return inner.Run(ctx, c)
}

// chownTrees gives every entry under the roots to uid:gid, never following
// a symlink (the jailed command may have made any).
func chownTrees(roots []string, uid, gid int) error {
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, gid)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
