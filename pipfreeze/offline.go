package pipfreeze

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Dist is one distribution file of an offline set (a find-links directory).
type Dist struct {
	Path    string // absolute path
	Name    string // canonical project name, from the file name
	Version string // version, from the file name
	Wheel   bool   // a .whl (else an sdist)
	SHA256  string // hex digest of the file
}

// sdistExts are the archive suffixes pip accepts for source distributions.
var sdistExts = []string{".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip"}

// ParseDistFilename splits a wheel or sdist file name into its canonical
// project name and version. ok is false for names that are neither.
func ParseDistFilename(base string) (name, version string, wheel, ok bool) {
	if stem, found := strings.CutSuffix(base, ".whl"); found {
		// {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl
		parts := strings.Split(stem, "-")
		if len(parts) != 5 && len(parts) != 6 {
			return "", "", false, false
		}
		if !nameRE.MatchString(parts[0]) || !versionRE.MatchString(parts[1]) {
			return "", "", false, false
		}
		return CanonicalName(parts[0]), parts[1], true, true
	}
	for _, ext := range sdistExts {
		stem, found := strings.CutSuffix(base, ext)
		if !found {
			continue
		}
		// {name}-{version}: the version starts after the last "-" that
		// is followed by a digit (names may contain "-").
		for i := len(stem) - 1; i > 0; i-- {
			if stem[i] == '-' && i+1 < len(stem) && stem[i+1] >= '0' && stem[i+1] <= '9' {
				n, v := stem[:i], stem[i+1:]
				if nameRE.MatchString(n) && versionRE.MatchString(v) {
					return CanonicalName(n), v, false, true
				}
				return "", "", false, false
			}
		}
		return "", "", false, false
	}
	return "", "", false, false
}

// ScanOffline lists the wheels and sdists in the find-links directories
// (not recursively, as pip reads them) with their sha256, sorted by name,
// version and path. Files that are not distributions are ignored.
func ScanOffline(ctx context.Context, dirs []string) ([]Dist, error) {
	var out []Dist
	for _, dir := range dirs {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("find-links %s: %w", dir, err)
		}
		entries, err := os.ReadDir(abs)
		if err != nil {
			return nil, fmt.Errorf("find-links %s: %w (gather an offline set with recipes/gather-python-wheels.sh DIR)", dir, err)
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			name, version, wheel, ok := ParseDistFilename(e.Name())
			if !ok {
				continue
			}
			p := filepath.Join(abs, e.Name())
			st, err := os.Stat(p)
			if err != nil || !st.Mode().IsRegular() {
				continue
			}
			sum, err := fileSHA256(p)
			if err != nil {
				return nil, err
			}
			out = append(out, Dist{Path: p, Name: name, Version: version, Wheel: wheel, SHA256: sum})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Path < b.Path
	})
	return out, nil
}

// fileSHA256 returns the hex sha256 of the file at path.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sameVersion compares versions loosely: case, a leading "v" and the
// separators pip normalizes ("-", "_" and "." in the local part) aside.
func sameVersion(a, b string) bool {
	norm := func(v string) string {
		v = strings.TrimPrefix(strings.ToLower(v), "v")
		return strings.NewReplacer("_", ".", "-", ".").Replace(v)
	}
	return norm(a) == norm(b)
}

// choose finds, for every hashed pin, the file of the offline set that
// carries one of its hashes. It reports every pin it cannot satisfy: a file
// of that name and version with another digest is a hash mismatch, no such
// file is a missing requirement. The map holds the pins it could match,
// even with an error.
func choose(pins []Pin, dists []Dist, findLinks []string) (map[string]Dist, error) {
	byHash := map[string][]Dist{}
	byName := map[string][]Dist{}
	for _, d := range dists {
		byHash[d.SHA256] = append(byHash[d.SHA256], d)
		byName[d.Name] = append(byName[d.Name], d)
	}
	chosen := map[string]Dist{}
	var mismatches []HashMismatch
	var missing []string
	for _, p := range pins {
		if p.URL != "" {
			continue
		}
		found := false
		for _, h := range p.Hashes {
			for _, d := range byHash[strings.TrimPrefix(h, "sha256:")] {
				if d.Name == p.Name {
					chosen[p.Name] = d
					found = true
					break
				}
			}
			if found {
				break
			}
		}
		if found {
			continue
		}
		var versions []string
		sameVer := false
		for _, d := range byName[p.Name] {
			if sameVersion(d.Version, p.Version) {
				sameVer = true
				mismatches = append(mismatches, HashMismatch{
					Requirement: p.Requirement(), File: d.Path,
					Expected: p.Hashes, Got: "sha256:" + d.SHA256,
				})
			} else {
				versions = append(versions, d.Version)
			}
		}
		if !sameVer {
			desc := p.Requirement()
			if len(versions) > 0 {
				desc += " (the offline set has " + strings.Join(dedupe(versions), ", ") + ")"
			}
			missing = append(missing, desc)
		}
	}
	if len(mismatches) > 0 {
		return chosen, &HashMismatchError{Mismatches: mismatches}
	}
	if len(missing) > 0 {
		return chosen, &MissingError{Requirements: missing, FindLinks: findLinks}
	}
	return chosen, nil
}
