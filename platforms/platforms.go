// Package platforms defines the targets a bundle is built for: the
// architecture, the dist tag, the closure's base (what every target host
// already has, where dependency resolution stops, like DIRACOS stopping at
// glibc) and the builder that rebuilds packages for it.
//
// Definitions are YAML files embedded in the binary (this folder) or given by
// path.
package platforms

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed *.yaml
var embedded embed.FS

// Platform is one target platform.
type Platform struct {
	// Name identifies the platform, e.g. "el9-x86_64".
	Name string `yaml:"name" json:"name"`
	// Description is one line for humans.
	Description string `yaml:"description" json:"description,omitempty"`
	// Arch is the binary architecture packages are built for.
	Arch string `yaml:"arch" json:"arch"`
	// CompatArches are further architectures accepted in the closure
	// (noarch). Nothing else: no i686 on x86_64.
	CompatArches []string `yaml:"compat-arches" json:"compat_arches"`
	// Dist is the %dist tag, e.g. ".el9".
	Dist string `yaml:"dist" json:"dist"`
	// GlibcCeiling is the newest GLIBC_x.y symbol version a bundled ELF may need.
	GlibcCeiling string `yaml:"glibc-ceiling" json:"glibc_ceiling"`
	// Base is what every target host provides.
	Base Base `yaml:"base" json:"base"`
	// Builder says how packages are rebuilt for this platform.
	Builder Builder `yaml:"builder" json:"builder"`
}

// Base lists the capabilities that stop the closure.
type Base struct {
	// Packages are names of packages the host has (glibc, bash, ...):
	// their Provides are never pulled into the bundle.
	Packages []string `yaml:"packages" json:"packages"`
	// Provides are capability patterns (shell globs) every host satisfies,
	// e.g. "libc.so.6*", "rtld(GNU_HASH)", "rpmlib(*)".
	Provides []string `yaml:"provides" json:"provides"`
	// Files are paths every host has (/bin/sh, /usr/bin/env).
	Files []string `yaml:"files" json:"files"`
	// Libraries are sonames an ELF in the bundle may need from the host
	// (the audit's allow-list).
	Libraries []string `yaml:"libraries" json:"libraries"`
}

// Builder selects and configures the package builder.
type Builder struct {
	// Kind is "mock" or "sandbox".
	Kind    string   `yaml:"kind" json:"kind"`
	Mock    *Mock    `yaml:"mock" json:"mock,omitempty"`
	Sandbox *Sandbox `yaml:"sandbox" json:"sandbox,omitempty"`
}

// Mock configures the mock builder.
type Mock struct {
	// BaseConfig is the distribution config the generated one includes,
	// e.g. "rocky-9-x86_64.cfg" (never an +epel one).
	BaseConfig string `yaml:"base-config" json:"base_config"`
	// Macros are extra rpm macros set in the chroot.
	Macros map[string]string `yaml:"macros" json:"macros,omitempty"`
}

// Sandbox configures the sandbox builder: rpmbuild inside a pinned rootfs.
type Sandbox struct {
	// Suite and Mirror are handed to mmdebstrap.
	Suite  string `yaml:"suite" json:"suite"`
	Mirror string `yaml:"mirror" json:"mirror"`
	// Snapshot pins the archive state (a snapshot.debian.org timestamp);
	// empty means the mirror as it is.
	Snapshot string `yaml:"snapshot" json:"snapshot,omitempty"`
	// Packages are installed in the rootfs; BuildRequires that no
	// local-repo package provides are taken to come from here.
	Packages []string `yaml:"packages" json:"packages"`
}

// Names lists the embedded platforms.
func Names() []string {
	ents, _ := embedded.ReadDir(".")
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".yaml") {
			names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
		}
	}
	sort.Strings(names)
	return names
}

// Load returns the platform named ref (an embedded name) or read from ref
// when it is a path to a YAML file.
func Load(ref string) (*Platform, error) {
	if ref == "" {
		return nil, errors.New("platform: no platform given (embedded: " + strings.Join(Names(), ", ") + ")")
	}
	if strings.ContainsAny(ref, "/\\") || strings.HasSuffix(ref, ".yaml") || strings.HasSuffix(ref, ".yml") {
		data, err := os.ReadFile(ref)
		if err != nil {
			return nil, fmt.Errorf("platform %s: %w", ref, err)
		}
		return Parse(ref, data)
	}
	data, err := embedded.ReadFile(path.Clean(ref) + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("platform %q is not known: embedded platforms are %s; or give a path to a platform file", ref, strings.Join(Names(), ", "))
	}
	return Parse(ref+" (embedded)", data)
}

// Parse decodes and validates one platform definition; unknown keys are errors.
func Parse(name string, data []byte) (*Platform, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var p Platform
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("platform %s: empty file", name)
		}
		return nil, fmt.Errorf("platform %s: %w", name, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("platform %s: %w", name, err)
	}
	return &p, nil
}

// Validate checks a platform for missing or contradictory fields.
func (p *Platform) Validate() error {
	var errs []error
	if p.Name == "" {
		errs = append(errs, errors.New("name: required"))
	}
	if p.Arch == "" {
		errs = append(errs, errors.New("arch: required (e.g. x86_64)"))
	}
	switch p.Builder.Kind {
	case "mock":
		if p.Builder.Mock == nil || p.Builder.Mock.BaseConfig == "" {
			errs = append(errs, errors.New("builder.mock.base-config: required for the mock builder"))
		} else if strings.Contains(p.Builder.Mock.BaseConfig, "epel") {
			errs = append(errs, fmt.Errorf("builder.mock.base-config: %q includes EPEL; use the plain distribution config so nothing rebuilt is shadowed", p.Builder.Mock.BaseConfig))
		}
	case "sandbox":
		if p.Builder.Sandbox == nil || p.Builder.Sandbox.Suite == "" || p.Builder.Sandbox.Mirror == "" {
			errs = append(errs, errors.New("builder.sandbox: suite and mirror are required"))
		}
	case "":
		errs = append(errs, errors.New("builder.kind: required (mock or sandbox)"))
	default:
		errs = append(errs, fmt.Errorf("builder.kind: %q is not a builder (mock or sandbox)", p.Builder.Kind))
	}
	return errors.Join(errs...)
}

// Accepts reports whether a binary package of arch belongs to this platform.
func (p *Platform) Accepts(arch string) bool {
	if arch == p.Arch {
		return true
	}
	for _, a := range p.CompatArches {
		if a == arch {
			return true
		}
	}
	return false
}

// InBase reports whether capability name is satisfied by every host.
func (p *Platform) InBase(name string) bool {
	for _, pat := range p.Base.Provides {
		if ok, _ := path.Match(pat, name); ok {
			return true
		}
	}
	if strings.HasPrefix(name, "/") {
		for _, f := range p.Base.Files {
			if f == name {
				return true
			}
		}
	}
	return false
}

// BasePackage reports whether a package of this name is part of the host base.
func (p *Platform) BasePackage(name string) bool {
	for _, b := range p.Base.Packages {
		if b == name {
			return true
		}
	}
	return false
}

// Digest is a stable hash of the definition, for cache keys.
func (p *Platform) Digest() string {
	data, _ := yaml.Marshal(p)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
