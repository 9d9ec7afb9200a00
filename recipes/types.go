package recipes

// The types in this file are the recipe schema. JSONSchema reads the doc
// comments of their fields (this file is embedded), so every field that has
// a yaml name needs one.

// Recipe is one bundle recipe: what to build, for which platform, and how
// the bundle is assembled. Top-level keys starting with "x-" are ignored, a
// place for YAML anchors (x-common: &common ...) that packages merge
// (<<: *common).
type Recipe struct {
	// Name of the bundle, e.g. "diracos"; names the tarball. Required.
	Name string `yaml:"name" json:"name"`
	// Version of the bundle, e.g. "2.0"; part of the tarball name. Required.
	Version string `yaml:"version" json:"version"`
	// Platform is the name of an embedded platform (e.g. "debian12-x86_64")
	// or the path to a platform YAML file, relative to the recipe's folder.
	// Required.
	Platform string `yaml:"platform" json:"platform"`
	// TopDir is the single top-level directory of the bundle tarball;
	// default: the recipe's name.
	TopDir string `yaml:"top-dir" json:"top-dir,omitempty"`
	// Python is the bundle's own Python, built before everything else so the
	// rest can build against it. Optional.
	Python *Package `yaml:"python" json:"python,omitempty"`
	// Bootstrap packages are built after python and before packages, one
	// after the other in the order given (e.g. gdb, rebuilt with or without
	// the bundle's Python, see with-python).
	Bootstrap []*Package `yaml:"bootstrap" json:"bootstrap,omitempty"`
	// Packages are the packages rebuilt for the bundle; their build order
	// follows from their BuildRequires.
	Packages []*Package `yaml:"packages" json:"packages,omitempty"`
	// Defaults apply to every package unless the package overrides them.
	Defaults Defaults `yaml:"defaults" json:"defaults"`
	// Build configures the builds as a whole.
	Build Build `yaml:"build" json:"build"`
	// Closure configures the dependency closure of the shipped packages.
	Closure Closure `yaml:"closure" json:"closure"`
	// Output configures the tarball.
	Output Output `yaml:"output" json:"output"`
	// Pip configures the Python packages pip installs into the bundle's
	// Python. Needs python. Optional.
	Pip *Pip `yaml:"pip" json:"pip,omitempty"`
	// Env configures bundlerc, the environment script at the bundle's top
	// that users source.
	Env Env `yaml:"env" json:"env"`
	// Checks are the smoke tests `bundle test` runs in the unpacked bundle
	// after sourcing bundlerc, with the host's tools out of reach (Python
	// imports, `openssl version`, `gdb --version`, ...).
	Checks []Check `yaml:"checks" json:"checks,omitempty"`

	// File is the recipe's file name as given to Load or Parse; it prefixes
	// every error message.
	File string `yaml:"-" json:"-"`
	// Dir is the absolute folder relative paths of the recipe are resolved
	// against.
	Dir string `yaml:"-" json:"-"`

	// pos maps field paths ("packages[2].sources[0].sha256") to where
	// their value starts in the file.
	pos map[string]Pos
	// undecoded lists the fields whose value could not be decoded: they
	// were given, so validation does not call them missing.
	undecoded []string
}

