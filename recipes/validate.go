package recipes

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/bundle-dev/bundle/platforms"
)

var (
	nameRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
	versionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+~-]*$`)
	macroRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	bcondRE   = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	debNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	sha256RE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Validate checks the recipe for missing, malformed and contradictory
// values, missing local files and local files whose sha256 does not match,
// and returns every problem found, sorted by position (errors.Join of
// *Error). It changes nothing.
func (r *Recipe) Validate() error { return joinErrors(r.check()) }

type checker struct {
	r    *Recipe
	errs []*Error
}

// posOf finds the position of field, or of its nearest ancestor that has one.
func (r *Recipe) posOf(field string) Pos {
	for {
		if p, ok := r.pos[field]; ok {
			return p
		}
		if field == "" {
			return Pos{}
		}
		field = parentField(field)
	}
}

func parentField(field string) string {
	if strings.HasSuffix(field, `"]`) {
		if i := strings.LastIndex(field, `["`); i >= 0 {
			return field[:i]
		}
	}
	if strings.HasSuffix(field, "]") {
		if i := strings.LastIndex(field, "["); i >= 0 {
			return field[:i]
		}
	}
	if i := strings.LastIndex(field, "."); i >= 0 {
		return field[:i]
	}
	return ""
}

// failed reports whether one of fields (or something inside it) was given
// but could not be decoded.
func (c *checker) failed(fields ...string) bool {
	for _, u := range c.r.undecoded {
		for _, f := range fields {
			if within(u, f) {
				return true
			}
		}
	}
	return false
}

