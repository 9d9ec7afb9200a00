package mockrun

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseStateLog(t *testing.T) {
	tests := []struct {
		name              string
		text              string
		started, finished bool
		failed            string
		stages            int
	}{
		{name: "empty"},
		{name: "success", text: readTestdata(t, "mock-results/success/state.log"), started: true, finished: true, failed: "", stages: 8},
		{name: "deps", text: readTestdata(t, "mock-results/deps-failure/state.log"), failed: "build setup for demo-1.0-1.src.rpm", stages: 4},
		{name: "build", text: readTestdata(t, "mock-results/build-failure/state.log"), started: true, failed: "rpmbuild demo-1.0-1.src.rpm", stages: 6},
		{name: "old mock, no time stamps", text: "Start: chroot init\nFinish: chroot init\nStart: rpmbuild -bb foo-1-1.src.rpm\n",
			started: true, failed: "rpmbuild -bb foo-1-1.src.rpm", stages: 2},
		{name: "bootstrap failure", text: "x - Start(bootstrap): chroot init\nx - Start(bootstrap): installing dnf tooling\n",
			failed: "installing dnf tooling (bootstrap)", stages: 2},
		{name: "bootstrap rpmbuild is not the build", text: "x - Start(bootstrap): rpmbuild foo\n", failed: "rpmbuild foo (bootstrap)", stages: 1},
		{name: "garbage", text: "Start\nFinish:\nStart(: x\nStart(a) b\n - \nStart: \n\x00\xff", stages: 0},
		{name: "CRLF", text: "t - Start: rpmbuild a.src.rpm\r\nt - Finish: rpmbuild a.src.rpm\r\n", started: true, finished: true, stages: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ParseStateLog(tt.text)
			if s.RpmbuildStarted != tt.started || s.RpmbuildFinished != tt.finished {
				t.Errorf("rpmbuild started %v finished %v, want %v %v", s.RpmbuildStarted, s.RpmbuildFinished, tt.started, tt.finished)
			}
			if got := s.Failed(); got != tt.failed {
				t.Errorf("Failed() = %q, want %q", got, tt.failed)
			}
			if len(s.Stages) != tt.stages {
				t.Errorf("%d stages, want %d: %+v", len(s.Stages), tt.stages, s.Stages)
			}
		})
	}
}

func readTestdata(t testing.TB, rel string) string {
	data, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func FuzzParseStateLog(f *testing.F) {
	for _, d := range []string{"success", "deps-failure", "build-failure"} {
		f.Add(readTestdata(f, "mock-results/"+d+"/state.log"))
	}
	f.Add("Start(x: y\nFinish(x): y\n")
	f.Fuzz(func(t *testing.T, text string) {
		s := ParseStateLog(text)
		for _, st := range s.Stages {
			if st.Name == "" {
				t.Fatalf("empty stage name from %q", text)
			}
		}
		if f := s.Failed(); f != "" {
			found := false
			for _, st := range s.Stages {
				found = found || (!st.Done && (f == st.Name || f == st.Name+" ("+st.Tag+")"))
			}
			if !found {
				t.Fatalf("Failed() = %q names no unfinished stage", f)
			}
		}
	})
}
