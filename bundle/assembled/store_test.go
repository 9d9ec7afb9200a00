package assembled

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeOutput writes a tarball and its sidecars as a full assembly would,
// and returns their paths, the tarball first.
func writeOutput(t testing.TB, dir, name string, content []byte) []string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(dir, name)
	files := map[string][]byte{
		tarball:                    content,
		tarball + ".sha256":        []byte("sum  " + name + "\n"),
		tarball + ".manifest.json": []byte(`{"name":"` + string(content[:4]) + `"}`),
		tarball + ".ingest.sh":     []byte("#!/bin/sh\n"),
	}
	paths := []string{tarball, tarball + ".sha256", tarball + ".manifest.json", tarball + ".ingest.sh"}
	for _, p := range paths {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(p, files[p], mode); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

func snapshot(t testing.TB, paths []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(p)
		m[filepath.Base(p)] = fi.Mode().String() + " " + string(data)
	}
	return m
}

const key1 = "1111111111111111111111111111111111111111111111111111111111111111"
const group1 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func TestPutRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := &Store{Dir: filepath.Join(dir, "cache")}
	out := filepath.Join(dir, "out")
	paths := writeOutput(t, out, "b-1-p.tar.gz", []byte("tarball one"))
	want := snapshot(t, paths)
	if _, ok := s.Get(key1); ok {
		t.Fatal("empty store has an entry")
	}
	if err := s.Put(ctx, key1, group1, sampleInputs(), paths); err != nil {
		t.Fatal(err)
	}
	e, ok := s.Get(key1)
	if !ok {
		t.Fatal("stored entry not found")
	}
	if Key(e.Inputs) != Key(sampleInputs()) {
		t.Error("entry keeps other inputs")
	}

	// A later full run replaced the outputs by rename (new files); the
	// stored entry is untouched, and restoring gives the old bytes back.
	writeOutput(t, filepath.Join(dir, "other"), "b-1-p.tar.gz", []byte("tarball two"))
	for _, p := range paths {
		os.Remove(p)
	}
	if err := os.WriteFile(paths[0], []byte("tarball two"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(paths[2], []byte("stale manifest"), 0o644)
	if err := s.Restore(ctx, e, paths[0]); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, paths); !maps.Equal(got, want) {
		t.Errorf("restored:\n%v\nwant\n%v", got, want)
	}
	// Restoring again over the same tarball keeps it and rewrites the
	// sidecars.
	os.WriteFile(paths[3], []byte("stale ingest"), 0o755)
	if err := s.Restore(ctx, e, paths[0]); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, paths); !maps.Equal(got, want) {
		t.Errorf("restored twice:\n%v\nwant\n%v", got, want)
	}
	// Into another directory, with nothing there yet.
	other := filepath.Join(dir, "elsewhere", "b-1-p.tar.gz")
	if err := s.Restore(ctx, e, other); err != nil {
		t.Fatal(err)
	}
	var again []string
	for _, p := range paths {
		again = append(again, filepath.Join(filepath.Dir(other), filepath.Base(p)))
	}
	if got := snapshot(t, again); !maps.Equal(got, want) {
		t.Errorf("restored elsewhere:\n%v\nwant\n%v", got, want)
	}
	// No temporary file is left beside the outputs.
	for _, d := range []string{out, filepath.Dir(other)} {
		des, _ := os.ReadDir(d)
		for _, de := range des {
			if strings.HasPrefix(de.Name(), ".") {
				t.Errorf("leftover %s in %s", de.Name(), d)
			}
		}
	}
	// Another name is not restored (its sidecars name the tarball).
	if err := s.Restore(ctx, e, filepath.Join(dir, "x.tar.gz")); err == nil {
		t.Error("restored under another name")
	}
}

