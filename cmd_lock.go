package main

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v3"

	"github.com/bundle-dev/bundle/bundle"
)

// lockOptions say what `bundle lock` resolves.
type lockOptions struct {
	Build bundle.BuildOptions
	JSON  bool
}

func lockCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:         "lock",
		Usage:        "resolve the recipe's pip requirements with the bundle's own Python into its lock (exact versions, sha256)",
		ArgsUsage:    "[RECIPE]",
		OnUsageError: onUsageError,
		Flags:        append(buildFlags(), jsonFlag()),
		Action: func(ctx context.Context, c *cli.Command) error {
			r, err := loadRecipe(c, 1)
			if err != nil {
				return err
			}
			return runLock(ctx, lockOptions{Build: buildOptions(c, r, stderr), JSON: c.Bool("json")}, stdout)
		},
	}
}

// runLock writes the recipe's pip lock and prints how many pins it holds.
func runLock(ctx context.Context, o lockOptions, stdout io.Writer) error {
	lock, err := bundle.LockPip(ctx, o.Build)
	if err != nil {
		return err
	}
	if o.JSON {
		return bundle.PrintJSON(stdout, lock)
	}
	fmt.Fprintf(stdout, "%s: %d pins\n", o.Build.Recipe.Pip.Lock.Given, len(lock.Pins))
	return nil
}
