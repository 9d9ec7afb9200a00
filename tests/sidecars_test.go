package tests

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two machines building the same inputs write the same sidecars: the same
// RPMs in repositories at different paths, assembled from different work
// and output directories, give byte-identical sidecars, none naming a path
// of the machine.
func TestSidecarsHoldNoHostPath(t *testing.T) {
	src := demoRepo(t)
	var outs []string
	for _, where := range []string{"first-machine/repo", "elsewhere/deeper/other-repo"} {
		base := t.TempDir()
		repo := filepath.Join(base, where)
		if err := os.MkdirAll(repo, 0o755); err != nil {
			t.Fatal(err)
		}
		rpms, _ := filepath.Glob(filepath.Join(src, "*.rpm"))
		for _, r := range rpms {
			data, err := os.ReadFile(r)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(repo, filepath.Base(r)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out := filepath.Join(base, "out-"+filepath.Base(where))
		mustRun(t, nil, "assemble", "--repo", repo, "--platform", "debian12-x86_64", "--name", "demo",
			"--version", "1.0", "--workdir", filepath.Join(base, "work"), "-o", out, "demo", "demo-devel")
		outs = append(outs, out)
	}
	tgz := "demo-1.0-debian12-x86_64.tar.gz"
	for _, side := range []string{".sha256", ".manifest.json", ".ingest.sh", ".spdx.json"} {
		a, err := os.ReadFile(filepath.Join(outs[0], tgz+side))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(outs[1], tgz+side))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between the two machines:\n%s\n----\n%s", side, a, b)
		}
		for _, host := range []string{os.TempDir(), "first-machine", "other-repo", repoRoot(t)} {
			if strings.Contains(string(a), host) {
				t.Errorf("%s names the host path %s", side, host)
			}
		}
	}
	if fileSHA(t, filepath.Join(outs[0], tgz)) != fileSHA(t, filepath.Join(outs[1], tgz)) {
		t.Errorf("tarballs differ")
	}
}
