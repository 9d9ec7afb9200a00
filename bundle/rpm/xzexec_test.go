package rpm

import (
	"crypto/sha256"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/bundle-dev/bundle/bundle/testenv"
)

// payloadDigest reads every entry of path's payload and hashes names and data.
func payloadDigest(t *testing.T, path string) string {
	t.Helper()
	_, pl, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	h := sha256.New()
	for {
		e, err := pl.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		fmt.Fprintf(h, "%s\x00%s\x00", e.Path, e.LinkTo)
		if _, err := io.Copy(h, pl); err != nil {
			t.Fatal(err)
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// The xz(1) decoder and the pure-Go one give the same payloads.
func TestExternalXZMatchesGo(t *testing.T) {
	if xzProgram() == "" {
		testenv.Skipf(t, "xz not installed")
	}
	xzs, _ := filepath.Glob(testenv.Fixture("createrepo-testsuite", "*.x86_64.rpm"))
	xzs = append(xzs, testenv.Fixture("rpm-testsuite", "capstest-1.0-1.noarch.rpm"))
	if len(xzs) < 5 {
		testenv.Skipf(t, "fixtures not found (%d xz packages)", len(xzs))
	}
	defer func(v bool) { ExternalXZ = v }(ExternalXZ)
	for _, path := range xzs {
		ExternalXZ = true
		ext := payloadDigest(t, path)
		ExternalXZ = false
		pure := payloadDigest(t, path)
		if ext != pure {
			t.Errorf("%s: xz(1) and Go decoders differ", filepath.Base(path))
		}
	}
}
