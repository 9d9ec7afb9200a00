package publish

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle"
)

// makeBundle writes demo-1.0-debian12-x86_64.tar into dir with its
// sidecars: a tar of one file per package, the sha256 file, the manifest
// and an SPDX stand-in. pkgs are name=version pairs.
func makeBundle(t testing.TB, dir string, pkgs ...string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	name := "demo-1.0-debian12-x86_64.tar"
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	m := bundle.Manifest{ManifestVersion: bundle.ManifestVersion, Name: "demo", Version: "1.0", Platform: "debian12-x86_64", TopDir: "demo"}
	for _, p := range pkgs {
		n, v, _ := strings.Cut(p, "=")
		body := []byte(p + "\n")
		tw.WriteHeader(&tar.Header{Name: "demo/share/" + n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
		tw.Write(body)
		m.Packages = append(m.Packages, bundle.PackageInfo{Name: n, Arch: "noarch", NEVRA: n + "-" + v + "-1.noarch",
			SHA256: fmt.Sprintf("%x", sha256.Sum256(body))})
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	data, _ := os.ReadFile(path)
	sum := sha256.Sum256(data)
	m.Tarball = bundle.TarballInfo{File: name, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), Compression: "none"}
	mj, _ := json.Marshal(m)
	for suffix, body := range map[string]string{
		".sha256":        hex.EncodeToString(sum[:]) + "  " + name + "\n",
		".manifest.json": string(mj),
		".spdx.json":     `{"spdxVersion":"SPDX-2.3"}`,
	} {
		if err := os.WriteFile(path+suffix, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func day(d int) func() time.Time {
	return func() time.Time { return time.Date(2026, 12, d, 3, 0, 0, 0, time.UTC) }
}

// checkChannel asserts what a reader may rely on at any moment: every
// visible entry is complete, latest and the index name complete entries.
func checkChannel(t *testing.T, ch string) []string {
	t.Helper()
	des, err := os.ReadDir(ch)
	if err != nil {
		t.Fatal(err)
	}
	complete := map[string]bool{}
	var ids []string
	for _, de := range des {
		if !de.IsDir() || strings.HasPrefix(de.Name(), ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(ch, de.Name(), EntryFile))
		if err != nil {
			t.Errorf("visible entry %s is partial: %v", de.Name(), err)
			continue
		}
		var e Entry
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatal(err)
		}
		for _, f := range e.Files {
			if _, err := os.Stat(filepath.Join(ch, e.ID, f)); err != nil {
				t.Errorf("entry %s lacks %s", e.ID, f)
			}
		}
		tb, _ := os.ReadFile(filepath.Join(ch, e.ID, e.Tarball))
		if s := sha256.Sum256(tb); hex.EncodeToString(s[:]) != e.SHA256 {
			t.Errorf("entry %s: tarball digest differs from entry.json", e.ID)
		}
		complete[e.ID] = true
		ids = append(ids, e.ID)
	}
	if target, err := os.Readlink(filepath.Join(ch, LatestLink)); err == nil && !complete[target] {
		t.Errorf("latest -> %s, not a complete entry", target)
	}
	if idx, err := ReadIndex(ch); err == nil {
		if idx.Latest != "" && !complete[idx.Latest] {
			t.Errorf("index latest %s is not a complete entry", idx.Latest)
		}
		for _, e := range idx.Entries {
			if !complete[e.ID] {
				t.Errorf("index lists %s, not a complete entry", e.ID)
			}
		}
	}
	return ids
}

func TestPublishTwoEntries(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	a := makeBundle(t, filepath.Join(root, "a"), "demo=1.0", "extra=1")
	b := makeBundle(t, filepath.Join(root, "b"), "demo=1.0", "extra=2")
	to := filepath.Join(root, "pub")
	e1, err := Publish(ctx, Options{Tarball: a, Dir: to, Now: day(5)})
	if err != nil {
		t.Fatal(err)
	}
	e2, err := Publish(ctx, Options{Tarball: b, Dir: to, Now: day(5)})
	if err != nil {
		t.Fatal(err)
	}
	if e1.ID != "demo-1.0-debian12-x86_64-20261205" || e2.ID != e1.ID+".1" || e2.Seq != 2 || e2.Previous != e1.ID {
		t.Errorf("entries %+v %+v", e1, e2)
	}
	ch := filepath.Join(to, "nightly")
	checkChannel(t, ch)
	if target, _ := os.Readlink(filepath.Join(ch, LatestLink)); target != e2.ID {
		t.Errorf("latest -> %q, want %s", target, e2.ID)
	}
	idx, err := ReadIndex(ch)
	if err != nil {
		t.Fatal(err)
	}
	if idx.Latest != e2.ID || len(idx.Entries) != 2 || idx.Entries[0].ID != e2.ID {
		t.Errorf("index %+v", idx)
	}
	notes, _ := os.ReadFile(filepath.Join(ch, e2.ID, NotesFile))
	if !strings.Contains(string(notes), "| changed | extra | extra-1-1.noarch | extra-2-1.noarch |") ||
		strings.Contains(string(notes), "| demo |") {
		t.Errorf("release notes should name exactly extra:\n%s", notes)
	}
	if e2.Changes != "packages +0 -0 ~1, python +0 -0 ~0, files +0 -0 ~1, size +0" {
		t.Errorf("changes %q", e2.Changes)
	}
	for _, f := range []string{"demo-1.0-debian12-x86_64.tar.sha256", "demo-1.0-debian12-x86_64.tar.spdx.json", EntryFile, NotesFile} {
		if _, err := os.Stat(filepath.Join(ch, "latest", f)); err != nil {
			t.Errorf("latest/%s: %v", f, err)
		}
	}
	page, _ := os.ReadFile(filepath.Join(ch, IndexHTML))
	if !strings.Contains(string(page), e1.ID+"/") || !strings.Contains(string(page), e2.ID+"/RELEASE-NOTES.md") {
		t.Errorf("index.html lacks the entries:\n%s", page)
	}
	// Another day, the release channel: separate.
	e3, err := Publish(ctx, Options{Tarball: a, Dir: to, Channel: "release", Now: day(6)})
	if err != nil || e3.ID != "demo-1.0-debian12-x86_64-20261206" || e3.Seq != 1 {
		t.Errorf("release entry %+v, %v", e3, err)
	}
}

func TestPublishKeep(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	to := filepath.Join(root, "pub")
	var ids []string
	for i := 1; i <= 4; i++ {
		tb := makeBundle(t, filepath.Join(root, fmt.Sprint(i)), fmt.Sprintf("extra=%d", i))
		e, err := Publish(ctx, Options{Tarball: tb, Dir: to, Keep: 2, Now: day(i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	got := checkChannel(t, filepath.Join(to, "nightly"))
	if strings.Join(got, ",") != ids[2]+","+ids[3] {
		t.Errorf("kept %v, want the newest two of %v", got, ids)
	}
	idx, _ := ReadIndex(filepath.Join(to, "nightly"))
	if len(idx.Entries) != 2 || idx.Latest != ids[3] {
		t.Errorf("index %+v", idx)
	}
}

func TestPublishRefuses(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	damaged := makeBundle(t, filepath.Join(root, "damaged"), "x=1")
	f, _ := os.OpenFile(damaged, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte("garbage"))
	f.Close()
	other := makeBundle(t, filepath.Join(root, "other"), "x=1")
	os.WriteFile(other+".manifest.json", []byte(`{"name":"demo","tarball":{"file":"x.tar","sha256":"00"}}`), 0o644)
	nosum := makeBundle(t, filepath.Join(root, "nosum"), "x=1")
	os.Remove(nosum + ".sha256")
	good := makeBundle(t, filepath.Join(root, "good"), "x=1")
	to := filepath.Join(root, "pub")
	for name, o := range map[string]Options{
		"damaged": {Tarball: damaged, Dir: to}, "manifest of another": {Tarball: other, Dir: to},
		"no checksum": {Tarball: nosum, Dir: to}, "bad channel": {Tarball: good, Dir: to, Channel: "beta"},
		"negative keep": {Tarball: good, Dir: to, Keep: -1},
	} {
		if _, err := Publish(ctx, o); err == nil {
			t.Errorf("%s: published", name)
		}
	}
	if _, err := os.Stat(to); !os.IsNotExist(err) {
		t.Errorf("a refused publication created %s: %v", to, err)
	}
}

// Two publishers at once take turns: both entries land, numbered apart.
func TestPublishConcurrent(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	to := filepath.Join(root, "pub")
	tb := makeBundle(t, filepath.Join(root, "a"), "x=1")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Publish(ctx, Options{Tarball: tb, Dir: to, Now: day(7)})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ch := filepath.Join(to, "nightly")
	if ids := checkChannel(t, ch); len(ids) != 4 {
		t.Fatalf("entries %v", ids)
	}
	idx, _ := ReadIndex(ch)
	seen := map[int]bool{}
	for _, e := range idx.Entries {
		seen[e.Seq] = true
	}
	if len(seen) != 4 || !seen[1] || !seen[4] {
		t.Errorf("sequence numbers %v", seen)
	}
}

// The helper process: publish, and SIGKILL ourselves after the step named
// by BUNDLE_PUBLISH_KILL_AT.
func TestMain(m *testing.M) {
	if at := os.Getenv("BUNDLE_PUBLISH_KILL_AT"); at != "" {
		afterStep = func(s string) {
			if s == at {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
		_, err := Publish(context.Background(), Options{Tarball: os.Getenv("BUNDLE_PUBLISH_TARBALL"), Dir: os.Getenv("BUNDLE_PUBLISH_TO"), Keep: 2})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(3) // the step was never reached
	}
	os.Exit(m.Run())
}

// A publisher killed after any step leaves no partial entry in sight, and
// the next publisher cleans up and publishes.
func TestPublishKilledAtAnyStep(t *testing.T) {
	root := t.TempDir()
	to := filepath.Join(root, "pub")
	ch := filepath.Join(to, "nightly")
	ctx := context.Background()
	steps := []string{"copy", "copy.sha256", "copy.manifest.json", "copy.spdx.json", "staged", "renamed", "latest", "indexed"}
	for i, at := range steps {
		tb := makeBundle(t, filepath.Join(root, at), fmt.Sprintf("extra=%d", i))
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "BUNDLE_PUBLISH_KILL_AT="+at, "BUNDLE_PUBLISH_TARBALL="+tb, "BUNDLE_PUBLISH_TO="+to)
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("kill at %s: the helper was not killed: %v\n%s", at, err, out)
		}
		checkChannel(t, ch)
		before := len(checkChannel(t, ch))
		e, err := Publish(ctx, Options{Tarball: tb, Dir: to, Keep: 2})
		if err != nil {
			t.Fatalf("publish after a kill at %s: %v", at, err)
		}
		ids := checkChannel(t, ch)
		if len(ids) != min(before+1, 2) {
			t.Errorf("after a kill at %s: %d entries before, %v after", at, before, ids)
		}
		if target, _ := os.Readlink(filepath.Join(ch, LatestLink)); target != e.ID {
			t.Errorf("after a kill at %s: latest -> %s, want %s", at, target, e.ID)
		}
		des, _ := os.ReadDir(ch)
		for _, de := range des {
			if n := de.Name(); strings.HasPrefix(n, stagePrefix) || strings.HasPrefix(n, trashPrefix) || strings.HasPrefix(n, tmpPrefix) {
				t.Errorf("after a kill at %s: leftover %s", at, n)
			}
		}
	}
}
