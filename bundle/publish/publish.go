// Package publish puts a bundle into a channel directory that sites fetch
// from: DIR/CHANNEL/ID/ holds the tarball, its sidecars, the release notes
// (the diff against the previous entry) and entry.json; DIR/CHANNEL/latest
// is a symlink to the newest entry; index.json and index.html list them.
//
// Every change is made so that a reader, or a publisher killed at any
// point, never sees a partial entry: an entry is staged in a hidden
// directory and renamed into place whole, latest is switched by renaming a
// new symlink over it, pruned entries are renamed away before they are
// deleted, and the indexes are rebuilt from the complete entries on disk
// and replaced by rename. Leftovers of a killed publisher are removed by
// the next one. Publishers of one channel take turns through a lock.
package publish

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/bundle-dev/bundle/bundle"
	"github.com/bundle-dev/bundle/bundle/atomicfile"
	"github.com/bundle-dev/bundle/bundle/ctxio"
	"github.com/bundle-dev/bundle/bundle/diff"
	"github.com/bundle-dev/bundle/bundle/flock"
)

// Channels are the channel names accepted.
var Channels = []string{"nightly", "release"}

// Names inside a channel directory.
const (
	LatestLink   = "latest"
	IndexJSON    = "index.json"
	IndexHTML    = "index.html"
	EntryFile    = "entry.json"
	NotesFile    = "RELEASE-NOTES.md"
	lockFile     = ".lock"
	historyFile  = ".history"
	stagePrefix  = ".stage-"
	trashPrefix  = ".trash-"
	tmpPrefix    = ".tmp-"
	dateLayout   = "20060102"
	requiredSide = ".manifest.json"
)

// Sidecars are the files copied with the tarball, as suffixes of its
// name; the first two are required.
var Sidecars = []string{".sha256", requiredSide, ".spdx.json", ".ingest.sh"}

// Options say what to publish where.
type Options struct {
	Tarball string
	Dir     string // the publication root; the channel is a directory below it
	Channel string // nightly (default) or release
	// Keep is how many entries the channel keeps, newest first (0: all).
	Keep   int
	Now    func() time.Time // default time.Now
	Logger *slog.Logger
}

// Entry is one published bundle, as entry.json and index.json record it.
type Entry struct {
	ID        string    `json:"id"`
	Seq       int       `json:"seq"` // 1 for the channel's first entry, then +1
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	Platform  string    `json:"platform"`
	Published time.Time `json:"published"`
	Tarball   string    `json:"tarball"`
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size"`
	Files     []string  `json:"files"`
	// Previous is the entry the release notes compare against ("" for the
	// channel's first entry); Changes is that diff in one line.
	Previous string `json:"previous,omitempty"`
	Changes  string `json:"changes"`
	Notes    string `json:"notes"`
}

// Index is index.json: the channel's entries, newest first.
type Index struct {
	Channel string  `json:"channel"`
	Latest  string  `json:"latest"`
	Entries []Entry `json:"entries"`
}

// afterStep, when set (by tests), is called after each step of Publish:
// the tests kill the process there.
var afterStep func(step string)

func step(name string) {
	if afterStep != nil {
		afterStep(name)
	}
}

