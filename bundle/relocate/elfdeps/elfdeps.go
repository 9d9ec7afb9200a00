// Package elfdeps reads what relocation and the audit need from an ELF
// file: its type, interpreter, SONAME, DT_NEEDED entries, DT_RPATH and
// DT_RUNPATH, and the GLIBC_x.y symbol versions it needs; and it resolves a
// DT_NEEDED entry through $ORIGIN-relative search paths inside a bundle.
package elfdeps

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/bundle-dev/bundle/bundle/relocate/bundlepath"
)

// Magic is the first four bytes of every ELF file.
const Magic = "\x7fELF"

// Info is what one ELF file says about its dynamic linking.
type Info struct {
	Class   elf.Class
	Data    elf.Data
	Machine elf.Machine
	Type    elf.Type
	// Interp is the PT_INTERP program interpreter ("" for shared
	// libraries and static executables).
	Interp string
	// Dynamic reports a .dynamic section with content in the file (debug
	// files carry it as NOBITS, static executables have none).
	Dynamic bool
	Soname  string
	Needed  []string
	// RPath and RunPath are the entries of DT_RPATH and DT_RUNPATH, split
	// on ':'. HasRPath and HasRunPath report the tags, even empty.
	RPath      []string
	RunPath    []string
	HasRPath   bool
	HasRunPath bool
	// Versions are the symbol versions needed from other objects, such as
	// "GLIBC_2.34", sorted and without duplicates.
	Versions []string
	// VersionsFrom are the same versions by the soname of the object that
	// must define them (libc.so.6: GLIBC_2.2.5, GLIBC_2.34), each sorted.
	VersionsFrom map[string][]string
}

// IsExecutable reports whether the file is a program (it has an
// interpreter), as opposed to a shared library.
func (i *Info) IsExecutable() bool { return i.Interp != "" }

// Linkable reports whether the dynamic linker loads the file and reads its
// search paths: an executable or shared object with a dynamic section.
// Relocatable objects (.o, kernel modules), static executables and debug
// files are not.
func (i *Info) Linkable() bool {
	return (i.Type == elf.ET_EXEC || i.Type == elf.ET_DYN) && i.Dynamic
}

// IsELF reports whether the file at p starts with the ELF magic.
func IsELF(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var b [4]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return false, nil
		}
		return false, err
	}
	return string(b[:]) == Magic, nil
}

// Inspect reads the ELF file at p.
func Inspect(p string) (*Info, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return info, nil
}

// Parse reads an ELF file. Malformed input is an error, never a panic.
func Parse(r io.ReaderAt) (info *Info, err error) {
	defer func() {
		if p := recover(); p != nil {
			info, err = nil, fmt.Errorf("malformed ELF file: %v", p)
		}
	}()
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info = &Info{Class: f.Class, Data: f.Data, Machine: f.Machine, Type: f.Type}
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		if p.Filesz > 4096 {
			return nil, fmt.Errorf("PT_INTERP of %d bytes", p.Filesz)
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read PT_INTERP: %w", err)
		}
		info.Interp = strings.TrimRight(string(b), "\x00")
	}
	ds := f.SectionByType(elf.SHT_DYNAMIC)
	if ds == nil {
		return info, nil
	}
	info.Dynamic = true
	if info.Needed, err = f.DynString(elf.DT_NEEDED); err != nil {
		return nil, fmt.Errorf("read DT_NEEDED: %w", err)
	}
	sonames, err := f.DynString(elf.DT_SONAME)
	if err != nil {
		return nil, fmt.Errorf("read DT_SONAME: %w", err)
	}
	if len(sonames) > 0 {
		info.Soname = sonames[0]
	}
	rpath, err := f.DynString(elf.DT_RPATH)
	if err != nil {
		return nil, fmt.Errorf("read DT_RPATH: %w", err)
	}
	runpath, err := f.DynString(elf.DT_RUNPATH)
	if err != nil {
		return nil, fmt.Errorf("read DT_RUNPATH: %w", err)
	}
	info.HasRPath, info.RPath = len(rpath) > 0, splitPath(rpath)
	info.HasRunPath, info.RunPath = len(runpath) > 0, splitPath(runpath)
	if f.SectionByType(elf.SHT_GNU_VERNEED) != nil {
		needs, err := f.DynamicVersionNeeds()
		if err != nil {
			return nil, fmt.Errorf("read symbol versions: %w", err)
		}
		seen := map[string]bool{}
		for _, n := range needs {
			for _, d := range n.Needs {
				if d.Dep == "" {
					continue
				}
				if info.VersionsFrom == nil {
					info.VersionsFrom = map[string][]string{}
				}
				if !slices.Contains(info.VersionsFrom[n.Name], d.Dep) {
					info.VersionsFrom[n.Name] = append(info.VersionsFrom[n.Name], d.Dep)
				}
				if !seen[d.Dep] {
					seen[d.Dep] = true
					info.Versions = append(info.Versions, d.Dep)
				}
			}
		}
		sort.Strings(info.Versions)
		for _, vs := range info.VersionsFrom {
			sort.Strings(vs)
		}
	}
	return info, nil
}

