// Package sources keeps the source files recipes need (upstream tarballs,
// patches, wheels) in a content-addressed cache. It fetches them over
// HTTP(S), from file:// URLs or local paths, and always verifies their
// sha256: a file only ever appears in the cache under the digest of its
// bytes, after it was completely written and checked.
//
// # Cache layout
//
// The layout is shared with recipes/fill-source-cache.sh, which fills the
// same directories with plain shell tools on machines that can only reach a
// Debian mirror. DIR is Cache.Dir (DefaultDir() by default):
//
//	DIR/sha256/<ab>/<hex>  the file whose sha256 is <hex> (64 lowercase hex
//	                       digits); <ab> is the first two of them. Mode 0444.
//	                       Only ever created by renaming a complete, verified
//	                       file into place.
//	DIR/by-name/<name>     symlink to ../sha256/<ab>/<hex>: the file last
//	                       fetched or imported under that file name. For
//	                       humans only; content is never looked up by name.
//	DIR/tmp/               files being downloaded or copied; removed when
//	                       they fail. On the cache's file system so the final
//	                       rename is atomic.
//	DIR/locks/<hex>.lock   flock(2) lock held while that digest is fetched,
//	                       so two processes never download one file twice.
//
// A cache directory copied to another machine (rsync, tar) works there as
// is, and a cache directory served over HTTP works as a mirror: every base
// URL in Cache.Mirrors is tried as BASE/<file name> and then as
// BASE/sha256/<ab>/<hex>.
package sources

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/bundle-dev/bundle/bundle/cachedir"
	"github.com/bundle-dev/bundle/bundle/ctxio"
	"github.com/bundle-dev/bundle/bundle/flock"
)

// Source is one file a recipe needs.
type Source struct {
	// URL is where the file comes from: http://, https:// or file://.
	// It may be empty when Path is set.
	URL string
	// Path is a local file, absolute or relative to the working directory.
	// When set it is used instead of URL, which then only says where the
	// file came from.
	Path string
	// SHA256 is the expected digest in hex. Empty means unpinned: the file
	// is used as found and its digest is computed and logged so the recipe
	// can pin it. Remote files are always pinned in offline mode.
	SHA256 string
	// Name is the file name shown to humans and used for the by-name index;
	// default: the last element of URL or Path.
	Name string
}

// label names the source in errors and logs.
func (s Source) label() string {
	switch {
	case s.Name != "":
		return s.Name
	case s.Path != "":
		return s.Path
	default:
		return s.URL
	}
}

// ErrNotCached is wrapped by the error Fetch returns in offline mode when a
// file is not in the cache.
var ErrNotCached = errors.New("not in the source cache")

// MismatchError reports a file whose sha256 is not the one the recipe pins.
// Nothing is left in the cache when it happens.
type MismatchError struct {
	From     string // URL or path the bytes came from
	Expected string
	Actual   string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("sha256 mismatch for %s: expected %s, got %s (the file changed upstream or was corrupted in transit; check it before updating the pin)",
		e.From, e.Expected, e.Actual)
}

// Cache is a content-addressed source cache rooted at Dir. Its methods are
// safe for concurrent use, also by several processes sharing Dir.
type Cache struct {
	// Dir is the cache root (see the package documentation for its layout).
	Dir string
	// Offline forbids every network access: a file missing from the cache
	// is an error wrapping ErrNotCached.
	Offline bool
	// Client does the HTTP requests; nil means a client with sensible
	// timeouts.
	Client *http.Client
	// Logger receives progress and warnings; nil means slog.Default().
	Logger *slog.Logger
	// Mirrors are base URLs tried, in order, after a source's own URL
	// failed: BASE/<file name>, then BASE/sha256/<ab>/<hex> for pinned files.
	Mirrors []string
	// Attempts is how many times one URL is tried when it fails with a
	// transient error (connection trouble, 408, 429, 5xx); 0 means 4.
	Attempts int
	// RetryDelay is the wait after the first transient failure, doubled
	// after each further one (at most 30s); 0 means 1s. A server's
	// Retry-After is honoured up to one minute.
	RetryDelay time.Duration

	// stall aborts a download that received nothing for this long
	// (0 means 2 minutes). A field so tests can shorten it.
	stall time.Duration
}

// DefaultDir returns where the source cache lives by default: sources/ in
// bundle's cache root (cachedir.Root, the rule of
// recipes/fill-source-cache.sh too), else in a folder of the temporary
// directory when no home is known.
func DefaultDir() string {
	if d, err := cachedir.Root(); err == nil {
		return filepath.Join(d, "sources")
	}
	return filepath.Join(os.TempDir(), "bundle-cache", "sources")
}

func (c *Cache) log() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

// ObjectPath returns where the file with digest sha lives in the cache
// (whether or not it is there). It returns "" for a malformed digest.
func (c *Cache) ObjectPath(sha string) string {
	sha, err := normalizeSHA(sha)
	if err != nil || sha == "" {
		return ""
	}
	return filepath.Join(c.Dir, "sha256", sha[:2], sha)
}

