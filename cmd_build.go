package main

import (
	"context"
	"io"

	"github.com/urfave/cli/v3"

	"github.com/bundle-dev/bundle/bundle"
)

// buildCmdOptions say what `bundle build` and `bundle build-package` do.
type buildCmdOptions struct {
	Build  bundle.BuildOptions
	Notify string // run with the summary at the end (build --notify)
	JSON   bool
}

func buildCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:         "build",
		Usage:        "plan → builds → local repo → assemble → test: the whole pipeline on a recipe (default: the embedded reference recipe)",
		ArgsUsage:    "[RECIPE]",
		OnUsageError: onUsageError,
		Flags: append(append(append(buildFlags(), limitFlags()...), executorFlags()...),
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output `DIR` (default: the recipe's output.dir)"},
			mtimeFlag("SOURCE_DATE_EPOCH, else the newest package build time"),
			&cli.BoolFlag{Name: "no-assemble", Usage: "stop after the builds: fill the local repo only"},
			&cli.BoolFlag{Name: "no-test", Usage: "do not run `bundle test` on the new bundle"},
			&cli.StringFlag{Name: "test-root", Usage: "also run the bundle's checks inside this root filesystem `DIR` (or debian:SUITE)"},
			&cli.StringFlag{Name: "notify", Usage: "at the end, success or failure, run `CMD` (sh -c) with the run's JSON summary on stdin"},
			&cli.BoolFlag{Name: "no-reuse", Usage: "assemble and test even when an assembly of the same inputs is in the cache"},
			&cli.BoolFlag{Name: "explain", Usage: "say which assemble inputs changed since the last build of this output"},
			jsonFlag()),
		Action: func(ctx context.Context, c *cli.Command) error {
			r, err := loadRecipe(c, 1)
			if err != nil {
				return err
			}
			o := buildCmdOptions{Build: buildOptions(c, r, stderr), Notify: c.String("notify"), JSON: c.Bool("json")}
			b := &o.Build
			if b.Mtime, err = mtimeOf(c); err != nil {
				return err
			}
			if b.MaxFiles, b.MaxBytes, err = extractLimits(c); err != nil {
				return err
			}
			b.Out = c.String("output")
			b.NoAssemble, b.NoTest, b.TestRootFS = c.Bool("no-assemble"), c.Bool("no-test"), c.String("test-root")
			b.Compare = reportDiff
			b.NoReuse, b.Explain = c.Bool("no-reuse"), c.Bool("explain")
			return runBuild(ctx, o, stdout)
		},
	}
}

func buildPackageCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:         "build-package",
		Usage:        "build one package of a recipe (and what it needs) into the local repo",
		ArgsUsage:    "RECIPE NAME...",
		OnUsageError: onUsageError,
		Flags:        append(append(buildFlags(), executorFlags()...), jsonFlag()),
		Action: func(ctx context.Context, c *cli.Command) error {
			if c.Args().Len() < 2 {
				return usagef("build-package: give a recipe and at least one package name")
			}
			r, err := loadRecipe(c, -1)
			if err != nil {
				return err
			}
			o := buildCmdOptions{Build: buildOptions(c, r, stderr), JSON: c.Bool("json")}
			o.Build.Only = c.Args().Slice()[1:]
			return runBuild(ctx, o, stdout)
		},
	}
}

// runBuild builds (the whole pipeline, or only Build.Only into the local
// repo), notifies when asked, and prints the result.
func runBuild(ctx context.Context, o buildCmdOptions, stdout io.Writer) error {
	done := notifyBuild(ctx, o.Notify, o.Build)
	res, err := bundle.Build(ctx, o.Build)
	err = done(res, err)
	return bundle.PrintBuild(stdout, res, err, o.JSON)
}
