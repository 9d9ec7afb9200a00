package rpm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// ExternalXZ lets xz payloads be decoded by the xz(1) program (liblzma)
// when it is on PATH: about twice as fast as the pure-Go decoder, and
// multi-threaded on the multi-block streams rpm writes with w*T.xzdio. The
// pure-Go decoder is used otherwise, or when BUNDLE_PURE_GO_XZ=1.
var ExternalXZ = os.Getenv("BUNDLE_PURE_GO_XZ") != "1"

var (
	xzOnce sync.Once
	xzPath string
)

func xzProgram() string {
	xzOnce.Do(func() {
		if p, err := exec.LookPath("xz"); err == nil {
			xzPath = p
		}
	})
	return xzPath
}

// xzProcess decodes an xz stream with xz(1). It is a stream filter, not a
// job: it has no log of its own; its stderr goes into the error.
type xzProcess struct {
	cmd    *exec.Cmd
	out    io.ReadCloser
	stderr bytes.Buffer
	done   bool
	err    error
}

func startXZ(prog string, in io.Reader) (*xzProcess, error) {
	p := &xzProcess{}
	// -T0: as many threads as the stream's blocks allow; -M bounds memory
	// like MaxDecoderWindow does for the Go decoders.
	p.cmd = exec.Command(prog, "--decompress", "--stdout", "--threads=0", "--memlimit-decompress=1GiB", "--quiet")
	p.cmd.Stdin = in
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.out = out
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *xzProcess) Read(b []byte) (int, error) {
	if p.done {
		return 0, p.finalErr()
	}
	n, err := p.out.Read(b)
	if err == io.EOF {
		p.done = true
		p.err = p.cmd.Wait()
		return n, p.finalErr()
	}
	return n, err
}

func (p *xzProcess) finalErr() error {
	if p.err == nil {
		return io.EOF
	}
	msg := strings.TrimSpace(p.stderr.String())
	if strings.Contains(msg, "Unexpected end of input") {
		return io.ErrUnexpectedEOF
	}
	return fmt.Errorf("xz: %v: %s", p.err, msg)
}

// Close stops xz if the payload was not read to its end.
func (p *xzProcess) Close() error {
	if p.done {
		return nil
	}
	p.done = true
	p.out.Close()
	if p.cmd.Process != nil {
		p.cmd.Process.Kill()
	}
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil // killed on purpose
	}
	return err
}
