package tarball

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/testenv"
)

func TestIngestCommand(t *testing.T) {
	L := Literal
	cases := []struct {
		tarball      string
		repo, subdir Arg
		comp         string
		want         string
	}{
		{"demo-1.0.tar.gz", L("sw.example.org"), L("demo/1.0"), "gzip",
			"gzip -dc demo-1.0.tar.gz | cvmfs_server ingest --tar_file - --base_dir demo/1.0 sw.example.org"},
		{"demo-1.0.tar.zst", L("sw.example.org"), L("/demo/1.0"), "zstd",
			"zstd -dc demo-1.0.tar.zst | cvmfs_server ingest --tar_file - --base_dir demo/1.0 sw.example.org"},
		{"demo-1.0.tar", L("sw.example.org"), L("demo"), "none",
			"cvmfs_server ingest --tar_file demo-1.0.tar --base_dir demo sw.example.org"},
		{"demo.tar.gz", L("sw.example.org"), L(""), "",
			"gzip -dc demo.tar.gz | cvmfs_server ingest --tar_file - --base_dir / sw.example.org"},
		{"demo.tar.zst", L("r"), L("s"), "", "zstd -dc demo.tar.zst | cvmfs_server ingest --tar_file - --base_dir s r"},
		{"demo.tar", L("r"), L("s"), "bogus", "cvmfs_server ingest --tar_file demo.tar --base_dir s r"},
		{"my bundle's.tar.gz", L("r"), L("a b"), "gzip",
			`gzip -dc 'my bundle'\''s.tar.gz' | cvmfs_server ingest --tar_file - --base_dir 'a b' r`},
		{"demo.tar.gz", Var("REPO"), Var("BASE_DIR"), "gzip",
			`gzip -dc demo.tar.gz | cvmfs_server ingest --tar_file - --base_dir "$BASE_DIR" "$REPO"`},
		// Values that look like shell expressions are literals all the same.
		{"$(id)-1.tar.gz", L(`"$REPO"`), L("d/1$(touch${IFS}x)`id`"), "gzip",
			`gzip -dc '$(id)-1.tar.gz' | cvmfs_server ingest --tar_file - --base_dir 'd/1$(touch${IFS}x)` + "`id`" + `' '"$REPO"'`},
	}
	for _, c := range cases {
		if got := IngestCommand(c.tarball, c.repo, c.subdir, c.comp); got != c.want {
			t.Errorf("IngestCommand(%q, %v, %v, %q)\n got %s\nwant %s", c.tarball, c.repo, c.subdir, c.comp, got, c.want)
		}
	}
}

// The command is valid sh: run it with a fake cvmfs_server that records
// what it receives on stdin, and compare with the plain tar.
func TestIngestCommandRuns(t *testing.T) {
	sh := testenv.LookPath(t, "sh")
	for _, c := range compressions {
		t.Run(c, func(t *testing.T) {
			switch c {
			case "gzip":
				testenv.LookPath(t, "gzip")
			case "zstd":
				testenv.LookPath(t, "zstd")
			}
			dir := t.TempDir()
			res, _ := writeTree(t, smallTree(), Options{Compression: c, Out: filepath.Join(dir, "b"+suffixOf(c))})
			_, plain := writeTree(t, smallTree(), Options{Compression: "none"})
			bin := filepath.Join(dir, "bin")
			os.Mkdir(bin, 0o755)
			fake := "#!/bin/sh\n# args: ingest --tar_file F --base_dir D REPO\n" +
				"[ \"$1 $2 $4 $5 $6\" = 'ingest --tar_file --base_dir sw/1.0 repo.org' ] || { echo \"bad args: $*\" >&2; exit 2; }\n" +
				"if [ \"$3\" = - ]; then cat > got.tar; else cat \"$3\" > got.tar; fi\n"
			if err := os.WriteFile(filepath.Join(bin, "cvmfs_server"), []byte(fake), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(sh, "-c", IngestCommand(filepath.Base(res.Path), Literal("repo.org"), Literal("sw/1.0"), c))
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			got, _ := os.ReadFile(filepath.Join(dir, "got.tar"))
			if sha(got) != sha(plain) {
				t.Errorf("cvmfs_server received %d bytes that are not the plain tar (%d bytes)", len(got), len(plain))
			}
		})
	}
}

func TestWriteSHA256File(t *testing.T) {
	dir := t.TempDir()
	tarPath := filepath.Join(dir, "demo-1.0.tar.gz")
	if err := os.WriteFile(tarPath, []byte("payload"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha([]byte("payload"))
	want := sum + "  demo-1.0.tar.gz\n"
	// Given the tarball, or the checksum file itself: same result.
	for _, p := range []string{tarPath, tarPath + ".sha256"} {
		os.Remove(tarPath + ".sha256")
		if err := WriteSHA256File(p, sum); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(tarPath + ".sha256")
		if err != nil || string(got) != want {
			t.Fatalf("WriteSHA256File(%s): %q %v, want %q", p, got, err, want)
		}
		if fi, _ := os.Stat(tarPath + ".sha256"); fi.Mode().Perm() != 0o644 {
			t.Errorf("mode %v", fi.Mode())
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("stray files: %v", ents)
	}
	cmd := exec.Command(testenv.LookPath(t, "sha256sum"), "-c", "demo-1.0.tar.gz.sha256")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c: %v\n%s", err, out)
	}
	for _, bad := range []string{"", "abc", strings.ToUpper(sum), sum[:63] + "g"} {
		if err := WriteSHA256File(tarPath, bad); err == nil {
			t.Errorf("sum %q accepted", bad)
		}
	}
}
