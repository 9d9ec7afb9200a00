package relocate

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/bundle-dev/bundle/bundle/atomicfile"
)

// EnvScriptName is the file WriteEnvScript writes at the top of the bundle.
const EnvScriptName = "bundlerc"

// DefaultEnvPath are the bundle directories put on PATH by default.
var DefaultEnvPath = []string{"/usr/bin", "/usr/sbin", "/bin"}

// HostCAFiles are the trust stores bundlerc looks for on the host, first
// found wins: EL's, Debian's and Ubuntu's, SUSE's, then the OpenSSL
// compatibility names of EL and Alpine.
var HostCAFiles = []string{
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/tls/cert.pem",
	"/etc/ssl/cert.pem",
}

// HostCADirs are the hashed certificate directories bundlerc looks for on
// the host (Debian's and Ubuntu's first; on EL /etc/ssl/certs is a link to
// /etc/pki/tls/certs).
var HostCADirs = []string{"/etc/ssl/certs", "/etc/pki/tls/certs"}

// EnvVar is one extra variable bundlerc exports.
type EnvVar struct {
	Name string `json:"name"`
	// Value may reference the bundle directory as $ROOTVAR or ${ROOTVAR}
	// (with the actual RootVar name); nothing else in it is expanded.
	Value string `json:"value"`
}

// EnvOptions configures bundlerc.
type EnvOptions struct {
	// RootVar is the variable that receives the bundle directory, e.g.
	// "DIRACOS". Required.
	RootVar string
	// Path are bundle directories prepended to PATH, first first
	// (default DefaultEnvPath).
	Path []string
	// CAFile is the bundle path of a CA bundle for SSL_CERT_FILE
	// (optional; default: the host's own trust store, see HostCAFiles).
	CAFile string
	// HostCAFiles and HostCADirs replace the package defaults of the same
	// name (tests).
	HostCAFiles, HostCADirs []string
	// TerminfoDirs are bundle directories prepended to TERMINFO_DIRS
	// (optional).
	TerminfoDirs []string
	// Extra are further variables, exported in order.
	Extra []EnvVar
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// managedVars are the variables bundlerc sets itself.
var managedVars = []string{"PATH", "LD_LIBRARY_PATH", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "TERMINFO_DIRS", "HOME", "IFS", "PS1", "PS2", "PS4", "OPTIND", "PWD", "OLDPWD", "CDPATH", "ENV", "BASH_ENV"}

// safeBundlePath checks a bundle path that is written into the script.
func safeBundlePath(p string) (string, error) {
	if !path.IsAbs(p) {
		return "", fmt.Errorf("%q is not a bundle path (absolute, from the bundle top)", p)
	}
	c := path.Clean(p)
	for _, r := range c {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._+-@%", r)) {
			return "", fmt.Errorf("%q: only letters, digits and /._+-@%% are allowed", p)
		}
	}
	if c == "/" {
		return "", nil
	}
	return c, nil
}

// envPaths are bundlerc's checked settings: the root variable, the bin
// and terminfo directories, the bundle's CA file and the host trust stores.
type envPaths struct {
	rootVar             string
	bins, terms         []string
	ca                  string
	hostFiles, hostDirs []string
}

// checkEnv checks opts and returns the cleaned paths bundlerc uses; the
// error lists every problem.
func checkEnv(opts EnvOptions) (envPaths, error) {
	rv := opts.RootVar
	var errs []error
	if !identifier.MatchString(rv) || contains(managedVars, rv) {
		errs = append(errs, fmt.Errorf("root variable %q must be a shell variable name other than %s", rv, strings.Join(managedVars, ", ")))
	}
	dirs := opts.Path
	if len(dirs) == 0 {
		dirs = DefaultEnvPath
	}
	var bins, terms []string
	for _, d := range dirs {
		c, err := safeBundlePath(d)
		if err != nil {
			errs = append(errs, fmt.Errorf("path entry: %w", err))
		}
		bins = append(bins, c)
	}
	for _, d := range opts.TerminfoDirs {
		c, err := safeBundlePath(d)
		if err != nil {
			errs = append(errs, fmt.Errorf("terminfo directory: %w", err))
		}
		terms = append(terms, c)
	}
	var ca string
	if opts.CAFile != "" {
		var err error
		if ca, err = safeBundlePath(opts.CAFile); err != nil || ca == "" {
			errs = append(errs, fmt.Errorf("CA file: %v", err))
		}
	}
	hostFiles, hostDirs := opts.HostCAFiles, opts.HostCADirs
	if hostFiles == nil {
		hostFiles = HostCAFiles
	}
	if hostDirs == nil {
		hostDirs = HostCADirs
	}
	for _, p := range append(slices.Clone(hostFiles), hostDirs...) {
		if c, err := safeBundlePath(p); err != nil || c == "" {
			errs = append(errs, fmt.Errorf("host trust store %q: %v", p, err))
		}
	}
	for _, e := range opts.Extra {
		if !identifier.MatchString(e.Name) || contains(managedVars, e.Name) || e.Name == rv || strings.HasPrefix(e.Name, "_bundle_") {
			errs = append(errs, fmt.Errorf("extra variable %q: not a shell variable name bundlerc may set", e.Name))
		}
	}
	return envPaths{rv, bins, terms, ca, hostFiles, hostDirs}, errors.Join(errs...)
}

