package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/bundle-dev/bundle/bundle/assembled"
	"github.com/bundle-dev/bundle/bundle/audit"
	"github.com/bundle-dev/bundle/bundle/closure"
	"github.com/bundle-dev/bundle/bundle/engine"
)

// AssembleReuse is what the assembled cache did for a build.
type AssembleReuse struct {
	// Key is the digest of the assemble inputs.
	Key string `json:"key"`
	// Reused is true when the tarball and its sidecars were restored from
	// the cache instead of assembled.
	Reused bool `json:"reused"`
	// Changes say which inputs differ from the last assembly of this
	// output (recorded at Since); empty when none did.
	Changes []string  `json:"changes,omitempty"`
	Since   time.Time `json:"since,omitzero"`
	// Explain prints every change (build --explain), not just their count.
	Explain bool `json:"-"`
}

// TestReuse says that `bundle test` was skipped: the same tarball passed
// it before with the same checks, platform and bundle.
type TestReuse struct {
	SHA256 string    `json:"sha256"`
	Passed time.Time `json:"passed"`
}

func assembledStore(o BuildOptions) *assembled.Store {
	return &assembled.Store{Dir: filepath.Join(cacheDirOf(o), "assembled")}
}

// assembleCached is Assemble behind the input-keyed cache: when an
// assembly of exactly these inputs is stored, its tarball and sidecars are
// checked and restored into the output directory (the same bytes a full
// assembly writes); otherwise Assemble runs and its output is stored.
// With o.NoReuse it always assembles. A cache that cannot be read or
// written is logged and never fails the build.
func assembleCached(ctx context.Context, o BuildOptions, eng *engine.Engine, ao AssembleOptions, buildPaths []string) (*Manifest, *AssembleReuse, error) {
	start := time.Now()
	probe := ao
	if err := probe.defaults(); err != nil {
		return nil, nil, err
	}
	log := probe.Logger
	tarball, err := filepath.Abs(probe.tarballPath())
	if err != nil {
		return nil, nil, err
	}
	in, err := assembleInputs(ctx, o, eng, probe, buildPaths, filepath.Base(tarball))
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		log.Warn("assembled cache: cannot read the inputs; assembling", "err", err)
		m, err := Assemble(ctx, ao)
		return m, nil, err
	}
	store := assembledStore(o)
	key, group := assembled.Key(in), digestOf(tarball)[:32]
	info := &AssembleReuse{Key: key, Explain: o.Explain}
	if last, when, ok := store.Last(group); ok {
		info.Changes, info.Since = assembled.Diff(last, in), when
	} else {
		info.Changes = []string{"no earlier assembly of " + tarball + " recorded"}
	}
	files := append([]string{tarball, tarball + ".sha256"}, sidecars(tarball)...)
	if e, ok := store.Get(key); ok && !o.NoReuse {
		err := store.Restore(ctx, e, tarball)
		var m *Manifest
		if err == nil {
			m, err = ReadManifest(tarball + ".manifest.json")
		}
		if err == nil {
			m.Stages = []StageTiming{{Stage: "reuse", Seconds: time.Since(start).Seconds()}}
			info.Reused = true
			if err := store.SetLast(group, key, in); err != nil {
				log.Warn("assembled cache: record the last assembly", "err", err)
			}
			log.Info("assembled output reused: inputs unchanged", "tarball", tarball, "key", key[:12], "sha256", m.Tarball.SHA256)
			return m, info, nil
		}
		if ctx.Err() != nil {
			return nil, info, ctx.Err()
		}
		log.Warn("assembled cache: stored output unusable; assembling", "key", key[:12], "err", err)
	}
	m, err := Assemble(ctx, ao)
	if err != nil {
		return nil, info, err
	}
	if err := store.Put(ctx, key, group, in, files); err != nil {
		log.Warn("assembled cache: store the output", "err", err)
	}
	if err := store.SetLast(group, key, in); err != nil {
		log.Warn("assembled cache: record the last assembly", "err", err)
	}
	return m, info, nil
}

