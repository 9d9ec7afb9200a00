package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/bundle-dev/bundle/bundle"
	"github.com/bundle-dev/bundle/bundle/publish"
)

type publishOptions struct {
	Tarball string
	To      string
	Channel string
	Keep    int
	JSON    bool
}

func publishCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "publish",
		Usage: "put a bundle into a channel directory: DIR/CHANNEL/ENTRY/, latest, index.json, index.html, release notes",
		Description: "Verifies the tarball against its .sha256 and manifest, copies it with its sidecars into\n" +
			"DIR/CHANNEL/NAME-VERSION-PLATFORM-YYYYMMDD[.N]/ (staged, then renamed: never partial), writes the\n" +
			"diff against the previous entry as RELEASE-NOTES.md, points DIR/CHANNEL/latest at it, keeps the\n" +
			"newest --keep entries and rewrites index.json and index.html. Publishers take turns (lock); a\n" +
			"killed publisher leaves no partial entry, and the next one cleans up after it.",
		ArgsUsage:    "TARBALL",
		OnUsageError: onUsageError,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "publication root `DIR` (required)"},
			&cli.StringFlag{Name: "channel", Value: "nightly", Usage: strings.Join(publish.Channels, " or ")},
			&cli.IntFlag{Name: "keep", Usage: "keep the newest `N` entries of the channel (0: all)"},
			&cli.BoolFlag{Name: "json", Usage: "print the new entry as JSON (for CI)"},
		},
		Action: func(ctx context.Context, c *cli.Command) error {
			if c.Args().Len() != 1 {
				return usagef("publish takes one tarball (got %d arguments)", c.Args().Len())
			}
			if c.String("to") == "" {
				return usagef("publish needs --to DIR")
			}
			return runPublish(ctx, publishOptions{Tarball: c.Args().First(), To: c.String("to"),
				Channel: c.String("channel"), Keep: int(c.Int("keep")), JSON: c.Bool("json")}, stdout)
		},
	}
}

func runPublish(ctx context.Context, o publishOptions, stdout io.Writer) error {
	e, err := publish.Publish(ctx, publish.Options{Tarball: o.Tarball, Dir: o.To, Channel: o.Channel, Keep: o.Keep, Logger: slog.Default()})
	if err != nil {
		return err
	}
	if o.JSON {
		return bundle.PrintJSON(stdout, e)
	}
	dir := filepath.Join(o.To, o.Channel, e.ID)
	fmt.Fprintf(stdout, "published %s\n  entry:   %s\n  latest:  %s\n  changes: %s (%s)\n",
		e.Tarball, dir, filepath.Join(o.To, o.Channel, publish.LatestLink), e.Changes, filepath.Join(dir, e.Notes))
	return nil
}
