// Package rpmtest builds small synthetic RPM packages and cpio streams for
// tests: well-formed ones to check readers against, and hostile ones
// (traversal names, symlink tricks, device nodes, truncated payloads) to
// check that extraction refuses them. Everything it writes is
// deterministic.
//
// The RPMs carry a lead, an empty signature header and a general header
// with the tags bundle reads (no region tag, no signatures): enough for
// bundle/rpm, not meant to satisfy rpm(8).
package rpmtest

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Unix file type bits for File.Mode.
const (
	TypeReg  = 0o100000
	TypeDir  = 0o040000
	TypeLink = 0o120000
	TypeChr  = 0o020000
	TypeBlk  = 0o060000
	TypeFifo = 0o010000
	TypeSock = 0o140000
)

// File is one file of a synthetic package.
type File struct {
	Path   string // absolute path in the header
	Mode   uint32 // full st_mode (type | permissions)
	Data   []byte // content of a regular file
	LinkTo string // symlink target
	// Inode groups hard links: files with the same non-zero Inode form a
	// group. 0 assigns a unique inode.
	Inode  uint32
	Flags  uint32 // RPMFILE_* bits (0x40 = %ghost)
	Mtime  uint32
	Caps   string
	Digest string // hex digest; computed (sha256) for regular files when empty
}

// Dep is a dependency as stored in the header.
type Dep struct {
	Name    string
	Flags   uint32
	Version string
}

// Package describes a synthetic RPM.
type Package struct {
	Name, Version, Release, Arch string
	Epoch                        *uint32
	Source                       bool // source package: lead type 1, no SOURCERPM tag
	Summary, License, URL        string
	BuildTime                    uint32

	Files    []File
	Requires []Dep
	Provides []Dep

	// Compressor is the PAYLOADCOMPRESSOR value and the compression
	// applied: "gzip" (default), "xz", "lzma", "zstd", "identity" (none);
	// any other value needs Compressed.
	Compressor string
	// Stripped writes the payload in rpm's 07070X format with
	// LONGFILESIZES, as rpm v6 does.
	Stripped bool
	// ArchiveNames overrides the cpio name written for file i (newc only).
	ArchiveNames map[int]string
	// Payload, when set, is used as the uncompressed cpio payload instead
	// of the one generated from Files (the header still lists Files).
	Payload []byte
	// Compressed, when set, is written as the payload as is (after the
	// headers), e.g. a payload compressed by an external tool.
	Compressed []byte
	// Truncate cuts the compressed payload to this many bytes when > 0.
	Truncate int
	// Integrity records the header+payload size and MD5 in the signature
	// header and the payload's SHA-256 in PAYLOADDIGEST, as rpm does.
	Integrity bool
}

// WriteFile builds p and writes it to dir/name, returning the path.
func WriteFile(dir, name string, p Package) (string, error) {
	b, err := Build(p)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, b, 0o644)
}

// Build returns the bytes of the RPM described by p.
func Build(p Package) ([]byte, error) {
	if p.Compressor == "" {
		p.Compressor = "gzip"
	}
	if p.Version == "" {
		p.Version = "1"
	}
	if p.Release == "" {
		p.Release = "1"
	}
	if p.Arch == "" {
		p.Arch = "noarch"
	}
	files := assignInodes(p.Files)
	payload := p.Payload
	if payload == nil {
		payload = PayloadFor(files, p.Stripped, p.ArchiveNames)
	}
	comp := p.Compressed
	if comp == nil {
		var err error
		if comp, err = compress(p.Compressor, payload); err != nil {
			return nil, err
		}
	}
	gen := generalTags(p, files)
	var sig []tag
	if p.Integrity {
		sum := sha256.Sum256(comp)
		gen = append(gen, strsTag(5092, []string{hex.EncodeToString(sum[:])}), u32Tag(5093, []uint32{8}))
		genHdr := header(gen)
		m := md5.New()
		m.Write(genHdr)
		m.Write(comp)
		sig = []tag{
			u32Tag(1000, []uint32{uint32(len(genHdr) + len(comp))}),
			{1004, typeBin, 16, m.Sum(nil)},
		}
	}
	if p.Truncate > 0 && p.Truncate < len(comp) {
		comp = comp[:p.Truncate]
	}
	var out bytes.Buffer
	out.Write(lead(p))
	out.Write(header(sig))
	for out.Len()%8 != 0 { // the signature header is padded to 8 bytes
		out.WriteByte(0)
	}
	out.Write(header(gen))
	out.Write(comp)
	return out.Bytes(), nil
}

