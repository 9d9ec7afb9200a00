package mockrun

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/flock"
	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/testenv"
	"github.com/bundle-dev/bundle/platforms"
)

func TestMmdebstrapArgsGolden(t *testing.T) {
	p := loadPlatform(t, "debian12-x86_64")
	tests := []struct {
		name         string
		snapshot     string
		extra        []string
		unprivileged bool
	}{
		{name: "debian12"},
		{name: "snapshot-extra-user", snapshot: "20250520T000000Z", extra: []string{"zlib1g-dev", "cmake", "rpm"}, unprivileged: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pp := *p
			sb := *p.Builder.Sandbox
			sb.Snapshot = tt.snapshot
			pp.Builder.Sandbox = &sb
			d, err := rootfsDef(&pp, tt.extra, tt.unprivileged)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "mmdebstrap-"+tt.name, []byte(runner.Quote(append([]string{"mmdebstrap"}, mmdebstrapArgs(d, "/cache/rootfs/.tmp-x/root")...))+"\n"))
		})
	}
}

func TestRootfsDef(t *testing.T) {
	p := loadPlatform(t, "debian12-x86_64")
	base, err := rootfsDef(p, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := rootfsDef(loadPlatform(t, "debian12-x86_64"), nil, false)
	if base.Digest() != again.Digest() {
		t.Error("the digest is not stable")
	}
	// Order and duplicates of packages do not matter; their set does.
	same, _ := rootfsDef(p, []string{"rpm", "bison"}, false)
	if same.Digest() != base.Digest() {
		t.Error("packages already in the platform changed the digest")
	}
	more, _ := rootfsDef(p, []string{"cmake"}, false)
	user, _ := rootfsDef(p, nil, true)
	if more.Digest() == base.Digest() || user.Digest() == base.Digest() {
		t.Error("an extra package or the unprivileged mode did not change the digest")
	}
	if base.Arch != "amd64" || base.Variant != "buildd" || base.Format != rootfsFormat {
		t.Errorf("definition %+v", base)
	}

	bad := []struct {
		name   string
		change func(p *platforms.Platform)
		extra  []string
		want   string
	}{
		{"arch", func(p *platforms.Platform) { p.Arch = "sparc" }, nil, "no Debian equivalent"},
		{"snapshot", func(p *platforms.Platform) { p.Builder.Sandbox.Snapshot = "yesterday" }, nil, "not a snapshot.debian.org timestamp"},
		{"package", func(p *platforms.Platform) {}, []string{"a,b"}, "not a Debian package name"},
		{"no sandbox", func(p *platforms.Platform) { p.Builder.Sandbox = nil }, nil, "no sandbox section"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			p := loadPlatform(t, "debian12-x86_64")
			tt.change(p)
			if _, err := rootfsDef(p, tt.extra, false); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestRootfsEnvSnapshot(t *testing.T) {
	t.Setenv("http_proxy", "http://proxy:3128")
	d := RootfsDef{Snapshot: "20250520T000000Z"}
	env := strings.Join(rootfsEnv(d), "\n")
	for _, w := range []string{"SOURCE_DATE_EPOCH=1747699200", "http_proxy=http://proxy:3128", "PATH="} {
		if !strings.Contains(env, w) {
			t.Errorf("environment lacks %s:\n%s", w, env)
		}
	}
}

// fakeMake makes a rootfs that ready() accepts.
func fakeMake(calls *atomic.Int32, delay time.Duration, fail error) func(ctx context.Context, tmp string) error {
	return func(ctx context.Context, tmp string) error {
		calls.Add(1)
		time.Sleep(delay)
		if fail != nil {
			os.WriteFile(filepath.Join(tmp, "partial"), []byte("x"), 0o644)
			return fail
		}
		if err := os.MkdirAll(filepath.Join(tmp, "root", "usr", "bin"), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(tmp, "root", "usr", "bin", "rpmbuild"), nil, 0o755)
	}
}

func TestEnsureRootfsOnce(t *testing.T) {
	d := RootfsDef{Format: rootfsFormat, Suite: "bookworm", Mirror: "http://deb.debian.org/debian", Arch: "amd64", Variant: "buildd"}
	c := rootfsCache{dir: filepath.Join(t.TempDir(), "rootfs"), digest: d.Digest()}
	var calls atomic.Int32
	var wg sync.WaitGroup
	roots := make([]string, 4)
	errs := make([]error, 4)
	for i := range roots {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			roots[i], errs[i] = ensureRootfs(context.Background(), c, d, fakeMake(&calls, 200*time.Millisecond, nil))
		}(i)
	}
	wg.Wait()
	for i := range roots {
		if errs[i] != nil || roots[i] != c.root() {
			t.Errorf("caller %d: %s, %v", i, roots[i], errs[i])
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the rootfs was made %d times, want once", n)
	}
	if _, err := os.Stat(filepath.Join(c.final(), "definition.json")); err != nil {
		t.Error(err)
	}
	// Reused afterwards without making anything.
	if _, err := ensureRootfs(context.Background(), c, d, fakeMake(&calls, 0, nil)); err != nil || calls.Load() != 1 {
		t.Errorf("reuse: %v, %d calls", err, calls.Load())
	}
}

func TestEnsureRootfsFailureLeavesNothing(t *testing.T) {
	d := RootfsDef{Format: rootfsFormat, Suite: "bookworm"}
	c := rootfsCache{dir: filepath.Join(t.TempDir(), "rootfs"), digest: d.Digest()}
	// Leftovers of an interrupted run and an incomplete rootfs.
	makeTree(t, c.dir, ".tmp-"+c.digest+"-123/root/etc/passwd", c.digest+"/root/half-made")
	var calls atomic.Int32
	boom := errors.New("mirror unreachable")
	if _, err := ensureRootfs(context.Background(), c, d, fakeMake(&calls, 0, boom)); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	ents, _ := os.ReadDir(c.dir)
	for _, e := range ents {
		if e.Name() != c.digest+".lock" {
			t.Errorf("left %s behind", e.Name())
		}
	}
	root, err := ensureRootfs(context.Background(), c, d, fakeMake(&calls, 0, nil))
	if err != nil || root != c.root() || calls.Load() != 2 {
		t.Errorf("retry: %s %v %d", root, err, calls.Load())
	}
}

func TestEnsureRootfsCancelledWait(t *testing.T) {
	d := RootfsDef{Format: rootfsFormat}
	c := rootfsCache{dir: t.TempDir(), digest: d.Digest()}
	unlock, err := flock.Lock(context.Background(), c.lockPath())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var calls atomic.Int32
	if _, err := ensureRootfs(ctx, c, d, fakeMake(&calls, 0, nil)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the deadline", err)
	}
	if calls.Load() != 0 {
		t.Error("made a rootfs without the lock")
	}
}

func TestAddBuildUser(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, "etc/")
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/bash"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\n"), 0o644)
	for i := 0; i < 2; i++ { // idempotent
		if err := addBuildUser(root, false); err != nil {
			t.Fatal(err)
		}
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	group, _ := os.ReadFile(filepath.Join(root, "etc/group"))
	if string(passwd) != "root:x:0:0:root:/root:/bin/bash\nbuilder:x:1999999:1999999:bundle build user:/builddir:/bin/sh\n" {
		t.Errorf("passwd:\n%s", passwd)
	}
	if string(group) != "root:x:0:\nbuilder:x:1999999:\n" {
		t.Errorf("group:\n%s", group)
	}
	if st, err := os.Stat(filepath.Join(root, "builddir")); err != nil || !st.IsDir() {
		t.Errorf("no home: %v", err)
	}
}

func TestSandboxDigest(t *testing.T) {
	p := loadPlatform(t, "debian12-x86_64")
	newSB := func(p *platforms.Platform, extra ...string) Builder {
		b, err := New(Options{Platform: p, WorkDir: t.TempDir(), CacheDir: t.TempDir(), ExtraPackages: extra, Runner: &testenv.FakeRunner{}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b := newSB(p), newSB(p)
	if a.Kind() != "sandbox" || a.Digest() != b.Digest() {
		t.Errorf("kind %s; digest depends on directories: %s %s", a.Kind(), a.Digest(), b.Digest())
	}
	q := *p
	q.Dist = ".other"
	if newSB(&q).Digest() == a.Digest() || newSB(p, "cmake").Digest() == a.Digest() {
		t.Error("dist or an extra package does not change the digest")
	}
}

func TestNewRefuses(t *testing.T) {
	p := loadPlatform(t, "el9-x86_64")
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no platform", Options{WorkDir: "/w"}, "no platform"},
		{"no workdir", Options{Platform: p}, "no work directory"},
		{"bad extra package", Options{Platform: p, WorkDir: "/w", ExtraPackages: []string{"a b"}}, "not a package name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}
