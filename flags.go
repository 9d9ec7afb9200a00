package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/bundle-dev/bundle/bundle"
	"github.com/bundle-dev/bundle/bundle/engine"
	"github.com/bundle-dev/bundle/bundle/schedule"
	"github.com/bundle-dev/bundle/bundle/tarball"
	"github.com/bundle-dev/bundle/platforms"
	"github.com/bundle-dev/bundle/recipes"
)

// The flags more than one command takes, each with one meaning
// everywhere, and the readers of their values.

func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print the report as JSON (for CI)"}
}

// jobsFlag is -j/--jobs: how many things the command does at once (builds,
// downloads, extractions); --workers is its older name.
func jobsFlag(what string) cli.Flag {
	return &cli.IntFlag{Name: "jobs", Aliases: []string{"j", "workers"}, Usage: what + " at once (default: the number of CPUs)"}
}

func platformFlag(def string) cli.Flag {
	return &cli.StringFlag{Name: "platform", Aliases: []string{"p"}, Value: def,
		Usage: "target platform: an embedded name (" + strings.Join(platforms.Names(), ", ") + ") or a platform file"}
}

func workdirFlag(usage string) cli.Flag {
	return &cli.StringFlag{Name: "workdir", Value: engine.DefaultWorkDir, Usage: usage}
}

func cacheDirFlag() cli.Flag {
	return &cli.StringFlag{Name: "cache-dir", Usage: "cache `DIR` for sources, builds and build roots (default $BUNDLE_CACHE, else $XDG_CACHE_HOME/bundle, else ~/.cache/bundle)"}
}

func offlineFlag() cli.Flag {
	return &cli.BoolFlag{Name: "offline", Usage: "never use the network: sources must be in the cache"}
}

// mtimeFlag is --mtime; def says what the command clamps to without it.
func mtimeFlag(def string) cli.Flag {
	return &cli.StringFlag{Name: "mtime", Usage: "clamp mtimes to `TIME` (unix seconds or RFC 3339; default " + def + ")"}
}

// mtimeOf reads --mtime (tarball.ParseMtime); zero when not given.
func mtimeOf(c *cli.Command) (time.Time, error) {
	t, err := tarball.ParseMtime(c.String("mtime"))
	if err != nil {
		return t, usageError{err}
	}
	return t, nil
}

func compressionFlag() cli.Flag {
	return &cli.StringFlag{Name: "compression", Value: "gzip", Usage: "gzip, zstd or none"}
}

func catalogFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "catalog-max", Value: 200000, Usage: "most entries in one CVMFS catalog"},
		&cli.IntFlag{Name: "catalog-min", Value: 1000, Usage: "fewest entries in a nested CVMFS catalog"},
	}
}

func closureFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "ignore", Usage: "ignore Requires matching `GLOB` in the closure"},
		&cli.BoolFlag{Name: "weak-deps", Usage: "follow Recommends and Supplements"},
	}
}

// removeFlags are --remove and --keep-docs; removeList reads them.
func removeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "remove", Usage: "remove `PATH` (glob; a directory removes its contents) from the tree (default: " + strings.Join(bundle.DefaultRemove, ", ") + ")"},
		&cli.BoolFlag{Name: "keep-docs", Usage: "remove nothing (overrides the default --remove list)"},
	}
}

func removeList(c *cli.Command) []string {
	if c.Bool("keep-docs") {
		return []string{}
	}
	if r := c.StringSlice("remove"); len(r) > 0 {
		return r
	}
	return nil
}

// buildFlags are the flags of every command that builds.
func buildFlags() []cli.Flag {
	return []cli.Flag{
		workdirFlag("work `DIR`: local repo, logs, state, lock"),
		cacheDirFlag(),
		offlineFlag(),
		&cli.IntFlag{Name: "jobs", Aliases: []string{"j", "workers"}, Usage: "builds at once (default: the recipe's build.jobs, else the CPU count)"},
		&cli.IntFlag{Name: "cpus", Usage: "global CPU budget shared by running builds (default: the recipe's build.cpus, else the CPU count)"},
		&cli.BoolFlag{Name: "fail-fast", Usage: "stop at the first failed build (default: keep going, skip its dependents)"},
	}
}

// buildOptions reads the flags of buildFlags and executorFlags.
func buildOptions(c *cli.Command, r *recipes.Recipe, stderr io.Writer) bundle.BuildOptions {
	return bundle.BuildOptions{
		Recipe: r, WorkDir: c.String("workdir"), CacheDir: c.String("cache-dir"), Offline: c.Bool("offline"),
		Workers: int(c.Int("jobs")), CPUs: int(c.Int("cpus")), FailFast: c.Bool("fail-fast"),
		Logger: slog.Default(), Progress: progressView(stderr),
		Executor: c.String("executor"), SlurmPartition: c.String("slurm-partition"), SlurmAccount: c.String("slurm-account"),
	}
}

// loadRecipe loads the recipe named by the first argument; n is the exact
// argument count wanted (-1: at least one). With n == 1 and no argument,
// it is the embedded default recipe, written into WORKDIR/recipe (or a
// temporary directory for commands without a work directory).
func loadRecipe(c *cli.Command, n int) (*recipes.Recipe, error) {
	if n == 1 && c.Args().Len() == 0 {
		dir := c.String("workdir")
		if dir == "" {
			tmp, err := os.MkdirTemp("", "bundle-recipe-")
			if err != nil {
				return nil, err
			}
			dir = tmp
		}
		r, err := recipes.Default(filepath.Join(dir, "recipe"))
		if err != nil {
			return nil, err
		}
		// The embedded recipe's output directory is the caller's, not
		// the work directory's copy of the recipe.
		if cwd, err := os.Getwd(); err == nil && !filepath.IsAbs(r.Output.Dir.Given) {
			r.Output.Dir = recipes.NewPath(cwd, r.Output.Dir.Given)
		}
		return r, nil
	}
	if c.Args().Len() == 0 || (n > 0 && c.Args().Len() != n) {
		return nil, usagef("%s: give one recipe file", c.Name)
	}
	return recipes.Load(c.Args().First())
}

// progressView is the live per-package view on a TTY, plain timestamped
// lines otherwise.
func progressView(w io.Writer) func(schedule.Event) {
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return schedule.NewTTYView(w)
		}
	}
	return schedule.NewLineView(w)
}
