package mockrun

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bundle-dev/bundle/bundle/cachedir"
	"github.com/bundle-dev/bundle/bundle/runner"
)

// sandboxFormat is bumped when the way builds run in the sandbox changes
// what they produce (macros, user, layout), so cached builds are redone.
const sandboxFormat = 1

// Paths inside the sandbox.
const (
	sbTopdir = buildHome + "/build"
	sbInput  = buildHome + "/input"
	sbOut    = buildHome + "/out"
)

// Sandbox is the sandbox builder: rpmbuild in a pinned Debian rootfs.
type Sandbox struct {
	opts       Options
	def        RootfsDef
	cache      rootfsCache
	privileged bool

	mu     sync.Mutex
	rootfs string // set once Prepare succeeded
}

// DefaultCacheDir is bundle's cache root (cachedir.Root).
func DefaultCacheDir() (string, error) { return cachedir.Root() }

func newSandbox(opts Options) (*Sandbox, error) {
	if opts.CacheDir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return nil, err
		}
		opts.CacheDir = d
	}
	for _, d := range []*string{&opts.WorkDir, &opts.CacheDir} {
		abs, err := filepath.Abs(*d)
		if err != nil {
			return nil, err
		}
		*d = abs
	}
	privileged := canMount()
	def, err := rootfsDef(opts.Platform, opts.ExtraPackages, !privileged)
	if err != nil {
		return nil, err
	}
	return &Sandbox{
		opts:       opts,
		def:        def,
		cache:      rootfsCache{dir: filepath.Join(opts.CacheDir, "rootfs"), digest: def.Digest()},
		privileged: privileged,
	}, nil
}

// Kind is "sandbox".
func (s *Sandbox) Kind() string { return "sandbox" }

// Digest hashes the rootfs definition and everything the sandbox adds to a
// build (dist, arch, the way rpmbuild is run).
func (s *Sandbox) Digest() string {
	return hashJSON(struct {
		Kind   string `json:"kind"`
		Format int    `json:"format"`
		Rootfs string `json:"rootfs"`
		Dist   string `json:"dist"`
		Arch   string `json:"arch"`
	}{"sandbox", sandboxFormat, s.def.Digest(), s.opts.Platform.Dist, s.opts.Platform.Arch})
}

// Rootfs is the root of the prepared rootfs ("" before Prepare).
func (s *Sandbox) Rootfs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rootfs
}

// RootfsPackages lists the Debian packages installed in the prepared
// rootfs: what BuildRequires no local-repo package provides come from.
func (s *Sandbox) RootfsPackages() ([]DebPackage, error) {
	root := s.Rootfs()
	if root == "" {
		return nil, errors.New("sandbox: rootfs not prepared")
	}
	f, err := os.Open(filepath.Join(root, "var", "lib", "dpkg", "status"))
	if err != nil {
		return nil, fmt.Errorf("sandbox rootfs packages: %w", err)
	}
	defer f.Close()
	return ParseDpkgStatus(f)
}

// Prepare checks the host tools and kernel features and makes the rootfs
// once (cached under CacheDir/rootfs/<digest>, shared across runs and
// processes).
func (s *Sandbox) Prepare(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rootfs != "" {
		return nil
	}
	if err := checkHost(s.privileged); err != nil {
		return fmt.Errorf("sandbox builder: %w", err)
	}
	root, err := ensureRootfs(ctx, s.cache, s.def, s.makeRootfs)
	if err != nil {
		return fmt.Errorf("sandbox rootfs for %s (%s): %w", s.opts.Platform.Name, s.def.Suite, err)
	}
	s.rootfs = root
	return nil
}

