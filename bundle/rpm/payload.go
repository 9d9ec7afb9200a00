package rpm

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"crypto"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"strings"

	"github.com/bundle-dev/bundle/bundle/cpio"
	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// MaxDecoderWindow bounds the window/dictionary a zstd or lzma payload may
// ask for (512 MiB), so a hostile header cannot make the decoder allocate
// without limit.
const MaxDecoderWindow = 512 << 20

// The decoders' memory: decoderWindow is MaxDecoderWindow and xzDictCap the
// pure-Go xz decoder's dictionary (0: its default, 8 MiB). The fuzz tests
// lower both so that each input costs little.
var (
	decoderWindow = MaxDecoderWindow
	xzDictCap     = 0
)

// maxLinkTarget bounds a symlink target read from the payload (PATH_MAX).
const maxLinkTarget = 4096

// Entry is one file of a payload: the header's metadata for it merged with
// what the archive says.
type Entry struct {
	// File is the header's entry; File.Path is normalised to an absolute,
	// clean path (a source package's bare names get a leading "/"). For a symlink File.LinkTo holds the target (read from the
	// payload when the header lacks it) and no data follows.
	File
	// Index is the file's index in Package.Files.
	Index int
	// DataSize is the number of bytes Read returns for this entry: the file
	// size for a regular file carrying data, 0 for all but the data-carrying
	// member of a hard-link group, 0 for everything else.
	DataSize int64
	// Nlink is the number of members of the file's hard-link group (1 when
	// it has none).
	Nlink int
	// Links lists the indices of the hard-link group (sorted, including
	// Index); nil when the file is not hard-linked.
	Links []int
}

// Payload streams the files of a package's payload. It is not safe for
// concurrent use.
type Payload struct {
	pkg     *Package
	closers []func() error
	v       *verifier
	raw     *bufio.Reader // compressed payload
	dec     io.Reader     // decompressed payload
	cr      *cpio.Reader
	paths   []string // normalised path per file index
	byPath  map[string]int
	links   map[int][]int
	found   []bool
	cur     *Entry
	done    bool
	// The current entry's data is hashed as it is read and checked
	// against the header's file digest when its last byte is read.
	fileAlgo crypto.Hash
	fileHash hash.Hash
	fileLeft int64
}

// Open reads the headers of the RPM at path and returns its metadata
// (Path and Size set; SHA256 is not computed) and a Payload positioned
// before the first entry. The caller must Close the Payload.
func Open(path string) (*Package, *Payload, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open rpm: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("open rpm: %w", err)
	}
	p, pl, err := OpenReader(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("open rpm %s: %w", path, err)
	}
	p.Path = path
	p.Size = st.Size()
	pl.closers = append(pl.closers, f.Close)
	return p, pl, nil
}

// OpenReader is Open for a stream holding a whole RPM. Closing the Payload
// does not close r.
func OpenReader(r io.Reader) (*Package, *Payload, error) {
	// The headers are read straight from r so that every payload byte
	// passes through the verifier.
	p, info, err := readHeader(r)
	if err != nil {
		return nil, nil, err
	}
	pl, err := newPayload(p, info, r)
	if err != nil {
		return nil, nil, err
	}
	return p, pl, nil
}

func newPayload(p *Package, info *headerInfo, r io.Reader) (*Payload, error) {
	if p.PayloadFormat != "cpio" {
		return nil, fmt.Errorf("payload format %q is not supported (only cpio)", p.PayloadFormat)
	}
	pl := &Payload{
		pkg:    p,
		v:      newVerifier(info),
		paths:  make([]string, len(p.Files)),
		byPath: make(map[string]int, len(p.Files)),
		links:  map[int][]int{},
		found:  make([]bool, len(p.Files)),
	}
	if h := fileDigestHash(p.FileDigestAlgo); h.Available() {
		pl.fileAlgo = h
	}
	for i := range p.Files {
		c, err := p.FilePath(i)
		if err != nil {
			return nil, err
		}
		if j, dup := pl.byPath[c]; dup {
			return nil, fmt.Errorf("path %s listed twice in the header (files %d and %d)", c, j, i)
		}
		pl.paths[i] = c
		pl.byPath[c] = i
	}
	for _, g := range p.HardLinks() {
		for _, i := range g {
			pl.links[i] = g
		}
	}
	pl.raw = bufio.NewReaderSize(io.TeeReader(r, pl.v), 64<<10)
	dec, closeDec, err := decompressor(pl.raw, p.PayloadCompressor)
	if err != nil {
		return nil, err
	}
	pl.dec = dec
	if closeDec != nil {
		pl.closers = append(pl.closers, closeDec)
	}
	pl.cr = cpio.NewReader(dec, pl.strippedSize)
	return pl, nil
}

