package recipes

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
)

// Path is a file system path from the recipe: as written, and resolved
// against the recipe's folder.
type Path struct {
	// Given is the path as written in the recipe ("" when absent).
	Given string
	// Resolved is Given made absolute against the recipe's folder (Given
	// itself when already absolute, "" when Given is "").
	Resolved string
}

// NewPath resolves given against dir.
func NewPath(dir, given string) Path {
	if given == "" {
		return Path{}
	}
	if filepath.IsAbs(given) {
		return Path{Given: given, Resolved: filepath.Clean(given)}
	}
	return Path{Given: given, Resolved: filepath.Join(dir, given)}
}

// IsZero reports whether no path was given.
func (p Path) IsZero() bool { return p.Given == "" }

// String returns the resolved path.
func (p Path) String() string {
	if p.Resolved != "" {
		return p.Resolved
	}
	return p.Given
}

// MarshalJSON encodes the path as written (lexically cleaned: "./a//b" is
// "a/b"), so that encodings do not depend on where the recipe lives.
func (p Path) MarshalJSON() ([]byte, error) {
	if p.Given == "" {
		return json.Marshal("")
	}
	return json.Marshal(filepath.Clean(p.Given))
}

// MarshalYAML encodes the path as written.
func (p Path) MarshalYAML() (any, error) { return p.Given, nil }

// ByteSize is an amount of memory in bytes.
type ByteSize int64

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
}

// ParseByteSize reads sizes such as "4G", "512M", "1.5GiB" or "1048576".
// Units are binary (K = 1024) whatever their spelling, and case-insensitive.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnits[unit]
	if num == "" || !ok || strings.HasPrefix(num, ".") || strings.HasSuffix(num, ".") {
		return 0, fmt.Errorf("expected a size such as \"4G\" or \"512M\" (units B, K, M, G, T), got %q", s)
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > math.MaxInt64/mult {
			return 0, fmt.Errorf("size %q is too large", s)
		}
		return ByteSize(n * mult), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("expected a size such as \"4G\" or \"512M\", got %q", s)
	}
	b := math.Round(f * float64(mult))
	if b >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return ByteSize(b), nil
}

// String formats the size with the largest binary unit that divides it
// ("4G", "1536M", "100").
func (b ByteSize) String() string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if b != 0 && int64(b)%u.mult == 0 {
			return strconv.FormatInt(int64(b)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}
