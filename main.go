// Command bundle turns a recipe into one self-contained, relocatable Linux
// distribution tarball that grid sites unpack onto CVMFS.
//
// This file only wires the command line: each command is in cmd_VERB.go
// (its options, its flags, and runVERB that tests call), the flags several
// commands share in flags.go; the work is in the packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v3"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// version is set at link time (-ldflags "-X main.version=...").
var version = "dev"

type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.Run(ctx, args)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "bundle: %v\nRun 'bundle --help' or 'bundle COMMAND --help' for usage.\n", err)
		return exitUsage
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "bundle: interrupted: %v\n", err)
		return exitInterrupted
	case errors.As(err, new(exitStatus)):
		return printExitStatus(err, stderr)
	default:
		fmt.Fprintf(stderr, "bundle: %v\n", err)
		return exitFailure
	}
}

func onUsageError(_ context.Context, _ *cli.Command, err error, _ bool) error {
	return usageError{err}
}

func newApp(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:           "bundle",
		Usage:          "turn RPMs into one self-contained, relocatable, CVMFS-ready tarball",
		Version:        version,
		Writer:         stdout,
		ErrWriter:      stderr,
		OnUsageError:   onUsageError,
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
		},
		Before: func(ctx context.Context, c *cli.Command) (context.Context, error) {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(c.String("log-level"))); err != nil {
				return ctx, usagef("--log-level %q: want debug, info, warn or error", c.String("log-level"))
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl})))
			return ctx, nil
		},
		Action: func(ctx context.Context, c *cli.Command) error {
			if c.Args().Len() > 0 {
				return usagef("unknown command %q", c.Args().First())
			}
			return cli.ShowRootCommandHelp(c)
		},
		Commands: []*cli.Command{
			buildCommand(stdout, stderr),
			buildPackageCommand(stdout, stderr),
			buildJobCommand(),
			lockCommand(stdout, stderr),
			planCommand(stdout),
			fetchCommand(stdout),
			testCommand(stdout),
			extractCommand(stdout),
			closureCommand(stdout),
			assembleCommand(stdout),
			linksCommand(stdout),
			tarballCommand(stdout),
			platformsCommand(stdout),
			diffCommand(stdout),
			publishCommand(stdout),
			reportCommand(stdout),
		},
	}
}
