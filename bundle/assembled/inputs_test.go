package assembled

import (
	"slices"
	"strings"
	"testing"
)

func sampleInputs() Inputs {
	return Inputs{
		Bundle: strings.Repeat("b", 64), Recipe: strings.Repeat("4", 64), Platform: strings.Repeat("5", 64),
		PipLock: strings.Repeat("1", 64), Tools: map[string]string{"patchelf": strings.Repeat("2", 64)},
		Options: map[string]string{"mtime": "SOURCE_DATE_EPOCH=1", "compression": `"gzip"`},
		Packages: []Package{
			{File: "zlib-1.2.13-1.x86_64.rpm", Name: "zlib", Arch: "x86_64", NEVRA: "zlib-1.2.13-1.x86_64", SHA256: strings.Repeat("a", 64)},
			{File: "hello-1.0-1.x86_64.rpm", Name: "hello", Arch: "x86_64", NEVRA: "hello-1.0-1.x86_64", SHA256: strings.Repeat("c", 64)},
			{File: "hello-1.0-1.src.rpm", Name: "hello", Arch: "src", NEVRA: "hello-1.0-1.src", SHA256: strings.Repeat("d", 64)},
		},
	}
}

func TestKeyIgnoresOrder(t *testing.T) {
	a := sampleInputs()
	b := sampleInputs()
	slices.Reverse(b.Packages)
	if Key(a) != Key(b) {
		t.Error("the order of the packages changed the key")
	}
	c := sampleInputs()
	c.Tools, c.Options = map[string]string{}, nil
	d := sampleInputs()
	d.Tools, d.Options = nil, map[string]string{}
	if Key(c) != Key(d) {
		t.Error("an empty map and a nil one give different keys")
	}
	if len(Key(a)) != 64 {
		t.Errorf("key %q is not a hex sha256", Key(a))
	}
}

// TestKeyAndDiff changes one input at a time: the key changes and Diff
// names that input, in words.
func TestKeyAndDiff(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Inputs)
		want   []string
	}{
		{"same", func(*Inputs) {}, nil},
		{"bundle", func(in *Inputs) { in.Bundle = strings.Repeat("e", 64) }, []string{"bundle binary changed (bbbbbbbbbbbb → eeeeeeeeeeee)"}},
		{"recipe", func(in *Inputs) { in.Recipe = strings.Repeat("e", 64) }, []string{"recipe changed (444444444444 → eeeeeeeeeeee)"}},
		{"platform", func(in *Inputs) { in.Platform = "x" }, []string{"platform changed (555555555555 → x)"}},
		{"pip lock", func(in *Inputs) { in.PipLock = "" }, []string{"pip lock changed (111111111111 → none)"}},
		{"tool", func(in *Inputs) { in.Tools["patchelf"] = strings.Repeat("3", 64) }, []string{"host tool patchelf changed (222222222222 → 333333333333)"}},
		{"option", func(in *Inputs) { in.Options["mtime"] = "SOURCE_DATE_EPOCH=2" }, []string{"option mtime changed (SOURCE_DATE_EPOCH=1 → SOURCE_DATE_EPOCH=2)"}},
		{"new option", func(in *Inputs) { in.Options["top-dir"] = `"x"` }, []string{`option top-dir changed (none → "x")`}},
		{"rebuilt", func(in *Inputs) { in.Packages[0].SHA256 = strings.Repeat("f", 64) },
			[]string{"package zlib-1.2.13-1.x86_64 rebuilt: sha256 aaaaaaaaaaaa → ffffffffffff"}},
		{"upgraded", func(in *Inputs) {
			in.Packages[0] = Package{File: "zlib-1.2.13-2.x86_64.rpm", Name: "zlib", Arch: "x86_64", NEVRA: "zlib-1.2.13-2.x86_64", SHA256: strings.Repeat("f", 64)}
		}, []string{"package zlib.x86_64 changed: zlib-1.2.13-1.x86_64 → zlib-1.2.13-2.x86_64"}},
		{"added", func(in *Inputs) {
			in.Packages = append(in.Packages, Package{File: "xz-5.4-1.x86_64.rpm", Name: "xz", Arch: "x86_64", NEVRA: "xz-5.4-1.x86_64", SHA256: strings.Repeat("9", 64)})
		}, []string{"package xz-5.4-1.x86_64 added (sha256 999999999999)"}},
		{"removed", func(in *Inputs) { in.Packages = in.Packages[1:] }, []string{"package zlib-1.2.13-1.x86_64 removed"}},
		{"two", func(in *Inputs) { in.Recipe = "x"; in.Packages = in.Packages[1:] },
			[]string{"recipe changed (444444444444 → x)", "package zlib-1.2.13-1.x86_64 removed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old, cur := sampleInputs(), sampleInputs()
			tc.change(&cur)
			if got := Diff(old, cur); !slices.Equal(got, tc.want) {
				t.Errorf("Diff:\n got %q\nwant %q", got, tc.want)
			}
			if same := Key(old) == Key(cur); same != (tc.want == nil) {
				t.Errorf("keys equal: %v, want %v", same, tc.want == nil)
			}
		})
	}
}
