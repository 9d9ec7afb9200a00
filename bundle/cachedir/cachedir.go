// Package cachedir is bundle's one rule for where its cache lives (sources/,
// builds/, rootfs/, python/ ...), the rule recipes/fill-source-cache.sh and
// the Makefile follow too: $BUNDLE_CACHE, else $XDG_CACHE_HOME/bundle (an
// absolute XDG_CACHE_HOME only, as the XDG spec says), else
// ~/.cache/bundle.
package cachedir

import (
	"errors"
	"os"
	"path/filepath"
)

// Root returns the cache directory by the rule above; an error only when
// none of BUNDLE_CACHE, XDG_CACHE_HOME or a home directory is known.
func Root() (string, error) {
	if d := os.Getenv("BUNDLE_CACHE"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_CACHE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "bundle"), nil
	}
	if h := os.Getenv("HOME"); h != "" {
		return filepath.Join(h, ".cache", "bundle"), nil
	}
	if h, err := os.UserHomeDir(); err == nil && h != "" {
		return filepath.Join(h, ".cache", "bundle"), nil
	}
	return "", errors.New("no cache directory: set BUNDLE_CACHE or HOME, or give a cache directory")
}