// splitPath splits the values of DT_RPATH or DT_RUNPATH tags into entries.
// An empty entry means the current directory to the loader; it is kept.
func splitPath(vals []string) []string {
	var out []string
	for _, v := range vals {
		out = append(out, strings.Split(v, ":")...)
	}
	return out
}

// Glibc returns the highest GLIBC_x.y version in versions ("" when none) and
// whether GLIBC_PRIVATE is among them (which ties a binary to one glibc
// build).
func Glibc(versions []string) (highest string, private bool) {
	for _, v := range versions {
		if v == "GLIBC_PRIVATE" {
			private = true
			continue
		}
		n, ok := strings.CutPrefix(v, "GLIBC_")
		if !ok || !IsVersion(n) {
			continue
		}
		if highest == "" || CompareVersions(n, highest) > 0 {
			highest = n
		}
	}
	return highest, private
}

// IsVersion reports whether v is a dotted number such as "2.34".
func IsVersion(v string) bool {
	if v == "" {
		return false
	}
	for p := range strings.SplitSeq(v, ".") {
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			return false
		}
	}
	return true
}

// CompareVersions compares dotted numbers component by component ("2.4" <
// "2.34"); a missing component counts as 0. Components that are not numbers
// compare as 0.
func CompareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y uint64
		if i < len(as) {
			x, _ = strconv.ParseUint(as[i], 10, 32)
		}
		if i < len(bs) {
			y, _ = strconv.ParseUint(bs[i], 10, 32)
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
	}
	return 0
}

// ErrNotRelative is returned for a search path entry that does not start
// with $ORIGIN: on a worker node it names a host directory, whatever the
// bundle holds there.
var ErrNotRelative = errors.New("not relative to $ORIGIN")

// ExpandOrigin returns the bundle directory a search path entry names when
// the object sits in bundle directory origin: "$ORIGIN/../lib64" from
// "/usr/bin" is "/usr/lib64". Entries that do not start with $ORIGIN or
// ${ORIGIN} (absolute paths, empty entries, $LIB, $PLATFORM) give
// ErrNotRelative; an entry climbing above the top gives
// bundlepath.ErrOutside.
func ExpandOrigin(entry, origin string) (string, error) {
	var rest string
	switch {
	case entry == "$ORIGIN" || entry == "${ORIGIN}":
	case strings.HasPrefix(entry, "$ORIGIN/"):
		rest = entry[len("$ORIGIN/"):]
	case strings.HasPrefix(entry, "${ORIGIN}/"):
		rest = entry[len("${ORIGIN}/"):]
	default:
		return "", fmt.Errorf("%q: %w", entry, ErrNotRelative)
	}
	if strings.Contains(rest, "$") {
		return "", fmt.Errorf("%q: %w", entry, ErrNotRelative)
	}
	// Climbing is checked lexically here; symlinks are followed when the
	// directory is looked up.
	depth := len(strings.Split(strings.Trim(bundlepath.Clean(origin), "/"), "/"))
	if bundlepath.Clean(origin) == "/" {
		depth = 0
	}
	for c := range strings.SplitSeq(rest, "/") {
		switch c {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", fmt.Errorf("%q from %s: %w", entry, origin, bundlepath.ErrOutside)
			}
		default:
			depth++
		}
	}
	return path.Join(bundlepath.Clean(origin), rest), nil
}

// Lookup finds the file that the DT_NEEDED entry needed names for an object
// loaded from bundle directory origin with search path entries (its
// DT_RPATH). It returns the bundle path where the loader finds it (the
// directory entry, possibly a symlink to the file) and the resolved file.
// Entries that are not $ORIGIN-relative are skipped: they point at the host.
func Lookup(root, origin string, entries []string, needed string) (found, file string, err error) {
	if strings.Contains(needed, "/") {
		return "", "", fmt.Errorf("DT_NEEDED %q holds a slash", needed)
	}
	for _, e := range entries {
		dir, err := ExpandOrigin(e, origin)
		if err != nil {
			continue
		}
		rdir, err := bundlepath.Resolve(root, dir)
		if err != nil {
			continue
		}
		cand := path.Join(rdir, needed)
		real, err := bundlepath.Resolve(root, cand)
		if err != nil {
			continue
		}
		fi, err := os.Stat(bundlepath.Join(root, real))
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		return cand, real, nil
	}
	return "", "", fmt.Errorf("%s: not found through the search path %q from %s", needed, strings.Join(entries, ":"), origin)
}
