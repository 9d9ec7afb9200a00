package pipfreeze

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/bundle-dev/bundle/bundle/atomicfile"
)

// sanitizeInstalled checks and cleans what pip installed for the named
// distributions, reading each one's RECORD: every file must lie inside the
// staging root; scripts whose text names the root (pip writes the
// interpreter's host path into their shebang) get the root removed, so that
// they name the interpreter as the bundle sees it, and their RECORD entry
// is updated; any other file still naming the root is a host-path leak and
// an error. roots are the spellings of the root (resolved and as given).
func sanitizeInstalled(roots []string, in *interp, names map[string]bool) error {
	scripts, err := realPathPrefix(in.Paths["scripts"])
	if err != nil {
		return fmt.Errorf("scripts directory: %w", err)
	}
	var outside, leaks []string
	for _, site := range in.sitePaths() {
		entries, err := os.ReadDir(site)
		if err != nil {
			return fmt.Errorf("site-packages: %w", err)
		}
		for _, e := range entries {
			stem, ok := strings.CutSuffix(e.Name(), ".dist-info")
			if !ok || !e.IsDir() {
				continue
			}
			name, _, _ := strings.Cut(stem, "-")
			if !names[CanonicalName(name)] {
				continue
			}
			o, l, err := sanitizeDist(site, filepath.Join(site, e.Name()), scripts, roots)
			if err != nil {
				return err
			}
			outside = append(outside, o...)
			leaks = append(leaks, l...)
		}
	}
	sort.Strings(outside)
	sort.Strings(leaks)
	switch {
	case len(outside) > 0:
		return fmt.Errorf("pip installed files outside the staging root %s: %s", roots[0], strings.Join(outside, ", "))
	case len(leaks) > 0:
		return fmt.Errorf("installed files name the staging root %s (a host path that would leak into the bundle): %s",
			roots[0], strings.Join(leaks, ", "))
	}
	return nil
}

// sanitizeDist handles one distribution's RECORD.
func sanitizeDist(site, distInfo, scripts string, roots []string) (outside, leaks []string, err error) {
	recordPath := filepath.Join(distInfo, "RECORD")
	raw, err := os.ReadFile(recordPath)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", recordPath, err)
	}
	r := csv.NewReader(bytes.NewReader(raw))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", recordPath, err)
	}
	changed := false
	for i, row := range rows {
		if len(row) == 0 || row[0] == "" {
			continue
		}
		p := row[0]
		if !filepath.IsAbs(p) {
			p = filepath.Join(site, p)
		}
		real, err := realPathPrefix(p)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", row[0], err)
		}
		if !withinAny(roots, real) {
			outside = append(outside, p)
			continue
		}
		st, err := os.Lstat(p)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", p, err)
		}
		if !namesRoot(data, roots) {
			continue
		}
		if filepath.Dir(real) != scripts || !bytes.HasPrefix(data, []byte("#!")) {
			leaks = append(leaks, rel(roots[0], real))
			continue
		}
		fixed := fixScript(data, roots)
		if err := atomicfile.Write(p, fixed, 0o644); err != nil {
			return nil, nil, err
		}
		if err := os.Chmod(p, st.Mode().Perm()); err != nil {
			return nil, nil, fmt.Errorf("chmod %s: %w", p, err)
		}
		if len(row) >= 3 {
			sum := sha256.Sum256(fixed)
			rows[i][1] = "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:])
			rows[i][2] = strconv.Itoa(len(fixed))
			changed = true
		}
	}
	if changed {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		w.UseCRLF = bytes.Contains(raw, []byte("\r\n"))
		if err := w.WriteAll(rows); err != nil {
			return nil, nil, fmt.Errorf("write %s: %w", recordPath, err)
		}
		if err := atomicfile.Write(recordPath, b.Bytes(), 0o644); err != nil {
			return nil, nil, err
		}
	}
	return outside, leaks, nil
}

// polyglotRE matches the launcher pip writes instead of a "#!" line when
// the interpreter's path is too long for the kernel (127 bytes) or holds
// spaces: sh execs the interpreter, to which the lines are a string.
var polyglotRE = regexp.MustCompile(`^#!/bin/sh\n'''exec' "?([^"\s]+)"? "\$0" "\$@"\n' '''\n`)

// fixScript removes the staging root from a script pip wrote: its
// interpreter becomes the path the bundle sees ("/usr/bin/python3"), as a
// plain "#!" line even where pip needed its sh launcher for the long host
// path, so the relocation stage treats it as any other script.
func fixScript(data []byte, roots []string) []byte {
	fixed := data
	for _, root := range roots {
		fixed = bytes.ReplaceAll(fixed, []byte(root+"/"), []byte("/"))
	}
	if m := polyglotRE.FindSubmatchIndex(fixed); m != nil {
		interp := fixed[m[2]:m[3]]
		if len(interp)+3 <= 127 {
			out := append([]byte("#!"), interp...)
			out = append(out, '\n')
			return append(out, fixed[m[1]:]...)
		}
	}
	return fixed
}

// namesRoot reports whether data holds a path below one of the roots.
func namesRoot(data []byte, roots []string) bool {
	for _, r := range roots {
		if bytes.Contains(data, []byte(r+"/")) {
			return true
		}
	}
	return false
}

func withinAny(roots []string, p string) bool {
	for _, r := range roots {
		if within(r, p) {
			return true
		}
	}
	return false
}

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return r
	}
	return p
}
