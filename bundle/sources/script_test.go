package sources

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/testenv"
)

// needTool skips (or, with BUNDLE_REQUIRE_TOOLS=1, fails) when what is
// missing.
func needTool(t *testing.T, ok bool, what string) {
	t.Helper()
	if !ok {
		testenv.Skipf(t, "%s is not available", what)
	}
}

// TestFillSourceCacheScript runs recipes/fill-source-cache.sh for zlib into
// a temporary cache and checks that the Go cache reads what it wrote.
func TestFillSourceCacheScript(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads a Debian source package")
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "recipes", "fill-source-cache.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(script); err != nil {
		t.Fatal(err)
	}
	_, aptErr := exec.LookPath("apt-get")
	needTool(t, aptErr == nil, "apt-get")
	conn, netErr := net.DialTimeout("tcp", "deb.debian.org:80", 5*time.Second)
	if conn != nil {
		conn.Close()
	}
	needTool(t, netErr == nil, "network access to deb.debian.org")

	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", script, "-d", dir, "zlib")
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) == 0 || lines[0] == "" {
		t.Fatalf("no pins printed; stderr:\n%s", stderr.String())
	}
	c := &Cache{Dir: dir, Offline: true, Logger: quietLogger()}
	for _, line := range lines {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || !strings.HasPrefix(name, "zlib_") || !strings.Contains(name, ".orig.tar.") {
			t.Fatalf("unexpected output line %q", line)
		}
		obj := filepath.Join(dir, "sha256", sum[:2], sum)
		if got, err := hashFile(ctx, obj); err != nil || got != sum {
			t.Fatalf("%s: digest %s, %v", obj, got, err)
		}
		if fi, err := os.Stat(obj); err != nil || fi.Mode().Perm() != 0o444 {
			t.Errorf("%s: %v %v", obj, fi.Mode(), err)
		}
		if target, err := filepath.EvalSymlinks(filepath.Join(dir, "by-name", name)); err != nil || target != obj {
			t.Errorf("by-name/%s -> %s, %v", name, target, err)
		}
		// The Go cache finds the file offline by its pin.
		p, err := c.Fetch(ctx, Source{URL: "https://deb.debian.org/debian/pool/main/z/zlib/" + name, SHA256: sum})
		if err != nil || p != obj {
			t.Errorf("Fetch after the script: %s, %v", p, err)
		}
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(tmp) != 0 {
		t.Errorf("the script left temp files: %v", tmp)
	}
}
