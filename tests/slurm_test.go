package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/slurm/slurmtest"
)

// chainSpec is a tiny noarch package of the Slurm tests' chain: it
// installs a data file that includes the previous link's (read from the
// build root, so the previous link's RPM must be installed there) and
// nonce (so each test misses the build cache). %{nap} seconds of sleep
// keep a job running; %{fail} makes %build fail.
func chainSpec(name, prev, nonce string) string {
	br, cat := "", "echo start"
	if prev != "" {
		br = "BuildRequires: " + prev + "\nRequires: " + prev + "\n"
		cat = "cat /usr/share/" + prev + "/data"
	}
	return fmt.Sprintf(`Name: %[1]s
Version: 1
Release: 1
Summary: %[1]s, a link of the Slurm test chain
License: MIT
BuildArch: noarch
%[2]s
%%description
A link of bundle's Slurm test chain (%[3]s).

%%build
sleep %%{?nap}%%{!?nap:0}
%%{?fail:echo %[1]s fails on purpose; exit 1}
(%[4]s; echo "%[1]s %[3]s") > data

%%install
mkdir -p %%{buildroot}/usr/share/%[1]s
cp data %%{buildroot}/usr/share/%[1]s/data

%%files
/usr/share/%[1]s/data
`, name, br, nonce, cat)
}

