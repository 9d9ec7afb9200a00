package mockrun

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/runner"
)

func testRun(privileged bool) sandboxRun {
	return sandboxRun{
		Lower:  []string{"/w/sandbox/j1/layer", "/cache/rootfs/abc/root"},
		Upper:  "/w/sandbox/j1/upper",
		Work:   "/w/sandbox/j1/work",
		Merged: "/w/sandbox/j1/merged",
		Binds: []bind{
			{Src: "/w/sandbox/j1/input", Dst: sbInput},
			{Src: "/w/sandbox/j1/out", Dst: sbOut, RW: true},
		},
		Privileged: privileged,
		Env:        []string{"PATH=/usr/bin:/bin", "HOME=/builddir", "EMPTY="},
		Dir:        buildHome,
		Argv:       []string{"rpmbuild", "-ra", "--nodeps", "--define", "dist .deb12", sbInput + "/x.src.rpm"},
	}
}

func TestSandboxCommandGolden(t *testing.T) {
	tests := []struct {
		name string
		run  func() sandboxRun
	}{
		{"root", func() sandboxRun { return testRun(true) }},
		{"root-cgroup", func() sandboxRun {
			r := testRun(true)
			r.Cgroup = "/sys/fs/cgroup/memory/bundle-j1"
			return r
		}},
		{"user-rlimit", func() sandboxRun {
			r := testRun(false)
			r.RlimitAS = 4 << 30
			r.Lower = r.Lower[1:]
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, args, err := tt.run().command()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "sandbox-argv-"+tt.name, []byte(runner.Quote(append([]string{name}, args...))+"\n"))
		})
	}
}

func TestSandboxCommandRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *sandboxRun)
		want   string
	}{
		{"comma", func(r *sandboxRun) { r.Upper = "/w/a,b/upper" }, "overlayfs cannot take"},
		{"colon", func(r *sandboxRun) { r.Lower[0] = "/w/a:b" }, "overlayfs cannot take"},
		{"backslash", func(r *sandboxRun) { r.Work = `/w/a\b` }, "overlayfs cannot take"},
		{"relative", func(r *sandboxRun) { r.Merged = "merged" }, "not absolute"},
		{"no lower", func(r *sandboxRun) { r.Lower = nil }, "needs lower"},
		{"no command", func(r *sandboxRun) { r.Argv = nil }, "no command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRun(true)
			tt.change(&r)
			if _, _, err := r.command(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// tree describes a file tree in code: "dir/" is a directory, "a -> b" a
// symlink, anything else a file holding its own path.
func makeTree(t *testing.T, root string, entries ...string) {
	t.Helper()
	for _, e := range entries {
		switch {
		case strings.HasSuffix(e, "/"):
			if err := os.MkdirAll(filepath.Join(root, e), 0o755); err != nil {
				t.Fatal(err)
			}
		case strings.Contains(e, " -> "):
			name, target, _ := strings.Cut(e, " -> ")
			os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755)
			if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
				t.Fatal(err)
			}
		default:
			os.MkdirAll(filepath.Dir(filepath.Join(root, e)), 0o755)
			if err := os.WriteFile(filepath.Join(root, e), []byte(e), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// listTree lists root in makeTree's notation, sorted.
func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case rel == ".":
		case info.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out = append(out, rel+" -> "+target)
		case info.IsDir():
			out = append(out, rel+"/")
		default:
			data, _ := os.ReadFile(p)
			if string(data) != rel {
				out = append(out, rel+" (content of "+string(data)+")")
			} else {
				out = append(out, rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// debianRootfs is the part of a merged-/usr Debian rootfs layerFix cares
// about.
var debianRootfs = []string{
	"usr/bin/", "usr/lib/", "usr/lib64/", "usr/sbin/", "usr/include/",
	"bin -> usr/bin", "sbin -> usr/sbin", "lib -> usr/lib", "lib64 -> usr/lib64",
	"usr/lib/x86_64-linux-gnu/", "opt/",
	"opt/abs -> /usr/lib", "opt/up -> ../../../usr/include", "opt/loop -> loop", "opt/chain -> abs",
}

func TestLayerFix(t *testing.T) {
	tests := []struct {
		name  string
		layer []string
		want  []string
		err   string
	}{
		{name: "nothing to move", layer: []string{"usr/lib64/libdemo.so.1", "usr/include/demo.h"},
			want: []string{"usr/", "usr/include/", "usr/include/demo.h", "usr/lib64/", "usr/lib64/libdemo.so.1"}},
		{name: "merged usr",
			layer: []string{"lib64/libold.so.1", "bin/tool", "usr/bin/other", "sbin/daemon", "lib/modules/x.ko"},
			want: []string{"usr/", "usr/bin/", "usr/bin/other", "usr/bin/tool (content of bin/tool)", "usr/lib/", "usr/lib/modules/",
				"usr/lib/modules/x.ko (content of lib/modules/x.ko)", "usr/lib64/", "usr/lib64/libold.so.1 (content of lib64/libold.so.1)",
				"usr/sbin/", "usr/sbin/daemon (content of sbin/daemon)"}},
		{name: "symlinks inside the layer are kept", layer: []string{"lib64/libold.so.1", "lib64/libold.so -> libold.so.1"},
			want: []string{"usr/", "usr/lib64/", "usr/lib64/libold.so -> libold.so.1", "usr/lib64/libold.so.1 (content of lib64/libold.so.1)"}},
		{name: "absolute and escaping links stay in the rootfs", layer: []string{"opt/abs/a", "opt/up/b.h", "opt/chain/c"},
			want: []string{"opt/", "usr/", "usr/include/", "usr/include/b.h (content of opt/up/b.h)", "usr/lib/",
				"usr/lib/a (content of opt/abs/a)", "usr/lib/c (content of opt/chain/c)"}},
		{name: "conflict", layer: []string{"lib64/libx.so", "usr/lib64/libx.so"}, err: "conflict"},
		{name: "loop", layer: []string{"opt/loop/x"}, err: "too many levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rootfs, layer := t.TempDir(), t.TempDir()
			makeTree(t, rootfs, debianRootfs...)
			makeTree(t, layer, tt.layer...)
			before := listTree(t, rootfs)
			err := layerFix(layer, rootfs)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := listTree(t, layer); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("layer:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if after := listTree(t, rootfs); strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Errorf("the rootfs changed")
			}
		})
	}
}

// TestLayerFixHostile gives layerFix layers a hostile package could make:
// its own symlinks where the rootfs merges a directory. Each must be a
// clean error, and nothing may appear outside the layer ("@HOST@" is a
// directory beside it standing for the host, "@HOSTREL@" its path without
// the leading slash).
func TestLayerFixHostile(t *testing.T) {
	tests := []struct {
		name  string
		layer []string
		err   string
	}{
		{"absolute symlinked directory", []string{"usr/sbin -> @HOST@", "sbin/x"}, "ships /usr/sbin as a symlink to /"},
		{"relative escaping symlink", []string{"usr/sbin -> ../../../../../../../../../@HOSTREL@", "sbin/x"}, "refusing to merge through it"},
		{"relative symlink inside the layer", []string{"usr/sbin -> ../opt/other", "opt/other/", "sbin/x"}, "refusing to merge through it"},
		{"parent is a symlink", []string{"usr -> @HOST@", "sbin/x"}, "ships /usr as a symlink"},
		{"dot-dot symlink", []string{"usr -> ..", "lib64/libx.so"}, "ships /usr as a symlink to .."},
		{"self loop", []string{"usr/sbin -> sbin", "sbin/x"}, "refusing to merge through it"},
		{"loop pair", []string{"usr/sbin -> ../usr/bin2", "usr/bin2 -> sbin", "sbin/x"}, "refusing to merge through it"},
		{"file instead of a directory", []string{"usr", "bin/tool"}, "ships /usr as a regular file"},
		{"symlink below the merge point", []string{"usr/sbin/tools -> @HOST@", "sbin/tools/x"}, "two BuildRequires packages conflict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			rootfs, layer, host := filepath.Join(base, "rootfs"), filepath.Join(base, "layer"), filepath.Join(base, "host")
			for _, d := range []string{rootfs, layer, host} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			makeTree(t, rootfs, debianRootfs...)
			var entries []string
			for _, e := range tt.layer {
				e = strings.ReplaceAll(e, "@HOSTREL@", strings.TrimPrefix(host, "/"))
				entries = append(entries, strings.ReplaceAll(e, "@HOST@", host))
			}
			makeTree(t, layer, entries...)
			before := listTree(t, rootfs)
			err := layerFix(layer, rootfs)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("got %v, want an error with %q", err, tt.err)
			}
			if got := listTree(t, host); len(got) != 0 {
				t.Errorf("the merge wrote outside the layer: %v", got)
			}
			if after := listTree(t, rootfs); strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Errorf("the rootfs changed")
			}
			if ents, _ := os.ReadDir(base); len(ents) != 3 {
				t.Errorf("the merge wrote beside the layer: %d entries in its parent", len(ents))
			}
		})
	}
}
