package main

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/bundle-dev/bundle/bundle"
	"github.com/bundle-dev/bundle/bundle/extract"
)

// extractOptions say what `bundle extract` extracts where.
type extractOptions struct {
	Dir      string   // created
	RPMs     []string // at least one
	Jobs     int
	Remove   []string // nil: extract's default
	MaxFiles int64
	MaxBytes int64
	JSON     bool
	Logger   *slog.Logger
}

func extractCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:         "extract",
		Usage:        "extract RPM payloads safely into a directory",
		ArgsUsage:    "RPM...",
		OnUsageError: onUsageError,
		Flags: append(append(limitFlags(),
			&cli.StringFlag{Name: "directory", Aliases: []string{"C"}, Usage: "extract into `DIR` (created)"},
			jobsFlag("extractions")), append(removeFlags(), jsonFlag())...),
		Action: func(ctx context.Context, c *cli.Command) error {
			o := extractOptions{Dir: c.String("directory"), RPMs: c.Args().Slice(), Jobs: int(c.Int("jobs")),
				Remove: removeList(c), JSON: c.Bool("json"), Logger: slog.Default()}
			if o.Dir == "" {
				return usagef("extract: -C DIR is required")
			}
			if len(o.RPMs) == 0 {
				return usagef("extract: no RPM given")
			}
			var err error
			if o.MaxFiles, o.MaxBytes, err = extractLimits(c); err != nil {
				return err
			}
			return runExtract(ctx, o, stdout)
		},
	}
}

// runExtract extracts the RPMs into Dir and prints what it wrote.
func runExtract(ctx context.Context, o extractOptions, stdout io.Writer) error {
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return err
	}
	rep, err := extract.Extract(ctx, extract.Options{
		Root: o.Dir, Workers: o.Jobs, Remove: o.Remove, Logger: o.Logger,
		MaxFiles: o.MaxFiles, MaxBytes: o.MaxBytes,
	}, o.RPMs)
	if err != nil {
		return err
	}
	if o.JSON {
		return bundle.PrintJSON(stdout, rep)
	}
	return bundle.PrintExtract(stdout, rep)
}
