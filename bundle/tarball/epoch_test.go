package tarball

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

type epochCase struct {
	value string
	want  int64
	ok    bool
}

// epochCases reads testdata/source_date_epoch.txt.
func epochCases(t testing.TB) []epochCase {
	f, err := os.Open(filepath.Join("testdata", "source_date_epoch.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []epochCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		value, want, found := strings.Cut(line, "\t")
		if !found {
			t.Fatalf("bad testdata line %q", line)
		}
		if value == "EMPTY" {
			value = ""
		}
		c := epochCase{value: value}
		if want != "error" {
			n, err := strconv.ParseInt(want, 10, 64)
			if err != nil {
				t.Fatalf("bad testdata line %q", line)
			}
			c.want, c.ok = n, true
		}
		out = append(out, c)
	}
	return out
}

func TestParseSourceDateEpoch(t *testing.T) {
	for _, c := range epochCases(t) {
		got, err := ParseSourceDateEpoch(c.value)
		switch {
		case c.ok && err != nil:
			t.Errorf("%q: %v", c.value, err)
		case c.ok && (got.Unix() != c.want || got.Location().String() != "UTC"):
			t.Errorf("%q: got %v, want %d UTC", c.value, got, c.want)
		case !c.ok && err == nil:
			t.Errorf("%q: accepted as %v, want an error", c.value, got)
		case !c.ok && !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH"):
			t.Errorf("%q: error %q does not name the variable", c.value, err)
		}
	}
}

func TestMtimeFromEnv(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	os.Unsetenv("SOURCE_DATE_EPOCH")
	if _, ok, err := MtimeFromEnv(); ok || err != nil {
		t.Errorf("unset: ok=%v err=%v", ok, err)
	}
	os.Setenv("SOURCE_DATE_EPOCH", "1767225600")
	if got, ok, err := MtimeFromEnv(); !ok || err != nil || got.Unix() != 1767225600 {
		t.Errorf("set: %v %v %v", got, ok, err)
	}
	for _, bad := range []string{"", "soon", "1767225600 "} {
		os.Setenv("SOURCE_DATE_EPOCH", bad)
		if _, ok, err := MtimeFromEnv(); ok || err == nil {
			t.Errorf("%q: ok=%v err=%v, want an error", bad, ok, err)
		}
	}
}

func FuzzParseSourceDateEpoch(f *testing.F) {
	for _, c := range epochCases(f) {
		f.Add(c.value)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := ParseSourceDateEpoch(v)
		if err != nil {
			return
		}
		// Whatever is accepted is canonical digits of a time we print back.
		if strings.TrimLeft(v, "0") != strings.TrimLeft(strconv.FormatInt(got.Unix(), 10), "0") || got.Unix() < 0 || got.Year() > 9999 {
			t.Fatalf("%q accepted as %v", v, got)
		}
	})
}

// ParseMtime takes SOURCE_DATE_EPOCH's seconds or RFC 3339; anything else,
// a sign or seconds beyond year 9999 included, is an error naming --mtime.
func TestParseMtime(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, true},
		{"0", 0, true},
		{"1767225600", 1767225600, true},
		{"2026-01-01T00:00:00Z", 1767225600, true},
		{"2026-01-01T01:00:00+01:00", 1767225600, true},
		{"-5", 0, false},
		{"+5", 0, false},
		{"253402300800", 0, false},
		{"1.5", 0, false},
		{"yesterday", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseMtime(tt.in)
		switch {
		case tt.ok && (err != nil || (tt.in != "" && got.Unix() != tt.want) || (tt.in == "" && !got.IsZero())):
			t.Errorf("ParseMtime(%q) = %v, %v; want %d", tt.in, got, err, tt.want)
		case !tt.ok && (err == nil || !strings.Contains(err.Error(), "--mtime")):
			t.Errorf("ParseMtime(%q) = %v, %v; want an error naming --mtime", tt.in, got, err)
		case err == nil && got.Location() != time.UTC:
			t.Errorf("ParseMtime(%q) is not UTC: %v", tt.in, got)
		}
	}
}
