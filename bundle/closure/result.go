package closure

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/bundle-dev/bundle/bundle/rpm"
	"github.com/bundle-dev/bundle/platforms"
	"log/slog"
)

// Options steer Resolve.
type Options struct {
	// Platform is the target: only binary packages of its arch and compat
	// arches are candidates (no i686 on x86_64), and what its base
	// provides (capabilities, files, whole packages) stops the closure.
	// Required.
	Platform *platforms.Platform
	// Want are the packages asked for, by name. An entry that names no
	// package is resolved as a capability ("python3dist(numpy)",
	// "/usr/bin/python3", "foo >= 1.2", a rich dependency), which suits
	// BuildRequires. Empty means every binary package of the platform's
	// arches that is not part of its base.
	Want []string
	// Ignore are capability patterns (shell globs, as path.Match) the
	// recipe declares satisfied: requirements matching one are not
	// followed.
	Ignore []string
	// WeakDeps follows Recommends (when they can be satisfied) and
	// Supplements (of packages whose supplemented capability is selected).
	// Suggests and Enhances are never followed.
	WeakDeps bool
	// MissingOK reports unresolved requirements in Result.Missing instead
	// of failing, for build roots whose remaining needs come from
	// elsewhere.
	MissingOK bool
	// Logger receives what the resolver decided on the way (nil:
	// slog.Default()).
	Logger *slog.Logger
}

// Result is a resolved closure.
type Result struct {
	// Packages are the selected packages, sorted by name (then arch).
	Packages []Selected `json:"packages"`
	// Missing are the unresolved requirements (only with MissingOK).
	Missing []Unresolved `json:"missing,omitempty"`
	// Dropped are packages left out because a selected package obsoletes
	// them.
	Dropped []Dropped `json:"dropped,omitempty"`
	// BaseProvided are the required capabilities the platform base
	// satisfies, sorted: what the bundle expects from the host.
	BaseProvided []string `json:"base_provided,omitempty"`
	// Ignored are the required capabilities skipped because of
	// Options.Ignore, sorted.
	Ignored []string `json:"ignored,omitempty"`
}

// Selected is one package of the closure and why it is there.
type Selected struct {
	Package *rpm.Package
	// Requested is true for a package Options.Want asked for (or every
	// package, when Want is empty).
	Requested bool
	// Reasons are the requirements it satisfies; the first is the one
	// that pulled it in (unless it was requested).
	Reasons []Reason
}

// MarshalJSON writes the package's identity rather than its whole header.
func (s Selected) MarshalJSON() ([]byte, error) {
	type out struct {
		NEVRA     string   `json:"nevra"`
		Name      string   `json:"name"`
		Epoch     string   `json:"epoch,omitempty"`
		Version   string   `json:"version"`
		Release   string   `json:"release"`
		Arch      string   `json:"arch"`
		Path      string   `json:"path,omitempty"`
		SHA256    string   `json:"sha256,omitempty"`
		Requested bool     `json:"requested"`
		Reasons   []Reason `json:"reasons,omitempty"`
	}
	p := s.Package
	if p == nil {
		return nil, fmt.Errorf("closure: selected entry without a package")
	}
	return json.Marshal(out{p.NEVRA(), p.Name, p.EVR.Epoch, p.EVR.Version, p.EVR.Release, p.Arch, p.Path, p.SHA256, s.Requested, s.Reasons})
}

// Reason records that package By needs the selected package.
type Reason struct {
	// By is the NEVRA of the package whose requirement it satisfies (""
	// for an entry of Options.Want).
	By string `json:"by"`
	// Requires is the requirement's text ("libssl.so.3()(64bit)",
	// "python3-libs = 3.9.18-1.el9", "(a or b)").
	Requires string `json:"requires"`
	// Kind is "" for Requires, else "recommends", "supplements" or
	// "obsoletes" (it replaces a requested package it obsoletes).
	Kind string `json:"kind,omitempty"`
}

// Unresolved is a requirement nothing satisfies.
type Unresolved struct {
	// Capability is the requirement's text.
	Capability string `json:"capability"`
	// By is the NEVRA of the package requiring it ("" for Options.Want).
	By string `json:"by,omitempty"`
	// Chain are the NEVRAs from a requested package down to By, following
	// each package's first reason.
	Chain []string `json:"chain,omitempty"`
	// Problem says why it is unresolved ("nothing provides it", "only
	// foo-1.0-1.i686 provides it, an arch el9-x86_64 does not take", ...).
	Problem string `json:"problem"`
}

// String renders "python3 → python3-libs → libssl.so.3()(64bit): nothing
// provides it", with package names for the chain.
func (u Unresolved) String() string {
	var b strings.Builder
	for _, n := range u.Chain {
		b.WriteString(nameOf(n))
		b.WriteString(" → ")
	}
	if u.By == "" {
		b.WriteString("requested ")
	}
	b.WriteString(u.Capability)
	b.WriteString(": ")
	b.WriteString(u.Problem)
	return b.String()
}

// nameOf returns the name part of a NEVRA.
func nameOf(nevra string) string {
	s := nevra
	for range 2 { // strip ".arch" then "-release", then "-[epoch:]version"
		if i := strings.LastIndexByte(s, '-'); i > 0 {
			s = s[:i]
		}
	}
	return s
}

// Dropped is a package left out because a selected package obsoletes it.
type Dropped struct {
	// NEVRA is the package left out.
	NEVRA string `json:"nevra"`
	// By is the NEVRA of the selected package obsoleting it.
	By string `json:"by"`
	// Obsoletes is the Obsoletes entry that matched.
	Obsoletes string `json:"obsoletes"`
}

// UnresolvedError is returned when requirements cannot be satisfied.
type UnresolvedError struct {
	Missing []Unresolved
}

func (e *UnresolvedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "closure: %d unresolved requirement", len(e.Missing))
	if len(e.Missing) != 1 {
		b.WriteByte('s')
	}
	b.WriteString(" (add the packages that provide them to the recipe, or list the capabilities under its ignores):")
	for _, u := range e.Missing {
		b.WriteString("\n  ")
		b.WriteString(u.String())
	}
	return b.String()
}

// Conflict is one package's Conflicts entry matched by another selected
// package.
type Conflict struct {
	Package   string `json:"package"`   // NEVRA of the package declaring the conflict
	With      string `json:"with"`      // NEVRA of the package it conflicts with
	Conflicts string `json:"conflicts"` // the Conflicts entry
}

// ConflictError is returned when selected packages conflict.
type ConflictError struct {
	Conflicts []Conflict
}

func (e *ConflictError) Error() string {
	var b strings.Builder
	b.WriteString("closure: selected packages conflict (drop one of each pair from the recipe, or rebuild one without the conflict):")
	for _, c := range e.Conflicts {
		fmt.Fprintf(&b, "\n  %s conflicts with %s (Conflicts: %s)", c.Package, c.With, c.Conflicts)
	}
	return b.String()
}
