// Package assembled is the input-keyed cache of assembled bundles. A build
// whose assemble inputs are all unchanged — every RPM of the local
// repository, the pip lock, the recipe, the platform, the bundle binary,
// the host tools assemble runs and the assemble options — restores the
// tarball and its sidecars stored under a digest of those inputs instead of
// assembling again; `bundle test` results are kept by the digest of the
// tarball they tested. Each output keeps the inputs of its last assembly so
// a build can say which input changed.
package assembled

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Inputs are everything an assembled bundle is made from.
type Inputs struct {
	// Bundle is the sha256 of the bundle executable (its version and
	// code).
	Bundle string `json:"bundle"`
	// Recipe is the sha256 of the recipe file.
	Recipe string `json:"recipe"`
	// Platform is the digest of the platform definition.
	Platform string `json:"platform"`
	// PipLock is the sha256 of the pip lock ("" without one).
	PipLock string `json:"pip_lock,omitempty"`
	// Tools are the host programs assemble runs (patchelf): name → sha256
	// of the executable.
	Tools map[string]string `json:"tools,omitempty"`
	// Options are the assemble options that shape the output (name →
	// value), build paths included.
	Options map[string]string `json:"options,omitempty"`
	// Packages are every RPM of the local repository, binary and source.
	Packages []Package `json:"packages"`
}

// Package is one RPM of the local repository.
type Package struct {
	File   string `json:"file"` // path relative to the repository
	Name   string `json:"name"`
	Arch   string `json:"arch"` // "src" for source packages
	NEVRA  string `json:"nevra"`
	SHA256 string `json:"sha256"`
}

// keyVersion changes whenever the encoding or the meaning of a key changes.
const keyVersion = "bundle-assembled-key/1"

// Key is the hex sha256 of the canonical encoding of in: the packages
// sorted by file, maps by key (encoding/json sorts them). The order in
// which packages are listed does not matter.
func Key(in Inputs) string {
	in = in.canonical()
	data, err := json.Marshal(in)
	if err != nil { // only strings and maps of strings: cannot happen
		panic(fmt.Sprintf("assembled: encode inputs: %v", err))
	}
	h := sha256.New()
	h.Write([]byte(keyVersion + "\n"))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

func (in Inputs) canonical() Inputs {
	in.Packages = slices.Clone(in.Packages)
	slices.SortFunc(in.Packages, func(a, b Package) int { return strings.Compare(a.File, b.File) })
	if len(in.Tools) == 0 {
		in.Tools = nil
	}
	if len(in.Options) == 0 {
		in.Options = nil
	}
	return in
}

// Diff says, in words, which inputs differ between old and cur: the bundle
// binary, the recipe, the platform, the pip lock, a host tool, an option,
// and each package added, removed, upgraded or rebuilt into other bytes.
// It is empty when the inputs are the same.
func Diff(old, cur Inputs) []string {
	var out []string
	digest := func(what, a, b string) {
		if a != b {
			out = append(out, fmt.Sprintf("%s changed (%s → %s)", what, short(a), short(b)))
		}
	}
	digest("bundle binary", old.Bundle, cur.Bundle)
	digest("recipe", old.Recipe, cur.Recipe)
	digest("platform", old.Platform, cur.Platform)
	digest("pip lock", old.PipLock, cur.PipLock)
	for _, k := range unionKeys(old.Tools, cur.Tools) {
		digest("host tool "+k, old.Tools[k], cur.Tools[k])
	}
	for _, k := range unionKeys(old.Options, cur.Options) {
		if a, b := old.Options[k], cur.Options[k]; a != b {
			out = append(out, fmt.Sprintf("option %s changed (%s → %s)", k, orNone(a), orNone(b)))
		}
	}
	return append(out, diffPackages(old.Packages, cur.Packages)...)
}

// diffPackages pairs the packages by file; a file gone and a file new
// with the same name and arch are one package whose version changed.
func diffPackages(old, cur []Package) []string {
	byFile := func(ps []Package) map[string]Package {
		m := make(map[string]Package, len(ps))
		for _, p := range ps {
			m[p.File] = p
		}
		return m
	}
	o, c := byFile(old), byFile(cur)
	var out []string
	var gone, added []Package
	for _, f := range unionKeys(o, c) {
		a, inOld := o[f]
		b, inCur := c[f]
		switch {
		case !inCur:
			gone = append(gone, a)
		case !inOld:
			added = append(added, b)
		case a.SHA256 != b.SHA256 || a.NEVRA != b.NEVRA:
			out = append(out, fmt.Sprintf("package %s rebuilt: sha256 %s → %s", b.NEVRA, short(a.SHA256), short(b.SHA256)))
		}
	}
	for _, b := range added {
		i := slices.IndexFunc(gone, func(a Package) bool { return a.Name == b.Name && a.Arch == b.Arch })
		if i < 0 {
			out = append(out, fmt.Sprintf("package %s added (sha256 %s)", b.NEVRA, short(b.SHA256)))
			continue
		}
		out = append(out, fmt.Sprintf("package %s.%s changed: %s → %s", b.Name, b.Arch, gone[i].NEVRA, b.NEVRA))
		gone = slices.Delete(gone, i, i+1)
	}
	for _, a := range gone {
		out = append(out, fmt.Sprintf("package %s removed", a.NEVRA))
	}
	return out
}

func unionKeys[V any](a, b map[string]V) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// short shortens a hex digest for a message; other values stay whole.
func short(s string) string {
	if len(s) == 64 && strings.Trim(s, "0123456789abcdef") == "" {
		return s[:12]
	}
	return cmp.Or(s, "none")
}

func orNone(s string) string { return cmp.Or(s, "none") }
