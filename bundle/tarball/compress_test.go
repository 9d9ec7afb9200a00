package tarball

import (
	"bytes"
	"os/exec"
	"testing"

	"github.com/bundle-dev/bundle/bundle/testenv"
	"github.com/klauspost/compress/zstd"
)

// TestZstdFrames: the input cut into frames, compressed by 1 or 5 workers
// and written in any chunking, gives the same bytes, which decode (by
// klauspost/compress and by zstd(1)) to the input; an empty input is a
// valid stream.
func TestZstdFrames(t *testing.T) {
	input := textData(10_000, 3)
	compress := func(workers int, chunk int, in []byte) []byte {
		var out bytes.Buffer
		z, err := newZstdFrames(&out, 1024, workers)
		if err != nil {
			t.Fatal(err)
		}
		for len(in) > 0 {
			n := min(chunk, len(in))
			if _, err := z.Write(in[:n]); err != nil {
				t.Fatal(err)
			}
			in = in[n:]
		}
		if err := z.Close(); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	one := compress(1, 4096, input)
	for _, tc := range []struct{ workers, chunk int }{{5, 4096}, {2, 1}, {3, 1024}, {8, 100_000}} {
		if got := compress(tc.workers, tc.chunk, input); !bytes.Equal(got, one) {
			t.Errorf("%d workers, writes of %d bytes: other bytes than 1 worker", tc.workers, tc.chunk)
		}
	}
	cases := map[string][]byte{"10 frames": input, "empty": nil}
	for name, in := range cases {
		dec, err := zstd.NewReader(nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dec.DecodeAll(compress(2, 333, in), nil)
		dec.Close()
		if err != nil || !bytes.Equal(got, in) {
			t.Errorf("%s: decoded %d bytes (%v), want %d", name, len(got), err, len(in))
		}
	}
	zstdCLI := testenv.LookPath(t, "zstd")
	for name, in := range cases {
		cmd := exec.Command(zstdCLI, "-dc")
		cmd.Stdin = bytes.NewReader(compress(2, 333, in))
		out, err := cmd.Output()
		if err != nil || !bytes.Equal(out, in) {
			t.Errorf("%s: zstd -dc gives %d bytes (%v), want %d", name, len(out), err, len(in))
		}
	}
}
