package main

// `bundle test`: the file is not cmd_test.go, which Go would take for a
// test file.

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"slices"

	"github.com/urfave/cli/v3"

	"github.com/bundle-dev/bundle/bundle"
	"github.com/bundle-dev/bundle/platforms"
	"github.com/bundle-dev/bundle/recipes"
)

// testCmdOptions say what `bundle test` audits and how.
type testCmdOptions struct {
	Target     string   // tarball or bundle directory
	Platform   string   // "": the manifest's beside the tarball, else debian11-x86_64
	Recipe     string   // recipe file for checks and root variable ("": the manifest's)
	Checks     []string // NAME=COMMAND
	RootFS     string
	RootVar    string
	BuildPaths []string
	WorkDir    string
	Keep       bool
	JSON       bool
	Logger     *slog.Logger
}

func testCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:         "test",
		Usage:        "audit a bundle (tarball or directory): links, ELF dependencies and glibc ceiling, build paths, shebangs, the recipe's checks",
		ArgsUsage:    "TARBALL|DIR",
		OnUsageError: onUsageError,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "platform", Aliases: []string{"p"}, Usage: "target platform (default: the manifest's beside the tarball, else debian11-x86_64)"},
			&cli.StringFlag{Name: "recipe", Usage: "take the declared checks and the root variable from this recipe `FILE` (default: the manifest's)"},
			&cli.StringSliceFlag{Name: "check", Usage: "also run `NAME=COMMAND` after sourcing bundlerc (repeatable)"},
			&cli.StringFlag{Name: "root", Usage: "also run the checks inside this root filesystem `DIR` (another distribution), or debian:SUITE for a cached mmdebstrap one (e.g. debian:trixie)"},
			&cli.StringFlag{Name: "root-var", Usage: "the variable bundlerc exports (default: from the recipe or the manifest)"},
			&cli.StringSliceFlag{Name: "build-path", Usage: "a build `PATH` that must appear in no file (repeatable)"},
			&cli.StringFlag{Name: "workdir", Usage: "where the bundle is unpacked (default: the system's temporary directory; must be searchable by nobody)"},
			&cli.BoolFlag{Name: "keep", Usage: "keep the unpacked bundle and the logs"},
			jsonFlag(),
		},
		Action: func(ctx context.Context, c *cli.Command) error {
			if c.Args().Len() != 1 {
				return usagef("test: give one tarball or bundle directory")
			}
			return runTest(ctx, testCmdOptions{Target: c.Args().First(), Platform: c.String("platform"),
				Recipe: c.String("recipe"), Checks: c.StringSlice("check"), RootFS: c.String("root"),
				RootVar: c.String("root-var"), BuildPaths: c.StringSlice("build-path"), WorkDir: c.String("workdir"),
				Keep: c.Bool("keep"), JSON: c.Bool("json"), Logger: slog.Default()}, stdout)
		},
	}
}

// runTest audits the bundle and prints the report; the checks, root
// variable and platform default to what the manifest beside a tarball
// records.
func runTest(ctx context.Context, o testCmdOptions, stdout io.Writer) error {
	to := bundle.TestOptions{Target: o.Target, RootFS: o.RootFS, RootVar: o.RootVar,
		BuildPaths: o.BuildPaths, WorkDir: o.WorkDir, Keep: o.Keep, Logger: o.Logger}
	for _, v := range o.Checks {
		chk, err := bundle.ParseCheck(v)
		if err != nil {
			return usageError{err}
		}
		to.Checks = append(to.Checks, chk)
	}
	platform := o.Platform
	if m, err := bundle.ReadManifest(o.Target + ".manifest.json"); err == nil {
		platform = cmp.Or(platform, m.Platform)
		if o.Recipe == "" {
			if to.RootVar == "" {
				to.RootVar = cmp.Or(m.RootVar, bundle.RootVar(m.Name))
			}
			to.Checks = append(slices.Clone(m.Checks), to.Checks...)
		}
	}
	p, err := platforms.Load(cmp.Or(platform, "debian11-x86_64"))
	if err != nil {
		return usageError{err}
	}
	to.Platform = p
	if o.Recipe != "" {
		if to.Recipe, err = recipes.Load(o.Recipe); err != nil {
			return err
		}
	}
	rep, err := bundle.Test(ctx, to)
	if rep != nil {
		if o.JSON {
			if jerr := rep.WriteJSON(stdout); jerr != nil {
				return jerr
			}
		} else if werr := rep.WriteText(stdout); werr != nil {
			return werr
		}
	}
	return err
}
