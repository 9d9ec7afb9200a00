package links

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// listLine is the broken-links line for the symlink p with content target.
func listLine(p, target string) string {
	return quoteField(p) + " -> " + quoteField(target)
}

// quoteField returns s, or s as a Go quoted string when writing it bare
// would make a line ambiguous or unreadable.
func quoteField(s string) string {
	if needsQuote(s) {
		return strconv.Quote(s)
	}
	return s
}

func needsQuote(s string) bool {
	if s == "" || !utf8.ValidString(s) || strings.HasPrefix(s, `"`) || strings.Contains(s, " -> ") ||
		strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		return true
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == '\u2028' || c == '\u2029' {
			return true
		}
	}
	return false
}

// parseList returns the non-empty lines of a broken-links file.
func parseList(data []byte) []string {
	var lines []string
	for l := range strings.SplitSeq(string(data), "\n") {
		if l = strings.TrimSuffix(l, "\r"); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// mergeList returns the content of a broken-links file holding the lines of
// old and the new lines, sorted and without duplicates.
func mergeList(old []byte, lines []string) []byte {
	all := append(parseList(old), lines...)
	slices.Sort(all)
	all = slices.Compact(all)
	var b strings.Builder
	for _, l := range all {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// writeList merges lines into the broken-links file p (a bundle path at the
// root) through a temporary file renamed over it. The file gets the times
// the root directory had before Fix changed it, so the tree stays
// reproducible; a file that already holds every line is left alone.
func (a *applier) writeList(p string, lines []string) error {
	dir, name := path.Dir(p), path.Base(p)
	if err := a.touchDir(dir); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	h, err := a.dir(dir)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	var old []byte
	perm := fs.FileMode(0o644)
	fi, err := h.root.Lstat(name)
	switch {
	case err == nil && fi.Mode().IsRegular():
		perm = fi.Mode().Perm()
		if old, err = h.root.ReadFile(name); err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
	case err == nil:
		return fmt.Errorf("write %s: exists and is not a regular file", p)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("lstat %s: %w", p, err)
	}
	data := mergeList(old, lines)
	if bytes.Equal(data, old) {
		return nil
	}
	var tmp string
	var out *os.File
	for i := 0; ; i++ {
		tmp = tempName()
		out, err = h.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || i == maxTempTries {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	_, err = out.Write(data)
	if err == nil {
		err = out.Chmod(perm)
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = setTimes(h.file, tmp, a.dirTimes[dir])
	}
	if err == nil {
		err = h.root.Rename(tmp, name)
	}
	if err != nil {
		h.root.Remove(tmp)
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}