// Package is one package to rebuild: from a source RPM, or from a spec file
// and its sources.
type Package struct {
	// Name identifies the package in the recipe; unique across python,
	// bootstrap and packages. Usually the spec's Name. Required.
	Name string `yaml:"name" json:"name"`
	// SRPM is the source RPM to rebuild. Exactly one of srpm and spec.
	SRPM *Source `yaml:"srpm" json:"srpm,omitempty"`
	// Spec is the spec file to build, relative to the recipe's folder.
	// Exactly one of srpm and spec.
	Spec Path `yaml:"spec" json:"spec,omitempty"`
	// Sources are the files the spec's SourceN tags name, copied into
	// SOURCES under their file names. Only with spec.
	Sources []Source `yaml:"sources" json:"sources,omitempty"`
	// Patches are added to the package before it is built; see Patch.Mode
	// for how each is applied.
	Patches []Patch `yaml:"patches" json:"patches,omitempty"`
	// Defines are rpm macros set for the build (rpmbuild --define "macro
	// value"); they override defaults.defines of the same name.
	Defines map[string]string `yaml:"defines" json:"defines,omitempty"`
	// With are bconds switched on (rpmbuild --with NAME).
	With []string `yaml:"with" json:"with,omitempty"`
	// Without are bconds switched off (rpmbuild --without NAME).
	Without []string `yaml:"without" json:"without,omitempty"`
	// Keep are globs on the names of the produced binary subpackages: when
	// given, only matching subpackages are shipped. Replaces defaults.keep.
	Keep []string `yaml:"keep" json:"keep,omitempty"`
	// Exclude are globs on the names of the produced binary subpackages that
	// are never shipped (e.g. "*-debuginfo"). Added to defaults.exclude.
	Exclude []string `yaml:"exclude" json:"exclude,omitempty"`
	// BuildOnly packages are built and offered to later builds as
	// BuildRequires, but nothing of them is shipped in the bundle.
	BuildOnly bool `yaml:"build-only" json:"build-only,omitempty"`
	// Jobs is the parallelism inside this package's build (%_smp_mflags
	// -jN); 0 means defaults.jobs, or the builder's choice.
	Jobs int `yaml:"jobs" json:"jobs,omitempty"`
	// Memory limits the build's memory, e.g. "4G" (binary units K, M, G, T;
	// plain numbers are bytes); 0 means defaults.memory, or no limit.
	Memory ByteSize `yaml:"memory" json:"memory,omitempty"`
	// WithPython, for bootstrap packages only, rebuilds the package against
	// the bundle's Python (true: --with python) or without Python support
	// (false: --without python). Unset leaves the spec's default.
	WithPython *bool `yaml:"with-python" json:"with-python,omitempty"`
}

// Source is one input file: downloaded from a URL or taken from a local
// path.
type Source struct {
	// URL to download the file from: http://, https:// or file:// (an
	// absolute path). Exactly one of url and path.
	URL string `yaml:"url" json:"url,omitempty"`
	// Path of a local file, relative to the recipe's folder. Exactly one of
	// url and path.
	Path Path `yaml:"path" json:"path,omitempty"`
	// SHA256 is the file's digest as 64 lowercase hex digits. Required with
	// url; with path optional, and checked when given.
	SHA256 string `yaml:"sha256" json:"sha256,omitempty"`
	// Name is the file name to store the file under (what the spec's SourceN
	// says); default: the last element of the url or path.
	Name string `yaml:"name" json:"name,omitempty"`
}

// Patch is one patch applied to a package before it is built.
//
// The builder copies every patch file into SOURCES under its file name and
// applies it according to Mode:
//
//   - "spec": the patch is added to the spec as a PatchN tag (N counting up
//     from 9000, in recipe order), after the spec's last Source or Patch
//     tag. The spec's own %autosetup or %autopatch then applies it together
//     with the spec's patches, in patch-number order, with the -p level the
//     spec gives them. A spec whose %prep uses neither is an error (the
//     patch would silently not be applied).
//   - "p1": the patch is added to the spec as a SourceN tag (N counting up
//     from 9000), so it is part of the rebuilt source RPM but invisible to
//     %autopatch, and applied at the very end of %prep, after everything
//     the spec's %prep does, with
//     %{?buildsubdir:cd "%{_builddir}/%{buildsubdir}"}
//     %{__patch} -p1 --fuzz=0 --no-backup-if-mismatch -s -i %{SOURCEN}
//     (run where %setup left the shell: the unpacked source tree)
//     so a patch that does not apply cleanly fails the build.
//
// Within each mode patches apply in recipe order; "spec" patches apply
// during %prep, "p1" patches after it.
type Patch struct {
	// Path of a local patch file, relative to the recipe's folder. Exactly
	// one of path and url.
	Path Path `yaml:"path" json:"path,omitempty"`
	// URL to download the patch from: http://, https:// or file://. Exactly
	// one of path and url.
	URL string `yaml:"url" json:"url,omitempty"`
	// SHA256 is the patch's digest as 64 lowercase hex digits. Required
	// with url; with path optional, and checked when given.
	SHA256 string `yaml:"sha256" json:"sha256,omitempty"`
	// Mode says how the patch is applied: "spec" (a PatchN tag for the
	// spec's %autosetup/%autopatch) or "p1" (patch -p1 after %prep).
	// Required.
	Mode string `yaml:"mode" json:"mode"`
}

