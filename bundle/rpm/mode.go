package rpm

import (
	"fmt"
	"io/fs"
	"strings"
)

// Unix st_mode file type bits as RPM headers store them.
const (
	unixTypeMask = 0o170000
	unixSocket   = 0o140000
	unixSymlink  = 0o120000
	unixRegular  = 0o100000
	unixBlock    = 0o060000
	unixDir      = 0o040000
	unixChar     = 0o020000
	unixFifo     = 0o010000
)

// ModeFromUnix converts a raw st_mode (type bits, setuid/setgid/sticky and
// permissions) to an fs.FileMode. An unknown type becomes fs.ModeIrregular.
func ModeFromUnix(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unixTypeMask {
	case unixRegular:
	case unixDir:
		mode |= fs.ModeDir
	case unixSymlink:
		mode |= fs.ModeSymlink
	case unixChar:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unixBlock:
		mode |= fs.ModeDevice
	case unixFifo:
		mode |= fs.ModeNamedPipe
	case unixSocket:
		mode |= fs.ModeSocket
	default:
		mode |= fs.ModeIrregular
	}
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// IsDir reports whether the file is a directory.
func (f File) IsDir() bool { return f.Mode&unixTypeMask == unixDir }

// IsRegular reports whether the file is a regular file.
func (f File) IsRegular() bool { return f.Mode&unixTypeMask == unixRegular }

// IsSymlink reports whether the file is a symbolic link.
func (f File) IsSymlink() bool { return f.Mode&unixTypeMask == unixSymlink }

// IsGhost reports whether the file is %ghost (listed, never in the payload).
func (f File) IsGhost() bool { return f.Flags&FileGhost != 0 }

// NEVRA returns "name-[epoch:]version-release.arch"; the epoch appears only
// when the header has one. Source packages end in ".src" whatever arch they
// were built on, as rpm names them.
func (p *Package) NEVRA() string {
	arch := p.Arch
	if p.IsSource {
		arch = "src"
	}
	return p.nevr(true) + "." + arch
}

// NVR returns "name-version-release".
func (p *Package) NVR() string { return p.nevr(false) }

func (p *Package) nevr(epoch bool) string {
	s := p.Name + "-"
	if epoch && p.EVR.Epoch != "" {
		s += p.EVR.Epoch + ":"
	}
	return s + p.EVR.Version + "-" + p.EVR.Release
}

// HardLinks returns the package's hard-link groups as rpm forms them:
// regular, non-%ghost files with a non-zero inode sharing (device, inode),
// groups of two or more, each sorted by file index. rpm writes the data of
// a group once, with its last member. Groups are ordered by first index.
func (p *Package) HardLinks() [][]int {
	type key struct{ dev, ino uint32 }
	groups := map[key][]int{}
	var order []key // first appearance: groups come out by first index
	for i, f := range p.Files {
		if !f.IsRegular() || f.IsGhost() || f.Inode == 0 {
			continue
		}
		k := key{f.Device, f.Inode}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	var out [][]int
	for _, k := range order {
		if g := groups[k]; len(g) > 1 {
			out = append(out, g)
		}
	}
	return out
}

// FilePath returns the path file i is installed at, normalised: absolute
// and clean (a source package's bare names get a leading "/"). A path that
// is relative (in a binary package), contains "..", or names the root
// itself is refused with an error: it could not be extracted safely.
func (p *Package) FilePath(i int) (string, error) {
	if i < 0 || i >= len(p.Files) {
		return "", fmt.Errorf("file index %d out of range (%d files)", i, len(p.Files))
	}
	name := p.Files[i].Path
	if p.IsSource && !strings.HasPrefix(name, "/") {
		// Source packages list bare names ("hello.spec").
		name = "/" + name
	}
	c, ok := cleanArchivePath(name)
	if !ok {
		return "", fmt.Errorf("unsafe path %q in the header (must be absolute, without ..)", p.Files[i].Path)
	}
	return c, nil
}
