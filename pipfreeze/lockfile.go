package pipfreeze

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/bundle-dev/bundle/bundle/atomicfile"
)

// Pin is one exactly pinned Python distribution.
type Pin struct {
	// Name is the project name, canonicalized as PEP 503 does (lower
	// case, runs of "-", "_", "." become one "-").
	Name string
	// Version is the exact version ("" for a VCS pin, which is pinned by
	// commit instead).
	Version string
	// Hashes are "sha256:<64 hex>" digests of the files pip may install
	// for this pin (wheel or sdist). Empty for a VCS pin.
	Hashes []string
	// URL is set for a VCS pin ("git+https://host/repo@<40-hex commit>")
	// and for a pin on one direct archive URL.
	URL string
}

// IsVCS reports whether p is pinned to a version-control commit.
func (p Pin) IsVCS() bool { return vcsScheme(p.URL) != "" }

// Requirement renders p as pip reads it, without hashes:
// "name==version" or "name @ url".
func (p Pin) Requirement() string {
	if p.URL != "" {
		return p.Name + " @ " + p.URL
	}
	return p.Name + "==" + p.Version
}

// String is the same as Requirement.
func (p Pin) String() string { return p.Requirement() }

// LockFile is a parsed lock: pip's requirements format where every entry is
// pinned exactly, with sha256 hashes (or, for VCS requirements, a commit).
type LockFile struct {
	// Header holds the leading comment lines, without their "# ".
	Header []string
	// Pins are sorted by Name.
	Pins []Pin
}

// Pin returns the pin for name (any spelling), if present.
func (l *LockFile) Pin(name string) (Pin, bool) {
	c := CanonicalName(name)
	for _, p := range l.Pins {
		if p.Name == c {
			return p, true
		}
	}
	return Pin{}, false
}

// Bytes renders the lock in pip's requirements format, deterministically:
// header comments, then one entry per pin sorted by name, each hash on its
// own continuation line.
func (l *LockFile) Bytes() []byte {
	var b bytes.Buffer
	for _, h := range l.Header {
		if h == "" {
			b.WriteString("#\n")
			continue
		}
		b.WriteString("# " + h + "\n")
	}
	pins := append([]Pin(nil), l.Pins...)
	sortPins(pins)
	for _, p := range pins {
		b.WriteString(p.Requirement())
		hashes := append([]string(nil), p.Hashes...)
		sort.Strings(hashes)
		for _, h := range hashes {
			b.WriteString(" \\\n    --hash=" + h)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// WriteFile writes the lock to path through a temporary file and a rename,
// so a reader never sees a partial lock.
func (l *LockFile) WriteFile(path string) error {
	return atomicfile.Write(path, l.Bytes(), 0o644)
}

// ReadLock reads and parses the lock file at path.
func ReadLock(path string) (*LockFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read lock: %w", err)
	}
	l, err := ParseLock(data)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return l, nil
}

var (
	nameRE    = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9._-]*[a-z0-9])?$`)
	versionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+!_-]*$`)
	hashRE    = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	commitRE  = regexp.MustCompile(`@[0-9a-f]{40}$`)
	canonRE   = regexp.MustCompile(`[-_.]+`)
)

// CanonicalName normalizes a project name as PEP 503 does.
func CanonicalName(name string) string {
	return strings.ToLower(canonRE.ReplaceAllString(name, "-"))
}

// ParseLock parses a lock in pip's requirements format. It accepts exactly
// what a lock needs and refuses the rest with the line number: comments,
// "name==version" or "name @ url" entries, "\" continuations and
// --hash=sha256:HEX options. Every non-VCS entry must carry a hash, every
// VCS entry must name a 40-hex commit, and no name may appear twice.
func ParseLock(data []byte) (*LockFile, error) {
	l := &LockFile{}
	seen := map[string]int{}
	inHeader := true
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		start := i + 1
		raw := lines[i]
		if inHeader {
			if t := strings.TrimSpace(raw); strings.HasPrefix(t, "#") {
				l.Header = append(l.Header, strings.TrimPrefix(strings.TrimPrefix(t, "#"), " "))
				continue
			}
			inHeader = false
		}
		// Join continuation lines: after its comment is removed, a line
		// ending in a backslash continues on the next.
		var logical strings.Builder
		line := stripComment(raw)
		for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
			logical.WriteString(strings.TrimSuffix(line, "\\"))
			logical.WriteByte(' ')
			i++
			line = stripComment(lines[i])
		}
		logical.WriteString(strings.TrimSuffix(line, "\\"))
		text := strings.TrimSpace(logical.String())
		if text == "" {
			continue
		}
		p, err := parseEntry(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", start, err)
		}
		if prev, ok := seen[p.Name]; ok {
			return nil, fmt.Errorf("line %d: %s is pinned twice (first on line %d)", start, p.Name, prev)
		}
		seen[p.Name] = start
		l.Pins = append(l.Pins, p)
	}
	sortPins(l.Pins)
	return l, nil
}

