package elfdeps

import (
	"path"
	"slices"
	"strings"
)

// HostNeeds is what a set of ELF files (a bundle) needs from the machine it
// runs on: the libraries none of the files provides, and the newest symbol
// version of each kind needed from them. Versions needed from a library the
// set itself provides do not count: the bundle brings them.
type HostNeeds struct {
	// Libraries are the sonames needed and not provided by the set, sorted.
	Libraries []string `json:"libraries"`
	// Glibc, GLIBCXX and CXXABI are the newest GLIBC_x.y, GLIBCXX_x.y.z and
	// CXXABI_x.y.z needed from those libraries, without the prefix ("" when
	// none is needed).
	Glibc   string `json:"glibc,omitempty"`
	GLIBCXX string `json:"glibcxx,omitempty"`
	CXXABI  string `json:"cxxabi,omitempty"`
	// GlibcPrivate reports a need of GLIBC_PRIVATE, which ties a file to
	// the exact glibc it was built against.
	GlibcPrivate bool `json:"glibc_private,omitempty"`
	// By names, for each of Glibc, GLIBCXX and CXXABI, one file needing
	// that newest version (the first in the order given), so a report can
	// say what to rebuild.
	By map[string]string `json:"by,omitempty"`
}

// ComputeHostNeeds returns what the files need from the host. names are the
// files' paths, parallel to infos (only used for HostNeeds.By). A file's
// own name counts as a soname it provides, as the loader finds a library
// by its file name.
func ComputeHostNeeds(names []string, infos []*Info) HostNeeds {
	provided := map[string]bool{}
	for i, info := range infos {
		if info.Soname != "" {
			provided[info.Soname] = true
		}
		provided[path.Base(names[i])] = true
	}
	var h HostNeeds
	libs := map[string]bool{}
	for i, info := range infos {
		for _, n := range info.Needed {
			if !provided[n] {
				libs[n] = true
			}
		}
		for lib, versions := range info.VersionsFrom {
			if provided[lib] {
				continue
			}
			for _, v := range versions {
				if v == "GLIBC_PRIVATE" {
					h.GlibcPrivate = true
					continue
				}
				for _, k := range []struct {
					prefix string
					dst    *string
				}{{"GLIBC_", &h.Glibc}, {"GLIBCXX_", &h.GLIBCXX}, {"CXXABI_", &h.CXXABI}} {
					n, ok := strings.CutPrefix(v, k.prefix)
					if !ok || !IsVersion(n) {
						continue
					}
					if *k.dst == "" || CompareVersions(n, *k.dst) > 0 {
						*k.dst = n
						if h.By == nil {
							h.By = map[string]string{}
						}
						h.By[strings.TrimSuffix(k.prefix, "_")] = names[i]
					}
				}
			}
		}
	}
	for l := range libs {
		h.Libraries = append(h.Libraries, l)
	}
	slices.Sort(h.Libraries)
	return h
}
