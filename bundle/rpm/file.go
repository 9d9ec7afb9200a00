package rpm

import (
	"bufio"
	"bytes"
	"crypto"
	_ "crypto/md5" // hash implementations for payload and signature digests
	_ "crypto/sha1"
	"crypto/sha256"
	_ "crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
)

// ErrCorrupt is returned (wrapped) when a package's size or digests recorded
// in its headers do not match its content: a truncated or damaged file.
var ErrCorrupt = errors.New("package corrupted or truncated")

// ReadPackageFile reads the headers of the RPM at path and streams the rest
// of the file to fill Path, Size and SHA256 (of the whole file). On the way
// it checks the package's integrity: the header digest, and, when the
// headers record them, the header+payload size, the payload digest and the
// header+payload MD5. Signatures are not checked. Every error names the
// file.
func ReadPackageFile(path string) (*Package, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read rpm: %w", err)
	}
	defer f.Close()
	sum := sha256.New()
	cnt := &countWriter{}
	br := bufio.NewReaderSize(io.TeeReader(f, io.MultiWriter(sum, cnt)), 64<<10)
	p, info, err := readHeader(br)
	if err != nil {
		return nil, fmt.Errorf("read rpm %s: %w", path, err)
	}
	v := newVerifier(info)
	if _, err := io.Copy(v, br); err != nil {
		return nil, fmt.Errorf("read rpm %s: %w", path, err)
	}
	if err := v.check(); err != nil {
		return nil, fmt.Errorf("read rpm %s: %w", path, err)
	}
	p.Path = path
	p.Size = cnt.n
	p.SHA256 = hex.EncodeToString(sum.Sum(nil))
	return p, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(b []byte) (int, error) {
	c.n += int64(len(b))
	return len(b), nil
}

// verifier is fed the payload bytes as stored (compressed) and checks them
// against what the headers record.
type verifier struct {
	info    *headerInfo
	md5     hash.Hash
	payload hash.Hash
	n       int64
}

func newVerifier(info *headerInfo) *verifier {
	v := &verifier{info: info}
	if len(info.sigMD5) > 0 {
		v.md5 = crypto.MD5.New()
		v.md5.Write(info.genHeader)
	}
	if info.payloadDigest != "" && info.payloadAlgo != 0 && info.payloadAlgo.Available() {
		v.payload = info.payloadAlgo.New()
	}
	return v
}

// Write fails as soon as the payload runs past the size the signature
// header records: a reader never decompresses more than was signed for.
func (v *verifier) Write(b []byte) (int, error) {
	v.n += int64(len(b))
	if v.info.sigSize >= 0 {
		if got := int64(len(v.info.genHeader)) + v.n; got > v.info.sigSize {
			return 0, fmt.Errorf("%w: header and payload run past the %d bytes the signature header says", ErrCorrupt, v.info.sigSize)
		}
	}
	if v.md5 != nil {
		v.md5.Write(b)
	}
	if v.payload != nil {
		v.payload.Write(b)
	}
	return len(b), nil
}

func (v *verifier) check() error {
	if v.info.sigSize >= 0 {
		if got := int64(len(v.info.genHeader)) + v.n; got != v.info.sigSize {
			return fmt.Errorf("%w: header and payload are %d bytes, the signature header says %d", ErrCorrupt, got, v.info.sigSize)
		}
	}
	if v.payload != nil {
		got := hex.EncodeToString(v.payload.Sum(nil))
		if !strings.EqualFold(got, v.info.payloadDigest) {
			return fmt.Errorf("%w: payload %v digest %s, header says %s", ErrCorrupt, v.info.payloadAlgo, got, v.info.payloadDigest)
		}
	}
	if v.md5 != nil && !bytes.Equal(v.md5.Sum(nil), v.info.sigMD5) {
		return fmt.Errorf("%w: header+payload MD5 does not match the signature header", ErrCorrupt)
	}
	return nil
}
