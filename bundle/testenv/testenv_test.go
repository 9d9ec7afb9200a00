package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Skipf in a child test process: skipped without the variable, failed with
// it.
func TestSkipf(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		Tools(t, "sh")
		Exists(t, "/definitely/not/here")
		t.Log("not reached")
		return
	}
	for _, c := range []struct {
		required string
		fail     bool
	}{{"", false}, {"0", false}, {"1", true}} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestSkipf$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", Var+"="+c.required)
		out, err := cmd.CombinedOutput()
		failed := err != nil
		if failed != c.fail || strings.Contains(string(out), "not reached") {
			t.Errorf("%s=%q: failed=%v, want %v\n%s", Var, c.required, failed, c.fail, out)
		}
		if !c.fail && !strings.Contains(string(out), "--- SKIP") {
			t.Errorf("%s=%q: not skipped\n%s", Var, c.required, out)
		}
	}
}
