// Package runner runs external commands (rpmbuild, mock, createrepo_c, pip,
// patchelf, sbatch, ...) the one way bundle runs them: the command line is
// logged, stdout and stderr go to a per-job log file, and the duration and
// exit status are reported. A failure carries the tail of the log.
package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Cmd describes one external command.
type Cmd struct {
	Name string   // program
	Args []string // arguments
	Dir  string   // working directory ("" = current)
	Env  []string // full environment; nil means a minimal clean one (see CleanEnv)
	// Log is the per-job log file the output is appended to. When empty the
	// output is only kept in memory (for the error tail).
	Log    string
	Stdin  io.Reader
	Stdout io.Writer // optional extra copy of stdout (for commands whose output is data)
	// TailLines is how many log lines a failure error carries (default 40).
	TailLines int
}

// Result reports how a command ended.
type Result struct {
	Argv     []string
	Duration time.Duration
	ExitCode int
}

// Runner runs commands. Tests substitute it with a recording fake.
type Runner interface {
	Run(ctx context.Context, c Cmd) (Result, error)
}

// Exec is the real Runner.
type Exec struct {
	Logger *slog.Logger
}

// KillGrace is how long a cancelled command's process group has between
// SIGTERM and SIGKILL.
var KillGrace = 5 * time.Second

// Default is the process-wide real runner.
var Default Runner = Exec{}

// CleanEnv returns the minimal environment builds run with: nothing from the
// caller's environment leaks in except what is listed here.
func CleanEnv(extra ...string) []string {
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8",
		"LC_ALL=C.UTF-8",
		"TZ=UTC",
		"HOME=" + os.TempDir(),
	}
	if v, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok {
		env = append(env, "SOURCE_DATE_EPOCH="+v)
	}
	return append(env, extra...)
}

// Quote renders argv as a shell-readable command line for logs.
func Quote(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r == '-' || r == '_' || r == '.' || r == '/' || r == '=' || r == ':' || r == ',' || r == '+' || r == '%' || r == '@' ||
				(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
		}) < 0 {
			b.WriteString(a)
			continue
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteByte('\'')
	}
	return b.String()
}

// maxTailLine bounds each line a tail keeps (a progress bar redrawn with
// carriage returns, or binary output, can make one line of any length).
const maxTailLine = 4096

// tail keeps the last n lines written to it, each cut to its last
// maxTailLine bytes, so it holds at most about n*maxTailLine bytes whatever
// the command writes.
type tail struct {
	mu    sync.Mutex
	n     int
	lines [][]byte
	part  []byte
	cut   bool // part lost its beginning
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	data := p
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			t.addPart(data)
			break
		}
		t.addPart(data[:i])
		line := t.part
		if t.cut {
			line = append([]byte("…"), line...)
		}
		t.lines = append(t.lines, line)
		if len(t.lines) > t.n {
			t.lines = t.lines[len(t.lines)-t.n:]
		}
		t.part, t.cut = nil, false
		data = data[i+1:]
	}
	return len(p), nil
}

// addPart appends b to the partial line, keeping its last maxTailLine
// bytes.
func (t *tail) addPart(b []byte) {
	if len(b) >= maxTailLine {
		t.part = append(t.part[:0], b[len(b)-maxTailLine:]...)
		t.cut = true
		return
	}
	if over := len(t.part) + len(b) - maxTailLine; over > 0 {
		t.part = append(t.part[:0], t.part[over:]...)
		t.cut = true
	}
	t.part = append(t.part, b...)
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if len(t.part) > 0 {
		part := t.part
		if t.cut {
			part = append([]byte("…"), part...)
		}
		lines = append(lines[:len(lines):len(lines)], part)
	}
	if len(lines) > t.n {
		lines = lines[len(lines)-t.n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// Error is returned when a command fails; it carries the log tail.
type Error struct {
	Argv     []string
	ExitCode int
	Log      string
	Tail     string
	Err      error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v", filepath.Base(e.Argv[0]), e.Err)
	if e.Log != "" {
		fmt.Fprintf(&b, " (full log: %s)", e.Log)
	}
	if e.Tail != "" {
		b.WriteString("\n--- last lines ---\n")
		b.WriteString(e.Tail)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Run runs c, logging its command line, duration and exit status.
func (x Exec) Run(ctx context.Context, c Cmd) (Result, error) {
	logger := x.Logger
	if logger == nil {
		logger = slog.Default()
	}
	argv := append([]string{c.Name}, c.Args...)
	res := Result{Argv: argv, ExitCode: -1}
	n := c.TailLines
	if n <= 0 {
		n = 40
	}
	tl := &tail{n: n}
	var out io.Writer = tl
	var logf *os.File
	if c.Log != "" {
		if err := os.MkdirAll(filepath.Dir(c.Log), 0o755); err != nil {
			return res, fmt.Errorf("run %s: log directory: %w", c.Name, err)
		}
		f, err := os.OpenFile(c.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return res, fmt.Errorf("run %s: open log: %w", c.Name, err)
		}
		defer f.Close()
		logf = f
		fmt.Fprintf(f, "+ %s\n", Quote(argv))
		out = io.MultiWriter(tl, f)
	}
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	cmd.Dir = c.Dir
	if c.Env != nil {
		cmd.Env = c.Env
	} else {
		cmd.Env = CleanEnv()
	}
	cmd.Stdin = c.Stdin
	if c.Stdout != nil {
		cmd.Stdout = c.Stdout
	} else {
		cmd.Stdout = out
	}
	cmd.Stderr = out
	// The command leads its own process group. On cancellation the whole
	// group gets SIGTERM, then SIGKILL after KillGrace; once the command
	// is reaped, whatever is left of the group (a grandchild that ignored
	// SIGTERM, or one that outlived its parent) gets SIGKILL too, so no
	// orphan races a resumed run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	exited := make(chan struct{})
	cmd.Cancel = func() error {
		pgid := cmd.Process.Pid
		err := syscall.Kill(-pgid, syscall.SIGTERM)
		go func() {
			t := time.NewTimer(KillGrace)
			defer t.Stop()
			select {
			case <-t.C:
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			case <-exited:
			}
		}()
		return err
	}
	cmd.WaitDelay = 2 * KillGrace

	logger.Debug("run", "cmd", Quote(argv), "dir", c.Dir, "log", c.Log)
	start := time.Now()
	err := cmd.Run()
	close(exited)
	if ctx.Err() != nil && cmd.Process != nil {
		// The group's id stays reserved while any member lives, so this
		// reaches only what is left of the command's group.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	res.Duration = time.Since(start)
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	if logf != nil {
		fmt.Fprintf(logf, "+ exit %d after %s\n", res.ExitCode, res.Duration.Round(time.Millisecond))
	}
	logger.Debug("ran", "cmd", filepath.Base(c.Name), "exit", res.ExitCode, "duration", res.Duration.Round(time.Millisecond))
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		var ee *exec.Error
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: install it or put it on PATH", err)
		}
		return res, &Error{Argv: argv, ExitCode: res.ExitCode, Log: c.Log, Tail: tl.String(), Err: err}
	}
	return res, nil
}

// Output runs c and returns its stdout; stderr goes to the log.
func Output(ctx context.Context, r Runner, c Cmd) ([]byte, error) {
	var buf bytes.Buffer
	c.Stdout = &buf
	_, err := r.Run(ctx, c)
	return buf.Bytes(), err
}
