// Package repodata reads the metadata of an RPM repository as createrepo_c
// writes it: repodata/repomd.xml, which names primary.xml (one entry per
// package: name, EVR, arch, location, checksum, dependencies) and
// filelists.xml (every package's full file list), each compressed with gzip,
// xz, zstd, bzip2 or not at all.
//
// Reading the metadata is much faster than opening every package, and gives
// the same names, versions, dependencies and file lists, with the
// differences createrepo_c introduces (see Read).
package repodata

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/bundle-dev/bundle/bundle/rpm"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// RepomdPath is where a repository's index lives, relative to its root.
const RepomdPath = "repodata/repomd.xml"

// Read returns the packages of the repository rooted at dir, in the order
// primary.xml lists them. Each package's Path is its location joined to
// dir, SHA256 its checksum when the repository uses sha256, Size the size
// of the package file. Dependencies keep their comparison flags, pre="1"
// becomes rpm.SensePreReq, rich dependencies keep their expression as the
// name. Files come from filelists.xml when the repository has it (else the
// subset primary.xml carries); a directory gets the S_IFDIR mode and a
// %ghost the rpm.FileGhost flag, other files carry only their path (the
// metadata does not say whether they are regular files or symlinks).
//
// What differs from reading the packages' headers is createrepo_c's doing:
// rpmlib() requirements, requirements the package satisfies itself (its
// own provides, its own files under bin/ and /etc), duplicate requirements
// and all but the highest libc.so.6 requirement are left out; header
// strings that are not UTF-8 are converted from Latin-1; an epoch of 0 reads
// as no epoch (they compare equal); a source package's Arch is "src".
//
// Every metadata file's checksum is verified against repomd.xml. A missing
// repomd.xml gives an error wrapping fs.ErrNotExist.
func Read(ctx context.Context, dir string) ([]*rpm.Package, error) {
	return read(ctx, dir, true)
}

// ReadPrimary is Read without filelists.xml: each package's Files is the
// subset primary.xml carries (files under bin/ directories and /etc, the
// ones file dependencies usually name). Parsing filelists dominates Read,
// so a resolver reads it only when a file dependency needs it.
func ReadPrimary(ctx context.Context, dir string) ([]*rpm.Package, error) {
	return read(ctx, dir, false)
}

func read(ctx context.Context, dir string, withFilelists bool) ([]*rpm.Package, error) {
	md, err := readRepomd(dir)
	if err != nil {
		return nil, err
	}
	primary, ok := md.find("primary")
	if !ok {
		return nil, fmt.Errorf("repodata %s: repomd.xml lists no primary metadata; regenerate it with createrepo_c", dir)
	}
	var (
		pkgs   []*rpm.Package
		pkgids []string
	)
	err = openData(dir, primary, func(r io.Reader) error {
		var err error
		pkgs, pkgids, err = parsePrimary(ctx, r, dir)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !withFilelists {
		return pkgs, nil
	}
	if fl, ok := md.find("filelists"); ok {
		var files map[fileKey][]rpm.File
		err = openData(dir, fl, func(r io.Reader) error {
			var err error
			files, err = parseFilelists(ctx, r)
			return err
		})
		if err != nil {
			return nil, err
		}
		for i, p := range pkgs {
			k := keyOf(pkgids[i], p)
			if list, ok := files[k]; ok {
				p.Files = list
			} else {
				return nil, fmt.Errorf("repodata %s: filelists has no entry for %s (pkgid %s); the metadata is inconsistent, regenerate it with createrepo_c", dir, p.NEVRA(), k.pkgid)
			}
		}
	}
	// Without filelists metadata, file lists stay primary.xml's subset.
	return pkgs, nil
}

// repomd is the part of repomd.xml bundle uses.
type repomd struct {
	XMLName xml.Name     `xml:"repomd"`
	Data    []repomdData `xml:"data"`
}

type repomdData struct {
	Type     string `xml:"type,attr"`
	Checksum struct {
		Type  string `xml:"type,attr"`
		Value string `xml:",chardata"`
	} `xml:"checksum"`
	Location struct {
		Href string `xml:"href,attr"`
	} `xml:"location"`
	Size int64 `xml:"size"`
}

func (m *repomd) find(typ string) (repomdData, bool) {
	for _, d := range m.Data {
		if d.Type == typ {
			return d, true
		}
	}
	return repomdData{}, false
}

func readRepomd(dir string) (*repomd, error) {
	path := filepath.Join(dir, filepath.FromSlash(RepomdPath))
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("repodata %s: %w", dir, err)
	}
	var md repomd
	if err := xml.Unmarshal(data, &md); err != nil {
		return nil, fmt.Errorf("repodata %s: parse %s: %w", dir, RepomdPath, err)
	}
	return &md, nil
}

// openData opens one metadata file, hands its decompressed content to
// parse, and then checks the compressed file's checksum.
func openData(dir string, d repomdData, parse func(io.Reader) error) error {
	href := d.Location.Href
	if href == "" || !filepath.IsLocal(filepath.FromSlash(href)) {
		return fmt.Errorf("repodata %s: %s location %q is not a path inside the repository", dir, d.Type, href)
	}
	path := filepath.Join(dir, filepath.FromSlash(href))
	h, err := newHash(d.Checksum.Type)
	if err != nil {
		return fmt.Errorf("repodata %s: %s: %w", dir, href, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("repodata %s: %s metadata: %w (repomd.xml names a file that is not there; regenerate the metadata with createrepo_c)", dir, d.Type, err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(io.TeeReader(f, h), 256<<10)
	r, closeDec, err := decompress(br)
	if err != nil {
		return fmt.Errorf("repodata %s: %s: %w", dir, href, err)
	}
	err = parse(r)
	closeDec()
	if err != nil {
		return fmt.Errorf("repodata %s: %s: %w", dir, href, err)
	}
	// Hash what the parser did not need to read.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return fmt.Errorf("repodata %s: %s: %w", dir, href, err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if want := strings.ToLower(strings.TrimSpace(d.Checksum.Value)); got != want {
		return fmt.Errorf("repodata %s: %s: %s checksum is %s, repomd.xml says %s: the metadata is stale or damaged, regenerate it with createrepo_c", dir, href, d.Checksum.Type, got, want)
	}
	return nil
}

func newHash(typ string) (hash.Hash, error) {
	switch typ {
	case "sha256":
		return sha256.New(), nil
	case "sha512":
		return sha512.New(), nil
	case "sha384":
		return sha512.New384(), nil
	case "sha224":
		return sha256.New224(), nil
	case "sha", "sha1":
		return sha1.New(), nil
	case "md5":
		return md5.New(), nil
	}
	return nil, fmt.Errorf("unsupported checksum type %q (createrepo_c writes sha256 by default)", typ)
}

// decompress recognises the compression by its magic bytes: gzip, xz,
// zstd, bzip2, or else plain XML.
func decompress(br *bufio.Reader) (io.Reader, func(), error) {
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("xz: %w", err)
		}
		return xr, func() {}, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, zr.Close, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), func() {}, nil
	}
	return br, func() {}, nil
}