// Has reports whether a file with digest sha is in the cache. It only
// checks that the file exists; Fetch re-verifies the bytes before use.
func (c *Cache) Has(sha string) bool {
	p := c.ObjectPath(sha)
	if p == "" {
		return false
	}
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// normalizeSHA lowercases a hex sha256 and checks its form; "" stays "".
func normalizeSHA(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "sha256:")
	if s == "" {
		return "", nil
	}
	if len(s) != sha256.Size*2 {
		return "", fmt.Errorf("sha256 %q: want %d hex digits, got %d", s, sha256.Size*2, len(s))
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", fmt.Errorf("sha256 %q is not hexadecimal", s)
	}
	return s, nil
}

// Fetch makes the file described by s available locally and returns its
// path: a file inside the cache, or, for an unpinned local source, the
// local file itself.
func (c *Cache) Fetch(ctx context.Context, s Source) (string, error) {
	p, _, err := c.FetchDigest(ctx, s)
	return p, err
}

// FetchDigest is Fetch that also returns the file's sha256 (computed for an
// unpinned source), for manifests and for pinning recipes.
func (c *Cache) FetchDigest(ctx context.Context, s Source) (path, sha string, err error) {
	if c.Dir == "" {
		return "", "", errors.New("source cache: no directory set")
	}
	want, err := normalizeSHA(s.SHA256)
	if err != nil {
		return "", "", fmt.Errorf("source %s: %w", s.label(), err)
	}
	name, err := sourceName(s)
	if err != nil {
		return "", "", fmt.Errorf("source %s: %w", s.label(), err)
	}
	local, isLocal, err := localPath(s)
	if err != nil {
		return "", "", fmt.Errorf("source %s: %w", s.label(), err)
	}
	if isLocal {
		return c.fetchLocal(ctx, local, want, name)
	}
	return c.fetchRemote(ctx, s, want, name)
}

// localPath returns the local file a source names (Path or a file:// URL).
func localPath(s Source) (string, bool, error) {
	if s.Path != "" {
		return s.Path, true, nil
	}
	if s.URL == "" {
		return "", false, errors.New("neither URL nor Path is set")
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return "", false, fmt.Errorf("bad URL: %w", err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return "", false, fmt.Errorf("URL %s has no host", s.URL)
		}
		return "", false, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return "", false, fmt.Errorf("file URL %s names host %q: only local files are supported", s.URL, u.Host)
		}
		if u.Opaque != "" { // file:relative/path
			p, err := url.PathUnescape(u.Opaque)
			return p, true, err
		}
		if u.Path == "" {
			return "", false, fmt.Errorf("file URL %s has no path", s.URL)
		}
		return u.Path, true, nil
	case "":
		return "", false, fmt.Errorf("URL %q has no scheme: use Path for local files", s.URL)
	default:
		return "", false, fmt.Errorf("URL %s: scheme %q is not supported (http, https, file)", s.URL, u.Scheme)
	}
}

// sourceName is the file name for the by-name index: Name, else the last
// element of URL or Path. An explicit Name must be a plain file name; a
// derived one that is not yields "" (no index entry).
func sourceName(s Source) (string, error) {
	if s.Name != "" {
		if !safeName(s.Name) {
			return "", fmt.Errorf("name %q must be a plain file name (no '/', not starting with '.')", s.Name)
		}
		return s.Name, nil
	}
	var n string
	if s.Path != "" {
		n = filepath.Base(s.Path)
	} else if u, err := url.Parse(s.URL); err == nil {
		p := u.Path
		if p == "" {
			p, _ = url.PathUnescape(u.Opaque)
		}
		n = path.Base(p)
	}
	if !safeName(n) {
		return "", nil
	}
	return n, nil
}

// safeName reports whether n can be used as one directory entry.
func safeName(n string) bool {
	return n != "" && len(n) <= 255 && n[0] != '.' &&
		!strings.ContainsAny(n, "/\x00") && n == strings.TrimSpace(n)
}

// fetchLocal handles Path and file:// sources.
func (c *Cache) fetchLocal(ctx context.Context, file, want, name string) (string, string, error) {
	if want == "" {
		abs, err := filepath.Abs(file)
		if err != nil {
			return "", "", fmt.Errorf("source %s: %w", file, err)
		}
		sum, err := hashFile(ctx, abs)
		if err != nil {
			return "", "", fmt.Errorf("source %s: %w", file, err)
		}
		c.log().Debug("local source is not pinned; using it in place", "file", abs, "sha256", sum)
		return abs, sum, nil
	}
	if p, ok := c.verifiedHit(ctx, want); ok {
		c.link(name, want)
		return p, want, nil
	}
	unlock, err := c.lockDigest(ctx, want)
	if err != nil {
		return "", "", err
	}
	defer unlock()
	if p, ok := c.verifiedHit(ctx, want); ok {
		c.link(name, want)
		return p, want, nil
	}
	sum, err := c.store(ctx, want, name, file, func(ctx context.Context, w io.Writer) error {
		return copyFile(ctx, w, file)
	})
	if err != nil {
		return "", "", fmt.Errorf("source %s: %w", file, err)
	}
	return c.ObjectPath(sum), sum, nil
}

