package tarball

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// maxEpoch is the last second of year 9999; later SOURCE_DATE_EPOCH values
// are certainly mistakes (milliseconds instead of seconds, for instance).
const maxEpoch = 253402300799

// MtimeFromEnv reads SOURCE_DATE_EPOCH (https://reproducible-builds.org/specs/source-date-epoch/).
// It returns ok=false when the variable is unset. A value that is not a
// plain non-negative decimal number of seconds (digits only, no sign, no
// spaces, at most year 9999), including an empty one, is an error, so a
// broken CI variable never silently yields a different tarball.
func MtimeFromEnv() (time.Time, bool, error) {
	v, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !ok {
		return time.Time{}, false, nil
	}
	t, err := ParseSourceDateEpoch(v)
	if err != nil {
		return time.Time{}, false, err
	}
	return t, true, nil
}

// ParseSourceDateEpoch parses a SOURCE_DATE_EPOCH value with the rules of
// MtimeFromEnv and returns the time in UTC.
func ParseSourceDateEpoch(v string) (time.Time, error) {
	t, why := parseEpoch(v)
	if why != "" {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is malformed: %s; set it to the build time in whole seconds since 1970-01-01 UTC (e.g. `git log -1 --format=%%ct`) or unset it", v, why)
	}
	return t, nil
}

// ParseMtime parses an mtime clamp given on the command line (--mtime):
// whole seconds since 1970-01-01 UTC by the rules of SOURCE_DATE_EPOCH, or
// an RFC 3339 time. "" is the zero time (no clamp given).
func ParseMtime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, why := parseEpoch(v); why == "" {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("--mtime %q: want whole seconds since 1970 (as SOURCE_DATE_EPOCH) or RFC 3339 (2024-01-02T15:04:05Z)", v)
	}
	return t.UTC(), nil
}

// parseEpoch parses whole seconds since 1970-01-01 UTC: digits only, at
// most year 9999. why says what is wrong with v, "" when nothing is.
func parseEpoch(v string) (time.Time, string) {
	if v == "" {
		return time.Time{}, "it is empty"
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return time.Time{}, "only the digits 0-9 are allowed"
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n > maxEpoch {
		return time.Time{}, "the value is beyond year 9999"
	}
	return time.Unix(n, 0).UTC(), ""
}
