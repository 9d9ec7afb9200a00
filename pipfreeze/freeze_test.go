package pipfreeze

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/runner"
)

func TestCompare(t *testing.T) {
	lock := &LockFile{Pins: []Pin{
		{Name: "charset-normalizer", Version: "3.0.1", Hashes: []string{h1}},
		{Name: "gamma", URL: "git+https://x/g.git@" + c1},
		{Name: "six", Version: "1.16.0", Hashes: []string{h2}},
	}}
	ok := []Pin{
		{Name: "Charset_Normalizer", Version: "3.0.1"},
		{Name: "gamma", URL: "git+https://x/g.git@" + c1},
		{Name: "six", Version: "1.16.0"},
	}
	tests := []struct {
		name   string
		frozen []Pin
		diffs  []string
	}{
		{"equal", ok, nil},
		{"missing", ok[:2], []string{"six==1.16.0: locked but not installed"}},
		{"extra", append(append([]Pin(nil), ok...), Pin{Name: "requests", Version: "2"}),
			[]string{"requests==2: installed but not in the lock"}},
		{"version", []Pin{ok[0], ok[1], {Name: "six", Version: "1.15"}},
			[]string{"six: the lock has 1.16.0, installed is 1.15"}},
		{"commit", []Pin{ok[0], {Name: "gamma", URL: "git+https://x/g.git@" + strings.Repeat("f", 40)}, ok[2]},
			[]string{"gamma: the lock has gamma @ git+https://x/g.git@" + c1 + ", installed is gamma @ git+https://x/g.git@" + strings.Repeat("f", 40)}},
		{"vcs installed as release", []Pin{ok[0], {Name: "gamma", Version: "0.3"}, ok[2]},
			[]string{"gamma: the lock has gamma @ git+https://x/g.git@" + c1 + ", installed is gamma==0.3"}},
		{"twice", append(append([]Pin(nil), ok...), Pin{Name: "six", Version: "1.15"}),
			[]string{"six: installed 2 times (six==1.16.0, six==1.15); the lock has six==1.16.0"}},
		{"several sorted", []Pin{{Name: "a", Version: "1"}, ok[1]}, []string{
			"a==1: installed but not in the lock",
			"charset-normalizer==3.0.1: locked but not installed",
			"six==1.16.0: locked but not installed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Compare(lock, tt.frozen)
			if tt.diffs == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var me *MismatchError
			if !errors.As(err, &me) {
				t.Fatalf("want a MismatchError, got %v", err)
			}
			if !reflect.DeepEqual(me.Differences, tt.diffs) {
				t.Errorf("differences\n got %q\nwant %q", me.Differences, tt.diffs)
			}
		})
	}
}