// stripComment removes a comment: "#" at the start or after whitespace.
func stripComment(s string) string {
	if strings.HasPrefix(strings.TrimSpace(s), "#") {
		return ""
	}
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') {
			return strings.TrimRight(s[:i], " \t")
		}
	}
	return strings.TrimRight(s, " \t")
}

// parseEntry parses one logical lock line.
func parseEntry(text string) (Pin, error) {
	fields := strings.Fields(text)
	// The requirement is every field before the first option.
	n := 0
	for n < len(fields) && !strings.HasPrefix(fields[n], "-") {
		n++
	}
	if n == 0 {
		return Pin{}, fmt.Errorf("%q: an option without a requirement (a lock holds only pinned requirements and their --hash options)", fields[0])
	}
	req := strings.Join(fields[:n], " ")
	var hashes []string
	for j := n; j < len(fields); j++ {
		f := fields[j]
		var h string
		switch {
		case strings.HasPrefix(f, "--hash="):
			h = strings.TrimPrefix(f, "--hash=")
		case f == "--hash":
			if j+1 >= len(fields) {
				return Pin{}, fmt.Errorf("%s: --hash without a value", req)
			}
			j++
			h = fields[j]
		default:
			return Pin{}, fmt.Errorf("%s: unsupported option %q in a lock (only --hash=sha256:HEX)", req, f)
		}
		if !hashRE.MatchString(h) {
			return Pin{}, fmt.Errorf("%s: bad hash %q (want sha256: and 64 lower-case hex digits)", req, h)
		}
		hashes = append(hashes, h)
	}
	p, err := parseRequirement(req)
	if err != nil {
		return Pin{}, err
	}
	sort.Strings(hashes)
	p.Hashes = dedupe(hashes)
	switch {
	case p.IsVCS():
		if len(p.Hashes) > 0 {
			return Pin{}, fmt.Errorf("%s: a VCS pin is pinned by its commit and takes no --hash", p.Name)
		}
	case len(p.Hashes) == 0:
		return Pin{}, fmt.Errorf("%s: no --hash (a lock pins every file by sha256; regenerate it with bundle lock)", p.Requirement())
	}
	return p, nil
}

// parseRequirement parses "name==version" or "name @ url".
func parseRequirement(req string) (Pin, error) {
	if strings.Contains(req, ";") {
		return Pin{}, fmt.Errorf("%q: environment markers are not allowed in a lock (it is resolved for one interpreter)", req)
	}
	if name, url, ok := strings.Cut(req, "@"); ok && !strings.Contains(name, "==") {
		name, url = strings.TrimSpace(name), strings.TrimSpace(url)
		if err := checkName(name, req); err != nil {
			return Pin{}, err
		}
		if url == "" || strings.ContainsAny(url, " \t") {
			return Pin{}, fmt.Errorf("%q: bad URL", req)
		}
		if scheme := vcsScheme(url); scheme != "" {
			if scheme != "git" {
				return Pin{}, fmt.Errorf("%q: only git VCS pins are supported", req)
			}
			if !commitRE.MatchString(url) {
				return Pin{}, fmt.Errorf("%q: a VCS pin must end in @<40-hex commit> (regenerate the lock with bundle lock)", req)
			}
		} else if !strings.Contains(url, "://") {
			return Pin{}, fmt.Errorf("%q: %q is not a URL", req, url)
		}
		return Pin{Name: CanonicalName(name), URL: url}, nil
	}
	name, version, ok := strings.Cut(req, "==")
	if !ok {
		return Pin{}, fmt.Errorf("%q is not pinned: a lock entry is name==version or name @ url", req)
	}
	name = strings.TrimSpace(name)
	version = strings.TrimSpace(strings.TrimPrefix(version, "=")) // "===" is an arbitrary-equality pin
	if err := checkName(name, req); err != nil {
		return Pin{}, err
	}
	if !versionRE.MatchString(version) || strings.Contains(version, "*") {
		return Pin{}, fmt.Errorf("%q: bad exact version %q", req, version)
	}
	return Pin{Name: CanonicalName(name), Version: version}, nil
}

func checkName(name, req string) error {
	if strings.Contains(name, "[") {
		return fmt.Errorf("%q: extras are not allowed in a lock (list the extra's dependencies themselves)", req)
	}
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%q: bad project name %q", req, name)
	}
	return nil
}

// vcsScheme returns "git" for "git+https://...", "" when url is no VCS URL.
func vcsScheme(url string) string {
	for _, s := range []string{"git", "hg", "svn", "bzr"} {
		if strings.HasPrefix(url, s+"+") {
			return s
		}
	}
	return ""
}

func sortPins(p []Pin) {
	sort.SliceStable(p, func(i, j int) bool {
		if p[i].Name != p[j].Name {
			return p[i].Name < p[j].Name
		}
		return p[i].Requirement() < p[j].Requirement()
	})
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
