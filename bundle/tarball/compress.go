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
	// GzipLevel is the deflate level: 6, gzip's own default, the usual
	// size/speed balance.
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
	// zstdConcurrency is the fixed number of encoder goroutines. With
	// concurrent blocks the input is cut into jobs of a size set by the
	// window (itself set by the level), so the frame does not depend on it.
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
			zstd.WithConcurrentBlocks(true),
			zstd.WithEncoderCRC(true),
		)
		if err != nil {
			return nil, fmt.Errorf("zstd encoder: %w", err)
		}
		return enc, nil
	}
	return nil, fmt.Errorf("unknown compression %q (want gzip, zstd or none)", compression)
}
