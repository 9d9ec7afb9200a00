package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/urfave/cli/v3"

	"github.com/bundle-dev/bundle/bundle"
	"github.com/bundle-dev/bundle/recipes"
)

// fetchOptions say what `bundle fetch` downloads and where.
type fetchOptions struct {
	Recipe   *recipes.Recipe
	CacheDir string
	Offline  bool // only check that everything is in the cache
	Jobs     int
	JSON     bool
	Logger   *slog.Logger
}

func fetchCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:         "fetch",
		Usage:        "download every source, SRPM and patch of a recipe into the source cache (sha256 verified)",
		ArgsUsage:    "[RECIPE]",
		OnUsageError: onUsageError,
		Flags:        []cli.Flag{cacheDirFlag(), offlineFlag(), jobsFlag("downloads"), jsonFlag()},
		Action: func(ctx context.Context, c *cli.Command) error {
			r, err := loadRecipe(c, 1)
			if err != nil {
				return err
			}
			return runFetch(ctx, fetchOptions{Recipe: r, CacheDir: c.String("cache-dir"), Offline: c.Bool("offline"),
				Jobs: int(c.Int("jobs")), JSON: c.Bool("json"), Logger: slog.Default()}, stdout)
		},
	}
}

// runFetch fills the source cache and prints the path of every input.
func runFetch(ctx context.Context, o fetchOptions, stdout io.Writer) error {
	paths, err := bundle.Fetch(ctx, o.Recipe, o.CacheDir, o.Offline, o.Jobs, o.Logger)
	if err != nil {
		return err
	}
	if o.JSON {
		return bundle.PrintJSON(stdout, paths)
	}
	for _, p := range paths {
		fmt.Fprintln(stdout, p)
	}
	return nil
}
