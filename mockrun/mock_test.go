package mockrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/testenv"
	"github.com/bundle-dev/bundle/platforms"
)

// golden compares got with testdata/golden/<name>.golden (rewritten with
// -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, filepath.Join("testdata", "golden", name+".golden"), got)
}

// fakeMock answers mock's commands run by a testenv.FakeRunner: it fills
// --resultdir from a crafted result directory and fails when told to.
type fakeMock struct {
	from   string // testdata result directory copied into --resultdir
	srpm   string // file name of a source RPM to create there ("" = none)
	rpms   []string
	failed bool
}

// runner is a FakeRunner answering with m.
func (m fakeMock) runner() *testenv.FakeRunner { return &testenv.FakeRunner{Func: m.answer} }

func (m fakeMock) answer(c runner.Cmd) error {
	var resultDir string
	for i, a := range c.Args {
		if a == "--resultdir" && i+1 < len(c.Args) {
			resultDir = c.Args[i+1]
		}
	}
	if resultDir != "" && m.from != "" {
		ents, err := os.ReadDir(m.from)
		if err != nil {
			return err
		}
		for _, e := range ents {
			data, err := os.ReadFile(filepath.Join(m.from, e.Name()))
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(resultDir, e.Name()), data, 0o644); err != nil {
				return err
			}
		}
	}
	for _, name := range append(append([]string(nil), m.rpms...), m.srpm) {
		if name != "" && resultDir != "" {
			if err := os.WriteFile(filepath.Join(resultDir, name), []byte("not really an rpm"), 0o644); err != nil {
				return err
			}
		}
	}
	if m.failed {
		argv := append([]string{c.Name}, c.Args...)
		return &runner.Error{Argv: argv, ExitCode: 30, Log: c.Log, Tail: "ERROR: Command failed (mock's own last line)", Err: errors.New("exit status 30")}
	}
	return nil
}

func loadPlatform(t *testing.T, name string) *platforms.Platform {
	t.Helper()
	p, err := platforms.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// customPlatform is el9 with macros, to cover their rendering.
func customPlatform(t *testing.T) *platforms.Platform {
	p := loadPlatform(t, "el9-x86_64")
	p.Name = "custom-el9"
	p.Builder.Mock.Macros = map[string]string{"%_with_static": "0", "vendor": "bundle's grid", "__brp_mangle_shebangs": "%{nil}"}
	return p
}

func TestMockConfigGolden(t *testing.T) {
	const repo = "/work/run/repo"
	for _, name := range []string{"el7-x86_64", "el8-x86_64", "el9-x86_64"} {
		t.Run(name, func(t *testing.T) {
			cfg, err := mockConfig(loadPlatform(t, name), repo, nil)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "mock-"+name+".cfg", []byte(cfg))
		})
	}
	t.Run("custom", func(t *testing.T) {
		cfg, err := mockConfig(customPlatform(t), repo, []string{"python3-devel", "cmake"})
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "mock-custom.cfg", []byte(cfg))
	})
}

func TestMockConfigRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *platforms.Platform)
		repo   string
		want   string
	}{
		{"epel base", func(p *platforms.Platform) { p.Builder.Mock.BaseConfig = "rocky+epel-9-x86_64.cfg" }, "/r", "EPEL"},
		{"empty macro", func(p *platforms.Platform) { p.Builder.Mock.Macros = map[string]string{"foo": ""} }, "/r", "not a macro definition"},
		{"macro name with space", func(p *platforms.Platform) { p.Builder.Mock.Macros = map[string]string{"foo bar": "1"} }, "/r", "not a macro definition"},
		{"jinja in macro", func(p *platforms.Platform) { p.Builder.Mock.Macros = map[string]string{"foo": "{{ root }}"} }, "/r", "template"},
		{"relative repo", func(p *platforms.Platform) {}, "repo", "absolute"},
		{"quote in repo", func(p *platforms.Platform) {}, `/r"""`, "absolute and free"},
		{"jinja in repo", func(p *platforms.Platform) {}, "/r/{{x}}", "template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := loadPlatform(t, "el9-x86_64")
			tt.change(p)
			_, err := mockConfig(p, tt.repo, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// execConfig runs the generated config the way mock does (include() is
// replaced by the base config's text, then the whole is exec'd) against a
// stand-in base config, and returns the resulting config_opts.
func execConfig(t *testing.T, cfg, baseDNF string) (map[string]any, error) {
	t.Helper()
	testenv.Tools(t, "python3")
	dir := t.TempDir()
	base := fmt.Sprintf("config_opts['chroot_setup_cmd'] = 'install bash gcc'\nconfig_opts['dnf.conf'] = %s\n", pyString(baseDNF))
	if err := os.WriteFile(filepath.Join(dir, "cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "base"), []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `
import json, re, sys
config_opts = {'macros': {}}
content = open(sys.argv[1]).read()
content = re.sub(r'^\s*include\((.*)\)', lambda m: open(sys.argv[2]).read(), content, count=1, flags=re.M)
exec(content)
print(json.dumps(config_opts))
`
	out, err := exec.Command("python3", "-c", script, filepath.Join(dir, "cfg"), filepath.Join(dir, "base")).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	var opts map[string]any
	if err := json.Unmarshal(out, &opts); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return opts, nil
}

func TestMockConfigExecutes(t *testing.T) {
	cfg, err := mockConfig(customPlatform(t), "/work/run/repo", []string{"cmake"})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := execConfig(t, cfg, "[main]\nreposdir=/dev/null\n\n[baseos]\nname=BaseOS\n")
	if err != nil {
		t.Fatal(err)
	}
	dnf, _ := opts["dnf.conf"].(string)
	for _, want := range []string{"[baseos]", "[bundle-local]", "baseurl=file:///work/run/repo\n", "priority=1\n", "module_hotfixes=1\n", "skip_if_unavailable=False\n"} {
		if !strings.Contains(dnf, want) {
			t.Errorf("dnf.conf lacks %q:\n%s", want, dnf)
		}
	}
	if strings.Index(dnf, "[baseos]") > strings.Index(dnf, "[bundle-local]") {
		t.Errorf("the local repo replaced rather than extended the base repos:\n%s", dnf)
	}
	macros, _ := opts["macros"].(map[string]any)
	wantMacros := map[string]string{"%dist": ".el9", "%_smp_mflags": "-j%{_bundle_jobs}", "%vendor": "bundle's grid", "%__brp_mangle_shebangs": "%{nil}", "%_with_static": "0"}
	for k, v := range wantMacros {
		if macros[k] != v {
			t.Errorf("macro %s = %v, want %q", k, macros[k], v)
		}
	}
	if opts["root"] != "bundle-custom-el9" || opts["dist"] != "el9" || opts["chroot_setup_cmd"] != "install bash gcc cmake" {
		t.Errorf("root %v, dist %v, chroot_setup_cmd %v", opts["root"], opts["dist"], opts["chroot_setup_cmd"])
	}

	// A base config that brings EPEL is refused when mock reads it.
	_, err = execConfig(t, cfg, "[main]\n\n[baseos]\nname=BaseOS\n\n[epel]\nname=EPEL\n")
	if err == nil || !strings.Contains(err.Error(), "EPEL repository [epel]") {
		t.Fatalf("EPEL in the base config: got %v", err)
	}
}

func TestMockArgvGolden(t *testing.T) {
	tests := []struct {
		name string
		job  Job
	}{
		{"plain", Job{Name: "zlib", ID: "zlib-1a2b3c", SRPM: "/in/zlib-1.2.13-1.src.rpm", ResultDir: "/w/results/zlib", Jobs: 4}},
		{"full", Job{Name: "python3", ID: "python3-ffee", SRPM: "/in/python3-3.11.9-1.src.rpm", ResultDir: "/w/results/python3", Jobs: 8,
			MemoryBytes: 8 << 30, Defines: map[string]string{"with_tests": "0", "_prefix": "/opt/bundle", "__python": "%{_bindir}/python3"},
			With: []string{"lto"}, Without: []string{"docs", "tests"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, "mock-argv-"+tt.name, []byte(runner.Quote(append([]string{"mock"}, mockArgv("/w/mock/el9-x86_64.cfg", tt.job)...))+"\n"))
		})
	}
}

func newTestMock(t *testing.T, f *testenv.FakeRunner) (*Mock, string) {
	t.Helper()
	work := t.TempDir()
	b, err := New(Options{Platform: loadPlatform(t, "el9-x86_64"), WorkDir: work, Runner: f})
	if err != nil {
		t.Fatal(err)
	}
	return b.(*Mock), work
}

// fakeSRPM writes a placeholder source RPM (mock is faked, nothing reads it).
func fakeSRPM(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "demo-1.0-1.src.rpm")
	if err := os.WriteFile(p, []byte("srpm"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMockBuildOutcome(t *testing.T) {
	tests := []struct {
		name     string
		from     string
		failed   bool
		wantErr  []string // substrings of the error
		notInErr []string
		wantLog  string // the log whose tail the error carries
	}{
		{name: "success", from: "success"},
		{name: "deps", from: "deps-failure", failed: true,
			wantErr:  []string{"during build setup for demo-1.0-1.src.rpm", "No matching package to install: 'libdemo-devel >= 2.0'", "exit status 30"},
			notInErr: []string{"line 20\n"}, wantLog: "root.log"},
		{name: "build", from: "build-failure", failed: true,
			wantErr:  []string{"during rpmbuild demo-1.0-1.src.rpm", "fatal error: zlib.h", "Bad exit status"},
			notInErr: []string{"gcc -c demo13.c\n", "Complete!"}, wantLog: "build.log"},
		{name: "no logs", from: "", failed: true,
			wantErr: []string{"mock's own last line", "exit status 30"}, wantLog: "mock.log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fm := fakeMock{failed: tt.failed}
			if tt.from != "" {
				fm.from = filepath.Join("testdata", "mock-results", tt.from)
			}
			if !tt.failed {
				fm.rpms = []string{"demo-1.0-1.el9.x86_64.rpm", "demo-devel-1.0-1.el9.x86_64.rpm"}
				fm.srpm = "demo-1.0-1.el9.src.rpm"
			}
			f := fm.runner()
			m, work := newTestMock(t, f)
			job := newJob(t, "demo", fakeSRPM(t))
			job.LocalRepo = filepath.Join(work, "repo")
			res, err := m.Build(context.Background(), job)
			if len(f.Cmds()) != 1 || f.Cmds()[0].Name != "mock" {
				t.Fatalf("ran %v, want one mock command", f.Cmds())
			}
			if _, serr := os.Stat(m.ConfigPath()); serr != nil {
				t.Errorf("config not written: %v", serr)
			}
			if !tt.failed {
				if err != nil {
					t.Fatal(err)
				}
				if len(res.RPMs) != 2 || len(res.SRPMs) != 1 || filepath.Base(res.SRPMs[0]) != "demo-1.0-1.el9.src.rpm" {
					t.Errorf("result %+v", res)
				}
				for _, l := range []string{"build.log", "root.log", "state.log", "mock.log"} {
					found := false
					for _, got := range res.Logs {
						found = found || got == filepath.Join(job.LogDir, l)
					}
					if !found {
						t.Errorf("logs %v lack %s", res.Logs, l)
					}
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range tt.wantErr {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
			for _, w := range tt.notInErr {
				if strings.Contains(msg, w) {
					t.Errorf("error has %q:\n%s", w, msg)
				}
			}
			var be *BuildError
			if !errors.As(err, &be) || filepath.Base(be.Log) != tt.wantLog {
				t.Fatalf("error %#v, want a BuildError on %s", err, tt.wantLog)
			}
			if tt.wantLog != "mock.log" {
				if n := strings.Count(be.Tail, "\n") + 1; n != 40 {
					t.Errorf("tail has %d lines, want 40", n)
				}
				full, _ := os.ReadFile(be.Log)
				if !strings.HasSuffix(strings.TrimRight(string(full), "\n"), be.Tail) {
					t.Errorf("tail is not the end of %s", be.Log)
				}
			}
		})
	}
}

func TestMockBuildRefuses(t *testing.T) {
	f := fakeMock{}.runner()
	m, work := newTestMock(t, f)
	srpm := fakeSRPM(t)
	tests := []struct {
		name   string
		change func(j *Job)
		want   string
	}{
		{"other repo", func(j *Job) { j.LocalRepo = "/elsewhere/repo" }, "is not the run's"},
		{"no id", func(j *Job) { j.ID = "" }, "no ID"},
		{"slash in id", func(j *Job) { j.ID = "a/b" }, "plain file name"},
		{"missing srpm", func(j *Job) { j.SRPM = filepath.Join(work, "nope.src.rpm") }, "no such file"},
		{"bad define", func(j *Job) { j.Defines = map[string]string{"a b": "1"} }, "not a macro name"},
		{"bad bcond", func(j *Job) { j.With = []string{""} }, "not a name"},
		{"result dir not empty", func(j *Job) {
			os.MkdirAll(j.ResultDir, 0o755)
			os.WriteFile(filepath.Join(j.ResultDir, "old.rpm"), nil, 0o644)
		}, "not empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := newJob(t, "demo", srpm)
			tt.change(&job)
			_, err := m.Build(context.Background(), job)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if len(f.Cmds()) != 0 {
		t.Errorf("mock ran for invalid jobs: %v", f.Cmds())
	}
}

func TestMockBuildSRPM(t *testing.T) {
	f := fakeMock{srpm: "demo-1.0-1.el9.src.rpm", from: filepath.Join("testdata", "mock-results", "success")}.runner()
	m, _ := newTestMock(t, f)
	dir := t.TempDir()
	spec := filepath.Join(dir, "demo.spec")
	src := filepath.Join(dir, "demo-1.0.tar.gz")
	os.WriteFile(spec, []byte("Name: demo\n"), 0o644)
	os.WriteFile(src, []byte("tarball"), 0o644)
	out := filepath.Join(dir, "out")
	got, err := m.BuildSRPM(context.Background(), spec, []string{src}, out, filepath.Join(dir, "logs"))
	if err != nil {
		t.Fatal(err)
	}
	if got != filepath.Join(out, "demo-1.0-1.el9.src.rpm") {
		t.Errorf("got %s", got)
	}
	args := strings.Join(f.Cmds()[0].Args, " ")
	for _, w := range []string{"--buildsrpm", "--spec ", "/demo.spec --sources ", "-r " + m.ConfigPath()} {
		if !strings.Contains(args, w) {
			t.Errorf("argv %q lacks %q", args, w)
		}
	}
	// Two inputs with one base name cannot both be sources.
	other := filepath.Join(dir, "sub")
	os.MkdirAll(other, 0o755)
	os.WriteFile(filepath.Join(other, "demo-1.0.tar.gz"), nil, 0o644)
	if _, err := m.BuildSRPM(context.Background(), spec, []string{src, filepath.Join(other, "demo-1.0.tar.gz")}, out, dir); err == nil || !strings.Contains(err.Error(), "same name") {
		t.Errorf("duplicate source names: got %v", err)
	}
}

func TestMockDigest(t *testing.T) {
	a, _ := newTestMock(t, fakeMock{}.runner())
	b, _ := newTestMock(t, fakeMock{}.runner()) // other work directory, same definition
	if a.Digest() != b.Digest() {
		t.Error("the digest depends on the work directory")
	}
	p := loadPlatform(t, "el9-x86_64")
	p.Builder.Mock.Macros = map[string]string{"x": "1"}
	c, err := New(Options{Platform: p, WorkDir: t.TempDir(), Runner: fakeMock{}.runner()})
	if err != nil {
		t.Fatal(err)
	}
	if c.Digest() == a.Digest() {
		t.Error("a macro does not change the digest")
	}
	if a.Kind() != "mock" {
		t.Errorf("kind %s", a.Kind())
	}
}

// TestMockQuerySpec: a spec query runs rpmspec inside a chroot of its own,
// as mock's unprivileged user, and the chroot is removed even on failure.
func TestMockQuerySpec(t *testing.T) {
	f := fakeMock{}.runner()
	m, _ := newTestMock(t, f)
	spec := filepath.Join(t.TempDir(), "demo.spec")
	if err := os.WriteFile(spec, []byte("Name: demo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := m.QuerySpec(context.Background(), spec, []string{"-q", "--provides"}, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if len(f.Cmds()) != 4 {
		t.Fatalf("ran %d commands, want 4 (init, copyin, chroot, clean)", len(f.Cmds()))
	}
	var lines []string
	uniq := ""
	for _, c := range f.Cmds() {
		for i, a := range c.Args {
			if a == "--uniqueext" {
				if uniq == "" {
					uniq = c.Args[i+1]
				} else if c.Args[i+1] != uniq {
					t.Errorf("two chroots: %s and %s", uniq, c.Args[i+1])
				}
			}
		}
		q := runner.Quote(append([]string{c.Name}, c.Args...))
		q = strings.ReplaceAll(strings.ReplaceAll(q, uniq, "UNIQ"), filepath.Dir(spec), "SPECDIR")
		q = strings.ReplaceAll(q, m.ConfigPath(), "CFG")
		lines = append(lines, q)
	}
	golden(t, "mock-query-argv", []byte(strings.Join(lines, "\n")+"\n"))

	f = fakeMock{failed: true}.runner()
	m, _ = newTestMock(t, f)
	if _, err := m.QuerySpec(context.Background(), spec, []string{"-q"}, t.TempDir()); err == nil {
		t.Fatal("a failed query succeeded")
	}
	if last := f.Cmds()[len(f.Cmds())-1].Args; !slices.Contains(last, "--clean") {
		t.Errorf("the chroot was not removed after a failure: last command %q", last)
	}
}
