package audit

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"github.com/bundle-dev/bundle/bundle/workpool"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/bundle-dev/bundle/bundle/runner"
)

// lddBatch is how many files one loader listing command covers.
const lddBatch = 200

const lddScript = `l=$1; d=$2; shift 2; i=0
for f; do
    echo "@@bundle-ldd $i"
    LD_LIBRARY_PATH=$d "$l" --list "$f" 2>&1
    echo "@@bundle-ldd-exit $?"
    i=$((i+1))
done`

// checkLoader has the dynamic loader list every native ELF file of the
// bundle, with LD_LIBRARY_PATH at the decoys.
func (s *sandbox) checkLoader(ctx context.Context, name string, set *elfSet, base []string) CheckResult {
	res := newResult(name)
	m, ok := nativeMachine()
	if !ok {
		return skipped(name, "no dynamic loader known for this host's architecture")
	}
	var files []string
	other := 0
	for _, f := range set.files {
		if f.info.Machine == m && f.info.Class == elf.ELFCLASS64 {
			files = append(files, f.path)
		} else {
			other++
		}
	}
	if len(files) == 0 {
		return skipped(name, fmt.Sprintf("no ELF file for this host's architecture (%d for others)", other))
	}
	ldso, err := loader(s.sysroot, set, m)
	if err != nil {
		res.fail("%v", err)
		return res.done()
	}
	var batches [][]string
	for start := 0; start < len(files); start += lddBatch {
		batches = append(batches, files[start:min(len(files), start+lddBatch)])
	}
	var mu sync.Mutex
	err = workpool.ForEach(ctx, s.workers, batches, func(batch []string) error {
		argv := []string{"/bin/sh", "-c", lddScript, "ldd", ldso, s.decoys}
		for _, f := range batch {
			argv = append(argv, s.top+f)
		}
		out, err := runner.Output(ctx, s.run, s.cmd(name, argv...))
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			res.fail("listing with %s: %v", ldso, err)
			return nil
		}
		s.parseListing(res, string(out), batch, base)
		return nil
	})
	if err != nil {
		res.fail("%v", err)
	}
	if other > 0 {
		res.Detail = fmt.Sprintf("%d ELF files of other architectures not listed", other)
	}
	return res.done()
}

// parseListing reads the loop's output for batch.
func (s *sandbox) parseListing(res *result, out string, batch []string, base []string) {
	cur := -1
	for l := range strings.SplitSeq(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "@@bundle-ldd "); ok {
			if i, err := strconv.Atoi(rest); err == nil && i >= 0 && i < len(batch) {
				cur = i
				res.Count++
			}
			continue
		}
		if cur < 0 {
			continue
		}
		f := batch[cur]
		if rest, ok := strings.CutPrefix(l, "@@bundle-ldd-exit "); ok {
			if rest != "0" {
				res.fail("%s: the loader exited with status %s", f, rest)
			}
			cur = -1
			continue
		}
		l = strings.TrimSpace(l)
		name, target, ok := strings.Cut(l, " => ")
		if !ok {
			if strings.Contains(l, "not found") || strings.Contains(l, "error") {
				res.fail("%s: %s", f, l)
			}
			continue
		}
		if strings.HasPrefix(target, "not found") {
			res.fail("%s: %s not found", f, name)
			continue
		}
		if i := strings.Index(target, " (0x"); i >= 0 {
			target = target[:i]
		}
		target = path.Clean(target)
		switch {
		case strings.HasPrefix(target, s.decoys+"/"):
			res.fail("%s: %s loads the decoy from LD_LIBRARY_PATH, not the bundle's", f, name)
		case strings.HasPrefix(target, s.top+"/"):
		case slices.Contains(base, name):
		default:
			res.fail("%s: %s loads %s, outside the bundle", f, name, target)
		}
	}
}

// shells source bundlerc in the bundlerc check; dash needs the root
// variable preset.
var shells = []struct {
	name   string
	args   []string
	preset bool
}{
	{"bash", []string{"--noprofile", "--norc", "-c"}, false},
	{"zsh", []string{"-f", "-c"}, false},
	{"dash", []string{"-c"}, true},
}

