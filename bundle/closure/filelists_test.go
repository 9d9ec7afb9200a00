package closure

import (
	"testing"

	"github.com/bundle-dev/bundle/bundle/rpm"
)

func TestNeedFilelists(t *testing.T) {
	pkg := func(files []string, reqs ...string) *rpm.Package {
		p := &rpm.Package{Name: "p"}
		for _, f := range files {
			p.Files = append(p.Files, rpm.File{Path: f})
		}
		for _, r := range reqs {
			p.Requires = append(p.Requires, rpm.Dep{Name: r})
		}
		return p
	}
	tests := []struct {
		name string
		pkgs []*rpm.Package
		want bool
	}{
		{"no file deps", []*rpm.Package{pkg(nil, "libc.so.6()(64bit)")}, false},
		{"bin path: primary is complete", []*rpm.Package{pkg(nil, "/bin/sh", "/usr/bin/python3")}, false},
		{"etc path", []*rpm.Package{pkg(nil, "/etc/pki/tls/cert.pem")}, false},
		{"path in the subset", []*rpm.Package{pkg([]string{"/usr/share/x"}), pkg(nil, "/usr/share/x")}, false},
		{"path outside the subset", []*rpm.Package{pkg(nil, "/usr/lib64/libfoo.so.1")}, true},
		{"rich dep with an outside path", []*rpm.Package{pkg(nil, "(foo or /usr/share/y)")}, true},
		{"rich dep with bin paths only", []*rpm.Package{pkg(nil, "(/usr/bin/a or /usr/bin/b)")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := needFilelists(tt.pkgs); got != tt.want {
				t.Errorf("needFilelists = %v, want %v", got, tt.want)
			}
		})
	}
}
