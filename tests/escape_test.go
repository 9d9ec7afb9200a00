package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Hostile packages: nothing a package's spec or payload says may run or
// write on the host. Each test would fail on a bundle that runs rpmspec on
// the host or merges layers through a package's symlinks.

// hostileRecipe writes a recipe of spec: packages (name → spec text; the
// specs need no sources) in dir and returns its path.
func hostileRecipe(t *testing.T, dir string, specs [][2]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("name: hostile\nversion: \"1\"\nplatform: debian12-x86_64\ndefaults:\n  jobs: 1\npackages:\n")
	for _, s := range specs {
		p := filepath.Join(dir, s[0]+".spec")
		if err := os.WriteFile(p, []byte(s[1]), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  - name: %s\n    spec: %s\n", s[0], p)
	}
	b.WriteString("output:\n  dir: out\n")
	path := filepath.Join(dir, "recipe.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// hostileSpec is a minimal noarch spec with extra preamble lines, build
// requirements and an %install/%files body.
func hostileSpec(name, preamble, install, files string) string {
	return fmt.Sprintf(`%s
Name: %s
Version: 1.0
Release: 1
Summary: hostile test package
License: MIT
BuildArch: noarch

%%description
A package of the hostile-input tests.

%%prep
%%build
%%install
%s

%%files
%s
`, preamble, name, install, files)
}

// probePath is a host path that must never appear.
func probePath(t *testing.T, what string) string {
	t.Helper()
	p := filepath.Join(os.TempDir(), fmt.Sprintf("bundle-hostile-%s-%d", what, os.Getpid()))
	os.Remove(p)
	t.Cleanup(func() { os.Remove(p) })
	return p
}

// TestSpecMacrosNeverRunOnHost: a spec whose macros run shell (%(...)) and
// Lua when it is parsed. `bundle plan` and `bundle build` parse it (SRPM,
// provides, build) but only inside the sandbox: the files those macros
// write must not appear on the host.
func TestSpecMacrosNeverRunOnHost(t *testing.T) {
	needSandbox(t)
	dir := t.TempDir()
	shellProbe, luaProbe := probePath(t, "shell"), probePath(t, "lua")
	preamble := fmt.Sprintf("%%global shellprobe %%(touch %s; echo 1)\n%%{lua: local f = io.open(%q, \"w\"); if f then f:write(\"x\"); f:close() end}",
		shellProbe, luaProbe)
	recipe := hostileRecipe(t, dir, [][2]string{
		{"macroprobe", hostileSpec("macroprobe", preamble, "mkdir -p %{buildroot}/usr/share/macroprobe\necho %{shellprobe} > %{buildroot}/usr/share/macroprobe/x", "/usr/share/macroprobe")},
	})
	work := filepath.Join(dir, "work")
	env := []string{"BUNDLE_CACHE=" + buildCache(t)}
	mustRun(t, env, "plan", "--workdir", work, recipe)
	for _, p := range []string{shellProbe, luaProbe} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("bundle plan ran the spec's macros on the host: %s exists", p)
		}
	}
	mustRun(t, env, "build", "--workdir", work, "--no-assemble", recipe)
	for _, p := range []string{shellProbe, luaProbe} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("bundle build ran the spec's macros on the host: %s exists", p)
		}
	}

	// The same spec inside a source RPM given as is: its spec is read
	// from the payload and queried in the sandbox too.
	// The source RPM the build made (in the sandbox) from the spec.
	srpms, _ := filepath.Glob(filepath.Join(work, "srpms", "macroprobe", "*", "*.src.rpm"))
	if len(srpms) != 1 {
		t.Fatalf("want the one prepared source RPM of macroprobe, found %v", srpms)
	}
	srpm := srpms[0]
	srpmRecipe := filepath.Join(dir, "srpm.yaml")
	if err := os.WriteFile(srpmRecipe, []byte("name: hostile\nversion: \"1\"\nplatform: debian12-x86_64\npackages:\n  - name: macroprobe\n    srpm:\n      path: "+srpm+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, env, "plan", "--workdir", filepath.Join(dir, "work-srpm"), srpmRecipe)
	for _, p := range []string{shellProbe, luaProbe} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("bundle plan of a source RPM ran its spec's macros on the host: %s exists", p)
		}
	}
}