// verifiedHit reports whether the cache holds want with the right bytes. A
// corrupt entry is deleted so it is fetched again.
func (c *Cache) verifiedHit(ctx context.Context, want string) (string, bool) {
	p := c.ObjectPath(want)
	if !c.Has(want) {
		return "", false
	}
	sum, err := hashFile(ctx, p)
	if err != nil {
		c.log().Warn("cannot read cached source", "file", p, "err", err)
		return "", false
	}
	if sum != want {
		c.log().Warn("cached source is corrupt; removing it", "file", p, "actual", sum)
		_ = os.Remove(p)
		return "", false
	}
	return p, true
}

func (c *Cache) lockDigest(ctx context.Context, sha string) (func(), error) {
	dir := filepath.Join(c.Dir, "locks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("source cache: %w", err)
	}
	return flock.Lock(ctx, filepath.Join(dir, sha+".lock"))
}

// store writes what fill produces into a temp file in DIR/tmp while hashing
// it, checks the digest against want (unless want is ""), and renames the
// file into place. On any failure the temp file is removed. It returns the
// digest.
func (c *Cache) store(ctx context.Context, want, name, from string, fill func(context.Context, io.Writer) error) (sum string, err error) {
	tmpDir := filepath.Join(c.Dir, "tmp")
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return "", fmt.Errorf("source cache: %w", err)
	}
	f, err := os.CreateTemp(tmpDir, "fetch-*")
	if err != nil {
		return "", fmt.Errorf("source cache: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	h := sha256.New()
	if err := fill(ctx, io.MultiWriter(localWriter{f}, h)); err != nil {
		return "", err
	}
	sum = hex.EncodeToString(h.Sum(nil))
	if want != "" && sum != want {
		return "", &MismatchError{From: from, Expected: want, Actual: sum}
	}
	if err := f.Chmod(0o444); err != nil {
		return "", fmt.Errorf("source cache: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("source cache: write %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("source cache: write %s: %w", tmp, err)
	}
	final := c.ObjectPath(sum)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", fmt.Errorf("source cache: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("source cache: %w", err)
	}
	c.link(name, sum)
	return sum, nil
}

// link points DIR/by-name/name at the object sum (atomically replacing an
// older link). The index is a convenience: failures are only logged.
func (c *Cache) link(name, sum string) {
	if name == "" {
		return
	}
	dir := filepath.Join(c.Dir, "by-name")
	target := filepath.Join("..", "sha256", sum[:2], sum)
	final := filepath.Join(dir, name)
	if t, err := os.Readlink(final); err == nil && t == target {
		return
	}
	err := func() error {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		tmp, err := os.CreateTemp(dir, ".link-*")
		if err != nil {
			return err
		}
		tmp.Close()
		os.Remove(tmp.Name())
		if err := os.Symlink(target, tmp.Name()); err != nil {
			return err
		}
		if err := os.Rename(tmp.Name(), final); err != nil {
			os.Remove(tmp.Name())
			return err
		}
		return nil
	}()
	if err != nil {
		c.log().Warn("cannot update the by-name index of the source cache", "name", name, "err", err)
	}
}

// Import adds a local file to the cache under its digest (and to the
// by-name index under its base name) and returns the digest.
func (c *Cache) Import(ctx context.Context, file string) (string, error) {
	if c.Dir == "" {
		return "", errors.New("source cache: no directory set")
	}
	name := filepath.Base(file)
	if !safeName(name) {
		name = ""
	}
	sum, err := c.store(ctx, "", name, file, func(ctx context.Context, w io.Writer) error {
		return copyFile(ctx, w, file)
	})
	if err != nil {
		return "", fmt.Errorf("import %s: %w", file, err)
	}
	return sum, nil
}

// localWriter marks errors writing the cache's own files so they are never
// mistaken for transient network trouble.
type localWriter struct{ w io.Writer }

// localError is a failure on this machine (disk full, permissions).
type localError struct{ err error }

func (e localError) Error() string { return "write to the source cache: " + e.err.Error() }
func (e localError) Unwrap() error { return e.err }

func (l localWriter) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if err != nil {
		err = localError{err}
	}
	return n, err
}

// copyFile copies a local file into w, honouring ctx.
func copyFile(ctx context.Context, w io.Writer, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return err
	} else if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", file)
	}
	_, err = io.Copy(w, ctxio.Reader(ctx, f))
	return err
}

// hashFile returns the hex sha256 of a local file.
func hashFile(ctx context.Context, file string) (string, error) {
	h := sha256.New()
	if err := copyFile(ctx, h, file); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