// strippedSize is rpm's rule (lib/rpmfi.c rpmfiArchiveReadHeader) for the
// data following a stripped entry.
func (pl *Payload) strippedSize(idx int) (int64, error) {
	if idx < 0 || idx >= len(pl.pkg.Files) {
		return 0, fmt.Errorf("file index %d out of range (%d files in the header)", idx, len(pl.pkg.Files))
	}
	f := pl.pkg.Files[idx]
	switch {
	case f.IsGhost():
		return 0, nil
	case f.IsRegular():
		if g := pl.links[idx]; len(g) > 1 && g[len(g)-1] != idx {
			return 0, nil
		}
		return f.Size, nil
	case f.IsSymlink():
		return f.Size, nil
	}
	return 0, nil
}

// Next advances to the next file of the payload, skipping unread data of
// the current one. At the end of the archive it checks that every
// non-%ghost file of the header was present, reads the compressed stream to
// its end and verifies the size and digests recorded in the headers; only
// then does it return io.EOF.
func (pl *Payload) Next() (*Entry, error) {
	if pl.done {
		return nil, io.EOF
	}
	pl.cur = nil
	for {
		h, err := pl.cr.Next()
		if err == io.EOF {
			if err := pl.finish(); err != nil {
				return nil, err
			}
			pl.done = true
			return nil, io.EOF
		}
		if err != nil {
			return nil, fmt.Errorf("payload: %w", err)
		}
		idx, err := pl.index(h)
		if err != nil {
			return nil, err
		}
		f := pl.pkg.Files[idx]
		if f.IsGhost() {
			// rpm < 4.11 sometimes put %ghost files in the payload; rpm
			// skips them.
			continue
		}
		if pl.found[idx] {
			return nil, fmt.Errorf("payload: %s appears twice", pl.paths[idx])
		}
		pl.found[idx] = true
		e, err := pl.entry(h, idx)
		if err != nil {
			return nil, err
		}
		pl.cur = e
		pl.fileHash, pl.fileLeft = nil, 0
		if e.IsRegular() && e.DataSize > 0 && e.Digest != "" && pl.fileAlgo != 0 {
			pl.fileHash, pl.fileLeft = pl.fileAlgo.New(), e.DataSize
		}
		return e, nil
	}
}

func (pl *Payload) index(h *cpio.Header) (int, error) {
	if h.Format == cpio.FormatStripped {
		return h.Index, nil // range checked by strippedSize
	}
	name := h.Name
	switch {
	case len(name) >= 2 && name[0] == '.' && name[1] == '/':
		name = name[1:]
	case len(name) > 0 && name[0] != '/':
		name = "/" + name
	default:
		return 0, fmt.Errorf("payload: refusing absolute or empty name %q", h.Name)
	}
	c, ok := cleanArchivePath(name)
	if !ok {
		return 0, fmt.Errorf("payload: refusing unsafe name %q", h.Name)
	}
	idx, ok := pl.byPath[c]
	if !ok {
		return 0, fmt.Errorf("payload: %q is not in the header's file list", h.Name)
	}
	return idx, nil
}