func TestParseFrozen(t *testing.T) {
	vcs, _ := json.Marshal(map[string]any{"url": "file:///src/g.git", "vcs_info": map[string]string{"vcs": "git", "commit_id": c1}})
	arch, _ := json.Marshal(map[string]any{"url": "https://x/d-1.tar.gz", "archive_info": map[string]string{}})
	out, _ := json.Marshal([]frozenDist{
		{Name: "Six", Version: "1.16.0"},
		{Name: "gamma", Version: "0.3", DirectURL: string(vcs)},
		{Name: "delta", Version: "1", DirectURL: string(arch)},
		{Name: "", Version: "1"},
		{Name: "Charset_Normalizer", Version: "3.0.1"},
	})
	got, err := parseFrozen(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []Pin{
		{Name: "charset-normalizer", Version: "3.0.1"},
		{Name: "delta", URL: "https://x/d-1.tar.gz"},
		{Name: "gamma", URL: "git+file:///src/g.git@" + c1},
		{Name: "six", Version: "1.16.0"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseFrozen\n got %#v\nwant %#v", got, want)
	}
	if _, err := parseFrozen([]byte("not json")); err == nil {
		t.Error("bad output accepted")
	}
	bad, _ := json.Marshal([]frozenDist{{Name: "x", Version: "1", DirectURL: "{"}})
	if _, err := parseFrozen(bad); err == nil || !strings.Contains(err.Error(), "direct_url.json") {
		t.Errorf("bad direct_url.json: %v", err)
	}
}

func TestWriteVersions(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "versions.golden"))
	if err != nil {
		t.Fatal(err)
	}
	rpms := []string{"python3-3.11.7-1.bundle.x86_64", "bash-5.1.8-6.el9.x86_64", "openssl-libs-1:3.0.7-27.el9.x86_64", "bash-5.1.8-6.el9.x86_64"}
	pins := []Pin{
		{Name: "six-extra", Version: "1.0"},
		{Name: "Six", Version: "1.16.0", Hashes: []string{h1}},
		{Name: "pip", Version: "23.2.1"},
		{Name: "gamma", URL: "git+https://example.org/gamma.git@" + c1},
		{Name: "charset_normalizer", Version: "3.0.1+deb.2"},
		{Name: "six", Version: "1.16.0"},
	}
	out := filepath.Join(t.TempDir(), "versions.txt")
	for i := 0; i < 2; i++ { // the second run replaces the file with the same bytes
		if err := WriteVersions(out, rpms, pins); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(out)
		if !bytes.Equal(got, golden) {
			t.Fatalf("versions.txt:\n%s\nwant:\n%s", got, golden)
		}
	}
	if err := WriteVersions(out, []string{"a\nb"}, nil); err == nil {
		t.Error("a multi-line NEVRA was accepted")
	}
}

// fakePip answers the interpreter inspection and plays pip's --report run
// with a canned report, recording the commands.
type fakePip struct {
	report []byte
	cmds   []runner.Cmd
}

func (f *fakePip) Run(ctx context.Context, c runner.Cmd) (runner.Result, error) {
	f.cmds = append(f.cmds, c)
	if len(c.Args) > 3 && c.Args[2] == "-c" {
		_, err := c.Stdout.Write([]byte(`{"executable": "/r/usr/bin/python3", "version": "3.11.7", "has_pip": true,
			"paths": {"purelib": "/r/p", "platlib": "/r/p", "scripts": "/r/usr/bin", "data": "/r/usr"}}`))
		return runner.Result{}, err
	}
	for i, a := range c.Args {
		if a == "--report" {
			return runner.Result{}, os.WriteFile(c.Args[i+1], f.report, 0o644)
		}
	}
	return runner.Result{}, errors.New("unexpected command")
}

