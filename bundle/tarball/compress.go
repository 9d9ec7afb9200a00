package tarball

import (
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// Compression parameters. They are constants, never derived from the
// machine (GOMAXPROCS, memory), so the same tree yields the same bytes on 1
// or 64 cores. Changing any of them, or upgrading klauspost/compress or
// klauspost/pgzip, changes the output bytes (the golden test says so).
const (
	// GzipLevel is the deflate level: 6, gzip's own default. With
	// klauspost's deflate it is several times faster than level 9 for
	// about 2% more bytes on ELF binaries.
	GzipLevel = 6
	// gzipBlockSize is pgzip's independent block size. pgzip compresses
	// each block with the previous block's last 32 KiB as dictionary, so
	// the output depends on this size but not on how many blocks run at once.
	gzipBlockSize = 1 << 20
	// gzipBlocks is how many blocks pgzip compresses concurrently.
	gzipBlocks = 4
	// gzipOS is the OS byte of the gzip header: 3 (Unix), as `gzip -n` writes.
	gzipOS = 3

	// ZstdLevel is zstd.SpeedDefault, roughly `zstd -3`.
	ZstdLevel = zstd.SpeedDefault
	// zstdConcurrency is the fixed encoder concurrency. A stream encoder
	// overlaps the encoding of one block with the writing of the previous
	// one; the blocks and so the frame do not depend on it. (The job-based
	// WithConcurrentBlocks mode is not used: on a 160 MB high-entropy input
	// it took 5x longer and 4x the memory of the stream encoder.)
	zstdConcurrency = 4
)

// nopWriteCloser adapts the uncompressed output.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// newCompressor wraps w in the named compressor. Closing it flushes the
// compressed stream into w but does not close w.
func newCompressor(w io.Writer, compression string) (io.WriteCloser, error) {
	switch compression {
	case "none":
		return nopWriteCloser{w}, nil
	case "gzip":
		gz, err := pgzip.NewWriterLevel(w, GzipLevel)
		if err != nil {
			return nil, fmt.Errorf("gzip level %d: %w", GzipLevel, err)
		}
		if err := gz.SetConcurrency(gzipBlockSize, gzipBlocks); err != nil {
			return nil, fmt.Errorf("gzip concurrency: %w", err)
		}
		// An empty header: no name, no comment, no extra field, MTIME 0
		// ("no time stamp"; pgzip would write the low 32 bits of a zero
		// time.Time otherwise), fixed OS byte.
		gz.Header.Name = ""
		gz.Header.Comment = ""
		gz.Header.Extra = nil
		gz.Header.ModTime = time.Unix(0, 0)
		gz.Header.OS = gzipOS
		return gz, nil
	case "zstd":
		enc, err := zstd.NewWriter(w,
			zstd.WithEncoderLevel(ZstdLevel),
			zstd.WithEncoderConcurrency(zstdConcurrency),
			// Entropy-code literals even where no matches are found (the
			// default skips that below SpeedBetterCompression): high-entropy
			// text then compresses to ~75% instead of ~100%, and it is faster.
			zstd.WithAllLitEntropyCompression(true),
			zstd.WithEncoderCRC(true),
		)
		if err != nil {
			return nil, fmt.Errorf("zstd encoder: %w", err)
		}
		return enc, nil
	}
	return nil, fmt.Errorf("unknown compression %q (want gzip, zstd or none)", compression)
}
