// Package recipes reads bundle recipes: the YAML file that says which
// packages are rebuilt for which platform and how the bundle is assembled.
//
// Loading is strict: an unknown key, a value of the wrong type and every
// validation problem are errors that carry file:line:col and the field path,
// all of them reported at once, sorted by position. Relative paths are
// resolved against the recipe's folder at load and kept both as written and
// resolved (Path).
package recipes

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/bundle-dev/bundle/platforms"
	"go.yaml.in/yaml/v3"
)

// Documented defaults, filled in by SetDefaults.
const (
	DefaultCompression = "gzip"
	DefaultCatalogMax  = 200000
	DefaultCatalogMin  = 1000
	DefaultOutputDir   = "out"
)

// Compressions are the values output.compression accepts.
var Compressions = []string{"gzip", "zstd", "none"}

// Patch modes (Patch.Mode).
const (
	PatchSpec = "spec"
	PatchP1   = "p1"
)

// Executors are the values build.executor accepts ("" is local).
var Executors = []string{"local", "slurm"}

// SlurmReserved are the sbatch options the slurm executor sets itself,
// which build.slurm.extra-args must not give.
var SlurmReserved = []string{"--parsable", "--job-name", "-J", "--cpus-per-task", "-c", "--mem", "--mem-per-cpu",
	"--dependency", "-d", "--kill-on-invalid-dep", "--output", "-o", "--error", "-e", "--open-mode", "--chdir", "-D",
	"--wrap", "--hold", "-H", "--comment", "--partition", "-p", "--account", "-A", "--qos", "-q", "--time", "-t"}

// PatchModes are the values Patch.Mode accepts.
var PatchModes = []string{PatchSpec, PatchP1}

// maxRecipeSize bounds what Load reads.
const maxRecipeSize = 16 << 20

// Load reads, decodes and validates the recipe at file. Relative paths in it
// are resolved against the file's folder; error messages name file as given.
func Load(file string) (*Recipe, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("load recipe: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRecipeSize+1))
	if err != nil {
		return nil, fmt.Errorf("load recipe %s: %w", file, err)
	}
	if len(data) > maxRecipeSize {
		return nil, fmt.Errorf("load recipe %s: larger than %d bytes; is this a recipe?", file, maxRecipeSize)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("load recipe %s: %w", file, err)
	}
	return Parse(file, data, filepath.Dir(abs))
}

// Parse decodes and validates a recipe. name is the file name used in error
// messages; relative paths are resolved against baseDir (made absolute).
// Decoding errors and validation errors are reported together, except
// validation errors about fields whose value could not be decoded.
func Parse(name string, data []byte, baseDir string) (*Recipe, error) {
	if abs, err := filepath.Abs(baseDir); err == nil {
		baseDir = abs
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, emptyRecipe(name)
		}
		return nil, syntaxError(name, err)
	}
	for {
		// further documents are an error unless empty ("---" at the end)
		var extra yaml.Node
		err := dec.Decode(&extra)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, syntaxError(name, err)
		}
		if len(extra.Content) == 1 && !(extra.Content[0].ShortTag() == "!!null" && extra.Content[0].Value == "") {
			return nil, &Error{File: name, Pos: Pos{extra.Line, extra.Column}, Msg: "a recipe is one YAML document; found a second one (remove the ---)"}
		}
	}
	if len(doc.Content) != 1 || doc.Content[0].ShortTag() == "!!null" {
		return nil, emptyRecipe(name)
	}
	d := newDecoder(name, baseDir)
	r := &Recipe{File: name, Dir: baseDir}
	d.decode(doc.Content[0], reflect.ValueOf(r).Elem(), "")
	r.pos = d.pos
	r.undecoded = d.undecoded
	r.SetDefaults()
	errs := d.errs
	if !d.stopped {
		for _, e := range r.check() {
			if !overlaps(e.Field, d.undecoded) && !slices.Contains(d.suggested, e.Field) {
				errs = append(errs, e)
			}
		}
	}
	if err := joinErrors(errs); err != nil {
		return nil, err
	}
	return r, nil
}

