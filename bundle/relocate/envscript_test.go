package relocate

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/relocate/elfdeps/elftest"
)

func TestEnvScriptRefuses(t *testing.T) {
	for _, o := range []EnvOptions{
		{RootVar: ""},
		{RootVar: "PATH"},
		{RootVar: "1X"},
		{RootVar: "X", Path: []string{"usr/bin"}},
		{RootVar: "X", Path: []string{"/usr/my bin"}},
		{RootVar: "X", CAFile: "/etc/$(rm)"},
		{RootVar: "X", Extra: []EnvVar{{Name: "LD_LIBRARY_PATH", Value: "x"}}},
		{RootVar: "X", Extra: []EnvVar{{Name: "X", Value: "x"}}},
		{RootVar: "X", Extra: []EnvVar{{Name: "A-B", Value: "x"}}},
	} {
		if _, err := EnvScript(o); err == nil {
			t.Errorf("EnvScript(%+v) succeeded", o)
		}
	}
}

// TestEnvScriptShells sources bundlerc from bash, zsh and dash, from another
// directory, twice, after a previous copy of the bundle was sourced, and
// checks what they export.
func TestEnvScriptShells(t *testing.T) {
	base := t.TempDir()
	top := filepath.Join(base, "v2", "TOP")
	oldTop := filepath.Join(base, "v1", "TOP")
	for _, d := range []string{top, oldTop} {
		os.MkdirAll(filepath.Join(d, "usr/bin"), 0o755)
		err := WriteEnvScript(d, EnvOptions{
			RootVar: "DIRACOS", CAFile: "/etc/pki/tls/certs/ca-bundle.crt", TerminfoDirs: []string{"/usr/share/terminfo"},
			Extra: []EnvVar{{Name: "X509_CERT_DIR", Value: "$DIRACOS/etc/grid-security/certificates"},
				{Name: "WEIRD", Value: "a\"b$c`d\\e ${DIRACOS}x $DIRACOSY"}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(filepath.Join(top, "bundlerc")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("bundlerc: %v %v", fi, err)
	}
	elsewhere := filepath.Join(base, "work")
	os.MkdirAll(elsewhere, 0o755)
	linkDir := filepath.Join(base, "home")
	os.MkdirAll(linkDir, 0o755)
	os.Symlink(filepath.Join(top, "bundlerc"), filepath.Join(linkDir, "diracosrc"))

	report := `printf '%s\n' "$DIRACOS" "$PATH" "${LD_LIBRARY_PATH-unset}" "$SSL_CERT_FILE" "$TERMINFO_DIRS" "$X509_CERT_DIR" "$WEIRD" "${_bundle_top-clean}"`
	shells := []struct {
		name, shell string
		args        []string
		preset      bool
	}{
		{"bash", "bash", []string{"--noprofile", "--norc", "-c"}, false},
		{"zsh", "zsh", []string{"-f", "-c"}, false},
		{"dash", "dash", []string{"-c"}, true},
	}
	for _, sh := range shells {
		for _, how := range []string{"absolute", "relative", "symlink"} {
			t.Run(sh.name+"/"+how, func(t *testing.T) {
				elftest.RequireTools(t, sh.shell)
				rc := filepath.Join(top, "bundlerc")
				switch how {
				case "relative":
					rc, _ = filepath.Rel(elsewhere, rc)
				case "symlink":
					rc = filepath.Join(linkDir, "diracosrc")
				}
				script := `. "$1" && . "$1" && ` + report
				if sh.preset {
					script = `DIRACOS=$2; ` + script
				}
				// A previous activation of v1 is in the environment.
				cmd := exec.Command(sh.shell, append(sh.args, script, "sh", rc, top)...)
				cmd.Dir = elsewhere
				cmd.Env = []string{
					"PATH=" + oldTop + "/usr/bin:/usr/local/bin:/usr/bin:/bin",
					"DIRACOS=" + oldTop, "LD_LIBRARY_PATH=/opt/job/lib", "TERMINFO_DIRS=/opt/job/terminfo", "HOME=" + elsewhere,
				}
				if sh.preset {
					cmd.Env[1] = "DIRACOS=" + top
				}
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
				want := []string{
					top,
					top + "/usr/bin:" + top + "/usr/sbin:" + top + "/bin:/usr/local/bin:/usr/bin:/bin",
					"unset",
					top + "/etc/pki/tls/certs/ca-bundle.crt",
					top + "/usr/share/terminfo:/opt/job/terminfo",
					top + "/etc/grid-security/certificates",
					"a\"b$c`d\\e " + top + "x $DIRACOSY",
					"clean",
				}
				if sh.preset {
					// The previous activation was of this very copy.
					want[1] = top + "/usr/bin:" + top + "/usr/sbin:" + top + "/bin:" + oldTop + "/usr/bin:/usr/local/bin:/usr/bin:/bin"
				}
				if len(got) != len(want) {
					t.Fatalf("got %d lines:\n%s", len(got), out)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Errorf("line %d = %q, want %q", i, got[i], want[i])
					}
				}
			})
		}
	}
	t.Run("dash without the variable", func(t *testing.T) {
		elftest.RequireTools(t, "dash")
		cmd := exec.Command("dash", "-c", `. "$1"; echo "status=$? PATH=$PATH"`, "sh", filepath.Join(top, "bundlerc"))
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), "set DIRACOS to the bundle directory") || !strings.Contains(string(out), "status=1 PATH=/usr/bin:/bin\n") {
			t.Errorf("dash without DIRACOS: %s", out)
		}
	})
}

// TestEnvScriptTrustStore sources bundlerc with host trust stores laid out
// as EL, Debian and neither, and with the user's own values set.
func TestEnvScriptTrustStore(t *testing.T) {
	elftest.RequireTools(t, "bash", "dash")
	host := t.TempDir()
	elFile := filepath.Join(host, "pki/tls/certs/ca-bundle.crt")
	debFile := filepath.Join(host, "ssl/certs/ca-certificates.crt")
	debDir := filepath.Join(host, "ssl/certs")
	elDir := filepath.Join(host, "pki/tls/certs")
	top := filepath.Join(host, "TOP")
	os.MkdirAll(top, 0o755)
	err := WriteEnvScript(top, EnvOptions{RootVar: "B", HostCAFiles: []string{elFile, debFile}, HostCADirs: []string{debDir, elDir}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		layout []string // files to create
		env    []string
		want   string // SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE
	}{
		{"none", nil, nil, "||"},
		{"EL", []string{elFile}, nil, elFile + "|" + elDir + "|" + elFile},
		{"Debian", []string{debFile}, nil, debFile + "|" + debDir + "|" + debFile},
		{"both", []string{elFile, debFile}, nil, elFile + "|" + debDir + "|" + elFile},
		{"user file", []string{debFile}, []string{"SSL_CERT_FILE=/mine.pem"}, "/mine.pem|" + debDir + "|/mine.pem"},
		{"user all", []string{debFile}, []string{"SSL_CERT_FILE=/a", "SSL_CERT_DIR=/b", "REQUESTS_CA_BUNDLE=/c"}, "/a|/b|/c"},
	}
	for _, tt := range tests {
		for _, shell := range []string{"bash", "dash"} {
			t.Run(tt.name+"/"+shell, func(t *testing.T) {
				os.RemoveAll(filepath.Join(host, "pki"))
				os.RemoveAll(filepath.Join(host, "ssl"))
				for _, f := range tt.layout {
					os.MkdirAll(filepath.Dir(f), 0o755)
					os.WriteFile(f, []byte("-----BEGIN CERTIFICATE-----\n"), 0o644)
				}
				cmd := exec.Command(shell, "-c", `B=$1; . "$1/bundlerc" && printf '%s|%s|%s' "${SSL_CERT_FILE:-}" "${SSL_CERT_DIR:-}" "${REQUESTS_CA_BUNDLE:-}"`, "sh", top)
				cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, tt.env...)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				if string(out) != tt.want {
					t.Errorf("got  %s\nwant %s", out, tt.want)
				}
			})
		}
	}
}
