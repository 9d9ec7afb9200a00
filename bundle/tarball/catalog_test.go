package tarball

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"testing"
)

// synth builds a pre-order []Dir from a map of directory path -> number of
// files directly inside ("." is the top directory). Parents missing from the
// map are implied with no files. Entries = files + subdirectories.
func synth(files map[string]int) []Dir {
	all := map[string]bool{".": true}
	for p := range files {
		for ; p != "."; p = path.Dir(p) {
			all[p] = true
		}
	}
	var paths []string
	for p := range all {
		paths = append(paths, p)
	}
	// Pre-order: component-wise sort, "." first.
	sort.Slice(paths, func(i, j int) bool {
		if paths[i] == "." || paths[j] == "." {
			return paths[i] == "."
		}
		return pathLess(paths[i], paths[j])
	})
	index := map[string]int{}
	dirs := make([]Dir, len(paths))
	for i, p := range paths {
		index[p] = i
		dirs[i] = Dir{Path: p, Parent: -1, Entries: files[p]}
		if p != "." {
			parent := index[path.Dir(p)]
			dirs[i].Parent = parent
			dirs[parent].Entries++
		}
	}
	return dirs
}

// checkPlan verifies what holds for every plan: catalog sizes add up and
// match an independent count, the top is a catalog, marked directories are
// catalogs, and a catalog is over the maximum only when its root's own
// entries leave no choice.
func checkPlan(t testing.TB, dirs []Dir, plan []Catalog, maxEntries int) {
	t.Helper()
	if len(plan) == 0 || plan[0].Dir != 0 {
		t.Fatalf("top directory is not a catalog: %+v", plan)
	}
	isCat := make([]bool, len(dirs))
	for i, c := range plan {
		if i > 0 && plan[i-1].Dir >= c.Dir {
			t.Fatalf("plan not in tree order: %+v", plan)
		}
		isCat[c.Dir] = true
		if c.Path != dirs[c.Dir].Path || c.Added == dirs[c.Dir].Marked {
			t.Fatalf("catalog %+v does not match its directory %+v", c, dirs[c.Dir])
		}
	}
	// Independent count: each directory's entries go to its nearest
	// catalog ancestor-or-self.
	owner := make([]int, len(dirs))
	size := make([]int, len(dirs))
	total := 0
	for i, d := range dirs {
		if d.Marked && !isCat[i] {
			t.Fatalf("marked directory %s is not a catalog", d.Path)
		}
		if isCat[i] {
			owner[i] = i
		} else {
			owner[i] = owner[d.Parent]
		}
		size[owner[i]] += d.Entries
		total += d.Entries
	}
	sum := 0
	for _, c := range plan {
		want := size[c.Dir]
		if c.Added {
			want++
			total++
		}
		if c.Entries != want {
			t.Fatalf("catalog %s: planner says %d entries, recount gives %d", c.Path, c.Entries, want)
		}
		sum += c.Entries
		if c.Entries > maxEntries && dirs[c.Dir].Entries+1 <= maxEntries {
			// Over the maximum although the root's own entries fit: only
			// acceptable if no non-catalog child is left to promote.
			for j := c.Dir + 1; j < len(dirs); j++ {
				if dirs[j].Parent == c.Dir && !isCat[j] {
					t.Fatalf("catalog %s holds %d > %d entries but child %s could still be promoted", c.Path, c.Entries, maxEntries, dirs[j].Path)
				}
			}
		}
	}
	if sum != total {
		t.Fatalf("catalogs hold %d entries, tree has %d", sum, total)
	}
}

