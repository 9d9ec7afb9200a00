package pipfreeze

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/bundle-dev/bundle/bundle/runner"
)

// pipReport is the part of pip's installation report (--report, format
// version 1, pip >= 22.2) a lock needs.
type pipReport struct {
	Version     string            `json:"version"`
	PipVersion  string            `json:"pip_version"`
	Environment map[string]string `json:"environment"`
	Install     []reportItem      `json:"install"`
}

type reportItem struct {
	DownloadInfo struct {
		URL         string `json:"url"`
		ArchiveInfo *struct {
			Hash   string            `json:"hash"`   // "sha256=HEX" (deprecated form)
			Hashes map[string]string `json:"hashes"` // {"sha256": "HEX"} (pip >= 23.0)
		} `json:"archive_info"`
		VCSInfo *struct {
			VCS      string `json:"vcs"`
			CommitID string `json:"commit_id"`
		} `json:"vcs_info"`
		DirInfo *struct{} `json:"dir_info"`
	} `json:"download_info"`
	IsDirect bool `json:"is_direct"`
	Metadata struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"metadata"`
}

var hex64RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
var gitCommitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Lock resolves the loose requirements in requirementsFile with the
// interpreter's pip (`pip install --dry-run --ignore-installed --report`)
// against the find-links directories (or the index) and writes the lock to
// out (skipped when out is ""): every distribution pinned to its exact
// version and sha256, VCS requirements to their commit, sorted, with a
// header saying how it was made. The same requirements, offline set and
// interpreter give the same bytes.
func Lock(ctx context.Context, opts Options, requirementsFile string, out string) (*LockFile, error) {
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("lock %s: %w", requirementsFile, err)
	}
	req, err := filepath.Abs(requirementsFile)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", requirementsFile, err)
	}
	if _, err := os.Stat(req); err != nil {
		return nil, fmt.Errorf("lock: requirements: %w", err)
	}
	src, err := opts.sourceArgs()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", requirementsFile, err)
	}
	in, err := inspect(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", requirementsFile, err)
	}
	pip, err := pipCommand(ctx, opts, in.HasPip, "")
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", requirementsFile, err)
	}
	tmp, err := mkTemp("lock")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	report := filepath.Join(tmp, "report.json")
	args := append(pip, "install", "--dry-run", "--ignore-installed", "--report", report,
		"--no-cache-dir", "--disable-pip-version-check", "--progress-bar", "off")
	args = append(args, src...)
	args = append(args, "-r", req)
	start := time.Now()
	// The resolver builds the metadata of sdists (their setup.py runs):
	// in the jail, writing only its temporary directory, reaching only
	// the index when one is configured.
	reqText, err := os.ReadFile(req)
	if err != nil {
		return nil, fmt.Errorf("lock: requirements: %w", err)
	}
	env, err := opts.stepEnv(tmp)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", requirementsFile, err)
	}
	_, err = opts.runnerFor(true, []string{tmp}, append(localRepos(reqText), filepath.Dir(req))...).Run(ctx, runner.Cmd{
		Name: opts.Python, Args: args, Dir: filepath.Dir(req),
		Env: env, Log: opts.logFile("pip-lock"), TailLines: 200,
	})
	if err != nil {
		return nil, fmt.Errorf("lock %s: pip could not resolve it: %w", requirementsFile, classifyPipError(err, opts.FindLinks))
	}
	data, err := os.ReadFile(report)
	if err != nil {
		return nil, fmt.Errorf("lock %s: pip wrote no report: %w", requirementsFile, err)
	}
	lf, err := lockFromReport(data, filepath.Base(req), opts)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", requirementsFile, err)
	}
	opts.logger().Info("pip lock resolved", "requirements", requirementsFile, "pins", len(lf.Pins),
		"duration", time.Since(start).Round(time.Millisecond))
	if out != "" {
		if err := lf.WriteFile(out); err != nil {
			return nil, fmt.Errorf("lock %s: %w", requirementsFile, err)
		}
	}
	return lf, nil
}

// lockFromReport turns pip's report into a lock.
func lockFromReport(data []byte, reqName string, opts Options) (*LockFile, error) {
	var r pipReport
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("pip report: %w", err)
	}
	// Version "0" is pip 22.2 and 22.3's experimental report (CPython
	// 3.11's ensurepip ships pip 22.3.1), with the fields read here as
	// version 1 has them; pip 23.0 made the format stable as "1".
	if r.Version != "1" && r.Version != "0" {
		return nil, fmt.Errorf("pip report format %q: only versions 0 and 1 are understood (pip 22.2 and later)", r.Version)
	}
	lf := &LockFile{}
	seen := map[string]bool{}
	for _, it := range r.Install {
		p, err := pinFromReport(it)
		if err != nil {
			return nil, err
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("pip report lists %s twice", p.Name)
		}
		seen[p.Name] = true
		lf.Pins = append(lf.Pins, p)
	}
	sortPins(lf.Pins)
	env := r.Environment
	source := "offline: --no-index --find-links (the set recipes/gather-python-wheels.sh gathers)"
	if opts.IndexURL != "" {
		source = "index " + redactURL(opts.IndexURL)
		if len(opts.FindLinks) > 0 {
			source += " and --find-links directories"
		}
	}
	lf.Header = []string{
		"Generated by bundle lock from " + reqName + ": do not edit; change " + reqName + " and lock again.",
		fmt.Sprintf("Resolved by pip %s with %s %s (%s %s), %s.", r.PipVersion,
			orDefault(env["implementation_name"], "python"), env["python_full_version"],
			env["sys_platform"], env["platform_machine"], source),
		"Every file is pinned by sha256 and VCS requirements by commit; bundle installs it with",
		"pip install --require-hashes --no-deps (VCS pins without hashes, from their commit).",
	}
	return lf, nil
}

// pinFromReport pins one resolved distribution.
func pinFromReport(it reportItem) (Pin, error) {
	name, version := it.Metadata.Name, it.Metadata.Version
	if !nameRE.MatchString(name) || !versionRE.MatchString(version) {
		return Pin{}, fmt.Errorf("pip report: bad name or version %q %q", name, version)
	}
	p := Pin{Name: CanonicalName(name), Version: version}
	di := it.DownloadInfo
	switch {
	case di.VCSInfo != nil:
		if di.VCSInfo.VCS != "git" {
			return Pin{}, fmt.Errorf("%s: %s requirements are not supported, only git", name, di.VCSInfo.VCS)
		}
		if !gitCommitRE.MatchString(di.VCSInfo.CommitID) {
			return Pin{}, fmt.Errorf("%s: pip reported no commit for %s", name, di.URL)
		}
		p.Version = ""
		p.URL = "git+" + di.URL + "@" + di.VCSInfo.CommitID
		return p, nil
	case di.DirInfo != nil:
		return Pin{}, fmt.Errorf("%s: a local directory (%s) cannot be locked; build a wheel or sdist of it into a find-links directory", name, di.URL)
	}
	var sum string
	if ai := di.ArchiveInfo; ai != nil {
		sum = ai.Hashes["sha256"]
		if sum == "" {
			if h, ok := strings.CutPrefix(ai.Hash, "sha256="); ok {
				sum = h
			}
		}
	}
	if sum == "" {
		// Older pips give no hash for local files: compute it.
		u, err := url.Parse(di.URL)
		if err != nil || u.Scheme != "file" {
			return Pin{}, fmt.Errorf("%s %s: pip reported no sha256 for %s and it is not a local file to hash", name, version, di.URL)
		}
		h, err := fileSHA256(u.Path)
		if err != nil {
			return Pin{}, fmt.Errorf("%s %s: %w", name, version, err)
		}
		sum = h
	}
	if !hex64RE.MatchString(sum) {
		return Pin{}, fmt.Errorf("%s %s: bad sha256 %q in pip's report", name, version, sum)
	}
	p.Hashes = []string{"sha256:" + sum}
	if it.IsDirect {
		p.URL = di.URL
		p.Version = ""
	}
	return p, nil
}

// redactURL drops credentials from an index URL before it is written.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