// EnvScript returns the content of bundlerc.
func EnvScript(opts EnvOptions) ([]byte, error) {
	ep, err := checkEnv(opts)
	if err != nil {
		return nil, err
	}
	rv, bins, terms, ca, hostFiles, hostDirs := ep.rootVar, ep.bins, ep.terms, ep.ca, ep.hostFiles, ep.hostDirs

	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w(`# bundlerc: source this file to use the bundle it sits in:
#     . /path/to/bundle/bundlerc
# It is written by bundle and works wherever the bundle is unpacked.
#
# bash and zsh find this file's directory themselves (BASH_SOURCE and
# ${(%%):-%%x}), also through a symlink to this file (resolved with readlink
# -f when available). A plain POSIX shell (dash, busybox sh, ksh) cannot
# tell which file it is sourcing: there, set %[1]s to the bundle directory
# first, for example
#     %[1]s=/cvmfs/example.org/bundle/1.0/TOP; . "$%[1]s/bundlerc"
# Otherwise sourcing fails with a message and changes nothing.
#
# It exports %[1]s, prepends the bundle's bin directories to PATH (sourcing
# it twice, or after another copy of the bundle, leaves each directory once),
# unsets LD_LIBRARY_PATH (the bundle finds its libraries through RPATHs; a
# job's LD_LIBRARY_PATH could only shadow them)`, rv)
	w(",\n# sets SSL_CERT_FILE, SSL_CERT_DIR and REQUESTS_CA_BUNDLE, unless set already\n# (a user's own values win), ")
	if ca != "" {
		w("to the bundle's CA file")
	} else {
		w(`to the host's own trust store (EL:
# /etc/pki/tls, Debian and Ubuntu: /etc/ssl/certs, SUSE: /etc/ssl), so
# OpenSSL, Python's ssl and requests verify against what the site trusts`)
	}
	if len(terms) > 0 {
		w(", prepends TERMINFO_DIRS")
	}
	if len(opts.Extra) > 0 {
		w(" and exports")
		for _, e := range opts.Extra {
			w(" %s", e.Name)
		}
	}
	w(".\n\n")
	w(`_bundle_rc=
if [ -n "${BASH_SOURCE:-}" ]; then
    _bundle_rc=$BASH_SOURCE
elif [ -n "${ZSH_VERSION:-}" ]; then
    eval '_bundle_rc=${(%%):-%%x}'
fi
_bundle_top=
if [ -n "$_bundle_rc" ]; then
    if command -v readlink >/dev/null 2>&1; then
        _bundle_real=$(readlink -f -- "$_bundle_rc" 2>/dev/null) && [ -n "$_bundle_real" ] && _bundle_rc=$_bundle_real
    fi
    case $_bundle_rc in
        */*) _bundle_top=${_bundle_rc%%/*} ;;
        *) _bundle_top=. ;;
    esac
    _bundle_top=$(CDPATH= cd -P -- "${_bundle_top:-/}" >/dev/null 2>&1 && pwd -P) || _bundle_top=
elif [ -n "${%[1]s:-}" ] && [ -f "${%[1]s}/bundlerc" ]; then
    _bundle_top=$(CDPATH= cd -P -- "${%[1]s}" >/dev/null 2>&1 && pwd -P) || _bundle_top=
fi
if [ -z "$_bundle_top" ]; then
    echo "bundlerc: this shell cannot tell where the bundle is; set %[1]s to the bundle directory first: %[1]s=/path/to/bundle; . \"\$%[1]s/bundlerc\"" >&2
    unset _bundle_rc _bundle_real _bundle_top
    return 1 2>/dev/null || exit 1
fi
_bundle_old=${%[1]s:-}
`, rv)
	// strip removes every entry equal to one of the bundle directories,
	// under the new top or the previous one, from the list in variable v.
	strip := func(v string, dirs []string) {
		w("_bundle_p=\":${%s:-}:\"\n", v)
		w("for _bundle_d in")
		for _, d := range dirs {
			w(" \"$_bundle_top%s\"", d)
		}
		for _, d := range dirs {
			w(" \"${_bundle_old:+$_bundle_old%s}\"", d)
		}
		w(`; do
    [ -n "$_bundle_d" ] || continue
    while :; do
        case $_bundle_p in
            *":$_bundle_d:"*) _bundle_p=${_bundle_p%%%%":$_bundle_d:"*}:${_bundle_p#*":$_bundle_d:"} ;;
            *) break ;;
        esac
    done
done
_bundle_p=${_bundle_p#:}
_bundle_p=${_bundle_p%%:}
`)
	}
	join := func(dirs []string) string {
		var parts []string
		for _, d := range dirs {
			parts = append(parts, "$_bundle_top"+d)
		}
		return strings.Join(parts, ":")
	}
	strip("PATH", bins)
	w("PATH=\"%s${_bundle_p:+:$_bundle_p}\"\nexport PATH\n", join(bins))
	if len(terms) > 0 {
		strip("TERMINFO_DIRS", terms)
		w("# The empty last entry stands for the system's terminfo directory.\n")
		w("TERMINFO_DIRS=\"%s:$_bundle_p\"\nexport TERMINFO_DIRS\n", join(terms))
	}
	w("%s=$_bundle_top\nexport %s\nunset LD_LIBRARY_PATH\n", rv, rv)
	writeTrustStore(w, ca, hostFiles, hostDirs)
	for _, e := range opts.Extra {
		w("%s=%s\nexport %s\n", e.Name, shValue(e.Value, rv), e.Name)
	}
	w("unset _bundle_rc _bundle_real _bundle_top _bundle_old _bundle_p _bundle_d\n")
	return []byte(b.String()), nil
}

