package sources

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// payload returns deterministic test bytes and their digest.
func payload(n int, seed byte) ([]byte, string) {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	s := sha256.Sum256(b)
	return b, hex.EncodeToString(s[:])
}

// server serves files by path and counts requests per path. A handler in
// hooks takes over the path it names.
type server struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	hooks map[string]http.HandlerFunc
	hits  map[string]int
}

func newServer(t *testing.T) *server {
	s := &server{files: map[string][]byte{}, hooks: map[string]http.HandlerFunc{}, hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		h := s.hooks[r.URL.Path]
		data, ok := s.files[r.URL.Path]
		s.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) count(p string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[p]
}

func (s *server) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.hits {
		n += v
	}
	return n
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newCache(t *testing.T) *Cache {
	return &Cache{Dir: t.TempDir(), Logger: quietLogger(), RetryDelay: time.Millisecond}
}

// cacheFiles lists every regular file and symlink under dir, relative.
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !strings.HasSuffix(p, ".lock") {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// assertEmptyCache fails when anything but lock files is in the cache.
func assertEmptyCache(t *testing.T, dir string) {
	t.Helper()
	if files := cacheFiles(t, dir); len(files) != 0 {
		t.Errorf("cache should hold nothing, holds %v", files)
	}
}

func TestFetchMissThenHit(t *testing.T) {
	srv := newServer(t)
	data, sum := payload(100_000, 1)
	srv.files["/dl/zlib-1.3.tar.gz"] = data
	c := newCache(t)
	src := Source{URL: srv.URL + "/dl/zlib-1.3.tar.gz", SHA256: strings.ToUpper(sum)}

	p, err := c.Fetch(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(c.Dir, "sha256", sum[:2], sum)
	if p != want {
		t.Fatalf("path %s, want %s", p, want)
	}
	got, err := os.ReadFile(p)
	if err != nil || string(got) != string(data) {
		t.Fatalf("cached bytes differ (err %v)", err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o444 {
		t.Errorf("mode %v, want 0444", fi.Mode().Perm())
	}
	link, err := os.Readlink(filepath.Join(c.Dir, "by-name", "zlib-1.3.tar.gz"))
	if err != nil || link != filepath.Join("..", "sha256", sum[:2], sum) {
		t.Errorf("by-name link = %q, %v", link, err)
	}
	if !c.Has(sum) || c.Has(strings.Repeat("0", 64)) || c.Has("nope") {
		t.Error("Has answers wrongly")
	}
	if tmp, _ := os.ReadDir(filepath.Join(c.Dir, "tmp")); len(tmp) != 0 {
		t.Errorf("tmp not empty: %v", tmp)
	}

	// Hit: no second request, also in offline mode.
	for _, offline := range []bool{false, true} {
		c.Offline = offline
		p2, sha, err := c.FetchDigest(context.Background(), src)
		if err != nil || p2 != want || sha != sum {
			t.Fatalf("hit (offline=%v): %s %s %v", offline, p2, sha, err)
		}
	}
	if n := srv.total(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestFetchHitAfterImport(t *testing.T) {
	srv := newServer(t)
	data, sum := payload(5000, 2)
	file := filepath.Join(t.TempDir(), "expat-2.6.tar.xz")
	os.WriteFile(file, data, 0o644)
	c := newCache(t)
	got, err := c.Import(context.Background(), file)
	if err != nil || got != sum {
		t.Fatalf("Import = %s, %v; want %s", got, err, sum)
	}
	p, err := c.Fetch(context.Background(), Source{URL: srv.URL + "/expat.tar.xz", SHA256: sum})
	if err != nil || p != c.ObjectPath(sum) {
		t.Fatalf("Fetch = %s, %v", p, err)
	}
	if srv.total() != 0 {
		t.Error("a cache hit went to the network")
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "by-name", "expat-2.6.tar.xz")); err != nil {
		t.Error(err)
	}
}

func TestFetchMismatchLeavesNothing(t *testing.T) {
	srv := newServer(t)
	data, _ := payload(70_000, 3)
	_, other := payload(10, 9)
	srv.files["/x.tar.gz"] = data
	c := newCache(t)
	u := srv.URL + "/x.tar.gz"
	_, err := c.Fetch(context.Background(), Source{URL: u, SHA256: other})
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("want MismatchError, got %v", err)
	}
	s := sha256.Sum256(data)
	for _, part := range []string{u, other, hex.EncodeToString(s[:])} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %s", err, part)
		}
	}
	if srv.count("/x.tar.gz") != 1 {
		t.Errorf("a mismatch was retried: %d requests", srv.count("/x.tar.gz"))
	}
	assertEmptyCache(t, c.Dir)
}

func TestOfflineMiss(t *testing.T) {
	srv := newServer(t)
	data, sum := payload(100, 4)
	srv.files["/openssl-3.0.tar.gz"] = data
	c := newCache(t)
	c.Offline = true
	u := srv.URL + "/openssl-3.0.tar.gz"
	_, err := c.Fetch(context.Background(), Source{URL: u, SHA256: sum, Name: "openssl-3.0.tar.gz"})
	if !errors.Is(err, ErrNotCached) {
		t.Fatalf("want ErrNotCached, got %v", err)
	}
	for _, part := range []string{"openssl-3.0.tar.gz", u, sum, "bundle fetch", "fill-source-cache.sh"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %q", err, part)
		}
	}
	// Unpinned remote sources cannot be found offline either.
	if _, err := c.Fetch(context.Background(), Source{URL: u}); !errors.Is(err, ErrNotCached) {
		t.Errorf("unpinned offline: %v", err)
	}
	if srv.total() != 0 {
		t.Error("offline mode touched the network")
	}
}

func TestRetryAfter503(t *testing.T) {
	srv := newServer(t)
	data, sum := payload(2000, 5)
	var calls atomic.Int32
	srv.hooks["/flaky.tgz"] = func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Write(data)
	}
	c := newCache(t)
	p, err := c.Fetch(context.Background(), Source{URL: srv.URL + "/flaky.tgz", SHA256: sum})
	if err != nil {
		t.Fatal(err)
	}
	if p != c.ObjectPath(sum) || calls.Load() != 3 {
		t.Errorf("path %s after %d calls", p, calls.Load())
	}

	// Attempts bounds the retries, and the error says how many were made.
	calls.Store(-100)
	c2 := newCache(t)
	c2.Attempts = 2
	_, err = c2.Fetch(context.Background(), Source{URL: srv.URL + "/flaky.tgz", SHA256: sum})
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "after 2 attempts") {
		t.Errorf("err = %v", err)
	}
	assertEmptyCache(t, c2.Dir)
}

