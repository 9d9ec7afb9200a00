package rpm

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"

	rpmutils "github.com/sassoftware/go-rpmutils"
)

// Limits applied before handing a header to go-rpmutils, which trusts the
// counts it reads. They are rpm's own (HEADER_TAGS_MAX, HEADER_DATA_MAX).
const (
	maxHeaderTags = 0xffff
	maxHeaderData = 0x0fffffff
	leadSize      = 96
)

// Header tags go-rpmutils does not name.
const (
	tagRecommendName   = 5046
	tagRecommendVer    = 5047
	tagRecommendFlags  = 5048
	tagSuggestName     = 5049
	tagSuggestVer      = 5050
	tagSuggestFlags    = 5051
	tagSupplementName  = 5052
	tagSupplementVer   = 5053
	tagSupplementFlags = 5054
	tagEnhanceName     = 5055
	tagEnhanceVer      = 5056
	tagEnhanceFlags    = 5057
	tagOldSuggestName  = 1156
	tagOldSuggestVer   = 1157
	tagOldSuggestFlags = 1158
	tagOldEnhanceName  = 1159
	tagOldEnhanceVer   = 1160
	tagOldEnhanceFlags = 1161

	senseStrong DepFlags = 1 << 27 // RPMSENSE_STRONG on legacy weak deps
)

// ErrNotRPM is returned (wrapped) for input that does not start with an
// RPM lead.
var ErrNotRPM = errors.New("not an RPM package (bad lead magic)")

// headerInfo is what the integrity checks need beyond Package.
type headerInfo struct {
	genHeader     []byte      // raw general header (MD5/size cover it + payload)
	sigSize       int64       // header+payload size from the signature, -1 if absent
	sigMD5        []byte      // MD5 of header+payload, nil if absent
	payloadDigest string      // hex digest of the compressed payload, "" if absent
	payloadAlgo   crypto.Hash // its algorithm
}

// ReadHeader reads an RPM's lead, signature header and header from r and
// returns the package metadata, leaving r at the start of the payload. The
// header's own SHA1/SHA256 digest (from the signature header) is verified;
// signatures are not. Path, Size and SHA256 are left empty.
func ReadHeader(r io.Reader) (*Package, error) {
	p, _, err := readHeader(r)
	return p, err
}

func readHeader(r io.Reader) (*Package, *headerInfo, error) {
	raw, genStart, err := readRawHeaders(r)
	if err != nil {
		return nil, nil, err
	}
	hdr, err := parseHeaders(raw)
	if err != nil {
		return nil, nil, err
	}
	leadSource := binary.BigEndian.Uint16(raw[6:8]) == 1
	p, info, err := convertHeader(hdr, leadSource)
	if err != nil {
		return nil, nil, err
	}
	info.genHeader = raw[genStart:]
	return p, info, nil
}

// readRawHeaders reads the lead and both headers into memory, checking
// their declared sizes before reading so hostile counts cannot make anyone
// allocate more than what is actually there.
func readRawHeaders(r io.Reader) (raw []byte, genStart int, err error) {
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, r, leadSize); err != nil {
		return nil, 0, fmt.Errorf("read lead: %w", eofUnexpected(err))
	}
	if !bytes.Equal(buf.Bytes()[:4], []byte{0xed, 0xab, 0xee, 0xdb}) {
		return nil, 0, ErrNotRPM
	}
	if err := readHeaderBlob(&buf, r, true); err != nil {
		return nil, 0, fmt.Errorf("signature header: %w", err)
	}
	genStart = buf.Len()
	if err := readHeaderBlob(&buf, r, false); err != nil {
		return nil, 0, fmt.Errorf("header: %w", err)
	}
	return buf.Bytes(), genStart, nil
}

