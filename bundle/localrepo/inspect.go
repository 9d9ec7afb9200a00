package localrepo

import (
	"bytes"
	"crypto"
	"crypto/md5"
	_ "crypto/sha1" // payload digests of old packages
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	rpmutils "github.com/sassoftware/go-rpmutils"
)

// pkgInfo is what Add needs to know of an RPM file.
type pkgInfo struct {
	rel       string // slash-separated path inside the repo
	buildTime int64
}

// Limits on header sizes, as rpm's own (hdrchkTags, hdrchkData): anything
// larger is a damaged or hostile file, rejected before allocating for it.
const (
	maxHeaderEntries = 0xffff
	maxHeaderData    = 256 << 20
	leadSize         = 96

	// Header tags go-rpmutils has no names for.
	tagNoSource = 1051
	tagNoPatch  = 1052
)

var (
	leadMagic   = []byte{0xed, 0xab, 0xee, 0xdb}
	headerMagic = []byte{0x8e, 0xad, 0xe8, 0x01}
)

// checkHeaderBounds walks the lead and both header intros and checks that
// their sizes are sane and fit in the file, so the header parser never
// allocates more than the file holds.
func checkHeaderBounds(f io.ReaderAt, size int64) error {
	lead := make([]byte, leadSize)
	if _, err := f.ReadAt(lead, 0); err != nil {
		return errors.New("too short for an RPM lead")
	}
	if !bytes.Equal(lead[:4], leadMagic) {
		return errors.New("not an RPM file (bad lead magic)")
	}
	off := int64(leadSize)
	for i, what := range []string{"signature header", "header"} {
		intro := make([]byte, 16)
		if _, err := f.ReadAt(intro, off); err != nil {
			return fmt.Errorf("truncated %s", what)
		}
		if !bytes.Equal(intro[:4], headerMagic) {
			return fmt.Errorf("bad %s magic", what)
		}
		il := int64(binary.BigEndian.Uint32(intro[8:12]))
		dl := int64(binary.BigEndian.Uint32(intro[12:16]))
		if il == 0 || il > maxHeaderEntries || dl > maxHeaderData {
			return fmt.Errorf("%s claims %d entries and %d bytes of data: damaged file", what, il, dl)
		}
		off += 16 + il*16 + dl
		if i == 0 {
			off = (off + 7) &^ 7 // the signature header is padded to 8 bytes
		}
		if off > size {
			return fmt.Errorf("truncated %s (%d bytes needed, file has %d)", what, off, size)
		}
	}
	return nil
}

// inspect reads an RPM file's header, checks its payload digest and
// decides where the file goes in the repo.
func inspect(file string) (pkgInfo, error) {
	f, err := os.Open(file)
	if err != nil {
		return pkgInfo{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return pkgInfo{}, err
	}
	if !fi.Mode().IsRegular() {
		return pkgInfo{}, fmt.Errorf("%s is not a regular file", file)
	}
	info, err := inspectRPM(f, fi.Size())
	if err != nil {
		return pkgInfo{}, fmt.Errorf("%s: %w", file, err)
	}
	return info, nil
}

// inspectRPM is inspect on the bytes of an RPM. It never panics on bad
// input.
func inspectRPM(f io.ReaderAt, size int64) (info pkgInfo, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed RPM header (%v)", r)
		}
	}()
	if err := checkHeaderBounds(f, size); err != nil {
		return info, err
	}
	hdr, err := rpmutils.ReadHeader(io.NewSectionReader(f, 0, size))
	if err != nil {
		return info, fmt.Errorf("read RPM header: %w", err)
	}
	rel, err := repoPath(hdr)
	if err != nil {
		return info, err
	}
	if err := verifyPayload(f, size, hdr); err != nil {
		return info, fmt.Errorf("%w (the file is damaged: rebuild or download it again)", err)
	}
	var bt int64
	if v, err := hdr.GetUint64s(rpmutils.BUILDTIME); err == nil && len(v) == 1 && v[0] < 1<<40 {
		bt = int64(v[0])
	}
	return pkgInfo{rel: rel, buildTime: bt}, nil
}