func (pl *Payload) entry(h *cpio.Header, idx int) (*Entry, error) {
	f := pl.pkg.Files[idx]
	path := pl.paths[idx]
	if h.Format != cpio.FormatStripped && h.Mode&unixTypeMask != f.Mode&unixTypeMask {
		return nil, fmt.Errorf("payload: %s has type %o in the archive but %o in the header", path, h.Mode&unixTypeMask, f.Mode&unixTypeMask)
	}
	e := &Entry{File: f, Index: idx, DataSize: h.Size, Nlink: 1}
	e.Path = path
	if g := pl.links[idx]; g != nil {
		e.Links = g
		e.Nlink = len(g)
	}
	switch {
	case f.IsRegular():
		if h.Size != 0 && h.Size != f.Size {
			return nil, fmt.Errorf("payload: %s has %d bytes in the archive but %d in the header", path, h.Size, f.Size)
		}
		if h.Size == 0 && f.Size != 0 && e.Nlink < 2 {
			return nil, fmt.Errorf("payload: %s has no data but %d bytes in the header", path, f.Size)
		}
	case f.IsSymlink():
		if h.Size > maxLinkTarget {
			return nil, fmt.Errorf("payload: symlink %s: target of %d bytes is too long", path, h.Size)
		}
		buf := make([]byte, h.Size)
		if _, err := io.ReadFull(pl.cr, buf); err != nil {
			return nil, fmt.Errorf("payload: symlink %s: %w", path, eofUnexpected(err))
		}
		target := string(buf)
		if f.LinkTo == "" {
			e.LinkTo = target
		} else if target != f.LinkTo {
			return nil, fmt.Errorf("payload: symlink %s points to %q in the archive but %q in the header", path, target, f.LinkTo)
		}
		if e.LinkTo == "" {
			return nil, fmt.Errorf("payload: symlink %s has an empty target", path)
		}
		e.DataSize = 0
	default:
		if h.Size != 0 {
			return nil, fmt.Errorf("payload: %s (type %o) carries %d data bytes", path, f.Mode&unixTypeMask, h.Size)
		}
	}
	return e, nil
}

// Read reads the current entry's data; io.EOF at its end.
func (pl *Payload) Read(b []byte) (int, error) {
	if pl.cur == nil {
		return 0, io.EOF
	}
	n, err := pl.cr.Read(b)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("payload: %s: %w", pl.cur.Path, err)
	}
	if pl.fileHash != nil && n > 0 {
		pl.fileHash.Write(b[:n])
		if pl.fileLeft -= int64(n); pl.fileLeft <= 0 {
			got := hex.EncodeToString(pl.fileHash.Sum(nil))
			pl.fileHash = nil
			if !strings.EqualFold(got, pl.cur.Digest) {
				return n, fmt.Errorf("%w: %s: %v digest %s, header says %s", ErrCorrupt, pl.cur.Path, pl.fileAlgo, got, pl.cur.Digest)
			}
		}
	}
	return n, err
}

// fileDigestHash maps Package.FileDigestAlgo to a crypto.Hash (0 if
// unknown).
func fileDigestHash(name string) crypto.Hash {
	switch name {
	case "md5":
		return crypto.MD5
	case "sha1":
		return crypto.SHA1
	case "sha224":
		return crypto.SHA224
	case "sha256":
		return crypto.SHA256
	case "sha384":
		return crypto.SHA384
	case "sha512":
		return crypto.SHA512
	}
	return 0
}

// maxAfterTrailer bounds the decompressed bytes a payload may hold after
// the archive's trailer (cpio pads to 512 bytes at most), so a small
// compressed tail cannot make the reader decompress without end.
const maxAfterTrailer = 1 << 20

func (pl *Payload) finish() error {
	for i, ok := range pl.found {
		if !ok && !pl.pkg.Files[i].IsGhost() {
			return fmt.Errorf("payload: %s is in the header but missing from the archive", pl.paths[i])
		}
	}
	// Read both streams to their ends so that the decompressor checks its
	// own trailer and every stored byte reaches the verifier.
	if n, err := io.Copy(io.Discard, io.LimitReader(pl.dec, maxAfterTrailer+1)); err != nil {
		return fmt.Errorf("payload: %w", err)
	} else if n > maxAfterTrailer {
		return fmt.Errorf("%w: more than %d bytes after the archive's trailer", ErrCorrupt, maxAfterTrailer)
	}
	if _, err := io.Copy(io.Discard, pl.raw); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	return pl.v.check()
}

// Close releases the decompressor and, for Open, the file.
func (pl *Payload) Close() error {
	var errs []error
	for i := len(pl.closers) - 1; i >= 0; i-- {
		errs = append(errs, pl.closers[i]())
	}
	pl.closers = nil
	return errors.Join(errs...)
}

