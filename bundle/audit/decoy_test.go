package audit

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/relocate/elfdeps/elftest"
	"github.com/bundle-dev/bundle/bundle/testenv"
)

// TestDecoyIsLoadedAndFails builds a program against a real library without
// a search path and runs it with LD_LIBRARY_PATH at the decoy: it must stop
// with the decoy's message and status, and the loader's listing must show
// the decoy.
func TestDecoyIsLoadedAndFails(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "lib")
	decoys := filepath.Join(dir, "decoys")
	os.MkdirAll(lib, 0o755)
	os.MkdirAll(decoys, 0o755)
	elftest.BuildLib(t, lib, elftest.Lib{Soname: "libreal.so.1", Source: "int real(void){return 7;}"})
	exe := elftest.BuildExe(t, filepath.Join(dir, "exe"), "int real(void); int main(void){return real();}", "-L", lib, "-l:libreal.so.1")
	if err := writeDecoy(decoys, "libreal.so.1", elf.EM_X86_64); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = []string{"LD_LIBRARY_PATH=" + decoys}
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != DecoyExit || !strings.Contains(string(out), DecoyMarker+" libreal.so.1") {
		t.Fatalf("exe with the decoy: %v %q", err, out)
	}
	cmd = exec.Command(exe)
	cmd.Env = []string{"LD_LIBRARY_PATH=" + lib}
	if out, err := cmd.CombinedOutput(); err == nil || err.(*exec.ExitError).ExitCode() != 7 {
		t.Fatalf("exe with the real library: %v %q", err, out)
	}
	ldso := "/lib64/ld-linux-x86-64.so.2"
	testenv.Exists(t, ldso)
	cmd = exec.Command(ldso, "--list", exe)
	cmd.Env = []string{"LD_LIBRARY_PATH=" + decoys}
	out, err = cmd.CombinedOutput()
	if !strings.Contains(string(out), "libreal.so.1 => "+filepath.Join(decoys, "libreal.so.1")) {
		t.Fatalf("ld.so --list: %v %s", err, out)
	}
}

func TestDecoyWithoutCode(t *testing.T) {
	data, err := decoyLib("libz.so.1", elf.EM_AARCH64)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), DecoyMarker) {
		t.Error("a decoy for another machine carries x86_64 code")
	}
	if _, err := decoyLib("", elf.EM_X86_64); err == nil {
		t.Error("empty soname accepted")
	}
}
