// Package slurm drives a Slurm cluster with its own commands — sbatch,
// squeue, scontrol, scancel and, where the site keeps accounting, sacct —
// through bundle's one command runner. It knows Slurm's argument syntax,
// its output formats and what its job states mean for a build; what the
// jobs run is the caller's business.
package slurm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/bundle-dev/bundle/bundle/runner"
)

// Job is one batch job to submit.
type Job struct {
	// Name is the job name (--job-name), e.g. bundle:RECIPE:PACKAGE.
	Name string
	// CPUs is --cpus-per-task (≤ 0: left to the site's default).
	CPUs int
	// Memory is --mem in bytes, rounded up to MiB (0: the site's default).
	Memory int64
	// After are the job ids that must complete successfully first
	// (--dependency=afterok:…); the job is cancelled if one of them fails
	// (--kill-on-invalid-dep=yes).
	After []string
	// Output is the file the job's stdout and stderr are appended to.
	Output string
	// Dir is the job's working directory (--chdir).
	Dir string
	// Partition, Account, QOS and Time are passed on when set.
	Partition, Account, QOS, Time string
	// Extra are further sbatch arguments, given last.
	Extra []string
	// Hold submits the job held (--hold): it starts only once released.
	Hold bool
	// Comment is --comment, kept with the job (bundle puts the work
	// directory there).
	Comment string
	// Command is what the job runs (as `exec` of its quoted argv).
	Command []string
}

// SubmitArgs are sbatch's arguments for j.
func SubmitArgs(j Job) []string {
	args := []string{"--parsable", "--job-name=" + j.Name}
	if j.CPUs > 0 {
		args = append(args, "--cpus-per-task="+strconv.Itoa(j.CPUs))
	}
	if j.Memory > 0 {
		const mib = 1 << 20
		args = append(args, "--mem="+strconv.FormatInt((j.Memory+mib-1)/mib, 10)+"M")
	}
	if len(j.After) > 0 {
		args = append(args, "--dependency=afterok:"+strings.Join(j.After, ":"), "--kill-on-invalid-dep=yes")
	}
	if j.Output != "" {
		args = append(args, "--output="+j.Output, "--open-mode=append")
	}
	if j.Dir != "" {
		args = append(args, "--chdir="+j.Dir)
	}
	for _, o := range []struct{ flag, v string }{
		{"--partition=", j.Partition}, {"--account=", j.Account}, {"--qos=", j.QOS}, {"--time=", j.Time}, {"--comment=", j.Comment},
	} {
		if o.v != "" {
			args = append(args, o.flag+o.v)
		}
	}
	if j.Hold {
		args = append(args, "--hold")
	}
	args = append(args, j.Extra...)
	return append(args, "--wrap=exec "+runner.Quote(j.Command))
}

// ParseSubmit reads `sbatch --parsable`'s answer: "ID" or "ID;CLUSTER".
func ParseSubmit(out string) (string, error) {
	line := strings.TrimSpace(out)
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = strings.TrimSpace(line[i+1:]) // warnings come first
	}
	id, _, _ := strings.Cut(line, ";")
	if !validID(id) {
		return "", fmt.Errorf("sbatch --parsable answered %q, not a job id", out)
	}
	return id, nil
}

// validID: a plain numeric job id.
func validID(id string) bool {
	if id == "" || len(id) > 20 {
		return false
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Status is what Slurm says of one job.
type Status struct {
	ID string
	// State is Slurm's own, e.g. PENDING, RUNNING, COMPLETED, FAILED,
	// TIMEOUT, OUT_OF_MEMORY, CANCELLED.
	State string
	// Reason is squeue's, e.g. Dependency, DependencyNeverSatisfied,
	// NonZeroExitCode (empty from sacct).
	Reason string
}

// ParseSqueue reads `squeue -h -o %i|%T|%r` lines.
func ParseSqueue(out string) (map[string]Status, error) {
	m := map[string]Status{}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != 3 || !validID(f[0]) || f[1] == "" {
			return nil, fmt.Errorf("squeue line %q: want ID|STATE|REASON", line)
		}
		m[f[0]] = Status{ID: f[0], State: f[1], Reason: f[2]}
	}
	return m, nil
}

// ParseSacct reads `sacct -n -P -X -o JobIDRaw,State` lines; a state
// like "CANCELLED by 0" keeps its first word.
func ParseSacct(out string) (map[string]Status, error) {
	m := map[string]Status{}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		id, st, ok := strings.Cut(line, "|")
		st, _, _ = strings.Cut(st, " ")
		if !ok || !validID(id) || st == "" {
			return nil, fmt.Errorf("sacct line %q: want JOBID|STATE", line)
		}
		m[id] = Status{ID: id, State: st}
	}
	return m, nil
}

// Node is one node of a partition.
type Node struct {
	Name, Hostname string
}

// ParseSinfo reads `sinfo -h -N -o %N|%n` lines.
func ParseSinfo(out string) ([]Node, error) {
	var nodes []Node
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, host, ok := strings.Cut(line, "|")
		if !ok || name == "" || host == "" || strings.ContainsAny(name+host, " |") {
			return nil, fmt.Errorf("sinfo line %q: want NODE|HOSTNAME", line)
		}
		if !slices.Contains(nodes, Node{name, host}) {
			nodes = append(nodes, Node{name, host})
		}
	}
	return nodes, nil
}

