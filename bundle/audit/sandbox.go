package audit

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/bundle-dev/bundle/bundle/relocate/bundlepath"
	"github.com/bundle-dev/bundle/bundle/relocate/elfdeps"
	"github.com/bundle-dev/bundle/bundle/runner"
)

// basicTools are the host programs the declared checks may use besides
// the bundle's: a shell and the basic utilities, never an interpreter or
// compiler the bundle should bring itself.
var basicTools = []string{
	"sh", "bash", "dash", "env", "dirname", "basename", "readlink", "realpath", "cat", "ls", "grep", "egrep", "fgrep",
	"sed", "awk", "head", "tail", "wc", "sort", "uniq", "tr", "cut", "mkdir", "rmdir", "rm", "cp", "mv", "ln",
	"touch", "pwd", "id", "whoami", "uname", "true", "false", "sleep", "find", "xargs", "date", "expr", "printf",
	"test", "[", "echo", "diff", "cmp", "tee", "mktemp", "chmod", "stat", "timeout", "du", "df", "md5sum",
	"sha256sum", "gzip", "zcat", "tar", "od", "seq", "hostname",
}

// sandbox says how commands that run bundle code are started: as whom,
// where the bundle is, with which environment.
type sandbox struct {
	label   string   // "" on the host, "rootfs"
	sysroot string   // "/" or the root filesystem's host path
	top     string   // the bundle's top as the commands see it
	decoys  string   // the decoy directory as the commands see it
	prefix  []string // argv before the command: setpriv, bwrap
	env     []string
	dir     string // working directory (host path)
	run     runner.Runner
	logDir  string
	workers int // loader listings run at once
}

// cmd returns the runner command for argv inside the sandbox.
func (s *sandbox) cmd(name string, argv ...string) runner.Cmd {
	full := append(slices.Clone(s.prefix), argv...)
	log := ""
	if s.logDir != "" {
		log = filepath.Join(s.logDir, sanitize(s.label+"-"+name)+".log")
	}
	return runner.Cmd{Name: full[0], Args: full[1:], Env: s.env, Dir: s.dir, Log: log, TailLines: MaxOffenders}
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, strings.TrimPrefix(s, "-"))
}

// nobody returns the unprivileged user's ids.
func nobody() (uid, gid int) {
	uid, gid = 65534, 65534
	if u, err := user.Lookup("nobody"); err == nil {
		if n, err := strconv.Atoi(u.Uid); err == nil {
			uid = n
		}
		if n, err := strconv.Atoi(u.Gid); err == nil {
			gid = n
		}
	}
	return uid, gid
}

// dropArgs is the setpriv command line that becomes uid:gid.
func dropArgs(setpriv string, uid, gid int) []string {
	return []string{setpriv, "--reuid=" + strconv.Itoa(uid), "--regid=" + strconv.Itoa(gid), "--clear-groups", "--no-new-privs", "--"}
}

