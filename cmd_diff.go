package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v3"

	"github.com/bundle-dev/bundle/bundle"
	"github.com/bundle-dev/bundle/bundle/diff"
)

// exitStatus makes a command end with a given status, like diff(1)'s 1
// for "different"; err, when set, is printed first.
type exitStatus struct {
	code int
	err  error
}

func (e exitStatus) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("exit status %d", e.code)
}

func (e exitStatus) Unwrap() error { return e.err }

type diffOptions struct {
	Old, New string
	JSON     bool
	Markdown bool
}

func diffCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "diff",
		Usage: "what changed between two bundles: packages, pip pins, files, sizes (exit 0 identical, 1 different, 2 trouble)",
		Description: "OLD and NEW are tarballs (their manifests beside them; files are compared by content)\n" +
			"or manifests (NAME.manifest.json; files are not compared).",
		ArgsUsage:    "OLD NEW",
		OnUsageError: onUsageError,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON (for CI)"},
			&cli.BoolFlag{Name: "markdown", Usage: "print the report as markdown (release notes)"},
		},
		Action: func(ctx context.Context, c *cli.Command) error {
			if c.Args().Len() != 2 {
				return usagef("diff takes two bundles, OLD and NEW (got %d arguments)", c.Args().Len())
			}
			if c.Bool("json") && c.Bool("markdown") {
				return usagef("--json and --markdown exclude each other")
			}
			return runDiff(ctx, diffOptions{Old: c.Args().Get(0), New: c.Args().Get(1), JSON: c.Bool("json"), Markdown: c.Bool("markdown")}, stdout)
		},
	}
}

// runDiff prints the comparison and returns exitStatus 1 when the bundles
// differ, exitStatus 2 when they cannot be compared.
func runDiff(ctx context.Context, o diffOptions, stdout io.Writer) error {
	a, b, err := diff.LoadPair(ctx, o.Old, o.New)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return exitStatus{code: exitUsage, err: err}
	}
	r := diff.Compare(a, b)
	switch {
	case o.JSON:
		err = bundle.PrintJSON(stdout, r)
	case o.Markdown:
		err = r.WriteMarkdown(stdout)
	default:
		err = r.WriteText(stdout)
	}
	if err != nil {
		return exitStatus{code: exitUsage, err: err}
	}
	if !r.Identical {
		return exitStatus{code: exitFailure}
	}
	return nil
}

// printExitStatus prints an exitStatus's error, if any, and returns its code.
func printExitStatus(err error, stderr io.Writer) int {
	var e exitStatus
	errors.As(err, &e)
	if e.err != nil {
		fmt.Fprintf(stderr, "bundle: %v\n", e.err)
	}
	return e.code
}
