package diff

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Entry is one non-directory entry of a tarball.
type Entry struct {
	Type   string `json:"type"` // file or symlink
	Mode   int64  `json:"mode"`
	Size   int64  `json:"size"`
	Digest string `json:"digest"` // sha256 of the content; a symlink's target
}

// Tree maps the paths of a tarball's entries, relative to its top
// directory, to what they hold.
type Tree map[string]Entry

// ReadTree streams a tarball (gzip, zstd or plain, told apart by their
// magic bytes) and digests every regular file. Paths lose their first
// component, the bundle's top directory, so bundles with different top
// directories compare by content.
func ReadTree(ctx context.Context, path string) (Tree, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	t, err := readTree(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return t, nil
}

func readTree(ctx context.Context, r io.Reader) (Tree, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic, _ := br.Peek(4)
	var src io.Reader = br
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		src = zr
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<27))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		src = zr
	}
	tr := tar.NewReader(src)
	tree := Tree{}
	h := sha256.New()
	buf := make([]byte, 256<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return tree, nil
		}
		if err != nil {
			return nil, fmt.Errorf("not a readable tarball: %w", err)
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		if i := strings.IndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		} else {
			name = ""
		}
		name = strings.TrimSuffix(name, "/")
		if name == "" {
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			h.Reset()
			n, err := io.CopyBuffer(h, tr, buf)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", hdr.Name, err)
			}
			tree[name] = Entry{Type: "file", Mode: hdr.Mode & 0o7777, Size: n, Digest: hex.EncodeToString(h.Sum(nil))}
		case tar.TypeSymlink:
			tree[name] = Entry{Type: "symlink", Mode: 0o777, Digest: hdr.Linkname}
		case tar.TypeLink:
			tree[name] = Entry{Type: "hardlink", Digest: hdr.Linkname}
		}
	}
}