// decErr names the decompressor in errors other than io.EOF.
type decErr struct {
	r    io.Reader
	kind string
}

func (d decErr) Read(b []byte) (int, error) {
	n, err := d.r.Read(b)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %w", d.kind, err)
	}
	return n, err
}

// decompressor picks the decompressor from the stream's magic bytes; the
// header's PAYLOADCOMPRESSOR is only needed for legacy lzma, which has
// none. (rpm reads a payload whose tag says gzip but which is not
// compressed, as old hlinktest packages are: gzdio passes such data
// through. Sniffing covers that.)
func decompressor(br *bufio.Reader, tag string) (io.Reader, func() error, error) {
	magic, err := br.Peek(6)
	if len(magic) == 0 {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, nil, fmt.Errorf("payload missing: %w", err)
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := kgzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip payload: %w", eofUnexpected(err))
		}
		return decErr{zr, "gzip payload"}, zr.Close, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return decErr{bzip2.NewReader(br), "bzip2 payload"}, nil, nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		if prog := xzProgram(); ExternalXZ && prog != "" {
			if xp, err := startXZ(prog, br); err == nil {
				return decErr{xp, "xz payload"}, xp.Close, nil
			}
		}
		if err := checkXZDict(br); err != nil {
			return nil, nil, fmt.Errorf("xz payload: %w", err)
		}
		xr, err := xz.ReaderConfig{DictCap: xzDictCap}.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("xz payload: %w", eofUnexpected(err))
		}
		return decErr{xr, "xz payload"}, nil, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(uint64(decoderWindow)))
		if err != nil {
			return nil, nil, fmt.Errorf("zstd payload: %w", err)
		}
		return decErr{zr, "zstd payload"}, func() error { zr.Close(); return nil }, nil
	case bytes.HasPrefix(magic, []byte("0707")):
		return br, nil, nil
	case tag == "lzma":
		lr, err := lzma.ReaderConfig{DictCap: decoderWindow}.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("lzma payload: %w", err)
		}
		return decErr{lr, "lzma payload"}, nil, nil
	}
	return nil, nil, fmt.Errorf("unrecognised payload compression (header says %q, payload starts % x)", tag, magic)
}

// checkXZDict refuses an xz stream whose first block asks for an LZMA2
// dictionary over decoderWindow: the pure-Go decoder allocates whatever
// the stream declares (up to 4 GiB). It reads the block header as the xz
// format defines it (stream header, block header size and flags, optional
// sizes, filter flags); what it cannot read is left to the decoder.
func checkXZDict(br *bufio.Reader) error {
	const streamHeader = 12
	head, _ := br.Peek(streamHeader + 1)
	if len(head) < streamHeader+1 || head[streamHeader] == 0 {
		return nil // no block (an index follows): nothing to allocate
	}
	size := (int(head[streamHeader]) + 1) * 4
	b, _ := br.Peek(streamHeader + size)
	if len(b) < streamHeader+size {
		return nil
	}
	b = b[streamHeader+1 : streamHeader+size-4] // after the size byte, before the CRC32
	uvarint := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	if len(b) == 0 {
		return nil
	}
	flags := b[0]
	b = b[1:]
	for _, present := range []bool{flags&0x40 != 0, flags&0x80 != 0} { // compressed, uncompressed size
		if present {
			if _, ok := uvarint(); !ok {
				return nil
			}
		}
	}
	for range int(flags&3) + 1 {
		id, ok1 := uvarint()
		n, ok2 := uvarint()
		if !ok1 || !ok2 || n > uint64(len(b)) {
			return nil
		}
		props := b[:n]
		b = b[n:]
		if id == 0x21 && len(props) == 1 { // LZMA2: the dictionary size code
			d := props[0] & 0x3f
			dict := int64(math.MaxUint32)
			if d < 40 {
				dict = int64(2|d&1) << (d/2 + 11)
			}
			if dict > int64(decoderWindow) {
				return fmt.Errorf("a dictionary of %d bytes is over the limit of %d", dict, decoderWindow)
			}
		}
	}
	return nil
}
