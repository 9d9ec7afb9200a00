package slurm

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/schedule"
	"github.com/bundle-dev/bundle/bundle/testenv"
)

func TestSubmitArgs(t *testing.T) {
	tests := []struct {
		name string
		job  Job
		want []string
	}{
		{"minimal", Job{Name: "bundle:r:zlib", Command: []string{"/bin/bundle", "build-job", "/w/jobs/zlib.json"}},
			[]string{"--parsable", "--job-name=bundle:r:zlib", "--wrap=exec /bin/bundle build-job /w/jobs/zlib.json"}},
		{"full", Job{Name: "bundle:r:libxml2", CPUs: 4, Memory: 3<<30 + 1, After: []string{"12", "13"},
			Output: "/w/logs/libxml2/job.log", Dir: "/w", Partition: "build", Account: "lhcb", QOS: "normal",
			Time: "2:00:00", Comment: "/w", Hold: true, Extra: []string{"--exclusive"},
			Command: []string{"/opt/my bundle", "build-job", "x"}},
			[]string{"--parsable", "--job-name=bundle:r:libxml2", "--cpus-per-task=4", "--mem=3073M",
				"--dependency=afterok:12:13", "--kill-on-invalid-dep=yes",
				"--output=/w/logs/libxml2/job.log", "--open-mode=append", "--chdir=/w",
				"--partition=build", "--account=lhcb", "--qos=normal", "--time=2:00:00", "--comment=/w",
				"--hold", "--exclusive", "--wrap=exec '/opt/my bundle' build-job x"}},
	}
	for _, tt := range tests {
		if got := SubmitArgs(tt.job); !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestParseSubmit(t *testing.T) {
	for in, want := range map[string]string{"42\n": "42", "42;cluster\n": "42", "sbatch: warning: x\n17\n": "17"} {
		if got, err := ParseSubmit(in); err != nil || got != want {
			t.Errorf("ParseSubmit(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "Submitted batch job 42", "4a2", "-1"} {
		if _, err := ParseSubmit(bad); err == nil {
			t.Errorf("ParseSubmit(%q): no error", bad)
		}
	}
}

func TestParseSqueueAndSacct(t *testing.T) {
	m, err := ParseSqueue("1|COMPLETED|None\n2|FAILED|NonZeroExitCode\n3|CANCELLED|DependencyNeverSatisfied\n")
	if err != nil || len(m) != 3 || m["3"].Reason != DependencyNeverSatisfied || m["2"].State != "FAILED" {
		t.Fatalf("ParseSqueue: %v %v", m, err)
	}
	if _, err := ParseSqueue("1|RUNNING\n"); err == nil {
		t.Error("ParseSqueue accepted a short line")
	}
	a, err := ParseSacct("5|CANCELLED by 0\n6|OUT_OF_MEMORY\n")
	if err != nil || a["5"].State != "CANCELLED" || a["6"].State != "OUT_OF_MEMORY" {
		t.Fatalf("ParseSacct: %v %v", a, err)
	}
	if _, err := ParseSacct("x|RUNNING\n"); err == nil {
		t.Error("ParseSacct accepted a bad id")
	}
	n, err := ParseSinfo("vm|vm\nvm|vm\nn2|n2.site\n")
	if err != nil || !slices.Equal(n, []Node{{"vm", "vm"}, {"n2", "n2.site"}}) {
		t.Fatalf("ParseSinfo: %v %v", n, err)
	}
}

func TestMap(t *testing.T) {
	tests := []struct {
		st, reason string
		want       schedule.JobState
		final      bool
	}{
		{"PENDING", "Dependency", schedule.Waiting, false},
		{"PENDING", DependencyNeverSatisfied, schedule.Skipped, true},
		{"RUNNING", "None", schedule.Building, false},
		{"COMPLETING", "", schedule.Building, false},
		{"COMPLETED", "None", schedule.Done, true},
		{"FAILED", "NonZeroExitCode", schedule.Failed, true},
		{"TIMEOUT", "TimeLimit", schedule.Failed, true},
		{"OUT_OF_MEMORY", "OutOfMemory", schedule.Failed, true},
		{"CANCELLED", DependencyNeverSatisfied, schedule.Skipped, true},
		{"CANCELLED", "None", schedule.Failed, true},
		{"SOMETHING_NEW", "", schedule.Failed, true},
	}
	for _, tt := range tests {
		got, final := Map(Status{State: tt.st, Reason: tt.reason})
		if got != tt.want || final != tt.final {
			t.Errorf("Map(%s, %s) = %s %v, want %s %v", tt.st, tt.reason, got, final, tt.want, tt.final)
		}
	}
}

func TestClientStatus(t *testing.T) {
	ctx := context.Background()
	// Without accounting, purged jobs are simply unknown.
	f := &testenv.FakeRunner{Out: map[string]string{"squeue": "1|RUNNING|None\n", "scontrol": "AccountingStorageType   = accounting_storage/none\n"}}
	c := &Client{Runner: f, Env: []string{}}
	m, err := c.Status(ctx, []string{"1", "2"})
	if err != nil || len(m) != 1 || m["1"].State != "RUNNING" {
		t.Fatalf("Status: %v %v", m, err)
	}
	if slices.ContainsFunc(f.Lines(), func(s string) bool { return strings.HasPrefix(s, "sacct") }) {
		t.Errorf("sacct asked without accounting: %v", f.Lines())
	}
	// With accounting, sacct answers for what squeue no longer knows.
	f = &testenv.FakeRunner{Out: map[string]string{"sacct": "2|TIMEOUT\n", "scontrol": "AccountingStorageType   = accounting_storage/slurmdbd\n"},
		Fail: map[string]string{"squeue": "slurm_load_jobs error: Invalid job id specified"}}
	c = &Client{Runner: f, Env: []string{}}
	m, err = c.Status(ctx, []string{"2"})
	if err != nil || m["2"].State != "TIMEOUT" {
		t.Fatalf("Status with accounting: %v %v (calls %v)", m, err, f.Lines())
	}
	// Any other squeue failure is an error.
	f = &testenv.FakeRunner{Fail: map[string]string{"squeue": "slurm_load_jobs error: Unable to contact slurm controller"}}
	if _, err := (&Client{Runner: f, Env: []string{}}).Status(ctx, []string{"3"}); err == nil || !strings.Contains(err.Error(), "job states") {
		t.Errorf("err = %v", err)
	}
}

func TestClientSubmitAndCancel(t *testing.T) {
	ctx := context.Background()
	f := &testenv.FakeRunner{Out: map[string]string{"sbatch": "77\n"}}
	c := &Client{Runner: f, Env: []string{}}
	id, err := c.Submit(ctx, Job{Name: "bundle:r:a", Command: []string{"true"}})
	if err != nil || id != "77" {
		t.Fatalf("Submit = %q, %v", id, err)
	}
	if _, err := c.Submit(ctx, Job{Name: "bundle:r:b"}); err == nil {
		t.Error("Submit without a command: no error")
	}
	ids := make([]string, 1200)
	for i := range ids {
		ids[i] = fmt.Sprint(i + 1)
	}
	f = &testenv.FakeRunner{Out: f.Out}
	c.Runner = f
	if err := c.Cancel(ctx, ids); err != nil || len(f.Lines()) != 3 {
		t.Errorf("Cancel of 1200 jobs: %v in %d calls, want 3", err, len(f.Lines()))
	}
}

func TestSharedVerdict(t *testing.T) {
	p := Path{What: "work directory", Path: "/scratch/w"}
	here := []Node{{"vm", "vm.example.org"}}
	farm := []Node{{"vm", "vm"}, {"n1", "n1"}, {"n2", "n2"}}
	tests := []struct {
		name   string
		fs     string
		shared bool
		nodes  []Node
		want   string // "" = accepted
	}{
		{"nfs on a farm", "nfs", true, farm, ""},
		{"local on a one-node cluster of this host", "ext4", false, here, ""},
		{"local on a farm", "ext4", false, farm, "work directory /scratch/w is on a local ext4 filesystem of vm, which the nodes n1, n2 of partition build do not share"},
	}
	for _, tt := range tests {
		err := sharedVerdict(p, tt.fs, tt.shared, tt.nodes, "vm", "build")
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestFsType(t *testing.T) {
	name, _, err := fsType(t.TempDir())
	if err != nil || name == "" {
		t.Fatalf("fsType: %q %v", name, err)
	}
	if _, _, err := fsType("/no/such/dir"); err == nil {
		t.Error("fsType of a missing path: no error")
	}
}
