package mockrun

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// memCgroup is a memory cgroup made for one build.
type memCgroup struct {
	Dir string
	V2  bool
}

// cgroupRoot is where cgroup hierarchies are mounted (a variable for tests).
var cgroupRoot = "/sys/fs/cgroup"

// newMemCgroup makes a child of the calling process's memory cgroup named
// bundle-<id>-<pid> with the given limit. It fails when the host has no memory
// controller this process may use (cgroup v2 without delegation, read-only
// /sys/fs/cgroup in a container, not root); the caller then falls back to
// RLIMIT_AS.
func newMemCgroup(id string, limit int64) (*memCgroup, error) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	v1Path, v2Path, hasV2 := parseProcCgroup(string(self))
	// The pid keeps two bundle processes building the same job apart.
	name := "bundle-" + id + "-" + strconv.Itoa(os.Getpid())
	// cgroup v1 memory controller.
	if v1Path != "" {
		base := filepath.Join(cgroupRoot, "memory")
		if _, err := os.Stat(filepath.Join(base, "memory.limit_in_bytes")); err == nil {
			dir := filepath.Join(base, filepath.FromSlash(v1Path), name)
			if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return nil, err
			}
			cg := &memCgroup{Dir: dir}
			if err := os.WriteFile(filepath.Join(dir, "memory.limit_in_bytes"), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
				cg.remove()
				return nil, err
			}
			// Keep swap from extending the cap where swap accounting is on.
			_ = os.WriteFile(filepath.Join(dir, "memory.memsw.limit_in_bytes"), []byte(strconv.FormatInt(limit, 10)), 0o644)
			return cg, nil
		}
	}
	// cgroup v2 with the memory controller delegated to our cgroup's children.
	if hasV2 {
		parent := filepath.Join(cgroupRoot, filepath.FromSlash(v2Path))
		ctl, err := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control"))
		if err != nil {
			return nil, err
		}
		if !strings.Contains(" "+strings.TrimSpace(string(ctl))+" ", " memory ") {
			return nil, fmt.Errorf("cgroup v2: memory controller not enabled for children of %s", parent)
		}
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		cg := &memCgroup{Dir: dir, V2: true}
		if err := os.WriteFile(filepath.Join(dir, "memory.max"), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
			cg.remove()
			return nil, err
		}
		_ = os.WriteFile(filepath.Join(dir, "memory.swap.max"), []byte("0"), 0o644)
		return cg, nil
	}
	return nil, errors.New("no memory cgroup controller")
}

// parseProcCgroup reads /proc/self/cgroup: the v1 memory hierarchy's path
// and the v2 path.
func parseProcCgroup(s string) (v1Memory, v2 string, hasV2 bool) {
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2, hasV2 = parts[2], true
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				v1Memory = parts[2]
			}
		}
	}
	return v1Memory, v2, hasV2
}

// oomKills reports how many processes the kernel killed in the cgroup for
// running out of memory.
func (c *memCgroup) oomKills() int {
	file := "memory.oom_control"
	if c.V2 {
		file = "memory.events"
	}
	data, err := os.ReadFile(filepath.Join(c.Dir, file))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == "oom_kill" {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	if !c.V2 {
		// Older kernels have no oom_kill counter; failcnt counts hits.
		data, err := os.ReadFile(filepath.Join(c.Dir, "memory.failcnt"))
		if err == nil {
			n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
			if n > 0 {
				return 1
			}
		}
	}
	return 0
}

// remove deletes the cgroup once its processes are gone.
func (c *memCgroup) remove() error {
	var err error
	for i := 0; i < 50; i++ {
		if err = os.Remove(c.Dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(40 * time.Millisecond)
	}
	return fmt.Errorf("remove cgroup %s: %w", c.Dir, err)
}
