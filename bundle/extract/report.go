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
	Removed   []Removed       `json:"removed"`   // paths skipped by Options.Remove
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

// Removed is a path skipped because it matched Options.Remove.
type Removed struct {
	Path    string `json:"path"`
	Package string `json:"package"`
}

// String renders the entry for humans.
func (r Removed) String() string {
	return fmt.Sprintf("%s from %s", r.Path, r.Package)
}