// TestLockFromReport checks the command Lock runs and how it reads pip 23.0's
// report: the deprecated "hash" field, no hash at all for a local file
// (hashed by Lock), a VCS commit, a direct URL.
func TestLockFromReport(t *testing.T) {
	dir := t.TempDir()
	local := makeWheel(t, dir, "alpha", "1.0", map[string]string{"alpha/__init__.py": ""}, nil, "")
	report, _ := json.Marshal(map[string]any{
		"version": "1", "pip_version": "23.0.1",
		"environment": map[string]string{"implementation_name": "cpython", "python_full_version": "3.11.7", "sys_platform": "linux", "platform_machine": "x86_64"},
		"install": []any{
			map[string]any{"metadata": map[string]string{"name": "Alpha", "version": "1.0"},
				"download_info": map[string]any{"url": "file://" + local, "archive_info": map[string]any{}}},
			map[string]any{"metadata": map[string]string{"name": "six", "version": "1.16.0"},
				"download_info": map[string]any{"url": "file:///x/six-1.16.0.tar.gz", "archive_info": map[string]string{"hash": "sha256=" + strings.TrimPrefix(h1, "sha256:")}}},
			map[string]any{"metadata": map[string]string{"name": "gamma", "version": "0.3"}, "is_direct": true,
				"download_info": map[string]any{"url": "https://x/g.git", "vcs_info": map[string]string{"vcs": "git", "commit_id": c1, "requested_revision": "main"}}},
			map[string]any{"metadata": map[string]string{"name": "delta", "version": "2"}, "is_direct": true,
				"download_info": map[string]any{"url": "https://x/delta-2.tar.gz", "archive_info": map[string]any{"hashes": map[string]string{"sha256": strings.TrimPrefix(h2, "sha256:")}}}},
		},
	})
	req := writeFile(t, filepath.Join(dir, "requirements.txt"), "alpha\n")
	t.Setenv("PIP_FIND_LINKS", "/leaks/in")
	fake := &fakePip{report: report}
	lf, err := Lock(context.Background(), Options{Python: "/r/usr/bin/python3", FindLinks: []string{dir}, Runner: fake}, req, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []Pin{
		{Name: "alpha", Version: "1.0", Hashes: []string{"sha256:" + sha256File(t, local)}},
		{Name: "delta", URL: "https://x/delta-2.tar.gz", Hashes: []string{h2}},
		{Name: "gamma", URL: "git+https://x/g.git@" + c1},
		{Name: "six", Version: "1.16.0", Hashes: []string{h1}},
	}
	if !reflect.DeepEqual(lf.Pins, want) {
		t.Errorf("pins\n got %#v\nwant %#v", lf.Pins, want)
	}
	if !strings.Contains(strings.Join(lf.Header, "\n"), "pip 23.0.1 with cpython 3.11.7 (linux x86_64), offline") {
		t.Errorf("header %q", lf.Header)
	}
	pip := fake.cmds[len(fake.cmds)-1]
	args := strings.Join(pip.Args, " ")
	for _, w := range []string{"-I -B -m pip install --dry-run --ignore-installed --report ", "--no-index --find-links " + dir, "-r " + req} {
		if !strings.Contains(args, w) {
			t.Errorf("pip args %q lack %q", args, w)
		}
	}
	env := strings.Join(pip.Env, "\n")
	if !strings.Contains(env, "PIP_CONFIG_FILE=/dev/null") || !strings.Contains(env, "PYTHONNOUSERSITE=1") || strings.Contains(env, "/leaks/in") {
		t.Errorf("pip environment:\n%s", env)
	}

	for name, bad := range map[string]string{
		"format":   `{"version": "2", "install": []}`,
		"dir":      `{"version": "1", "install": [{"metadata": {"name": "a", "version": "1"}, "download_info": {"url": "file:///x", "dir_info": {}}}]}`,
		"no hash":  `{"version": "1", "install": [{"metadata": {"name": "a", "version": "1"}, "download_info": {"url": "https://x/a-1.tar.gz", "archive_info": {}}}]}`,
		"commit":   `{"version": "1", "install": [{"metadata": {"name": "a", "version": "1"}, "download_info": {"url": "https://x/a", "vcs_info": {"vcs": "git", "commit_id": "main"}}}]}`,
		"twice":    `{"version": "1", "install": [{"metadata": {"name": "a", "version": "1"}, "download_info": {"url": "https://x/a", "vcs_info": {"vcs": "git", "commit_id": "` + c1 + `"}}}, {"metadata": {"name": "A", "version": "1"}, "download_info": {"url": "https://x/a", "vcs_info": {"vcs": "git", "commit_id": "` + c1 + `"}}}]}`,
		"bad name": `{"version": "1", "install": [{"metadata": {"name": "a b", "version": "1"}, "download_info": {"url": "https://x/a"}}]}`,
	} {
		fake := &fakePip{report: []byte(bad)}
		if _, err := Lock(context.Background(), Options{Python: "py", FindLinks: []string{dir}, Runner: fake}, req, ""); err == nil {
			t.Errorf("%s: bad report accepted", name)
		}
	}
	if _, err := Lock(context.Background(), Options{Python: "py", Runner: fake}, req, ""); err == nil || !strings.Contains(err.Error(), "no package source") {
		t.Errorf("no source: %v", err)
	}
}

// TestLockCancelled: a cancelled lock fails and leaves no lock file behind.
func TestLockCancelled(t *testing.T) {
	dir := t.TempDir()
	req := writeFile(t, filepath.Join(dir, "requirements.txt"), "six\n")
	out := filepath.Join(dir, "requirements.lock")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Lock(ctx, Options{Python: "/bin/sh", FindLinks: []string{dir}}, req, out)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left behind: %v", entries)
	}
}
