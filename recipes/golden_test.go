package recipes

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/testenv"
)

// TestInvalidGolden loads every testdata/invalid-*.yaml and compares the
// error message with the .golden file beside it.
func TestInvalidGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid-*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid recipes in testdata: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			r, err := Load(file)
			if err == nil {
				t.Fatalf("Load succeeded (%+v); want an error", r)
			}
			got := err.Error() + "\n"
			// every line is one *Error naming the file
			for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
				if !strings.HasPrefix(line, file+":") {
					t.Errorf("message line %q does not start with %q", line, file+":")
				}
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("error is not a *Error: %T", err)
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			testenv.Golden(t, golden, []byte(got))
		})
	}
}
