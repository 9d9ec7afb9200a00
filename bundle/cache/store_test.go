package cache

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// outputs writes fake build outputs into a fresh directory.
func outputs(t testing.TB, files map[string]string) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func putSample(t *testing.T, s *Store, in KeyInputs) string {
	t.Helper()
	key := Key(in)
	rpms := outputs(t, map[string]string{"b-devel-1-1.x86_64.rpm": "devel bytes", "b-1-1.x86_64.rpm": "main bytes"})
	if err := s.Put(context.Background(), key, rpms, Meta{Inputs: in, Duration: 90 * time.Second}); err != nil {
		t.Fatal(err)
	}
	return key
}

func TestStorePutGet(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	in := sampleInputs()
	key := Key(in)
	if _, ok := s.Get(key); ok {
		t.Fatal("hit in an empty cache")
	}
	if _, ok := s.Last(in.Name); ok {
		t.Fatal("Last in an empty cache")
	}
	putSample(t, s, in)
	paths, ok := s.Get(key)
	if !ok {
		t.Fatal("miss after Put")
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
		if !strings.HasPrefix(p, s.Dir) {
			t.Errorf("%s is outside the cache", p)
		}
	}
	if want := []string{"b-1-1.x86_64.rpm", "b-devel-1-1.x86_64.rpm"}; !reflect.DeepEqual(names, want) {
		t.Errorf("Get = %q, want %q", names, want)
	}
	data, _ := os.ReadFile(paths[0])
	if string(data) != "main bytes" {
		t.Errorf("stored content %q", data)
	}
	last, ok := s.Last(in.Name)
	if !ok || Key(last) != key || !reflect.DeepEqual(last.BuildRequires, in.BuildRequires) {
		t.Errorf("Last = %+v, %v", last, ok)
	}
	m, _ := s.LastMeta(in.Name)
	if m.Duration != 90*time.Second || m.Created.IsZero() {
		t.Errorf("LastMeta = %+v", m)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Dir, "tmp")); len(ents) != 0 {
		t.Errorf("tmp/ keeps %d entries after Put", len(ents))
	}
	// Storing the same key again keeps the first entry.
	if err := s.Put(context.Background(), key, outputs(t, map[string]string{"other.rpm": "x"}), Meta{Inputs: in}); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Get(key); !reflect.DeepEqual(again, paths) {
		t.Errorf("second Put replaced the entry: %q", again)
	}
}

func TestStoreLastFollowsUse(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	a := sampleInputs()
	b := sampleInputs()
	b.Defines = map[string]string{"dist": ".el8"}
	ka := putSample(t, s, a)
	kb := putSample(t, s, b)
	if last, _ := s.Last(a.Name); Key(last) != kb {
		t.Error("Last is not the latest Put")
	}
	if reasons := Diff(a, b); !reflect.DeepEqual(reasons, []string{"defines changed"}) {
		t.Errorf("Diff = %q", reasons)
	}
	if _, ok := s.Get(ka); !ok {
		t.Fatal("miss")
	}
	if last, _ := s.Last(a.Name); Key(last) != ka {
		t.Error("Last is not the entry Get used")
	}
	if _, ok := s.Last("other"); ok {
		t.Error("Last of an unknown package")
	}
}

func TestStoreDamagedEntries(t *testing.T) {
	damage := map[string]func(t *testing.T, dir string){
		"content changed": func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "rpms", "b-1-1.x86_64.rpm"), []byte("main bytez"), 0o644)
		},
		"truncated": func(t *testing.T, dir string) {
			os.Truncate(filepath.Join(dir, "rpms", "b-devel-1-1.x86_64.rpm"), 3)
		},
		"file missing": func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "rpms", "b-1-1.x86_64.rpm")) },
		"extra file": func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "rpms", "evil.rpm"), nil, 0o644)
		},
		"replaced by symlink": func(t *testing.T, dir string) {
			p := filepath.Join(dir, "rpms", "b-1-1.x86_64.rpm")
			outside := filepath.Join(t.TempDir(), "same.rpm")
			os.Rename(p, outside)
			os.Symlink(outside, p)
		},
		"manifest garbage": func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, "entry.json"), []byte("{"), 0o644) },
		"inputs edited": func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "inputs.json"), []byte(`{"name":"libxml2","platform":"x"}`), 0o644)
		},
		"inputs missing": func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "inputs.json")) },
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			s := &Store{Dir: t.TempDir()}
			key := putSample(t, s, sampleInputs())
			f(t, s.entryDir(key))
			if name == "inputs missing" {
				// Put repairs a damaged entry it finds in its way.
				putSample(t, s, sampleInputs())
				if _, ok := s.Get(key); !ok {
					t.Fatal("Put did not repair the entry")
				}
				f(t, s.entryDir(key))
			}
			if _, ok := s.Get(key); ok {
				t.Fatal("damaged entry returned")
			}
			if _, err := os.Stat(s.entryDir(key)); !os.IsNotExist(err) {
				t.Error("damaged entry not removed")
			}
			// A rebuild stores it again.
			putSample(t, s, sampleInputs())
			if _, ok := s.Get(key); !ok {
				t.Error("re-stored entry not found")
			}
		})
	}
}

