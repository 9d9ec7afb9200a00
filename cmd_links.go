package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/urfave/cli/v3"

	"github.com/bundle-dev/bundle/bundle"
	"github.com/bundle-dev/bundle/links"
)

// linksOptions say which tree `bundle links` fixes.
type linksOptions struct {
	Dir    string
	JSON   bool
	Logger *slog.Logger
}

func linksCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:         "links",
		Usage:        "make the symlinks and hard links of a tree CVMFS-safe (one stage of assemble)",
		ArgsUsage:    "DIR",
		OnUsageError: onUsageError,
		Flags:        []cli.Flag{jsonFlag()},
		Action: func(ctx context.Context, c *cli.Command) error {
			if c.Args().Len() != 1 {
				return usagef("links: give exactly one directory")
			}
			return runLinks(ctx, linksOptions{Dir: c.Args().First(), JSON: c.Bool("json"), Logger: slog.Default()}, stdout)
		},
	}
}

// runLinks runs the links stage on the tree and prints its report.
func runLinks(ctx context.Context, o linksOptions, stdout io.Writer) error {
	rep, err := links.Fix(ctx, o.Dir, links.Options{Logger: o.Logger})
	if err != nil {
		return err
	}
	if o.JSON {
		return bundle.PrintJSON(stdout, rep)
	}
	return bundle.PrintLinks(stdout, rep)
}