func TestPlanCatalogs(t *testing.T) {
	cases := []struct {
		name     string
		files    map[string]int
		marked   []string
		max, min int
		want     []string // "path=entries"
	}{
		{"single directory", map[string]int{".": 5}, nil, 100, 10, []string{".=6"}},
		{"fits in one", map[string]int{"a": 30, "b": 30, "c": 30}, nil, 100, 10, []string{".=94"}},
		{"largest child first", map[string]int{"a": 60, "b": 50, "c": 20}, nil, 100, 10,
			// root: 3 + 60 + 50 + 20 = 133 > 99; a (61) promoted -> 73.
			[]string{".=74", "a=61"}},
		{"several promotions", map[string]int{"a": 60, "b": 55, "c": 50, "d": 5}, nil, 100, 10,
			// 4 + 170 = 174: a -> 114, b -> 59.
			[]string{".=60", "a=61", "b=56"}},
		{"nested overflow handled low", map[string]int{"x/a": 70, "x/b": 70, "y": 10}, nil, 100, 10,
			// x: 2 + 140 = 142 > 99: a (71) -> 72. root: 2 + 72 + 10 = 84.
			[]string{".=85", "x/a=71"}},
		{"tie broken by order", map[string]int{"a": 60, "b": 60}, nil, 100, 10,
			[]string{".=63", "a=61"}},
		{"under minimum only when needed", map[string]int{"a": 8, "b": 8, "c": 8, "d": 8, "e": 8, "f": 8}, nil, 40, 20,
			// root: 6 + 48 = 54 > 39; no child reaches 20; promote a, b (9 each) -> 38.
			[]string{".=39", "a=9", "b=9"}},
		{"unavoidable: too many direct entries", map[string]int{".": 150, "a": 30}, nil, 100, 10,
			// root: 151 + 30 > 99; a promoted (31 >= 10), root still 151+1.
			[]string{".=152", "a=31"}},
		{"unavoidable: no small catalogs when they cannot help", map[string]int{".": 120, "a": 5}, nil, 100, 10,
			[]string{".=127"}},
		{"marked directory kept even if small", map[string]int{"a": 1, "b": 2}, []string{"b"}, 100, 10,
			// b holds its 2 files and its own marker; root: 2 + a's 1.
			[]string{".=4", "b=3"}},
		{"marked directory is not charged a marker", map[string]int{"a": 99}, []string{"a"}, 100, 10,
			// a: 99 files + its marker = 100, exactly the maximum.
			[]string{".=2", "a=100"}},
		{"deep chain", map[string]int{"a/b/c/d": 95, "a/b/c": 5, "a": 10}, nil, 100, 10,
			// d: 95 ; c: 1 + 5 + 95 = 101 > 99 -> d (96) promoted, c = 6;
			// b: 1 + 6 = 7; a: 11 + 7 = 18; root: 1 + 18.
			[]string{".=20", "a/b/c/d=96"}},
		{"min zero allows any promotion", map[string]int{"a": 3, "b": 3}, nil, 6, 0,
			// root: 2 + 6 = 8 > 5: a (4) -> 5.
			[]string{".=6", "a=4"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dirs := synth(c.files)
			for i := range dirs {
				if slices.Contains(c.marked, dirs[i].Path) {
					dirs[i].Marked = true
					dirs[i].Entries++ // the marker file itself
				}
			}
			plan, err := PlanCatalogs(dirs, c.max, c.min)
			if err != nil {
				t.Fatal(err)
			}
			checkPlan(t, dirs, plan, c.max)
			var got []string
			for _, p := range plan {
				got = append(got, fmt.Sprintf("%s=%d", p.Path, p.Entries))
			}
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("plan %v, want %v", got, c.want)
			}
		})
	}
}

func TestPlanCatalogsInvalid(t *testing.T) {
	cases := []struct {
		name     string
		dirs     []Dir
		max, min int
		want     string
	}{
		{"empty", nil, 10, 1, "empty tree"},
		{"max too small", []Dir{{Path: ".", Parent: -1}}, 1, 0, "too small"},
		{"min over max", []Dir{{Path: ".", Parent: -1}}, 10, 11, "minimum"},
		{"negative min", []Dir{{Path: ".", Parent: -1}}, 10, -1, "minimum"},
		{"top with parent", []Dir{{Path: ".", Parent: 0}}, 10, 1, "want -1"},
		{"parent after child", []Dir{{Path: ".", Parent: -1, Entries: 1}, {Path: "a", Parent: 2}, {Path: "b", Parent: 0}}, 10, 1, "precede"},
		{"self parent", []Dir{{Path: ".", Parent: -1, Entries: 1}, {Path: "a", Parent: 1}}, 10, 1, "precede"},
		{"negative entries", []Dir{{Path: ".", Parent: -1, Entries: -1}}, 10, 1, "negative"},
		{"more subdirs than entries", []Dir{{Path: ".", Parent: -1, Entries: 0}, {Path: "a", Parent: 0}}, 10, 1, "subdirectories"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := PlanCatalogs(c.dirs, c.max, c.min)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want error containing %q, got %v", c.want, err)
			}
		})
	}
}