// assembleInputs are the inputs of a build's assembly: the bundle binary,
// the recipe, the platform, the pip lock, patchelf, the options that shape
// the output (build paths included: relocation scrubs them) and every RPM
// of the local repository.
func assembleInputs(ctx context.Context, o BuildOptions, eng *engine.Engine, ao AssembleOptions, buildPaths []string, tarballName string) (assembled.Inputs, error) {
	var in assembled.Inputs
	var err error
	if in.Bundle, err = executableDigest(); err != nil {
		return in, fmt.Errorf("bundle executable: %w", err)
	}
	r := o.Recipe
	data, err := json.Marshal(r)
	if err != nil {
		return in, fmt.Errorf("recipe %s: %w", r.File, err)
	}
	in.Recipe = digestOf(string(data))
	in.Platform = eng.Platform().Digest()
	if r.Pip != nil {
		in.PipLock = "missing"
		if sum, _, err := assembled.HashFile(r.Pip.Lock.Resolved); err == nil {
			in.PipLock = sum
		} else if !errors.Is(err, os.ErrNotExist) {
			return in, fmt.Errorf("pip lock: %w", err)
		}
	}
	if p, err := exec.LookPath("patchelf"); err == nil {
		sum, _, err := assembled.HashFile(p)
		if err != nil {
			return in, fmt.Errorf("patchelf: %w", err)
		}
		in.Tools = map[string]string{"patchelf": sum}
	}
	mtime := "SOURCE_DATE_EPOCH=" + os.Getenv("SOURCE_DATE_EPOCH")
	if !ao.Mtime.IsZero() {
		mtime = ao.Mtime.UTC().Format(time.RFC3339)
	}
	in.Options = map[string]string{}
	for k, v := range map[string]any{
		"tarball": tarballName, "top-dir": ao.TopDir, "want": ao.Want, "exclude": ao.Exclude, "ignore": ao.Ignore,
		"weak-deps": ao.WeakDeps, "remove": ao.Remove, "no-remove": ao.NoRemove, "max-files": ao.MaxFiles,
		"max-size": ao.MaxBytes, "mtime": mtime, "compression": ao.Compress, "catalog-max": ao.CatalogMax,
		"catalog-min": ao.CatalogMin, "root-var": ao.RootVar, "checks": ao.Checks, "build-paths": buildPaths,
	} {
		j, err := json.Marshal(v)
		if err != nil {
			return in, err
		}
		in.Options[k] = string(j)
	}
	pkgs, err := closure.LoadRepo(ctx, eng.Repo(), ao.Logger)
	if err != nil {
		return in, err
	}
	for _, p := range pkgs {
		rel, err := filepath.Rel(eng.Repo(), p.Path)
		if err != nil {
			return in, err
		}
		arch := p.Arch
		if p.IsSource {
			arch = "src"
		}
		in.Packages = append(in.Packages, assembled.Package{File: rel, Name: p.Name, Arch: arch, NEVRA: p.NEVRA(), SHA256: p.SHA256})
	}
	return in, nil
}

// testCached is `bundle test` of a build's tarball, skipped when the same
// tarball (by sha256) passed it before with the same inputs: platform,
// recipe (checks, root variable), build paths and bundle binary. A run
// with another root filesystem is never skipped: its content is not keyed.
func testCached(ctx context.Context, o BuildOptions, to TestOptions, sum string) (*audit.Report, *TestReuse, error) {
	store := assembledStore(o)
	key, kerr := testKey(sum, to)
	if kerr == nil && !o.NoReuse && to.RootFS == "" {
		if rec, ok := store.Passed(key); ok && rec.SHA256 == sum {
			var rep audit.Report
			if json.Unmarshal(rec.Report, &rep) == nil && len(rep.Checks) > 0 && rep.OK() {
				rep.Target = to.Target
				return &rep, &TestReuse{SHA256: sum, Passed: rec.Passed}, nil
			}
		}
	}
	rep, err := Test(ctx, to)
	if err == nil && rep != nil && rep.OK() && kerr == nil {
		data, jerr := json.Marshal(rep)
		if jerr == nil {
			jerr = store.RecordPass(key, assembled.TestRecord{SHA256: sum, Passed: time.Now().UTC(), Report: data})
		}
		if jerr != nil && to.Logger != nil {
			to.Logger.Warn("assembled cache: record the passed test", "err", jerr)
		}
	}
	return rep, nil, err
}

func testKey(sum string, to TestOptions) (string, error) {
	exe, err := executableDigest()
	if err != nil {
		return "", err
	}
	data, err := json.Marshal(struct {
		Version, Tarball, Bundle, Platform string
		Recipe                             any
		RootVar, RootFS                    string
		Checks                             []CheckSpec
		BuildPaths                         []string
	}{"bundle-test-key/1", sum, exe, to.Platform.Digest(), to.Recipe, to.RootVar, to.RootFS, to.Checks, to.BuildPaths})
	if err != nil {
		return "", err
	}
	return digestOf(string(data)), nil
}

var exeDigest struct {
	once sync.Once
	sum  string
	err  error
}

// executableDigest is the sha256 of the running bundle binary.
func executableDigest() (string, error) {
	exeDigest.once.Do(func() {
		exe, err := os.Executable()
		if err != nil {
			exeDigest.err = err
			return
		}
		exeDigest.sum, _, exeDigest.err = assembled.HashFile(exe)
	})
	return exeDigest.sum, exeDigest.err
}

func digestOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// printReuse says whether the assembled output and the test were reused,
// and with Explain which inputs changed.
func printReuse(w io.Writer, a *AssembleReuse, t *TestReuse) {
	if a != nil {
		switch {
		case a.Reused && len(a.Changes) == 0:
			fmt.Fprintf(w, "assemble: reused from the cache: no input changed since %s (key %s)\n", a.Since.Format(time.RFC3339), a.Key[:12])
		case a.Reused:
			fmt.Fprintf(w, "assemble: reused from the cache: these inputs were assembled before (key %s); %d changed since the last assembly\n", a.Key[:12], len(a.Changes))
		case len(a.Changes) == 0:
			fmt.Fprintf(w, "assemble: no input changed, assembled anew: no usable stored output, or --no-reuse (key %s)\n", a.Key[:12])
		default:
			fmt.Fprintf(w, "assemble: %d inputs changed since the last assembly (key %s)\n", len(a.Changes), a.Key[:12])
		}
		if a.Explain {
			for _, c := range a.Changes {
				fmt.Fprintf(w, "  %s\n", c)
			}
		} else if len(a.Changes) > 0 {
			fmt.Fprintln(w, "  (--explain lists them)")
		}
	}
	if t != nil {
		fmt.Fprintf(w, "bundle test: skipped: this tarball (sha256 %s) passed on %s with the same checks, platform and bundle (--no-reuse runs it again)\n",
			t.SHA256[:12], t.Passed.Format(time.RFC3339))
	}
}
