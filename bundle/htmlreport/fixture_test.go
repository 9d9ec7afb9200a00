package htmlreport

import (
	"fmt"
	"time"

	"github.com/bundle-dev/bundle/bundle/audit"
	"github.com/bundle-dev/bundle/bundle/plan"
	"github.com/bundle-dev/bundle/bundle/schedule"
)

// t0 is the fixtures' start time.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func dep(name string, kind plan.EdgeKind, via ...string) plan.DepReport {
	return plan.DepReport{Node: name, Kind: kind, Via: via}
}

// testPlan is the plan of the example recipe plus hello and lxml: python
// first, then zlib, bzip2, xz and hello side by side, libxml2 after zlib
// and xz, lxml after libxml2.
func testPlan() *plan.Report {
	return &plan.Report{
		Packages:     7,
		Layers:       [][]string{{"python3"}, {"bzip2", "hello", "xz", "zlib"}, {"libxml2"}, {"lxml"}},
		CriticalPath: []string{"python3", "zlib", "libxml2", "lxml"},
		Nodes: []plan.NodeReport{
			{Name: "python3", Class: "python"},
			{Name: "bzip2", Layer: 1, Deps: []plan.DepReport{dep("python3", plan.KindOrder)}},
			{Name: "hello", Layer: 1, Deps: []plan.DepReport{dep("python3", plan.KindOrder)}},
			{Name: "xz", Layer: 1, Deps: []plan.DepReport{dep("python3", plan.KindOrder)}},
			{Name: "zlib", Layer: 1, Deps: []plan.DepReport{dep("python3", plan.KindOrder)}},
			{Name: "libxml2", Layer: 2, Deps: []plan.DepReport{dep("xz", plan.KindRequires, "xz-devel"), dep("zlib", plan.KindRequires, "zlib-devel")}},
			{Name: "lxml", Layer: 3, Deps: []plan.DepReport{dep("libxml2", plan.KindRequires, "libxml2-devel"), dep("python3", plan.KindRequires, "python3-devel")}},
		},
	}
}

func node(name string, st schedule.JobState, start, d float64, why ...string) Node {
	n := Node{NodeResult: schedule.NodeResult{Name: name, State: st, Duration: secs(d), CPUs: 1,
		Key: "sha256:" + name + "0123456789abcdef", Log: "/w/logs/" + name + "/build.log"}, Why: why}
	if start >= 0 {
		n.Started = at(start)
	}
	return n
}

// failedReport is a build where libxml2 failed: lxml is skipped, hello
// was kept from an earlier run, bzip2 was a cache hit.
func failedReport() *Report {
	lib := node("libxml2", schedule.Failed, 95, 21, "dependency zlib rebuilt")
	lib.Error = "rpmbuild: exit status 1 (full log: /w/logs/libxml2/build.log)\n--- last lines ---\nerror: Bad exit status from /var/tmp/rpm-tmp.x (%build)"
	lib.LogTail = "checking for zlib... yes\nmake: *** [Makefile:1024: all] Error 2\nerror: Bad exit status from /var/tmp/rpm-tmp.x (%build)\n<script>alert(1)</script>"
	hello := node("hello", schedule.Done, -1, 0)
	hello.Resumed, hello.Duration = true, 0
	lxml := node("lxml", schedule.Skipped, -1, 0)
	lxml.Cause, lxml.Error, lxml.Log, lxml.Key, lxml.CPUs = []string{"libxml2"}, "skipped: libxml2 failed", "", "", 0
	return &Report{
		FormatVersion: FormatVersion,
		Name:          "e2e", Version: "1", Platform: "debian12-x86_64", Recipe: "/src/recipe.yaml",
		Status:  Failed,
		Error:   "1 of 7 packages failed: libxml2 (log: /w/logs/libxml2/build.log)\n1 packages not built (skipped or not started)",
		Started: t0, Updated: at(130), Finished: at(130), BuildStarted: at(2),
		Workers: 2, CPUs: 2, Wall: secs(115), SerialSum: secs(227),
		Plan: testPlan(),
		Nodes: []Node{
			node("python3", schedule.Done, 2, 60, "new"),
			node("bzip2", schedule.Cached, 62, 1),
			hello,
			node("xz", schedule.Done, 63, 32, "source changed"),
			node("zlib", schedule.Done, 62, 33, "patch changed"),
			lib,
			lxml,
		},
		HTML: "/out/e2e-1-debian12-x86_64.tar.gz.report.html",
	}
}

