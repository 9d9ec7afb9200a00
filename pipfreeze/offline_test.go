package pipfreeze

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/runner"
)

func TestParseDistFilename(t *testing.T) {
	tests := []struct {
		in            string
		name, version string
		wheel, ok     bool
	}{
		{"pip-23.2.1-py3-none-any.whl", "pip", "23.2.1", true, true},
		{"charset_normalizer-3.0.1+deb.2-py3-none-any.whl", "charset-normalizer", "3.0.1+deb.2", true, true},
		{"numpy-1.26.0-1-cp311-cp311-manylinux_2_17_x86_64.whl", "numpy", "1.26.0", true, true},
		{"charset-normalizer-3.0.1.tar.gz", "charset-normalizer", "3.0.1", false, true},
		{"Six-1.16.0.zip", "six", "1.16.0", false, true},
		{"pip-23.0.1.tar.xz", "pip", "23.0.1", false, true},
		{"python-dateutil-2.8.2.tar.bz2", "python-dateutil", "2.8.2", false, true},
		{"foo-bar.whl", "", "", false, false},
		{"foo-1.0-py3.whl", "", "", false, false},
		{"foo.tar.gz", "", "", false, false},
		{"foo-bar.tar.gz", "", "", false, false},
		{"-1.0.tar.gz", "", "", false, false},
		{"ORIGIN.txt", "", "", false, false},
		{"requests_2.28.1+dfsg.orig.tar.xz", "", "", false, false},
	}
	for _, tt := range tests {
		name, version, wheel, ok := ParseDistFilename(tt.in)
		if name != tt.name || version != tt.version || wheel != tt.wheel || ok != tt.ok {
			t.Errorf("ParseDistFilename(%q) = %q %q %v %v, want %q %q %v %v", tt.in, name, version, wheel, ok, tt.name, tt.version, tt.wheel, tt.ok)
		}
	}
}

func TestScanOfflineAndChoose(t *testing.T) {
	dir := t.TempDir()
	alpha := makeWheel(t, dir, "alpha", "1.0", map[string]string{"alpha/__init__.py": ""}, nil, "")
	b1 := makeSdist(t, dir, "beta", "1.0", map[string]string{"setup.py": setupPy("beta", "1.0")})
	b2 := makeSdist(t, dir, "beta", "2.0", map[string]string{"setup.py": setupPy("beta", "2.0")})
	writeFile(t, filepath.Join(dir, "ORIGIN.txt"), "not a distribution\n")
	if err := os.Mkdir(filepath.Join(dir, "gamma-1.0.tar.gz"), 0o755); err != nil { // a directory: ignored
		t.Fatal(err)
	}
	dists, err := ScanOffline(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range dists {
		got = append(got, d.Name+" "+d.Version+" "+filepath.Base(d.Path))
	}
	want := []string{"alpha 1.0 alpha-1.0-py3-none-any.whl", "beta 1.0 beta-1.0.tar.gz", "beta 2.0 beta-2.0.tar.gz"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ScanOffline = %v, want %v", got, want)
	}
	hA, hB2 := "sha256:"+sha256File(t, alpha), "sha256:"+sha256File(t, b2)

	chosen, err := choose([]Pin{
		{Name: "alpha", Version: "1.0", Hashes: []string{h1, hA}},
		{Name: "beta", Version: "2.0", Hashes: []string{hB2}},
		{Name: "gamma", URL: "git+https://x@" + c1},
	}, dists, []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if chosen["alpha"].Path != alpha || chosen["beta"].Path != b2 || len(chosen) != 2 {
		t.Errorf("chosen %v", chosen)
	}

	// The file of beta 1.0 has another digest than the pin says.
	_, err = choose([]Pin{{Name: "beta", Version: "1.0", Hashes: []string{h2}}}, dists, []string{dir})
	var hm *HashMismatchError
	if !errors.As(err, &hm) || len(hm.Mismatches) != 1 || hm.Mismatches[0].File != b1 ||
		hm.Mismatches[0].Got != "sha256:"+sha256File(t, b1) || !reflect.DeepEqual(hm.Mismatches[0].Expected, []string{h2}) {
		t.Errorf("mismatch error %#v", err)
	}
	// A hash of another project's file does not count.
	_, err = choose([]Pin{{Name: "delta", Version: "1.0", Hashes: []string{hA}}}, dists, []string{dir})
	var me *MissingError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "delta==1.0") || !strings.Contains(err.Error(), dir) {
		t.Errorf("missing error %v", err)
	}
	_, err = choose([]Pin{{Name: "beta", Version: "3.0", Hashes: []string{h1}}}, dists, []string{dir})
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "beta==3.0 (the offline set has 1.0, 2.0)") {
		t.Errorf("missing error %v", err)
	}

	if _, err := ScanOffline(context.Background(), []string{filepath.Join(dir, "nope")}); err == nil || !strings.Contains(err.Error(), "gather-python-wheels.sh") {
		t.Errorf("missing find-links dir: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ScanOffline(ctx, []string{dir}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled scan: %v", err)
	}
}

