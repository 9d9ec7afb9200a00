package tests

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/rpm/rpmtest"
)

// A version holding a command substitution ends up in the ingest script
// only as data: running the script (with a fake cvmfs_server on PATH) runs
// nothing, and cvmfs_server gets the version literally in --base_dir.
func TestIngestScriptInjection(t *testing.T) {
	need(t, "sh", "gzip")
	repo := demoRepo(t)
	out := t.TempDir()
	version := "1$(touch${IFS}pwned)`touch${IFS}pwned2`'"
	mustRun(t, nil, "assemble", "--repo", repo, "--platform", "debian12-x86_64", "--name", "demo",
		"--version", version, "--workdir", filepath.Join(out, "work"), "-o", out, "--no-relocate", "demo")
	tgz := filepath.Join(out, "demo-"+version+"-debian12-x86_64.tar.gz")
	script := tgz + ".ingest.sh"
	if _, err := os.Stat(script); err != nil {
		t.Fatal(err)
	}

	bin := t.TempDir()
	fake := "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$FAKE_OUT/args\"\ncat > \"$FAKE_OUT/stdin\"\n"
	if err := os.WriteFile(filepath.Join(bin, "cvmfs_server"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, baseArg, wantBase string }{
		{"default-base-dir", "", "demo/" + version},
		{"given-base-dir", "sw/$(touch${IFS}pwned3)", "sw/$(touch${IFS}pwned3)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec, cwd := t.TempDir(), t.TempDir()
			args := []string{script, "repo.example.org"}
			if c.baseArg != "" {
				args = append(args, c.baseArg)
			}
			cmd := exec.Command("sh", args...)
			cmd.Dir = cwd
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "FAKE_OUT="+rec)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("ingest script: %v\n%s", err, b)
			}
			for _, dir := range []string{out, cwd, rec} {
				for _, p := range []string{"pwned", "pwned2", "pwned3"} {
					if _, err := os.Lstat(filepath.Join(dir, p)); err == nil {
						t.Errorf("the ingest script ran an injected command: %s exists", filepath.Join(dir, p))
					}
				}
			}
			got, err := os.ReadFile(filepath.Join(rec, "args"))
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Join([]string{"ingest", "--tar_file", "-", "--base_dir", c.wantBase, "repo.example.org"}, "\n") + "\n"
			if string(got) != want {
				t.Errorf("cvmfs_server got\n%s\nwant\n%s", got, want)
			}
			if st, err := os.Stat(filepath.Join(rec, "stdin")); err != nil || st.Size() < 1024 {
				t.Errorf("cvmfs_server got no tar stream (%v)", err)
			}
		})
	}
}

// A second run on a work directory another run holds is refused with the
// holder's pid, also while the first is assembling: the first `bundle
// assemble` is held inside its relocation stage by a patchelf that waits
// for the test, and every other command that uses the work directory is
// tried meanwhile.
func TestSecondRunRefusedDuringAssemble(t *testing.T) {
	need(t, "patchelf")
	repo := demoRepo(t)
	realPatchelf, _ := exec.LookPath("patchelf")
	gate, bin, work, out := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	// The runner gives tools a clean environment: the gate is in the script.
	fake := fmt.Sprintf("#!/bin/sh\ntouch %[1]s/entered\nwhile [ ! -e %[1]s/release ]; do sleep 0.05; done\nexec %[2]s \"$@\"\n", gate, realPatchelf)
	if err := os.WriteFile(filepath.Join(bin, "patchelf"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	assemble := []string{"assemble", "--repo", repo, "--platform", "debian12-x86_64", "--name", "demo",
		"--version", "1.0", "--workdir", work, "-o", out, "demo"}
	first := exec.Command(bundleBin(t), assemble...)
	first.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			os.WriteFile(filepath.Join(gate, "release"), nil, 0o644)
		}
	}
	defer func() {
		release()
		first.Process.Kill()
		first.Wait()
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(gate, "entered")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first assemble never reached patchelf:\n%s", firstErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A mock platform (no sandbox rootfs to make) and a source missing
	// from an empty cache, offline: were the lock not taken first, these
	// commands would fail at once on the missing source, not build.
	recipe := filepath.Join(t.TempDir(), "recipe.yaml")
	if err := os.WriteFile(recipe, []byte(`name: demo
version: "1"
platform: el9-x86_64
packages:
  - name: zlib
    spec: `+filepath.Join(repoRoot(t), "recipes", "specs", "zlib.spec")+`
    sources:
      - url: https://deb.debian.org/debian/pool/main/z/zlib/zlib_1.2.13.dfsg.orig.tar.bz2
        sha256: 71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1
`), 0o644); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("in use by bundle pid %d", first.Process.Pid)
	cache := t.TempDir()
	for _, args := range [][]string{
		assemble,
		{"build", "--workdir", work, "--offline", "--cache-dir", cache, "--no-test", recipe},
		{"build-package", "--workdir", work, "--offline", "--cache-dir", cache, recipe, "zlib"},
		{"plan", "--workdir", work, "--offline", "--cache-dir", cache, recipe},
	} {
		r := runBundle(t, nil, args...)
		if r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("bundle %s while an assemble holds the work directory: exit %d, want a refusal naming pid %d\nstderr:\n%s",
				args[0], r.code, first.Process.Pid, r.stderr)
		}
	}

	release()
	if err := first.Wait(); err != nil {
		t.Fatalf("the first assemble failed: %v\n%s", err, firstErr.String())
	}
	// Once it is done the work directory is free again.
	mustRun(t, nil, assemble...)
}

