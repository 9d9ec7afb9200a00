package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
