package platforms

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmbeddedPlatformsLoad(t *testing.T) {
	names := Names()
	want := []string{"debian11-x86_64", "debian12-x86_64", "el7-x86_64", "el8-x86_64", "el9-x86_64"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("Names() = %v, want %v", names, want)
	}
	for _, n := range names {
		p, err := Load(n)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if p.Name != n {
			t.Errorf("%s: name %q", n, p.Name)
		}
		if !p.InBase("libc.so.6(GLIBC_2.17)(64bit)") || !p.InBase("rtld(GNU_HASH)") || !p.InBase("/bin/sh") {
			t.Errorf("%s: glibc and /bin/sh must be in the base", n)
		}
		if p.InBase("libssl.so.3()(64bit)") || p.InBase("/usr/bin/python3") {
			t.Errorf("%s: libssl and python must not be in the base", n)
		}
		if !p.Accepts("x86_64") || !p.Accepts("noarch") || p.Accepts("i686") {
			t.Errorf("%s: arch acceptance wrong", n)
		}
		if p.GlibcCeiling == "" || len(p.Base.Libraries) == 0 {
			t.Errorf("%s: no glibc ceiling or base libraries", n)
		}
	}
	if d1, d2 := mustLoad(t, "el8-x86_64").Digest(), mustLoad(t, "el9-x86_64").Digest(); d1 == d2 || len(d1) != 64 {
		t.Errorf("digests %q %q", d1, d2)
	}
}

func mustLoad(t *testing.T, n string) *Platform {
	t.Helper()
	p, err := Load(n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, ref, want string
	}{
		{"unknown name", "solaris", `"solaris" is not known`},
		{"empty ref", "", "no platform given"},
		{"missing file", filepath.Join(dir, "nope.yaml"), "no such file"},
		{"empty file", write("empty.yaml", ""), "empty file"},
		{"unknown key", write("k.yaml", "name: x\narch: x86_64\nbuilder: {kind: sandbox, sandbox: {suite: s, mirror: m}}\ncolour: red\n"), "field colour not found"},
		{"no arch", write("a.yaml", "name: x\nbuilder: {kind: sandbox, sandbox: {suite: s, mirror: m}}\n"), "arch: required"},
		{"epel base", write("e.yaml", "name: x\narch: x86_64\nbuilder: {kind: mock, mock: {base-config: rocky+epel-9-x86_64.cfg}}\n"), "EPEL"},
		{"bad builder", write("b.yaml", "name: x\narch: x86_64\nbuilder: {kind: docker}\n"), `"docker" is not a builder`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.ref)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load(%q) = %v, want an error containing %q", tt.ref, err, tt.want)
			}
		})
	}
}

func TestLoadUserFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "custom.yaml")
	os.WriteFile(p, []byte("name: custom\narch: aarch64\ncompat-arches: [noarch]\nbase:\n  provides: [\"libc.so.6*\"]\nbuilder: {kind: mock, mock: {base-config: alma-9-aarch64.cfg}}\n"), 0o644)
	got, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Arch != "aarch64" || !got.Accepts("noarch") || got.Accepts("x86_64") || !got.InBase("libc.so.6()(64bit)") {
		t.Errorf("custom platform: %+v", got)
	}
}

// glibcLibraries are the libraries glibc itself installs: the only ones a
// bundle may take from the host.
var glibcLibraries = map[string]bool{
	"libc.so.6": true, "libm.so.6": true, "libmvec.so.1": true, "libpthread.so.0": true, "libdl.so.2": true,
	"librt.so.1": true, "libresolv.so.2": true, "libutil.so.1": true, "libanl.so.1": true, "libthread_db.so.1": true,
	"libBrokenLocale.so.1": true, "ld-linux-x86-64.so.2": true, "ld-linux-aarch64.so.1": true, "ld64.so.2": true, "ld64.so.1": true,
}

// TestBaseIsGlibc: every platform's base libraries are glibc's own, and the
// closure's base and the audit's allow-list agree on them.
func TestBaseIsGlibc(t *testing.T) {
	for _, n := range Names() {
		p, err := Load(n)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range p.Base.Libraries {
			if !glibcLibraries[l] {
				t.Errorf("%s: base library %s is not glibc's: the bundle must ship it", n, l)
			}
			if !p.InBase(l + "()(64bit)") {
				t.Errorf("%s: %s is in base.libraries (the audit) but not in base.provides (the closure)", n, l)
			}
		}
		for _, cap := range []string{"libcrypt.so.1()(64bit)", "libstdc++.so.6()(64bit)", "libgcc_s.so.1()(64bit)"} {
			if p.InBase(cap) {
				t.Errorf("%s: %s must not be taken from the host", n, cap)
			}
		}
	}
}