// makeRootfs runs mmdebstrap into tmp/root and records the package list.
func (s *Sandbox) makeRootfs(ctx context.Context, tmp string) error {
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		return errors.New("mmdebstrap is missing: install package mmdebstrap")
	}
	if s.def.Unprivileged {
		if err := checkSubids(); err != nil {
			return err
		}
	}
	root := filepath.Join(tmp, "root")
	logPath := s.cache.logPath()
	_ = os.Remove(logPath)
	start := time.Now()
	s.opts.Logger.Info("making sandbox rootfs (once; takes minutes)", "suite", s.def.Suite, "packages", len(s.def.Packages), "cache", s.cache.final(), "log", logPath)
	target := root
	if s.def.Unprivileged {
		target = filepath.Join(tmp, "rootfs.tar")
	}
	if _, err := s.opts.Runner.Run(ctx, runner.Cmd{
		Name: "mmdebstrap", Args: mmdebstrapArgs(s.def, target),
		Env: rootfsEnv(s.def), Log: logPath,
	}); err != nil {
		return fmt.Errorf("mmdebstrap: %w", err)
	}
	if s.def.Unprivileged {
		if err := os.Mkdir(root, 0o755); err != nil {
			return err
		}
		// Unpacked as the calling user, who is root in the build's user
		// namespace; device nodes cannot be made and are not needed
		// (bubblewrap provides /dev).
		if _, err := s.opts.Runner.Run(ctx, runner.Cmd{
			Name: "tar", Args: []string{"-xf", target, "-C", root, "--no-same-owner", "--exclude=./dev/*"},
			Log: logPath,
		}); err != nil {
			return fmt.Errorf("unpack rootfs: %w", err)
		}
		if err := os.Remove(target); err != nil {
			return err
		}
	}
	if err := addBuildUser(root, s.privileged); err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(root, "var", "lib", "dpkg", "status"))
	if err != nil {
		return fmt.Errorf("rootfs package list: %w", err)
	}
	pkgs, err := ParseDpkgStatus(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("rootfs package list: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "packages.txt"), formatPackageList(pkgs), 0o644); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "usr", "bin", "rpmbuild")); err != nil {
		return errors.New("the rootfs has no /usr/bin/rpmbuild: add package rpm to builder.sandbox.packages")
	}
	s.opts.Logger.Info("sandbox rootfs ready", "packages", len(pkgs), "duration", time.Since(start).Round(time.Second))
	return nil
}

// scratch is one job's private directories under WorkDir/sandbox/<id>.
type scratch struct {
	dir                                    string
	upper, work, merged, layer, input, out string
	inputSrc                               string // bound at /builddir/input instead of input when set
}

func (s *Sandbox) newScratch(id string) (*scratch, error) {
	dir := filepath.Join(s.opts.WorkDir, "sandbox", id)
	if err := removeTree(dir); err != nil { // a previous attempt's leftovers
		return nil, fmt.Errorf("sandbox scratch %s: %w", dir, err)
	}
	// Private: only root (and the build through its bind mounts) reaches
	// the overlay layers and the output.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox scratch: %w", err)
	}
	sc := &scratch{dir: dir}
	sc.upper, sc.work, sc.merged = filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	sc.layer, sc.input, sc.out = filepath.Join(dir, "layer"), filepath.Join(dir, "input"), filepath.Join(dir, "out")
	for _, d := range []string{sc.upper, sc.work, sc.merged, sc.layer, sc.input, sc.out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("sandbox scratch: %w", err)
		}
	}
	if s.privileged {
		// rpmbuild runs as the build user and writes its packages here.
		if err := os.Chown(sc.out, buildUID, buildGID); err != nil {
			return nil, fmt.Errorf("sandbox scratch: %w", err)
		}
	}
	return sc, nil
}

func (sc *scratch) remove() error { return removeTree(sc.dir) }

