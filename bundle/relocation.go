package bundle

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"

	"github.com/bundle-dev/bundle/bundle/audit"
	"github.com/bundle-dev/bundle/bundle/relocate"
	"github.com/bundle-dev/bundle/platforms"
	"github.com/bundle-dev/bundle/recipes"
)

// BuildRootPaths are the build-root paths of the builders (rpmbuild's
// %_topdir inside the sandbox and mock): none may survive in a bundle.
var BuildRootPaths = []string{"/builddir/build/BUILDROOT", "/builddir/build/BUILD"}

// RootVar is the variable bundlerc exports for a bundle called name when
// the recipe names none: the name upper-cased, other characters as _.
func RootVar(name string) string {
	v := strings.Map(func(r rune) rune {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return unicode.ToUpper(r)
		}
		return '_'
	}, name)
	if v == "" || unicode.IsDigit(rune(v[0])) {
		v = "B_" + v
	}
	return v
}

// EnvOptions are bundlerc's settings for a recipe (nil: defaults for name).
func EnvOptions(r *recipes.Recipe, name string) relocate.EnvOptions {
	o := relocate.EnvOptions{RootVar: RootVar(name)}
	if r == nil {
		return o
	}
	if r.Env.RootVar != "" {
		o.RootVar = r.Env.RootVar
	}
	o.CAFile = r.Env.CAFile
	keys := make([]string, 0, len(r.Env.Vars))
	for k := range r.Env.Vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		o.Extra = append(o.Extra, relocate.EnvVar{Name: k, Value: r.Env.Vars[k]})
	}
	return o
}

// RelocateStage makes the staging tree relocatable ($ORIGIN RPATHs,
// shebang launchers, no build paths) and writes bundlerc at its top.
func RelocateStage(p *platforms.Platform, env relocate.EnvOptions, buildPaths []string, log *slog.Logger) Hook {
	return Hook{Name: "relocate", Run: func(ctx context.Context, in HookInput) (HookOutput, error) {
		root := in.Root
		py := ""
		if _, err := pythonIn(root); err == nil {
			py = "/usr/bin/python3"
			if _, err := os.Stat(filepath.Join(root, py)); err != nil {
				if p, err := pythonIn(root); err == nil {
					py = "/" + strings.TrimPrefix(p, root+"/")
				}
			}
		}
		rep, err := relocate.Relocate(ctx, root, relocate.Options{
			Platform: p, BuildPaths: append(append([]string(nil), BuildRootPaths...), buildPaths...), Python: py, Logger: log,
		})
		if err != nil {
			return HookOutput{}, err
		}
		out := HookOutput{Relocation: rep}
		if len(rep.Unrelocated) > 0 || len(rep.Unresolved) > 0 {
			log.Warn("relocation left work for the audit", "unrelocated", len(rep.Unrelocated), "unresolved", len(rep.Unresolved))
		}
		if _, err := os.Stat(filepath.Join(root, "usr/share/terminfo")); err == nil && env.TerminfoDirs == nil {
			env.TerminfoDirs = []string{"/usr/share/terminfo"}
		}
		return out, relocate.WriteEnvScript(root, env)
	}}
}

// TestOptions say what `bundle test` checks.
type TestOptions struct {
	Target   string
	Platform *platforms.Platform
	Recipe   *recipes.Recipe // optional: its checks and root variable
	RootVar  string
	RootFS   string
	// Checks run besides the recipe's (`bundle test --check`, or the
	// manifest's when there is no recipe).
	Checks     []CheckSpec
	BuildPaths []string
	WorkDir    string
	Keep       bool
	Logger     *slog.Logger
}

// Test runs the audits on a bundle tarball or directory. RootFS is a
// directory, or "debian:SUITE" for a Debian root filesystem made once with
// mmdebstrap and cached (e.g. debian:trixie).
func Test(ctx context.Context, o TestOptions) (*audit.Report, error) {
	if suite, ok := strings.CutPrefix(o.RootFS, "debian:"); ok {
		dir, err := audit.EnsureRootFS(ctx, audit.RootFSOptions{Suite: suite, Logger: o.Logger})
		if err != nil {
			return nil, fmt.Errorf("root filesystem %s: %w", o.RootFS, err)
		}
		o.RootFS = dir
	}
	ao := audit.Options{
		Target: o.Target, Platform: o.Platform, RootVar: o.RootVar, RootFS: o.RootFS,
		BuildPaths: append(append([]string(nil), BuildRootPaths...), o.BuildPaths...),
		WorkDir:    o.WorkDir, Keep: o.Keep, Logger: o.Logger,
	}
	if r := o.Recipe; r != nil {
		if ao.RootVar == "" {
			ao.RootVar = EnvOptions(r, r.Name).RootVar
		}
		o.Checks = append(recipeChecks(r), o.Checks...)
	}
	for _, c := range o.Checks {
		ao.Checks = append(ao.Checks, audit.Check{Name: c.Name, Command: c.Run})
	}
	return audit.Run(ctx, ao)
}

// recipeChecks are the recipe's declared checks.
func recipeChecks(r *recipes.Recipe) []CheckSpec {
	var out []CheckSpec
	for _, c := range r.Checks {
		out = append(out, CheckSpec{Name: c.Name, Run: c.Run})
	}
	return out
}

// ParseCheck reads a `--check NAME=COMMAND` value.
func ParseCheck(v string) (CheckSpec, error) {
	name, cmd, ok := strings.Cut(v, "=")
	name, cmd = strings.TrimSpace(name), strings.TrimSpace(cmd)
	if !ok || name == "" || cmd == "" || strings.ContainsAny(name, " \t\n/") {
		return CheckSpec{}, fmt.Errorf("check %q: want NAME=COMMAND (a one-word name)", v)
	}
	return CheckSpec{Name: name, Run: cmd}, nil
}