// hostileRPM builds a small package and patches its general header: patch
// gets the offset in b of each index entry, by tag, and of the data area.
func hostileRPM(t *testing.T, dir, name string, files []rpmtest.File, patch func(b []byte, entry map[uint32]int, data int)) string {
	t.Helper()
	b, err := rpmtest.Build(rpmtest.Package{Name: name, Version: "1", Release: "1", Arch: "x86_64", Files: files})
	if err != nil {
		t.Fatal(err)
	}
	off := 96 // lead, then the signature header (padded to 8 bytes)
	il, dl := int(binary.BigEndian.Uint32(b[off+8:])), int(binary.BigEndian.Uint32(b[off+12:]))
	off += 16 + 16*il + dl + (8-dl%8)%8
	il = int(binary.BigEndian.Uint32(b[off+8:]))
	entry := map[uint32]int{}
	for i := range il {
		e := off + 16 + 16*i
		entry[binary.BigEndian.Uint32(b[e:])] = e
	}
	patch(b, entry, off+16+16*il)
	path := filepath.Join(dir, name+"-1-1.x86_64.rpm")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Hostile headers are refused with a clear error before anything is
// written: index entries whose data overlap (four file tags at offset 0
// declaring 16M values each), and headers declaring more files or bytes
// than the limits.
func TestHostileHeadersRefused(t *testing.T) {
	files := []rpmtest.File{
		{Path: "/opt/d", Mode: rpmtest.TypeDir | 0o755},
		{Path: "/opt/d/a", Mode: rpmtest.TypeReg | 0o644, Data: []byte("a")},
		{Path: "/opt/d/b", Mode: rpmtest.TypeReg | 0o644, Data: []byte("b")},
	}
	set := func(b []byte, e, field int, v uint32) { binary.BigEndian.PutUint32(b[e+4*field:], v) }
	none := func([]byte, map[uint32]int, int) {}
	cases := []struct {
		name  string
		patch func(b []byte, entry map[uint32]int, data int)
		flags []string
		want  string
	}{
		{"overlapping", func(b []byte, entry map[uint32]int, _ int) {
			for _, tag := range []uint32{1116, 1117, 1118, 1030} { // DIRINDEXES, BASENAMES, DIRNAMES, FILEMODES
				set(b, entry[tag], 2, 0)
				set(b, entry[tag], 3, 0xffffff)
			}
		}, nil, "overlaps the previous entry"},
		// The header says /opt/d/b holds 3 GiB (the payload is tiny):
		// refused from the header alone.
		{"oversized", func(b []byte, entry map[uint32]int, data int) {
			sizes := data + int(binary.BigEndian.Uint32(b[entry[1028]+8:])) // FILESIZES
			binary.BigEndian.PutUint32(b[sizes+8:], 3<<30)
		}, []string{"--max-size", "2G"}, "would write 3221225473 bytes, more than the limit of 2147483648 (--max-size)"},
		{"too many files", none, []string{"--max-files", "2"}, "would write 3 entries, more than the limit of 2 (--max-files)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, out := t.TempDir(), t.TempDir()
			rpmPath := hostileRPM(t, dir, "hostile", files, c.patch)
			args := append([]string{"extract", "-C", out}, c.flags...)
			r := runBundle(t, nil, append(args, rpmPath)...)
			if r.code != 1 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("bundle extract: exit %d, want 1 with %q\nstderr:\n%s", r.code, c.want, r.stderr)
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Errorf("bundle extract wrote %d entries before refusing", len(ents))
			}
			args = append([]string{"assemble", "--repo", dir, "--platform", "debian12-x86_64", "--name", "h", "--version", "1",
				"--workdir", filepath.Join(out, "work"), "-o", out, "--no-relocate"}, c.flags...)
			r = runBundle(t, nil, args...)
			if r.code != 1 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("bundle assemble: exit %d, want 1 with %q\nstderr:\n%s", r.code, c.want, r.stderr)
			}
			if tars, _ := filepath.Glob(filepath.Join(out, "*.tar*")); len(tars) != 0 {
				t.Errorf("bundle assemble wrote %v", tars)
			}
		})
	}
}
