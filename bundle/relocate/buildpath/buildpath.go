// Package buildpath finds the paths of the build machine — build roots,
// the staging tree, source caches — in file contents, streaming, so that
// neither relocation nor the audit ever loads a large file whole.
package buildpath

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
)

// Set is a list of build paths to look for.
type Set struct {
	paths [][]byte // longest first, so a match is the most specific one
	max   int
}

// New returns the set of paths. Each must be absolute and is cleaned;
// "/" is refused (it is in every path), duplicates are dropped.
func New(paths []string) (*Set, error) {
	seen := map[string]bool{}
	s := &Set{}
	var errs []error
	for _, p := range paths {
		if p == "" {
			continue
		}
		if !filepath.IsAbs(p) {
			errs = append(errs, fmt.Errorf("build path %q is not absolute", p))
			continue
		}
		c := filepath.Clean(p)
		if c == "/" {
			errs = append(errs, errors.New(`build path "/" would match every path`))
			continue
		}
		if !seen[c] {
			seen[c] = true
			s.paths = append(s.paths, []byte(c))
			s.max = max(s.max, len(c))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(s.paths, func(i, j int) bool {
		if len(s.paths[i]) != len(s.paths[j]) {
			return len(s.paths[i]) > len(s.paths[j])
		}
		return bytes.Compare(s.paths[i], s.paths[j]) < 0
	})
	return s, nil
}

// Paths returns the paths, longest first.
func (s *Set) Paths() []string {
	out := make([]string, len(s.paths))
	for i, p := range s.paths {
		out[i] = string(p)
	}
	return out
}

// Empty reports a set with no path.
func (s *Set) Empty() bool { return s == nil || len(s.paths) == 0 }

// MaxLen is the length of the longest path.
func (s *Set) MaxLen() int { return s.max }

// Index returns the offset of the leftmost occurrence of any path in data
// and that path (the longest one when several start there), or -1.
func (s *Set) Index(data []byte) (int, string) {
	return s.indexBefore(data, len(data))
}

// indexBefore is Index for matches starting before limit.
func (s *Set) indexBefore(data []byte, limit int) (int, string) {
	best, bestPath := -1, ""
	for _, p := range s.paths {
		// Only an earlier start can win; an equal start is a shorter
		// path (longest come first).
		end := limit
		if best >= 0 {
			end = best
		}
		if end <= 0 {
			continue
		}
		if i := bytes.Index(data[:min(len(data), end+len(p)-1)], p); i >= 0 {
			best, bestPath = i, string(p)
		}
	}
	return best, bestPath
}

// Result is what Scan saw in a stream.
type Result struct {
	// Found is the first build path met, "" when none.
	Found string
	// Offset is where Found starts.
	Offset int64
	// Binary reports a NUL byte in what was read.
	Binary bool
	// Size is how many bytes were read.
	Size int64
}

// chunk is how much Scan reads at a time (a variable for tests).
var chunk = 256 << 10

// Scan reads r to its end and reports the first build path in it and
// whether it holds a NUL byte. With stopEarly it returns at the first
// match (Binary and Size then only cover what was read).
func (s *Set) Scan(r io.Reader, stopEarly bool) (Result, error) {
	var res Result
	keep := max(s.max-1, 0)
	buf := make([]byte, keep+chunk)
	carry := 0     // bytes at buf[:carry] kept from the previous read
	var base int64 // stream offset of buf[0]
	for {
		n, err := io.ReadFull(r, buf[carry:])
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			return res, err
		}
		win := buf[:carry+n]
		if !res.Binary && bytes.IndexByte(buf[carry:carry+n], 0) >= 0 {
			res.Binary = true
		}
		res.Size += int64(n)
		if res.Found == "" && !s.Empty() {
			// A match starting in the last keep bytes may be the
			// beginning of a longer path: it is decided in the next
			// window, where those bytes are carried.
			limit := len(win) - keep
			if eof {
				limit = len(win)
			}
			if i, p := s.indexBefore(win, limit); i >= 0 {
				res.Found, res.Offset = p, base+int64(i)
				if stopEarly {
					return res, nil
				}
			}
		}
		if eof {
			return res, nil
		}
		base += int64(len(win) - keep)
		copy(buf, win[len(win)-keep:])
		carry = keep
	}
}

// Describe renders the paths for messages.
func (s *Set) Describe() string {
	return strings.Join(s.Paths(), ", ")
}