// run runs argv in the sandbox on the scratch's overlay; what names the
// work for errors ("sandbox build of foo"). The sandbox sees sc.input (or
// sc.inputSrc when set) read-only at /builddir/input and sc.out writable at
// /builddir/out; stdout, when not nil, gets a copy of the command's
// standard output (the log has it too).
//
// A failure is a *BuildError carrying the last lines of the log.
func (s *Sandbox) run(ctx context.Context, what string, sc *scratch, withLayer bool, memory int64, id string, argv []string, log string, stdout io.Writer) error {
	lower := []string{s.Rootfs()}
	if withLayer {
		lower = append([]string{sc.layer}, lower...)
	}
	input := sc.input
	if sc.inputSrc != "" {
		input = sc.inputSrc
	}
	r := sandboxRun{
		Lower: lower, Upper: sc.upper, Work: sc.work, Merged: sc.merged,
		Binds: []bind{
			{Src: input, Dst: sbInput},
			{Src: sc.out, Dst: sbOut, RW: true},
		},
		Privileged: s.privileged,
		Env:        sandboxEnv(),
		Dir:        buildHome,
		Argv:       argv,
	}
	var cg *memCgroup
	if memory > 0 {
		var err error
		if s.privileged {
			cg, err = newMemCgroup(id, memory)
		} else {
			err = errors.New("not root")
		}
		if err != nil {
			s.opts.Logger.Debug("memory cgroup unavailable; capping address space per process instead", "reason", err)
			r.RlimitAS = memory
		} else {
			r.Cgroup = cg.Dir
			defer func() {
				if err := cg.remove(); err != nil {
					s.opts.Logger.Warn("sandbox", "err", err)
				}
			}()
		}
	}
	name, args, err := r.command()
	if err != nil {
		return err
	}
	_, err = s.opts.Runner.Run(ctx, runner.Cmd{Name: name, Args: args, Log: log, Stdout: stdout})
	if err == nil {
		return nil
	}
	be := &BuildError{What: what, Log: log, Err: err}
	if cg != nil && cg.oomKills() > 0 {
		be.Hint = fmt.Sprintf("it ran out of its memory cap of %d bytes (raise the job's memory or lower its parallelism)", memory)
	}
	if re := (*runner.Error)(nil); errors.As(err, &re) {
		be.Tail = re.Tail
		be.Stage = rpmbuildStage(re.Tail)
		if be.Hint == "" {
			be.Hint = setupHint(re.Tail)
		}
	}
	return be
}

// rpmbuildDefines are the macros every sandbox rpmbuild gets.
func (s *Sandbox) rpmbuildDefines(jobs int) []string {
	d := []string{
		"--define", "_topdir " + sbTopdir,
		"--define", "_rpmdir " + sbOut + "/RPMS",
		"--define", "_srcrpmdir " + sbOut + "/SRPMS",
		"--define", "_smp_build_ncpus " + strconv.Itoa(jobs),
		"--define", "_smp_mflags -j" + strconv.Itoa(jobs),
		"--define", "_buildhost bundle-sandbox",
	}
	if s.opts.Platform.Dist != "" {
		d = append(d, "--define", "dist "+s.opts.Platform.Dist)
	}
	if _, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok {
		// Reproducible packages: build time and file times from
		// SOURCE_DATE_EPOCH (runner.CleanEnv passes it into the sandbox).
		d = append(d,
			"--define", "use_source_date_epoch_as_buildtime 1",
			"--define", "clamp_mtime_to_source_date_epoch 1")
	}
	return d
}

// rebuildArgv is the rpmbuild command line for job inside the sandbox:
// -ra rebuilds the binary packages and the source package (with the
// platform's %dist); --nodeps because BuildRequires come from the layer
// and the rootfs's Debian packages, not from an rpm database.
func (s *Sandbox) rebuildArgv(job Job) []string {
	argv := []string{"rpmbuild", "-ra", "--nodeps"}
	argv = append(argv, s.rpmbuildDefines(job.Jobs)...)
	for _, k := range sortedKeys(job.Defines) {
		argv = append(argv, "--define", k+" "+job.Defines[k])
	}
	for _, w := range job.With {
		argv = append(argv, "--with", w)
	}
	for _, w := range job.Without {
		argv = append(argv, "--without", w)
	}
	return append(argv, sbInput+"/"+filepath.Base(job.SRPM))
}

