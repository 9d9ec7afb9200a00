package closure

import (
	"fmt"
	"sort"
	"strings"

	"github.com/bundle-dev/bundle/bundle/rpm"
	"github.com/bundle-dev/bundle/platforms"
)

// testPlatform is a small x86_64 platform: glibc and bash are the base.
func testPlatform() *platforms.Platform {
	return &platforms.Platform{
		Name:         "test-x86_64",
		Arch:         "x86_64",
		CompatArches: []string{"noarch"},
		Base: platforms.Base{
			Packages: []string{"glibc", "bash", "libxcrypt"},
			Provides: []string{"libc.so.6*", "rtld(GNU_HASH)", "rpmlib(*)", "glibc", "bash"},
			Files:    []string{"/bin/sh", "/usr/bin/env"},
		},
	}
}

// mk builds a synthetic package from "name-[epoch:]version-release.arch"
// and lines such as "R: foo >= 1" (Requires), "P:" (Provides), "F:"
// (file), "C:" (Conflicts), "O:" (Obsoletes), "Rec:", "Sup:", "Sug:".
// Rich dependencies are written in parentheses: "R: (a or b)".
func mk(nevra string, lines ...string) *rpm.Package {
	dot := strings.LastIndexByte(nevra, '.')
	rest, arch := nevra[:dot], nevra[dot+1:]
	rel := strings.LastIndexByte(rest, '-')
	ver := strings.LastIndexByte(rest[:rel], '-')
	p := &rpm.Package{Name: rest[:ver], Arch: arch, EVR: rpm.ParseEVR(rest[ver+1:]), Path: "/repo/" + nevra + ".rpm"}
	if arch == "src" {
		p.IsSource = true
	}
	for _, l := range lines {
		kind, text, ok := strings.Cut(l, ": ")
		if !ok {
			panic("bad line " + l)
		}
		if kind == "F" {
			p.Files = append(p.Files, rpm.File{Path: text})
			continue
		}
		d := parseDep(text)
		switch kind {
		case "R":
			p.Requires = append(p.Requires, d)
		case "P":
			p.Provides = append(p.Provides, d)
		case "C":
			p.Conflicts = append(p.Conflicts, d)
		case "O":
			p.Obsoletes = append(p.Obsoletes, d)
		case "Rec":
			p.Recommends = append(p.Recommends, d)
		case "Sup":
			p.Supplements = append(p.Supplements, d)
		case "Sug":
			p.Suggests = append(p.Suggests, d)
		default:
			panic("bad kind " + kind)
		}
	}
	return p
}

func parseDep(s string) rpm.Dep {
	if rpm.IsRich(s) {
		if _, err := rpm.ParseRich(s); err != nil {
			panic(err)
		}
		return rpm.Dep{Name: s}
	}
	e, err := rpm.ParseRich("(" + s + ")")
	if err != nil || e.Op != rpm.RichAtom {
		panic(fmt.Sprintf("bad dependency %q: %v", s, err))
	}
	return e.Dep
}

// nevras lists the selected packages' NEVRAs in result order.
func nevras(res *Result) []string {
	var out []string
	for _, s := range res.Packages {
		out = append(out, s.Package.NEVRA())
	}
	return out
}

func reasonOf(res *Result, name string) []Reason {
	for _, s := range res.Packages {
		if s.Package.Name == name {
			return s.Reasons
		}
	}
	return nil
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