func TestNotFoundIsNotRetriedAndMirrorsAreTried(t *testing.T) {
	srv := newServer(t)
	mirror := newServer(t)
	data, sum := payload(3000, 6)
	mirror.files["/mirror/sqlite-3.45.tar.gz"] = data
	data2, sum2 := payload(3001, 7)
	mirror.files["/cache/sha256/"+sum2[:2]+"/"+sum2] = data2

	c := newCache(t)
	c.Mirrors = []string{mirror.URL + "/mirror/", mirror.URL + "/cache"}
	p, err := c.Fetch(context.Background(), Source{URL: srv.URL + "/gone/sqlite-3.45.tar.gz", SHA256: sum})
	if err != nil || p != c.ObjectPath(sum) {
		t.Fatalf("Fetch = %s, %v", p, err)
	}
	if n := srv.count("/gone/sqlite-3.45.tar.gz"); n != 1 {
		t.Errorf("404 fetched %d times, want 1", n)
	}
	// A cache directory served over HTTP is a mirror too.
	p, err = c.Fetch(context.Background(), Source{URL: srv.URL + "/gone/other.tar.gz", SHA256: sum2})
	if err != nil || p != c.ObjectPath(sum2) {
		t.Fatalf("Fetch from sha256 mirror = %s, %v", p, err)
	}
	// Every location failing lists every failure.
	_, err = c.Fetch(context.Background(), Source{URL: srv.URL + "/gone/none.tar", SHA256: strings.Repeat("ab", 32)})
	if err == nil || strings.Count(err.Error(), "404") != 5 {
		t.Errorf("want 5 failures (URL + 2 per mirror), got %v", err)
	}
}

func TestUnpinnedRemoteIsStoredUnderItsDigest(t *testing.T) {
	srv := newServer(t)
	data, sum := payload(1234, 8)
	srv.files["/a/b/ncurses.tar.gz"] = data
	c := newCache(t)
	p, sha, err := c.FetchDigest(context.Background(), Source{URL: srv.URL + "/a/b/ncurses.tar.gz"})
	if err != nil || sha != sum || p != c.ObjectPath(sum) {
		t.Fatalf("FetchDigest = %s %s %v", p, sha, err)
	}
}

