package main

import (
	"context"
	"io"

	"github.com/urfave/cli/v3"

	"github.com/bundle-dev/bundle/bundle"
)

// platformsOptions say which platforms `bundle platforms` shows.
type platformsOptions struct {
	Names []string // none: list them all
	JSON  bool
}

func platformsCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:         "platforms",
		Usage:        "list the embedded platforms, or show one",
		ArgsUsage:    "[NAME]",
		OnUsageError: onUsageError,
		Flags:        []cli.Flag{jsonFlag()},
		Action: func(ctx context.Context, c *cli.Command) error {
			return runPlatforms(ctx, platformsOptions{Names: c.Args().Slice(), JSON: c.Bool("json")}, stdout)
		},
	}
}

// runPlatforms lists the embedded platforms, or prints the named ones.
func runPlatforms(_ context.Context, o platformsOptions, stdout io.Writer) error {
	return bundle.PrintPlatforms(stdout, o.Names, o.JSON)
}
