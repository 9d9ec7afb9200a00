package localrepo

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/testenv"
)

// fixtures is the shared fixture directory, reached from this package.
var fixtures = filepath.Join("..", "..", "..", "shared", "fixtures")

func fixture(name string) string { return filepath.Join(fixtures, name) }

func openRepo(t *testing.T, r runner.Runner) *Repo {
	t.Helper()
	repo, err := Open(filepath.Join(t.TempDir(), "repo"), r)
	if err != nil {
		t.Fatal(err)
	}
	repo.Logger = slog.New(slog.DiscardHandler)
	return repo
}

func TestInspect(t *testing.T) {
	tests := []struct {
		file      string
		rel       string // "" = error
		buildTime int64  // from rpm -qp --qf '%{BUILDTIME}'
		err       string
	}{
		{"rpm-testsuite/hello-2.0-1.x86_64.rpm", "x86_64/hello-2.0-1.x86_64.rpm", 1227355200, ""},
		{"rpm-testsuite/hello-2.0-1.i686.rpm", "i686/hello-2.0-1.i686.rpm", 1227355200, ""},
		{"rpm-testsuite/hello-1.0-1.x86_64.rpm-v3", "x86_64/hello-1.0-1.x86_64.rpm", 1726469106, ""},
		{"rpm-testsuite/hello-1.0-1.src.rpm", "src/hello-1.0-1.src.rpm", 1715603895, ""},
		{"rpm-testsuite/foo-1.0-1.src.rpm", "src/foo-1.0-1.src.rpm", 1188456915, ""},
		{"rpm-testsuite/foo-1.0-1.noarch.rpm", "noarch/foo-1.0-1.noarch.rpm", 1725890250, ""},
		{"rpm-testsuite/imatest-1.0-1.fc34.noarch.rpm", "noarch/test-1.0-1.fc34.noarch.rpm", 1637913286, ""},
		{"rpm-testsuite/hlinktest-1.0-1.noarch-v3sig.rpm", "noarch/hlinktest-1.0-1.noarch.rpm", 1757421169, ""},
		{"rpm-testsuite/hello-2.0-1.x86_64-v3-signed.rpm", "x86_64/hello-2.0-1.x86_64.rpm", 1227355200, ""},
		{"rpm-testsuite/hello-2.0-1.x86_64-signed-mldsa87.rpm", "x86_64/hello-2.0-1.x86_64.rpm", 1227355200, ""},
		{"createrepo-testsuite/Archer-3.4.5-6.x86_64.rpm", "x86_64/Archer-3.4.5-6.x86_64.rpm", 1710742930, ""},
		{"createrepo-testsuite/empty-0-0.src.rpm", "src/empty-0-0.src.rpm", 1340696582, ""},
		{"createrepo-testsuite/empty-signed-v6-multiple-0-0.x86_64.rpm", "x86_64/empty-0-0.x86_64.rpm", 1340696582, ""},
		{"rpm-testsuite/hello-2.0-1.x86_64-corrupted.rpm", "", 0, "payload SHA-256 digest mismatch"},
		{"README.md", "", 0, "not an RPM"},
		{"rpm-testsuite", "", 0, "not a regular file"},
		{"no-such.rpm", "", 0, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			info, err := inspect(fixture(tt.file))
			if tt.rel == "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.rel != tt.rel || info.buildTime != tt.buildTime {
				t.Errorf("got %+v, want %s %d", info, tt.rel, tt.buildTime)
			}
		})
	}
	for _, f := range []string{"truncated-header.rpm", "huge-index.rpm", "not-an-rpm.rpm"} {
		if _, err := inspect(filepath.Join("testdata", f)); err == nil {
			t.Errorf("%s accepted", f)
		}
	}
}

