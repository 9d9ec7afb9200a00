package cache

import (
	"reflect"
	"slices"
	"testing"
)

func sampleInputs() KeyInputs {
	return KeyInputs{
		Name:     "libxml2",
		Spec:     "1111111111111111111111111111111111111111111111111111111111111111",
		Sources:  map[string]string{"libxml2-2.10.4.tar.xz": "aaaa", "extra.tar.gz": "bbbb"},
		Patches:  map[string]string{"fix-cve.patch": "cccc"},
		Defines:  map[string]string{"dist": ".el9", "_prefix": "/opt/diracos"},
		Bconds:   map[string]bool{"python": true, "docs": false},
		Platform: "plat-digest",
		Builder:  "builder-digest",
		BuildRequires: []RPM{
			{NEVRA: "zlib-devel-1.2.13-1.el9.x86_64", SHA256: "dddd", From: "zlib"},
			{NEVRA: "zlib-1.2.13-1.el9.x86_64", SHA256: "eeee", From: "zlib"},
			{NEVRA: "python3-devel-3.11.4-1.el9.x86_64", SHA256: "ffff", From: "python3"},
		},
	}
}

// TestKeyGolden pins the encoding: a change of this value means every
// existing cache entry is orphaned, so it must come with a keyVersion
// bump.
func TestKeyGolden(t *testing.T) {
	const want = "5988a8580dc3a5aa13e2c5eeb5b5d9d99f6b8449b90387bf429082a836454bd4"
	if got := Key(sampleInputs()); got != want {
		t.Errorf("Key(sample) = %s, want %s", got, want)
	}
}

func TestKeyEveryInputCounts(t *testing.T) {
	base := Key(sampleInputs())
	mutations := map[string]func(*KeyInputs){
		"name":          func(in *KeyInputs) { in.Name = "libxml2-python" },
		"srpm":          func(in *KeyInputs) { in.SRPM = "9999" },
		"spec":          func(in *KeyInputs) { in.Spec = "2222" },
		"source digest": func(in *KeyInputs) { in.Sources["extra.tar.gz"] = "bbbc" },
		"source added":  func(in *KeyInputs) { in.Sources["more.tar"] = "0" },
		"source renamed": func(in *KeyInputs) {
			in.Sources = map[string]string{"libxml2-2.10.4.tar.xz": "aaaa", "extra2.tar.gz": "bbbb"}
		},
		"patch":            func(in *KeyInputs) { in.Patches["fix-cve.patch"] = "cccd" },
		"patch removed":    func(in *KeyInputs) { in.Patches = nil },
		"define value":     func(in *KeyInputs) { in.Defines["dist"] = ".el8" },
		"define added":     func(in *KeyInputs) { in.Defines["debug_package"] = "%{nil}" },
		"bcond flipped":    func(in *KeyInputs) { in.Bconds["docs"] = true },
		"bcond removed":    func(in *KeyInputs) { delete(in.Bconds, "docs") },
		"platform":         func(in *KeyInputs) { in.Platform = "other" },
		"builder":          func(in *KeyInputs) { in.Builder = "other" },
		"dependency sha":   func(in *KeyInputs) { in.BuildRequires[0].SHA256 = "dddD" },
		"dependency nevra": func(in *KeyInputs) { in.BuildRequires[1].NEVRA = "zlib-1.2.13-2.el9.x86_64" },
		"dependency added": func(in *KeyInputs) {
			in.BuildRequires = append(in.BuildRequires, RPM{NEVRA: "xz-devel-5.4-1.el9.x86_64", SHA256: "1"})
		},
		"dependency removed": func(in *KeyInputs) { in.BuildRequires = in.BuildRequires[1:] },
		// Moving bytes between neighbouring fields must not collide.
		"define split differently": func(in *KeyInputs) {
			in.Defines = map[string]string{"dist .el9": "", "_prefix": "/opt/diracos"}
		},
		"source moved to patches": func(in *KeyInputs) {
			in.Patches["extra.tar.gz"] = "bbbb"
			delete(in.Sources, "extra.tar.gz")
		},
		"spec moved to srpm": func(in *KeyInputs) { in.SRPM, in.Spec = in.Spec, "" },
	}
	seen := map[string]string{base: "base"}
	for name, mutate := range mutations {
		in := sampleInputs()
		mutate(&in)
		k := Key(in)
		if prev, dup := seen[k]; dup {
			t.Errorf("%s gives the same key as %s", name, prev)
		}
		seen[k] = name
	}
}

