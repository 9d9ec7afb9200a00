// Command bundle turns a recipe into one self-contained, relocatable Linux
// distribution tarball that grid sites unpack onto CVMFS.
//
// This file only wires the command line; the work is in the packages.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/bundle-dev/bundle/bundle"
	"github.com/bundle-dev/bundle/bundle/closure"
	"github.com/bundle-dev/bundle/bundle/extract"
	"github.com/bundle-dev/bundle/bundle/schedule"
	"github.com/bundle-dev/bundle/bundle/tarball"
	"github.com/bundle-dev/bundle/links"
	"github.com/bundle-dev/bundle/platforms"
	"github.com/bundle-dev/bundle/recipes"
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
	jsonFlag := &cli.BoolFlag{Name: "json", Usage: "print the report as JSON (for CI)"}
	workersFlag := &cli.IntFlag{Name: "workers", Aliases: []string{"j"}, Usage: "parallel workers (default: number of CPUs)"}
	platformFlag := &cli.StringFlag{Name: "platform", Aliases: []string{"p"}, Value: "debian11-x86_64",
		Usage: "target platform: an embedded name (" + strings.Join(platforms.Names(), ", ") + ") or a platform file"}
	removeFlag := &cli.StringSliceFlag{Name: "remove", Usage: "remove `PATH` (glob; a directory removes its contents) from the tree (default: " + strings.Join(bundle.DefaultRemove, ", ") + ")"}
	keepDocsFlag := &cli.BoolFlag{Name: "keep-docs", Usage: "remove nothing (overrides the default --remove list)"}
	ignoreFlag := &cli.StringSliceFlag{Name: "ignore", Usage: "ignore Requires matching `GLOB` in the closure"}
	weakFlag := &cli.BoolFlag{Name: "weak-deps", Usage: "follow Recommends and Supplements"}

	cmd := &cli.Command{
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
			{
				Name:         "build",
				Usage:        "plan → builds → local repo → assemble → test: the whole pipeline on a recipe (default: the embedded reference recipe)",
				ArgsUsage:    "[RECIPE]",
				OnUsageError: onUsageError,
				Flags: append(append(append(buildFlags(), limitFlags()...), executorFlags()...),
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output `DIR` (default: the recipe's output.dir)"},
					&cli.StringFlag{Name: "mtime", Usage: "clamp mtimes to `TIME` (unix seconds or RFC 3339; default SOURCE_DATE_EPOCH, else the newest package build time)"},
					&cli.BoolFlag{Name: "no-assemble", Usage: "stop after the builds: fill the local repo only"},
					&cli.BoolFlag{Name: "no-test", Usage: "do not run `bundle test` on the new bundle"},
					&cli.StringFlag{Name: "test-root", Usage: "also run the bundle's checks inside this root filesystem `DIR` (or debian:SUITE)"},
					&cli.StringFlag{Name: "notify", Usage: "at the end, success or failure, run `CMD` (sh -c) with the run's JSON summary on stdin"},
					&cli.BoolFlag{Name: "no-reuse", Usage: "assemble and test even when an assembly of the same inputs is in the cache"},
					&cli.BoolFlag{Name: "explain", Usage: "say which assemble inputs changed since the last build of this output"},
					jsonFlag),
				Action: func(ctx context.Context, c *cli.Command) error {
					r, err := loadRecipe(c, 1)
					if err != nil {
						return err
					}
					mtime, err := parseMtime(c.String("mtime"))
					if err != nil {
						return usageError{err}
					}
					o := buildOptions(c, r, stderr)
					o.Out, o.Mtime = c.String("output"), mtime
					if o.MaxFiles, o.MaxBytes, err = extractLimits(c); err != nil {
						return err
					}
					o.NoAssemble, o.NoTest, o.TestRootFS = c.Bool("no-assemble"), c.Bool("no-test"), c.String("test-root")
					o.Compare = reportDiff
					o.NoReuse, o.Explain = c.Bool("no-reuse"), c.Bool("explain")
					done := notifyBuild(ctx, c.String("notify"), o)
					res, err := bundle.Build(ctx, o)
					err = done(res, err)
					return bundle.PrintBuild(stdout, res, err, c.Bool("json"))
				},
			},
			{
				Name:         "build-package",
				Usage:        "build one package of a recipe (and what it needs) into the local repo",
				ArgsUsage:    "RECIPE NAME...",
				OnUsageError: onUsageError,
				Flags:        append(append(buildFlags(), executorFlags()...), jsonFlag),
				Action: func(ctx context.Context, c *cli.Command) error {
					if c.Args().Len() < 2 {
						return usagef("build-package: give a recipe and at least one package name")
					}
					r, err := loadRecipe(c, -1)
					if err != nil {
						return err
					}
					o := buildOptions(c, r, stderr)
					o.Only = c.Args().Slice()[1:]
					res, err := bundle.Build(ctx, o)
					return bundle.PrintBuild(stdout, res, err, c.Bool("json"))
				},
			},
			buildJobCommand(),
			{
				Name:         "lock",
				Usage:        "resolve the recipe's pip requirements with the bundle's own Python into its lock (exact versions, sha256)",
				ArgsUsage:    "[RECIPE]",
				OnUsageError: onUsageError,
				Flags:        append(buildFlags(), jsonFlag),
				Action: func(ctx context.Context, c *cli.Command) error {
					r, err := loadRecipe(c, 1)
					if err != nil {
						return err
					}
					lock, err := bundle.LockPip(ctx, buildOptions(c, r, stderr))
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return bundle.PrintJSON(stdout, lock)
					}
					fmt.Fprintf(stdout, "%s: %d pins\n", r.Pip.Lock.Given, len(lock.Pins))
					return nil
				},
			},
			{
				Name:         "plan",
				Usage:        "show the build plan of a recipe: layers, critical path, and with --explain what rebuilds and why",
				ArgsUsage:    "[RECIPE]",
				OnUsageError: onUsageError,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "workdir", Value: ".bundle", Usage: "work `DIR` (prepared SRPMs, repo, logs, state)"},
					&cli.StringFlag{Name: "cache-dir", Usage: "cache `DIR` (default $BUNDLE_CACHE, else $XDG_CACHE_HOME/bundle, else ~/.cache/bundle)"},
					&cli.BoolFlag{Name: "offline", Usage: "never use the network: sources must be in the cache"},
					&cli.BoolFlag{Name: "explain", Usage: "say which packages will rebuild and why"},
					jsonFlag,
				},
				Action: func(ctx context.Context, c *cli.Command) error {
					r, err := loadRecipe(c, 1)
					if err != nil {
						return err
					}
					return bundle.Plan(ctx, bundle.PlanOptions{
						Recipe: r, WorkDir: c.String("workdir"), CacheDir: c.String("cache-dir"), Offline: c.Bool("offline"),
						Explain: c.Bool("explain"), JSON: c.Bool("json"), Logger: slog.Default(),
					}, stdout)
				},
			},
			{
				Name:         "fetch",
				Usage:        "download every source, SRPM and patch of a recipe into the source cache (sha256 verified)",
				ArgsUsage:    "[RECIPE]",
				OnUsageError: onUsageError,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "cache-dir", Usage: "cache `DIR` (default $BUNDLE_CACHE, else $XDG_CACHE_HOME/bundle, else ~/.cache/bundle)"},
					&cli.BoolFlag{Name: "offline", Usage: "only check that everything is in the cache"},
					workersFlag, jsonFlag,
				},
				Action: func(ctx context.Context, c *cli.Command) error {
					r, err := loadRecipe(c, 1)
					if err != nil {
						return err
					}
					paths, err := bundle.Fetch(ctx, r, c.String("cache-dir"), c.Bool("offline"), int(c.Int("workers")), slog.Default())
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return bundle.PrintJSON(stdout, paths)
					}
					for _, p := range paths {
						fmt.Fprintln(stdout, p)
					}
					return nil
				},
			},
			{
				Name:         "test",
				Usage:        "audit a bundle (tarball or directory): links, ELF dependencies and glibc ceiling, build paths, shebangs, the recipe's checks",
				ArgsUsage:    "TARBALL|DIR",
				OnUsageError: onUsageError,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "platform", Aliases: []string{"p"}, Usage: "target platform (default: the manifest's beside the tarball, else debian11-x86_64)"},
					&cli.StringFlag{Name: "recipe", Usage: "take the declared checks and the root variable from this recipe `FILE` (default: the manifest's)"},
					&cli.StringSliceFlag{Name: "check", Usage: "also run `NAME=COMMAND` after sourcing bundlerc (repeatable)"},
					&cli.StringFlag{Name: "root", Usage: "also run the checks inside this root filesystem `DIR` (another distribution), or debian:SUITE for a cached mmdebstrap one (e.g. debian:trixie)"},
					&cli.StringFlag{Name: "root-var", Usage: "the variable bundlerc exports (default: from the recipe or the manifest)"},
					&cli.StringSliceFlag{Name: "build-path", Usage: "a build `PATH` that must appear in no file (repeatable)"},
					&cli.StringFlag{Name: "workdir", Usage: "where the bundle is unpacked (default: the system's temporary directory; must be searchable by nobody)"},
					&cli.BoolFlag{Name: "keep", Usage: "keep the unpacked bundle and the logs"},
					jsonFlag,
				},
				Action: func(ctx context.Context, c *cli.Command) error {
					if c.Args().Len() != 1 {
						return usagef("test: give one tarball or bundle directory")
					}
					target := c.Args().First()
					o := bundle.TestOptions{Target: target, RootFS: c.String("root"), RootVar: c.String("root-var"),
						BuildPaths: c.StringSlice("build-path"), WorkDir: c.String("workdir"), Keep: c.Bool("keep"), Logger: slog.Default()}
					for _, v := range c.StringSlice("check") {
						chk, err := bundle.ParseCheck(v)
						if err != nil {
							return usageError{err}
						}
						o.Checks = append(o.Checks, chk)
					}
					platform := c.String("platform")
					if m, err := bundle.ReadManifest(target + ".manifest.json"); err == nil {
						if platform == "" {
							platform = m.Platform
						}
						if c.String("recipe") == "" {
							if o.RootVar == "" {
								o.RootVar = cmp.Or(m.RootVar, bundle.RootVar(m.Name))
							}
							o.Checks = append(slices.Clone(m.Checks), o.Checks...)
						}
					}
					if platform == "" {
						platform = "debian11-x86_64"
					}
					p, err := platforms.Load(platform)
					if err != nil {
						return usageError{err}
					}
					o.Platform = p
					if f := c.String("recipe"); f != "" {
						if o.Recipe, err = recipes.Load(f); err != nil {
							return err
						}
					}
					rep, err := bundle.Test(ctx, o)
					if rep != nil {
						if c.Bool("json") {
							if jerr := rep.WriteJSON(stdout); jerr != nil {
								return jerr
							}
						} else if werr := rep.WriteText(stdout); werr != nil {
							return werr
						}
					}
					return err
				},
			},
			{
				Name:         "extract",
				Usage:        "extract RPM payloads safely into a directory",
				ArgsUsage:    "RPM...",
				OnUsageError: onUsageError,
				Flags: append(limitFlags(),
					&cli.StringFlag{Name: "directory", Aliases: []string{"C"}, Usage: "extract into `DIR` (created)"},
					workersFlag, removeFlag, keepDocsFlag, jsonFlag,
				),
				Action: func(ctx context.Context, c *cli.Command) error {
					dir := c.String("directory")
					if dir == "" {
						return usagef("extract: -C DIR is required")
					}
					if c.Args().Len() == 0 {
						return usagef("extract: no RPM given")
					}
					maxFiles, maxBytes, err := extractLimits(c)
					if err != nil {
						return err
					}
					if err := os.MkdirAll(dir, 0o755); err != nil {
						return err
					}
					rep, err := extract.Extract(ctx, extract.Options{
						Root: dir, Workers: int(c.Int("workers")), Remove: removeList(c), Logger: slog.Default(),
						MaxFiles: maxFiles, MaxBytes: maxBytes,
					}, c.Args().Slice())
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return bundle.PrintJSON(stdout, rep)
					}
					return bundle.PrintExtract(stdout, rep)
				},
			},
			{
				Name:         "closure",
				Usage:        "resolve the dependency closure of packages in a repository and say why each is in",
				ArgsUsage:    "[NAME...]",
				OnUsageError: onUsageError,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "repo", Usage: "directory of RPMs (`DIR`; repodata used when present)"},
					platformFlag, ignoreFlag, weakFlag, jsonFlag,
				},
				Action: func(ctx context.Context, c *cli.Command) error {
					if c.String("repo") == "" {
						return usagef("closure: --repo DIR is required")
					}
					p, err := platforms.Load(c.String("platform"))
					if err != nil {
						return usageError{err}
					}
					pkgs, err := closure.LoadRepo(ctx, c.String("repo"), slog.Default())
					if err != nil {
						return err
					}
					res, err := closure.Resolve(ctx, pkgs, closure.Options{
						Platform: p, Want: c.Args().Slice(), Ignore: c.StringSlice("ignore"), WeakDeps: c.Bool("weak-deps"),
					})
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return bundle.PrintJSON(stdout, res)
					}
					return bundle.PrintClosure(stdout, res)
				},
			},
			{
				Name:         "assemble",
				Usage:        "closure → extract → links → tarball: one deterministic, CVMFS-ready tarball from a directory of RPMs",
				ArgsUsage:    "[NAME...]",
				OnUsageError: onUsageError,
				Flags: append(limitFlags(),
					&cli.StringFlag{Name: "repo", Usage: "directory of RPMs (`DIR`)"},
					platformFlag,
					&cli.StringFlag{Name: "name", Usage: "bundle name"},
					&cli.StringFlag{Name: "version", Usage: "bundle version"},
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output `DIR` (or the tarball path)"},
					&cli.StringFlag{Name: "top-dir", Usage: "top directory in the tarball (default: the name)"},
					&cli.StringFlag{Name: "workdir", Value: ".bundle", Usage: "work directory (staging tree)"},
					&cli.StringFlag{Name: "compression", Value: "gzip", Usage: "gzip, zstd or none"},
					&cli.StringFlag{Name: "mtime", Usage: "clamp mtimes to `TIME` (unix seconds or RFC 3339; default SOURCE_DATE_EPOCH, else the newest package build time)"},
					&cli.IntFlag{Name: "catalog-max", Value: 200000, Usage: "most entries in one CVMFS catalog"},
					&cli.IntFlag{Name: "catalog-min", Value: 1000, Usage: "fewest entries in a nested CVMFS catalog"},
					&cli.StringSliceFlag{Name: "exclude", Usage: "never put packages matching `GLOB` in the bundle"},
					&cli.BoolFlag{Name: "no-relocate", Usage: "skip the relocation stage ($ORIGIN RPATHs, shebang launchers, build paths, bundlerc)"},
					&cli.StringFlag{Name: "root-var", Usage: "the variable bundlerc exports with the bundle's root (default: the name, upper-cased)"},
					ignoreFlag, weakFlag, removeFlag, keepDocsFlag, workersFlag, jsonFlag,
				),
				Action: func(ctx context.Context, c *cli.Command) error {
					var missing []string
					for _, f := range []string{"repo", "name", "version", "output"} {
						if c.String(f) == "" {
							missing = append(missing, "--"+f)
						}
					}
					if len(missing) > 0 {
						return usagef("assemble: %s required", strings.Join(missing, ", "))
					}
					p, err := platforms.Load(c.String("platform"))
					if err != nil {
						return usageError{err}
					}
					mtime, err := parseMtime(c.String("mtime"))
					if err != nil {
						return usageError{err}
					}
					maxFiles, maxBytes, err := extractLimits(c)
					if err != nil {
						return err
					}
					switch c.String("compression") {
					case "gzip", "zstd", "none":
					default:
						return usagef("--compression %q: want gzip, zstd or none", c.String("compression"))
					}
					var after []bundle.Hook
					if !c.Bool("no-relocate") {
						env := bundle.EnvOptions(nil, c.String("name"))
						if v := c.String("root-var"); v != "" {
							env.RootVar = v
						}
						after = append(after, bundle.RelocateStage(p, env, nil, slog.Default()))
					}
					m, err := bundle.Assemble(ctx, bundle.AssembleOptions{
						AfterLinks: after,
						Repo:       c.String("repo"), Platform: p, Name: c.String("name"), Version: c.String("version"),
						TopDir: c.String("top-dir"), Out: c.String("output"), WorkDir: c.String("workdir"),
						Want: c.Args().Slice(), Exclude: c.StringSlice("exclude"), Ignore: c.StringSlice("ignore"),
						WeakDeps: c.Bool("weak-deps"), Remove: removeList(c), NoRemove: c.Bool("keep-docs"),
						Workers: int(c.Int("workers")), Mtime: mtime, Compress: c.String("compression"),
						CatalogMax: int(c.Int("catalog-max")), CatalogMin: int(c.Int("catalog-min")), Logger: slog.Default(), LockWorkDir: true,
						MaxFiles: maxFiles, MaxBytes: maxBytes,
					})
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return bundle.PrintJSON(stdout, m)
					}
					return bundle.PrintAssemble(stdout, m, bundle.OutputPath(c.String("output"), m))
				},
			},
			{
				Name:         "links",
				Usage:        "make the symlinks and hard links of a tree CVMFS-safe (one stage of assemble)",
				ArgsUsage:    "DIR",
				OnUsageError: onUsageError,
				Flags:        []cli.Flag{jsonFlag},
				Action: func(ctx context.Context, c *cli.Command) error {
					if c.Args().Len() != 1 {
						return usagef("links: give exactly one directory")
					}
					rep, err := links.Fix(ctx, c.Args().First(), links.Options{Logger: slog.Default()})
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return bundle.PrintJSON(stdout, rep)
					}
					return bundle.PrintLinks(stdout, rep)
				},
			},
			{
				Name:         "tarball",
				Usage:        "write a tree as a deterministic, CVMFS-ready tarball (one stage of assemble)",
				OnUsageError: onUsageError,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "directory", Aliases: []string{"C"}, Usage: "the tree (`DIR`) whose contents become the top directory"},
					&cli.StringFlag{Name: "top-dir", Usage: "top directory name in the tarball (default: the tree's base name)"},
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "tarball `PATH`"},
					&cli.StringFlag{Name: "compression", Value: "gzip", Usage: "gzip, zstd or none"},
					&cli.StringFlag{Name: "mtime", Usage: "clamp mtimes to `TIME` (unix seconds or RFC 3339; default SOURCE_DATE_EPOCH)"},
					&cli.IntFlag{Name: "catalog-max", Value: 200000, Usage: "most entries in one CVMFS catalog"},
					&cli.IntFlag{Name: "catalog-min", Value: 1000, Usage: "fewest entries in a nested CVMFS catalog"},
					jsonFlag,
				},
				Action: func(ctx context.Context, c *cli.Command) error {
					dir, out := c.String("directory"), c.String("output")
					if dir == "" || out == "" {
						return usagef("tarball: -C DIR and -o PATH are required")
					}
					mtime, err := parseMtime(c.String("mtime"))
					if err != nil {
						return usageError{err}
					}
					if mtime.IsZero() {
						if _, ok, err := tarball.MtimeFromEnv(); err != nil {
							return usageError{err}
						} else if !ok {
							return usagef("tarball: give --mtime or set SOURCE_DATE_EPOCH (a reproducible tarball needs a fixed time)")
						}
					}
					top := c.String("top-dir")
					if top == "" {
						top = filepath.Base(filepath.Clean(dir))
					}
					res, err := tarball.Write(ctx, tarball.Options{
						Root: dir, TopDir: top, Out: out, Compression: c.String("compression"), Mtime: mtime,
						CatalogMax: int(c.Int("catalog-max")), CatalogMin: int(c.Int("catalog-min")), Logger: slog.Default(),
					})
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return bundle.PrintJSON(stdout, res)
					}
					fmt.Fprintf(stdout, "%s: %d entries, %d catalogs, sha256 %s\n", res.Path, res.Entries, len(res.Catalogs), res.SHA256)
					return nil
				},
			},
			{
				Name:         "platforms",
				Usage:        "list the embedded platforms, or show one",
				ArgsUsage:    "[NAME]",
				OnUsageError: onUsageError,
				Flags:        []cli.Flag{jsonFlag},
				Action: func(ctx context.Context, c *cli.Command) error {
					return bundle.PrintPlatforms(stdout, c.Args().Slice(), c.Bool("json"))
				},
			},
			diffCommand(stdout),
			publishCommand(stdout),
			reportCommand(stdout),
		},
	}
	return cmd
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