func TestAddListRemove(t *testing.T) {
	repo := openRepo(t, &testenv.FakeRunner{})
	ctx := context.Background()
	files := []string{
		fixture("rpm-testsuite/hello-2.0-1.x86_64.rpm"),
		fixture("rpm-testsuite/hello-1.0-1.src.rpm"),
		fixture("rpm-testsuite/foo-1.0-1.noarch.rpm"),
		fixture("rpm-testsuite/hello-1.0-1.x86_64.rpm-v3"),
	}
	got, err := repo.Add(ctx, files)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"x86_64/hello-2.0-1.x86_64.rpm", "src/hello-1.0-1.src.rpm", "noarch/foo-1.0-1.noarch.rpm", "x86_64/hello-1.0-1.x86_64.rpm"}
	if !slices.Equal(got, want) {
		t.Fatalf("Add = %v, want %v", got, want)
	}
	list, err := repo.List()
	if err != nil {
		t.Fatal(err)
	}
	sorted := slices.Sorted(slices.Values(want))
	if !slices.Equal(list, sorted) {
		t.Errorf("List = %v, want %v", list, sorted)
	}
	fi, err := os.Stat(filepath.Join(repo.Dir, "x86_64", "hello-2.0-1.x86_64.rpm"))
	if err != nil || fi.ModTime().Unix() != 1227355200 || fi.Mode().Perm() != 0o644 {
		t.Errorf("added file: %v %v", fi, err)
	}
	// Nothing but packages and the lock: no temp files left.
	entries, _ := os.ReadDir(filepath.Join(repo.Dir, "x86_64"))
	if len(entries) != 2 {
		t.Errorf("x86_64 holds %d entries, want 2", len(entries))
	}

	// The same bytes again: fine, also under another file name.
	if _, err := repo.Add(ctx, files[:1]); err != nil {
		t.Errorf("re-adding an identical file: %v", err)
	}
	// A different file with the same name: refused, the original untouched.
	_, err = repo.Add(ctx, []string{fixture("rpm-testsuite/hello-2.0-1.x86_64-signed.rpm")})
	if err == nil || !strings.Contains(err.Error(), "a different x86_64/hello-2.0-1.x86_64.rpm") {
		t.Errorf("conflicting add: %v", err)
	}
	if same, _ := sameContent(files[0], filepath.Join(repo.Dir, "x86_64", "hello-2.0-1.x86_64.rpm")); !same {
		t.Error("the package in the repo was replaced")
	}
	// One bad file: nothing is added.
	_, err = repo.Add(ctx, []string{fixture("createrepo-testsuite/Archer-3.4.5-6.x86_64.rpm"), fixture("rpm-testsuite/hello-2.0-1.x86_64-corrupted.rpm")})
	if err == nil || !strings.Contains(err.Error(), "corrupted") {
		t.Errorf("add with a corrupt file: %v", err)
	}
	if l, _ := repo.List(); len(l) != 4 {
		t.Errorf("a failed Add changed the repo: %v", l)
	}

	// Remove checks every name before deleting anything.
	for _, bad := range [][]string{
		{"x86_64/hello-2.0-1.x86_64.rpm", "x86_64/missing-1-1.x86_64.rpm"},
		{"../etc/passwd.rpm"},
		{"/abs/x.rpm"},
		{"hello.rpm"},
		{"repodata/x.rpm"},
		{"x86_64/../src/hello-1.0-1.src.rpm"},
		{"x86_64/hello-2.0-1.x86_64.rpm.tmp"},
	} {
		if err := repo.Remove(ctx, bad...); err == nil {
			t.Errorf("Remove(%q) succeeded", bad)
		}
	}
	if l, _ := repo.List(); len(l) != 4 {
		t.Fatalf("a failed Remove changed the repo: %v", l)
	}
	if err := repo.Remove(ctx, "x86_64/hello-2.0-1.x86_64.rpm", "src/hello-1.0-1.src.rpm"); err != nil {
		t.Fatal(err)
	}
	list, _ = repo.List()
	if !slices.Equal(list, []string{"noarch/foo-1.0-1.noarch.rpm", "x86_64/hello-1.0-1.x86_64.rpm"}) {
		t.Errorf("after Remove: %v", list)
	}
	if _, err := os.Stat(filepath.Join(repo.Dir, fullRefreshMarker)); err != nil {
		t.Errorf("Remove did not ask for a full refresh: %v", err)
	}
}

