package main

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/bundle-dev/bundle/bundle"
	"github.com/bundle-dev/bundle/platforms"
)

// assembleCmdOptions say what `bundle assemble` makes: Assemble's options
// (Platform, hooks and logger filled in by runAssemble) and the choices
// of the command line.
type assembleCmdOptions struct {
	Assemble   bundle.AssembleOptions
	Platform   string
	NoRelocate bool   // skip the relocation stage
	RootVar    string // bundlerc's root variable ("": from the name)
	JSON       bool
}

func assembleCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:         "assemble",
		Usage:        "closure → extract → links → tarball: one deterministic, CVMFS-ready tarball from a directory of RPMs",
		ArgsUsage:    "[NAME...]",
		OnUsageError: onUsageError,
		Flags:        assembleFlags(),
		Action: func(ctx context.Context, c *cli.Command) error {
			var missing []string
			for _, f := range []string{"repo", "name", "version", "output"} {
				if c.String(f) == "" {
					missing = append(missing, "--"+f)
				}
			}
			if len(missing) > 0 {
				return usagef("assemble: %s required", strings.Join(missing, ", "))
			}
			o := assembleCmdOptions{Platform: c.String("platform"), NoRelocate: c.Bool("no-relocate"),
				RootVar: c.String("root-var"), JSON: c.Bool("json")}
			o.Assemble = bundle.AssembleOptions{
				Repo: c.String("repo"), Name: c.String("name"), Version: c.String("version"),
				TopDir: c.String("top-dir"), Out: c.String("output"), WorkDir: c.String("workdir"),
				Want: c.Args().Slice(), Exclude: c.StringSlice("exclude"), Ignore: c.StringSlice("ignore"),
				WeakDeps: c.Bool("weak-deps"), Remove: removeList(c), NoRemove: c.Bool("keep-docs"),
				Workers: int(c.Int("jobs")), Compress: c.String("compression"),
				CatalogMax: int(c.Int("catalog-max")), CatalogMin: int(c.Int("catalog-min")), Logger: slog.Default(), LockWorkDir: true,
			}
			var err error
			if o.Assemble.Mtime, err = mtimeOf(c); err != nil {
				return err
			}
			if o.Assemble.MaxFiles, o.Assemble.MaxBytes, err = extractLimits(c); err != nil {
				return err
			}
			return runAssemble(ctx, o, stdout)
		},
	}
}

func assembleFlags() []cli.Flag {
	flags := append(limitFlags(),
		&cli.StringFlag{Name: "repo", Usage: "directory of RPMs (`DIR`)"},
		platformFlag("debian11-x86_64"),
		&cli.StringFlag{Name: "name", Usage: "bundle name"},
		&cli.StringFlag{Name: "version", Usage: "bundle version"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output `DIR` (or the tarball path)"},
		&cli.StringFlag{Name: "top-dir", Usage: "top directory in the tarball (default: the name)"},
		workdirFlag("work directory (staging tree)"),
		compressionFlag(),
		mtimeFlag("SOURCE_DATE_EPOCH, else the newest package build time"),
	)
	flags = append(flags, catalogFlags()...)
	flags = append(flags,
		&cli.StringSliceFlag{Name: "exclude", Usage: "never put packages matching `GLOB` in the bundle"},
		&cli.BoolFlag{Name: "no-relocate", Usage: "skip the relocation stage ($ORIGIN RPATHs, shebang launchers, build paths, bundlerc)"},
		&cli.StringFlag{Name: "root-var", Usage: "the variable bundlerc exports with the bundle's root (default: the name, upper-cased)"},
	)
	flags = append(flags, closureFlags()...)
	flags = append(flags, removeFlags()...)
	return append(flags, jobsFlag("extractions and scans"), jsonFlag())
}

// runAssemble assembles the bundle (relocated unless NoRelocate) and prints
// what it wrote.
func runAssemble(ctx context.Context, o assembleCmdOptions, stdout io.Writer) error {
	a := o.Assemble
	p, err := platforms.Load(o.Platform)
	if err != nil {
		return usageError{err}
	}
	a.Platform = p
	switch a.Compress {
	case "gzip", "zstd", "none":
	default:
		return usagef("--compression %q: want gzip, zstd or none", a.Compress)
	}
	if !o.NoRelocate {
		env := bundle.EnvOptions(nil, a.Name)
		if o.RootVar != "" {
			env.RootVar = o.RootVar
		}
		a.AfterLinks = append(a.AfterLinks, bundle.RelocateStage(p, env, nil, a.Logger))
	}
	m, err := bundle.Assemble(ctx, a)
	if err != nil {
		return err
	}
	if o.JSON {
		return bundle.PrintJSON(stdout, m)
	}
	return bundle.PrintAssemble(stdout, m, bundle.OutputPath(a.Out, m))
}
