package bundle

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/relocate/elfdeps"
	"github.com/bundle-dev/bundle/bundle/relocate/elfdeps/elftest"
)

func TestParseCheck(t *testing.T) {
	tests := []struct {
		in      string
		want    CheckSpec
		wantErr bool
	}{
		{in: "tls=openssl version", want: CheckSpec{Name: "tls", Run: "openssl version"}},
		{in: " x = a=b ", want: CheckSpec{Name: "x", Run: "a=b"}},
		{in: "noequals", wantErr: true},
		{in: "=cmd", wantErr: true},
		{in: "name=", wantErr: true},
		{in: "two words=cmd", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseCheck(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseCheck(%q) = %+v, %v", tt.in, got, err)
		}
	}
}

func TestRequiresString(t *testing.T) {
	r := NewRequires(elfdeps.HostNeeds{Glibc: "2.31"})
	want := "requires from the host: glibc >= 2.31; runs on Ubuntu 20.04, Debian 11, SLES 15 SP4, EL9, Ubuntu 22.04, Debian 12, EL10, Ubuntu 24.04, Debian 13"
	if got := r.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := NewRequires(elfdeps.HostNeeds{Glibc: "9.0"}).String(); !strings.HasSuffix(got, "runs on none of the known distributions") {
		t.Errorf("got %s", got)
	}
}

// TestMeasureRequires measures a tree holding a program built here and a
// library it ships: the library's needs count, its soname does not.
func TestMeasureRequires(t *testing.T) {
	root := t.TempDir()
	lib := elftest.BuildLib(t, filepath.Join(root, "usr/lib64"), elftest.Lib{Soname: "libshipped.so.1",
		Source: "#include <stdio.h>\nint shipped(void) { return puts(\"x\"); }\n"})
	elftest.BuildExe(t, filepath.Join(root, "usr/bin/prog"), "int shipped(void);\nint main(void) { return shipped(); }\n",
		"-L", filepath.Dir(lib), "-l:libshipped.so.1")
	// Not ELF, and a debug file: both ignored.
	os.WriteFile(filepath.Join(root, "usr/bin/script"), []byte("#!/bin/sh\n"), 0o755)
	os.MkdirAll(filepath.Join(root, "usr/lib/debug"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/lib/debug/x.debug"), []byte("\x7fELFjunk"), 0o644)
	r, err := MeasureRequires(context.Background(), root, 2)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.Libraries, ",") != "libc.so.6" || r.Glibc == "" || r.GLIBCXX != "" || len(r.RunsOn) == 0 {
		t.Errorf("requires %+v", r)
	}
}
