package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle"
	"github.com/bundle-dev/bundle/bundle/schedule"
)

func manifest(sha string, pkgs ...string) *bundle.Manifest {
	m := &bundle.Manifest{Name: "demo", Version: "1.0", Tarball: bundle.TarballInfo{File: "demo.tar.gz", SHA256: sha}}
	for _, p := range pkgs {
		n, v, _ := strings.Cut(p, "=")
		m.Packages = append(m.Packages, bundle.PackageInfo{Name: n, Arch: "x86_64", NEVRA: n + "-" + v + "-1.x86_64", SHA256: v})
	}
	return m
}

func TestNewSummary(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "openssl.log")
	var lines []string
	for i := 1; i <= 100; i++ {
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	os.WriteFile(logFile, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	res := &bundle.BuildResult{Summary: &schedule.Summary{Wall: 90 * time.Second, SerialSum: 150 * time.Second, Nodes: []schedule.NodeResult{
		{Name: "zlib", State: schedule.Cached},
		{Name: "openssl", State: schedule.Failed, Error: "rpmbuild: exit status 1", Log: logFile},
		{Name: "python3", State: schedule.Skipped, Cause: []string{"openssl"}},
	}}}
	s := NewSummary("demo", "1.0", time.Now().Add(-time.Minute), res, errors.New("1 package failed"), false, nil)
	if s.Status != "failure" || s.Error != "1 package failed" || s.Seconds < 59 {
		t.Errorf("status %+v", s)
	}
	if len(s.Failed) != 1 || s.Failed[0].Package != "openssl" || len(s.Failed[0].Tail) != TailLines ||
		s.Failed[0].Tail[TailLines-1] != "line 100" || s.Failed[0].Tail[0] != "line 61" {
		t.Errorf("failed %+v", s.Failed)
	}
	if len(s.Skipped) != 1 || s.Builds[schedule.Cached] != 1 || s.BuildSeconds != 90 || s.SerialSeconds != 150 {
		t.Errorf("builds %+v skipped %v", s.Builds, s.Skipped)
	}

	ok := &bundle.BuildResult{Manifest: manifest("new", "zlib=1", "openssl=3"), Tarball: "out/demo.tar.gz"}
	s = NewSummary("demo", "1.0", time.Now(), ok, nil, false, manifest("old", "zlib=1", "openssl=2"))
	if s.Status != "success" || s.SHA256 != "new" || s.Tarball != "out/demo.tar.gz" || s.Diff == nil {
		t.Fatalf("summary %+v", s)
	}
	if s.Diff.Identical || s.Diff.Against != "old" || len(s.Diff.Packages.Changed) != 1 || s.Diff.Packages.Changed[0].Name != "openssl" {
		t.Errorf("diff %+v", s.Diff)
	}
	if s := NewSummary("demo", "1.0", time.Now(), nil, context.Canceled, true, nil); s.Status != "interrupted" {
		t.Errorf("interrupted run: %q", s.Status)
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "got.json")
	s := &Summary{Status: "success", Name: "demo", SHA256: "abc"}
	// A cancelled context still notifies: an interrupted build is news too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Run(ctx, "cat > "+out, s, filepath.Join(dir, "notify.log"), nil); err != nil {
		t.Fatal(err)
	}
	var got Summary
	data, _ := os.ReadFile(out)
	if err := json.Unmarshal(data, &got); err != nil || got.Status != "success" || got.SHA256 != "abc" {
		t.Errorf("the command read %s (%v)", data, err)
	}
	err := Run(context.Background(), "echo no route to chat >&2; exit 7", s, filepath.Join(dir, "notify.log"), nil)
	if err == nil || !strings.Contains(err.Error(), "exit 7") || !strings.Contains(err.Error(), "no route to chat") {
		t.Errorf("failing command: %v", err)
	}
}