// writeTrustStore writes the part of bundlerc that sets SSL_CERT_FILE,
// SSL_CERT_DIR and REQUESTS_CA_BUNDLE when they are unset: to the bundle's
// CA file ca when there is one, else to the first trust store the host
// has. The paths were checked by safeBundlePath: no quoting needed.
func writeTrustStore(w func(string, ...any), ca string, files, dirs []string) {
	w("if [ -z \"${SSL_CERT_FILE:-}\" ]; then\n")
	if ca != "" {
		w("    SSL_CERT_FILE=\"$_bundle_top%s\"\n    export SSL_CERT_FILE\n", ca)
	} else {
		w("    for _bundle_d in %s; do\n", strings.Join(files, " "))
		w("        if [ -f \"$_bundle_d\" ] && [ -r \"$_bundle_d\" ]; then SSL_CERT_FILE=$_bundle_d; export SSL_CERT_FILE; break; fi\n    done\n")
	}
	w("fi\n")
	if ca == "" {
		w("if [ -z \"${SSL_CERT_DIR:-}\" ]; then\n")
		w("    for _bundle_d in %s; do\n", strings.Join(dirs, " "))
		w("        if [ -d \"$_bundle_d\" ]; then SSL_CERT_DIR=$_bundle_d; export SSL_CERT_DIR; break; fi\n    done\nfi\n")
	}
	w("if [ -z \"${REQUESTS_CA_BUNDLE:-}\" ] && [ -n \"${SSL_CERT_FILE:-}\" ]; then\n    REQUESTS_CA_BUNDLE=$SSL_CERT_FILE\n    export REQUESTS_CA_BUNDLE\nfi\n")
}

// shValue quotes v for sh, expanding only references to the root variable.
func shValue(v, rv string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); {
		if strings.HasPrefix(v[i:], "${"+rv+"}") {
			b.WriteString("${" + rv + "}")
			i += len(rv) + 3
			continue
		}
		if strings.HasPrefix(v[i:], "$"+rv) {
			j := i + 1 + len(rv)
			if j == len(v) || !(v[j] == '_' || v[j] >= 'a' && v[j] <= 'z' || v[j] >= 'A' && v[j] <= 'Z' || v[j] >= '0' && v[j] <= '9') {
				b.WriteString("${" + rv + "}")
				i = j
				continue
			}
		}
		if c := v[i]; c == '"' || c == '\\' || c == '$' || c == '`' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
		i++
	}
	b.WriteByte('"')
	return b.String()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// WriteEnvScript writes bundlerc at the top of the tree at root (mode 0644,
// through a temporary file renamed into place).
func WriteEnvScript(root string, opts EnvOptions) error {
	data, err := EnvScript(opts)
	if err != nil {
		return fmt.Errorf("bundlerc: %w", err)
	}
	dst := filepath.Join(root, EnvScriptName)
	if err := atomicfile.Write(dst, data, 0o644); err != nil {
		return fmt.Errorf("bundlerc: %w", err)
	}
	return nil
}
