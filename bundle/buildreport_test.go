package bundle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/audit"
	"github.com/bundle-dev/bundle/bundle/htmlreport"
	"github.com/bundle-dev/bundle/bundle/plan"
	"github.com/bundle-dev/bundle/bundle/relocate/elfdeps"
	"github.com/bundle-dev/bundle/bundle/rpm"
	"github.com/bundle-dev/bundle/bundle/schedule"
	"github.com/bundle-dev/bundle/recipes"
)

func TestLogTail(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "build.log")
	var lines []string
	for i := range 100 {
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	os.WriteFile(log, []byte(strings.Join(lines, "\n")+"\n\n"), 0o644)
	tests := []struct {
		name, err, log, want string
	}{
		{"from the log", "rpmbuild: exit status 1\n--- last lines ---\nline 99", log, strings.Join(lines[60:], "\n")},
		{"from the error", "rpmbuild: exit status 1 (full log: x)\n--- last lines ---\nmake: Error 2\nerror: Bad exit status\n", filepath.Join(dir, "none"), "make: Error 2\nerror: Bad exit status"},
		{"no log", "exit status 1", "", ""},
		{"neither", "exit status 1", filepath.Join(dir, "none"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := logTail(tc.err, tc.log); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHostRequirements(t *testing.T) {
	q := &Requires{HostNeeds: elfdeps.HostNeeds{Libraries: []string{"libc.so.6", "libm.so.6"}, Glibc: "2.29",
		By: map[string]string{"glibc": "usr/lib64/libpython3.11.so.1.0"}}, RunsOn: []string{"debian11", "el9"}}
	got := hostRequirements(q)
	want := []htmlreport.Requirement{
		{What: "Needs glibc", Need: ">= 2.29 (usr/lib64/libpython3.11.so.1.0)"},
		{What: "Runs on", Need: "debian11, el9"},
		{What: "Host libraries", Need: "libc.so.6, libm.so.6"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if hostRequirements(nil) != nil {
		t.Error("no requirement without a measure")
	}
}

// TestLiveReport follows a build through the report: the page exists as
// soon as the build starts, follows the scheduler's events, and ends with
// the summary, the bundle and the test results; `bundle report` renders
// it again from the record.
func TestLiveReport(t *testing.T) {
	dir := t.TempDir()
	work, html := filepath.Join(dir, "work"), filepath.Join(dir, "out", "x.tar.gz.report.html")
	tarball := filepath.Join(dir, "out", "x.tar.gz")
	o := BuildOptions{Recipe: &recipes.Recipe{Name: "demo", Version: "1", File: "/r/demo.yaml"}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	l := startReport(o, work, tarball, "debian11-x86_64", log)
	page := func() string {
		t.Helper()
		data, err := os.ReadFile(html)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if p := page(); !strings.Contains(p, `badge st-preparing`) || !strings.Contains(p, `http-equiv="refresh"`) {
		t.Fatalf("the first page does not say the build is preparing:\n%s", p)
	}

	p, err := plan.New([]*plan.Node{
		{Name: "zlib", Provides: []rpm.Dep{{Name: "zlib-devel"}}},
		{Name: "libxml2", BuildRequires: []rpm.Dep{{Name: "zlib-devel"}}},
	}, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.planned(p, map[string][]string{"zlib": {"new"}, "libxml2": {"dependency zlib rebuilt"}})
	start := time.Now()
	l.event(schedule.Event{Kind: schedule.EventStart, Time: start, Workers: 2, CPUs: 4})
	l.event(schedule.Event{Kind: schedule.EventNode, Node: "zlib", State: schedule.Building, Time: start, CPUs: 2})
	// The writer rewrites the page within ReportInterval.
	deadline := time.Now().Add(8 * ReportInterval) // a loaded machine
	for !strings.Contains(page(), `class="bar st-building"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the page did not follow the build:\n%s", page())
		}
		time.Sleep(100 * time.Millisecond)
	}
	l.event(schedule.Event{Kind: schedule.EventNode, Node: "zlib", State: schedule.Done, Duration: time.Second, Key: "k1"})
	l.event(schedule.Event{Kind: schedule.EventNode, Node: "libxml2", State: schedule.Building, Time: start.Add(time.Second), CPUs: 2})
	fail := "rpmbuild: exit status 1\n--- last lines ---\nxmllint.c:1: error: boom"
	l.built(&schedule.Summary{Wall: 3 * time.Second, SerialSum: 3 * time.Second, Nodes: []schedule.NodeResult{
		{Name: "zlib", State: schedule.Done, Started: start, Duration: time.Second, Key: "k1"},
		{Name: "libxml2", State: schedule.Failed, Started: start.Add(time.Second), Duration: 2 * time.Second, Key: "k2", Error: fail, Log: "/w/logs/libxml2/build.log"},
	}})
	l.tested(&audit.Report{Checks: []audit.CheckResult{{Name: "links", OK: true}}})
	l.finish(context.Background(), errors.New("1 of 2 packages failed: libxml2"))

	final := page()
	for _, want := range []string{`badge st-failed`, "xmllint.c:1: error: boom", "1 of 2 packages failed", "dependency zlib rebuilt", "debian11-x86_64"} {
		if !strings.Contains(final, want) {
			t.Errorf("final page lacks %q", want)
		}
	}
	if strings.Contains(final, `http-equiv="refresh"`) {
		t.Error("the final page still reloads itself")
	}

	// bundle report: the same page, from the record, to another file.
	other := filepath.Join(dir, "again.html")
	got, err := RegenerateReport(ReportOptions{WorkDir: work, Out: other})
	if err != nil || got != other {
		t.Fatalf("regenerate: %q, %v", got, err)
	}
	again, _ := os.ReadFile(other)
	if string(again) != final {
		t.Error("the regenerated page differs from the build's")
	}
	if got, err := RegenerateReport(ReportOptions{WorkDir: work}); err != nil || got != html {
		t.Errorf("default output: %q, %v; want %s", got, err, html)
	}
	if _, err := RegenerateReport(ReportOptions{WorkDir: filepath.Join(dir, "none")}); err == nil || !strings.Contains(err.Error(), "no build report") {
		t.Errorf("missing record: %v", err)
	}
}

// TestRegenerateKilled: a record left "building" by a killed run is
// rendered as interrupted, while one of a running build (the lock held)
// stays live.
func TestRegenerateKilled(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	os.MkdirAll(work, 0o755)
	r := &htmlreport.Report{Name: "demo", Status: htmlreport.Building, Started: time.Now(), Updated: time.Now(), HTML: filepath.Join(dir, "r.html")}
	if err := r.Save(filepath.Join(work, ReportFile)); err != nil {
		t.Fatal(err)
	}
	unlock, err := lockWorkDir(work, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RegenerateReport(ReportOptions{WorkDir: work}); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(r.HTML); !strings.Contains(string(data), "badge st-building") {
		t.Error("a running build's report is not live")
	}
	unlock()
	if _, err := RegenerateReport(ReportOptions{WorkDir: work}); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(r.HTML); !strings.Contains(string(data), "badge st-interrupted") || !strings.Contains(string(data), "killed?") {
		t.Errorf("a killed build's report is not interrupted:\n%s", data)
	}
}

// TestReportDiff: the manifest of the bundle a build replaces is read when
// the build starts, and compared with the new one once it is assembled.
func TestReportDiff(t *testing.T) {
	dir := t.TempDir()
	tarball := filepath.Join(dir, "out", "x.tar.gz")
	os.MkdirAll(filepath.Dir(tarball), 0o755)
	old := &Manifest{ManifestVersion: ManifestVersion, Name: "x", Tarball: TarballInfo{File: "x.tar.gz", SHA256: "old"}}
	if err := old.write(tarball + ".manifest.json"); err != nil {
		t.Fatal(err)
	}
	var gotOld, gotNew *Manifest
	o := BuildOptions{Recipe: &recipes.Recipe{Name: "x", Version: "1"}, Compare: func(a, b *Manifest) *htmlreport.Diff {
		gotOld, gotNew = a, b
		return &htmlreport.Diff{Against: "the previous x.tar.gz", Added: []string{"zlib-1.2.13-1.x86_64"}}
	}}
	l := startReport(o, filepath.Join(dir, "work"), tarball, "debian11-x86_64", slog.New(slog.NewTextHandler(io.Discard, nil)))
	// The build overwrites the old manifest before it is compared.
	os.Remove(tarball + ".manifest.json")
	m := &Manifest{Name: "x", Tarball: TarballInfo{File: "x.tar.gz", SHA256: "new"}}
	l.assembled(m, tarball)
	l.finish(context.Background(), nil)
	if gotOld == nil || gotOld.Tarball.SHA256 != "old" || gotNew != m {
		t.Fatalf("compared %+v with %+v", gotOld, gotNew)
	}
	page, _ := os.ReadFile(ReportPath(tarball))
	if !strings.Contains(string(page), "+ zlib-1.2.13-1.x86_64") {
		t.Error("the page does not show the diff")
	}
	// No previous bundle: no comparison.
	gotOld = nil
	l = startReport(o, filepath.Join(dir, "work2"), filepath.Join(dir, "out2", "x.tar.gz"), "debian11-x86_64", slog.New(slog.NewTextHandler(io.Discard, nil)))
	l.assembled(m, tarball)
	l.finish(context.Background(), nil)
	if gotOld != nil {
		t.Error("compared without a previous bundle")
	}
}

// TestReportInterrupted: a build stopped by Ctrl-C ends its report
// "interrupted", not "failed".
func TestReportInterrupted(t *testing.T) {
	dir := t.TempDir()
	tarball := filepath.Join(dir, "out", "x.tar.gz")
	l := startReport(BuildOptions{Recipe: &recipes.Recipe{Name: "x", Version: "1"}}, filepath.Join(dir, "work"), tarball, "p",
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l.finish(ctx, fmt.Errorf("build interrupted: %w", context.Canceled))
	page, _ := os.ReadFile(ReportPath(tarball))
	if !strings.Contains(string(page), "badge st-interrupted") || !strings.Contains(string(page), "build interrupted: context canceled") {
		t.Errorf("not reported as interrupted:\n%s", page)
	}
	var nilReport *liveReport // build-package writes none
	nilReport.planned(nil, nil)
	nilReport.event(schedule.Event{})
	nilReport.finish(ctx, nil)
}

// TestReportReused: the lines `bundle build` prints about reuse become
// the report's notes, each change folded into its line.
func TestReportReused(t *testing.T) {
	dir := t.TempDir()
	l := startReport(BuildOptions{Recipe: &recipes.Recipe{Name: "x", Version: "1"}}, filepath.Join(dir, "work"), filepath.Join(dir, "x.tar.gz"), "p",
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer l.finish(context.Background(), nil)
	l.reused(&AssembleReuse{Key: "0123456789abcdef", Changes: []string{"package zlib: 1-1 → 1-2", "recipe checks changed"}},
		&TestReuse{SHA256: "fedcba9876543210", Passed: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	l.mu.Lock()
	notes := l.rep.Notes
	l.mu.Unlock()
	if len(notes) != 2 || !strings.HasPrefix(notes[0], "assemble: 2 inputs changed") ||
		!strings.HasSuffix(notes[0], "; package zlib: 1-1 → 1-2; recipe checks changed") ||
		!strings.HasPrefix(notes[1], "bundle test: skipped: this tarball (sha256 fedcba987654) passed on 2026-01-02T03:04:05Z") {
		t.Errorf("notes: %q", notes)
	}
}