func assignInodes(in []File) []File {
	files := append([]File(nil), in...)
	next := uint32(1 << 20)
	for i := range files {
		if files[i].Inode == 0 {
			files[i].Inode = next
			next++
		}
		if files[i].Mode&0o170000 == TypeReg && files[i].Digest == "" {
			sum := sha256.Sum256(files[i].Data)
			files[i].Digest = hex.EncodeToString(sum[:])
		}
	}
	return files
}

// PayloadFor returns the uncompressed cpio payload rpm would write for
// files: header order, hard-link data on the last member of each group,
// newc names "./path" (or names[i]), or stripped 07070X entries.
func PayloadFor(files []File, stripped bool, names map[int]string) []byte {
	last := map[uint32]int{}
	count := map[uint32]int{}
	for i, f := range files {
		if f.Mode&0o170000 == TypeReg && f.Flags&0x40 == 0 {
			last[f.Inode] = i
			count[f.Inode]++
		}
	}
	var a Archive
	for i, f := range files {
		if f.Flags&0x40 != 0 { // %ghost: not in the payload
			continue
		}
		var data []byte
		nlink := uint32(1)
		switch f.Mode & 0o170000 {
		case TypeReg:
			nlink = uint32(count[f.Inode])
			if last[f.Inode] == i {
				data = f.Data
			}
		case TypeLink:
			data = []byte(f.LinkTo)
		}
		if stripped {
			a.Stripped(i, data)
			continue
		}
		name := "." + f.Path
		if n, ok := names[i]; ok {
			name = n
		}
		a.Newc(Entry{Name: name, Mode: f.Mode, Nlink: nlink, Inode: f.Inode, Mtime: f.Mtime, Data: data})
	}
	a.Trailer()
	return a.Bytes()
}

// Entry is one newc entry.
type Entry struct {
	Name  string
	Mode  uint32
	Nlink uint32
	Inode uint32
	Mtime uint32
	Data  []byte
	// Size overrides the size field when non-zero (to craft lies).
	Size uint32
	// CRC writes a 070702 entry with the data's checksum (or Checksum when
	// non-zero).
	CRC      bool
	Checksum uint32
}

// Archive accumulates a cpio stream.
type Archive struct {
	bytes.Buffer
}

func (a *Archive) pad() {
	for a.Len()%4 != 0 {
		a.WriteByte(0)
	}
}

