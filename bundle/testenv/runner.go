package testenv

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/bundle-dev/bundle/bundle/runner"
)

// FakeRunner is a runner.Runner for tests that runs nothing: it records
// every command and answers by program name (Cmd.Name) from Out and Fail,
// then with Func when set. Safe for concurrent use.
type FakeRunner struct {
	// Out is what a program writes to Cmd.Stdout.
	Out map[string]string
	// Fail makes a program fail with exit status 1 and this log tail.
	Fail map[string]string
	// Func, when set, is called for every command not failed by Fail; an
	// error it returns is the command's failure (exit status 1).
	Func func(runner.Cmd) error

	mu   sync.Mutex
	cmds []runner.Cmd
}

// Run records c and answers it.
func (f *FakeRunner) Run(ctx context.Context, c runner.Cmd) (runner.Result, error) {
	f.mu.Lock()
	f.cmds = append(f.cmds, c)
	fn := f.Func
	f.mu.Unlock()
	if tail, ok := f.Fail[c.Name]; ok {
		return runner.Result{ExitCode: 1}, &runner.Error{Argv: []string{c.Name}, ExitCode: 1, Tail: tail, Err: errors.New("exit status 1")}
	}
	if out, ok := f.Out[c.Name]; ok && c.Stdout != nil {
		fmt.Fprint(c.Stdout, out)
	}
	if fn != nil {
		if err := fn(c); err != nil {
			return runner.Result{ExitCode: 1}, err
		}
	}
	return runner.Result{}, nil
}

// Cmds returns the commands run so far, in order.
func (f *FakeRunner) Cmds() []runner.Cmd {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]runner.Cmd(nil), f.cmds...)
}

// Lines returns the commands run so far as quoted command lines.
func (f *FakeRunner) Lines() []string {
	var out []string
	for _, c := range f.Cmds() {
		out = append(out, runner.Quote(append([]string{c.Name}, c.Args...)))
	}
	return out
}
