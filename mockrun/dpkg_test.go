package mockrun

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseDpkgStatus(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "dpkg-status"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ParseDpkgStatus(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []DebPackage{
		{Name: "base-files", Version: "12.4+deb12u15", Arch: "amd64", Provides: []string{"base"}},
		{Name: "debianutils", Version: "5.7-0.5~deb12u1", Arch: "amd64"},
		{Name: "folded-provides", Version: "2:3.4-5", Arch: "all", Provides: []string{"alpha", "beta", "gamma"}},
		{Name: "gcc-12-base", Version: "12.2.0-14+deb12u1", Arch: "amd64"},
		{Name: "mawk", Version: "1.3.4.20200120-3.1", Arch: "amd64", Provides: []string{"awk"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if list := string(formatPackageList(got)); !strings.HasPrefix(list, "base-files\t12.4+deb12u15\tamd64\ndebianutils\t") {
		t.Errorf("package list:\n%s", list)
	}
}

func TestParseDpkgStatusErrors(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"no package", "Status: install ok installed\nVersion: 1\n", "no Package field"},
		{"continuation first", " continued\n", "continuation line before any field"},
		{"not a field", "Package: a\nthis is not a field\n", "is not a field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDpkgStatus(strings.NewReader(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
	pkgs, err := ParseDpkgStatus(strings.NewReader("\n\n"))
	if err != nil || len(pkgs) != 0 {
		t.Errorf("empty status: %v %v", pkgs, err)
	}
}

func FuzzParseDpkgStatus(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "dpkg-status"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(seed))
	f.Add("Package: a\nStatus: install ok installed\nProvides: x,\n y\n\nPackage: b\n")
	f.Fuzz(func(t *testing.T, text string) {
		pkgs, err := ParseDpkgStatus(strings.NewReader(text))
		if err != nil {
			return
		}
		for i, p := range pkgs {
			if p.Name == "" {
				t.Fatalf("package without a name from %q", text)
			}
			if i > 0 && pkgs[i-1].Name > p.Name {
				t.Fatalf("not sorted: %v", pkgs)
			}
			for _, prov := range p.Provides {
				if prov == "" || strings.ContainsAny(prov, " (,") {
					t.Fatalf("provide %q from %q", prov, text)
				}
			}
		}
	})
}
