package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/bundle-dev/bundle/bundle"
	"github.com/bundle-dev/bundle/bundle/engine"
	"github.com/bundle-dev/bundle/bundle/notify"
)

// notifyBuild prepares `bundle build --notify CMD`: it notes when the run
// started and reads the manifest the build is about to replace, and
// returns the function that, at the end, runs CMD with the run's summary.
// With no command it changes nothing.
func notifyBuild(ctx context.Context, command string, o bundle.BuildOptions) func(*bundle.BuildResult, error) error {
	if command == "" {
		return func(_ *bundle.BuildResult, err error) error { return err }
	}
	started := time.Now()
	r := o.Recipe
	var previous *bundle.Manifest
	if p, err := r.LoadPlatform(); err == nil {
		dir := o.Out
		if dir == "" {
			dir = r.Output.Dir.Resolved
		}
		previous = notify.Previous(filepath.Join(dir, bundle.TarballName(r.Name, r.Version, p.Name, r.Output.Compression)) + ".manifest.json")
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	return func(res *bundle.BuildResult, err error) error {
		s := notify.NewSummary(r.Name, r.Version, started, res, err, ctx.Err() != nil, previous)
		workDir := o.WorkDir
		if workDir == "" {
			workDir = engine.DefaultWorkDir
		}
		if nerr := notify.Run(ctx, command, s, filepath.Join(workDir, "logs", "notify.log"), log); nerr != nil {
			log.Error("notification failed", "err", nerr)
			return errors.Join(err, nerr)
		}
		return err
	}
}
