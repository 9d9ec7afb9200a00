package bundle

import (
	"errors"
	"log/slog"
	"testing"
)

// A stage's error names the stage once: an error that already starts with
// the stage's name keeps its message; another gets the name in front; the
// cause stays reachable, and every stage is timed.
func TestStageErrorPrefixedOnce(t *testing.T) {
	cause := errors.New("boom")
	tests := []struct {
		stage string
		err   error
		want  string
	}{
		{"extract", cause, "extract: boom"},
		{"extract", errors.Join(errors.New("extract: a.rpm: bad"), cause), "extract: a.rpm: bad\nboom"},
		{"tarball", errors.Join(errors.New("tarball /out/x.tar.gz: write: no space"), cause), "tarball /out/x.tar.gz: write: no space\nboom"},
		{"links", errors.Join(errors.New("linksfoo: x"), cause), "links: linksfoo: x\nboom"},
	}
	st := &stages{log: slog.New(slog.DiscardHandler)}
	for _, tt := range tests {
		_, err := stage(st, tt.stage, func() (int, error) { return 0, tt.err })
		if err == nil || err.Error() != tt.want || !errors.Is(err, cause) {
			t.Errorf("stage %s: %v, want %q wrapping the cause", tt.stage, err, tt.want)
		}
	}
	if v, err := stage(st, "ok", func() (int, error) { return 7, nil }); v != 7 || err != nil {
		t.Errorf("ok stage: %d %v", v, err)
	}
	if len(st.timings) != len(tests)+1 || st.timings[len(tests)].Stage != "ok" {
		t.Errorf("timings %+v", st.timings)
	}
}
