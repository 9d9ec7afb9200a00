// Package cpio reads the cpio archives RPM payloads are made of, as a
// stream: SVR4 "newc" (070701) and "crc" (070702) entries, and rpm's
// stripped large-file format (07070X), whose entries carry only the index of
// the file in the RPM header's file list.
//
// Format notes, checked against rpm's lib/cpio.c and lib/rpmfi.c:
//
//   - newc/crc: "070701" or "070702", then 13 fields of 8 hex digits (inode,
//     mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
//     rdevminor, namesize, checksum), the NUL-terminated name, padding to a
//     multiple of 4, the data, padding to a multiple of 4. The archive ends
//     with an entry named "TRAILER!!!".
//   - stripped: "07070X" then 8 hex digits holding the file's index in the
//     header, padding to a multiple of 4, the data, padding to a multiple of
//     4. The data size is not in the archive: it comes from the RPM header
//     (the caller's SizeFunc). rpm ends a stripped archive with an ordinary
//     newc "TRAILER!!!" entry; an index of ffffffff is also taken as the end,
//     as rpm does.
//   - Hard links: in both formats rpm writes the data only once, on the last
//     member of the hard-link group; the other members carry no data (newc
//     filesize 0; in stripped mode the SizeFunc must return 0 for them).
//   - crc: the checksum is the 32-bit sum of the data bytes. It is verified
//     for regular files once their data has been consumed (read or
//     skipped); GNU cpio writes 0 for other types and rpm ignores it.
package cpio

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Format identifies the kind of a cpio entry header.
type Format int

const (
	// FormatNewc is the SVR4 portable format without checksum ("070701").
	FormatNewc Format = iota + 1
	// FormatCRC is the SVR4 portable format with checksum ("070702").
	FormatCRC
	// FormatStripped is rpm's large-file format ("07070X").
	FormatStripped
)

// String names the format as its magic.
func (f Format) String() string {
	switch f {
	case FormatNewc:
		return "070701"
	case FormatCRC:
		return "070702"
	case FormatStripped:
		return "07070X"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Limits against hostile archives.
const (
	// MaxNameSize is the longest entry name accepted, including its NUL
	// (rpm's CPIO_NAMESIZE_MAX).
	MaxNameSize = 4096
	// MaxStrippedSize bounds the data size a SizeFunc may report for a
	// stripped entry (16 TiB).
	MaxStrippedSize = 1 << 44
	// MaxIndex bounds the file index of a stripped entry.
	MaxIndex = 1<<31 - 1
)

// Header is one archive entry.
type Header struct {
	Format Format
	// Name is the name as stored in the archive ("./usr/bin/x"); empty for
	// stripped entries.
	Name string
	// Index is the file's index in the RPM header for stripped entries,
	// -1 otherwise.
	Index int
	// Size is the number of data bytes following the header.
	Size int64

	// The remaining fields are only set for newc and crc entries.
	Inode     uint32
	Mode      uint32
	UID       uint32
	GID       uint32
	Nlink     uint32
	Mtime     int64
	DevMajor  uint32
	DevMinor  uint32
	RdevMajor uint32
	RdevMinor uint32
	Checksum  uint32
}

// SizeFunc returns the number of data bytes following the stripped entry
// for the given file index (0 for directories, symlinks' targets length for
// symlinks, 0 for all but the last member of a hard-link group). An error
// aborts reading.
type SizeFunc func(index int) (int64, error)

// Errors returned by the Reader (wrapped with the offset).
var (
	ErrBadMagic    = errors.New("not a cpio entry (bad magic)")
	ErrBadHeader   = errors.New("malformed cpio header")
	ErrChecksum    = errors.New("cpio crc checksum mismatch")
	ErrNoSizeFunc  = errors.New("stripped cpio entry but no size callback")
	ErrEntryLength = errors.New("entry size out of range")
)

// Reader reads a cpio archive sequentially. Next advances to the next
// entry, skipping whatever data of the current entry was not read; Read
// reads the current entry's data.
type Reader struct {
	r      *bufio.Reader
	size   SizeFunc
	off    int64 // bytes consumed from r
	remain int64 // data bytes of the current entry not yet consumed
	hdr    *Header
	sum    uint32 // running byte sum for crc entries
	done   bool
	err    error // sticky error
}

// NewReader returns a Reader over r. size is consulted for stripped
// entries; it may be nil when the archive is known to hold none (a stripped
// entry then yields ErrNoSizeFunc).
func NewReader(r io.Reader, size SizeFunc) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), size: size}
}

