package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/urfave/cli/v3"

	"github.com/bundle-dev/bundle/bundle"
)

func planCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:         "plan",
		Usage:        "show the build plan of a recipe: layers, critical path, and with --explain what rebuilds and why",
		ArgsUsage:    "[RECIPE]",
		OnUsageError: onUsageError,
		Flags: []cli.Flag{
			workdirFlag("work `DIR` (prepared SRPMs, repo, logs, state)"),
			cacheDirFlag(),
			offlineFlag(),
			&cli.BoolFlag{Name: "explain", Usage: "say which packages will rebuild and why"},
			jsonFlag(),
		},
		Action: func(ctx context.Context, c *cli.Command) error {
			r, err := loadRecipe(c, 1)
			if err != nil {
				return err
			}
			return runPlan(ctx, bundle.PlanOptions{
				Recipe: r, WorkDir: c.String("workdir"), CacheDir: c.String("cache-dir"), Offline: c.Bool("offline"),
				Explain: c.Bool("explain"), JSON: c.Bool("json"), Logger: slog.Default(),
			}, stdout)
		},
	}
}

// runPlan prepares the recipe's packages and prints their plan.
func runPlan(ctx context.Context, o bundle.PlanOptions, stdout io.Writer) error {
	return bundle.Plan(ctx, o, stdout)
}