func TestLocalSources(t *testing.T) {
	data, sum := payload(4096, 10)
	dir := t.TempDir()
	t.Chdir(dir)
	os.MkdirAll("sub dir", 0o755)
	rel := filepath.Join("sub dir", "patch-1.patch")
	if err := os.WriteFile(rel, data, 0o644); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(dir, rel)
	fileURL := "file://" + strings.ReplaceAll(abs, " ", "%20")

	tests := []struct {
		name     string
		src      Source
		wantPath string // "" = in the cache
	}{
		{"relative path pinned", Source{Path: rel, SHA256: sum}, ""},
		{"relative path unpinned", Source{Path: rel}, abs},
		{"absolute path unpinned", Source{Path: abs}, abs},
		{"file URL pinned", Source{URL: fileURL, SHA256: sum}, ""},
		{"file URL unpinned", Source{URL: fileURL}, abs},
		{"relative file URL", Source{URL: "file:sub%20dir/patch-1.patch", SHA256: sum}, ""},
		{"Path wins over URL", Source{Path: rel, URL: "http://127.0.0.1:1/never", SHA256: sum}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t)
			c.Offline = true // local files never need the network
			p, sha, err := c.FetchDigest(context.Background(), tt.src)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.wantPath
			if want == "" {
				want = c.ObjectPath(sum)
			} else {
				assertEmptyCache(t, c.Dir)
			}
			if p != want || sha != sum {
				t.Errorf("got %s %s, want %s %s", p, sha, want, sum)
			}
		})
	}

	c := newCache(t)
	_, err := c.Fetch(context.Background(), Source{Path: rel, SHA256: strings.Repeat("0", 64)})
	var me *MismatchError
	if !errors.As(err, &me) || me.From != rel {
		t.Errorf("local mismatch: %v", err)
	}
	assertEmptyCache(t, c.Dir)
}

func TestBadSources(t *testing.T) {
	tests := []struct {
		name string
		src  Source
		want string
	}{
		{"nothing", Source{}, "neither URL nor Path"},
		{"short sha", Source{URL: "https://x.org/a", SHA256: "abc"}, "64 hex digits"},
		{"non-hex sha", Source{URL: "https://x.org/a", SHA256: strings.Repeat("g", 64)}, "not hexadecimal"},
		{"ftp", Source{URL: "ftp://x.org/a.tar"}, `scheme "ftp"`},
		{"no scheme", Source{URL: "x.org/a.tar"}, "no scheme"},
		{"remote file URL", Source{URL: "file://host/a.tar"}, "only local files"},
		{"name with slash", Source{URL: "https://x.org/a", Name: "../evil"}, "plain file name"},
		{"missing file", Source{Path: "/nonexistent/a.tar"}, "no such file"},
		{"directory", Source{Path: "/", SHA256: strings.Repeat("1", 64)}, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t)
			_, err := c.Fetch(context.Background(), tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
			assertEmptyCache(t, c.Dir)
		})
	}
	if _, err := (&Cache{}).Fetch(context.Background(), Source{Path: "/etc/hostname"}); err == nil {
		t.Error("a cache without a directory worked")
	}
}

func TestCorruptEntryIsFetchedAgain(t *testing.T) {
	srv := newServer(t)
	data, sum := payload(999, 11)
	srv.files["/f.tar"] = data
	c := newCache(t)
	obj := c.ObjectPath(sum)
	os.MkdirAll(filepath.Dir(obj), 0o755)
	os.WriteFile(obj, []byte("bit rot"), 0o444)
	p, err := c.Fetch(context.Background(), Source{URL: srv.URL + "/f.tar", SHA256: sum})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != string(data) {
		t.Error("corrupt entry was served")
	}
	if srv.count("/f.tar") != 1 {
		t.Error("corrupt entry was not re-downloaded")
	}
}

