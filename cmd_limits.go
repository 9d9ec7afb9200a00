package main

import (
	"github.com/bundle-dev/bundle/bundle/extract"
	"github.com/bundle-dev/bundle/recipes"
	"github.com/urfave/cli/v3"
)

// limitFlags bound what extraction writes: extract, assemble and build
// take them. Both are checked from the package headers before anything is
// written.
func limitFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "max-files", Value: extract.DefaultMaxFiles, Usage: "refuse to extract more than `N` entries in all (0: no limit)"},
		&cli.StringFlag{Name: "max-size", Value: recipes.ByteSize(extract.DefaultMaxBytes).String(), Usage: "refuse to extract more than `SIZE` in all, e.g. 64G (0: no limit)"},
	}
}

// extractLimits reads limitFlags as extract.Options.MaxFiles and MaxBytes
// (negative: no limit).
func extractLimits(c *cli.Command) (maxFiles, maxBytes int64, err error) {
	size, err := recipes.ParseByteSize(c.String("max-size"))
	if err != nil {
		return 0, 0, usagef("--max-size: %v", err)
	}
	maxFiles, maxBytes = int64(c.Int("max-files")), int64(size)
	if maxFiles <= 0 {
		maxFiles = -1
	}
	if maxBytes <= 0 {
		maxBytes = -1
	}
	return maxFiles, maxBytes, nil
}
