package bundle

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/closure"
	"github.com/bundle-dev/bundle/bundle/relocate"
	"github.com/bundle-dev/bundle/bundle/rpm"
	"github.com/bundle-dev/bundle/platforms"
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

// The manifest is made from the stages' outputs: packages sorted with why
// each is in, every hook's pins, the last relocation report, and the
// digests (the platform's filled in when not given).
func TestNewManifestFromOutputs(t *testing.T) {
	p, err := platforms.Load("debian12-x86_64")
	if err != nil {
		t.Fatal(err)
	}
	pkg := func(name string) *rpm.Package {
		return &rpm.Package{Name: name, EVR: rpm.EVR{Version: "1", Release: "1"}, Arch: "x86_64", Path: "/host/repo/" + name + ".rpm"}
	}
	out := outputs{
		mtime: time.Unix(1767225600, 0),
		selection: &closure.Result{Packages: []closure.Selected{
			{Package: pkg("zlib"), Requested: false, Reasons: []closure.Reason{{By: "app-1-1.x86_64", Requires: "libz.so.1"}}},
			{Package: pkg("app"), Requested: true},
		}},
		hooks: []HookOutput{{Python: []PipPin{{Name: "six", Version: "1.16.0"}}}, {Relocation: &relocate.Report{}}},
	}
	o := AssembleOptions{Name: "b", Version: "1", TopDir: "b", Platform: p, RootVar: "B",
		Digests: Digests{Recipe: "r", Builder: "s"}}
	m := newManifest(o, out)
	if len(m.Packages) != 2 || m.Packages[0].Name != "app" || !m.Packages[0].Requested ||
		m.Packages[1].RPM != "zlib.rpm" || len(m.Packages[1].Why) != 1 {
		t.Errorf("packages %+v", m.Packages)
	}
	if len(m.Python) != 1 || m.Relocation == nil || m.Mtime != 1767225600 || m.RootVar != "B" {
		t.Errorf("hooks' outputs not in the manifest: %+v", m)
	}
	if m.Digests == nil || *m.Digests != (Digests{Recipe: "r", Platform: p.Digest(), Builder: "s"}) {
		t.Errorf("digests %+v", m.Digests)
	}
}
