package mockrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/bundle-dev/bundle/bundle/flock"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/platforms"
)

// rootfsFormat is bumped whenever the way a rootfs is made changes (the
// variant, the hooks, the build user), so old caches are not reused.
const rootfsFormat = 2

// Build user inside the sandbox: rpmbuild never runs as root, like mock's
// mockbuild user. Its id is no login user's on the host (so no host user
// can signal, trace or write for the build) and stays below 2097151, the
// largest id a ustar archive holds (automake's dist-ustar checks it).
const (
	buildUID  = 1999999
	buildGID  = 1999999
	buildUser = "builder"
	buildHome = "/builddir"
)

// RootfsDef is everything that determines a sandbox rootfs. Its hash names
// the cache directory.
type RootfsDef struct {
	Format   int      `json:"format"`
	Suite    string   `json:"suite"`
	Mirror   string   `json:"mirror"`
	Snapshot string   `json:"snapshot,omitempty"`
	Arch     string   `json:"arch"` // Debian architecture (amd64)
	Variant  string   `json:"variant"`
	Packages []string `json:"packages"` // sorted, unique
	// Unprivileged rootfs are made as a tarball in a user namespace and
	// unpacked owned by the calling user.
	Unprivileged bool `json:"unprivileged,omitempty"`
}

// rootfsDef derives the rootfs definition from a platform.
func rootfsDef(p *platforms.Platform, extra []string, unprivileged bool) (RootfsDef, error) {
	sb := p.Builder.Sandbox
	if sb == nil {
		return RootfsDef{}, fmt.Errorf("platform %s: no sandbox section", p.Name)
	}
	arch, err := debianArch(p.Arch)
	if err != nil {
		return RootfsDef{}, fmt.Errorf("platform %s: %w", p.Name, err)
	}
	if sb.Snapshot != "" {
		if _, err := snapshotTime(sb.Snapshot); err != nil {
			return RootfsDef{}, fmt.Errorf("platform %s: builder.sandbox.snapshot: %w", p.Name, err)
		}
	}
	seen := map[string]bool{}
	var pkgs []string
	for _, list := range [][]string{sb.Packages, extra} {
		for _, pkg := range list {
			if pkg == "" || strings.ContainsAny(pkg, " \t\n,'\"\\") {
				return RootfsDef{}, fmt.Errorf("platform %s: %q is not a Debian package name", p.Name, pkg)
			}
			if !seen[pkg] {
				seen[pkg] = true
				pkgs = append(pkgs, pkg)
			}
		}
	}
	sort.Strings(pkgs)
	return RootfsDef{
		Format:       rootfsFormat,
		Suite:        sb.Suite,
		Mirror:       strings.TrimRight(sb.Mirror, "/"),
		Snapshot:     sb.Snapshot,
		Arch:         arch,
		Variant:      "buildd",
		Packages:     pkgs,
		Unprivileged: unprivileged,
	}, nil
}

// Digest is the hex sha256 of the definition.
func (d RootfsDef) Digest() string { return hashJSON(d) }

// debianArch maps an RPM architecture to Debian's name for it.
func debianArch(rpmArch string) (string, error) {
	switch rpmArch {
	case "x86_64":
		return "amd64", nil
	case "aarch64":
		return "arm64", nil
	case "i686", "i586", "i386":
		return "i386", nil
	case "ppc64le":
		return "ppc64el", nil
	case "s390x":
		return "s390x", nil
	case "riscv64":
		return "riscv64", nil
	}
	return "", fmt.Errorf("arch %q has no Debian equivalent known to the sandbox builder", rpmArch)
}

// snapshotTime parses a snapshot.debian.org timestamp (20250520T000000Z).
func snapshotTime(s string) (time.Time, error) {
	t, err := time.Parse("20060102T150405Z", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a snapshot.debian.org timestamp like 20250520T000000Z", s)
	}
	return t, nil
}

// mmdebstrapArgs is the mmdebstrap command line that makes the rootfs of d
// at target (a directory, or a tarball when unprivileged).
func mmdebstrapArgs(d RootfsDef, target string) []string {
	args := []string{
		"--variant=" + d.Variant,
		"--architectures=" + d.Arch,
		"--components=main",
	}
	if d.Unprivileged {
		args = append(args, "--mode=unshare", "--format=tar")
	} else {
		args = append(args, "--mode=root", "--format=directory")
	}
	if len(d.Packages) > 0 {
		args = append(args, "--include="+strings.Join(d.Packages, ","))
	}
	mirror := d.Mirror
	if d.Snapshot != "" {
		// Old snapshots carry expired Valid-Until fields.
		args = append(args, `--aptopt=Acquire::Check-Valid-Until "false"`)
		archive := mirror[strings.LastIndex(mirror, "/")+1:]
		mirror = "http://snapshot.debian.org/archive/" + archive + "/" + d.Snapshot + "/"
	}
	// No documentation: nothing builds against it and it is most of the
	// rootfs's files.
	args = append(args,
		"--dpkgopt=path-exclude=/usr/share/man/*",
		"--dpkgopt=path-exclude=/usr/share/doc/*",
		"--dpkgopt=path-include=/usr/share/doc/*/copyright",
		d.Suite, target, mirror)
	return args
}