// TestRestoreCorrupt: a stored file whose bytes changed is never restored;
// the entry is removed and the output directory is left as it was.
func TestRestoreCorrupt(t *testing.T) {
	for _, which := range []int{0, 2} {
		ctx := context.Background()
		dir := t.TempDir()
		s := &Store{Dir: filepath.Join(dir, "cache")}
		paths := writeOutput(t, filepath.Join(dir, "out"), "b-1-p.tar.gz", []byte("tarball one"))
		if err := s.Put(ctx, key1, group1, sampleInputs(), paths); err != nil {
			t.Fatal(err)
		}
		e, _ := s.Get(key1)
		// Same size, other bytes, changed in place in the store.
		f, err := os.OpenFile(filepath.Join(e.dir, e.Files[which].Name), os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt([]byte("X"), 0)
		f.Close()
		dest := filepath.Join(dir, "dest", "b-1-p.tar.gz")
		os.MkdirAll(filepath.Dir(dest), 0o755)
		os.WriteFile(dest+".manifest.json", []byte("previous"), 0o644)
		if err := s.Restore(ctx, e, dest); err == nil {
			t.Errorf("file %d: corrupt entry restored", which)
		}
		if _, ok := s.Get(key1); ok {
			t.Errorf("file %d: corrupt entry kept", which)
		}
		if data, _ := os.ReadFile(dest + ".manifest.json"); string(data) != "previous" {
			t.Errorf("file %d: output directory changed: manifest %q", which, data)
		}
		if _, err := os.Stat(dest); err == nil {
			t.Errorf("file %d: corrupt tarball restored", which)
		}
	}
}

func TestPutKeepsExisting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := &Store{Dir: filepath.Join(dir, "cache")}
	paths := writeOutput(t, filepath.Join(dir, "a"), "b-1-p.tar.gz", []byte("tarball one"))
	if err := s.Put(ctx, key1, group1, sampleInputs(), paths); err != nil {
		t.Fatal(err)
	}
	paths2 := writeOutput(t, filepath.Join(dir, "b"), "b-1-p.tar.gz", []byte("tarball two"))
	if err := s.Put(ctx, key1, group1, sampleInputs(), paths2); err != nil {
		t.Fatal(err)
	}
	e, _ := s.Get(key1)
	if data, _ := os.ReadFile(filepath.Join(e.dir, e.Files[0].Name)); !bytes.Equal(data, []byte("tarball one")) {
		t.Errorf("stored tarball %q", data)
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := &Store{Dir: filepath.Join(dir, "cache"), Keep: 2, MaxAge: time.Hour}
	keys := []string{strings.Repeat("1", 64), strings.Repeat("2", 64), strings.Repeat("3", 64)}
	for i, k := range keys {
		paths := writeOutput(t, filepath.Join(dir, k[:1]), "b-1-p.tar.gz", []byte("tarball "+k[:1]))
		if err := s.Put(ctx, k, group1, sampleInputs(), paths); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(time.Duration(i-10) * time.Minute)
		os.Chtimes(filepath.Join(s.entryDir(k), entryFile), old, old)
	}
	// The group keeps its two newest; another group's old entry ages out.
	other := strings.Repeat("4", 64)
	paths := writeOutput(t, filepath.Join(dir, "4"), "b-1-p.tar.gz", []byte("tarball 4"))
	if err := s.Put(ctx, other, strings.Repeat("b", 32), sampleInputs(), paths); err != nil {
		t.Fatal(err)
	}
	ancient := time.Now().Add(-2 * time.Hour)
	os.Chtimes(filepath.Join(s.entryDir(other), entryFile), ancient, ancient)
	s.RecordPass(strings.Repeat("5", 64), TestRecord{SHA256: "x"})
	os.Chtimes(filepath.Join(s.Dir, "tests", strings.Repeat("5", 64)+".json"), ancient, ancient)

	newest := strings.Repeat("6", 64)
	paths = writeOutput(t, filepath.Join(dir, "6"), "b-1-p.tar.gz", []byte("tarball 6"))
	if err := s.Put(ctx, newest, group1, sampleInputs(), paths); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]bool{keys[0]: false, keys[1]: false, keys[2]: true, newest: true, other: false} {
		if _, ok := s.Get(k); ok != want {
			t.Errorf("entry %s kept: %v, want %v", k[:1], ok, want)
		}
	}
	if _, ok := s.Passed(strings.Repeat("5", 64)); ok {
		t.Error("an old test record was kept")
	}
}

func TestLastAndTests(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	if _, _, ok := s.Last(group1); ok {
		t.Error("empty store has a last assembly")
	}
	in := sampleInputs()
	if err := s.SetLast(group1, key1, in); err != nil {
		t.Fatal(err)
	}
	got, when, ok := s.Last(group1)
	if !ok || Key(got) != Key(in) || time.Since(when) > time.Minute {
		t.Errorf("Last: %v %v %v", ok, when, Diff(in, got))
	}
	if err := s.SetLast("../x", key1, in); err == nil {
		t.Error("a group with a path in it was accepted")
	}
	rec := TestRecord{SHA256: strings.Repeat("7", 64), Passed: time.Now().UTC(), Report: json.RawMessage(`{"checks":[]}`)}
	if err := s.RecordPass(key1, rec); err != nil {
		t.Fatal(err)
	}
	if r, ok := s.Passed(key1); !ok || r.SHA256 != rec.SHA256 || !strings.Contains(string(r.Report), `"checks"`) {
		t.Errorf("Passed: %v %+v", ok, r)
	}
}

// BenchmarkRestore measures restoring a 64 MiB tarball and its sidecars
// into a directory that holds an older output: the no-op build's cost
// besides reading the inputs (every file is checked against its digest).
func BenchmarkRestore(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	s := &Store{Dir: filepath.Join(dir, "cache")}
	content := bytes.Repeat([]byte("0123456789abcdef"), 4<<20)
	paths := writeOutput(b, filepath.Join(dir, "made"), "b-1-p.tar.gz", content)
	if err := s.Put(ctx, key1, group1, sampleInputs(), paths); err != nil {
		b.Fatal(err)
	}
	e, _ := s.Get(key1)
	out := filepath.Join(dir, "out", "b-1-p.tar.gz")
	b.SetBytes(int64(len(content)))
	for b.Loop() {
		writeOutput(b, filepath.Dir(out), "b-1-p.tar.gz", []byte("older output"))
		if err := s.Restore(ctx, e, out); err != nil {
			b.Fatal(err)
		}
	}
}