func readHeaderBlob(buf *bytes.Buffer, r io.Reader, sig bool) error {
	start := buf.Len()
	if _, err := io.CopyN(buf, r, 16); err != nil {
		return eofUnexpected(err)
	}
	intro := buf.Bytes()[start:]
	if !bytes.Equal(intro[:4], []byte{0x8e, 0xad, 0xe8, 0x01}) {
		return errors.New("bad header magic")
	}
	tags := binary.BigEndian.Uint32(intro[8:])
	size := binary.BigEndian.Uint32(intro[12:])
	if tags > maxHeaderTags {
		return fmt.Errorf("%d tags exceed the limit of %d", tags, maxHeaderTags)
	}
	if size > maxHeaderData {
		return fmt.Errorf("%d data bytes exceed the limit of %d", size, maxHeaderData)
	}
	n := int64(tags)*16 + int64(size)
	if sig {
		n += int64((8 - size%8) % 8)
	}
	if _, err := io.CopyN(buf, r, n); err != nil {
		return eofUnexpected(err)
	}
	blob := buf.Bytes()[start+16:]
	return verifyIndex(blob[:int(tags)*16], blob[int(tags)*16:][:size])
}

// Region tags: a header's first entry when it describes the region
// (rpm's HEADER_IMAGE, HEADER_SIGNATURES, HEADER_IMMUTABLE).
const (
	tagHeaderImage      = 61
	tagHeaderSignatures = 62
	tagHeaderImmutable  = 63
	regionTrailerSize   = 16
)

// Limits on what one header may declare, checked on the raw index before
// anything is decoded. maxEntryCount is rpm's (hdrchkCount); the others
// bound the memory a decoded header costs, far above any real package
// (the largest distribution packages hold a few hundred thousand files).
const (
	maxEntryCount  = 0x00ffffff
	maxHeaderItems = 1 << 25 // values of all entries together
	// MaxHeaderFiles is the most files one package header may list.
	MaxHeaderFiles = 1 << 21
)

// verifyIndex applies rpm's checks on a header's index entries
// (lib/header.c hdrblobVerifyInfo) before go-rpmutils decodes them: every
// entry has a known type, a count below 2^24, an aligned offset, and data
// that lies inside the data area, does not overlap the previous entry's
// data (so the index lists data in order, each byte used once) and does
// not overlap the region trailer. Without these, a few index entries
// pointing at the same bytes declare millions of values that cost
// gigabytes to decode. It also bounds the values a header declares in
// all and the files it lists.
func verifyIndex(index, data []byte) error {
	n := len(index) / 16
	first := 0
	var regionStart, regionEnd int64 = -1, -1
	if n > 0 {
		switch binary.BigEndian.Uint32(index) {
		case tagHeaderImage, tagHeaderSignatures, tagHeaderImmutable:
			typ, off, count := binary.BigEndian.Uint32(index[4:]), int64(binary.BigEndian.Uint32(index[8:])), binary.BigEndian.Uint32(index[12:])
			if typ != typeBin || count != regionTrailerSize || off < 0 || off+regionTrailerSize > int64(len(data)) {
				return fmt.Errorf("bad region tag (type %d, count %d, offset %d in %d data bytes)", typ, count, off, len(data))
			}
			regionStart, regionEnd = off, off+regionTrailerSize
			first = 1
		}
	}
	var end, items int64
	for i := first; i < n; i++ {
		e := index[16*i:]
		tag := binary.BigEndian.Uint32(e)
		typ := binary.BigEndian.Uint32(e[4:])
		off := int64(int32(binary.BigEndian.Uint32(e[8:])))
		count := binary.BigEndian.Uint32(e[12:])
		bad := func(why string, args ...any) error {
			return fmt.Errorf("index entry %d (tag %d, type %d, offset %d, count %d): %s", i, tag, typ, off, count, fmt.Sprintf(why, args...))
		}
		switch {
		case off < end:
			return bad("its data overlaps the previous entry's (which ends at %d)", end)
		case typ > typeI18NString:
			return bad("unknown type")
		case count > maxEntryCount:
			return bad("count over rpm's limit of %d", maxEntryCount)
		case off > int64(len(data)):
			return bad("offset beyond the %d data bytes", len(data))
		case off%typeAlign[typ] != 0:
			return bad("offset not aligned for its type")
		}
		size, err := dataLength(typ, count, data[off:])
		if err != nil {
			return bad("%v", err)
		}
		end = off + size
		if regionStart >= 0 && end > regionStart && off < regionEnd {
			return bad("its data overlaps the region trailer at %d", regionStart)
		}
		items += int64(count)
		if items > maxHeaderItems {
			return bad("the header declares more than %d values", maxHeaderItems)
		}
		if (tag == rpmutils.BASENAMES || tag == rpmutils.OLDFILENAMES) && count > MaxHeaderFiles {
			return bad("%d files; bundle reads at most %d per package", count, MaxHeaderFiles)
		}
	}
	return nil
}