// repoPath names the file after its header, the way rpmbuild does:
// <arch>/<name>-<version>-<release>.<arch>.rpm for binary packages and
// src/<name>-<version>-<release>.src.rpm (or .nosrc.rpm) for sources.
func repoPath(hdr *rpmutils.RpmHeader) (string, error) {
	var fields [4]string
	for i, tag := range []int{rpmutils.NAME, rpmutils.VERSION, rpmutils.RELEASE, rpmutils.ARCH} {
		v, err := hdr.GetString(tag)
		if err != nil {
			return "", fmt.Errorf("header has no %s", [...]string{"name", "version", "release", "arch"}[i])
		}
		if !safeComponent(v) {
			return "", fmt.Errorf("header field %q cannot be used in a file name", v)
		}
		fields[i] = v
	}
	name, version, release, arch := fields[0], fields[1], fields[2], fields[3]
	// rpm's own rule (headerIsSource): a source package has no SOURCERPM.
	if !hdr.HasTag(rpmutils.SOURCERPM) {
		kind := "src"
		if hdr.HasTag(tagNoSource) || hdr.HasTag(tagNoPatch) {
			kind = "nosrc"
		}
		return fmt.Sprintf("src/%s-%s-%s.%s.rpm", name, version, release, kind), nil
	}
	if arch == "src" || arch == "nosrc" || arch == "repodata" {
		return "", fmt.Errorf("binary package with arch %q", arch)
	}
	return fmt.Sprintf("%s/%s-%s-%s.%s.rpm", arch, name, version, release, arch), nil
}

// safeComponent reports whether a header string can be part of a file name.
func safeComponent(s string) bool {
	if s == "" || len(s) > 200 || s == "." || s == ".." || strings.HasPrefix(s, ".") {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == '/' || r == '\\' || r == 0x7f {
			return false
		}
	}
	return true
}

// Payload digest algorithms (rpm's PGPHASHALGO values).
var digestAlgos = map[uint32]crypto.Hash{
	1: crypto.MD5, 2: crypto.SHA1, 8: crypto.SHA256, 9: crypto.SHA384, 10: crypto.SHA512, 11: crypto.SHA224,
}

// verifyPayload checks the payload against the header's payload digest
// (PAYLOADDIGEST; SHA-256 when no algorithm is recorded, as rpm assumes) or,
// for packages older than payload digests, the MD5 over header and payload.
// Packages with neither are accepted as they are.
func verifyPayload(f io.ReaderAt, size int64, hdr *rpmutils.RpmHeader) error {
	rng := hdr.GetRange()
	if digests, err := hdr.GetStrings(rpmutils.PAYLOADDIGEST); err == nil && len(digests) > 0 {
		algo := crypto.SHA256
		if algos, err := hdr.GetUint32s(rpmutils.PAYLOADDIGESTALGO); err == nil && len(algos) > 0 {
			a, ok := digestAlgos[algos[0]]
			if !ok {
				return fmt.Errorf("unknown payload digest algorithm %d", algos[0])
			}
			algo = a
		}
		h := algo.New()
		if _, err := io.Copy(h, io.NewSectionReader(f, int64(rng.End), size-int64(rng.End))); err != nil {
			return fmt.Errorf("read payload: %w", err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, digests[0]) {
			return fmt.Errorf("payload %s digest mismatch: header says %s, payload has %s", algo, digests[0], got)
		}
		return nil
	}
	if sum, err := hdr.GetBytes(rpmutils.SIG_MD5); err == nil && len(sum) == md5.Size {
		h := md5.New()
		if _, err := io.Copy(h, io.NewSectionReader(f, int64(rng.Start), size-int64(rng.Start))); err != nil {
			return fmt.Errorf("read payload: %w", err)
		}
		if got := h.Sum(nil); !bytes.Equal(got, sum) {
			return fmt.Errorf("MD5 digest mismatch: header says %x, file has %x", sum, got)
		}
	}
	return nil
}