// Offset reports how many archive bytes have been consumed.
func (r *Reader) Offset() int64 { return r.off }

// Next returns the next entry's header. It returns io.EOF after the
// trailer, and io.ErrUnexpectedEOF (wrapped) when the archive ends before
// its trailer.
func (r *Reader) Next() (*Header, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.done {
		return nil, io.EOF
	}
	h, err := r.next()
	if err != nil {
		if err != io.EOF {
			r.err = err
		}
		return nil, err
	}
	return h, nil
}

func (r *Reader) next() (*Header, error) {
	if r.hdr != nil {
		if err := r.skipData(); err != nil {
			return nil, err
		}
		r.hdr = nil
	}
	if err := r.skipPad(); err != nil {
		return nil, err
	}
	start := r.off
	var magic [6]byte
	if err := r.readFull(magic[:]); err != nil {
		return nil, fmt.Errorf("cpio header at offset %d: %w", start, err)
	}
	switch string(magic[:]) {
	case "07070X":
		return r.readStripped(start)
	case "070701", "070702":
		return r.readNewc(start, string(magic[:]) == "070702")
	}
	return nil, fmt.Errorf("cpio header at offset %d: %w (%q)", start, ErrBadMagic, magic[:])
}

func (r *Reader) readStripped(start int64) (*Header, error) {
	var field [8]byte
	if err := r.readFull(field[:]); err != nil {
		return nil, fmt.Errorf("cpio stripped header at offset %d: %w", start, err)
	}
	v, ok := parseHex(field[:])
	if !ok {
		return nil, fmt.Errorf("cpio stripped header at offset %d: %w: index %q is not hex", start, ErrBadHeader, field[:])
	}
	if v == 0xffffffff {
		// End marker; like the trailer, what follows is not read.
		r.done = true
		return nil, io.EOF
	}
	if err := r.skipPad(); err != nil {
		return nil, err
	}
	if v > MaxIndex {
		return nil, fmt.Errorf("cpio stripped header at offset %d: %w: index %d", start, ErrBadHeader, v)
	}
	if r.size == nil {
		return nil, fmt.Errorf("cpio stripped header at offset %d: %w", start, ErrNoSizeFunc)
	}
	idx := int(v)
	size, err := r.size(idx)
	if err != nil {
		return nil, fmt.Errorf("cpio stripped entry %d at offset %d: %w", idx, start, err)
	}
	if size < 0 || size > MaxStrippedSize {
		return nil, fmt.Errorf("cpio stripped entry %d at offset %d: %w: %d bytes", idx, start, ErrEntryLength, size)
	}
	h := &Header{Format: FormatStripped, Index: idx, Size: size}
	r.hdr, r.remain, r.sum = h, size, 0
	return h, nil
}

