package schedule

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/plan"
)

// helperLock takes the lock of $SCHEDULE_TEST_WORKDIR, says "locked" and
// holds it until stdin closes.
func helperLock() {
	unlock, err := Lock(os.Getenv("SCHEDULE_TEST_WORKDIR"), nil)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	unlock()
}

// crashSpec is the plan the kill -9 test runs in a helper process.
func crashSpec() spec { return randomSpec(30, 5, 40*time.Millisecond, 60*time.Millisecond) }

func crashKey(_ context.Context, n *plan.Node) (string, error) { return "key-" + n.Name, nil }

// helperRun builds crashSpec in $SCHEDULE_TEST_WORKDIR with a state file,
// appending each node whose build completed to WORKDIR/ran, until killed.
func helperRun() {
	dir := os.Getenv("SCHEDULE_TEST_WORKDIR")
	unlock, err := Lock(dir, nil)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	defer unlock()
	st, err := OpenState(dir)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	p, err := buildPlan(crashSpec())
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	ran, err := os.OpenFile(filepath.Join(dir, "ran"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	_, err = Run(context.Background(), p, Options{
		Workers: 2, CPUs: 2, State: st, Key: crashKey,
		Exec: func(ctx context.Context, n *plan.Node, cpus int) error {
			time.Sleep(n.Weight)
			_, err := ran.WriteString(n.Name + "\n")
			return err
		},
	})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

func helperCmd(t *testing.T, mode, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SCHEDULE_TEST_HELPER="+mode, "SCHEDULE_TEST_WORKDIR="+dir)
	return cmd
}

func TestLockContention(t *testing.T) {
	dir := t.TempDir()
	cmd := helperCmd(t, "lock", dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	pid := cmd.Process.Pid
	_, err = Lock(dir, nil)
	if err == nil {
		t.Fatal("second Lock succeeded while the helper holds it")
	}
	mustContain(t, err.Error(), "in use by bundle pid "+strconv.Itoa(pid), dir)

	// The holder dies without unlocking: its lock is taken over.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	stdin.Close()
	unlock, err := Lock(dir, nil)
	if err != nil {
		t.Fatalf("stale lock not taken over: %v", err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, LockFile))
	if strings.TrimSpace(string(data)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock file holds %q, want our pid", data)
	}
	// Within one process, a second Lock is refused as well.
	if _, err := Lock(dir, nil); err == nil {
		t.Error("Lock succeeded twice")
	}
	unlock()
	unlock()
	unlock2, err := Lock(dir, nil)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock2()
}

// TestResumeAfterKill kills a building run with SIGKILL and checks that a
// second run redoes nothing the first one finished.
func TestResumeAfterKill(t *testing.T) {
	dir := t.TempDir()
	cmd := helperCmd(t, "run", dir)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if st, err := OpenState(dir); err == nil && countState(st, Done) >= 6 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("helper made no progress: %s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	st, err := OpenState(dir)
	if err != nil {
		t.Fatalf("state after kill -9: %v", err)
	}
	ranData, _ := os.ReadFile(filepath.Join(dir, "ran"))
	completed := map[string]bool{}
	for _, n := range strings.Fields(string(ranData)) {
		completed[n] = true
	}
	doneBefore := map[string]bool{}
	for name, e := range st.Entries() {
		if e.State == Done {
			doneBefore[name] = true
			if !completed[name] {
				t.Errorf("state says %s is done but its build never completed", name)
			}
		}
	}
	if len(doneBefore) == 30 {
		t.Fatal("the helper finished before it was killed; nothing to resume")
	}

	unlock, err := Lock(dir, nil)
	if err != nil {
		t.Fatalf("lock of the killed run not taken over: %v", err)
	}
	defer unlock()
	p := mkPlan(t, crashSpec())
	s := newSim(t, p)
	for name := range doneBefore {
		s.finished[name] = true
	}
	sum, err := Run(context.Background(), p, Options{Workers: 4, CPUs: 4, State: st, Key: crashKey, Exec: s.exec})
	if err != nil {
		t.Fatal(err)
	}
	for name := range s.ran {
		if doneBefore[name] {
			t.Errorf("%s was built again after the resume", name)
		}
	}
	for _, nr := range sum.Nodes {
		if nr.State != Done {
			t.Errorf("%s ended %s", nr.Name, nr.State)
		}
		if nr.Resumed != doneBefore[nr.Name] {
			t.Errorf("%s: Resumed = %v, done before = %v", nr.Name, nr.Resumed, doneBefore[nr.Name])
		}
	}
	if len(s.ran)+len(doneBefore) != 30 {
		t.Errorf("ran %d + resumed %d != 30", len(s.ran), len(doneBefore))
	}
}

func countState(st *State, want JobState) int {
	n := 0
	for _, e := range st.Entries() {
		if e.State == want {
			n++
		}
	}
	return n
}