// writeChain writes chain-a ← chain-b ← chain-c (each BuildRequires the
// one before) and a recipe building them; extra maps a package to more
// lines of its recipe entry.
func writeChain(t *testing.T, dir string, extra map[string]string) string {
	t.Helper()
	nonce := fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano())
	var pkgs strings.Builder
	prev := ""
	for _, n := range []string{"chain-a", "chain-b", "chain-c"} {
		spec := filepath.Join(dir, n+".spec")
		if err := os.WriteFile(spec, []byte(chainSpec(n, prev, nonce)), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&pkgs, "  - name: %s\n    spec: %s\n%s", n, spec, extra[n])
		prev = n
	}
	recipe := filepath.Join(dir, "recipe.yaml")
	err := os.WriteFile(recipe, []byte(`name: chain
version: "1"
platform: debian12-x86_64
defaults:
  jobs: 1
build:
  slurm:
    time: "30"
packages:
`+pkgs.String()+`output:
  compression: gzip
  dir: out
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return recipe
}

// testCache is a cache directory for one test: the shared sources and
// sandbox rootfs, a build cache of its own (so every package builds).
func testCache(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	shared := buildCache(t)
	for _, d := range []string{"sources", "rootfs"} {
		if err := os.MkdirAll(filepath.Join(shared, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(shared, d), filepath.Join(dir, d)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type slurmState struct {
	Nodes map[string]struct {
		State    string `json:"state"`
		JobID    string `json:"job_id"`
		JobState string `json:"job_state"`
	} `json:"nodes"`
}

func readState(t *testing.T, work string) slurmState {
	t.Helper()
	var s slurmState
	data, err := os.ReadFile(filepath.Join(work, "state.json"))
	if err == nil {
		err = json.Unmarshal(data, &s)
	}
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("state.json: %v", err)
	}
	return s
}

// jobTimes reads a job's submit, start and end times from scontrol.
func jobTimes(t *testing.T, c *slurmtest.Cluster, id string) (submit, start, end time.Time) {
	t.Helper()
	out, err := c.Output("scontrol", "show", "job", id)
	if err != nil {
		t.Fatalf("scontrol show job %s: %v\n%s", id, err, out)
	}
	field := func(name string) time.Time {
		for _, f := range strings.Fields(out) {
			if v, ok := strings.CutPrefix(f, name+"="); ok {
				tm, err := time.ParseInLocation("2006-01-02T15:04:05", v, time.Local)
				if err != nil {
					t.Fatalf("job %s: %s=%q", id, name, v)
				}
				return tm
			}
		}
		t.Fatalf("job %s: no %s in\n%s", id, name, out)
		return time.Time{}
	}
	return field("SubmitTime"), field("StartTime"), field("EndTime")
}

// waitEmptyQueue waits a little for the queue to empty: a cancelled
// running job is COMPLETING while its processes are killed.
func waitEmptyQueue(t *testing.T, c *slurmtest.Cluster) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		jobs := c.Jobs()
		if len(jobs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("jobs left in the queue: %v", jobs)
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// startBuild starts `bundle build --executor slurm` in the background.
func startBuild(t *testing.T, env []string, logPath string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bundleBin(t), append([]string{"build", "--executor", "slurm"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// waitState polls state.json until ok says so.
func waitState(t *testing.T, work, logPath string, what string, ok func(slurmState) bool) slurmState {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		s := readState(t, work)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("never reached: %s; state %+v\nlog:\n%s", what, s, log)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestSlurm builds on a real single-node Slurm cluster (slurmtest) with
// --executor slurm: jobs start after their dependencies' (afterok) and
// give the tarball the local executor gives; a failed job's dependents
// never run and the run exits 1 naming it with its log's tail; Ctrl-C
// cancels every job; after kill -9 a new run re-attaches to the jobs.
func TestSlurm(t *testing.T) {
	needSandbox(t)
	c := slurmtest.Start(t)
	env := append([]string{"SOURCE_DATE_EPOCH=1767225600"}, c.Env...)

	t.Run("chain", func(t *testing.T) {
		dir := t.TempDir()
		recipe := writeChain(t, dir, map[string]string{"chain-a": "    defines: {nap: \"3\"}\n"})
		cacheEnv := append([]string{"BUNDLE_CACHE=" + testCache(t)}, env...)
		work := filepath.Join(dir, "slurm")
		start := time.Now()
		r := runBundle(t, cacheEnv, "build", "--json", "--executor", "slurm", "--workdir", work, "-o", filepath.Join(dir, "out-slurm"), recipe)
		if r.code != 0 {
			t.Fatalf("slurm build: exit %d\n%s", r.code, r.stderr)
		}
		st := readState(t, work)
		ids := map[string]string{}
		for _, n := range []string{"chain-a", "chain-b", "chain-c"} {
			e := st.Nodes[n]
			if e.State != "done" || e.JobID == "" || e.JobState != "COMPLETED" {
				t.Fatalf("%s: %+v, want done by a completed Slurm job", n, e)
			}
			ids[n] = e.JobID
		}
		// Every job was queued before its dependency ended and started
		// after it: afterok, not a submission per finished package.
		for _, pair := range [][2]string{{"chain-a", "chain-b"}, {"chain-b", "chain-c"}} {
			_, _, depEnd := jobTimes(t, c, ids[pair[0]])
			sub, start, _ := jobTimes(t, c, ids[pair[1]])
			if sub.After(depEnd) || start.Before(depEnd) {
				t.Errorf("%s (submitted %s, started %s) vs %s (ended %s): want queued before, started after",
					pair[1], sub, start, pair[0], depEnd)
			}
		}
		if !strings.Contains(r.stderr, "[job "+ids["chain-c"]) {
			t.Errorf("the progress lines do not show the job ids:\n%s", r.stderr)
		}
		// The local executor, in a build cache of its own, makes the same tarball.
		cacheEnv = append([]string{"BUNDLE_CACHE=" + testCache(t)}, env...)
		slurmTime, start := time.Since(start), time.Now()
		r = runBundle(t, cacheEnv, "build", "--json", "--executor", "local", "--workdir", filepath.Join(dir, "local"), "-o", filepath.Join(dir, "out-local"), recipe)
		if r.code != 0 {
			t.Fatalf("local build: exit %d\n%s", r.code, r.stderr)
		}
		t.Logf("wall time of the whole build (3 packages, chain-a sleeps 3 s): slurm %s, local %s", slurmTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		a, b := filepath.Join(dir, "out-slurm", "chain-1-debian12-x86_64.tar.gz"), filepath.Join(dir, "out-local", "chain-1-debian12-x86_64.tar.gz")
		if fileSHA(t, a) != fileSHA(t, b) {
			t.Errorf("the slurm and local executors made different tarballs: %s %s", a, b)
		}
	})

	t.Run("failure", func(t *testing.T) {
		dir := t.TempDir()
		recipe := writeChain(t, dir, map[string]string{"chain-b": "    defines: {fail: \"1\"}\n"})
		work := filepath.Join(dir, "work")
		r := runBundle(t, append([]string{"BUNDLE_CACHE=" + buildCache(t)}, env...), "build", "--executor", "slurm", "--workdir", work, recipe)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
		}
		// The summary's failure section has the job log's tail.
		for _, want := range []string{"chain-b", "chain-b fails on purpose", filepath.Join(work, "logs", "chain-b", "job.log")} {
			if !strings.Contains(r.stdout+r.stderr, want) {
				t.Errorf("the failure does not say %q:\n%s\n%s", want, r.stdout, r.stderr)
			}
		}
		st := readState(t, work)
		if st.Nodes["chain-a"].State != "done" || st.Nodes["chain-b"].State != "failed" || st.Nodes["chain-c"].State != "skipped" {
			t.Errorf("states: %+v", st.Nodes)
		}
		if _, err := os.Stat(filepath.Join(work, "logs", "chain-c", "build.log")); err == nil {
			t.Error("chain-c built although chain-b failed")
		}
		waitEmptyQueue(t, c)
	})

	t.Run("interrupt", func(t *testing.T) {
		dir := t.TempDir()
		recipe := writeChain(t, dir, map[string]string{"chain-a": "    defines: {nap: \"120\"}\n"})
		work := filepath.Join(dir, "work")
		logPath := filepath.Join(dir, "build.log")
		cmd := startBuild(t, append([]string{"BUNDLE_CACHE=" + buildCache(t)}, env...), logPath, "--workdir", work, recipe)
		waitState(t, work, logPath, "chain-a running, chain-c queued", func(s slurmState) bool {
			return s.Nodes["chain-a"].JobState == "RUNNING" && s.Nodes["chain-c"].JobID != ""
		})
		cmd.Process.Signal(os.Interrupt)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
			log, _ := os.ReadFile(logPath)
			t.Errorf("interrupted build: %v, want exit 130\n%s", err, log)
		}
		waitEmptyQueue(t, c)
	})

	t.Run("kill-resume", func(t *testing.T) {
		dir := t.TempDir()
		recipe := writeChain(t, dir, map[string]string{"chain-a": "    defines: {nap: \"15\"}\n"})
		work := filepath.Join(dir, "work")
		logPath := filepath.Join(dir, "first.log")
		cacheEnv := append([]string{"BUNDLE_CACHE=" + buildCache(t)}, env...)
		cmd := startBuild(t, cacheEnv, logPath, "--workdir", work, recipe)
		before := waitState(t, work, logPath, "chain-a running, chain-c queued", func(s slurmState) bool {
			return s.Nodes["chain-a"].JobState == "RUNNING" && s.Nodes["chain-c"].JobID != ""
		})
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if jobs := c.Jobs(); len(jobs) != 3 {
			t.Fatalf("after kill -9 the 3 jobs go on; squeue: %v", jobs)
		}
		r := runBundle(t, cacheEnv, "build", "--executor", "slurm", "--workdir", work, recipe)
		if r.code != 0 {
			t.Fatalf("resumed build: exit %d\n%s", r.code, r.stderr)
		}
		after := readState(t, work)
		for _, n := range []string{"chain-a", "chain-b", "chain-c"} {
			if b, a := before.Nodes[n], after.Nodes[n]; a.JobID != b.JobID || a.State != "done" {
				t.Errorf("%s: job %s before the kill, now %+v: want the same job, done", n, b.JobID, a)
			}
			if !strings.Contains(r.stderr, "re-attached") {
				t.Errorf("the resumed run does not say it re-attached:\n%s", r.stderr)
				break
			}
		}
	})
}