func TestStorePutRejects(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	in := sampleInputs()
	key := Key(in)
	good := outputs(t, map[string]string{"a-1-1.noarch.rpm": "x"})
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "d.rpm"), 0o755)
	tests := []struct {
		name string
		key  string
		rpms []string
		in   KeyInputs
		want string
	}{
		{"not a key", "../../etc", good, in, "is not a key"},
		{"upper-case key", strings.ToUpper(key), good, in, "is not a key"},
		{"key of other inputs", Key(KeyInputs{Name: "x"}), good, in, "not the key of the given inputs"},
		{"no name", Key(KeyInputs{}), good, KeyInputs{}, "no package name"},
		{"no rpms", key, nil, in, "no RPMs"},
		{"not an rpm", key, outputs(t, map[string]string{"build.log": "x"}), in, "not an .rpm"},
		{"duplicate names", key, append(good, good[0]), in, "two outputs are named"},
		{"missing file", key, []string{filepath.Join(dir, "gone.rpm")}, in, "no such file"},
		{"directory", key, []string{filepath.Join(dir, "d.rpm")}, in, "not a regular file"},
	}
	for _, tt := range tests {
		err := s.Put(context.Background(), tt.key, tt.rpms, Meta{Inputs: tt.in})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Dir, "entries")); len(ents) != 0 {
		t.Errorf("rejected Puts left %d entries", len(ents))
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Dir, "tmp")); len(ents) != 0 {
		t.Errorf("rejected Puts left %d temporary directories", len(ents))
	}
	if _, ok := s.Get("../../../../etc/passwd"); ok {
		t.Error("Get accepted a path as key")
	}
}

func TestStorePutCancelled(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	in := sampleInputs()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Put(ctx, Key(in), outputs(t, map[string]string{"a.rpm": "x"}), Meta{Inputs: in})
	if err == nil {
		t.Fatal("cancelled Put succeeded")
	}
	if _, ok := s.Get(Key(in)); ok {
		t.Error("cancelled Put left a visible entry")
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Dir, "tmp")); len(ents) != 0 {
		t.Errorf("cancelled Put left %d temporary directories", len(ents))
	}
}

func TestStoreCleansOldTmp(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	old := filepath.Join(s.Dir, "tmp", "deadbeef-123")
	os.MkdirAll(old, 0o755)
	past := time.Now().Add(-48 * time.Hour)
	os.Chtimes(old, past, past)
	fresh := filepath.Join(s.Dir, "tmp", "cafe-456")
	os.MkdirAll(fresh, 0o755)
	putSample(t, s, sampleInputs())
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Error("a day-old temporary directory was kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("a recent temporary directory (another writer's) was removed")
	}
}

func TestStoreConcurrentPut(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	in := sampleInputs()
	key := Key(in)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		rpms := outputs(t, map[string]string{"a-1-1.noarch.rpm": "same bytes", "a-devel-1-1.noarch.rpm": "more"})
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Put(context.Background(), key, rpms, Meta{Inputs: in})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if paths, ok := s.Get(key); !ok || len(paths) != 2 {
		t.Errorf("after concurrent Puts: %q, %v", paths, ok)
	}
}

func TestLastPathSafe(t *testing.T) {
	s := &Store{Dir: "/c"}
	for _, name := range []string{"../../etc/passwd", "..", "", "a/b", strings.Repeat("x", 300)} {
		p := s.lastPath(name)
		if filepath.Dir(p) != "/c/last" {
			t.Errorf("lastPath(%q) = %s escapes last/", name, p)
		}
	}
	if got := s.lastPath("python3.11-libs"); got != "/c/last/python3.11-libs" {
		t.Errorf("plain name mapped to %s", got)
	}
}

// FuzzEntry feeds arbitrary entry.json and inputs.json to the entry
// parser: it must never panic, and never accept an entry whose inputs do
// not hash to its key or that lists a file outside rpms/.
func FuzzEntry(f *testing.F) {
	entry, err := os.ReadFile("testdata/entry.json")
	if err != nil {
		f.Fatal(err)
	}
	inputs, err := os.ReadFile("testdata/inputs.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(entry, inputs)
	f.Add([]byte(`{"key":"x","files":[{"name":"../../x.rpm"}]}`), []byte(`{}`))
	const key = "5988a8580dc3a5aa13e2c5eeb5b5d9d99f6b8449b90387bf429082a836454bd4"
	f.Fuzz(func(t *testing.T, entry, inputs []byte) {
		ent, err := parseEntry(key, entry, inputs)
		if err != nil {
			return
		}
		if Key(ent.Meta.Inputs) != key || ent.Key != key {
			t.Fatalf("accepted an entry whose inputs do not hash to its key")
		}
		for _, fe := range ent.Files {
			if filepath.Base(fe.Name) != fe.Name || fe.Name == ".." {
				t.Fatalf("accepted file name %q", fe.Name)
			}
		}
	})
}

func TestParseEntrySeed(t *testing.T) {
	entry, _ := os.ReadFile("testdata/entry.json")
	inputs, _ := os.ReadFile("testdata/inputs.json")
	ent, err := parseEntry(Key(sampleInputs()), entry, inputs)
	if err != nil {
		t.Fatal(err)
	}
	if ent.Duration != 90*time.Second || len(ent.Files) != 1 || !reflect.DeepEqual(ent.Meta.Inputs.Defines, sampleInputs().Defines) {
		t.Errorf("parsed %+v", ent)
	}
	bad := strings.Replace(string(entry), "b-1-1.x86_64.rpm", "../b.rpm", 1)
	if _, err := parseEntry(Key(sampleInputs()), []byte(bad), inputs); err == nil {
		t.Error("file name with a path accepted")
	}
}
