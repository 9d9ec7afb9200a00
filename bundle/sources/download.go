package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// defaultClient is used when Cache.Client is nil: no overall timeout (large
// tarballs take long) but bounded connection and header waits; stalled
// bodies are caught by the stall watchdog.
var defaultClient = sync.OnceValue(func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 2 * time.Minute
	return &http.Client{Transport: t}
})

func (c *Cache) client() *http.Client {
	if c.Client != nil {
		return c.Client
	}
	return defaultClient()
}

// fetchRemote handles http(s) sources: cache hit, offline refusal, or
// download from the URL and then the mirrors.
func (c *Cache) fetchRemote(ctx context.Context, s Source, want, name string) (string, string, error) {
	if want != "" {
		if p, ok := c.verifiedHit(ctx, want); ok {
			c.link(name, want)
			return p, want, nil
		}
	}
	if c.Offline {
		if want == "" {
			return "", "", fmt.Errorf("source %s (%s): %w and cannot be looked up offline because it has no sha256 pin: pin it in the recipe",
				s.label(), s.URL, ErrNotCached)
		}
		return "", "", fmt.Errorf("source %s (%s, sha256 %s): %w %s and offline mode forbids downloading it; "+
			"fill the cache on a connected machine with `bundle fetch` and copy %s here, "+
			"or import Debian's upstream tarballs with recipes/fill-source-cache.sh",
			s.label(), s.URL, want, ErrNotCached, c.Dir, c.Dir)
	}
	if want != "" {
		unlock, err := c.lockDigest(ctx, want)
		if err != nil {
			return "", "", err
		}
		defer unlock()
		// Another goroutine or process may have fetched it meanwhile.
		if p, ok := c.verifiedHit(ctx, want); ok {
			c.link(name, want)
			return p, want, nil
		}
	}
	var errs []error
	for _, u := range c.candidates(s.URL, want) {
		sum, err := c.download(ctx, u, want, name)
		if err == nil {
			if want == "" {
				c.log().Warn("source is not pinned", "url", u, "sha256", sum)
			}
			return c.ObjectPath(sum), sum, nil
		}
		if ctx.Err() != nil {
			return "", "", fmt.Errorf("source %s: %w", s.label(), err)
		}
		var le localError
		if errors.As(err, &le) {
			return "", "", fmt.Errorf("source %s: %w", s.label(), err)
		}
		c.log().Warn("download failed", "url", u, "err", err)
		errs = append(errs, err)
	}
	return "", "", fmt.Errorf("source %s: every location failed: %w", s.label(), errors.Join(errs...))
}

// candidates lists the URLs to try: the source's own, then for each mirror
// BASE/<file name> and, for pinned files, BASE/sha256/<ab>/<hex>.
func (c *Cache) candidates(raw, want string) []string {
	out := []string{raw}
	seen := map[string]bool{raw: true}
	add := func(u string) {
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	var file string
	if u, err := url.Parse(raw); err == nil {
		file = path.Base(u.Path)
	}
	for _, m := range c.Mirrors {
		m = strings.TrimRight(m, "/")
		if m == "" {
			continue
		}
		if safeName(file) {
			add(m + "/" + url.PathEscape(file))
		}
		if want != "" {
			add(m + "/sha256/" + want[:2] + "/" + want)
		}
	}
	return out
}

// download fetches one URL into the cache, retrying transient failures
// with exponential backoff.
func (c *Cache) download(ctx context.Context, u, want, name string) (string, error) {
	attempts := c.Attempts
	if attempts <= 0 {
		attempts = 4
	}
	delay := c.RetryDelay
	if delay <= 0 {
		delay = time.Second
	}
	var err error
	for i := 1; ; i++ {
		var sum string
		var retryAfter time.Duration
		sum, err = c.store(ctx, want, name, u, func(ctx context.Context, w io.Writer) error {
			var rerr error
			retryAfter, rerr = c.get(ctx, u, w)
			return rerr
		})
		if err == nil {
			return sum, nil
		}
		if i >= attempts || !transient(err) || ctx.Err() != nil {
			if i > 1 {
				err = fmt.Errorf("%w (after %d attempts)", err, i)
			}
			return "", err
		}
		wait := delay
		if retryAfter > wait {
			wait = min(retryAfter, time.Minute)
		}
		c.log().Info("retrying download", "url", u, "attempt", i+1, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("GET %s: %w (while waiting to retry after: %v)", u, ctx.Err(), err)
		case <-t.C:
		}
		delay = min(delay*2, 30*time.Second)
	}
}

// statusError is an HTTP response that is not 200.
type statusError struct {
	url    string
	status string
	code   int
}

func (e *statusError) Error() string { return fmt.Sprintf("GET %s: %s", e.url, e.status) }

// errStalled is returned when a download receives nothing for too long.
var errStalled = errors.New("download stalled")

// get streams one URL into w. For a 503/429 it returns the Retry-After delay.
func (c *Cache) get(ctx context.Context, u string, w io.Writer) (time.Duration, error) {
	stall := c.stall
	if stall <= 0 {
		stall = 2 * time.Minute
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", u, err)
	}
	req.Header.Set("User-Agent", "bundle-source-fetch/1")
	// Ask for the bytes as stored: a transparently decompressed body would
	// not match the pinned digest.
	req.Header.Set("Accept-Encoding", "identity")
	watchdog := time.AfterFunc(stall, func() { cancel(errStalled) })
	defer watchdog.Stop()
	resp, err := c.client().Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", u, stallCause(ctx, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return retryAfter(resp.Header.Get("Retry-After")), &statusError{url: u, status: resp.Status, code: resp.StatusCode}
	}
	body := &progressReader{r: resp.Body, onRead: func() { watchdog.Reset(stall) }}
	if _, err := io.Copy(w, body); err != nil {
		var le localError
		if errors.As(err, &le) {
			return 0, err
		}
		return 0, fmt.Errorf("GET %s: reading body: %w", u, stallCause(ctx, err))
	}
	return 0, nil
}

// stallCause replaces a cancellation caused by the watchdog with errStalled.
func stallCause(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, errStalled) {
		return fmt.Errorf("%w: nothing received for too long", errStalled)
	}
	return err
}

// progressReader calls onRead whenever bytes arrive.
type progressReader struct {
	r      io.Reader
	onRead func()
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.onRead()
	}
	return n, err
}

// retryAfter parses a Retry-After header (seconds or HTTP date).
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, 3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return min(d, time.Hour)
		}
	}
	return 0
}

// transient reports whether an error may go away when the same URL is
// tried again.
func transient(err error) bool {
	var le localError
	if errors.As(err, &le) {
		return false
	}
	var me *MismatchError
	if errors.As(err, &me) {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// Our own context: not transient. (A stall is reported as errStalled.)
		return false
	}
	var se *statusError
	if errors.As(err, &se) {
		switch se.code {
		case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests,
			http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable,
			http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsTemporary || dnsErr.IsTimeout
	}
	var ue *url.Error
	if errors.As(err, &ue) && strings.Contains(ue.Err.Error(), "unsupported protocol scheme") {
		return false
	}
	// Connection refused/reset, timeouts, truncated bodies, stalls.
	return true
}
