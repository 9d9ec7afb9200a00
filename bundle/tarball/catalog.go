package tarball

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// CatalogMarker is the file name that makes CVMFS start a nested catalog at
// the directory holding it. `cvmfs_server ingest` honours markers present in
// the ingested tar stream.
const CatalogMarker = ".cvmfscatalog"

// Default catalog bounds: the CVMFS recommendation is more than 1,000 and
// fewer than 200,000 entries per catalog; `cvmfs_server publish` warns above
// 200,000.
const (
	DefaultCatalogMax = 200000
	DefaultCatalogMin = 1000
)

// Dir is one directory of a tree summarised for catalog planning. A slice of
// Dir lists a tree in pre-order: index 0 is the top directory (Parent -1) and
// every other directory comes after its parent (0 <= Parent < own index).
type Dir struct {
	// Path is the directory relative to the top directory, slash-separated;
	// "." for the top directory. The planner only copies it into the result.
	Path string
	// Parent is the index of the parent directory, -1 for the top directory.
	Parent int
	// Entries counts the names directly inside the directory: files,
	// symlinks and subdirectories, including an existing .cvmfscatalog.
	Entries int
	// Marked is true when the directory already holds a .cvmfscatalog, so
	// it is a catalog whatever the planner decides and no marker is added.
	Marked bool
}

// Catalog is one catalog of a plan.
type Catalog struct {
	Dir     int    // index of the catalog's root directory in the planned slice
	Path    string // that directory's Path
	Entries int    // entries the catalog holds (see PlanCatalogs)
	Added   bool   // a .cvmfscatalog marker must be added (false when the directory was Marked)
}

// PlanCatalogs decides which directories become CVMFS nested catalogs so
// that no catalog holds more than maxEntries entries and no nested catalog
// fewer than minEntries, unless that is unavoidable. The top directory is
// always a catalog. Directories already Marked stay catalogs.
//
// A catalog holds every entry below its root directory that is not inside a
// deeper catalog; the root directory of a nested catalog is counted once, in
// its parent catalog, as one of its parent directory's Entries; an added
// marker file counts as one entry of its own catalog.
//
// Algorithm (bottom-up, one pass in reverse pre-order, O(n log n) at worst):
//
//  1. rem(d) = Entries(d) + the rem of every child that is not a catalog:
//     the entries d's subtree still puts into whatever catalog holds d.
//  2. The capacity of d is maxEntries, less one slot for the marker that
//     would be added were d to become a catalog.
//  3. When rem(d) exceeds the capacity, d's non-catalog children are sorted
//     by the size their own catalog would have, largest first (index breaks
//     ties, so the plan is deterministic), and promoted one at a time while
//     rem(d) is over capacity:
//     a. first only children whose catalog would hold at least minEntries;
//     b. then, if d's own direct entries fit its capacity (so the overflow
//     can still be cured), smaller children too: a catalog over the
//     maximum is what CVMFS warns about, a small one only costs a
//     download.
//  4. A directory whose direct entries alone exceed the capacity cannot be
//     split (catalogs follow directories): its catalog stays over the
//     maximum; the caller reports it.
//
// Because every directory leaves step 3 at or under capacity when possible,
// a parent only ever sums children that already fit, and promoting its
// largest children first keeps the number of catalogs small.
//
// The result lists the catalogs in the order of dirs.
func PlanCatalogs(dirs []Dir, maxEntries, minEntries int) ([]Catalog, error) {
	if len(dirs) == 0 {
		return nil, errors.New("plan catalogs: empty tree (need at least the top directory)")
	}
	if maxEntries < 2 {
		return nil, fmt.Errorf("plan catalogs: maximum %d entries per catalog is too small (need at least 2)", maxEntries)
	}
	if minEntries < 0 || minEntries > maxEntries {
		return nil, fmt.Errorf("plan catalogs: minimum %d entries per catalog must lie between 0 and the maximum %d", minEntries, maxEntries)
	}
	n := len(dirs)
	if dirs[0].Parent != -1 {
		return nil, fmt.Errorf("plan catalogs: top directory %q has parent %d, want -1", dirs[0].Path, dirs[0].Parent)
	}
	// Children in compressed-row form: kids[start[i]:start[i+1]] are the
	// children of directory i, in index order.
	start := make([]int, n+1)
	for i, d := range dirs {
		if d.Entries < 0 {
			return nil, fmt.Errorf("plan catalogs: directory %q has a negative entry count %d", d.Path, d.Entries)
		}
		if i == 0 {
			continue
		}
		if d.Parent < 0 || d.Parent >= i {
			return nil, fmt.Errorf("plan catalogs: directory %q (index %d) has parent %d; parents must precede their children", d.Path, i, d.Parent)
		}
		start[d.Parent+1]++
	}
	for i := 1; i <= n; i++ {
		start[i] += start[i-1]
	}
	kids := make([]int, n)
	fill := slices.Clone(start[:n])
	for i := 1; i < n; i++ {
		p := dirs[i].Parent
		kids[fill[p]] = i
		fill[p]++
	}
	childCount := make([]int, n)
	for i := range n {
		childCount[i] = start[i+1] - start[i]
	}
	for i, d := range dirs {
		if childCount[i] > d.Entries {
			return nil, fmt.Errorf("plan catalogs: directory %q has %d subdirectories but only %d entries", d.Path, childCount[i], d.Entries)
		}
	}

	rem := make([]int, n)
	isCat := make([]bool, n)
	marker := func(i int) int { // entries an added marker costs directory i
		if dirs[i].Marked {
			return 0
		}
		return 1
	}
	size := func(i int) int { return rem[i] + marker(i) }
	var cand []int
	for i := n - 1; i >= 0; i-- {
		isCat[i] = dirs[i].Marked
		r := dirs[i].Entries
		children := kids[start[i]:start[i+1]]
		for _, c := range children {
			if !isCat[c] {
				r += rem[c]
			}
		}
		rem[i] = r
		capacity := maxEntries - marker(i)
		if r <= capacity {
			continue
		}
		cand = cand[:0]
		for _, c := range children {
			if !isCat[c] {
				cand = append(cand, c)
			}
		}
		slices.SortFunc(cand, func(a, b int) int {
			if c := cmp.Compare(size(b), size(a)); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		for _, c := range cand { // step 3a
			if rem[i] <= capacity || size(c) < minEntries {
				break
			}
			isCat[c] = true
			rem[i] -= rem[c]
		}
		if rem[i] > capacity && dirs[i].Entries <= capacity { // step 3b
			for _, c := range cand {
				if rem[i] <= capacity {
					break
				}
				if !isCat[c] {
					isCat[c] = true
					rem[i] -= rem[c]
				}
			}
		}
	}
	isCat[0] = true

	var out []Catalog
	for i := range n {
		if isCat[i] {
			out = append(out, Catalog{Dir: i, Path: dirs[i].Path, Entries: size(i), Added: !dirs[i].Marked})
		}
	}
	return out, nil
}