// findTool returns the path of a basic tool under sysroot (/usr/bin
// first), as seen inside.
func findTool(sysroot, name string) (string, bool) {
	for _, d := range []string{"/usr/bin", "/bin"} {
		p := path.Join(d, name)
		real, err := resolveIn(sysroot, p)
		if err != nil {
			continue
		}
		if fi, err := os.Stat(filepath.Join(sysroot, real)); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// resolveIn resolves p inside sysroot ("/" is the host itself).
func resolveIn(sysroot, p string) (string, error) {
	if sysroot == "/" {
		return filepath.EvalSymlinks(p)
	}
	return bundlepath.ResolveChroot(sysroot, p)
}

// makeHostBin fills dir with symlinks to the basic host tools.
func makeHostBin(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var found []string
	for _, t := range basicTools {
		p, ok := findTool("/", t)
		if !ok {
			continue
		}
		if err := os.Symlink(p, filepath.Join(dir, t)); err != nil {
			return nil, err
		}
		found = append(found, p)
	}
	return found, nil
}

// libDirs are where a root filesystem's libraries are, for every
// architecture bundle supports.
var libDirs = []string{"/lib64", "/usr/lib64", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
	"/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib/powerpc64le-linux-gnu", "/usr/lib/powerpc64le-linux-gnu",
	"/lib/s390x-linux-gnu", "/usr/lib/s390x-linux-gnu", "/lib", "/usr/lib"}

// toolNeeds returns the sonames the programs (paths inside sysroot) load,
// directly or through their libraries.
func toolNeeds(sysroot string, progs []string) map[string]bool {
	needs := map[string]bool{}
	seen := map[string]bool{}
	var visit func(p string)
	visit = func(p string) {
		real, err := resolveIn(sysroot, p)
		if err != nil || seen[real] {
			return
		}
		seen[real] = true
		info, err := elfdeps.Inspect(filepath.Join(sysroot, real))
		if err != nil {
			return
		}
		for _, n := range info.Needed {
			needs[n] = true
			for _, d := range libDirs {
				if _, err := resolveIn(sysroot, path.Join(d, n)); err == nil {
					visit(path.Join(d, n))
					break
				}
			}
		}
	}
	for _, p := range progs {
		visit(p)
	}
	return needs
}

// makeDecoys writes a decoy for every 64-bit soname the bundle needs or
// provides except the base libraries and what the tools load. It returns
// how many it wrote and the sonames it left out for the tools.
func makeDecoys(dir string, set *elfSet, base []string, toolLibs map[string]bool) (int, []string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, nil, err
	}
	written := map[string]bool{}
	var spared []string
	for k, names := range set.sonames {
		if k.class != elf.ELFCLASS64 {
			continue
		}
		for n := range names {
			if slices.Contains(base, n) || written[n] || strings.Contains(n, "/") {
				continue
			}
			if toolLibs[n] {
				if !slices.Contains(spared, n) {
					spared = append(spared, n)
				}
				continue
			}
			if err := writeDecoy(dir, n, k.machine); err != nil {
				return 0, nil, err
			}
			written[n] = true
		}
	}
	slices.Sort(spared)
	return len(written), spared, nil
}

// nativeMachine is the ELF machine of the host's programs.
func nativeMachine() (elf.Machine, bool) {
	switch runtime.GOARCH {
	case "amd64":
		return elf.EM_X86_64, true
	case "arm64":
		return elf.EM_AARCH64, true
	case "ppc64le":
		return elf.EM_PPC64, true
	case "s390x":
		return elf.EM_S390, true
	}
	return 0, false
}

// loaders are the usual dynamic loader paths per machine.
var loaders = map[elf.Machine][]string{
	elf.EM_X86_64:  {"/lib64/ld-linux-x86-64.so.2"},
	elf.EM_AARCH64: {"/lib/ld-linux-aarch64.so.1"},
	elf.EM_PPC64:   {"/lib64/ld64.so.2"},
	elf.EM_S390:    {"/lib/ld64.so.1"},
}

// loader returns the dynamic loader to list with inside sysroot: the
// interpreter most of the bundle's programs name, else the usual one.
func loader(sysroot string, set *elfSet, m elf.Machine) (string, error) {
	count := map[string]int{}
	for _, f := range set.files {
		if f.info.Machine == m && f.info.Interp != "" {
			count[f.info.Interp]++
		}
	}
	cands := slices.Clone(loaders[m])
	for interp := range count {
		cands = append(cands, interp)
	}
	slices.SortStableFunc(cands, func(a, b string) int { return count[b] - count[a] })
	for _, c := range cands {
		if _, err := resolveIn(sysroot, c); err == nil {
			return c, nil
		}
	}
	return "", fmt.Errorf("no dynamic loader for %v in %s (tried %s)", m, sysroot, strings.Join(cands, ", "))
}

// lookPath finds a host program.
func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s is needed to run the checks: %w", name, err)
	}
	return p, nil
}