// checkEnvScript sources bundlerc twice in each shell the host has and
// checks what it exports.
func (s *sandbox) checkEnvScript(ctx context.Context, rootVar string, exists bool) CheckResult {
	res := newResult("bundlerc")
	if !exists {
		res.fail("no bundlerc at the top of the bundle")
		return res.done()
	}
	var missing []string
	for _, sh := range shells {
		p, ok := findTool(s.sysroot, sh.name)
		if !ok {
			missing = append(missing, sh.name)
			continue
		}
		if sh.preset && rootVar == "" {
			missing = append(missing, sh.name+" (needs the root variable)")
			continue
		}
		script := `. "$1/bundlerc" && . "$1/bundlerc" && printf '%s\n' "$PATH" "${LD_LIBRARY_PATH-unset}"`
		if rootVar != "" {
			script += ` "${` + rootVar + `-unset}"`
			if sh.preset {
				script = rootVar + `=$1; ` + script
			}
		}
		res.Count++
		argv := append(append([]string{p}, sh.args...), script, "bundlerc", s.top)
		c := s.cmd("bundlerc-"+sh.name, argv...)
		c.Env = append(slices.Clone(c.Env), "LD_LIBRARY_PATH=/opt/job/lib")
		out, err := runner.Output(ctx, s.run, c)
		if err != nil {
			res.fail("%s: %v", sh.name, err)
			continue
		}
		lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		if len(lines) < 2 {
			res.fail("%s: printed %q", sh.name, out)
			continue
		}
		entries := strings.Split(lines[0], ":")
		if !strings.HasPrefix(entries[0], s.top+"/") {
			res.fail("%s: PATH does not start with the bundle: %s", sh.name, lines[0])
		}
		for i, e := range entries {
			if slices.Contains(entries[:i], e) && strings.HasPrefix(e, s.top+"/") {
				res.fail("%s: %s is twice on PATH after sourcing twice", sh.name, e)
			}
		}
		if lines[1] != "unset" {
			res.fail("%s: LD_LIBRARY_PATH is still %q", sh.name, lines[1])
		}
		if rootVar != "" && (len(lines) < 3 || lines[2] != s.top) {
			res.fail("%s: %s is %q, want %s", sh.name, rootVar, strings.Join(lines[2:], " "), s.top)
		}
	}
	if len(missing) > 0 {
		res.Detail = "not tried: " + strings.Join(missing, ", ")
	}
	return res.done()
}

const checkScript = `. "$1/bundlerc" || { echo "bundle test: sourcing $1/bundlerc failed" >&2; exit 98; }
export LD_LIBRARY_PATH="$2"
exec /bin/sh -c "$3"`

// runCheck runs one declared check after sourcing bundlerc, with
// LD_LIBRARY_PATH at the decoys.
func (s *sandbox) runCheck(ctx context.Context, name string, c Check) CheckResult {
	res := newResult(name)
	res.Count = 1
	bash, ok := findTool(s.sysroot, "bash")
	if !ok {
		res.fail("no bash to source bundlerc with")
		return res.done()
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := s.run.Run(ctx, s.cmd(name, bash, "--noprofile", "--norc", "-c", checkScript, "check", s.top, s.decoys, c.Command))
	if err == nil {
		return res.done()
	}
	var re *runner.Error
	if !errors.As(err, &re) {
		res.fail("%v", err)
		return res.done()
	}
	for l := range strings.SplitSeq(re.Tail, "\n") {
		if l != "" {
			res.all = append(res.all, l)
		}
	}
	if len(res.all) == 0 {
		res.all = []string{"(no output)"}
	}
	detail := fmt.Sprintf("%s: exit status %d", c.Command, re.ExitCode)
	switch {
	case ctx.Err() != nil:
		detail = fmt.Sprintf("%s: timed out after %s", c.Command, timeout)
	case re.ExitCode == DecoyExit || strings.Contains(re.Tail, DecoyMarker):
		detail += "; a decoy library from LD_LIBRARY_PATH was loaded: some ELF file does not find the bundle's library through its RPATH"
	case re.ExitCode == 98:
		detail += "; bundlerc could not be sourced"
	}
	if re.Log != "" {
		detail += "; log: " + re.Log
	}
	lines := slices.Clone(res.all)
	r := res.done()
	// The output's order is what helps; done sorted it.
	r.Offenders = lines[max(0, len(lines)-MaxOffenders):]
	r.Detail = detail
	return r
}
