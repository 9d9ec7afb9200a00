package pipfreeze

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bundle-dev/bundle/bundle/runner"
)

// Install installs exactly the files the lock pins into the interpreter's
// own site-packages: `pip install --require-hashes --no-deps
// --force-reinstall --no-build-isolation --no-compile` from a private
// find-links directory holding only the locked files.
//
// It runs in three steps, each one pip run: the pinned wheels (pip,
// setuptools and wheel among them, so that the sdists of the next step
// build with the locked build tools and the bundle's Python), then the
// pinned sdists and direct URLs, then the VCS pins (which pip cannot
// hash-check; they install from their locked commit). pip itself runs from
// the locked pip wheel when there is one, else from the interpreter.
//
// Before running pip, every pin is matched to a file of the offline set by
// sha256: a pin without a file is a *MissingError, a file of the pinned
// version with another digest a *HashMismatchError. With Root set, the
// interpreter must install inside Root; afterwards Root is removed from
// script shebangs (they name the interpreter as the bundle sees it,
// "/usr/bin/python3") and an installed file still naming Root, or lying
// outside it, is an error.
func Install(ctx context.Context, opts Options, lockFile string) error {
	if err := opts.check(); err != nil {
		return fmt.Errorf("install %s: %w", lockFile, err)
	}
	lf, err := ReadLock(lockFile)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	src, err := opts.sourceArgs()
	if err != nil {
		return fmt.Errorf("install %s: %w", lockFile, err)
	}
	in, err := inspect(ctx, opts)
	if err != nil {
		return fmt.Errorf("install %s: %w", lockFile, err)
	}
	root, err := checkRoot(opts.Root, in)
	if err != nil {
		return fmt.Errorf("install %s: %w", lockFile, err)
	}
	dists, err := ScanOffline(ctx, opts.FindLinks)
	if err != nil {
		return fmt.Errorf("install %s: %w", lockFile, err)
	}
	var local []Pin // hashed pins to find in the offline set
	for _, p := range lf.Pins {
		if p.URL == "" {
			local = append(local, p)
		}
	}
	// With an index, pins not in find-links come from the index, where
	// pip checks their hashes.
	chosen, err := choose(local, dists, opts.FindLinks)
	if err != nil && opts.IndexURL == "" {
		return fmt.Errorf("install %s: %w", lockFile, err)
	}

	tmp, err := mkTemp("install")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	links := filepath.Join(tmp, "links")
	if err := os.Mkdir(links, 0o755); err != nil {
		return fmt.Errorf("install %s: %w", lockFile, err)
	}
	for _, name := range sortedKeys(chosen) {
		d := chosen[name]
		if err := os.Symlink(d.Path, filepath.Join(links, filepath.Base(d.Path))); err != nil {
			return fmt.Errorf("install %s: %w", lockFile, err)
		}
	}

	// Split the pins into the three steps.
	var wheels, sdists, vcs []Pin
	for _, p := range lf.Pins {
		switch d, ok := chosen[p.Name]; {
		case p.IsVCS():
			vcs = append(vcs, p)
		case ok && d.Wheel:
			wheels = append(wheels, p)
		default:
			sdists = append(sdists, p)
		}
	}
	pipWheel := ""
	if d, ok := chosen["pip"]; ok && d.Wheel {
		pipWheel = filepath.Join(links, filepath.Base(d.Path))
	}
	pip, err := pipCommand(ctx, opts, in.HasPip, pipWheel)
	if err != nil {
		return fmt.Errorf("install %s: %w", lockFile, err)
	}

	common := []string{"install", "--no-deps", "--force-reinstall", "--no-build-isolation", "--no-compile",
		"--no-cache-dir", "--disable-pip-version-check", "--no-warn-script-location", "--progress-bar", "off"}
	if opts.IndexURL == "" {
		common = append(common, "--no-index", "--find-links", links)
	} else {
		common = append(common, "--find-links", links)
		common = append(common, src...)
	}
	env, err := opts.stepEnv(tmp)
	if err != nil {
		return fmt.Errorf("install %s: %w", lockFile, err)
	}
	writable := []string{tmp}
	if opts.Root != "" {
		writable = append(writable, opts.Root)
	}
	steps := []struct {
		name   string
		pins   []Pin
		hashed bool
	}{
		{"wheels", wheels, true},
		{"sdists", sdists, true},
		{"vcs", vcs, false},
	}
	for _, s := range steps {
		if len(s.pins) == 0 {
			continue
		}
		reqFile := filepath.Join(tmp, s.name+".txt")
		if err := os.WriteFile(reqFile, requirementsFor(s.pins), 0o644); err != nil {
			return fmt.Errorf("install %s: %w", lockFile, err)
		}
		args := append(append([]string(nil), pip...), common...)
		if s.hashed {
			args = append(args, "--require-hashes")
		}
		args = append(args, "-r", reqFile)
		start := time.Now()
		// sdists build here (setup.py runs): in the jail, writing only
		// the staging root and the step's directory.
		_, err := opts.runnerFor(true, writable, localRepos(requirementsFor(s.pins))...).Run(ctx, runner.Cmd{
			Name: opts.Python, Args: args, Dir: tmp,
			Env: env, Log: opts.logFile("pip-install-" + s.name), TailLines: 200,
		})
		if err != nil {
			return fmt.Errorf("install %s (%s): %w", lockFile, s.name, classifyPipError(err, opts.FindLinks))
		}
		opts.logger().Info("pip installed", "step", s.name, "packages", len(s.pins),
			"duration", time.Since(start).Round(time.Millisecond))
	}
	if root == "" {
		return nil
	}
	names := map[string]bool{}
	for _, p := range lf.Pins {
		names[p.Name] = true
	}
	roots := []string{root}
	if abs, _ := filepath.Abs(opts.Root); abs != root {
		roots = append(roots, abs)
	}
	if err := sanitizeInstalled(roots, in, names); err != nil {
		return fmt.Errorf("install %s: %w", lockFile, err)
	}
	return nil
}