func TestConcurrentFetchOfOneFile(t *testing.T) {
	srv := newServer(t)
	data, sum := payload(1<<20, 12)
	srv.hooks["/big.tar"] = func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond) // let the others queue on the lock
		w.Write(data)
	}
	dir := t.TempDir()
	const n = 8
	var wg sync.WaitGroup
	paths := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Separate Cache values on one directory behave like separate
			// processes: they share nothing but the file system.
			c := &Cache{Dir: dir, Logger: quietLogger()}
			paths[i], errs[i] = c.Fetch(context.Background(), Source{URL: srv.URL + "/big.tar", SHA256: sum})
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || paths[i] != filepath.Join(dir, "sha256", sum[:2], sum) {
			t.Fatalf("fetch %d: %s %v", i, paths[i], errs[i])
		}
	}
	if got := srv.count("/big.tar"); got != 1 {
		t.Errorf("downloaded %d times, want once", got)
	}
	if got, _ := os.ReadFile(paths[0]); string(got) != string(data) {
		t.Error("content differs")
	}
}

// halfServer sends half of data, then signals started and hangs until the
// client goes away.
func halfServer(t *testing.T, data []byte, started chan<- struct{}) *server {
	srv := newServer(t)
	srv.hooks["/slow.tar"] = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		select {
		case started <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}
	return srv
}

func TestCancelMidDownloadLeavesNoPartialFile(t *testing.T) {
	data, sum := payload(256<<10, 13)
	started := make(chan struct{}, 1)
	srv := halfServer(t, data, started)
	c := newCache(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := c.Fetch(ctx, Source{URL: srv.URL + "/slow.tar", SHA256: sum})
		done <- err
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("download did not start")
	}
	// The temp file exists while the download runs.
	if tmp, _ := os.ReadDir(filepath.Join(c.Dir, "tmp")); len(tmp) != 1 {
		t.Errorf("expected one temp file during the download, got %d", len(tmp))
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	assertEmptyCache(t, c.Dir)
	if srv.count("/slow.tar") != 1 {
		t.Error("a cancelled download was retried")
	}
}

func TestStalledDownloadIsAbandoned(t *testing.T) {
	data, sum := payload(64<<10, 14)
	srv := halfServer(t, data, make(chan struct{}, 1))
	c := newCache(t)
	c.stall = 100 * time.Millisecond
	c.Attempts = 2
	_, err := c.Fetch(context.Background(), Source{URL: srv.URL + "/slow.tar", SHA256: sum})
	if !errors.Is(err, errStalled) || !strings.Contains(err.Error(), "after 2 attempts") {
		t.Fatalf("want a stall after 2 attempts, got %v", err)
	}
	assertEmptyCache(t, c.Dir)
}

func TestFetchAll(t *testing.T) {
	srv := newServer(t)
	var srcs []Source
	var sums []string
	for i := range 6 {
		data, sum := payload(1000+i, byte(20+i))
		name := fmt.Sprintf("/p%d.tar", i)
		srv.files[name] = data
		srcs = append(srcs, Source{URL: srv.URL + name, SHA256: sum})
		sums = append(sums, sum)
	}
	srcs[2].URL = srv.URL + "/missing-two.tar"
	srcs[4].SHA256 = strings.Repeat("e", 64)
	c := newCache(t)
	paths, err := FetchAll(context.Background(), c, srcs, 3)
	if err == nil || !strings.Contains(err.Error(), "missing-two.tar") || !strings.Contains(err.Error(), "p4.tar") {
		t.Fatalf("both failures should be reported, got %v", err)
	}
	for i, p := range paths {
		want := c.ObjectPath(sums[i])
		if i == 2 || i == 4 {
			want = ""
		}
		if p != want {
			t.Errorf("paths[%d] = %q, want %q", i, p, want)
		}
	}
	if paths, err := FetchAll(context.Background(), c, nil, 0); err != nil || len(paths) != 0 {
		t.Errorf("empty FetchAll = %v, %v", paths, err)
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("BUNDLE_CACHE", "/srv/bc")
	if got := DefaultDir(); got != "/srv/bc/sources" {
		t.Errorf("BUNDLE_CACHE: %s", got)
	}
	t.Setenv("BUNDLE_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if got := DefaultDir(); got != "/xdg/bundle/sources" {
		t.Errorf("XDG_CACHE_HOME: %s", got)
	}
	t.Setenv("XDG_CACHE_HOME", "relative/ignored")
	t.Setenv("HOME", "/home/u")
	if got := DefaultDir(); got != "/home/u/.cache/bundle/sources" {
		t.Errorf("HOME: %s", got)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"3", 3 * time.Second}, {"-1", 0}, {"junk", 0}, {"99999", time.Hour},
		{"Wed, 21 Oct 2015 07:28:00 GMT", 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.in); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
