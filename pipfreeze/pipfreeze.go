// Package pipfreeze locks, installs and freezes the Python packages of a
// bundle with the bundle's own Python, offline.
//
// Lock resolves loose requirements (requirements.txt) with pip's resolver
// (`pip install --dry-run --report`) into a lock: pip's requirements format
// with one exact version and sha256 per distribution, VCS requirements
// pinned by commit. Install installs exactly the locked files into the
// interpreter's own site-packages inside the staging root, hash-checked,
// from find-links directories (the offline set gathered by
// recipes/gather-python-wheels.sh). Freeze lists what the interpreter has
// installed, Compare checks it against the lock, and WriteVersions records
// the bundle's contents in versions.txt.
//
// Every command runs through bundle/runner with a clean environment
// (PIP_CONFIG_FILE=/dev/null, PYTHONNOUSERSITE=1, no PIP_* from the caller)
// and `python -I`, so no host configuration, user site or cache takes part.
package pipfreeze

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/bundle-dev/bundle/bundle/jail"
	"github.com/bundle-dev/bundle/bundle/runner"
)

// Options say which interpreter to run and where packages come from.
type Options struct {
	// Python is the interpreter to run: the bundle's own.
	Python string
	// Root is the staging root the bundle lives in, when the interpreter
	// is inside it (Root/usr/bin/python3). Install then refuses an
	// interpreter whose site-packages lie outside Root and removes Root
	// from what pip wrote (script shebangs); "" disables those checks.
	Root string
	// FindLinks are offline directories of wheels and sdists.
	FindLinks []string
	// IndexURL is a package index; "" with FindLinks means --no-index.
	IndexURL string
	// Runner runs the commands (default: runner.Exec with Logger).
	Runner runner.Runner
	// LogDir receives one log file per pip run ("" = no log files).
	LogDir string
	// Logger logs progress (default slog.Default()).
	Logger *slog.Logger
	// Env holds extra environment variables ("K=V") added to the clean
	// environment the commands run with, for instance LD_LIBRARY_PATH for
	// an interpreter whose libpython lives in Root.
	Env []string
	// Sandbox runs every command of the interpreter in a bundle/jail:
	// the host read-only, as an unprivileged user when bundle is root,
	// no network except a configured IndexURL for the steps that
	// download, writable only where the step writes (Root when
	// installing, the step's temporary directory). bundle always sets it:
	// the bundle's Python and the sdists it builds never run on the host.
	Sandbox bool
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

func (o Options) runner() runner.Runner {
	if o.Runner != nil {
		return o.Runner
	}
	return runner.Exec{Logger: o.Logger}
}

// runnerFor is the runner of one step: in the jail when Sandbox is set,
// with writable the directories the step writes and download whether it
// may reach IndexURL. Root, the find-links directories, the interpreter's
// directory and readable stay reachable.
func (o Options) runnerFor(download bool, writable []string, readable ...string) runner.Runner {
	if !o.Sandbox {
		return o.runner()
	}
	j := jail.Jail{Writable: writable, Network: download && o.IndexURL != ""}
	for _, d := range o.FindLinks {
		readable = append(readable, linkTargetDirs(d)...)
	}
	readable = append(readable, venvBase(o.Python)...)
	for _, p := range append(append([]string{o.Root, filepath.Dir(o.Python)}, o.FindLinks...), readable...) {
		if p != "" && !slices.Contains(writable, p) {
			j.Readable = append(j.Readable, p)
		}
	}
	return jail.Runner{Runner: o.runner(), Jail: j}
}

// venvBase returns the base installation of a virtual environment's
// interpreter (pyvenv.cfg's home and the prefix above it), which it reads
// its standard library from: it must stay reachable in the jail even below
// a private directory such as /root. Nothing for a real installation.
func venvBase(python string) []string {
	if python == "" {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(python)), "pyvenv.cfg"))
	if err != nil {
		return nil
	}
	for _, l := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(l, "=")
		if !ok || strings.TrimSpace(k) != "home" {
			continue
		}
		home := strings.TrimSpace(v)
		if !filepath.IsAbs(home) {
			return nil
		}
		if _, err := os.Stat(home); err != nil {
			return nil
		}
		return []string{filepath.Dir(home)}
	}
	return nil
}

// linkTargetDirs lists the directories the symlinks in dir lead to, so
// that a find-links directory of links stays readable in the jail.
func linkTargetDirs(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.Type()&os.ModeSymlink == 0 {
			continue
		}
		if t, err := filepath.EvalSymlinks(filepath.Join(dir, e.Name())); err == nil && !slices.Contains(out, filepath.Dir(t)) {
			out = append(out, filepath.Dir(t))
		}
	}
	return out
}

// env is the clean environment every command runs with.
func (o Options) env() []string {
	env := []string{
		"PIP_CONFIG_FILE=/dev/null",
		"PIP_DISABLE_PIP_VERSION_CHECK=1",
		"PIP_NO_INPUT=1",
		"PYTHONNOUSERSITE=1",
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONHASHSEED=0",
	}
	return runner.CleanEnv(append(env, o.Env...)...)
}

// stepEnv is env for a pip step with its temporary directory tmp. In the
// jail the user reads local git repositories the caller owns, which git
// refuses unless its global configuration says safe.directory (whatever
// their hooks do stays in the jail): tmp gets that configuration.
func (o Options) stepEnv(tmp string) ([]string, error) {
	env := o.env()
	if !o.Sandbox {
		return env, nil
	}
	cfg := filepath.Join(tmp, "gitconfig")
	if err := os.WriteFile(cfg, []byte("[safe]\n\tdirectory = *\n"), 0o644); err != nil {
		return nil, err
	}
	return append(env, "GIT_CONFIG_GLOBAL="+cfg), nil
}

