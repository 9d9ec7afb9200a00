package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/bundle-dev/bundle/bundle"
	"github.com/bundle-dev/bundle/bundle/tarball"
)

// tarballOptions say which tree `bundle tarball` writes, and how.
type tarballOptions struct {
	Dir         string
	TopDir      string // "": the tree's base name
	Out         string
	Compression string
	Mtime       time.Time // zero: SOURCE_DATE_EPOCH, which must then be set
	CatalogMax  int
	CatalogMin  int
	JSON        bool
	Logger      *slog.Logger
}

func tarballCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:         "tarball",
		Usage:        "write a tree as a deterministic, CVMFS-ready tarball (one stage of assemble)",
		OnUsageError: onUsageError,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "directory", Aliases: []string{"C"}, Usage: "the tree (`DIR`) whose contents become the top directory"},
			&cli.StringFlag{Name: "top-dir", Usage: "top directory name in the tarball (default: the tree's base name)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "tarball `PATH`"},
			compressionFlag(),
			mtimeFlag("SOURCE_DATE_EPOCH"),
		}, append(catalogFlags(), jsonFlag())...),
		Action: func(ctx context.Context, c *cli.Command) error {
			o := tarballOptions{Dir: c.String("directory"), TopDir: c.String("top-dir"), Out: c.String("output"),
				Compression: c.String("compression"), CatalogMax: int(c.Int("catalog-max")), CatalogMin: int(c.Int("catalog-min")),
				JSON: c.Bool("json"), Logger: slog.Default()}
			if o.Dir == "" || o.Out == "" {
				return usagef("tarball: -C DIR and -o PATH are required")
			}
			var err error
			if o.Mtime, err = mtimeOf(c); err != nil {
				return err
			}
			return runTarball(ctx, o, stdout)
		},
	}
}

// runTarball writes the tarball and prints its path, counts and sha256.
func runTarball(ctx context.Context, o tarballOptions, stdout io.Writer) error {
	if o.Mtime.IsZero() {
		if _, ok, err := tarball.MtimeFromEnv(); err != nil {
			return usageError{err}
		} else if !ok {
			return usagef("tarball: give --mtime or set SOURCE_DATE_EPOCH (a reproducible tarball needs a fixed time)")
		}
	}
	top := o.TopDir
	if top == "" {
		top = filepath.Base(filepath.Clean(o.Dir))
	}
	res, err := tarball.Write(ctx, tarball.Options{
		Root: o.Dir, TopDir: top, Out: o.Out, Compression: o.Compression, Mtime: o.Mtime,
		CatalogMax: o.CatalogMax, CatalogMin: o.CatalogMin, Logger: o.Logger,
	})
	if err != nil {
		return err
	}
	if o.JSON {
		return bundle.PrintJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "%s: %d entries, %d catalogs, sha256 %s\n", res.Path, res.Entries, len(res.Catalogs), res.SHA256)
	return nil
}
