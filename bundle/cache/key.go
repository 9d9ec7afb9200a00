// Package cache keys package builds by their inputs and stores their
// output RPMs under that key. A key is a sha256 over a canonical encoding
// of everything that goes into a build (sources, defines, platform,
// builder, the exact RPMs installed as BuildRequires) and nothing that
// comes out of it, so one job's outputs cannot poison another's key.
// Entries are written atomically and verified when read; each keeps its
// inputs so `bundle plan --explain` can say what changed since the last
// build.
package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"maps"
	"slices"
	"strings"
)

// RPM is one package installed in a build root from the local repository.
type RPM struct {
	// NEVRA is name-[epoch:]version-release.arch.
	NEVRA string `json:"nevra"`
	// SHA256 is the hex digest of the package file.
	SHA256 string `json:"sha256"`
	// From is the plan node that built it, used to word "dependency X
	// rebuilt"; it is not part of the key.
	From string `json:"from,omitempty"`
}

// KeyInputs are the inputs of one build.
type KeyInputs struct {
	// Name is the plan node (package) being built.
	Name string `json:"name"`
	// SRPM is the source RPM's sha256 when building from one.
	SRPM string `json:"srpm,omitempty"`
	// Spec, Sources and Patches are the sha256 of the spec file and of
	// each source and patch (file name → digest) when building from a
	// spec.
	Spec    string            `json:"spec,omitempty"`
	Sources map[string]string `json:"sources,omitempty"`
	Patches map[string]string `json:"patches,omitempty"`
	// Defines are the rpm macros set for the build (name → value).
	Defines map[string]string `json:"defines,omitempty"`
	// Bconds are the build conditionals: true for --with, false for
	// --without.
	Bconds map[string]bool `json:"bconds,omitempty"`
	// Platform and Builder are digests of the platform definition and of
	// the builder (its configuration, build-root image, tool versions).
	Platform string `json:"platform"`
	Builder  string `json:"builder"`
	// BuildRequires are the local-repository RPMs installed in the build
	// root, in any order.
	BuildRequires []RPM `json:"build_requires,omitempty"`
}

// keyVersion changes whenever the encoding changes, so old entries are
// never matched by a different reading of the same bytes.
const keyVersion = "bundle-build-key/1"

// Key returns the hex sha256 of the canonical encoding of in: every field
// length-prefixed and tagged, map entries sorted by key, BuildRequires
// sorted (RPM.From is left out). Changing any input changes the key;
// the order of map entries or of BuildRequires does not, nor does a nil
// map versus an empty one.
func Key(in KeyInputs) string {
	h := sha256.New()
	e := encoder{h: h}
	e.str(keyVersion)
	e.field("name", in.Name)
	e.field("srpm", in.SRPM)
	e.field("spec", in.Spec)
	e.strMap("sources", in.Sources)
	e.strMap("patches", in.Patches)
	e.strMap("defines", in.Defines)
	bconds := make(map[string]string, len(in.Bconds))
	for k, v := range in.Bconds {
		bconds[k] = "without"
		if v {
			bconds[k] = "with"
		}
	}
	e.strMap("bconds", bconds)
	e.field("platform", in.Platform)
	e.field("builder", in.Builder)
	rpms := slices.Clone(in.BuildRequires)
	slices.SortFunc(rpms, func(a, b RPM) int {
		if c := strings.Compare(a.NEVRA, b.NEVRA); c != 0 {
			return c
		}
		return strings.Compare(a.SHA256, b.SHA256)
	})
	e.str("build_requires")
	e.num(len(rpms))
	for _, r := range rpms {
		e.str(r.NEVRA)
		e.str(r.SHA256)
	}
	return hex.EncodeToString(h.Sum(nil))
}

type encoder struct{ h hash.Hash }

func (e encoder) num(n int) {
	var buf [binary.MaxVarintLen64]byte
	e.h.Write(buf[:binary.PutUvarint(buf[:], uint64(n))])
}

func (e encoder) str(s string) {
	e.num(len(s))
	e.h.Write([]byte(s))
}

func (e encoder) field(tag, v string) {
	e.str(tag)
	e.str(v)
}

func (e encoder) strMap(tag string, m map[string]string) {
	e.str(tag)
	e.num(len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		e.str(k)
		e.str(m[k])
	}
}

// Diff explains why new differs from old, in a fixed order: "source
// changed" (SRPM or sources), "spec changed", "patch changed", "defines
// changed", "bconds changed", "platform changed", "builder changed", then
// per dependency (the node that built it, or the RPM name) "dependency X
// rebuilt", "dependency X added" or "dependency X removed", sorted by X.
// Equal inputs give nil. To predict before dependencies are built,
// compare with BuildRequires cleared on both sides and let plan.Explain
// propagate rebuilds.
func Diff(old, new KeyInputs) []string {
	var out []string
	add := func(changed bool, reason string) {
		if changed {
			out = append(out, reason)
		}
	}
	add(old.Name != new.Name, "package renamed from "+old.Name)
	add(old.SRPM != new.SRPM || !maps.Equal(old.Sources, new.Sources), "source changed")
	add(old.Spec != new.Spec, "spec changed")
	add(!maps.Equal(old.Patches, new.Patches), "patch changed")
	add(!maps.Equal(old.Defines, new.Defines), "defines changed")
	add(!maps.Equal(old.Bconds, new.Bconds), "bconds changed")
	add(old.Platform != new.Platform, "platform changed")
	add(old.Builder != new.Builder, "builder changed")

	before, after := byOwner(old.BuildRequires), byOwner(new.BuildRequires)
	owners := slices.Sorted(maps.Keys(after))
	for o := range before {
		if _, ok := after[o]; !ok {
			owners = append(owners, o)
		}
	}
	slices.Sort(owners)
	for _, o := range owners {
		b, inOld := before[o]
		a, inNew := after[o]
		switch {
		case !inOld:
			out = append(out, "dependency "+o+" added")
		case !inNew:
			out = append(out, "dependency "+o+" removed")
		case !slices.Equal(a, b):
			out = append(out, "dependency "+o+" rebuilt")
		}
	}
	return out
}

// byOwner groups RPMs by the node that built them (or their name), each
// group's "NEVRA sha256" sorted.
func byOwner(rpms []RPM) map[string][]string {
	m := map[string][]string{}
	for _, r := range rpms {
		o := r.From
		if o == "" {
			o = nevraName(r.NEVRA)
		}
		m[o] = append(m[o], r.NEVRA+" "+r.SHA256)
	}
	for _, v := range m {
		slices.Sort(v)
	}
	return m
}

// nevraName returns the name of "name-[epoch:]version-release.arch".
func nevraName(nevra string) string {
	s := nevra
	if i := strings.LastIndexByte(s, '.'); i > 0 {
		s = s[:i]
	}
	for range 2 {
		i := strings.LastIndexByte(s, '-')
		if i <= 0 {
			return nevra
		}
		s = s[:i]
	}
	return s
}