// parseMtime accepts unix seconds or RFC 3339; "" is the zero time.
func parseMtime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	var secs int64
	if _, err := fmt.Sscanf(s, "%d", &secs); err == nil && fmt.Sprint(secs) == s {
		return time.Unix(secs, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--mtime %q: want unix seconds or RFC 3339 (2024-01-02T15:04:05Z)", s)
	}
	return t.UTC(), nil
}

// buildFlags are the flags of every command that builds.
func buildFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "workdir", Value: ".bundle", Usage: "work `DIR`: local repo, logs, state, lock"},
		&cli.StringFlag{Name: "cache-dir", Usage: "cache `DIR` for sources, builds and build roots (default $BUNDLE_CACHE, else $XDG_CACHE_HOME/bundle, else ~/.cache/bundle)"},
		&cli.BoolFlag{Name: "offline", Usage: "never use the network: sources must be in the cache"},
		&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Usage: "builds at once (default: the recipe's build.jobs, else the CPU count)"},
		&cli.IntFlag{Name: "cpus", Usage: "global CPU budget shared by running builds (default: the recipe's build.cpus, else the CPU count)"},
		&cli.BoolFlag{Name: "fail-fast", Usage: "stop at the first failed build (default: keep going, skip its dependents)"},
	}
}

// buildOptions reads the flags of buildFlags.
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