// Defaults are settings applied to every package unless the package
// overrides them.
type Defaults struct {
	// Jobs is the parallelism inside each build; 0 lets the builder choose.
	Jobs int `yaml:"jobs" json:"jobs,omitempty"`
	// Memory limits each build's memory, e.g. "4G"; 0 means no limit.
	Memory ByteSize `yaml:"memory" json:"memory,omitempty"`
	// Defines are rpm macros set for every build.
	Defines map[string]string `yaml:"defines" json:"defines,omitempty"`
	// Keep are globs of subpackage names shipped when a package gives no
	// keep of its own; empty ships every subpackage not excluded.
	Keep []string `yaml:"keep" json:"keep,omitempty"`
	// Exclude are globs of subpackage names never shipped, for every
	// package (e.g. "*-debuginfo", "*-debugsource").
	Exclude []string `yaml:"exclude" json:"exclude,omitempty"`
	// With are bconds switched on for every package that does not switch
	// them off itself.
	With []string `yaml:"with" json:"with,omitempty"`
	// Without are bconds switched off for every package that does not
	// switch them on itself.
	Without []string `yaml:"without" json:"without,omitempty"`
}

// Build configures the builds as a whole.
type Build struct {
	// ExtraPackages are Debian packages added to the sandbox builder's root
	// file system, on top of the platform's list.
	ExtraPackages []string `yaml:"extra-packages" json:"extra-packages,omitempty"`
	// Jobs is how many packages are built at the same time; 0 lets the
	// builder choose.
	Jobs int `yaml:"jobs" json:"jobs,omitempty"`
	// CPUs is how many CPUs all builds together may use; 0 means all.
	CPUs int `yaml:"cpus" json:"cpus,omitempty"`
	// Executor runs the builds: "local" (the default) on this machine, or
	// "slurm": each package that misses the build cache becomes one Slurm
	// job running bundle on a node of the cluster (see build.slurm). The
	// --executor flag overrides it.
	Executor string `yaml:"executor" json:"executor,omitempty"`
	// Slurm says where the slurm executor submits its jobs.
	Slurm *Slurm `yaml:"slurm" json:"slurm,omitempty"`
}

// Slurm configures the jobs of the slurm executor. Each job asks for its
// package's jobs as CPUs (--cpus-per-task) and its memory (--mem).
type Slurm struct {
	// Partition is sbatch's --partition (default: the cluster's default
	// partition). The --slurm-partition flag overrides it.
	Partition string `yaml:"partition" json:"partition,omitempty"`
	// Account is sbatch's --account, charged for the jobs. The
	// --slurm-account flag overrides it.
	Account string `yaml:"account" json:"account,omitempty"`
	// QOS is sbatch's --qos.
	QOS string `yaml:"qos" json:"qos,omitempty"`
	// Time is each job's time limit, sbatch's --time: MINUTES,
	// HOURS:MINUTES:SECONDS, DAYS-HOURS[:MINUTES[:SECONDS]] or UNLIMITED.
	Time string `yaml:"time" json:"time,omitempty"`
	// ExtraArgs are further sbatch options, e.g. ["--constraint=avx2"];
	// the options bundle sets itself (job name, dependencies, output,
	// CPUs, memory, the command) are refused.
	ExtraArgs []string `yaml:"extra-args" json:"extra-args,omitempty"`
}

// Closure configures the dependency closure: which binary packages beyond
// the built ones are pulled into the bundle.
type Closure struct {
	// IgnoreRequires are globs of capabilities that are never resolved
	// (e.g. "perl(*)" for scripts nobody runs).
	IgnoreRequires []string `yaml:"ignore-requires" json:"ignore-requires,omitempty"`
	// Extra are names of packages added to the closure even though nothing
	// requires them.
	Extra []string `yaml:"extra" json:"extra,omitempty"`
	// Remove are absolute paths inside the installed tree (shell globs
	// allowed, e.g. "/usr/share/doc/*") deleted after extraction.
	Remove []string `yaml:"remove" json:"remove,omitempty"`
	// WeakDeps pulls Recommends (weak dependencies) into the closure too.
	WeakDeps bool `yaml:"weak-deps" json:"weak-deps,omitempty"`
}