func (r *Reader) readNewc(start int64, crc bool) (*Header, error) {
	var raw [13 * 8]byte
	if err := r.readFull(raw[:]); err != nil {
		return nil, fmt.Errorf("cpio header at offset %d: %w", start, err)
	}
	var f [13]uint32
	for i := range f {
		v, ok := parseHex(raw[i*8 : i*8+8])
		if !ok {
			return nil, fmt.Errorf("cpio header at offset %d: %w: field %d %q is not hex", start, ErrBadHeader, i, raw[i*8:i*8+8])
		}
		f[i] = v
	}
	namesize := f[11]
	if namesize == 0 || namesize > MaxNameSize {
		return nil, fmt.Errorf("cpio header at offset %d: %w: name size %d", start, ErrBadHeader, namesize)
	}
	name := make([]byte, namesize)
	if err := r.readFull(name); err != nil {
		return nil, fmt.Errorf("cpio name at offset %d: %w", start, err)
	}
	if name[namesize-1] != 0 {
		return nil, fmt.Errorf("cpio header at offset %d: %w: name not NUL-terminated", start, ErrBadHeader)
	}
	name = name[:namesize-1]
	for _, c := range name {
		if c == 0 {
			return nil, fmt.Errorf("cpio header at offset %d: %w: NUL inside name", start, ErrBadHeader)
		}
	}
	if err := r.skipPad(); err != nil {
		return nil, err
	}
	h := &Header{
		Format: FormatNewc, Name: string(name), Index: -1,
		Inode: f[0], Mode: f[1], UID: f[2], GID: f[3], Nlink: f[4],
		Mtime: int64(f[5]), Size: int64(f[6]),
		DevMajor: f[7], DevMinor: f[8], RdevMajor: f[9], RdevMinor: f[10],
		Checksum: f[12],
	}
	if crc {
		h.Format = FormatCRC
	}
	if h.Name == "TRAILER!!!" {
		// The trailer may not carry data; rpm pads after it and stops.
		if h.Size != 0 {
			return nil, fmt.Errorf("cpio trailer at offset %d: %w: trailer with %d data bytes", start, ErrBadHeader, h.Size)
		}
		r.done = true
		return nil, io.EOF
	}
	r.hdr, r.remain, r.sum = h, h.Size, 0
	return h, nil
}

// Read reads the current entry's data. It returns io.EOF at the end of the
// entry's data and io.ErrUnexpectedEOF when the archive is truncated.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.hdr == nil || r.remain == 0 {
		if r.hdr != nil {
			if err := r.finishEntry(); err != nil {
				return 0, err
			}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := r.r.Read(p)
	r.account(p[:n])
	if err == io.EOF {
		if r.remain > 0 {
			err = io.ErrUnexpectedEOF
		} else {
			err = nil
		}
	}
	if err != nil {
		r.err = fmt.Errorf("cpio data at offset %d: %w", r.off, err)
		return n, r.err
	}
	if r.remain == 0 {
		if err := r.finishEntry(); err != nil {
			return n, err
		}
	}
	return n, nil
}

func (r *Reader) account(b []byte) {
	r.off += int64(len(b))
	r.remain -= int64(len(b))
	if r.hdr.Format == FormatCRC {
		for _, c := range b {
			r.sum += uint32(c)
		}
	}
}

// finishEntry checks the crc once all data has been consumed.
func (r *Reader) finishEntry() error {
	if r.hdr.Format == FormatCRC && r.hdr.Mode&0o170000 == 0o100000 && r.sum != r.hdr.Checksum {
		r.err = fmt.Errorf("cpio entry %q: %w (header %08x, data %08x)", r.hdr.Name, ErrChecksum, r.hdr.Checksum, r.sum)
		return r.err
	}
	return nil
}

func (r *Reader) skipData() error {
	// Straight from the bufio buffer: no copy, no allocation.
	for r.remain > 0 {
		b, err := r.r.Peek(int(min(r.remain, int64(r.r.Size()))))
		r.account(b)
		r.r.Discard(len(b))
		if err != nil {
			return fmt.Errorf("cpio data at offset %d: %w", r.off, unexpected(err))
		}
	}
	return r.finishEntry()
}

// skipPad consumes the padding up to the next multiple of 4.
func (r *Reader) skipPad() error {
	pad := int((4 - r.off%4) % 4)
	if pad == 0 {
		return nil
	}
	var buf [3]byte
	if err := r.readFull(buf[:pad]); err != nil {
		return fmt.Errorf("cpio padding at offset %d: %w", r.off, err)
	}
	return nil
}

// readFull reads exactly len(b) bytes; any shortfall, including none at
// all, is io.ErrUnexpectedEOF since a well-formed archive ends only after
// its trailer.
func (r *Reader) readFull(b []byte) error {
	n, err := io.ReadFull(r.r, b)
	r.off += int64(n)
	if err != nil {
		return unexpected(err)
	}
	return nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseHex parses exactly 8 hex digits (either case).
func parseHex(b []byte) (uint32, bool) {
	if len(b) != 8 {
		return 0, false
	}
	var v uint32
	for _, c := range b {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint32(d)
	}
	return v, true
}