// Build rebuilds job.SRPM in the sandbox.
func (s *Sandbox) Build(ctx context.Context, job Job) (*Result, error) {
	start := time.Now()
	if err := checkJob(&job); err != nil {
		return nil, fmt.Errorf("sandbox build: %w", err)
	}
	if err := s.Prepare(ctx); err != nil {
		return nil, err
	}
	if err := prepareDirs(job); err != nil {
		return nil, fmt.Errorf("sandbox build: %w", err)
	}
	if len(job.BuildRequires) > 0 && s.opts.Extract == nil {
		return nil, fmt.Errorf("sandbox build %s: the job has BuildRequires but the builder has no Extract function", job.Name)
	}
	sc, err := s.newScratch(job.ID)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := sc.remove(); err != nil {
			s.opts.Logger.Warn("sandbox: scratch not removed", "dir", sc.dir, "err", err)
		}
	}()
	if err := copyFile(job.SRPM, filepath.Join(sc.input, filepath.Base(job.SRPM)), 0o644); err != nil {
		return nil, fmt.Errorf("sandbox build %s: stage source RPM: %w", job.Name, err)
	}
	if len(job.BuildRequires) > 0 {
		if err := s.opts.Extract(ctx, sc.layer, job.BuildRequires); err != nil {
			return nil, fmt.Errorf("sandbox build %s: extract BuildRequires into the layer: %w", job.Name, err)
		}
		if err := layerFix(sc.layer, s.Rootfs()); err != nil {
			return nil, fmt.Errorf("sandbox build %s: %w", job.Name, err)
		}
	}
	log := filepath.Join(job.LogDir, "build.log")
	if err := s.run(ctx, "sandbox build of "+job.Name+" ("+filepath.Base(job.SRPM)+")", sc, len(job.BuildRequires) > 0, job.MemoryBytes, job.ID, s.rebuildArgv(job), log, nil); err != nil {
		return nil, err
	}
	res := &Result{Logs: []string{log}}
	if err := collect(sc.out, job.ResultDir, res); err != nil {
		return nil, fmt.Errorf("sandbox build %s: %w", job.Name, err)
	}
	if len(res.RPMs) == 0 && len(res.SRPMs) == 0 {
		return nil, fmt.Errorf("sandbox build %s: rpmbuild succeeded but wrote no packages (log: %s)", job.Name, log)
	}
	res.Duration = time.Since(start)
	return res, nil
}

// collect copies the packages under out to resultDir (flat) and records
// them in res.
func collect(out, resultDir string, res *Result) error {
	var found []string
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(d.Name(), ".rpm") {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("collect packages: %w", err)
	}
	sort.Slice(found, func(i, j int) bool { return filepath.Base(found[i]) < filepath.Base(found[j]) })
	for _, p := range found {
		dst := filepath.Join(resultDir, filepath.Base(p))
		if _, err := os.Lstat(dst); err == nil {
			return fmt.Errorf("collect packages: two packages named %s", filepath.Base(p))
		}
		if err := copyFile(p, dst, 0o644); err != nil {
			return fmt.Errorf("collect packages: %w", err)
		}
		if isSRPM(dst) {
			res.SRPMs = append(res.SRPMs, dst)
		} else {
			res.RPMs = append(res.RPMs, dst)
		}
	}
	return nil
}

