package pipfreeze

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestVenvBase(t *testing.T) {
	base := t.TempDir()
	os.MkdirAll(filepath.Join(base, "py", "bin"), 0o755)
	venv := t.TempDir()
	os.MkdirAll(filepath.Join(venv, "bin"), 0o755)
	py := filepath.Join(venv, "bin", "python3")
	if got := venvBase(py); got != nil {
		t.Errorf("a real installation (no pyvenv.cfg): %v", got)
	}
	for _, tt := range []struct {
		cfg  string
		want []string
	}{
		{"home = " + filepath.Join(base, "py", "bin") + "\ninclude-system-site-packages = false\n", []string{filepath.Join(base, "py")}},
		{"home=relative/bin\n", nil},
		{"home = /nonexistent/bin\n", nil},
		{"version = 3.11\n", nil},
	} {
		os.WriteFile(filepath.Join(venv, "pyvenv.cfg"), []byte(tt.cfg), 0o644)
		if got := venvBase(py); !slices.Equal(got, tt.want) {
			t.Errorf("pyvenv.cfg %q: got %v, want %v", tt.cfg, got, tt.want)
		}
	}
}