// logFile is the log path for one command, "" without LogDir.
func (o Options) logFile(name string) string {
	if o.LogDir == "" {
		return ""
	}
	return filepath.Join(o.LogDir, name+".log")
}

// sourceArgs are pip's index options.
func (o Options) sourceArgs() ([]string, error) {
	var args []string
	switch {
	case o.IndexURL != "":
		args = append(args, "--index-url", o.IndexURL)
	case len(o.FindLinks) > 0:
		args = append(args, "--no-index")
	default:
		return nil, errors.New("no package source: give find-links directories (offline) or an index URL")
	}
	for _, d := range o.FindLinks {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("find-links %s: %w", d, err)
		}
		args = append(args, "--find-links", abs)
	}
	return args, nil
}

func (o Options) check() error {
	if o.Python == "" {
		return errors.New("no Python interpreter given")
	}
	return nil
}

// interp is what Install and Freeze need to know of the interpreter.
type interp struct {
	Executable string            `json:"executable"`
	Version    string            `json:"version"`
	Paths      map[string]string `json:"paths"`
	HasPip     bool              `json:"has_pip"`
}

// inspectScript prints the interpreter's install scheme as JSON.
const inspectScript = `import json, sys, sysconfig, importlib.util
p = sysconfig.get_paths()
json.dump({"executable": sys.executable, "version": "%d.%d.%d" % sys.version_info[:3],
  "paths": {k: p[k] for k in ("purelib", "platlib", "scripts", "data")},
  "has_pip": importlib.util.find_spec("pip") is not None}, sys.stdout)
`

// localVCSRE finds local git repositories in requirements: the jail must
// let pip read them.
var localVCSRE = regexp.MustCompile(`git\+file://(/[^@#\s]+)`)

// localRepos returns the local git repositories text names.
func localRepos(text []byte) []string {
	var out []string
	for _, m := range localVCSRE.FindAllSubmatch(text, -1) {
		if p, err := url.PathUnescape(string(m[1])); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// inspect asks the interpreter for its install scheme.
func inspect(ctx context.Context, o Options) (*interp, error) {
	out, err := runner.Output(ctx, o.runnerFor(false, nil), runner.Cmd{
		Name: o.Python, Args: []string{"-I", "-B", "-c", inspectScript},
		Env: o.env(), Log: o.logFile("python-inspect"),
	})
	if err != nil {
		return nil, fmt.Errorf("inspect interpreter %s: %w", o.Python, err)
	}
	var in interp
	if err := json.Unmarshal(out, &in); err != nil {
		return nil, fmt.Errorf("inspect interpreter %s: bad output %q: %w", o.Python, truncate(out, 200), err)
	}
	for _, k := range []string{"purelib", "platlib", "scripts", "data"} {
		if !filepath.IsAbs(in.Paths[k]) {
			return nil, fmt.Errorf("inspect interpreter %s: no absolute %s path in %q", o.Python, k, truncate(out, 200))
		}
	}
	return &in, nil
}

// sitePaths are the interpreter's distinct site-packages directories.
func (in *interp) sitePaths() []string {
	p := []string{in.Paths["purelib"]}
	if in.Paths["platlib"] != in.Paths["purelib"] {
		p = append(p, in.Paths["platlib"])
	}
	return p
}

// pipCommand returns the argv prefix that runs pip with the interpreter:
// the pip wheel of the offline set when one is given (a pip wheel is
// runnable as "python pip.whl/pip"), else the interpreter's own pip, else
// the newest pip wheel found in the find-links directories.
func pipCommand(ctx context.Context, o Options, hasPip bool, pipWheel string) ([]string, error) {
	if pipWheel != "" {
		return []string{"-I", "-B", filepath.Join(pipWheel, "pip")}, nil
	}
	if hasPip {
		return []string{"-I", "-B", "-m", "pip"}, nil
	}
	dists, err := ScanOffline(ctx, o.FindLinks)
	if err != nil {
		return nil, err
	}
	var best *Dist
	for i := range dists {
		d := &dists[i]
		if d.Name == "pip" && d.Wheel && (best == nil || versionLess(best.Version, d.Version)) {
			best = d
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%s has no pip module and no find-links directory holds a pip wheel; %s", o.Python, GatherHint)
	}
	return []string{"-I", "-B", filepath.Join(best.Path, "pip")}, nil
}

// versionLess orders dotted numeric versions ("23.0.1" < "23.2"),
// comparing non-numeric parts as strings.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] == pb[i] {
			continue
		}
		var na, nb int
		_, ea := fmt.Sscanf(pa[i], "%d", &na)
		_, eb := fmt.Sscanf(pb[i], "%d", &nb)
		if ea == nil && eb == nil && na != nb {
			return na < nb
		}
		return pa[i] < pb[i]
	}
	return len(pa) < len(pb)
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// mkTemp makes a private temporary directory for one operation.
func mkTemp(what string) (string, error) {
	d, err := os.MkdirTemp("", "bundle-pip-"+what+"-")
	if err != nil {
		return "", fmt.Errorf("%s: temporary directory: %w", what, err)
	}
	return d, nil
}
