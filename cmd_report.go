package main

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v3"

	"github.com/bundle-dev/bundle/bundle"
	"github.com/bundle-dev/bundle/bundle/diff"
	"github.com/bundle-dev/bundle/bundle/htmlreport"
)

// reportOptions say what `bundle report` renders and where.
type reportOptions struct {
	WorkDir string // the build's work directory (default ./.bundle)
	Out     string // the HTML file (default: where the build wrote it)
}

func reportCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:         "report",
		Usage:        "write the HTML build report of the last build in a work directory again (self-contained: summary, timeline, DAG, packages, sizes, test)",
		ArgsUsage:    "[WORKDIR]",
		OnUsageError: onUsageError,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write it to `FILE` (default: where the build wrote it, beside the tarball)"},
		},
		Action: func(ctx context.Context, c *cli.Command) error {
			if c.Args().Len() > 1 {
				return usagef("report: give at most one work directory")
			}
			return runReport(ctx, reportOptions{WorkDir: c.Args().First(), Out: c.String("output")}, stdout)
		},
	}
}

// runReport renders the report from WORKDIR/report.json and prints the
// file it wrote.
func runReport(_ context.Context, o reportOptions, stdout io.Writer) error {
	path, err := bundle.RegenerateReport(bundle.ReportOptions{WorkDir: o.WorkDir, Out: o.Out})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, path)
	return nil
}

// reportDiff is `bundle build`'s Compare: what `bundle diff` says between
// the manifests of the bundle a build replaces and of the new one.
func reportDiff(old, new *bundle.Manifest) *htmlreport.Diff {
	r := diff.Compare(&diff.Bundle{Manifest: old}, &diff.Bundle{Manifest: new})
	d := &htmlreport.Diff{
		Against:   fmt.Sprintf("the previous %s (sha256 %.12s…)", old.Tarball.File, old.Tarball.SHA256),
		Identical: r.Identical,
		SizeDelta: r.Sizes.NewTotal - r.Sizes.OldTotal,
	}
	for _, p := range r.Packages.Added {
		d.Added = append(d.Added, p.NEVRA)
	}
	for _, p := range r.Packages.Removed {
		d.Removed = append(d.Removed, p.NEVRA)
	}
	for _, c := range r.Packages.Changed {
		if c.Old.NEVRA == c.New.NEVRA {
			d.Changed = append(d.Changed, c.New.NEVRA+": same version, other content")
		} else {
			d.Changed = append(d.Changed, c.Name+": "+c.Old.NEVRA+" → "+c.New.NEVRA)
		}
	}
	for _, p := range r.Python.Added {
		d.Added = append(d.Added, "pip "+p.Name+" "+p.Version)
	}
	for _, p := range r.Python.Removed {
		d.Removed = append(d.Removed, "pip "+p.Name+" "+p.Version)
	}
	for _, c := range r.Python.Changed {
		d.Changed = append(d.Changed, "pip "+c.Name+": "+c.Old.Version+" → "+c.New.Version)
	}
	return d
}