// BuildSRPM runs `rpmbuild -bs` on spec with its sources and patches in the
// sandbox and returns the source RPM's path in outDir.
func (s *Sandbox) BuildSRPM(ctx context.Context, spec string, files []string, outDir, logDir string) (string, error) {
	if err := s.Prepare(ctx); err != nil {
		return "", err
	}
	name := strings.TrimSuffix(filepath.Base(spec), ".spec")
	id, err := randomID("srpm")
	if err != nil {
		return "", fmt.Errorf("build SRPM %s: %w", name, err)
	}
	sc, err := s.newScratch(id)
	if err != nil {
		return "", err
	}
	defer sc.remove()
	if err := stageSources(spec, files, sc.input); err != nil {
		return "", fmt.Errorf("build SRPM %s: %w", name, err)
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return "", fmt.Errorf("build SRPM %s: %w", name, err)
	}
	argv := []string{"rpmbuild", "-bs", "--nodeps"}
	argv = append(argv, s.rpmbuildDefines(1)...)
	argv = append(argv, "--define", "_sourcedir "+sbInput, "--define", "_specdir "+sbInput, sbInput+"/"+filepath.Base(spec))
	log := filepath.Join(logDir, "buildsrpm.log")
	if err := s.run(ctx, "sandbox buildsrpm of "+filepath.Base(spec), sc, false, 0, id, argv, log, nil); err != nil {
		return "", err
	}
	return collectOneSRPM(sc.out, outDir, spec)
}

// randomID is a fresh scratch name for work that has no job ID.
func randomID(prefix string) (string, error) {
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	return prefix + "-" + hex.EncodeToString(rnd[:]), nil
}

// QuerySpec runs `rpmspec ARGS SPEC` in the sandbox, on the rootfs alone,
// as the unprivileged build user with no network: the spec's directory is
// bound read-only at /builddir/input, and whatever the spec's macros run
// (%(...), %{lua:...}) runs there, writing at most to the scratch overlay
// that is thrown away. One sandbox start per query: unshare, an overlay
// mount and bubblewrap, a fraction of a second.
func (s *Sandbox) QuerySpec(ctx context.Context, spec string, args []string, logDir string) ([]byte, error) {
	if err := s.Prepare(ctx); err != nil {
		return nil, err
	}
	id, err := randomID("query")
	if err != nil {
		return nil, fmt.Errorf("query spec %s: %w", spec, err)
	}
	sc, err := s.newScratch(id)
	if err != nil {
		return nil, err
	}
	defer sc.remove()
	sc.inputSrc = filepath.Dir(spec)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("query spec %s: %w", spec, err)
	}
	argv := append(append([]string{"rpmspec"}, args...), sbInput+"/"+filepath.Base(spec))
	var out bytes.Buffer
	if err := s.run(ctx, "sandbox rpmspec query of "+filepath.Base(spec), sc, false, 0, id, argv, filepath.Join(logDir, "rpmspec.log"), &out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// stageSources copies the spec and its files into dir; two inputs with one
// base name are refused (rpmbuild looks sources up by base name).
func stageSources(spec string, files []string, dir string) error {
	seen := map[string]string{}
	for _, f := range append([]string{spec}, files...) {
		base := filepath.Base(f)
		if prev, ok := seen[base]; ok {
			return fmt.Errorf("%s and %s have the same name %s", prev, f, base)
		}
		seen[base] = f
		st, err := os.Stat(f)
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", f)
		}
		if err := copyFile(f, filepath.Join(dir, base), 0o644); err != nil {
			return fmt.Errorf("stage %s: %w", f, err)
		}
	}
	return nil
}

// collectOneSRPM copies the single source RPM rpmbuild -bs wrote under out
// to outDir.
func collectOneSRPM(out, outDir, spec string) (string, error) {
	var found []string
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && strings.HasSuffix(d.Name(), ".rpm") {
			found = append(found, p)
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("build SRPM from %s: %w", spec, err)
	}
	if len(found) != 1 || !isSRPM(found[0]) {
		return "", fmt.Errorf("build SRPM from %s: expected one source RPM, rpmbuild wrote %d packages", spec, len(found))
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", fmt.Errorf("build SRPM from %s: %w", spec, err)
	}
	dst := filepath.Join(outDir, filepath.Base(found[0]))
	if err := copyFile(found[0], dst, 0o644); err != nil {
		return "", fmt.Errorf("build SRPM from %s: %w", spec, err)
	}
	return dst, nil
}