// TestHostileLayerSymlink: a package ships /usr/sbin as a symlink to a host
// directory plus a file under /sbin; a later package BuildRequires it. The
// sandbox's rootfs has sbin -> usr/sbin, so merging the layer naively
// would move /sbin/x through the package's symlink onto the host. The
// build must fail with a clear error and the host directory stay empty.
func TestHostileLayerSymlink(t *testing.T) {
	needSandbox(t)
	dir := t.TempDir()
	host := filepath.Join(dir, "host-dir")
	if err := os.Mkdir(host, 0o755); err != nil {
		t.Fatal(err)
	}
	recipe := hostileRecipe(t, dir, [][2]string{
		{"evil-sbin", hostileSpec("evil-sbin", "",
			fmt.Sprintf("mkdir -p %%{buildroot}/usr %%{buildroot}/sbin\nln -s %s %%{buildroot}/usr/sbin\necho x > %%{buildroot}/sbin/x", host),
			"/usr/sbin\n/sbin/x")},
		{"plain", hostileSpec("plain", "", "mkdir -p %{buildroot}/usr/share/plain\necho y > %{buildroot}/usr/share/plain/y", "/usr/share/plain")},
		{"victim", hostileSpec("victim", "BuildRequires: evil-sbin\nBuildRequires: plain", "mkdir -p %{buildroot}/usr/share/victim\necho z > %{buildroot}/usr/share/victim/z", "/usr/share/victim")},
	})
	r := runBundle(t, []string{"BUNDLE_CACHE=" + buildCache(t)}, "build", "--workdir", filepath.Join(dir, "work"), "--no-assemble", recipe)
	ents, err := os.ReadDir(host)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Fatalf("a package's payload landed on the host: %s holds %s", host, ents[0].Name())
	}
	if r.code == 0 {
		t.Fatalf("the build of victim succeeded; want a clear error about evil-sbin's /usr/sbin symlink\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "ships /usr/sbin as a symlink to "+host) || !strings.Contains(r.stderr, "victim") {
		t.Errorf("the error does not name the package's symlink and the job:\n%s", r.stderr)
	}
}

// TestChecksNeverTouchHost: bundle test runs a recipe check that tries to
// write the host's /tmp (world-writable, so nobody could), a directory of
// the caller's, and to reach the network. The check runs in a jail: none
// of its files appear on the host and it has no network; a check that
// writes its TMPDIR still works.
func TestChecksNeverTouchHost(t *testing.T) {
	need(t, "bwrap", "setpriv")
	out := t.TempDir()
	tgz := assembleDemo(t, out, nil)
	// A work directory nobody can reach on the host too, so that the
	// only thing this test tells apart is where the check runs.
	work, err := os.MkdirTemp("", "bundle-check-work-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	if err := os.Chmod(work, 0o755); err != nil {
		t.Fatal(err)
	}
	probe := probePath(t, "check")
	mine := t.TempDir()
	if err := os.Chmod(mine, 0o777); err != nil { // even a world-writable one
		t.Fatal(err)
	}
	check := fmt.Sprintf(`touch %s; touch %s/x; echo tmp > "$TMPDIR/ok" && test -s "$TMPDIR/ok" && `+
		`! (exec 3<>/dev/tcp/1.1.1.1/53) 2>/dev/null && echo contained`, probe, mine)
	r := runBundle(t, nil, "test", "--workdir", work, "--check", "escape=bash -c '"+check+"'", "--json", tgz)
	for _, p := range []string{probe, filepath.Join(mine, "x")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("a check wrote %s on the host", p)
		}
	}
	if r.code != 0 {
		t.Fatalf("bundle test: exit %d (the check must pass: TMPDIR writable, no network)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
