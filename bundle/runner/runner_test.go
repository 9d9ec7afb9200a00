package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestQuote(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"rpmbuild", "--define", "_topdir /tmp/x"}, "rpmbuild --define '_topdir /tmp/x'"},
		{[]string{"sh", "-c", "echo 'hi'"}, `sh -c 'echo '\''hi'\'''`},
		{[]string{"a", ""}, "a ''"},
	}
	for _, tt := range tests {
		if got := Quote(tt.argv); got != tt.want {
			t.Errorf("Quote(%q) = %s, want %s", tt.argv, got, tt.want)
		}
	}
}

func TestRunLogsAndTail(t *testing.T) {
	log := filepath.Join(t.TempDir(), "logs", "job.log")
	res, err := Exec{}.Run(context.Background(), Cmd{Name: "sh", Args: []string{"-c", "echo out; echo err >&2"}, Log: log})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run: %v %+v", err, res)
	}
	data, _ := os.ReadFile(log)
	for _, want := range []string{"+ sh -c 'echo out; echo err >&2'", "out\n", "err\n", "+ exit 0 after"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("log lacks %q:\n%s", want, data)
		}
	}

	// A failure carries the last lines of its output and the log's path.
	_, err = Exec{}.Run(context.Background(), Cmd{Name: "sh", Args: []string{"-c", "for i in $(seq 1 100); do echo line $i; done; exit 3"}, Log: log, TailLines: 5})
	var re *Error
	if !errors.As(err, &re) || re.ExitCode != 3 {
		t.Fatalf("err = %v, want a *runner.Error with exit 3", err)
	}
	if !strings.Contains(err.Error(), "line 100") || strings.Contains(err.Error(), "line 95\n") || !strings.Contains(err.Error(), log) {
		t.Errorf("error does not carry the 5-line tail and the log:\n%v", err)
	}
}

func TestRunMissingProgram(t *testing.T) {
	_, err := Exec{}.Run(context.Background(), Cmd{Name: "no-such-program-bundle"})
	if err == nil || !strings.Contains(err.Error(), "install it or put it on PATH") {
		t.Fatalf("err = %v", err)
	}
}

// Cancelling kills the whole process group: a grandchild that ignores
// SIGTERM and does not hold the output pipe dies too.
func TestRunCancelKillsTheGroup(t *testing.T) {
	defer func(g time.Duration) { KillGrace = g }(KillGrace)
	KillGrace = 300 * time.Millisecond
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "grandchild.pid")
	script := `sh -c 'trap "" TERM; echo $$ > "$1.tmp"; mv "$1.tmp" "$1"; exec sleep 60' grandchild "$1" </dev/null >/dev/null 2>&1 &
sleep 60; wait`
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if _, err := os.Stat(pidFile); err == nil {
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	start := time.Now()
	_, err := Exec{}.Run(ctx, Cmd{Name: "sh", Args: []string{"-c", script, "child", pidFile}})
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("cancellation took %s", d)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	// The grandchild is reparented; it must be gone (or a zombie waiting
	// for its new parent) shortly after.
	deadline := time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return // gone
		}
		if f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("grandchild %d survived the cancellation: %s", pid, stat)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The tail stays bounded whatever the command writes: a partial line
// without a newline keeps only its end.
func TestTailBounded(t *testing.T) {
	tl := &tail{n: 3}
	chunk := bytes.Repeat([]byte("x"), 1000)
	for range 10000 { // 10 MB, no newline
		tl.Write(chunk)
	}
	if len(tl.part) > maxTailLine {
		t.Fatalf("partial line holds %d bytes", len(tl.part))
	}
	tl.Write([]byte("end\nshort\n"))
	tl.Write(append(bytes.Repeat([]byte("y"), 3*maxTailLine), "tail"...))
	lines := strings.Split(tl.String(), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	if !strings.HasPrefix(lines[0], "…") || !strings.HasSuffix(lines[0], "xend") || len(lines[0]) > maxTailLine+len("…") {
		t.Errorf("long line kept as %d bytes: %.20q…", len(lines[0]), lines[0])
	}
	if lines[1] != "short" {
		t.Errorf("line 2 = %q", lines[1])
	}
	if !strings.HasPrefix(lines[2], "…y") || !strings.HasSuffix(lines[2], "ytail") || len(lines[2]) > maxTailLine+len("…") {
		t.Errorf("partial line kept as %d bytes", len(lines[2]))
	}
	total := 0
	for _, l := range tl.lines {
		total += len(l)
	}
	if total > 3*(maxTailLine+len("…")) {
		t.Errorf("tail holds %d bytes", total)
	}
}

func TestCleanEnv(t *testing.T) {
	t.Setenv("LD_LIBRARY_PATH", "/leak")
	env := strings.Join(CleanEnv("X=1"), "\n")
	if strings.Contains(env, "/leak") || !strings.Contains(env, "X=1") || !strings.Contains(env, "PATH=") {
		t.Errorf("CleanEnv = %s", env)
	}
}