// Client runs Slurm's commands.
type Client struct {
	// Runner runs the commands (default runner.Default).
	Runner runner.Runner
	// Env is the commands' environment; nil means runner.CleanEnv plus
	// the caller's SLURM_* variables (SLURM_CONF above all). sbatch
	// passes it on to the job.
	Env []string

	acctOnce sync.Once
	acct     bool
}

func (c *Client) env() []string {
	if c.Env != nil {
		return c.Env
	}
	var extra []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SLURM_") {
			extra = append(extra, kv)
		}
	}
	return runner.CleanEnv(extra...)
}

func (c *Client) output(ctx context.Context, name string, args ...string) (string, error) {
	r := c.Runner
	if r == nil {
		r = runner.Default
	}
	out, err := runner.Output(ctx, r, runner.Cmd{Name: name, Args: args, Env: c.env(), TailLines: 10})
	return string(out), err
}

// Submit queues j and returns its job id.
func (c *Client) Submit(ctx context.Context, j Job) (string, error) {
	if len(j.Command) == 0 {
		return "", fmt.Errorf("submit %s: no command", j.Name)
	}
	out, err := c.output(ctx, "sbatch", SubmitArgs(j)...)
	if err != nil {
		return "", fmt.Errorf("submit %s: %w", j.Name, err)
	}
	id, err := ParseSubmit(out)
	if err != nil {
		return "", fmt.Errorf("submit %s: %w", j.Name, err)
	}
	return id, nil
}

// chunk bounds one command line's job ids.
const chunk = 500

// Status returns what Slurm knows of ids: squeue for every job the
// controller still holds (pending, running, and finished ones for
// MinJobAge), then sacct for the rest when the site keeps accounting.
// Jobs nobody knows any more are absent from the map.
func (c *Client) Status(ctx context.Context, ids []string) (map[string]Status, error) {
	all := map[string]Status{}
	for ch := range slices.Chunk(ids, chunk) {
		out, err := c.output(ctx, "squeue", "-h", "-t", "all", "-j", strings.Join(ch, ","), "-o", "%i|%T|%r")
		if err != nil {
			// squeue fails when no id of the list is known any more.
			var re *runner.Error
			if errors.As(err, &re) && strings.Contains(re.Tail, "Invalid job id") {
				continue
			}
			return nil, fmt.Errorf("job states: %w", err)
		}
		m, err := ParseSqueue(out)
		if err != nil {
			return nil, err
		}
		for id, s := range m {
			all[id] = s
		}
	}
	var missing []string
	for _, id := range ids {
		if _, ok := all[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 || !c.Accounting(ctx) {
		return all, nil
	}
	for ch := range slices.Chunk(missing, chunk) {
		out, err := c.output(ctx, "sacct", "-n", "-P", "-X", "-o", "JobIDRaw,State", "-j", strings.Join(ch, ","))
		if err != nil {
			return nil, fmt.Errorf("job states from accounting: %w", err)
		}
		m, err := ParseSacct(out)
		if err != nil {
			return nil, err
		}
		for id, s := range m {
			all[id] = s
		}
	}
	return all, nil
}

// JobsWithComment lists the caller's queued and running jobs whose
// comment (Job.Comment) is comment.
func (c *Client) JobsWithComment(ctx context.Context, comment string) ([]string, error) {
	out, err := c.output(ctx, "squeue", "-h", "--me", "-o", "%i|%k")
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	var ids []string
	for _, line := range strings.Split(out, "\n") {
		id, k, ok := strings.Cut(strings.TrimSpace(line), "|")
		if ok && validID(id) && k == comment {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Accounting reports whether the cluster keeps job accounting (sacct
// works): AccountingStorageType is not accounting_storage/none. It asks
// once.
func (c *Client) Accounting(ctx context.Context) bool {
	c.acctOnce.Do(func() {
		out, err := c.output(ctx, "scontrol", "show", "config")
		if err != nil {
			return
		}
		for _, line := range strings.Split(out, "\n") {
			k, v, ok := strings.Cut(line, "=")
			if ok && strings.TrimSpace(k) == "AccountingStorageType" {
				v = strings.TrimSpace(v)
				c.acct = v != "" && v != "accounting_storage/none"
			}
		}
	})
	return c.acct
}

// Cancel cancels ids (scancel); unknown or finished ones are no error.
func (c *Client) Cancel(ctx context.Context, ids []string) error {
	for ch := range slices.Chunk(ids, chunk) {
		if _, err := c.output(ctx, "scancel", ch...); err != nil {
			var re *runner.Error
			if errors.As(err, &re) && strings.Contains(re.Tail, "Invalid job id") {
				continue
			}
			return fmt.Errorf("cancel jobs %s: %w", strings.Join(ch, ","), err)
		}
	}
	return nil
}

// Nodes lists partition's nodes with their host names (sinfo); ""
// is the default partition.
func (c *Client) Nodes(ctx context.Context, partition string) ([]Node, error) {
	args := []string{"-h", "-N", "-o", "%N|%n"}
	if partition != "" {
		args = append(args, "-p", partition)
	}
	out, err := c.output(ctx, "sinfo", args...)
	if err != nil {
		return nil, fmt.Errorf("list the nodes of the partition: %w", err)
	}
	nodes, err := ParseSinfo(out)
	if err == nil && len(nodes) == 0 {
		err = fmt.Errorf("partition %q has no nodes", partition)
	}
	return nodes, err
}
