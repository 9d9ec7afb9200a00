package pipfreeze

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const (
	h1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	h2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	c1 = "505e1041e37fa398b4a44f65cfe57806afdb1365"
)

func TestParseLock(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Pin
		err  string
	}{
		{name: "empty", in: "", want: nil},
		{name: "comments only", in: "# a\n#\n\n# b\n", want: nil},
		{name: "one pin", in: "six==1.16.0 --hash=" + h1 + "\n",
			want: []Pin{{Name: "six", Version: "1.16.0", Hashes: []string{h1}}}},
		{name: "hash as separate word", in: "six==1.16.0 --hash " + h1,
			want: []Pin{{Name: "six", Version: "1.16.0", Hashes: []string{h1}}}},
		{name: "continuations sorted deduplicated", in: "Six==1.16.0 \\\n  --hash=" + h2 + " \\\n  --hash=" + h1 + " \\\n --hash=" + h1 + "\n",
			want: []Pin{{Name: "six", Version: "1.16.0", Hashes: []string{h1, h2}}}},
		{name: "canonical name", in: "Charset_Normalizer.x==3.0.1+deb.2 --hash=" + h1,
			want: []Pin{{Name: "charset-normalizer-x", Version: "3.0.1+deb.2", Hashes: []string{h1}}}},
		{name: "spaces around ==", in: "six == 1.16.0 --hash=" + h1,
			want: []Pin{{Name: "six", Version: "1.16.0", Hashes: []string{h1}}}},
		{name: "trailing comment", in: "six==1.16.0 --hash=" + h1 + "  # pinned\n",
			want: []Pin{{Name: "six", Version: "1.16.0", Hashes: []string{h1}}}},
		{name: "vcs pin", in: "gamma @ git+https://example.org/g.git@" + c1 + "\n",
			want: []Pin{{Name: "gamma", URL: "git+https://example.org/g.git@" + c1}}},
		{name: "direct url pin", in: "delta @ https://example.org/delta-1.0.tar.gz --hash=" + h1 + "\n",
			want: []Pin{{Name: "delta", URL: "https://example.org/delta-1.0.tar.gz", Hashes: []string{h1}}}},
		{name: "sorted by name", in: "b==1 --hash=" + h1 + "\na==2 --hash=" + h2 + "\n",
			want: []Pin{{Name: "a", Version: "2", Hashes: []string{h2}}, {Name: "b", Version: "1", Hashes: []string{h1}}}},
		{name: "continuation at end of file", in: "six==1.16.0 --hash=" + h1 + " \\",
			want: []Pin{{Name: "six", Version: "1.16.0", Hashes: []string{h1}}}},

		{name: "loose requirement", in: "six>=1 --hash=" + h1, err: "is not pinned"},
		{name: "bare name", in: "six\n", err: "is not pinned"},
		{name: "no hash", in: "six==1.16.0\n", err: "no --hash"},
		{name: "bad hash", in: "six==1.16.0 --hash=sha256:abc", err: "bad hash"},
		{name: "md5 hash", in: "six==1.16.0 --hash=md5:" + strings.Repeat("a", 32), err: "bad hash"},
		{name: "hash without value", in: "six==1.16.0 --hash", err: "--hash without a value"},
		{name: "other option", in: "six==1.16.0 --hash=" + h1 + " --index-url=x", err: "unsupported option"},
		{name: "option line", in: "--index-url https://x\n", err: "an option without a requirement"},
		{name: "duplicate", in: "six==1 --hash=" + h1 + "\nSIX==2 --hash=" + h2, err: "pinned twice (first on line 1)"},
		{name: "markers", in: "six==1 ; python_version<'3' --hash=" + h1, err: "environment markers"},
		{name: "extras", in: "requests[socks]==2 --hash=" + h1, err: "extras are not allowed"},
		{name: "bad name", in: "-six==1 --hash=" + h1, err: "an option without a requirement"},
		{name: "bad name chars", in: "si$x==1 --hash=" + h1, err: "bad project name"},
		{name: "bad version", in: "six==1.* --hash=" + h1, err: "bad exact version"},
		{name: "empty version", in: "six== --hash=" + h1, err: "bad exact version"},
		{name: "vcs without commit", in: "gamma @ git+https://example.org/g.git@main", err: "must end in @<40-hex commit>"},
		{name: "vcs with hash", in: "gamma @ git+https://example.org/g.git@" + c1 + " --hash=" + h1, err: "takes no --hash"},
		{name: "hg pin", in: "gamma @ hg+https://example.org/g@" + c1, err: "only git"},
		{name: "not a url", in: "gamma @ some/path --hash=" + h1, err: "is not a URL"},
		{name: "error line number", in: "# header\n\nsix==1 --hash=" + h1 + "\nbad\n", err: "line 4:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ParseLock([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(l.Pins, tt.want) {
				t.Errorf("pins\n got %#v\nwant %#v", l.Pins, tt.want)
			}
		})
	}
}

// TestLockBytesGolden: the canonical form is byte-for-byte stable, and a
// valid but messy lock (CRLF, comments, mixed case, separate --hash words,
// unsorted) renders as the golden one.
func TestLockBytesGolden(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "golden.lock"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"golden.lock", "messy.lock"} {
		t.Run(f, func(t *testing.T) {
			l, err := ReadLock(filepath.Join("testdata", f))
			if err != nil {
				t.Fatal(err)
			}
			if got := l.Bytes(); !bytes.Equal(got, golden) {
				t.Errorf("Bytes():\n%s\nwant:\n%s", got, golden)
			}
		})
	}
}

func TestWriteFileAtomic(t *testing.T) {
	l, err := ReadLock(filepath.Join("testdata", "golden.lock"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "requirements.lock")
	if err := os.WriteFile(out, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l.WriteFile(out); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, l.Bytes()) {
		t.Errorf("file content %q", got)
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if err := l.WriteFile(filepath.Join(dir, "missing", "x.lock")); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
	if _, err := ReadLock(filepath.Join(dir, "nope.lock")); err == nil {
		t.Error("reading a missing lock succeeded")
	}
}

func TestPinLookup(t *testing.T) {
	l := &LockFile{Pins: []Pin{{Name: "charset-normalizer", Version: "3"}}}
	if p, ok := l.Pin("Charset_Normalizer"); !ok || p.Version != "3" {
		t.Errorf("Pin() = %v %v", p, ok)
	}
	if _, ok := l.Pin("six"); ok {
		t.Error("found a pin that is not there")
	}
}

// FuzzParseLock: parsing never panics, and whatever parses renders to a
// canonical form that parses to the same pins and renders identically.
func FuzzParseLock(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.lock"))
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("six==1 --hash=" + h1 + " \\\n\\\n# x \\\n"))
	f.Add([]byte("a @ git+file:///x@" + c1 + "\n#\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseLock(data)
		if err != nil {
			return
		}
		out := l.Bytes()
		l2, err := ParseLock(out)
		if err != nil {
			t.Fatalf("canonical form does not parse: %v\n%q", err, out)
		}
		if !reflect.DeepEqual(l.Pins, l2.Pins) {
			t.Fatalf("pins changed:\n%#v\n%#v", l.Pins, l2.Pins)
		}
		if out2 := l2.Bytes(); !bytes.Equal(out, out2) {
			t.Fatalf("not idempotent:\n%q\n%q", out, out2)
		}
	})
}