// succeededReport is a finished build with its bundle, pins, test
// results, a host requirement and a diff.
func succeededReport() *Report {
	r := failedReport()
	r.Status, r.Error = Succeeded, ""
	r.Nodes[5] = node("libxml2", schedule.Done, 95, 70, "dependency zlib rebuilt")
	r.Nodes[6] = node("lxml", schedule.Cached, 165, 2)
	r.Updated, r.Finished, r.Wall, r.SerialSum = at(240), at(240), secs(166), secs(198)
	r.Stages = []Stage{{"closure", secs(0.2)}, {"extract", secs(3)}, {"tarball", secs(9)}}
	r.Notes = []string{"assemble: 2 inputs changed since the last assembly (key 0123456789ab); package zlib: 1.2.13-1 → 1.2.13-2"}
	r.Bundle = &Bundle{
		Tarball: "/out/e2e-1-debian12-x86_64.tar.gz", SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Size: 12_345_678, Compression: "gzip", Files: 1234, Dirs: 120, Symlinks: 56, TotalSize: 45_678_901,
		Packages: []Package{
			{NEVRA: "bzip2-libs-1.0.8-1.x86_64", Name: "bzip2-libs", InstalledSize: 80_000},
			{NEVRA: "libxml2-2.9.14-1.x86_64", Name: "libxml2", InstalledSize: 2_100_000, Requested: true},
			{NEVRA: "python3-3.11.2-1.x86_64", Name: "python3", InstalledSize: 41_000_000, Requested: true},
			{NEVRA: "xz-libs-5.4.1-1.x86_64", Name: "xz-libs", InstalledSize: 200_000},
			{NEVRA: "zlib-1.2.13-1.x86_64", Name: "zlib", InstalledSize: 100_000},
		},
		Pins:     []Pin{{"requests", "2.28.1"}, {"six", "1.16.0"}},
		Requires: []Requirement{{What: "Needs glibc", Need: ">= 2.31"}, {What: "Runs on", Need: "Debian 11, EL9"}},
	}
	r.Test = &audit.Report{Target: r.Bundle.Tarball, Seconds: 12.5, Checks: []audit.CheckResult{
		{Name: "links", OK: true, Count: 56},
		{Name: "elf-deps", OK: true, Count: 80},
		{Name: "rootfs", Skipped: true, Detail: "no --root given"},
	}}
	r.Diff = &Diff{Against: "/out/e2e-1-debian12-x86_64.tar.gz (previous)", Added: []string{"lxml-4.9.2-1.x86_64"},
		Changed: []string{"zlib: 1.2.13-1 → 1.2.13-2"}, SizeDelta: -2048}
	return r
}

// runningReport is a build in progress: xz and zlib building.
func runningReport() *Report {
	r := failedReport()
	r.Status, r.Error, r.Finished, r.Wall, r.SerialSum = Building, "", time.Time{}, 0, 0
	r.Updated = at(80)
	r.Nodes[3] = node("xz", schedule.Building, 63, 0, "source changed")
	r.Nodes[4] = node("zlib", schedule.Building, 62, 0, "patch changed")
	r.Nodes[5] = node("libxml2", schedule.Waiting, -1, 0)
	r.Nodes[6] = node("lxml", schedule.Waiting, -1, 0)
	return r
}

// slurmReport is the succeeded build run as Slurm jobs: one lane per job.
func slurmReport() *Report {
	r := succeededReport()
	for i := range r.Nodes {
		if n := &r.Nodes[i]; !n.Resumed {
			n.JobID, n.JobState = fmt.Sprint(1001+i), "COMPLETED"
		}
	}
	return r
}