func emptyRecipe(name string) error {
	return &Error{File: name, Pos: Pos{1, 1}, Msg: "empty recipe: expected a mapping with name, version, platform and packages"}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a YAML parser error into an Error with its line.
func syntaxError(name string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: name, Pos: Pos{Line: line}, Msg: "invalid YAML: " + m[2]}
	}
	return &Error{File: name, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// overlaps reports whether field is or is inside one of the fields whose
// value could not be decoded.
func overlaps(field string, undecoded []string) bool {
	for _, u := range undecoded {
		if within(field, u) {
			return true
		}
	}
	return false
}

// within reports whether field a is b or below b.
func within(a, b string) bool {
	return a == b || b == "" || strings.HasPrefix(a, b+".") || strings.HasPrefix(a, b+"[")
}

// SetDefaults fills in the documented defaults of fields the recipe leaves
// empty: top-dir (the name) and output (compression, catalog sizes, dir).
// It never changes a value that is set. Parse calls it.
func (r *Recipe) SetDefaults() {
	r.TopDir = cmp.Or(r.TopDir, r.Name)
	r.Output = r.Output.withDefaults(r.Dir)
}

func (o Output) withDefaults(dir string) Output {
	o.Compression = cmp.Or(o.Compression, DefaultCompression)
	o.CatalogMax = cmp.Or(o.CatalogMax, DefaultCatalogMax)
	o.CatalogMin = cmp.Or(o.CatalogMin, DefaultCatalogMin)
	if o.Dir.IsZero() {
		o.Dir = NewPath(dir, DefaultOutputDir)
	}
	return o
}

// All lists every package: python first, then bootstrap in order, then
// packages.
func (r *Recipe) All() []*Package {
	var all []*Package
	if r.Python != nil {
		all = append(all, r.Python)
	}
	all = append(all, r.Bootstrap...)
	return append(all, r.Packages...)
}

// Package returns the package called name, or nil.
func (r *Recipe) Package(name string) *Package {
	for _, p := range r.All() {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// IsBootstrap reports whether p is one of the recipe's bootstrap packages.
func (r *Recipe) IsBootstrap(p *Package) bool { return slices.Contains(r.Bootstrap, p) }

// PlatformRef is what platforms.Load takes for the recipe's platform: the
// embedded name as written, or a path made absolute against the recipe's
// folder. Platform counts as a path when it contains a slash or ends in
// .yaml or .yml, as for platforms.Load.
func (r *Recipe) PlatformRef() string {
	if isPlatformPath(r.Platform) {
		return NewPath(r.Dir, r.Platform).Resolved
	}
	return r.Platform
}

func isPlatformPath(ref string) bool {
	return strings.ContainsAny(ref, "/\\") || strings.HasSuffix(ref, ".yaml") || strings.HasSuffix(ref, ".yml")
}

// LoadPlatform loads the recipe's platform.
func (r *Recipe) LoadPlatform() (*platforms.Platform, error) {
	return platforms.Load(r.PlatformRef())
}

// Effective returns p's settings merged with the recipe's defaults:
//   - jobs, memory: the package's when set, else the defaults';
//   - defines: the defaults' overlaid with the package's;
//   - with/without: the defaults' minus what the package switches the
//     other way, plus the package's; for a bootstrap package, with-python
//     adds "python" to with (true) or without (false);
//   - keep: the package's when given, else the defaults';
//   - exclude: the defaults' followed by the package's.
//
// The recipe is not changed.
func (r *Recipe) Effective(p *Package) Settings {
	d := r.Defaults
	s := Settings{
		Jobs:      cmp.Or(p.Jobs, d.Jobs),
		Memory:    cmp.Or(p.Memory, d.Memory),
		BuildOnly: p.BuildOnly,
	}
	if len(d.Defines)+len(p.Defines) > 0 {
		s.Defines = make(map[string]string, len(d.Defines)+len(p.Defines))
		for k, v := range d.Defines {
			s.Defines[k] = v
		}
		for k, v := range p.Defines {
			s.Defines[k] = v
		}
	}
	with, without := slices.Clone(p.With), slices.Clone(p.Without)
	if p.WithPython != nil && r.IsBootstrap(p) {
		if *p.WithPython {
			with = append(with, "python")
		} else {
			without = append(without, "python")
		}
	}
	s.With = bconds(d.With, without, with)
	s.Without = bconds(d.Without, with, without)
	s.Keep = slices.Clone(p.Keep)
	if len(s.Keep) == 0 {
		s.Keep = slices.Clone(d.Keep)
	}
	s.Exclude = dedup(append(slices.Clone(d.Exclude), p.Exclude...))
	return s
}

// bconds is base minus drop plus add, sorted, without duplicates.
func bconds(base, drop, add []string) []string {
	var out []string
	for _, b := range base {
		if !slices.Contains(drop, b) {
			out = append(out, b)
		}
	}
	out = append(out, add...)
	slices.Sort(out)
	return slices.Compact(out)
}

func dedup(list []string) []string {
	var out []string
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Keeps reports whether a produced binary subpackage called name passes
// keep and exclude (BuildOnly is not considered).
func (s Settings) Keeps(name string) bool {
	for _, g := range s.Exclude {
		if ok, _ := path.Match(g, name); ok {
			return false
		}
	}
	if len(s.Keep) == 0 {
		return true
	}
	for _, g := range s.Keep {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// FileName is the name the source is stored under: Name when given, else the
// last element of the URL's path or of Path.
func (s Source) FileName() string {
	if s.Name != "" {
		return s.Name
	}
	return baseName(s.URL, s.Path)
}

// FileName is the name the patch is stored under: the last element of the
// URL's path or of Path.
func (p Patch) FileName() string { return baseName(p.URL, p.Path) }

func baseName(rawURL string, p Path) string {
	if rawURL != "" {
		if u, err := parseURL(rawURL); err == nil && !strings.HasSuffix(u.Path, "/") {
			return path.Base(u.Path)
		}
		return ""
	}
	if p.Given == "" {
		return ""
	}
	return filepath.Base(p.Given)
}

// canonical is the effective recipe as Digest hashes it.
type canonical struct {
	Format   int            `json:"format"`
	Name     string         `json:"name"`
	Version  string         `json:"version"`
	Platform string         `json:"platform"`
	TopDir   string         `json:"top-dir"`
	Packages []canonPackage `json:"packages"`
	Build    Build          `json:"build"`
	Closure  Closure        `json:"closure"`
	Output   Output         `json:"output"`
	Pip      *Pip           `json:"pip,omitempty"`
}

type canonPackage struct {
	Role       string   `json:"role"`
	Name       string   `json:"name"`
	SRPM       *Source  `json:"srpm,omitempty"`
	Spec       Path     `json:"spec"`
	Sources    []Source `json:"sources,omitempty"`
	Patches    []Patch  `json:"patches,omitempty"`
	WithPython *bool    `json:"with-python,omitempty"`
	Settings   Settings `json:"settings"`
}

// Digest is the sha256 (hex) of the canonical effective recipe: every
// package with its effective settings (so moving a value between defaults
// and packages does not change it), documented defaults filled in, paths as
// written and cleaned (so the recipe's location does not change it), maps in
// sorted order; output.dir, which says where results go and not what they
// are, is left out. It covers the recipe only: the contents of spec files,
// of local files without sha256 and of platform files are not part of it.
func (r *Recipe) Digest() string {
	c := canonical{
		Format:   1,
		Name:     r.Name,
		Version:  r.Version,
		Platform: r.Platform,
		TopDir:   cmp.Or(r.TopDir, r.Name),
		Build:    r.Build,
		Closure:  r.Closure,
		Output:   r.Output.withDefaults(r.Dir),
		Pip:      r.Pip,
	}
	c.Output.Dir = Path{} // where the results go, not what they are
	role := func(p *Package) string {
		switch {
		case p == r.Python:
			return "python"
		case r.IsBootstrap(p):
			return "bootstrap"
		}
		return "package"
	}
	for _, p := range r.All() {
		cp := canonPackage{
			Role: role(p), Name: p.Name, SRPM: p.SRPM, Spec: p.Spec, Sources: p.Sources,
			Patches: p.Patches, Settings: r.Effective(p),
		}
		if cp.Role == "bootstrap" {
			cp.WithPython = p.WithPython
		}
		c.Packages = append(c.Packages, cp)
	}
	data, err := json.Marshal(c)
	if err != nil {
		// Only plain data is marshalled; this cannot happen.
		panic("recipes: digest: " + err.Error())
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