func (c *checker) add(field, format string, args ...any) {
	c.errs = append(c.errs, &Error{File: c.r.File, Pos: c.r.posOf(field), Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (r *Recipe) check() []*Error {
	c := &checker{r: r}
	c.token("name", r.Name, nameRE, true)
	c.token("version", r.Version, versionRE, true)
	c.platform()
	// top-dir defaults to the name; a bad name is reported once, as name.
	if top := r.TopDir; top != "" && (top != r.Name || nameRE.MatchString(top)) {
		if top == "." || top == ".." || !nameRE.MatchString(top) {
			c.add("top-dir", "%q is not a single directory name (letters, digits, . _ + -)", top)
		}
	}
	if len(r.All()) == 0 && !c.failed("python", "bootstrap", "packages") {
		c.add("", "no packages: give python, bootstrap or packages")
	}
	seen := map[string]string{}
	pkg := func(field, role string, p *Package) {
		if p.Name != "" {
			if first, dup := seen[p.Name]; dup {
				c.add(field+".name", "%q is already the name of %s", p.Name, first)
			} else {
				seen[p.Name] = field
			}
		}
		c.pkg(field, role, p)
	}
	if r.Python != nil {
		pkg("python", "python", r.Python)
	}
	for i, p := range r.Bootstrap {
		pkg(indexPath("bootstrap", i), "bootstrap", p)
	}
	for i, p := range r.Packages {
		pkg(indexPath("packages", i), "package", p)
	}
	c.defaults()
	c.build()
	c.closure()
	c.output()
	c.pip()
	c.env()
	c.checks()
	return c.errs
}

var shellVarRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (c *checker) env() {
	e := c.r.Env
	if e.RootVar != "" && !shellVarRE.MatchString(e.RootVar) {
		c.add("env.root-var", "%q is not a shell variable name (letters, digits, _; not starting with a digit)", e.RootVar)
	}
	if e.CAFile != "" && !strings.HasPrefix(e.CAFile, "/") {
		c.add("env.ca-file", "%q must be an absolute path inside the bundle, e.g. /etc/pki/tls/certs/ca-bundle.crt", e.CAFile)
	}
	for _, k := range sortedKeys(e.Vars) {
		if !shellVarRE.MatchString(k) {
			c.add(`env.vars["`+k+`"]`, "%q is not a shell variable name", k)
		}
	}
}

func (c *checker) checks() {
	seen := map[string]bool{}
	for i, ch := range c.r.Checks {
		f := indexPath("checks", i)
		switch {
		case ch.Name == "":
			c.add(f+".name", "required")
		case seen[ch.Name]:
			c.add(f+".name", "%q is already the name of another check", ch.Name)
		}
		seen[ch.Name] = true
		if strings.TrimSpace(ch.Run) == "" {
			c.add(f+".run", "required: the sh command line to run")
		}
	}
}

func (c *checker) token(field, value string, re *regexp.Regexp, required bool) {
	switch {
	case value == "":
		if required {
			c.add(field, "required")
		}
	case !re.MatchString(value):
		c.add(field, "%q has characters that are not allowed (letters, digits, . _ + - and no leading punctuation)", value)
	}
}

func (c *checker) platform() {
	r := c.r
	if r.Platform == "" {
		c.add("platform", "required: an embedded platform (%s) or the path to a platform file", strings.Join(platforms.Names(), ", "))
		return
	}
	ref := r.PlatformRef()
	if !isPlatformPath(r.Platform) {
		if !slices.Contains(platforms.Names(), ref) {
			c.add("platform", "unknown platform %q: embedded platforms are %s; or give the path to a platform file", r.Platform, strings.Join(platforms.Names(), ", "))
			return
		}
	} else if !c.regularFile("platform", r.Platform, ref) {
		return
	}
	if _, err := platforms.Load(ref); err != nil {
		c.add("platform", "%v", err)
	}
}

// regularFile reports whether resolved is a regular file, adding an error
// naming given when it is not.
func (c *checker) regularFile(field, given, resolved string) bool {
	fi, err := os.Stat(resolved)
	switch {
	case os.IsNotExist(err):
		c.add(field, "%q does not exist%s", given, relativeHint(given))
	case err != nil:
		c.add(field, "%q: %v", given, err)
	case !fi.Mode().IsRegular():
		c.add(field, "%q is not a regular file", given)
	default:
		return true
	}
	return false
}

func (c *checker) pkg(field, role string, p *Package) {
	c.token(field+".name", p.Name, nameRE, true)
	switch {
	case p.SRPM != nil && !p.Spec.IsZero():
		c.add(field+".spec", "give either srpm or spec, not both")
	case p.SRPM == nil && p.Spec.IsZero() && !c.failed(field+".srpm", field+".spec"):
		c.add(field, "needs srpm (a source RPM) or spec (a spec file and its sources)")
	}
	names := map[string]string{}
	if p.SRPM != nil {
		c.source(field+".srpm", *p.SRPM, nil)
		if len(p.Sources) > 0 {
			c.add(field+".sources", "only with spec: a source RPM carries its own sources")
		}
	}
	if !p.Spec.IsZero() {
		c.regularFile(field+".spec", p.Spec.Given, p.Spec.String())
	}
	for i, s := range p.Sources {
		c.source(indexPath(field+".sources", i), s, names)
	}
	for i, pt := range p.Patches {
		c.patch(indexPath(field+".patches", i), pt, names)
	}
	c.settings(field, p.Jobs, p.Memory, p.Defines, p.With, p.Without)
	c.globs(field+".keep", p.Keep)
	c.globs(field+".exclude", p.Exclude)
	if p.WithPython != nil && role != "bootstrap" {
		c.add(field+".with-python", "only for bootstrap packages")
	}
	if p.WithPython != nil && role == "bootstrap" {
		other, list := "without", p.Without
		if !*p.WithPython {
			other, list = "with", p.With
		}
		if slices.Contains(list, "python") {
			c.add(field+".with-python", "contradicts %s: [python]", other)
		}
	}
	c.noneShipped(field+".exclude", p.Exclude)
	s := c.r.Effective(p)
	for _, g := range s.Keep {
		if slices.Contains(s.Exclude, g) && (slices.Contains(p.Keep, g) || slices.Contains(p.Exclude, g)) {
			c.add(field+".keep", "%q is also excluded, so nothing it keeps is shipped", g)
		}
	}
}

// noneShipped reports an exclude glob that matches every subpackage.
func (c *checker) noneShipped(field string, exclude []string) {
	for i, g := range exclude {
		if matchesAll(g) {
			c.add(indexPath(field, i), "%q excludes every subpackage; use build-only: true to build a package without shipping it", g)
		}
	}
}

// relativeHint explains where a relative path was looked for.
func relativeHint(given string) string {
	if filepath.IsAbs(given) || strings.Contains(given, "://") {
		return ""
	}
	return " (relative paths are taken from the recipe's folder)"
}

// matchesAll reports whether glob g matches every name.
func matchesAll(g string) bool { return g != "" && strings.Trim(g, "*") == "" }

// settings checks the fields Package and Defaults share.
func (c *checker) settings(field string, jobs int, memory ByteSize, defines map[string]string, with, without []string) {
	at := func(name string) string {
		if field == "" {
			return name
		}
		return field + "." + name
	}
	if jobs < 0 {
		c.add(at("jobs"), "must not be negative, got %d", jobs)
	}
	if memory < 0 {
		c.add(at("memory"), "must not be negative, got %d", memory)
	}
	for k, v := range defines {
		f := fieldPath(at("defines"), k)
		if !macroRE.MatchString(k) {
			c.add(f, "%q is not a macro name (letters, digits, _; no leading digit, no %%)", k)
		}
		if strings.ContainsAny(v, "\n\x00") {
			c.add(f, "the value must be one line")
		}
	}
	for _, l := range []struct {
		name string
		list []string
	}{{"with", with}, {"without", without}} {
		for i, b := range l.list {
			if !bcondRE.MatchString(b) {
				c.add(indexPath(at(l.name), i), "%q is not a bcond name (letters, digits, _)", b)
			}
		}
	}
	for i, b := range without {
		if slices.Contains(with, b) {
			c.add(indexPath(at("without"), i), "%q is also in with", b)
		}
	}
}

func (c *checker) globs(field string, globs []string) {
	for i, g := range globs {
		if _, err := path.Match(g, ""); g == "" || err != nil {
			c.add(indexPath(field, i), "%q is not a valid glob", g)
		}
	}
}

func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.User != nil {
		return nil, fmt.Errorf("%q: no credentials in urls (they would end up in logs)", u.Redacted())
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return nil, fmt.Errorf("%q: no host", raw)
		}
	case "file":
		if u.Host != "" && u.Host != "localhost" || !path.IsAbs(u.Path) {
			return nil, fmt.Errorf("%q: a file:// url needs an absolute path (file:///path/to/file)", raw)
		}
	default:
		return nil, fmt.Errorf("%q: only http://, https:// and file:// urls are supported", raw)
	}
	return u, nil
}

// source checks one Source; names collects the file names of a package's
// sources and patches (nil: not checked).
func (c *checker) source(field string, s Source, names map[string]string) {
	located := c.file(field, s.URL, s.Path, s.SHA256)
	if s.Name != "" && !plainFileName(s.Name) {
		c.add(field+".name", "%q is not a plain file name", s.Name)
		return
	}
	if located || s.Name != "" {
		c.fileName(field, s.FileName(), s.Name == "", names)
	}
}

func (c *checker) patch(field string, p Patch, names map[string]string) {
	located := c.file(field, p.URL, p.Path, p.SHA256)
	switch {
	case p.Mode == "":
		c.add(field+".mode", "required: spec (applied by the spec's %%autosetup/%%autopatch) or p1 (patch -p1 after %%prep)")
	case !slices.Contains(PatchModes, p.Mode):
		c.add(field+".mode", "%q is not a patch mode (spec or p1)", p.Mode)
	}
	if located {
		c.fileName(field, p.FileName(), true, names)
	}
}

func (c *checker) fileName(field, name string, derived bool, names map[string]string) {
	if name == "" || !plainFileName(name) {
		if derived {
			c.add(field, "cannot take a file name from it; give name:")
		}
		return
	}
	if names == nil {
		return
	}
	if first, dup := names[name]; dup {
		c.add(field, "file name %q is already used by %s", name, first)
		return
	}
	names[name] = field
}

func plainFileName(n string) bool {
	return n != "" && n != "." && n != ".." && !strings.ContainsAny(n, "/\\\x00\n")
}

// file checks the url|path and sha256 shared by Source and Patch. It
// reports whether exactly one of them is given and the url is valid, so a
// file name can be taken from it.
func (c *checker) file(field, rawURL string, p Path, sum string) (located bool) {
	switch {
	case rawURL != "" && !p.IsZero():
		c.add(field+".path", "give either url or path, not both")
		return false
	case rawURL == "" && p.IsZero():
		if !c.failed(field+".url", field+".path") {
			c.add(field, "needs url or path")
		}
		return false
	}
	given := sum != ""
	if given && !sha256RE.MatchString(sum) {
		c.add(field+".sha256", "expected 64 lowercase hex digits, got %q", sum)
		sum = ""
	}
	if rawURL != "" {
		u, err := parseURL(rawURL)
		if err != nil {
			c.add(field+".url", "%v", err)
		} else if u.Scheme == "file" {
			c.regularFile(field+".url", rawURL, u.Path)
		}
		if !given {
			c.add(field+".sha256", "required with a url (sha256sum the file you checked)")
		}
		return err == nil
	}
	if !c.regularFile(field+".path", p.Given, p.String()) || sum == "" {
		return true
	}
	got, err := fileSHA256(p.String())
	if err != nil {
		c.add(field+".path", "%q: %v", p.Given, err)
	} else if got != sum {
		c.add(field+".sha256", "%q has sha256 %s, not %s", p.Given, got, sum)
	}
	return true
}

func fileSHA256(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (c *checker) defaults() {
	d := c.r.Defaults
	c.settings("defaults", d.Jobs, d.Memory, d.Defines, d.With, d.Without)
	c.globs("defaults.keep", d.Keep)
	c.globs("defaults.exclude", d.Exclude)
	c.noneShipped("defaults.exclude", d.Exclude)
	for _, g := range d.Keep {
		if slices.Contains(d.Exclude, g) {
			c.add("defaults.keep", "%q is also excluded, so nothing it keeps is shipped", g)
		}
	}
}

func (c *checker) build() {
	b := c.r.Build
	for i, p := range b.ExtraPackages {
		if !debNameRE.MatchString(p) {
			c.add(indexPath("build.extra-packages", i), "%q is not a Debian package name", p)
		}
	}
	if b.Jobs < 0 {
		c.add("build.jobs", "must not be negative, got %d", b.Jobs)
	}
	if b.CPUs < 0 {
		c.add("build.cpus", "must not be negative, got %d", b.CPUs)
	}
	if b.Executor != "" && !slices.Contains(Executors, b.Executor) {
		c.add("build.executor", "%q is not an executor (%s)", b.Executor, strings.Join(Executors, ", "))
	}
	if s := b.Slurm; s != nil {
		for _, f := range []struct{ name, v string }{{"partition", s.Partition}, {"account", s.Account}, {"qos", s.QOS}} {
			if f.v != "" && !slurmNameRE.MatchString(f.v) {
				c.add("build.slurm."+f.name, "%q is not a Slurm name (letters, digits, . _ - and , between names)", f.v)
			}
		}
		if s.Time != "" && !slurmTimeRE.MatchString(s.Time) {
			c.add("build.slurm.time", "%q is not a Slurm time limit (MINUTES, HOURS:MINUTES:SECONDS, DAYS-HOURS[:MINUTES[:SECONDS]] or UNLIMITED)", s.Time)
		}
		for i, a := range s.ExtraArgs {
			opt, _, _ := strings.Cut(a, "=")
			if len(opt) > 2 && opt[1] != '-' {
				opt = opt[:2] // -c4
			}
			switch {
			case !strings.HasPrefix(a, "-") || strings.ContainsAny(a, "\n\x00"):
				c.add(indexPath("build.slurm.extra-args", i), "%q is not an sbatch option (--name or --name=value)", a)
			case slices.Contains(SlurmReserved, opt):
				c.add(indexPath("build.slurm.extra-args", i), "%q: bundle sets %s itself (use the fields of build.slurm or the package's jobs and memory)", a, opt)
			}
		}
	}
}

var (
	slurmNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*$`)
	slurmTimeRE = regexp.MustCompile(`^([0-9]+(:[0-9]{1,2}){0,2}|[0-9]+-[0-9]+(:[0-9]{1,2}){0,2}|UNLIMITED|INFINITE)$`)
)

func (c *checker) closure() {
	cl := c.r.Closure
	c.globs("closure.ignore-requires", cl.IgnoreRequires)
	for i, e := range cl.Extra {
		if !nameRE.MatchString(e) {
			c.add(indexPath("closure.extra", i), "%q is not a package name", e)
		}
	}
	for i, p := range cl.Remove {
		f := indexPath("closure.remove", i)
		_, err := path.Match(p, "")
		switch {
		case !path.IsAbs(p):
			c.add(f, "%q is not an absolute path inside the installed tree (e.g. /usr/share/doc)", p)
		case path.Clean(p) != p || slices.Contains(strings.Split(p, "/"), ".."):
			c.add(f, "%q is not a clean path (no .., no // or trailing /)", p)
		case p == "/" || matchesAll(strings.TrimPrefix(p, "/")):
			c.add(f, "%q would remove the whole tree", p)
		case err != nil:
			c.add(f, "%q is not a valid glob", p)
		}
	}
}

func (c *checker) output() {
	o := c.r.Output.withDefaults(c.r.Dir)
	if !slices.Contains(Compressions, o.Compression) {
		c.add("output.compression", "%q is not a compression (%s)", o.Compression, strings.Join(Compressions, ", "))
	}
	if o.CatalogMax < 0 {
		c.add("output.catalog-max", "must be positive, got %d", o.CatalogMax)
	}
	if o.CatalogMin < 0 {
		c.add("output.catalog-min", "must be positive, got %d", o.CatalogMin)
	}
	if o.CatalogMin > o.CatalogMax && o.CatalogMax > 0 {
		c.add("output.catalog-min", "%d is more than catalog-max (%d)", o.CatalogMin, o.CatalogMax)
	}
}

func (c *checker) pip() {
	p := c.r.Pip
	if p == nil {
		return
	}
	if c.r.Python == nil && !c.failed("python") {
		c.add("pip", "needs python: pip installs into the bundle's own Python")
	}
	if p.Requirements.IsZero() && p.Lock.IsZero() && !c.failed("pip.requirements", "pip.lock") {
		c.add("pip", "needs requirements or lock")
	}
	if !p.Requirements.IsZero() {
		c.regularFile("pip.requirements", p.Requirements.Given, p.Requirements.String())
	}
	if !p.Lock.IsZero() {
		if fi, err := os.Stat(p.Lock.String()); err == nil && !fi.Mode().IsRegular() {
			c.add("pip.lock", "%q is not a regular file", p.Lock.Given)
		}
	}
	for i, d := range p.FindLinks {
		f := indexPath("pip.find-links", i)
		fi, err := os.Stat(d.String())
		switch {
		case d.IsZero():
			c.add(f, "empty path")
		case os.IsNotExist(err):
			c.add(f, "%q does not exist%s", d.Given, relativeHint(d.Given))
		case err != nil:
			c.add(f, "%q: %v", d.Given, err)
		case !fi.IsDir():
			c.add(f, "%q is not a directory", d.Given)
		}
	}
	if p.IndexURL != "" {
		if u, err := parseURL(p.IndexURL); err != nil {
			c.add("pip.index-url", "%v", err)
		} else if u.Scheme == "file" {
			c.add("pip.index-url", "%q: use find-links for local folders", p.IndexURL)
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