func TestAddCancelled(t *testing.T) {
	repo := openRepo(t, &testenv.FakeRunner{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := repo.Add(ctx, []string{fixture("rpm-testsuite/hello-2.0-1.x86_64.rpm")}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	if l, _ := repo.List(); len(l) != 0 {
		t.Errorf("cancelled Add left %v", l)
	}
}

func TestRefreshCommand(t *testing.T) {
	fake := &testenv.FakeRunner{}
	repo := openRepo(t, fake)
	repo.Workers = 3
	repo.LogDir = filepath.Join(t.TempDir(), "logs")
	ctx := context.Background()
	if _, err := repo.Add(ctx, []string{
		fixture("rpm-testsuite/hello-2.0-1.x86_64.rpm"),
		fixture("createrepo-testsuite/Archer-3.4.5-6.x86_64.rpm"),
		fixture("rpm-testsuite/foo-1.0-1.src.rpm"),
	}); err != nil {
		t.Fatal(err)
	}
	// A stale work directory of a killed createrepo_c is cleared.
	os.MkdirAll(filepath.Join(repo.Dir, ".repodata", "x"), 0o755)
	if err := repo.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(repo.Dir, ".repodata")); err == nil {
		t.Error("stale .repodata kept")
	}
	want := "createrepo_c --update --workers 3 --general-compress-type=gz --checksum=sha256 --no-database " +
		"--revision 1710742930 --set-timestamp-to-revision --retain-old-md=0 --error-exit-val " + repo.Dir
	c := fake.Cmds()[0]
	if got := runner.Quote(append([]string{c.Name}, c.Args...)); got != want {
		t.Errorf("command\n got %s\nwant %s", got, want)
	}
	if c.Log != filepath.Join(repo.LogDir, "createrepo_c.log") {
		t.Errorf("log %q", c.Log)
	}

	// After a Remove the next Refresh starts over; a failure keeps it so.
	if err := repo.Remove(ctx, "x86_64/Archer-3.4.5-6.x86_64.rpm"); err != nil {
		t.Fatal(err)
	}
	fake.Func = func(runner.Cmd) error { return errors.New("boom") }
	if err := repo.Refresh(ctx); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("failing createrepo_c: %v", err)
	}
	fake.Func = nil
	if err := repo.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for i, wantUpdate := range []bool{true, false, false} {
		args := fake.Cmds()[i].Args
		if slices.Contains(args, "--update") != wantUpdate {
			t.Errorf("run %d: --update = %v, want %v", i, !wantUpdate, wantUpdate)
		}
	}
	if !slices.Contains(fake.Cmds()[2].Args, "1227355200") {
		t.Errorf("revision should follow the newest remaining package: %v", fake.Cmds()[2].Args)
	}
	if _, err := os.Stat(filepath.Join(repo.Dir, fullRefreshMarker)); err == nil {
		t.Error("marker kept after a successful full refresh")
	}
	if err := repo.Refresh(ctx); err != nil || !slices.Contains(fake.Cmds()[3].Args, "--update") {
		t.Errorf("back to --update: %v %v", err, fake.Cmds()[3].Args)
	}
}

// TestRefreshNeverOverlaps runs Refresh from many goroutines through
// separate Repo values on one directory (so only the file lock can keep
// them apart, as between processes) and from one shared Repo.
func TestRefreshNeverOverlaps(t *testing.T) {
	var mu sync.Mutex
	inFlight, most, runs := 0, 0, 0
	fake := &testenv.FakeRunner{Func: func(runner.Cmd) error {
		mu.Lock()
		inFlight++
		runs++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		return nil
	}}
	shared := openRepo(t, fake)
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := shared
			if i%2 == 0 {
				r = &Repo{Dir: shared.Dir, Runner: fake, Logger: shared.Logger}
			}
			if err := r.Refresh(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if most != 1 || runs != 12 {
		t.Errorf("%d runs, at most %d at once; want 12 runs, one at a time", runs, most)
	}

	// Waiting for the lock honours the context.
	unlock, err := shared.lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	other := &Repo{Dir: shared.Dir, Runner: fake}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := other.Refresh(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Refresh while locked: %v", err)
	}
}

func TestOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	r, err := Open(dir, nil)
	if err != nil || !filepath.IsAbs(r.Dir) {
		t.Fatalf("Open = %+v, %v", r, err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Error("Open did not create the directory")
	}
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	if _, err := Open(filepath.Join(file, "sub"), nil); err == nil {
		t.Error("Open under a file succeeded")
	}
	if err := (&Repo{}).Refresh(context.Background()); err == nil {
		t.Error("a Repo without a directory refreshed")
	}
}