// Publish verifies the tarball against its sha256 file and manifest,
// stages it with its sidecars, release notes and entry.json, renames the
// entry into place, switches latest, prunes old entries and rewrites the
// indexes. It returns the new entry.
func Publish(ctx context.Context, o Options) (*Entry, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	log := o.Logger
	m, sum, err := verify(o.Tarball)
	if err != nil {
		return nil, err
	}
	chDir := filepath.Join(o.Dir, o.Channel)
	if err := os.MkdirAll(chDir, 0o755); err != nil {
		return nil, fmt.Errorf("publish: channel directory: %w", err)
	}
	unlock, err := flock.Lock(ctx, filepath.Join(chDir, lockFile))
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	defer unlock()
	if err := cleanLeftovers(chDir, log); err != nil {
		return nil, err
	}
	entries, err := readEntries(chDir, log)
	if err != nil {
		return nil, err
	}

	now := o.Now().UTC()
	id, err := newID(chDir, fmt.Sprintf("%s-%s-%s-%s", m.Name, m.Version, m.Platform, now.Format(dateLayout)))
	if err != nil {
		return nil, err
	}
	e := &Entry{
		ID: id, Seq: 1, Name: m.Name, Version: m.Version, Platform: m.Platform, Published: now,
		Tarball: filepath.Base(o.Tarball), SHA256: sum, Size: m.Tarball.Size, Notes: NotesFile,
	}
	if len(entries) > 0 {
		e.Seq = entries[0].Seq + 1
	}

	stage := filepath.Join(chDir, stagePrefix+e.ID)
	if err := os.Mkdir(stage, 0o755); err != nil {
		return nil, fmt.Errorf("publish: stage: %w", err)
	}
	for _, suffix := range append([]string{""}, Sidecars...) {
		src := o.Tarball + suffix
		if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) && suffix != "" && suffix != ".sha256" && suffix != requiredSide {
			continue
		}
		got, err := copyFile(ctx, src, filepath.Join(stage, filepath.Base(src)))
		if err != nil {
			return nil, err
		}
		if suffix == "" && got != sum {
			return nil, fmt.Errorf("publish: %s changed while it was copied (sha256 %s, then %s): publish it again", o.Tarball, sum, got)
		}
		e.Files = append(e.Files, filepath.Base(src))
		step("copy" + suffix)
	}
	notes, err := releaseNotes(ctx, chDir, entries, e, filepath.Join(stage, e.Tarball))
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(stage, NotesFile), notes, 0o644); err != nil {
		return nil, err
	}
	e.Files = append(e.Files, NotesFile)
	sort.Strings(e.Files)
	data, _ := json.MarshalIndent(e, "", "  ")
	if err := atomicfile.Write(filepath.Join(stage, EntryFile), append(data, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := syncDir(stage); err != nil {
		return nil, err
	}
	step("staged")

	final := filepath.Join(chDir, e.ID)
	if err := os.Rename(stage, final); err != nil {
		return nil, fmt.Errorf("publish: rename %s into place: %w", e.ID, err)
	}
	if err := syncDir(chDir); err != nil {
		return nil, err
	}
	step("renamed")
	if err := switchLatest(chDir, e.ID); err != nil {
		return nil, err
	}
	step("latest")
	// The indexes stop listing pruned entries before they go.
	entries = append([]Entry{*e}, entries...)
	kept, gone := entries, []Entry(nil)
	if o.Keep > 0 && len(entries) > o.Keep {
		kept, gone = entries[:o.Keep], entries[o.Keep:]
	}
	if err := writeIndexes(chDir, o.Channel, kept); err != nil {
		return nil, err
	}
	step("indexed")
	if err := prune(chDir, gone, log); err != nil {
		return nil, err
	}
	log.Info("published", "entry", e.ID, "channel", o.Channel, "changes", e.Changes)
	return e, nil
}

func (o *Options) defaults() error {
	if o.Tarball == "" || o.Dir == "" {
		return errors.New("publish: a tarball and a destination (--to DIR) are required")
	}
	if o.Channel == "" {
		o.Channel = "nightly"
	}
	valid := false
	for _, c := range Channels {
		valid = valid || c == o.Channel
	}
	if !valid {
		return fmt.Errorf("publish: channel %q: want one of %s", o.Channel, strings.Join(Channels, ", "))
	}
	if o.Keep < 0 {
		return fmt.Errorf("publish: --keep %d: want 0 (keep all) or more", o.Keep)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// verify checks the tarball against TARBALL.sha256 and its manifest and
// returns the manifest and the digest.
func verify(tarball string) (*bundle.Manifest, string, error) {
	want, err := readSHA256File(tarball + ".sha256")
	if err != nil {
		return nil, "", err
	}
	m, err := bundle.ReadManifest(tarball + requiredSide)
	if err != nil {
		return nil, "", fmt.Errorf("publish: %w", err)
	}
	got, err := fileSHA256(tarball)
	if err != nil {
		return nil, "", err
	}
	if got != want {
		return nil, "", fmt.Errorf("publish: %s: sha256 %s does not match %s.sha256 (%s): the tarball is damaged or not the one its checksum describes", tarball, got, filepath.Base(tarball), want)
	}
	if m.Tarball.SHA256 != got || m.Tarball.File != filepath.Base(tarball) {
		return nil, "", fmt.Errorf("publish: %s: the manifest beside it describes %s (sha256 %s), not this tarball (sha256 %s)", tarball, m.Tarball.File, m.Tarball.SHA256, got)
	}
	return m, got, nil
}

// readSHA256File reads a coreutils checksum file's first digest.
func readSHA256File(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("publish: checksum: %w", err)
	}
	f := strings.Fields(string(data))
	if len(f) == 0 || len(f[0]) != 64 {
		return "", fmt.Errorf("publish: %s is not a sha256sum file", path)
	}
	if _, err := hex.DecodeString(f[0]); err != nil {
		return "", fmt.Errorf("publish: %s is not a sha256sum file: %w", path, err)
	}
	return strings.ToLower(f[0]), nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("publish: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, bufio.NewReaderSize(f, 1<<20)); err != nil {
		return "", fmt.Errorf("publish: read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// copyFile copies src to dst (new), fsyncs it and returns its sha256.
func copyFile(ctx context.Context, src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("publish: %w", err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return "", fmt.Errorf("publish: %w", err)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, fi.Mode().Perm()|0o644)
	if err != nil {
		return "", fmt.Errorf("publish: %w", err)
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(out, h), ctxio.Reader(ctx, bufio.NewReaderSize(in, 1<<20)))
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("publish: copy %s: %w", src, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func syncDir(dir string) error {
	if err := atomicfile.SyncDir(dir); err != nil {
		return fmt.Errorf("publish: fsync %s: %w", dir, err)
	}
	return nil
}

// cleanLeftovers removes what a killed publisher left: staged entries,
// entries being pruned, temporary files and symlinks.
func cleanLeftovers(chDir string, log *slog.Logger) error {
	des, err := os.ReadDir(chDir)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	for _, de := range des {
		n := de.Name()
		// atomicfile's temporaries are ".NAME.tmp-*".
		if strings.HasPrefix(n, stagePrefix) || strings.HasPrefix(n, trashPrefix) || strings.HasPrefix(n, tmpPrefix) ||
			strings.HasPrefix(n, ".") && strings.Contains(n, ".tmp-") {
			log.Info("removing what an interrupted publisher left", "path", filepath.Join(chDir, n))
			if err := os.RemoveAll(filepath.Join(chDir, n)); err != nil {
				return fmt.Errorf("publish: remove leftover: %w", err)
			}
		}
	}
	return nil
}

// readEntries returns the channel's complete entries (directories holding
// an entry.json), newest (highest Seq) first.
func readEntries(chDir string, log *slog.Logger) ([]Entry, error) {
	des, err := os.ReadDir(chDir)
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	var out []Entry
	for _, de := range des {
		if !de.IsDir() || strings.HasPrefix(de.Name(), ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(chDir, de.Name(), EntryFile))
		if err != nil {
			log.Warn("not a channel entry: no readable entry.json", "dir", de.Name(), "err", err)
			continue
		}
		var e Entry
		if err := json.Unmarshal(data, &e); err != nil || e.ID != de.Name() {
			log.Warn("not a channel entry: entry.json unreadable or for another directory", "dir", de.Name())
			continue
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Seq != out[j].Seq {
			return out[i].Seq > out[j].Seq
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// newID is base, or base.N for the smallest N from 1, that no entry of
// the channel has ever had: the IDs used are appended to .history (before
// the entry is staged) so that a pruned entry's ID is never given again.
func newID(chDir, base string) (string, error) {
	hist := filepath.Join(chDir, historyFile)
	data, err := os.ReadFile(hist)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("publish: %w", err)
	}
	used := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		used[l] = true
	}
	id := base
	for n := 1; ; n++ {
		if _, err := os.Lstat(filepath.Join(chDir, id)); errors.Is(err, os.ErrNotExist) && !used[id] {
			break
		}
		id = fmt.Sprintf("%s.%d", base, n)
	}
	f, err := os.OpenFile(hist, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "", fmt.Errorf("publish: %w", err)
	}
	_, err = f.WriteString(id + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("publish: %s: %w", hist, err)
	}
	return id, nil
}

// releaseNotes is the markdown diff against the newest existing entry.
func releaseNotes(ctx context.Context, chDir string, entries []Entry, e *Entry, tarball string) ([]byte, error) {
	if len(entries) == 0 {
		e.Changes = "first entry of the channel"
		return []byte(fmt.Sprintf("# %s %s (%s)\n\nFirst entry of the channel.\n", e.Name, e.Version, e.Platform)), nil
	}
	prev := entries[0]
	e.Previous = prev.ID
	a, b, err := diff.LoadPair(ctx, filepath.Join(chDir, prev.ID, prev.Tarball), tarball)
	if err != nil {
		return nil, fmt.Errorf("publish: release notes against %s: %w", prev.ID, err)
	}
	r := diff.Compare(a, b)
	r.Old.Tarball, r.New.Tarball = prev.ID+"/"+prev.Tarball, e.ID+"/"+e.Tarball
	e.Changes = r.Summary()
	var sb strings.Builder
	if err := r.WriteMarkdown(&sb); err != nil {
		return nil, err
	}
	return []byte(sb.String()), nil
}

// switchLatest points latest at id: a new symlink renamed over the old one.
func switchLatest(chDir, id string) error {
	tmp := filepath.Join(chDir, tmpPrefix+LatestLink)
	os.Remove(tmp)
	if err := os.Symlink(id, tmp); err != nil {
		return fmt.Errorf("publish: latest: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(chDir, LatestLink)); err != nil {
		return fmt.Errorf("publish: latest: %w", err)
	}
	return syncDir(chDir)
}

// prune removes entries, renaming each away before deleting it.
func prune(chDir string, gone []Entry, log *slog.Logger) error {
	for _, e := range gone {
		trash := filepath.Join(chDir, trashPrefix+e.ID)
		if err := os.Rename(filepath.Join(chDir, e.ID), trash); err != nil {
			return fmt.Errorf("publish: prune %s: %w", e.ID, err)
		}
		if err := os.RemoveAll(trash); err != nil {
			return fmt.Errorf("publish: prune %s: %w", e.ID, err)
		}
		log.Info("pruned", "entry", e.ID)
	}
	if len(gone) == 0 {
		return nil
	}
	return syncDir(chDir)
}

func writeIndexes(chDir, channel string, entries []Entry) error {
	idx := Index{Channel: channel, Entries: entries}
	if len(entries) > 0 {
		idx.Latest = entries[0].ID
	}
	if idx.Entries == nil {
		idx.Entries = []Entry{}
	}
	data, _ := json.MarshalIndent(idx, "", "  ")
	if err := atomicfile.Write(filepath.Join(chDir, IndexJSON), append(data, '\n'), 0o644); err != nil {
		return err
	}
	page, err := indexHTML(idx)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(chDir, IndexHTML), page, 0o644); err != nil {
		return err
	}
	return syncDir(chDir)
}

// ReadIndex reads a channel's index.json.
func ReadIndex(chDir string) (*Index, error) {
	data, err := os.ReadFile(filepath.Join(chDir, IndexJSON))
	if err != nil {
		return nil, err
	}
	var idx Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(chDir, IndexJSON), err)
	}
	return &idx, nil
}
