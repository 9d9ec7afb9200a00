package bundle

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/bundle-dev/bundle/bundle/closure"
	"github.com/bundle-dev/bundle/bundle/extract"
	"github.com/bundle-dev/bundle/links"
	"github.com/bundle-dev/bundle/platforms"
)

// PrintJSON writes v as indented JSON.
func PrintJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// PrintClosure prints the selected packages and why each is in.
func PrintClosure(w io.Writer, res *closure.Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PACKAGE\tWHY")
	for _, s := range res.Packages {
		why := "requested"
		if !s.Requested {
			var parts []string
			for _, r := range s.Reasons {
				parts = append(parts, fmt.Sprintf("%s requires %s", r.By, r.Requires))
			}
			why = strings.Join(parts, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\n", s.Package.NEVRA(), why)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, m := range res.Missing {
		fmt.Fprintf(w, "missing: %v\n", m)
	}
	fmt.Fprintf(w, "%d packages\n", len(res.Packages))
	return nil
}

// PrintExtract prints an extraction report.
func PrintExtract(w io.Writer, r *extract.Report) error {
	fmt.Fprintf(w, "extracted %d packages: %d files, %d bytes\n", len(r.Packages), r.Files, r.Bytes)
	section := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		fmt.Fprintf(w, "%s (%d):\n", title, len(lines))
		for _, l := range lines {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	section("conflicts", stringsOf(r.Conflicts))
	section("dropped special files", stringsOf(r.Dropped))
	section("setuid/setgid/sticky bits stripped", stringsOf(r.Stripped))
	section("file capabilities dropped", stringsOf(r.Caps))
	section("removed", stringsOf(r.Removed))
	return nil
}

// PrintAssemble prints where the tarball is, how to publish it and what it
// needs from the host.
func PrintAssemble(w io.Writer, m *Manifest, tarball string) error {
	printAssembled(w, m, tarball)
	printRequires(w, m)
	return nil
}

// printRequires prints the measured host requirement, the line a release
// manager looks for last.
func printRequires(w io.Writer, m *Manifest) {
	if m.Requires != nil {
		fmt.Fprintln(w, m.Requires)
	}
}

func printAssembled(w io.Writer, m *Manifest, tarball string) {
	fmt.Fprintf(w, "bundle %s %s for %s: %d packages, %d files, %d dirs, %d symlinks, %d bytes, %d catalogs\n",
		m.Name, m.Version, m.Platform, len(m.Packages), m.Counts.Files, m.Counts.Dirs, m.Counts.Symlinks, m.Counts.TotalSize, m.Counts.Catalogs)
	for _, s := range m.Stages {
		fmt.Fprintf(w, "  %-10s %6.2fs\n", s.Stage, s.Seconds)
	}
	fmt.Fprintf(w, "tarball:  %s\nsha256:   %s\nmanifest: %s.manifest.json\n", tarball, m.Tarball.SHA256, tarball)
	if m.Links != nil && len(m.Links.Dropped) > 0 {
		fmt.Fprintf(w, "broken links dropped: %d (listed in %s/broken-links.txt)\n", len(m.Links.Dropped), m.TopDir)
	}
	fmt.Fprintf(w, "publish on CVMFS (stratum-0):\n  %s.ingest.sh REPOSITORY [BASE_DIR]\n  which runs: %s\n", tarball, m.Ingest)
}

func stringsOf[T fmt.Stringer](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.String()
	}
	return out
}

// OutputPath is where Assemble wrote the tarball for an -o value.
func OutputPath(out string, m *Manifest) string { return outputPath(out, m.Tarball.File) }

// PrintPlatforms lists the embedded platforms, or prints the named ones in full.
func PrintPlatforms(w io.Writer, names []string, asJSON bool) error {
	if len(names) == 0 {
		names = platforms.Names()
		if !asJSON {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tARCH\tDIST\tBUILDER\tDESCRIPTION")
			for _, n := range names {
				p, err := platforms.Load(n)
				if err != nil {
					return err
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Name, p.Arch, p.Dist, p.Builder.Kind, p.Description)
			}
			return tw.Flush()
		}
	}
	var all []*platforms.Platform
	for _, n := range names {
		p, err := platforms.Load(n)
		if err != nil {
			return err
		}
		all = append(all, p)
	}
	return PrintJSON(w, all)
}

// PrintLinks prints what the links stage changed.
func PrintLinks(w io.Writer, r *links.Report) error {
	fmt.Fprintf(w, "relativised %d, copied %d, dropped %d, hard links broken %d\n",
		len(r.Relativised), len(r.Copied), len(r.Dropped), len(r.HardLinksBroken))
	for _, d := range r.Dropped {
		fmt.Fprintf(w, "  dropped %v\n", d)
	}
	return nil
}

// PrintBuild prints the build summary (durations, failures with their
// logs) and, when a bundle was made, where it is and how to publish it.
// It returns err, so a failed build still shows its summary first.
func PrintBuild(w io.Writer, res *BuildResult, err error, asJSON bool) error {
	if asJSON {
		if res != nil {
			if jerr := PrintJSON(w, res); jerr != nil {
				return jerr
			}
		}
		return err
	}
	if res != nil && res.Summary != nil {
		if werr := res.Summary.WriteText(w); werr != nil {
			return werr
		}
	}
	if res != nil && res.Manifest != nil {
		fmt.Fprintf(w, "local repo: %s\n", res.Repo)
		printAssembled(w, res.Manifest, res.Tarball)
	}
	if res != nil {
		printReuse(w, res.Assemble, res.TestReused)
	}
	if res != nil && res.Test != nil && res.TestReused == nil {
		fmt.Fprintln(w, "bundle test:")
		if terr := res.Test.WriteText(w); terr != nil {
			return terr
		}
	}
	if res != nil && res.Manifest != nil {
		printRequires(w, res.Manifest)
	}
	if res != nil && res.Report != "" {
		fmt.Fprintf(w, "report:   %s\n", res.Report)
	}
	return err
}
