package buildpath

import (
	"bytes"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	s, err := New([]string{"/builddir/build/BUILD", "/builddir/build/BUILDROOT/", "", "/builddir/build/BUILD"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Paths(), " "); got != "/builddir/build/BUILDROOT /builddir/build/BUILD" {
		t.Errorf("Paths = %s", got)
	}
	for _, bad := range [][]string{{"/"}, {"relative/x"}, {"/a/.."}} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%q) succeeded", bad)
		}
	}
}

func TestIndex(t *testing.T) {
	s, _ := New([]string{"/b/BUILD", "/b/BUILDROOT", "/w/staging/TOP"})
	tests := []struct {
		data string
		at   int
		path string
	}{
		{"x /b/BUILDROOT/usr /b/BUILD", 2, "/b/BUILDROOT"},
		{"x /b/BUILD/src /b/BUILDROOT", 2, "/b/BUILD"},
		{"/w/staging/TOP/usr and /b/BUILD", 0, "/w/staging/TOP"},
		{"/w/staging/TO", -1, ""},
		{"", -1, ""},
	}
	for _, tt := range tests {
		at, p := s.Index([]byte(tt.data))
		if at != tt.at || p != tt.path {
			t.Errorf("Index(%q) = %d %q, want %d %q", tt.data, at, p, tt.at, tt.path)
		}
	}
}

func TestScanAcrossChunks(t *testing.T) {
	defer func(c int) { chunk = c }(chunk)
	chunk = 16
	s, _ := New([]string{"/builddir/build/BUILDROOT"})
	for off := 0; off < 40; off++ {
		data := bytes.Repeat([]byte("a"), off)
		data = append(data, "/builddir/build/BUILDROOT/usr"...)
		data = append(data, bytes.Repeat([]byte("b"), 37)...)
		for _, stop := range []bool{false, true} {
			res, err := s.Scan(bytes.NewReader(data), stop)
			if err != nil || res.Found == "" || res.Offset != int64(off) || res.Binary {
				t.Fatalf("offset %d stop %v: %+v %v", off, stop, res, err)
			}
			if !stop && res.Size != int64(len(data)) {
				t.Errorf("offset %d: read %d of %d bytes", off, res.Size, len(data))
			}
		}
	}
	res, _ := s.Scan(bytes.NewReader(append(bytes.Repeat([]byte("x"), 50), 0, 'y')), false)
	if !res.Binary || res.Found != "" {
		t.Errorf("NUL after the first chunk: %+v", res)
	}
}

func FuzzScan(f *testing.F) {
	f.Add([]byte("prefix /b/BUILDROOT/usr/lib64 \x00 /w/TOP"), 7)
	f.Add([]byte("/w/TO"), 1)
	f.Fuzz(func(t *testing.T, data []byte, size int) {
		defer func(c int) { chunk = c }(chunk)
		chunk = 1 + (size&0xff)%64
		s, _ := New([]string{"/b/BUILDROOT", "/b/BUILD", "/w/TOP"})
		res, err := s.Scan(bytes.NewReader(data), false)
		if err != nil {
			t.Fatal(err)
		}
		at, p := s.Index(data)
		if int64(at) != map[bool]int64{true: res.Offset, false: -1}[res.Found != ""] || p != res.Found {
			t.Fatalf("Scan found %q at %d, Index %q at %d", res.Found, res.Offset, p, at)
		}
		if res.Binary != bytes.Contains(data, []byte{0}) || res.Size != int64(len(data)) {
			t.Fatalf("Scan %+v on %d bytes", res, len(data))
		}
	})
}