// Output configures the tarball.
type Output struct {
	// Compression of the tarball: "gzip", "zstd" or "none"; default gzip.
	Compression string `yaml:"compression" json:"compression"`
	// CatalogMax is the most entries one CVMFS nested catalog should hold;
	// directories are split into their own catalogs above it. Default
	// 200000.
	CatalogMax int `yaml:"catalog-max" json:"catalog-max"`
	// CatalogMin is the fewest entries worth a nested catalog of their own.
	// Default 1000.
	CatalogMin int `yaml:"catalog-min" json:"catalog-min"`
	// Dir is the folder the tarball, its sha256 and manifest are written
	// to, relative to the recipe's folder. Default "out".
	Dir Path `yaml:"dir" json:"dir"`
}

// Pip configures the Python packages installed with the bundle's pip.
type Pip struct {
	// Requirements is a pip requirements file, relative to the recipe's
	// folder.
	Requirements Path `yaml:"requirements" json:"requirements,omitempty"`
	// Lock is the fully pinned requirements file (with hashes) pip installs
	// from, relative to the recipe's folder; it may not exist yet.
	Lock Path `yaml:"lock" json:"lock,omitempty"`
	// FindLinks are folders of wheels and sdists pip may install from
	// (pip --find-links), relative to the recipe's folder.
	FindLinks []Path `yaml:"find-links" json:"find-links,omitempty"`
	// IndexURL is the package index pip uses (pip --index-url); empty
	// means none: only find-links.
	IndexURL string `yaml:"index-url" json:"index-url,omitempty"`
}

// Settings are one package's effective settings: the package's own merged
// with the recipe's defaults.
type Settings struct {
	// Jobs is the parallelism inside the build; 0 lets the builder choose.
	Jobs int `json:"jobs,omitempty"`
	// Memory is the build's memory limit; 0 means no limit.
	Memory ByteSize `json:"memory,omitempty"`
	// Defines are the rpm macros: defaults.defines overlaid with the
	// package's.
	Defines map[string]string `json:"defines,omitempty"`
	// With are the bconds switched on, sorted.
	With []string `json:"with,omitempty"`
	// Without are the bconds switched off, sorted.
	Without []string `json:"without,omitempty"`
	// Keep are the globs of subpackages shipped; empty: all not excluded.
	Keep []string `json:"keep,omitempty"`
	// Exclude are the globs of subpackages never shipped.
	Exclude []string `json:"exclude,omitempty"`
	// BuildOnly says nothing of the package is shipped.
	BuildOnly bool `json:"build-only,omitempty"`
}

// Env configures bundlerc, the POSIX sh script at the bundle's top that
// bash, zsh and dash source to use the bundle.
type Env struct {
	// RootVar is the variable bundlerc exports with the bundle's root
	// directory, e.g. DIRACOS. Default: the name, upper-cased, with
	// characters other than letters, digits and _ replaced by _.
	RootVar string `yaml:"root-var" json:"root-var,omitempty"`
	// CAFile is the bundle path (e.g. /etc/pki/tls/certs/ca-bundle.crt) of
	// a CA bundle the recipe ships; SSL_CERT_FILE points at it.
	CAFile string `yaml:"ca-file" json:"ca-file,omitempty"`
	// Vars are extra variables bundlerc exports; a value may use
	// $ROOTVAR (the root variable) to name paths in the bundle.
	Vars map[string]string `yaml:"vars" json:"vars,omitempty"`
}

// Check is one smoke test of the unpacked bundle.
type Check struct {
	// Name identifies the check in `bundle test`'s report.
	Name string `yaml:"name" json:"name"`
	// Run is a sh command line; it passes when it exits 0.
	Run string `yaml:"run" json:"run"`
}