func TestKeyIgnoresOrderAndOutputs(t *testing.T) {
	base := Key(sampleInputs())
	in := sampleInputs()
	slices.Reverse(in.BuildRequires)
	if Key(in) != base {
		t.Error("BuildRequires order changes the key")
	}
	in = sampleInputs()
	for i := range in.BuildRequires {
		in.BuildRequires[i].From = "somewhere-else"
	}
	if Key(in) != base {
		t.Error("RPM.From changes the key")
	}
	// Maps built in another insertion order (Go randomizes iteration).
	for range 20 {
		in = sampleInputs()
		d := map[string]string{}
		for _, k := range []string{"_prefix", "dist"} {
			d[k] = in.Defines[k]
		}
		in.Defines = d
		if Key(in) != base {
			t.Fatal("map order changes the key")
		}
	}
	a, b := sampleInputs(), sampleInputs()
	a.Patches, b.Patches = nil, map[string]string{}
	if Key(a) != Key(b) {
		t.Error("nil and empty maps give different keys")
	}
	if k := Key(KeyInputs{}); len(k) != 64 || !validKey(k) {
		t.Errorf("Key of zero inputs %q is not a key", k)
	}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*KeyInputs)
		want   []string
	}{
		{"equal", func(*KeyInputs) {}, nil},
		{"source", func(in *KeyInputs) { in.Sources["extra.tar.gz"] = "x" }, []string{"source changed"}},
		{"srpm", func(in *KeyInputs) { in.SRPM = "x" }, []string{"source changed"}},
		{"spec and patch", func(in *KeyInputs) { in.Spec = "x"; in.Patches = nil }, []string{"spec changed", "patch changed"}},
		{"defines, bconds", func(in *KeyInputs) { in.Defines["a"] = "b"; in.Bconds["docs"] = true }, []string{"defines changed", "bconds changed"}},
		{"platform, builder", func(in *KeyInputs) { in.Platform = "p"; in.Builder = "b" }, []string{"platform changed", "builder changed"}},
		{"dependency rebuilt", func(in *KeyInputs) { in.BuildRequires[0].SHA256 = "new" }, []string{"dependency zlib rebuilt"}},
		{"dependencies added and removed", func(in *KeyInputs) {
			in.BuildRequires = append(in.BuildRequires[:2], RPM{NEVRA: "xz-devel-1:5.4.1-1.el9.x86_64", SHA256: "1"})
		}, []string{"dependency python3 removed", "dependency xz-devel added"}},
		{"order and From-less equal", func(in *KeyInputs) { slices.Reverse(in.BuildRequires) }, nil},
	}
	for _, tt := range tests {
		in := sampleInputs()
		tt.mutate(&in)
		if got := Diff(sampleInputs(), in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Diff = %q, want %q", tt.name, got, tt.want)
		}
		if (len(tt.want) == 0) != (Key(in) == Key(sampleInputs())) {
			t.Errorf("%s: Diff and Key disagree on whether anything changed", tt.name)
		}
	}
}

func TestNevraName(t *testing.T) {
	for in, want := range map[string]string{
		"zlib-devel-1.2.13-1.el9.x86_64":    "zlib-devel",
		"xz-devel-1:5.4.1-1.el9.x86_64":     "xz-devel",
		"python3.11-libs-3.11.4-1.noarch":   "python3.11-libs",
		"weird":                             "weird",
		"a-b.noarch":                        "a-b.noarch",
		"perl-Foo-Bar-1.0-1.fc39.src":       "perl-Foo-Bar",
		"name-with-many-dashes-1-2.aarch64": "name-with-many-dashes",
	} {
		if got := nevraName(in); got != want {
			t.Errorf("nevraName(%q) = %q, want %q", in, got, want)
		}
	}
}
