package jail

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/bundle-dev/bundle/bundle/runner"
	"github.com/bundle-dev/bundle/bundle/testenv"
)

// needJail skips without bwrap, or fails with BUNDLE_REQUIRE_TOOLS=1.
func needJail(t *testing.T) {
	t.Helper()
	testenv.Tools(t, "bwrap", "setpriv")
}

func run(t *testing.T, j Jail, dir, script string, args ...string) (string, error) {
	t.Helper()
	out, err := runner.Output(context.Background(), Runner{Jail: j}, runner.Cmd{Name: "/bin/sh", Args: append([]string{"-c", script, "sh"}, args...), Dir: dir})
	return string(out), err
}

func TestPrefixBinds(t *testing.T) {
	needJail(t)
	base := t.TempDir()
	priv := filepath.Join(base, "private")
	w := filepath.Join(priv, "a", "work")
	r := filepath.Join(base, "open", "ro")
	for _, d := range []string{w, r} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(priv, 0o700); err != nil {
		t.Fatal(err)
	}
	a, err := Jail{Writable: []string{w}, Readable: []string{r}}.Prefix("/x")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(a, " ")
	for _, want := range []string{"--ro-bind / /", "--perms 1777 --tmpfs /tmp", "--bind " + w + " " + w, "--ro-bind " + r + " " + r,
		"--unshare-net", "--unshare-pid", "--chdir /x", "--die-with-parent"} {
		if !strings.Contains(got, want) {
			t.Errorf("prefix lacks %q:\n%s", want, got)
		}
	}
	if os.Geteuid() == 0 {
		// base is under /tmp (a private tmpfs): the chain is recreated.
		for _, want := range []string{"--perms 0755 --dir " + priv, "--perms 0755 --dir " + filepath.Join(priv, "a"), "--reuid=" + strconv.Itoa(UID), "--no-new-privs"} {
			if !strings.Contains(got, want) {
				t.Errorf("prefix lacks %q:\n%s", want, got)
			}
		}
	}
	net, err := Jail{Network: true}.Prefix("")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(net, " "), "--unshare-net") {
		t.Error("Network: true still unshares the network")
	}
}

// TestJailContains runs a hostile script in the jail: it tries to write the
// host's /tmp, a host directory, to reach the network and to keep root;
// only its writable directory takes its files, given back to the caller.
func TestJailContains(t *testing.T) {
	needJail(t)
	base := t.TempDir()
	work, hostDir := filepath.Join(base, "work"), filepath.Join(base, "host")
	secret := filepath.Join(base, "secret")
	for _, d := range []string{work, hostDir, secret} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(work, "pre"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(secret, 0o700); err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(os.TempDir(), "bundle-jail-probe-"+strconv.Itoa(os.Getpid()))
	os.Remove(probe)
	t.Cleanup(func() { os.Remove(probe) })
	etcProbe := "/etc/bundle-jail-probe-" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { os.Remove(etcProbe) })
	// /tmp inside is the jail's own tmpfs: writing there is fine, it just
	// never reaches the host's.
	script := `touch "$1" || echo no-private-tmp
touch "$2/x" 2>/dev/null && echo wrote-host
touch "$5" 2>/dev/null && echo wrote-etc
ls "$4" >/dev/null 2>&1 && echo read-secret
mkdir "$3/made" && echo data > "$3/made/f" && ln -s / "$3/made/root-link" && echo wrote-work
echo "uid=$(id -u)"
echo "ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ,)"
echo "pid1=$(cat /proc/1/comm)"
`
	out, err := run(t, Jail{Writable: []string{work}}, work, script, probe, hostDir, work, secret, etcProbe)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, bad := range []string{"no-private-tmp", "wrote-host", "wrote-etc"} {
		if strings.Contains(out, bad) {
			t.Errorf("the jailed script could %s:\n%s", bad, out)
		}
	}
	for _, p := range []string{probe, etcProbe} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s appeared on the host", p)
		}
	}
	if ents, _ := os.ReadDir(hostDir); len(ents) != 0 {
		t.Errorf("the host directory got %d entries", len(ents))
	}
	if !strings.Contains(out, "wrote-work") {
		t.Errorf("the writable directory was not writable:\n%s", out)
	}
	if !strings.Contains(out, "ifaces=lo,\n") {
		t.Errorf("the jail has a network beyond loopback:\n%s", out)
	}
	if strings.Contains(out, "pid1=systemd") || strings.Contains(out, "pid1=init") {
		t.Errorf("the jail sees the host's processes:\n%s", out)
	}
	if os.Geteuid() == 0 {
		if !strings.Contains(out, "uid="+strconv.Itoa(UID)+"\n") {
			t.Errorf("as root the jail does not drop to %d:\n%s", UID, out)
		}
		if strings.Contains(out, "read-secret") {
			t.Errorf("the jail user read a 0700 root directory:\n%s", out)
		}
		// Everything in the writable directory is the caller's again.
		filepath.WalkDir(work, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || st.Gid != 0 {
				t.Errorf("%s is owned by %d:%d after the jail, want 0:0", p, st.Uid, st.Gid)
			}
			return nil
		})
	}
}
