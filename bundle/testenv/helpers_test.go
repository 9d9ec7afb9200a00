package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/runner"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failed []string
}

type fatal struct{}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return "TestX" }
func (r *recorder) Errorf(format string, args ...any) {
	r.failed = append(r.failed, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(fatal{})
}
func (r *recorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

func golden(path string, got []byte) (failed []string) {
	r := &recorder{}
	defer func() {
		if v := recover(); v != nil && v != (fatal{}) {
			panic(v)
		}
		failed = r.failed
	}()
	Golden(r, path, got)
	return nil
}

func TestGolden(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "x.golden")
	if f := golden(path, []byte("a")); len(f) != 1 || !strings.Contains(f[0], "-update creates it") {
		t.Errorf("missing golden file: %q", f)
	}
	*update = true
	f := golden(path, []byte("a\n"))
	*update = false
	if b, _ := os.ReadFile(path); len(f) != 0 || string(b) != "a\n" {
		t.Errorf("-update wrote %q, failures %q", b, f)
	}
	if f := golden(path, []byte("a\n")); len(f) != 0 {
		t.Errorf("same content failed: %q", f)
	}
	if f := golden(path, []byte("b\n")); len(f) != 1 || !strings.Contains(f[0], "differs from "+path) {
		t.Errorf("other content: %q", f)
	}
}

func TestFakeRunner(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	f := &FakeRunner{
		Out:  map[string]string{"echo": "hello\n"},
		Fail: map[string]string{"false": "the tail"},
		Func: func(c runner.Cmd) error {
			if c.Name == "explode" {
				return boom
			}
			return nil
		},
	}
	var out bytes.Buffer
	if _, err := f.Run(ctx, runner.Cmd{Name: "echo", Args: []string{"a b"}, Stdout: &out}); err != nil || out.String() != "hello\n" {
		t.Errorf("echo: %q %v", out.String(), err)
	}
	res, err := f.Run(ctx, runner.Cmd{Name: "false"})
	var re *runner.Error
	if !errors.As(err, &re) || re.Tail != "the tail" || res.ExitCode != 1 {
		t.Errorf("false: %v %v", res, err)
	}
	if res, err := f.Run(ctx, runner.Cmd{Name: "explode"}); !errors.Is(err, boom) || res.ExitCode != 1 {
		t.Errorf("explode: %v %v", res, err)
	}
	want := []string{"echo 'a b'", "false", "explode"}
	if got := f.Lines(); strings.Join(got, "|") != strings.Join(want, "|") || len(f.Cmds()) != 3 {
		t.Errorf("Lines() = %q, want %q", got, want)
	}
}

func TestFixturesDir(t *testing.T) {
	wd, _ := os.Getwd()
	// This package is bundle/testenv: the module root is two levels up.
	want := filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(wd))), "shared", "fixtures")
	if FixturesDir != want || Fixture("a", "b") != filepath.Join(want, "a", "b") {
		t.Errorf("FixturesDir = %s, Fixture(a, b) = %s; want %s", FixturesDir, Fixture("a", "b"), want)
	}
}