// Header data types (rpm's rpmTagType).
const (
	typeNull        = 0
	typeChar        = 1
	typeInt8        = 2
	typeInt16       = 3
	typeInt32       = 4
	typeInt64       = 5
	typeString      = 6
	typeBin         = 7
	typeStringArray = 8
	typeI18NString  = 9
)

var typeAlign = [...]int64{typeNull: 1, typeChar: 1, typeInt8: 1, typeInt16: 2, typeInt32: 4, typeInt64: 8,
	typeString: 1, typeBin: 1, typeStringArray: 1, typeI18NString: 1}

// dataLength is the size of an entry's data starting at data[0] (rpm's
// dataLength): count values of a fixed size, or count NUL-terminated
// strings (exactly one for a STRING).
func dataLength(typ, count uint32, data []byte) (int64, error) {
	switch typ {
	case typeString, typeStringArray, typeI18NString:
		if typ == typeString && count != 1 {
			return 0, errors.New("a STRING holds exactly one value")
		}
		var size int64
		for range count {
			i := bytes.IndexByte(data[size:], 0)
			if i < 0 {
				return 0, errors.New("a string runs past the end of the data")
			}
			size += int64(i) + 1
		}
		return size, nil
	}
	size := int64(count) * [...]int64{typeNull: 0, typeChar: 1, typeInt8: 1, typeInt16: 2, typeInt32: 4, typeInt64: 8, typeBin: 1}[typ]
	if size > int64(len(data)) {
		return 0, fmt.Errorf("%d data bytes run past the end of the data", size)
	}
	return size, nil
}

func eofUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseHeaders runs go-rpmutils over complete header bytes, turning its
// panics on malformed input into errors.
func parseHeaders(raw []byte) (hdr *rpmutils.RpmHeader, err error) {
	defer func() {
		if v := recover(); v != nil {
			hdr, err = nil, fmt.Errorf("malformed header: %v", v)
		}
	}()
	hdr, err = rpmutils.ReadHeader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("malformed header: %w", err)
	}
	return hdr, nil
}

// tagReader reads tags from a parsed header, remembering the first error.
type tagReader struct {
	h   *rpmutils.RpmHeader
	err error
}

func (t *tagReader) fail(tag int, err error) {
	if t.err == nil {
		t.err = fmt.Errorf("tag %d: %w", tag, err)
	}
}

func (t *tagReader) strings(tag int) []string {
	if !t.h.HasTag(tag) {
		return nil
	}
	v, err := t.h.GetStrings(tag)
	if err != nil {
		t.fail(tag, err)
	}
	return v
}