func TestPipErrors(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	hm := parseHashMismatch(read("pip-hash-mismatch.txt"))
	want := &HashMismatchError{Mismatches: []HashMismatch{{
		Requirement: "wheel==0.38.4",
		File:        "/tmp/L/fl/wheel-0.38.4-py3-none-any.whl",
		Expected:    []string{"sha256:" + strings.Repeat("0", 64)},
		Got:         "sha256:d9f5ba91b3866f3845930531e0870436e2dd6e919787f627c0f1c16b97219a5f",
	}}}
	if !reflect.DeepEqual(hm, want) {
		t.Errorf("parseHashMismatch = %#v", hm)
	}
	if got := parseNoMatch(read("pip-no-match.txt")); !reflect.DeepEqual(got, []string{"nosuch"}) {
		t.Errorf("parseNoMatch = %v", got)
	}
	if parseHashMismatch(read("pip-no-match.txt")) != nil {
		t.Error("found a hash mismatch in a resolution failure")
	}

	// classifyPipError keeps the runner's error when it is neither.
	base := &runner.Error{Argv: []string{"python3"}, ExitCode: 1, Tail: "ERROR: something else", Err: errors.New("exit status 1")}
	if err := classifyPipError(base, nil); err != error(base) {
		t.Errorf("classify other = %v", err)
	}
	base.Tail = read("pip-hash-mismatch.txt")
	var hme *HashMismatchError
	if err := classifyPipError(base, nil); !errors.As(err, &hme) || !strings.Contains(err.Error(), "expected sha256:0000") {
		t.Errorf("classify hash = %v", err)
	}
	base.Tail = read("pip-no-match.txt")
	var me *MissingError
	if err := classifyPipError(base, []string{"/x"}); !errors.As(err, &me) || !strings.Contains(err.Error(), "not in the offline set (/x): nosuch") {
		t.Errorf("classify missing = %v", err)
	}
}

func TestFixScript(t *testing.T) {
	roots := []string{"/real/stage/root", "/stage/root"}
	body := "import sys\nfrom alpha import main\nsys.exit(main())\n"
	tests := []struct{ name, in, want string }{
		{"plain", "#!/stage/root/usr/bin/python3\n" + body, "#!/usr/bin/python3\n" + body},
		{"resolved root", "#!/real/stage/root/usr/bin/python3.11\n" + body, "#!/usr/bin/python3.11\n" + body},
		{"pip launcher", "#!/bin/sh\n'''exec' /stage/root/usr/bin/python3 \"$0\" \"$@\"\n' '''\n" + body, "#!/usr/bin/python3\n" + body},
		{"quoted launcher", "#!/bin/sh\n'''exec' \"/stage/root/usr/bin/python3\" \"$0\" \"$@\"\n' '''\n" + body, "#!/usr/bin/python3\n" + body},
		{"other root kept", "#!/other/usr/bin/python3\n" + body, "#!/other/usr/bin/python3\n" + body},
		{"root as a prefix only", "#!/stage/rootless/python3\n" + body, "#!/stage/rootless/python3\n" + body},
	}
	for _, tt := range tests {
		if got := string(fixScript([]byte(tt.in), roots)); got != tt.want {
			t.Errorf("%s: fixScript =\n%s\nwant\n%s", tt.name, got, tt.want)
		}
	}
}
