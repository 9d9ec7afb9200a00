package main

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v3"

	"github.com/bundle-dev/bundle/bundle"
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
