package testenv

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of the tests run")

// Update reports whether the test binary runs with -update: golden files
// are to be rewritten from what the code gives now.
func Update() bool { return *update }

// Golden compares got with the golden file at path. With -update it writes
// got there instead (making its directory). A missing golden file fails
// the test with how to create it.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if Update() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run '%s' -update creates it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("differs from %s (go test -run '%s' -update rewrites it; review the diff):\n--- got ---\n%s\n--- want ---\n%s",
			path, t.Name(), got, want)
	}
}
