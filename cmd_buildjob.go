package main

import (
	"context"
	"log/slog"
	"slices"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/bundle-dev/bundle/bundle/engine"
	"github.com/bundle-dev/bundle/recipes"
	"io"
)

// executorFlags choose where the builds run (build, build-package).
func executorFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "executor", Usage: "where packages build: local (this machine) or slurm (one Slurm job per package; default: the recipe's build.executor, else local)",
			Validator: func(s string) error {
				if !slices.Contains(recipes.Executors, s) {
					return usagef("--executor %q: want %s", s, strings.Join(recipes.Executors, " or "))
				}
				return nil
			}},
		&cli.StringFlag{Name: "slurm-partition", Usage: "Slurm `PARTITION` of the jobs (default: the recipe's build.slurm.partition, else the cluster's default)"},
		&cli.StringFlag{Name: "slurm-account", Usage: "Slurm `ACCOUNT` charged for the jobs (default: the recipe's build.slurm.account)"},
	}
}

// buildJobCommand is what a Slurm job of `bundle build --executor slurm`
// runs: build one package from the job spec the submitting run wrote.
// It is internal, so hidden.
func buildJobCommand() *cli.Command {
	return &cli.Command{
		Name:         "build-job",
		Usage:        "build one package from a job spec on a cluster node (run by the Slurm jobs of build --executor slurm)",
		ArgsUsage:    "SPEC",
		Hidden:       true,
		OnUsageError: onUsageError,
		Action: func(ctx context.Context, c *cli.Command) error {
			if c.Args().Len() != 1 {
				return usagef("build-job: give the job spec")
			}
			return runBuildJob(ctx, buildJobOptions{Spec: c.Args().First(), Logger: slog.Default()}, c.Root().Writer)
		},
	}
}

// buildJobOptions name the job spec a Slurm job runs.
type buildJobOptions struct {
	Spec   string
	Logger *slog.Logger
}

// runBuildJob builds the package of the job spec; its result goes beside
// the spec, its log to the job's log, nothing to stdout.
func runBuildJob(ctx context.Context, o buildJobOptions, _ io.Writer) error {
	return engine.RunJob(ctx, o.Spec, nil, o.Logger)
}
