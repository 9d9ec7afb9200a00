package mockrun

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
)

// DebPackage is one package installed in the sandbox rootfs.
type DebPackage struct {
	Name    string
	Version string
	Arch    string
	// Provides are the virtual package names it provides (without versions).
	Provides []string
}

// ParseDpkgStatus reads a dpkg status file (var/lib/dpkg/status) and returns
// the installed packages sorted by name. Stanzas whose Status is not
// "install ok installed" are skipped; a stanza without a Package field is an
// error.
func ParseDpkgStatus(r io.Reader) ([]DebPackage, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	var pkgs []DebPackage
	fields := map[string]string{}
	last := ""
	line, start := 0, 0
	flush := func() error {
		if len(fields) == 0 {
			return nil
		}
		defer func() { fields = map[string]string{}; last = "" }()
		name := fields["package"]
		if name == "" {
			return fmt.Errorf("dpkg status: stanza at line %d has no Package field", start)
		}
		if fields["status"] != "install ok installed" {
			return nil
		}
		p := DebPackage{Name: name, Version: fields["version"], Arch: fields["architecture"]}
		for _, prov := range strings.Split(fields["provides"], ",") {
			prov = strings.TrimSpace(prov)
			if i := strings.IndexAny(prov, " ("); i >= 0 {
				prov = prov[:i]
			}
			if prov != "" {
				p.Provides = append(p.Provides, prov)
			}
		}
		pkgs = append(pkgs, p)
		return nil
	}
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		if len(fields) == 0 {
			start = line
		}
		if text[0] == ' ' || text[0] == '\t' {
			if last == "" {
				return nil, fmt.Errorf("dpkg status: line %d: continuation line before any field", line)
			}
			// Only single-line fields are kept; continuations extend
			// multi-line ones (Description, Conffiles) we do not use,
			// except Provides, which may be folded.
			if last == "provides" {
				fields[last] += " " + strings.TrimSpace(text)
			}
			continue
		}
		k, v, ok := strings.Cut(text, ":")
		if !ok {
			return nil, fmt.Errorf("dpkg status: line %d: %q is not a field", line, text)
		}
		last = strings.ToLower(strings.TrimSpace(k))
		fields[last] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dpkg status: %w", err)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	sort.Slice(pkgs, func(i, j int) bool {
		if pkgs[i].Name != pkgs[j].Name {
			return pkgs[i].Name < pkgs[j].Name
		}
		return pkgs[i].Arch < pkgs[j].Arch
	})
	return pkgs, nil
}

// formatPackageList renders packages one per line, "name\tversion\tarch",
// the packages.txt kept beside a cached rootfs.
func formatPackageList(pkgs []DebPackage) []byte {
	var b bytes.Buffer
	for _, p := range pkgs {
		fmt.Fprintf(&b, "%s\t%s\t%s\n", p.Name, p.Version, p.Arch)
	}
	return b.Bytes()
}