// bigTree is a synthetic tree of about n entries shaped like a software
// bundle: a few top directories, many package directories of very unequal
// sizes, some with deep subtrees.
func bigTree(n int) []Dir {
	dirs := []Dir{{Path: ".", Parent: -1}}
	add := func(p string, parent, files int) int {
		dirs = append(dirs, Dir{Path: p, Parent: parent, Entries: files})
		dirs[parent].Entries++
		return len(dirs) - 1
	}
	total := 0
	for top := 0; total < n; top++ {
		ti := add(fmt.Sprintf("t%d", top), 0, 3)
		for pkg := 0; pkg < 400 && total < n; pkg++ {
			pi := add(fmt.Sprintf("t%d/p%d", top, pkg), ti, 5)
			// Sizes from 1 to ~5000 entries, deterministic.
			files := 1 + (pkg*7919+top*104729)%5000
			for sub := 0; files > 0; sub++ {
				k := min(files, 250)
				add(fmt.Sprintf("t%d/p%d/s%d", top, pkg, sub), pi, k)
				files -= k
				total += k + 1
			}
			total += 6
		}
	}
	return dirs
}

func TestPlanCatalogsMillion(t *testing.T) {
	dirs := bigTree(1_000_000)
	plan, err := PlanCatalogs(dirs, DefaultCatalogMax, DefaultCatalogMin)
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, dirs, plan, DefaultCatalogMax)
	for _, c := range plan {
		if c.Entries > DefaultCatalogMax {
			t.Errorf("catalog %s has %d entries", c.Path, c.Entries)
		}
		if c.Dir != 0 && c.Entries < DefaultCatalogMin {
			t.Errorf("nested catalog %s has only %d entries", c.Path, c.Entries)
		}
	}
	if len(plan) < 5 {
		t.Errorf("a million entries in %d catalogs", len(plan))
	}
}

func BenchmarkPlanCatalogs1M(b *testing.B) {
	dirs := bigTree(1_000_000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := PlanCatalogs(dirs, DefaultCatalogMax, DefaultCatalogMin); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzPlanCatalogs decodes the input as a tree (each 3-byte group adds a
// directory: parent selector, direct file count, marked flag) and checks the
// plan invariants and determinism.
func FuzzPlanCatalogs(f *testing.F) {
	f.Add([]byte{0, 10, 0, 0, 200, 0, 1, 50, 1}, uint16(100), uint16(10))
	f.Add([]byte{0, 255, 0, 0, 255, 0, 0, 255, 0, 2, 90, 0}, uint16(300), uint16(100))
	f.Add([]byte{}, uint16(2), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, max16, min16 uint16) {
		maxEntries, minEntries := int(max16), int(min16)
		dirs := []Dir{{Path: ".", Parent: -1}}
		for i := 0; i+3 <= len(data) && len(dirs) < 2000; i += 3 {
			parent := int(data[i]) % len(dirs)
			dirs[parent].Entries++
			files := int(data[i+1])
			d := Dir{Path: fmt.Sprintf("d%d", len(dirs)), Parent: parent, Entries: files}
			if data[i+2]&1 == 1 {
				d.Marked = true
				d.Entries++
			}
			dirs = append(dirs, d)
		}
		plan, err := PlanCatalogs(dirs, maxEntries, minEntries)
		if maxEntries < 2 || minEntries > maxEntries {
			if err == nil {
				t.Fatalf("bounds %d/%d accepted", maxEntries, minEntries)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		checkPlan(t, dirs, plan, maxEntries)
		again, _ := PlanCatalogs(dirs, maxEntries, minEntries)
		if !slices.Equal(plan, again) {
			t.Fatal("plan not deterministic")
		}
	})
}
