package tests

import (
	"archive/zip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tlsCheck runs inside a root filesystem as nobody, after bundlerc: the
// bundle's Python serves HTTPS on the loopback with a certificate of a CA
// that only the root's trust store holds; OpenSSL's CLI, Python's urllib,
// requests and pip must verify it with no help, and must refuse it when the
// user points SSL_CERT_FILE and REQUESTS_CA_BUNDLE at another CA (the
// user's values win).
const tlsCheck = `set -eu
d=/srv/bundle-tls
cd "${TMPDIR:-/tmp}"
python3 "$d/serve.py" & pid=$!
trap 'kill $pid 2>/dev/null' EXIT
up=
for i in $(seq 100); do
    if python3 -c 'import socket; socket.create_connection(("127.0.0.1", 8443), 1)' 2>/dev/null; then up=1; break; fi
    sleep 0.1
done
test -n "$up"
echo "trust store: SSL_CERT_FILE=${SSL_CERT_FILE:-} SSL_CERT_DIR=${SSL_CERT_DIR:-}"
echo | openssl s_client -connect 127.0.0.1:8443 -verify_return_error -verify_ip 127.0.0.1 -brief 2>&1 | tee s_client.out
grep -q 'Verification: OK' s_client.out
python3 -c 'import urllib.request; assert urllib.request.urlopen("https://127.0.0.1:8443/hello").read() == b"hello\n"'
python3 -c 'import requests; r = requests.get("https://127.0.0.1:8443/hello"); assert r.text == "hello\n", r.text'
python3 -m pip download --no-deps --no-cache-dir --disable-pip-version-check -q -d pipdl --index-url https://127.0.0.1:8443/simple/ bundletls
ls pipdl/bundletls-1.0-py3-none-any.whl
# The user's own trust store wins: another CA, so every client refuses.
export SSL_CERT_FILE=$d/other-ca.pem SSL_CERT_DIR=$d/empty REQUESTS_CA_BUNDLE=$d/other-ca.pem
if echo | openssl s_client -connect 127.0.0.1:8443 -verify_return_error -brief >/dev/null 2>&1; then echo "openssl ignored SSL_CERT_FILE"; exit 1; fi
if python3 -c 'import urllib.request; urllib.request.urlopen("https://127.0.0.1:8443/hello")' 2>/dev/null; then echo "urllib ignored SSL_CERT_FILE"; exit 1; fi
if python3 -c 'import requests; requests.get("https://127.0.0.1:8443/hello")' 2>/dev/null; then echo "requests ignored REQUESTS_CA_BUNDLE"; exit 1; fi
echo tls ok
`

const tlsServer = `import http.server, ssl, functools
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory="/srv/bundle-tls/www")
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 8443), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("/srv/bundle-tls/server.pem", "/srv/bundle-tls/server.key")
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
`

// TestReferenceRoots runs `bundle test --root` on the reference bundle in
// Debian 11 (the oldest glibc it claims) and in Debian 13 with its CA store
// moved to the EL layout, each with TLS against the root's own store.
func TestReferenceRoots(t *testing.T) {
	need(t, "openssl")
	ref := referenceBundle(t)
	env := []string{"BUNDLE_CACHE=" + buildCache(t)}
	for _, tc := range []struct {
		name, suite string
		el          bool
	}{
		{"debian11", "bullseye", false},
		{"debian13-el-trust-store", "trixie", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The root as the cache has it, with the recipe's checks (from
			// the manifest).
			r := runBundle(t, env, "test", "--root", "debian:"+tc.suite, ref.Tarball)
			if r.code != 0 {
				t.Fatalf("bundle test --root debian:%s: exit %d\n%s\n%s", tc.suite, r.code, r.stdout, tail(r.stderr, 30))
			}
			if strings.Count(r.stdout, "rootfs") == 0 {
				t.Errorf("no check ran in the root filesystem:\n%s", r.stdout)
			}
			// A copy with a trust store holding only a test CA, laid out as
			// the distribution family does.
			root := filepath.Join(t.TempDir(), "root")
			cached := filepath.Join(buildCache(t), "audit-rootfs", tc.suite+"-amd64-minbase", "root")
			sh(t, "/", "cp", "-a", cached, root)
			makeTrustStore(t, root, tc.el)
			// --check runs on the host too, which has no such fixture: only
			// the root's run is the test.
			check := "tls=if [ -d /srv/bundle-tls ]; then bash /srv/bundle-tls/check.sh; else echo no TLS fixture on this side; fi"
			r = runBundle(t, env, "test", "--root", root, "--check", check, ref.Tarball)
			if r.code != 0 || !regexp.MustCompile(`(?m)^ok +rootfs:tls `).MatchString(r.stdout) {
				t.Fatalf("bundle test --root %s --check tls: exit %d\n%s\n%s", tc.name, r.code, r.stdout, tail(r.stderr, 30))
			}
		})
	}
}

