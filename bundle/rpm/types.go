// Package rpm reads RPM packages: the header (through go-rpmutils), the
// payload (decompressed as a stream) and rpm's version comparison.
package rpm

import "io/fs"

// DepFlags are rpm's RPMSENSE_* bits carried by a dependency.
type DepFlags uint32

const (
	SenseAny       DepFlags = 0
	SenseLess      DepFlags = 1 << 1
	SenseGreater   DepFlags = 1 << 2
	SenseEqual     DepFlags = 1 << 3
	SensePreReq    DepFlags = 1 << 6
	SenseRpmlib    DepFlags = 1 << 24
	SenseMissingOK DepFlags = 1 << 19
	// SenseCompareMask selects the comparison bits.
	SenseCompareMask = SenseLess | SenseGreater | SenseEqual
)

// EVR is an epoch:version-release triple. Epoch is "" when absent.
type EVR struct {
	Epoch   string
	Version string
	Release string
}

// Dep is one Requires/Provides/Conflicts/Obsoletes/weak entry. Rich
// (boolean) dependencies keep their whole expression in Name, starting
// with "(", and an empty EVR.
type Dep struct {
	Name  string
	Flags DepFlags
	EVR   EVR
}

// FileFlags are rpm's RPMFILE_* bits.
type FileFlags uint32

const (
	FileConfig    FileFlags = 1 << 0
	FileDoc       FileFlags = 1 << 1
	FileMissingOK FileFlags = 1 << 3
	FileNoReplace FileFlags = 1 << 4
	FileSpec      FileFlags = 1 << 5 // the spec file of a source package
	FileGhost     FileFlags = 1 << 6
	FileLicense   FileFlags = 1 << 7
	FileReadme    FileFlags = 1 << 8
	FileArtifact  FileFlags = 1 << 12
)

// File is one entry of the header's file list.
type File struct {
	Path   string // absolute, as installed ("/usr/bin/hello")
	Mode   uint32 // raw st_mode bits from the header (type + permissions)
	Size   int64  // 64-bit size (LONGFILESIZES when present)
	LinkTo string // symlink target, "" otherwise
	Inode  uint32 // FILEINODES: equal Inode (and Device) => one hard-link group
	Device uint32 // FILEDEVICES
	Flags  FileFlags
	Mtime  int64
	Digest string // hex file digest ("" for non-regular files)
	Caps   string // file capabilities text, "" when none
	User   string
	Group  string
}

// FileMode converts Mode to an fs.FileMode (type, permission and
// setuid/setgid/sticky bits).
func (f File) FileMode() fs.FileMode { return ModeFromUnix(f.Mode) }

// Package is what bundle knows of one RPM: header metadata plus, for a
// package read from disk, where and what the file is.
type Package struct {
	Name      string
	EVR       EVR
	Arch      string // for a source package: the arch it was built on
	IsSource  bool
	SourceRPM string // SOURCERPM tag ("" for source packages)

	Requires    []Dep
	Provides    []Dep
	Conflicts   []Dep
	Obsoletes   []Dep
	Recommends  []Dep
	Suggests    []Dep
	Supplements []Dep
	Enhances    []Dep

	Files []File

	// FileDigestAlgo names the algorithm of File.Digest (FILEDIGESTALGO):
	// "md5" (rpm's default when the tag is absent), "sha1", "sha256", ...
	FileDigestAlgo string

	PayloadFormat     string // "cpio" usually
	PayloadCompressor string // "gzip", "bzip2", "xz", "lzma", "zstd", "" / "identity" for none
	InstalledSize     int64
	License           string
	Summary           string
	URL               string
	BuildTime         int64
	// SourceTags and PatchTags are a source package's Source and Patch
	// values as its spec wrote them: a URL or a bare file name.
	SourceTags []string
	PatchTags  []string

	// Location of the package file: its path on disk (or relative
	// location inside a repo) and its own sha256 and size.
	Path   string
	SHA256 string
	Size   int64
}
