package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/bundle-dev/bundle/bundle/testenv"
)

var quiet = slog.New(slog.DiscardHandler)

// The commands' run functions, called directly with their options.

func TestRunPlatforms(t *testing.T) {
	var out bytes.Buffer
	if err := runPlatforms(context.Background(), platformsOptions{}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "NAME") || !strings.Contains(out.String(), "debian11-x86_64") {
		t.Errorf("list:\n%s", out.String())
	}
	out.Reset()
	if err := runPlatforms(context.Background(), platformsOptions{Names: []string{"debian12-x86_64"}, JSON: true}, &out); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(out.Bytes()) || !strings.Contains(out.String(), "debian12-x86_64") {
		t.Errorf("JSON:\n%s", out.String())
	}
}

func TestRunTarballAndLinks(t *testing.T) {
	ctx := context.Background()
	tree := filepath.Join(t.TempDir(), "top")
	if err := os.MkdirAll(filepath.Join(tree, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "bin", "tool"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/bin/tool", filepath.Join(tree, "tool")); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runLinks(ctx, linksOptions{Dir: tree, JSON: true, Logger: quiet}, &out); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(out.Bytes()) {
		t.Errorf("links JSON:\n%s", out.String())
	}
	if target, err := os.Readlink(filepath.Join(tree, "tool")); err != nil || filepath.IsAbs(target) {
		t.Errorf("absolute link not made relative: %q %v", target, err)
	}

	path := filepath.Join(t.TempDir(), "x.tar.gz")
	o := tarballOptions{Dir: tree, Out: path, Compression: "gzip", Mtime: time.Unix(1767225600, 0), CatalogMax: 200000, CatalogMin: 1000, Logger: quiet}
	out.Reset()
	if err := runTarball(ctx, o, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), path+": ") || !strings.Contains(out.String(), "sha256 ") {
		t.Errorf("tarball output: %q", out.String())
	}
	o.JSON = true
	out.Reset()
	if err := runTarball(ctx, o, &out); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Path    string `json:"path"`
		Entries int    `json:"entries"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Path != path || res.Entries < 3 {
		t.Errorf("tarball JSON %s: %v", out.String(), err)
	}
	// Without --mtime nor SOURCE_DATE_EPOCH: a usage error.
	t.Setenv("SOURCE_DATE_EPOCH", "")
	os.Unsetenv("SOURCE_DATE_EPOCH")
	o.Mtime = time.Time{}
	if err := runTarball(ctx, o, io.Discard); !errors.As(err, new(usageError)) {
		t.Errorf("no mtime: %v, want a usage error", err)
	}
}

func TestRunExtract(t *testing.T) {
	rpm := testenv.Fixture("rpm-testsuite", "foo-1.0-1.noarch.rpm")
	testenv.Exists(t, rpm)
	dir := filepath.Join(t.TempDir(), "x")
	var out bytes.Buffer
	err := runExtract(context.Background(), extractOptions{Dir: dir, RPMs: []string{rpm}, Jobs: 2,
		MaxFiles: -1, MaxBytes: -1, JSON: true, Logger: quiet}, &out)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Packages []json.RawMessage `json:"packages"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Packages) != 1 {
		t.Errorf("report %s: %v", out.String(), err)
	}
}

func TestRunClosureUnknownPlatform(t *testing.T) {
	err := runClosure(context.Background(), closureOptions{Repo: t.TempDir(), Platform: "no-such-platform", Logger: quiet}, io.Discard)
	if !errors.As(err, new(usageError)) {
		t.Errorf("unknown platform: %v, want a usage error", err)
	}
}

func TestRunAssembleBadCompression(t *testing.T) {
	o := assembleCmdOptions{Platform: "debian12-x86_64", JSON: true}
	o.Assemble.Compress = "lz4"
	if err := runAssemble(context.Background(), o, io.Discard); !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "lz4") {
		t.Errorf("--compression lz4: %v, want a usage error naming it", err)
	}
}

// One meaning per flag: wherever -j exists it is --jobs (alias --workers),
// and a flag name has one kind of value in every command. The one
// exception is documented and kept for the scripts using it: publish
// --keep N (entries kept) and test --keep (keep the unpacked bundle).
func TestFlagsOneMeaning(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	kinds := map[string]string{}
	for _, c := range app.Commands {
		for _, f := range c.Flags {
			names := f.Names()
			for _, n := range names {
				if n == "j" && names[0] != "jobs" {
					t.Errorf("%s: -j is --%s, want --jobs", c.Name, names[0])
				}
			}
			kind := strings.TrimPrefix(strings.Split(strings.TrimPrefix(typeName(f), "*cli."), "[")[0], "*")
			if k, ok := kinds[names[0]]; ok && k != kind && names[0] != "keep" {
				t.Errorf("%s: --%s is a %s here, a %s elsewhere", c.Name, names[0], kind, k)
			}
			kinds[names[0]] = kind
		}
	}
	if kinds["jobs"] == "" || kinds["mtime"] == "" {
		t.Errorf("flags seen: %v", kinds)
	}
}

func typeName(f cli.Flag) string {
	switch f.(type) {
	case *cli.IntFlag:
		return "int"
	case *cli.BoolFlag:
		return "bool"
	case *cli.StringFlag:
		return "string"
	case *cli.StringSliceFlag:
		return "strings"
	}
	return "other"
}
