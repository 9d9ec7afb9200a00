package extract

import (
	"fmt"
	"strings"
)

// Report describes what Extract wrote and every normalisation it applied.
// All lists are sorted; nothing in it depends on timing or worker count.
type Report struct {
	Packages  []PackageReport `json:"packages"`  // sorted by NEVRA, then file path
	Conflicts []Conflict      `json:"conflicts"` // sorted by path
	Dropped   []Dropped       `json:"dropped"`   // special files, sorted by path, package
	Stripped  []Stripped      `json:"stripped"`  // setuid/setgid/sticky bits removed
	Caps      []DroppedCap    `json:"caps"`      // file capabilities not applied
	Removed   []Removed       `json:"removed"`   // what Options.Remove skipped, per package
	Files     int             `json:"files"`     // regular files and symlinks written
	Dirs      int             `json:"dirs"`      // directories from package headers created
	Bytes     int64           `json:"bytes"`     // regular-file bytes written (hard-link copies included)
}

// PackageReport lists the paths one package wrote.
type PackageReport struct {
	NEVRA string   `json:"nevra"`
	Path  string   `json:"path"`  // the RPM file
	Files []string `json:"files"` // absolute paths inside the root, sorted
}

// Conflict is a path shipped with different content by several packages.
// Owner's version was written; the others' were not.
type Conflict struct {
	Path   string   `json:"path"`
	Owner  string   `json:"owner"`
	Others []string `json:"others"`
}

// String renders the conflict for humans.
func (c Conflict) String() string {
	return fmt.Sprintf("%s: kept %s, skipped %s", c.Path, c.Owner, strings.Join(c.Others, ", "))
}

// Dropped is a device node, fifo or socket that was not created.
type Dropped struct {
	Path    string `json:"path"`
	Package string `json:"package"`
	Type    string `json:"type"` // "char device", "block device", "fifo", "socket", "unknown"
}

// String renders the entry for humans.
func (d Dropped) String() string {
	return fmt.Sprintf("%s (%s) from %s", d.Path, d.Type, d.Package)
}

// Stripped records setuid/setgid/sticky bits removed from a written path
// (CVMFS mounts nosuid).
type Stripped struct {
	Path    string `json:"path"`
	Package string `json:"package"`
	Mode    string `json:"mode"`    // header permission bits, octal ("4755")
	Written string `json:"written"` // bits written, octal ("755")
}

// String renders the entry for humans.
func (s Stripped) String() string {
	return fmt.Sprintf("%s %s -> %s from %s", s.Path, s.Mode, s.Written, s.Package)
}

// DroppedCap records file capabilities the header asked for and that were
// not applied (CVMFS keeps no extended attributes).
type DroppedCap struct {
	Path    string `json:"path"`
	Package string `json:"package"`
	Caps    string `json:"caps"`
}

// String renders the entry for humans.
func (c DroppedCap) String() string {
	return fmt.Sprintf("%s %q from %s", c.Path, c.Caps, c.Package)
}

// Removed records what Options.Remove skipped in one package: Path is the
// matching path (a directory stands for everything under it) and Entries
// the number of header entries it covered.
type Removed struct {
	Path    string `json:"path"`
	Package string `json:"package"`
	Entries int    `json:"entries"`
}

// String renders the entry for humans.
func (r Removed) String() string {
	return fmt.Sprintf("%s (%d entries) from %s", r.Path, r.Entries, r.Package)
}

// emptyNotNil makes every list serialise as [] rather than null.
func (r *Report) emptyNotNil() {
	if r.Packages == nil {
		r.Packages = []PackageReport{}
	}
	for i := range r.Packages {
		if r.Packages[i].Files == nil {
			r.Packages[i].Files = []string{}
		}
	}
	if r.Conflicts == nil {
		r.Conflicts = []Conflict{}
	}
	if r.Dropped == nil {
		r.Dropped = []Dropped{}
	}
	if r.Stripped == nil {
		r.Stripped = []Stripped{}
	}
	if r.Caps == nil {
		r.Caps = []DroppedCap{}
	}
	if r.Removed == nil {
		r.Removed = []Removed{}
	}
}
