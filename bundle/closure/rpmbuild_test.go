package closure

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/testenv"
)

// buildSpecs builds testdata/specs/*.spec with rpmbuild into a fresh
// repository directory (noarch/ and x86_64/ below it).
func buildSpecs(t *testing.T) string {
	t.Helper()
	testenv.Tools(t, "rpmbuild")
	specs, err := filepath.Glob(filepath.Join("testdata", "specs", "*.spec"))
	if err != nil || len(specs) == 0 {
		t.Fatalf("no specs: %v", err)
	}
	tmp := t.TempDir()
	repo := filepath.Join(tmp, "repo")
	args := []string{"-bb", "--quiet",
		"--define", "_topdir " + filepath.Join(tmp, "top"),
		"--define", "_rpmdir " + repo,
		"--define", "_build_id_links none",
		"--define", "__os_install_post %{nil}",
	}
	for _, s := range specs {
		abs, err := filepath.Abs(s)
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, abs)
	}
	if _, err := (runner.Exec{}).Run(context.Background(), runner.Cmd{Name: "rpmbuild", Args: args, Env: runner.CleanEnv("SOURCE_DATE_EPOCH=1700000000")}); err != nil {
		t.Fatal(err)
	}
	return repo
}

// TestResolveRPMBuild resolves packages built by rpmbuild from the specs
// in testdata, from their headers and then from createrepo_c metadata.
func TestResolveRPMBuild(t *testing.T) {
	repo := buildSpecs(t)
	tests := []struct {
		weak bool
		want []string
	}{
		{false, []string{"app-1.0-1.x86_64", "helper-1.0-1.noarch", "libfoo-1.2-1.noarch", "newtool-0.5-1.noarch", "plugin-b-1.0-1.noarch"}},
		{true, []string{"app-1.0-1.x86_64", "app-docs-1.0-1.noarch", "helper-1.0-1.noarch", "libfoo-1.2-1.noarch", "newtool-0.5-1.noarch", "plugin-b-1.0-1.noarch"}},
	}
	resolveAll := func(source string) []any {
		pkgs, err := LoadRepo(context.Background(), repo, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(pkgs) != 9 {
			t.Fatalf("%s: %d packages, want the 9 built", source, len(pkgs))
		}
		var out []any
		for _, tc := range tests {
			// oldtool is asked for, newtool (which app needs) obsoletes it.
			res, err := Resolve(context.Background(), pkgs, Options{Platform: testPlatform(), Want: []string{"oldtool", "app"}, WeakDeps: tc.weak})
			if err != nil {
				t.Fatalf("%s: %v", source, err)
			}
			if got := nevras(res); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s, weak deps %v: selected %q, want %q", source, tc.weak, got, tc.want)
			}
			wantDropped := []Dropped{{NEVRA: "oldtool-1.0-1.noarch", By: "newtool-0.5-1.noarch", Obsoletes: "oldtool < 2"}}
			if !reflect.DeepEqual(res.Dropped, wantDropped) {
				t.Errorf("%s: dropped %+v", source, res.Dropped)
			}
			wantReasons := []Reason{{By: "app-1.0-1.x86_64", Requires: "/usr/bin/helper-tool"}}
			if got := reasonOf(res, "helper"); !reflect.DeepEqual(got, wantReasons) {
				t.Errorf("%s: helper reasons %+v", source, got)
			}
			// rpmbuild sorts Requires: app's "newtool" comes before "oldtool".
			wantReasons = []Reason{{Requires: "oldtool", Kind: "obsoletes"}, {By: "app-1.0-1.x86_64", Requires: "newtool"}, {By: "app-1.0-1.x86_64", Requires: "oldtool"}}
			if got := reasonOf(res, "newtool"); !reflect.DeepEqual(got, wantReasons) {
				t.Errorf("%s: newtool reasons %+v", source, got)
			}
			out = append(out, comparable(res))
		}
		return out
	}
	fromHeaders := resolveAll("headers")
	createrepo(t, repo)
	fromMetadata := resolveAll("metadata")
	if !reflect.DeepEqual(fromHeaders, fromMetadata) {
		t.Errorf("headers give\n%+v\nmetadata gives\n%+v", fromHeaders, fromMetadata)
	}
}