// checkRoot makes sure the interpreter installs inside root and returns
// root cleaned and with symlinks resolved ("" when root is "").
func checkRoot(root string, in *interp) (string, error) {
	if root == "" {
		return "", nil
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("staging root %s: %w", root, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("staging root %s: %w", root, err)
	}
	for _, k := range []string{"purelib", "platlib", "scripts", "data"} {
		p := in.Paths[k]
		rp, err := realPathPrefix(p)
		if err != nil {
			return "", fmt.Errorf("interpreter %s path %s: %w", k, p, err)
		}
		if !within(real, rp) {
			return "", fmt.Errorf("interpreter %s installs %s into %s, outside the staging root %s: "+
				"run the bundle's own Python from inside the root", in.Executable, k, p, root)
		}
	}
	return real, nil
}

// realPathPrefix resolves symlinks in the longest existing prefix of p.
func realPathPrefix(p string) (string, error) {
	p = filepath.Clean(p)
	rest := ""
	for {
		r, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(r, rest), nil
		}
		if !os.IsNotExist(err) {
			return "", err
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", err
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// within reports whether p is root or below it.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

// requirementsFor renders pins as a requirements file for one pip run. VCS
// pins use pip's "git+URL@COMMIT#egg=NAME" form, which pip accepts for every
// URL (its PEP 508 parser refuses "name @ git+file:///path").
func requirementsFor(pins []Pin) []byte {
	var vcs []Pin
	var hashed LockFile
	for _, p := range pins {
		if p.IsVCS() {
			vcs = append(vcs, p)
		} else {
			hashed.Pins = append(hashed.Pins, p)
		}
	}
	b := hashed.Bytes()
	for _, p := range vcs {
		b = append(b, p.URL+"#egg="+p.Name+"\n"...)
	}
	return b
}