// Newc appends a newc (or crc) entry.
func (a *Archive) Newc(e Entry) {
	a.pad()
	magic := "070701"
	sum := e.Checksum
	if e.CRC {
		magic = "070702"
		if sum == 0 {
			for _, c := range e.Data {
				sum += uint32(c)
			}
		}
	} else {
		sum = 0
	}
	size := uint32(len(e.Data))
	if e.Size != 0 {
		size = e.Size
	}
	nlink := e.Nlink
	if nlink == 0 {
		nlink = 1
	}
	fmt.Fprintf(a, "%s%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		magic, e.Inode, e.Mode, 0, 0, nlink, e.Mtime, size, 0, 0, 0, 0, len(e.Name)+1, sum)
	a.WriteString(e.Name)
	a.WriteByte(0)
	a.pad()
	a.Write(e.Data)
}

// Stripped appends a 07070X entry for file index idx followed by data.
func (a *Archive) Stripped(idx int, data []byte) {
	a.pad()
	fmt.Fprintf(a, "07070X%08x", idx)
	a.pad()
	a.Write(data)
}

// Trailer appends the newc TRAILER!!! entry and its padding.
func (a *Archive) Trailer() {
	a.Newc(Entry{Name: "TRAILER!!!"})
	a.pad()
}

func compress(kind string, data []byte) ([]byte, error) {
	var buf bytes.Buffer
	switch kind {
	case "identity", "none":
		return data, nil
	case "gzip":
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		w.Write(data)
		if err := w.Close(); err != nil {
			return nil, err
		}
	case "xz":
		w, err := xz.NewWriter(&buf)
		if err != nil {
			return nil, err
		}
		w.Write(data)
		if err := w.Close(); err != nil {
			return nil, err
		}
	case "lzma":
		w, err := lzma.NewWriter(&buf)
		if err != nil {
			return nil, err
		}
		w.Write(data)
		if err := w.Close(); err != nil {
			return nil, err
		}
	case "zstd":
		w, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		w.Write(data)
		if err := w.Close(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("rpmtest: unknown compressor %q", kind)
	}
	return buf.Bytes(), nil
}

func lead(p Package) []byte {
	b := make([]byte, 96)
	copy(b, []byte{0xed, 0xab, 0xee, 0xdb, 3, 0})
	if p.Source {
		b[7] = 1
	}
	copy(b[10:76], fmt.Sprintf("%s-%s-%s", p.Name, p.Version, p.Release))
	binary.BigEndian.PutUint16(b[76:], 1) // os: Linux
	binary.BigEndian.PutUint16(b[78:], 5) // signature type: header-style
	return b
}

// RPM header data types.
const (
	typeInt32       = 4
	typeInt64       = 5
	typeString      = 6
	typeStringArray = 8
	typeI18N        = 9
	typeBin         = 7
)

type tag struct {
	id    int
	typ   int
	count int
	data  []byte
}

func strTag(id int, s string) tag {
	return tag{id, typeString, 1, append([]byte(s), 0)}
}

func i18nTag(id int, s string) tag {
	return tag{id, typeI18N, 1, append([]byte(s), 0)}
}

func strsTag(id int, ss []string) tag {
	var b []byte
	for _, s := range ss {
		b = append(append(b, s...), 0)
	}
	return tag{id, typeStringArray, len(ss), b}
}

func u32Tag(id int, vs []uint32) tag {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.BigEndian.PutUint32(b[4*i:], v)
	}
	return tag{id, typeInt32, len(vs), b}
}

func u64Tag(id int, vs []uint64) tag {
	b := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.BigEndian.PutUint64(b[8*i:], v)
	}
	return tag{id, typeInt64, len(vs), b}
}

func generalTags(p Package, files []File) []tag {
	t := []tag{
		strTag(1000, p.Name), strTag(1001, p.Version), strTag(1002, p.Release),
		i18nTag(1004, p.Summary), u32Tag(1006, []uint32{p.BuildTime}),
		strTag(1014, p.License), strTag(1021, "linux"), strTag(1022, p.Arch),
		strTag(1124, "cpio"), strTag(1125, p.Compressor),
	}
	if p.URL != "" {
		t = append(t, strTag(1020, p.URL))
	}
	if p.Epoch != nil {
		t = append(t, u32Tag(1003, []uint32{*p.Epoch}))
	}
	if !p.Source {
		t = append(t, strTag(1044, fmt.Sprintf("%s-%s-%s.src.rpm", p.Name, p.Version, p.Release)))
	}
	t = append(t, depTags(p.Requires, 1049, 1048, 1050)...)
	t = append(t, depTags(p.Provides, 1047, 1112, 1113)...)
	if len(files) > 0 {
		t = append(t, fileTags(files, p.Stripped)...)
	}
	var total uint64
	for _, f := range files {
		total += uint64(len(f.Data))
	}
	t = append(t, u32Tag(1009, []uint32{uint32(total)}))
	return t
}

