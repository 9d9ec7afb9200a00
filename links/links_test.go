package links

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// quiet is a logger that discards everything.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// norm gives every nil slice of r its empty value, so reports written as
// literals compare with Fix's.
func norm(r Report) Report {
	if r.Relativised == nil {
		r.Relativised = []Relink{}
	}
	if r.Copied == nil {
		r.Copied = []Copy{}
	}
	if r.Dropped == nil {
		r.Dropped = []Drop{}
	}
	if r.HardLinksBroken == nil {
		r.HardLinksBroken = []string{}
	}
	if r.Loops == nil {
		r.Loops = []Link{}
	}
	return r
}

const (
	noTarget = "target does not exist"
	notADir  = "a path component is not a directory"
	isLoop   = "symlink loop"
	overlong = "chain longer than 40 symlinks"
)

func TestFix(t *testing.T) {
	// chain is l00 -> l01 -> ... -> l41 -> f: l00 and l01 need 42 and
	// 41 expansions, one too many for the kernel as well.
	var chain []entry
	chainWant := []string{`f /f 0644 "end"`}
	for i := range 42 {
		next := fmt.Sprintf("l%02d", i+1)
		if i == 41 {
			next = "f"
		}
		chain = append(chain, L(fmt.Sprintf("l%02d", i), next))
		if i >= 2 {
			chainWant = append(chainWant, fmt.Sprintf("l /l%02d -> %s", i, next))
		}
	}
	chain = append(chain, F("f", "end"))

	tests := []struct {
		name     string
		tree     []entry
		want     []string          // snapshot after Fix
		reads    map[string]string // path -> content read through the links, by the kernel
		report   Report
		wantList string // content of broken-links.txt; "" means no file
	}{
		{
			name: "absolute inside keeps the chain",
			tree: []entry{
				F("usr/lib/libz.so.1.2.13", "z"),
				L("usr/lib/libz.so.1", "/usr/lib/libz.so.1.2.13"),
				L("usr/lib/libz.so", "/usr/lib/libz.so.1"),
				L("usr/bin/zz", "/usr/lib/libz.so"),
			},
			want: []string{
				"d /usr 0755", "d /usr/bin 0755", "d /usr/lib 0755",
				`f /usr/lib/libz.so.1.2.13 0644 "z"`,
				"l /usr/lib/libz.so.1 -> libz.so.1.2.13",
				"l /usr/lib/libz.so -> libz.so.1",
				"l /usr/bin/zz -> ../lib/libz.so",
			},
			reads: map[string]string{"usr/bin/zz": "z"},
			report: Report{Relativised: []Relink{
				{"/usr/bin/zz", "/usr/lib/libz.so", "../lib/libz.so"},
				{"/usr/lib/libz.so", "/usr/lib/libz.so.1", "libz.so.1"},
				{"/usr/lib/libz.so.1", "/usr/lib/libz.so.1.2.13", "libz.so.1.2.13"},
			}},
		},
		{
			name: "absolute to directories and to the root",
			tree: []entry{
				F("opt/real/f", "x"),
				L("usr/share/data", "/opt/real"),
				L("usr/share/root", "/"),
				L("top", "/usr/share/"),
				L("here", "/."),
			},
			want: []string{
				"d /opt 0755", "d /opt/real 0755", `f /opt/real/f 0644 "x"`,
				"d /usr 0755", "d /usr/share 0755",
				"l /usr/share/data -> ../../opt/real",
				"l /usr/share/root -> ../..",
				"l /top -> usr/share",
				"l /here -> .",
			},
			reads: map[string]string{"usr/share/data/f": "x", "top/root/here/opt/real/f": "x"},
			report: Report{Relativised: []Relink{
				{"/here", "/.", "."},
				{"/top", "/usr/share/", "usr/share"},
				{"/usr/share/data", "/opt/real", "../../opt/real"},
				{"/usr/share/root", "/", "../.."},
			}},
		},
		{
			name: "absolute through a directory symlink",
			tree: []entry{
				F("usr/lib64/libc.so.6", "c"),
				L("lib64", "usr/lib64"),
				L("usr/lib/libc.so", "/lib64/libc.so.6"),
			},
			want: []string{
				"d /usr 0755", "d /usr/lib 0755", "d /usr/lib64 0755",
				`f /usr/lib64/libc.so.6 0644 "c"`,
				"l /lib64 -> usr/lib64",
				"l /usr/lib/libc.so -> ../lib64/libc.so.6",
			},
			reads:  map[string]string{"usr/lib/libc.so": "c"},
			report: Report{Relativised: []Relink{{"/usr/lib/libc.so", "/lib64/libc.so.6", "../lib64/libc.so.6"}}},
		},
		{
			name: "dot-dot after a directory symlink climbs from its target",
			tree: []entry{
				F("opt/p/f", "right"),
				D("opt/p/q"),
				F("a/f", "wrong"),
				L("a/sym", "/opt/p/q"),
				L("usr/bin/x", "/a/sym/../f"),
				L("usr/bin/y", "../../a/sym/../f"),
			},
			want: []string{
				"d /a 0755", `f /a/f 0644 "wrong"`, "l /a/sym -> ../opt/p/q",
				"d /opt 0755", "d /opt/p 0755", "d /opt/p/q 0755", `f /opt/p/f 0644 "right"`,
				"d /usr 0755", "d /usr/bin 0755",
				"l /usr/bin/x -> ../../opt/p/f",
				"l /usr/bin/y -> ../../a/sym/../f",
			},
			reads: map[string]string{"usr/bin/x": "right", "usr/bin/y": "right"},
			report: Report{Relativised: []Relink{
				{"/a/sym", "/opt/p/q", "../opt/p/q"},
				{"/usr/bin/x", "/a/sym/../f", "../../opt/p/f"},
			}},
		},
		{
			name: "absolute outside held through an alternatives link",
			tree: []entry{
				F("usr/bin/python3.9", "py"),
				L("etc/alternatives/python", "/usr/bin/python3.9"),
				L("usr/bin/python", "/etc/alternatives/python"),
			},
			want: []string{
				"d /etc 0755", "d /etc/alternatives 0755", "d /usr 0755", "d /usr/bin 0755",
				`f /usr/bin/python3.9 0644 "py"`,
				"l /etc/alternatives/python -> ../../usr/bin/python3.9",
				"l /usr/bin/python -> ../../etc/alternatives/python",
			},
			reads: map[string]string{"usr/bin/python": "py"},
			report: Report{Relativised: []Relink{
				{"/etc/alternatives/python", "/usr/bin/python3.9", "../../usr/bin/python3.9"},
				{"/usr/bin/python", "/etc/alternatives/python", "../../etc/alternatives/python"},
			}},
		},
		{
			name: "absolute missing",
			tree: []entry{
				F("usr/bin/real", "r"),
				L("usr/bin/x", "/etc/alternatives/x"),
				L("usr/bin/y", "/usr/bin/real/sub"),
			},
			want: []string{
				"d /usr 0755", "d /usr/bin 0755", `f /usr/bin/real 0644 "r"`,
				`f /broken-links.txt 0644 "/usr/bin/x -> /etc/alternatives/x\n/usr/bin/y -> /usr/bin/real/sub\n"`,
			},
			report: Report{Dropped: []Drop{
				{"/usr/bin/x", "/etc/alternatives/x", noTarget},
				{"/usr/bin/y", "/usr/bin/real/sub", notADir},
			}},
			wantList: "/usr/bin/x -> /etc/alternatives/x\n/usr/bin/y -> /usr/bin/real/sub\n",
		},
		{
			name: "relative escaping to a held file becomes a copy",
			tree: []entry{
				FM("opt/tool/bin/run", "#!/bin/sh\n", 0o750),
				L("usr/bin/run", "../../../../opt/tool/bin/run"),
			},
			want: []string{
				"d /opt 0755", "d /opt/tool 0755", "d /opt/tool/bin 0755",
				`f /opt/tool/bin/run 0750 "#!/bin/sh\n"`,
				"d /usr 0755", "d /usr/bin 0755",
				`f /usr/bin/run 0750 "#!/bin/sh\n"`,
			},
			report: Report{Copied: []Copy{{"/usr/bin/run", "../../../../opt/tool/bin/run", "/opt/tool/bin/run"}}},
		},
		{
			name: "relative escaping to a held directory becomes a relative link",
			tree: []entry{
				F("opt/share/d/x", "x"),
				L("usr/share/d", "../../../opt/share/d"),
			},
			want: []string{
				"d /opt 0755", "d /opt/share 0755", "d /opt/share/d 0755", `f /opt/share/d/x 0644 "x"`,
				"d /usr 0755", "d /usr/share 0755",
				"l /usr/share/d -> ../../opt/share/d",
			},
			reads:  map[string]string{"usr/share/d/x": "x"},
			report: Report{Relativised: []Relink{{"/usr/share/d", "../../../opt/share/d", "../../opt/share/d"}}},
		},
		{
			name: "relative escaping not held",
			tree: []entry{L("usr/lib/g", "../../../../host/only")},
			want: []string{
				"d /usr 0755", "d /usr/lib 0755",
				`f /broken-links.txt 0644 "/usr/lib/g -> ../../../../host/only\n"`,
			},
			report:   Report{Dropped: []Drop{{"/usr/lib/g", "../../../../host/only", noTarget}}},
			wantList: "/usr/lib/g -> ../../../../host/only\n",
		},
		{
			name: "relative inside is untouched",
			tree: []entry{
				F("usr/lib/c", "c"),
				L("usr/lib/b", "c"),
				L("usr/lib/a", "b"),
				L("usr/bin/a", "../lib/a"),
				L("usr/lib/dir", "."),
			},
			want: []string{
				"d /usr 0755", "d /usr/bin 0755", "d /usr/lib 0755", `f /usr/lib/c 0644 "c"`,
				"l /usr/lib/b -> c", "l /usr/lib/a -> b", "l /usr/bin/a -> ../lib/a", "l /usr/lib/dir -> .",
			},
			reads: map[string]string{"usr/bin/a": "c", "usr/lib/dir/dir/c": "c"},
		},
		{
			name: "relative through rewritten links is untouched",
			tree: []entry{
				F("usr/lib/z", "z"),
				F("opt/f", "f"),
				L("usr/lib/y", "/usr/lib/z"),
				L("usr/lib/x", "y"),
				L("usr/lib/e", "../../../../opt/f"),
				L("usr/lib/w", "e"),
			},
			want: []string{
				"d /opt 0755", `f /opt/f 0644 "f"`,
				"d /usr 0755", "d /usr/lib 0755", `f /usr/lib/z 0644 "z"`,
				"l /usr/lib/y -> z", "l /usr/lib/x -> y",
				`f /usr/lib/e 0644 "f"`, "l /usr/lib/w -> e",
			},
			reads: map[string]string{"usr/lib/x": "z", "usr/lib/w": "f"},
			report: Report{
				Relativised: []Relink{{"/usr/lib/y", "/usr/lib/z", "z"}},
				Copied:      []Copy{{"/usr/lib/e", "../../../../opt/f", "/opt/f"}},
			},
		},
		{
			name: "relative dangling and chains into it",
			tree: []entry{
				L("usr/lib/d", "nothere"),
				L("usr/lib/e", "../lib/d"),
			},
			want: []string{
				"d /usr 0755", "d /usr/lib 0755",
				`f /broken-links.txt 0644 "/usr/lib/d -> nothere\n/usr/lib/e -> ../lib/d\n"`,
			},
			report: Report{Dropped: []Drop{
				{"/usr/lib/d", "nothere", noTarget},
				{"/usr/lib/e", "../lib/d", noTarget},
			}},
			wantList: "/usr/lib/d -> nothere\n/usr/lib/e -> ../lib/d\n",
		},
		{
			name: "loops and self-loops",
			tree: []entry{
				L("a", "b"),
				L("b", "/a"),
				L("s", "s"),
				L("g", "g/x"),
				L("usr/c", "../a"),
			},
			want: []string{
				"d /usr 0755",
				`f /broken-links.txt 0644 "/a -> b\n/b -> /a\n/g -> g/x\n/s -> s\n/usr/c -> ../a\n"`,
			},
			report: Report{
				Dropped: []Drop{
					{"/a", "b", isLoop}, {"/b", "/a", isLoop}, {"/g", "g/x", isLoop},
					{"/s", "s", isLoop}, {"/usr/c", "../a", isLoop},
				},
				Loops: []Link{{"/a", "b"}, {"/b", "/a"}, {"/g", "g/x"}, {"/s", "s"}, {"/usr/c", "../a"}},
			},
			wantList: "/a -> b\n/b -> /a\n/g -> g/x\n/s -> s\n/usr/c -> ../a\n",
		},
		{
			name: "chain longer than 40 links",
			tree: chain,
			want: append(slices.Clone(chainWant),
				`f /broken-links.txt 0644 "/l00 -> l01\n/l01 -> l02\n"`),
			reads: map[string]string{"l02": "end"},
			report: Report{Dropped: []Drop{
				{"/l00", "l01", overlong}, {"/l01", "l02", overlong},
			}},
			wantList: "/l00 -> l01\n/l01 -> l02\n",
		},
		{
			name: "trailing slashes need directories",
			tree: []entry{
				F("usr/lib/file", "f"),
				L("usr/bin/a", "/usr/lib/file/"),
				L("usr/bin/b", "/usr/lib/"),
				L("usr/bin/c", "../lib/file/"),
				L("usr/bin/d", "../lib/file/."),
			},
			want: []string{
				"d /usr 0755", "d /usr/bin 0755", "d /usr/lib 0755", `f /usr/lib/file 0644 "f"`,
				"l /usr/bin/b -> ../lib",
				`f /broken-links.txt 0644 "/usr/bin/a -> /usr/lib/file/\n/usr/bin/c -> ../lib/file/\n/usr/bin/d -> ../lib/file/.\n"`,
			},
			reads: map[string]string{"usr/bin/b/file": "f"},
			report: Report{
				Relativised: []Relink{{"/usr/bin/b", "/usr/lib/", "../lib"}},
				Dropped: []Drop{
					{"/usr/bin/a", "/usr/lib/file/", notADir},
					{"/usr/bin/c", "../lib/file/", notADir},
					{"/usr/bin/d", "../lib/file/.", notADir},
				},
			},
			wantList: "/usr/bin/a -> /usr/lib/file/\n/usr/bin/c -> ../lib/file/\n/usr/bin/d -> ../lib/file/.\n",
		},
		{
			name: "hard link groups across directories",
			tree: []entry{
				F("a/f1", "one"),
				H("b/f2", "a/f1"),
				H("c/sub/f3", "a/f1"),
				FM("d/g1", "two", 0o600),
				H("d/g2", "d/g1"),
			},
			want: []string{
				"d /a 0755", "d /b 0755", "d /c 0755", "d /c/sub 0755", "d /d 0755",
				`f /a/f1 0644 "one"`, `f /b/f2 0644 "one"`, `f /c/sub/f3 0644 "one"`,
				`f /d/g1 0600 "two"`, `f /d/g2 0600 "two"`,
			},
			report: Report{HardLinksBroken: []string{"/b/f2", "/c/sub/f3", "/d/g2"}},
		},
		{
			name: "names that need quoting in the list",
			tree: []entry{
				L("usr/bin/new\nline", "/missing"),
				L("usr/bin/arrow -> x", "nope"),
			},
			want: []string{
				"d /usr 0755", "d /usr/bin 0755",
				`f /broken-links.txt 0644 "\"/usr/bin/arrow -> x\" -> nope\n\"/usr/bin/new\\nline\" -> /missing\n"`,
			},
			report: Report{Dropped: []Drop{
				{"/usr/bin/arrow -> x", "nope", noTarget},
				{"/usr/bin/new\nline", "/missing", noTarget},
			}},
			wantList: "\"/usr/bin/arrow -> x\" -> nope\n\"/usr/bin/new\\nline\" -> /missing\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := realTempDir(t)
			build(t, root, tc.tree...)
			rep, err := Fix(context.Background(), root, Options{Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := *rep, norm(tc.report); !reflect.DeepEqual(got, want) {
				g, _ := json.MarshalIndent(got, "", " ")
				w, _ := json.MarshalIndent(want, "", " ")
				t.Errorf("report:\n%s\nwant:\n%s", g, w)
			}
			if got := snapshot(t, root, false); !slices.Equal(got, sortedCopy(tc.want)) {
				t.Errorf("tree after Fix:\n%s", diffLines(got, tc.want))
			}
			list, err := os.ReadFile(filepath.Join(root, DefaultBrokenList))
			switch {
			case tc.wantList == "" && !errors.Is(err, os.ErrNotExist):
				t.Errorf("broken-links.txt: want none, got %q (%v)", list, err)
			case tc.wantList != "" && string(list) != tc.wantList:
				t.Errorf("broken-links.txt = %q, want %q (%v)", list, tc.wantList, err)
			}
			for p, want := range tc.reads {
				got, err := os.ReadFile(filepath.Join(root, p))
				if err != nil || string(got) != want {
					t.Errorf("read %s through the links = %q, %v; want %q", p, got, err, want)
				}
			}
			checkSafe(t, root)

			// Idempotence: a second run changes nothing, times included.
			before := snapshot(t, root, true)
			rep2, err := Fix(context.Background(), root, Options{Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			if !rep2.Empty() {
				t.Errorf("second run changed things: %+v", rep2)
			}
			if after := snapshot(t, root, true); !slices.Equal(before, after) {
				t.Errorf("second run changed the tree:\n%s", diffLines(after, before))
			}
		})
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