func (t *tagReader) str(tag int) string {
	if v := t.strings(tag); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (t *tagReader) u32s(tag int) []uint32 {
	if !t.h.HasTag(tag) {
		return nil
	}
	v, err := t.h.GetUint32s(tag)
	if err != nil {
		t.fail(tag, err)
	}
	return v
}

func (t *tagReader) u64s(tag int) []uint64 {
	if !t.h.HasTag(tag) {
		return nil
	}
	v, err := t.h.GetUint64s(tag)
	if err != nil {
		t.fail(tag, err)
	}
	return v
}

// u64 returns the first value of longTag, else of intTag, else -1.
func (t *tagReader) u64(intTag, longTag int) int64 {
	if v := t.u64s(longTag); len(v) > 0 {
		return int64(v[0])
	}
	if v := t.u64s(intTag); len(v) > 0 {
		return int64(v[0])
	}
	return -1
}

func (t *tagReader) bytes(tag int) []byte {
	if !t.h.HasTag(tag) {
		return nil
	}
	v, err := t.h.GetBytes(tag)
	if err != nil {
		t.fail(tag, err)
	}
	return v
}

// convertHeader fills a Package from a parsed header. go-rpmutils' getters
// can panic on inconsistent entries (negative counts); recover.
func convertHeader(h *rpmutils.RpmHeader, leadSource bool) (p *Package, info *headerInfo, err error) {
	defer func() {
		if v := recover(); v != nil {
			p, info, err = nil, nil, fmt.Errorf("malformed header: %v", v)
		}
	}()
	t := &tagReader{h: h}
	p = &Package{
		Name:          t.str(rpmutils.NAME),
		Arch:          t.str(rpmutils.ARCH),
		SourceRPM:     t.str(rpmutils.SOURCERPM),
		License:       t.str(rpmutils.LICENSE),
		Summary:       t.str(rpmutils.SUMMARY),
		URL:           t.str(rpmutils.URL),
		PayloadFormat: t.str(rpmutils.PAYLOADFORMAT),
		EVR: EVR{
			Version: t.str(rpmutils.VERSION),
			Release: t.str(rpmutils.RELEASE),
		},
	}
	if e := t.u32s(rpmutils.EPOCH); len(e) > 0 {
		p.EVR.Epoch = strconv.FormatUint(uint64(e[0]), 10)
	}
	// rpm's own test: a header without SOURCERPM is a source package. The
	// lead's type says the same for packages built by rpm.
	p.IsSource = leadSource || !h.HasTag(rpmutils.SOURCERPM)
	if p.IsSource {
		p.SourceTags = t.strings(rpmutils.SOURCE)
		p.PatchTags = t.strings(rpmutils.PATCH)
	}
	if p.PayloadFormat == "" {
		p.PayloadFormat = "cpio"
	}
	if c := t.str(rpmutils.PAYLOADCOMPRESSOR); c != "" {
		p.PayloadCompressor = c
	} else {
		p.PayloadCompressor = "gzip" // rpm's default for packages predating the tag
	}
	p.InstalledSize = t.u64(rpmutils.SIZE, rpmutils.LONGSIZE)
	if p.InstalledSize < 0 {
		p.InstalledSize = 0
	}
	if bt := t.u32s(rpmutils.BUILDTIME); len(bt) > 0 {
		p.BuildTime = int64(bt[0])
	}
	if p.Name == "" {
		return nil, nil, errors.New("malformed header: no package name")
	}

	p.Requires = t.deps(rpmutils.REQUIRENAME, rpmutils.REQUIREFLAGS, rpmutils.REQUIREVERSION)
	p.Provides = t.deps(rpmutils.PROVIDENAME, rpmutils.PROVIDEFLAGS, rpmutils.PROVIDEVERSION)
	p.Conflicts = t.deps(rpmutils.CONFLICTNAME, rpmutils.CONFLICTFLAGS, rpmutils.CONFLICTVERSION)
	p.Obsoletes = t.deps(rpmutils.OBSOLETENAME, rpmutils.OBSOLETEFLAGS, rpmutils.OBSOLETEVERSION)
	p.Recommends = t.deps(tagRecommendName, tagRecommendFlags, tagRecommendVer)
	p.Suggests = t.deps(tagSuggestName, tagSuggestFlags, tagSuggestVer)
	p.Supplements = t.deps(tagSupplementName, tagSupplementFlags, tagSupplementVer)
	p.Enhances = t.deps(tagEnhanceName, tagEnhanceFlags, tagEnhanceVer)
	legacyWeakDeps(p, t)

	p.FileDigestAlgo = "md5"
	if a := t.u32s(rpmutils.FILEDIGESTALGO); len(a) > 0 {
		p.FileDigestAlgo = digestAlgoName(a[0])
	}
	p.Files, err = t.files()
	if err != nil {
		return nil, nil, fmt.Errorf("malformed header: %w", err)
	}

	info = &headerInfo{
		sigSize:       t.u64(rpmutils.SIG_SIZE, rpmutils.SIG_LONGSIGSIZE),
		sigMD5:        t.bytes(rpmutils.SIG_MD5),
		payloadDigest: t.str(rpmutils.PAYLOADDIGEST),
		payloadAlgo:   crypto.SHA256,
	}
	if a := t.u32s(rpmutils.PAYLOADDIGESTALGO); len(a) > 0 {
		info.payloadAlgo = pgpHash(a[0])
	}
	if t.err != nil {
		return nil, nil, fmt.Errorf("malformed header: %w", t.err)
	}
	return p, info, nil
}

// legacyWeakDeps maps weak dependencies written by rpm < 4.12 (SUSE style)
// the way libsolv reads them: Requires marked MISSINGOK are Recommends,
// OLDSUGGESTS are Suggests (Recommends when STRONG), OLDENHANCES are
// Enhances (Supplements when STRONG).
func legacyWeakDeps(p *Package, t *tagReader) {
	var req []Dep
	for _, d := range p.Requires {
		if d.Flags&SenseMissingOK != 0 {
			p.Recommends = append(p.Recommends, d)
		} else {
			req = append(req, d)
		}
	}
	if len(req) != len(p.Requires) {
		p.Requires = req
	}
	for _, d := range t.deps(tagOldSuggestName, tagOldSuggestFlags, tagOldSuggestVer) {
		if d.Flags&senseStrong != 0 {
			p.Recommends = append(p.Recommends, d)
		} else {
			p.Suggests = append(p.Suggests, d)
		}
	}
	for _, d := range t.deps(tagOldEnhanceName, tagOldEnhanceFlags, tagOldEnhanceVer) {
		if d.Flags&senseStrong != 0 {
			p.Supplements = append(p.Supplements, d)
		} else {
			p.Enhances = append(p.Enhances, d)
		}
	}
}

// deps reads one dependency set. Rich dependencies keep their whole
// expression in Name and carry no version.
func (t *tagReader) deps(nameTag, flagTag, verTag int) []Dep {
	names := t.strings(nameTag)
	if len(names) == 0 {
		return nil
	}
	flags := t.u32s(flagTag)
	vers := t.strings(verTag)
	if (flags != nil && len(flags) != len(names)) || (vers != nil && len(vers) != len(names)) {
		t.fail(nameTag, fmt.Errorf("%d names but %d flags and %d versions", len(names), len(flags), len(vers)))
		return nil
	}
	out := make([]Dep, len(names))
	for i, n := range names {
		d := Dep{Name: n}
		if flags != nil {
			d.Flags = DepFlags(flags[i])
		}
		if vers != nil && vers[i] != "" {
			d.EVR = ParseEVR(vers[i])
		}
		out[i] = d
	}
	return out
}

// files reads the file list and its parallel arrays.
func (t *tagReader) files() ([]File, error) {
	var paths []string
	if t.h.HasTag(rpmutils.BASENAMES) {
		bases := t.strings(rpmutils.BASENAMES)
		dirs := t.strings(rpmutils.DIRNAMES)
		idx := t.u32s(rpmutils.DIRINDEXES)
		if len(idx) != len(bases) {
			return nil, fmt.Errorf("%d basenames but %d dir indexes", len(bases), len(idx))
		}
		paths = make([]string, len(bases))
		for i, b := range bases {
			if int64(idx[i]) >= int64(len(dirs)) {
				return nil, fmt.Errorf("file %d: dir index %d out of range (%d dirs)", i, idx[i], len(dirs))
			}
			paths[i] = dirs[idx[i]] + b
		}
	} else {
		paths = t.strings(rpmutils.OLDFILENAMES)
	}
	if t.err != nil {
		return nil, t.err
	}
	n := len(paths)
	if n == 0 {
		return nil, nil
	}
	modes := t.u32s(rpmutils.FILEMODES)
	sizes := t.u64s(rpmutils.LONGFILESIZES)
	if sizes == nil {
		sizes = t.u64s(rpmutils.FILESIZES)
	}
	if modes == nil || sizes == nil {
		return nil, fmt.Errorf("%d files but no FILEMODES or FILESIZES", n)
	}
	links := t.strings(rpmutils.FILELINKTOS)
	flags := t.u32s(rpmutils.FILEFLAGS)
	mtimes := t.u32s(rpmutils.FILEMTIMES)
	digests := t.strings(rpmutils.FILEDIGESTS)
	inodes := t.u32s(rpmutils.FILEINODES)
	devices := t.u32s(rpmutils.FILEDEVICES)
	users := t.strings(rpmutils.FILEUSERNAME)
	groups := t.strings(rpmutils.FILEGROUPNAME)
	caps := t.strings(rpmutils.FILECAPS)
	if t.err != nil {
		return nil, t.err
	}
	// In a fixed order, so that the error (and the path taken) is the
	// same on every run.
	for _, c := range []struct {
		name     string
		l        int
		optional bool
	}{
		{"FILEMODES", len(modes), false}, {"FILESIZES", len(sizes), false},
		{"FILELINKTOS", len(links), true}, {"FILEFLAGS", len(flags), true}, {"FILEMTIMES", len(mtimes), true},
		{"FILEDIGESTS", len(digests), true}, {"FILEINODES", len(inodes), true}, {"FILEDEVICES", len(devices), true},
		{"FILEUSERNAME", len(users), true}, {"FILEGROUPNAME", len(groups), true}, {"FILECAPS", len(caps), true},
	} {
		if c.l != n && !(c.optional && c.l == 0) {
			return nil, fmt.Errorf("%d files but %d %s", n, c.l, c.name)
		}
	}
	files := make([]File, n)
	for i, pth := range paths {
		f := File{Path: pth, Mode: modes[i] & 0xffff, Size: int64(sizes[i])}
		if f.Size < 0 {
			return nil, fmt.Errorf("file %s: size out of range", pth)
		}
		if links != nil {
			f.LinkTo = links[i]
		}
		if flags != nil {
			f.Flags = FileFlags(flags[i])
		}
		if mtimes != nil {
			f.Mtime = int64(mtimes[i])
		}
		if digests != nil {
			f.Digest = digests[i]
		}
		if inodes != nil {
			f.Inode = inodes[i]
		}
		if devices != nil {
			f.Device = devices[i]
		}
		if users != nil {
			f.User = users[i]
		}
		if groups != nil {
			f.Group = groups[i]
		}
		if caps != nil {
			f.Caps = caps[i]
		}
		files[i] = f
	}
	return files, nil
}

// digestAlgoName names a PGP hash algorithm id as FILEDIGESTALGO stores it.
func digestAlgoName(id uint32) string {
	switch id {
	case 1:
		return "md5"
	case 2:
		return "sha1"
	case 8:
		return "sha256"
	case 9:
		return "sha384"
	case 10:
		return "sha512"
	case 11:
		return "sha224"
	}
	return "algo" + strconv.FormatUint(uint64(id), 10)
}

// pgpHash maps a PGP hash algorithm id to a crypto.Hash (0 if unknown).
func pgpHash(id uint32) crypto.Hash {
	switch id {
	case 1:
		return crypto.MD5
	case 2:
		return crypto.SHA1
	case 8:
		return crypto.SHA256
	case 9:
		return crypto.SHA384
	case 10:
		return crypto.SHA512
	case 11:
		return crypto.SHA224
	}
	return 0
}

// cleanArchivePath returns the canonical absolute form of a header path
// and whether it is safe: absolute and free of ".." components.
func cleanArchivePath(p string) (string, bool) {
	if p == "" || p[0] != '/' {
		return "", false
	}
	for _, el := range splitSlash(p) {
		if el == ".." {
			return "", false
		}
	}
	c := path.Clean(p)
	if c == "/" {
		return "", false
	}
	return c, true
}

func splitSlash(p string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return out
}
