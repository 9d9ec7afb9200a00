package links

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFixNeverReadsTheHost puts host files next to the tree, at the paths
// escaping links would reach on the host, and checks that Fix reads the
// bundle's files instead and leaves the host alone.
func TestFixNeverReadsTheHost(t *testing.T) {
	parent := realTempDir(t)
	root := filepath.Join(parent, "root")
	build(t, filepath.Join(parent, "outside"), F("secret", "host secret"), F("shared", "host copy"))
	build(t, root,
		F("outside/shared", "bundle copy"),
		L("usr/x", "../../outside/secret"),
		L("usr/y", "../../outside/shared"),
		L("usr/z", "/etc/passwd"),
		L("usr/w", "../../outside"),
	)
	hostBefore := snapshot(t, filepath.Join(parent, "outside"), true)

	rep, err := Fix(context.Background(), root, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	want := norm(Report{
		Relativised: []Relink{{"/usr/w", "../../outside", "../outside"}},
		Copied:      []Copy{{"/usr/y", "../../outside/shared", "/outside/shared"}},
		Dropped: []Drop{
			{"/usr/x", "../../outside/secret", noTarget},
			{"/usr/z", "/etc/passwd", noTarget},
		},
	})
	if got, _ := json.Marshal(rep); string(got) != string(must(json.Marshal(want))) {
		t.Errorf("report = %s\nwant     %s", got, must(json.Marshal(want)))
	}
	if got, err := os.ReadFile(filepath.Join(root, "usr/y")); err != nil || string(got) != "bundle copy" {
		t.Errorf("usr/y = %q, %v; want the bundle's copy", got, err)
	}
	if hostAfter := snapshot(t, filepath.Join(parent, "outside"), true); !slices.Equal(hostBefore, hostAfter) {
		t.Errorf("host files changed:\n%s", diffLines(hostAfter, hostBefore))
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 2 {
		t.Errorf("parent of the tree holds %d entries, want outside and root", len(entries))
	}
	checkSafe(t, root)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestFixKeepsTimesAndModes checks that replacements carry the times and
// modes of what they replace or copy, and that changed directories keep
// their times.
func TestFixKeepsTimesAndModes(t *testing.T) {
	root := realTempDir(t)
	build(t, root,
		FM("opt/bin/tool", "tool", 0o755|fs.ModeSetuid),
		L("usr/bin/tool", "../../../opt/bin/tool"),
		L("usr/bin/abs", "/opt/bin/tool"),
		FM("usr/lib/a", "hard", 0o640),
		H("usr/share/b", "usr/lib/a"),
		L("usr/lib/gone", "missing"),
	)
	srcTime := time.Date(2019, 1, 2, 3, 4, 5, 600, time.UTC)
	if err := os.Chtimes(filepath.Join(root, "opt/bin/tool"), srcTime, srcTime); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(root, "usr/lib/a"), srcTime, srcTime); err != nil {
		t.Fatal(err)
	}
	if _, err := Fix(context.Background(), root, Options{Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path  string
		mode  fs.FileMode
		mtime time.Time
	}{
		{"usr/bin/tool", 0o755 | fs.ModeSetuid, srcTime},
		{"usr/share/b", 0o640, srcTime},
		{"usr/lib/a", 0o640, srcTime},
		{"usr/bin/abs", fs.ModeSymlink | 0o777, specTime},
		{".", fs.ModeDir | 0o755, specTime},
		{"usr/bin", fs.ModeDir | 0o755, specTime},
		{"usr/lib", fs.ModeDir | 0o755, specTime},
		{"usr/share", fs.ModeDir | 0o755, specTime},
	} {
		fi, err := os.Lstat(filepath.Join(root, c.path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != c.mode || !fi.ModTime().Equal(c.mtime) {
			t.Errorf("%s: mode %v mtime %v, want %v %v", c.path, fi.Mode(), fi.ModTime(), c.mode, c.mtime)
		}
		if st := fi.Sys().(*syscall.Stat_t); fi.Mode().IsRegular() && st.Nlink != 1 {
			t.Errorf("%s: nlink %d", c.path, st.Nlink)
		}
	}
}

// TestFixHardLinksToOutside checks that files sharing their inode with a
// file outside the tree are all copied and the outside file is untouched.
func TestFixHardLinksToOutside(t *testing.T) {
	parent := realTempDir(t)
	root := filepath.Join(parent, "root")
	build(t, root, D("a"), D("b"))
	outside := filepath.Join(parent, "cache-object")
	if err := os.WriteFile(outside, []byte("cached"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a/x", "b/y"} {
		if err := os.Link(outside, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Fix(context.Background(), root, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/a/x", "/b/y"}; !slices.Equal(rep.HardLinksBroken, want) {
		t.Errorf("hard links broken = %q, want %q", rep.HardLinksBroken, want)
	}
	fi, err := os.Stat(outside)
	if err != nil {
		t.Fatal(err)
	}
	if n := fi.Sys().(*syscall.Stat_t).Nlink; n != 1 {
		t.Errorf("outside file keeps %d links, want 1", n)
	}
	if got := snapshot(t, root, false); !slices.Equal(got, sortedCopy([]string{
		"d /a 0755", `f /a/x 0644 "cached"`, "d /b 0755", `f /b/y 0644 "cached"`,
	})) {
		t.Errorf("tree: %q", got)
	}
}

// TestFixMergesBrokenList checks the broken-links file byte for byte when a
// list already exists: old lines are kept, new ones merged in order, the
// file's mode is kept, and a custom name is honoured.
func TestFixMergesBrokenList(t *testing.T) {
	for _, name := range []string{"", "dangling.lst"} {
		t.Run("name="+name, func(t *testing.T) {
			file := name
			if file == "" {
				file = DefaultBrokenList
			}
			root := realTempDir(t)
			build(t, root,
				FM(file, "/zz -> gone\n/m -> old\n/usr/lib/b -> x\n", 0o600),
				L("usr/lib/b", "x"),
				L("usr/lib/a", "/nowhere"),
				L("a", "../../up"),
			)
			if _, err := Fix(context.Background(), root, Options{Logger: quiet, BrokenList: name}); err != nil {
				t.Fatal(err)
			}
			const want = "/a -> ../../up\n/m -> old\n/usr/lib/a -> /nowhere\n/usr/lib/b -> x\n/zz -> gone\n"
			got, err := os.ReadFile(filepath.Join(root, file))
			if err != nil || string(got) != want {
				t.Errorf("%s = %q, %v\nwant %q", file, got, err, want)
			}
			if fi, err := os.Stat(filepath.Join(root, file)); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s mode changed: %v %v", file, fi.Mode(), err)
			}
		})
	}
}

// TestFixRefuses covers the inputs Fix rejects without changing anything.
func TestFixRefuses(t *testing.T) {
	tree := []entry{L("usr/x", "/missing"), F("a", "a"), H("b", "a")}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name  string
		ctx   context.Context
		extra []entry
		opts  Options
		want  string
	}{
		{name: "path as list name", ctx: context.Background(), opts: Options{BrokenList: "sub/list.txt"}, want: "not a plain file name"},
		{name: "dot-dot as list name", ctx: context.Background(), opts: Options{BrokenList: ".."}, want: "not a plain file name"},
		{name: "absolute list name", ctx: context.Background(), opts: Options{BrokenList: "/tmp/x"}, want: "not a plain file name"},
		{name: "list is a directory", ctx: context.Background(), extra: []entry{D(DefaultBrokenList)}, want: "is not a regular file"},
		{name: "list is a symlink", ctx: context.Background(), extra: []entry{L(DefaultBrokenList, "a")}, want: "is not a regular file"},
		{name: "cancelled", ctx: cancelled, want: "context canceled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := realTempDir(t)
			build(t, root, append(slices.Clone(tree), c.extra...)...)
			before := snapshot(t, root, true)
			c.opts.Logger = quiet
			_, err := Fix(c.ctx, root, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
			if c.ctx == cancelled && !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v does not wrap context.Canceled", err)
			}
			if after := snapshot(t, root, true); !slices.Equal(before, after) {
				t.Errorf("tree changed:\n%s", diffLines(after, before))
			}
		})
	}
	if _, err := Fix(context.Background(), filepath.Join(t.TempDir(), "absent"), Options{Logger: quiet}); err == nil {
		t.Error("Fix of a missing directory succeeded")
	}
}

// TestReportJSON pins the JSON form of a report.
func TestReportJSON(t *testing.T) {
	root := realTempDir(t)
	build(t, root,
		F("f", "x"), H("g", "f"),
		L("abs", "/f"), L("esc", "../f"), L("loop", "loop"), L("bad", "nope"),
	)
	rep, err := Fix(context.Background(), root, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"relativised":[{"path":"/abs","target":"/f","new_target":"f"}],` +
		`"copied":[{"path":"/esc","target":"../f","source":"/f"}],` +
		`"dropped":[{"path":"/bad","target":"nope","reason":"target does not exist"},{"path":"/loop","target":"loop","reason":"symlink loop"}],` +
		`"hard_links_broken":["/g"],` +
		`"loops":[{"path":"/loop","target":"loop"}]}`
	if string(got) != want {
		t.Errorf("JSON:\n%s\nwant\n%s", got, want)
	}
	rep2, err := Fix(context.Background(), root, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(must(json.Marshal(rep2))); got != `{"relativised":[],"copied":[],"dropped":[],"hard_links_broken":[],"loops":[]}` {
		t.Errorf("second report JSON = %s", got)
	}
}

// cancelAfter is a slog handler that cancels a context at the n-th record.
type cancelAfter struct {
	n      *int
	cancel context.CancelFunc
}

func (h cancelAfter) Enabled(context.Context, slog.Level) bool { return true }
func (h cancelAfter) Handle(context.Context, slog.Record) error {
	if *h.n--; *h.n == 0 {
		h.cancel()
	}
	return nil
}
func (h cancelAfter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h cancelAfter) WithGroup(string) slog.Handler      { return h }

// TestFixInterrupted cancels Fix after each of its changes in turn and
// checks that the tree holds no temporary file and that a second run ends
// exactly where an uninterrupted run does.
func TestFixInterrupted(t *testing.T) {
	spec := []entry{
		F("usr/lib/libz.so.1.2", "z"),
		L("usr/lib/libz.so.1", "/usr/lib/libz.so.1.2"),
		L("usr/lib/gone", "/nowhere"),
		L("usr/bin/esc", "../../../opt/f"),
		F("opt/f", "f"),
		L("usr/share/d", "../../../opt"),
		L("usr/share/bad", "../bad"),
		F("a/h", "h"),
		H("b/h", "a/h"),
	}
	ref := realTempDir(t)
	build(t, ref, spec...)
	full, err := Fix(context.Background(), ref, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, ref, true)
	changes := len(full.Relativised) + len(full.Copied) + len(full.Dropped) + len(full.HardLinksBroken)
	for k := 1; k < changes; k++ {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			root := realTempDir(t)
			build(t, root, spec...)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			n := k
			_, err := Fix(ctx, root, Options{Logger: slog.New(cancelAfter{&n, cancel})})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Fix cancelled after %d changes: err = %v", k, err)
			}
			for _, l := range snapshot(t, root, false) {
				if strings.Contains(l, ".bundle-links-") {
					t.Errorf("temporary file left: %s", l)
				}
			}
			if _, err := Fix(context.Background(), root, Options{Logger: quiet}); err != nil {
				t.Fatal(err)
			}
			if got := snapshot(t, root, true); !slices.Equal(got, want) {
				t.Errorf("interrupted then resumed differs from one run:\n%s", diffLines(got, want))
			}
		})
	}
}