// makeTrustStore writes into root a CA, a server certificate for
// 127.0.0.1 signed by it, a second CA nobody trusts, the server and check
// scripts, a one-package pip index, and the root's trust store holding only
// the first CA: /etc/ssl/certs/ca-certificates.crt and its hashed directory
// (Debian) or /etc/pki/tls/certs/ca-bundle.crt and /etc/pki/tls/cert.pem
// with no /etc/ssl/certs (EL).
func makeTrustStore(t *testing.T, root string, el bool) {
	t.Helper()
	caPEM, caCert, caKey := newCA(t, "bundle test CA")
	otherPEM, _, _ := newCA(t, "untrusted CA")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(root, "srv/bundle-tls")
	files := map[string]string{
		"server.pem":   string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		"server.key":   string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})),
		"other-ca.pem": otherPEM,
		"serve.py":     tlsServer,
		"check.sh":     tlsCheck,
		"www/hello":    "hello\n",
		"www/simple/bundletls/index.html": `<!DOCTYPE html><html><body>` +
			`<a href="/bundletls-1.0-py3-none-any.whl">bundletls-1.0-py3-none-any.whl</a></body></html>` + "\n",
	}
	for name, content := range files {
		writeFile(t, filepath.Join(d, name), content, 0o644)
	}
	os.MkdirAll(filepath.Join(d, "empty"), 0o755)
	writeWheel(t, filepath.Join(d, "www", "bundletls-1.0-py3-none-any.whl"))
	if err := os.Chmod(filepath.Join(d, "server.key"), 0o644); err != nil { // nobody reads it
		t.Fatal(err)
	}
	// Whatever store the root had goes: only the test CA is trusted.
	for _, p := range []string{"etc/ssl/certs", "etc/pki", "etc/ssl/cert.pem", "usr/lib/ssl/cert.pem"} {
		os.RemoveAll(filepath.Join(root, p))
	}
	if el {
		writeFile(t, filepath.Join(root, "etc/pki/tls/certs/ca-bundle.crt"), caPEM, 0o644)
		if err := os.Symlink("certs/ca-bundle.crt", filepath.Join(root, "etc/pki/tls/cert.pem")); err != nil {
			t.Fatal(err)
		}
		return
	}
	certs := filepath.Join(root, "etc/ssl/certs")
	writeFile(t, filepath.Join(certs, "ca-certificates.crt"), caPEM, 0o644)
	writeFile(t, filepath.Join(root, "usr/share/ca-certificates/bundle/test-ca.crt"), caPEM, 0o644)
	hash := strings.TrimSpace(sh(t, "/", "openssl", "x509", "-noout", "-subject_hash", "-in", filepath.Join(certs, "ca-certificates.crt")))
	if err := os.Symlink("/usr/share/ca-certificates/bundle/test-ca.crt", filepath.Join(certs, hash+".0")); err != nil {
		t.Fatal(err)
	}
}

func newCA(t *testing.T, name string) (string, *x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), cert, key
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// writeWheel writes a minimal valid wheel: a zip with its dist-info.
func writeWheel(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, e := range []struct{ name, content string }{
		{"bundletls.py", ""},
		{"bundletls-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: bundletls\nVersion: 1.0\n"},
		{"bundletls-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: bundle-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
		{"bundletls-1.0.dist-info/RECORD", "bundletls.py,,\nbundletls-1.0.dist-info/METADATA,,\nbundletls-1.0.dist-info/WHEEL,,\nbundletls-1.0.dist-info/RECORD,,\n"},
	} {
		w, err := zw.Create(e.name)
		if err == nil {
			_, err = w.Write([]byte(e.content))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
