package bundle

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/bundle-dev/bundle/bundle/relocate/elfdeps"
	"github.com/bundle-dev/bundle/bundle/workpool"
	"github.com/bundle-dev/bundle/platforms"
)

// Requires is what the bundle needs from the machine it runs on, measured
// from its ELF files: the libraries it does not ship and the newest glibc,
// libstdc++ (GLIBCXX) and C++ ABI versions it needs from them, with the
// known distributions that satisfy it.
type Requires struct {
	elfdeps.HostNeeds
	// RunsOn are the names of platforms.Distributions that satisfy it.
	RunsOn []string `json:"runs_on"`
}

// String is the one line `bundle build` ends with.
func (r *Requires) String() string {
	var b strings.Builder
	b.WriteString("requires from the host: ")
	var parts []string
	for _, v := range []struct{ kind, ver string }{{"glibc", r.Glibc}, {"GLIBCXX", r.GLIBCXX}, {"CXXABI", r.CXXABI}} {
		if v.ver != "" {
			parts = append(parts, v.kind+" >= "+v.ver)
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no versioned library")
	}
	b.WriteString(strings.Join(parts, ", "))
	if r.GlibcPrivate {
		b.WriteString(", GLIBC_PRIVATE (only the exact glibc it was built against)")
	}
	if len(r.RunsOn) > 0 {
		b.WriteString("; runs on " + strings.Join(r.RunsOn, ", "))
	} else {
		b.WriteString("; runs on none of the known distributions")
	}
	return b.String()
}

// debugTree holds separate debug files, which the loader never reads.
const debugTree = "usr/lib/debug"

// MeasureRequires reads every linkable ELF file under root and returns
// what they need from the host.
func MeasureRequires(ctx context.Context, root string, workers int) (*Requires, error) {
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() && filepath.ToSlash(rel) == debugTree {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("measure host requirements in %s: %w", root, err)
	}
	// Each file's result goes to its own slot: WalkDir's lexical order is
	// kept, so HostNeeds.By names the same file on every run.
	infos := make([]*elfdeps.Info, len(paths))
	idx := make([]int, len(paths))
	for i := range idx {
		idx[i] = i
	}
	err = workpool.ForEach(ctx, workers, idx, func(i int) error {
		ok, err := elfdeps.IsELF(paths[i])
		if err != nil || !ok {
			return err
		}
		// Unreadable ELF files are the audit's to report.
		if info, err := elfdeps.Inspect(paths[i]); err == nil && info.Linkable() {
			infos[i] = info
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("measure host requirements in %s: %w", root, err)
	}
	var names []string
	var found []*elfdeps.Info
	for i, info := range infos {
		if info != nil {
			rel, _ := filepath.Rel(root, paths[i])
			names = append(names, "/"+filepath.ToSlash(rel))
			found = append(found, info)
		}
	}
	return NewRequires(elfdeps.ComputeHostNeeds(names, found)), nil
}

// NewRequires adds the distributions that satisfy needs.
func NewRequires(needs elfdeps.HostNeeds) *Requires {
	return &Requires{HostNeeds: needs, RunsOn: platforms.RunsOn(needs)}
}
