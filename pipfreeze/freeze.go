package pipfreeze

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/bundle-dev/bundle/bundle/atomicfile"
	"github.com/bundle-dev/bundle/bundle/runner"
)

// freezeScript lists the distributions installed in the directories given
// as arguments (the interpreter's own site-packages), with importlib.metadata
// and without pip, as JSON.
const freezeScript = `import importlib.metadata as md, json, sys
out = []
for d in md.distributions(path=sys.argv[1:]):
    out.append({"name": d.metadata["Name"] or "", "version": d.version or "",
                "direct_url": d.read_text("direct_url.json") or ""})
json.dump(out, sys.stdout)
`

type frozenDist struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	DirectURL string `json:"direct_url"`
}

type directURL struct {
	URL     string `json:"url"`
	VCSInfo *struct {
		VCS      string `json:"vcs"`
		CommitID string `json:"commit_id"`
	} `json:"vcs_info"`
	ArchiveInfo *struct{} `json:"archive_info"`
}

// Freeze lists the distributions installed in the interpreter's own
// site-packages (purelib and platlib; never the user site or the host's),
// sorted by name, pip, setuptools and wheel included. A distribution
// installed from a VCS commit or a direct URL gets URL set as a lock writes
// it ("git+URL@COMMIT").
func Freeze(ctx context.Context, opts Options) ([]Pin, error) {
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("freeze: %w", err)
	}
	in, err := inspect(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("freeze: %w", err)
	}
	args := append([]string{"-I", "-B", "-c", freezeScript}, in.sitePaths()...)
	out, err := runner.Output(ctx, opts.runnerFor(false, nil), runner.Cmd{
		Name: opts.Python, Args: args, Env: opts.env(), Log: opts.logFile("pip-freeze"),
	})
	if err != nil {
		return nil, fmt.Errorf("freeze %s: %w", opts.Python, err)
	}
	pins, err := parseFrozen(out)
	if err != nil {
		return nil, fmt.Errorf("freeze %s: %w", opts.Python, err)
	}
	return pins, nil
}

// parseFrozen turns freezeScript's output into pins.
func parseFrozen(out []byte) ([]Pin, error) {
	var dists []frozenDist
	if err := json.Unmarshal(out, &dists); err != nil {
		return nil, fmt.Errorf("bad output %q: %w", truncate(out, 200), err)
	}
	var pins []Pin
	for _, d := range dists {
		if d.Name == "" {
			continue // a dist-info without metadata: nothing to compare
		}
		p := Pin{Name: CanonicalName(d.Name), Version: d.Version}
		if d.DirectURL != "" {
			var du directURL
			if err := json.Unmarshal([]byte(d.DirectURL), &du); err != nil {
				return nil, fmt.Errorf("%s: bad direct_url.json: %w", d.Name, err)
			}
			switch {
			case du.VCSInfo != nil:
				p.URL = du.VCSInfo.VCS + "+" + du.URL + "@" + du.VCSInfo.CommitID
				p.Version = ""
			case du.ArchiveInfo != nil:
				p.URL = du.URL
				p.Version = ""
			}
		}
		pins = append(pins, p)
	}
	sortPins(pins)
	return pins, nil
}

// Compare checks the frozen distributions against the lock. Every
// difference is listed in the returned *MismatchError: a locked
// distribution not installed, one installed but not locked, another
// version, another commit or URL, or a distribution installed twice.
func Compare(lock *LockFile, frozen []Pin) error {
	locked := map[string]Pin{}
	for _, p := range lock.Pins {
		locked[CanonicalName(p.Name)] = p
	}
	installed := map[string][]Pin{}
	for _, p := range frozen {
		n := CanonicalName(p.Name)
		installed[n] = append(installed[n], p)
	}
	names := map[string]bool{}
	for n := range locked {
		names[n] = true
	}
	for n := range installed {
		names[n] = true
	}
	var diffs []string
	for _, n := range sortedKeys(names) {
		l, isLocked := locked[n]
		got := installed[n]
		switch {
		case len(got) == 0:
			diffs = append(diffs, fmt.Sprintf("%s: locked but not installed", l.Requirement()))
		case !isLocked:
			for _, g := range got {
				diffs = append(diffs, fmt.Sprintf("%s: installed but not in the lock", g.Requirement()))
			}
		case len(got) > 1:
			var reqs []string
			for _, g := range got {
				reqs = append(reqs, g.Requirement())
			}
			diffs = append(diffs, fmt.Sprintf("%s: installed %d times (%s); the lock has %s", n, len(got), strings.Join(reqs, ", "), l.Requirement()))
		case l.URL != "" || got[0].URL != "":
			if l.URL != got[0].URL {
				diffs = append(diffs, fmt.Sprintf("%s: the lock has %s, installed is %s", n, l.Requirement(), got[0].Requirement()))
			}
		case !sameVersion(l.Version, got[0].Version):
			diffs = append(diffs, fmt.Sprintf("%s: the lock has %s, installed is %s", n, l.Version, got[0].Version))
		}
	}
	if len(diffs) > 0 {
		return &MismatchError{Differences: diffs}
	}
	return nil
}

// WriteVersions writes versions.txt at path: the RPM NEVRAs, then the
// Python distributions as a lock names them ("name==version",
// "name @ git+URL@COMMIT"), each section sorted and without duplicates.
// The same inputs give the same bytes; the file is replaced atomically.
func WriteVersions(path string, rpms []string, pins []Pin) error {
	var b bytes.Buffer
	b.WriteString("# What this bundle contains. RPM packages (name-[epoch:]version-release.arch):\n")
	for _, r := range sortedUnique(rpms) {
		if strings.ContainsAny(r, "\n\r") {
			return fmt.Errorf("write versions %s: RPM %q spans lines", path, r)
		}
		b.WriteString(r + "\n")
	}
	b.WriteString("# Python packages (pip):\n")
	sorted := make([]Pin, 0, len(pins))
	for _, p := range pins {
		p.Name = CanonicalName(p.Name)
		if strings.ContainsAny(p.Requirement(), "\n\r") {
			return fmt.Errorf("write versions %s: pin %q spans lines", path, p.Requirement())
		}
		sorted = append(sorted, p)
	}
	sortPins(sorted)
	last := ""
	for _, p := range sorted {
		if r := p.Requirement(); r != last {
			b.WriteString(r + "\n")
			last = r
		}
	}
	return atomicfile.Write(path, b.Bytes(), 0o644)
}

func sortedUnique(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return dedupe(c)
}