func depTags(deps []Dep, nameTag, flagTag, verTag int) []tag {
	if len(deps) == 0 {
		return nil
	}
	var names, vers []string
	var flags []uint32
	for _, d := range deps {
		names = append(names, d.Name)
		vers = append(vers, d.Version)
		flags = append(flags, d.Flags)
	}
	return []tag{strsTag(nameTag, names), u32Tag(flagTag, flags), strsTag(verTag, vers)}
}

func fileTags(files []File, long bool) []tag {
	var dirs []string
	dirIdx := map[string]uint32{}
	var bases, links, digests, users, groups, caps []string
	var dirIndexes, modes, flags, mtimes, inodes, devices, sizes32 []uint32
	var sizes64 []uint64
	hasCaps := false
	for _, f := range files {
		dir, base := splitPath(f.Path)
		i, ok := dirIdx[dir]
		if !ok {
			i = uint32(len(dirs))
			dirIdx[dir] = i
			dirs = append(dirs, dir)
		}
		dirIndexes = append(dirIndexes, i)
		bases = append(bases, base)
		size := uint64(len(f.Data))
		if f.Mode&0o170000 == TypeLink {
			size = uint64(len(f.LinkTo))
		}
		sizes32 = append(sizes32, uint32(size))
		sizes64 = append(sizes64, size)
		modes = append(modes, f.Mode)
		flags = append(flags, f.Flags)
		mtimes = append(mtimes, f.Mtime)
		links = append(links, f.LinkTo)
		digests = append(digests, f.Digest)
		inodes = append(inodes, f.Inode)
		devices = append(devices, 1)
		users = append(users, "root")
		groups = append(groups, "root")
		caps = append(caps, f.Caps)
		hasCaps = hasCaps || f.Caps != ""
	}
	// FILEMODES and FILERDEVS are INT16 in real packages; INT32 reads the
	// same through bundle/rpm.
	t := []tag{
		u32Tag(1030, modes), u32Tag(1034, mtimes), strsTag(1035, digests),
		strsTag(1036, links), u32Tag(1037, flags), strsTag(1039, users), strsTag(1040, groups),
		u32Tag(1095, devices), u32Tag(1096, inodes),
		u32Tag(1116, dirIndexes), strsTag(1117, bases), strsTag(1118, dirs),
		u32Tag(5011, []uint32{8}),
	}
	if long {
		t = append(t, u64Tag(5008, sizes64))
	} else {
		t = append(t, u32Tag(1028, sizes32))
	}
	if hasCaps {
		t = append(t, strsTag(5010, caps))
	}
	return t
}

func splitPath(p string) (dir, base string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i+1], p[i+1:]
}

// header serialises tags into an RPM header structure (intro, index,
// data).
func header(tags []tag) []byte {
	sort.SliceStable(tags, func(i, j int) bool { return tags[i].id < tags[j].id })
	var data bytes.Buffer
	index := make([]byte, 0, 16*len(tags))
	for _, t := range tags {
		align := map[int]int{typeInt32: 4, typeInt64: 8}[t.typ]
		for align > 0 && data.Len()%align != 0 {
			data.WriteByte(0)
		}
		var e [16]byte
		binary.BigEndian.PutUint32(e[0:], uint32(t.id))
		binary.BigEndian.PutUint32(e[4:], uint32(t.typ))
		binary.BigEndian.PutUint32(e[8:], uint32(data.Len()))
		binary.BigEndian.PutUint32(e[12:], uint32(t.count))
		index = append(index, e[:]...)
		data.Write(t.data)
	}
	var out bytes.Buffer
	out.Write([]byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0})
	binary.Write(&out, binary.BigEndian, uint32(len(tags)))
	binary.Write(&out, binary.BigEndian, uint32(data.Len()))
	out.Write(index)
	out.Write(data.Bytes())
	return out.Bytes()
}