// rootfsEnv is the environment mmdebstrap runs with: the clean one plus the
// proxy settings apt needs to reach the mirror, and SOURCE_DATE_EPOCH from
// the snapshot so a pinned rootfs is reproducible.
func rootfsEnv(d RootfsDef) []string {
	var extra []string
	for _, k := range []string{"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"} {
		if v, ok := os.LookupEnv(k); ok {
			extra = append(extra, k+"="+v)
		}
	}
	env := runner.CleanEnv(extra...)
	if d.Snapshot != "" {
		t, _ := snapshotTime(d.Snapshot)
		env = setEnv(env, "SOURCE_DATE_EPOCH", strconv.FormatInt(t.Unix(), 10))
	}
	return env
}

// setEnv replaces or appends k=v in env.
func setEnv(env []string, k, v string) []string {
	out := make([]string, 0, len(env)+1)
	for _, e := range env {
		if !strings.HasPrefix(e, k+"=") {
			out = append(out, e)
		}
	}
	return append(out, k+"="+v)
}

// rootfsCache is the cache layout: CacheDir/rootfs/<digest>/{root/,
// definition.json, packages.txt}, made in CacheDir/rootfs/.tmp-<digest>-*
// and renamed into place under CacheDir/rootfs/<digest>.lock.
type rootfsCache struct {
	dir    string // CacheDir/rootfs
	digest string
}

func (c rootfsCache) final() string    { return filepath.Join(c.dir, c.digest) }
func (c rootfsCache) root() string     { return filepath.Join(c.final(), "root") }
func (c rootfsCache) lockPath() string { return filepath.Join(c.dir, c.digest+".lock") }
func (c rootfsCache) logPath() string  { return filepath.Join(c.dir, c.digest+".log") }

// ready reports whether a complete rootfs for d is in the cache.
func (c rootfsCache) ready(d RootfsDef) bool {
	data, err := os.ReadFile(filepath.Join(c.final(), "definition.json"))
	if err != nil {
		return false
	}
	var got RootfsDef
	if json.Unmarshal(data, &got) != nil || got.Digest() != d.Digest() {
		return false
	}
	_, err = os.Lstat(filepath.Join(c.root(), "usr", "bin", "rpmbuild"))
	return err == nil
}

// ensureRootfs returns the root of the cached rootfs for d, making it first
// when missing. make is called with the directory to fill (it holds the
// lock); the result is renamed into place only when make succeeds.
func ensureRootfs(ctx context.Context, c rootfsCache, d RootfsDef, make func(ctx context.Context, tmp string) error) (string, error) {
	if c.ready(d) {
		return c.root(), nil
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return "", fmt.Errorf("rootfs cache %s: %w", c.dir, err)
	}
	unlock, err := flock.Lock(ctx, c.lockPath())
	if err != nil {
		return "", fmt.Errorf("rootfs cache: %w", err)
	}
	defer unlock()
	if c.ready(d) { // made by another process while we waited
		return c.root(), nil
	}
	// We hold the lock: leftovers of interrupted attempts are ours to remove.
	old, _ := filepath.Glob(filepath.Join(c.dir, ".tmp-"+c.digest+"-*"))
	if _, err := os.Lstat(c.final()); err == nil {
		old = append(old, c.final()) // incomplete
	}
	for _, o := range old {
		if err := removeTree(o); err != nil {
			return "", fmt.Errorf("rootfs cache: remove leftover %s: %w", o, err)
		}
	}
	tmp, err := os.MkdirTemp(c.dir, ".tmp-"+c.digest+"-")
	if err != nil {
		return "", fmt.Errorf("rootfs cache: %w", err)
	}
	if err := make(ctx, tmp); err != nil {
		if rerr := removeTree(tmp); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove %s: %w", tmp, rerr))
		}
		return "", err
	}
	def, _ := json.MarshalIndent(d, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "definition.json"), append(def, '\n'), 0o644); err != nil {
		removeTree(tmp)
		return "", fmt.Errorf("rootfs cache: %w", err)
	}
	if err := os.Rename(tmp, c.final()); err != nil {
		removeTree(tmp)
		return "", fmt.Errorf("rootfs cache: %w", err)
	}
	return c.root(), nil
}

// removeTree removes a tree, first making its directories writable (an
// unprivileged rootfs has read-only directories its owner may still
// change).
func removeTree(path string) error {
	if err := os.RemoveAll(path); err == nil {
		return nil
	}
	filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(path)
}

// addBuildUser gives the rootfs the unprivileged build user and its home.
func addBuildUser(root string, owned bool) error {
	entries := []struct{ file, line string }{
		{"etc/passwd", fmt.Sprintf("%s:x:%d:%d:bundle build user:%s:/bin/sh", buildUser, buildUID, buildGID, buildHome)},
		{"etc/group", fmt.Sprintf("%s:x:%d:", buildUser, buildGID)},
	}
	for _, e := range entries {
		p := filepath.Join(root, e.file)
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("add build user: %w", err)
		}
		if strings.Contains("\n"+string(data), "\n"+buildUser+":") {
			continue
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			data = append(data, '\n')
		}
		data = append(data, e.line+"\n"...)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("add build user: %w", err)
		}
	}
	home := filepath.Join(root, strings.TrimPrefix(buildHome, "/"))
	if err := os.MkdirAll(home, 0o755); err != nil {
		return fmt.Errorf("add build user: %w", err)
	}
	if owned {
		if err := os.Chown(home, buildUID, buildGID); err != nil {
			return fmt.Errorf("add build user: %w", err)
		}
	}
	return nil
}
