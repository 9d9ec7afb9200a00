package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/urfave/cli/v3"

	"github.com/bundle-dev/bundle/bundle"
	"github.com/bundle-dev/bundle/bundle/closure"
	"github.com/bundle-dev/bundle/platforms"
)

// closureOptions say whose closure `bundle closure` resolves.
type closureOptions struct {
	Repo     string
	Platform string
	Want     []string
	Ignore   []string
	WeakDeps bool
	JSON     bool
	Logger   *slog.Logger
}

func closureCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:         "closure",
		Usage:        "resolve the dependency closure of packages in a repository and say why each is in",
		ArgsUsage:    "[NAME...]",
		OnUsageError: onUsageError,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "repo", Usage: "directory of RPMs (`DIR`; repodata used when present)"},
			platformFlag("debian11-x86_64"),
		}, append(closureFlags(), jsonFlag())...),
		Action: func(ctx context.Context, c *cli.Command) error {
			if c.String("repo") == "" {
				return usagef("closure: --repo DIR is required")
			}
			return runClosure(ctx, closureOptions{Repo: c.String("repo"), Platform: c.String("platform"),
				Want: c.Args().Slice(), Ignore: c.StringSlice("ignore"), WeakDeps: c.Bool("weak-deps"),
				JSON: c.Bool("json"), Logger: slog.Default()}, stdout)
		},
	}
}

// runClosure resolves the closure and prints each package and why it is in.
func runClosure(ctx context.Context, o closureOptions, stdout io.Writer) error {
	p, err := platforms.Load(o.Platform)
	if err != nil {
		return usageError{err}
	}
	pkgs, err := closure.LoadRepo(ctx, o.Repo, o.Logger)
	if err != nil {
		return err
	}
	res, err := closure.Resolve(ctx, pkgs, closure.Options{
		Platform: p, Want: o.Want, Ignore: o.Ignore, WeakDeps: o.WeakDeps, Logger: o.Logger,
	})
	if err != nil {
		return err
	}
	if o.JSON {
		return bundle.PrintJSON(stdout, res)
	}
	return bundle.PrintClosure(stdout, res)
}
