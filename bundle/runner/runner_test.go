package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
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

func TestRunCancelKillsTheGroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Exec{}.Run(ctx, Cmd{Name: "sh", Args: []string{"-c", "sleep 30 & sleep 30; wait"}})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("cancellation took %s", d)
	}
}

func TestCleanEnv(t *testing.T) {
	t.Setenv("LD_LIBRARY_PATH", "/leak")
	env := strings.Join(CleanEnv("X=1"), "\n")
	if strings.Contains(env, "/leak") || !strings.Contains(env, "X=1") || !strings.Contains(env, "PATH=") {
		t.Errorf("CleanEnv = %s", env)
	}
}
