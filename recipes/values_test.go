package recipes

import (
	"encoding/json"
	"testing"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"0", 0, true},
		{"1048576", 1 << 20, true},
		{"512B", 512, true},
		{"4K", 4 << 10, true},
		{"4k", 4 << 10, true},
		{"4KB", 4 << 10, true},
		{"4KiB", 4 << 10, true},
		{"512M", 512 << 20, true},
		{"4G", 4 << 30, true},
		{"4 G", 4 << 30, true},
		{" 4g ", 4 << 30, true},
		{"1.5G", 3 << 29, true},
		{"2T", 2 << 40, true},
		{"8388607T", 8388607 << 40, true},
		{"8388608T", 0, false}, // 2^63: too large
		{"", 0, false},
		{"G", 0, false},
		{"-1G", 0, false},
		{"4X", 0, false},
		{"4.G", 0, false},
		{".5G", 0, false},
		{"1.2.3G", 0, false},
		{"4GG", 0, false},
		{"four", 0, false},
		{"99999999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	tests := map[ByteSize]string{0: "0", 100: "100", 1 << 10: "1K", 1536 << 20: "1536M", 4 << 30: "4G", 3 << 40: "3T", 1025: "1025"}
	for in, want := range tests {
		if got := in.String(); got != want {
			t.Errorf("ByteSize(%d).String() = %q; want %q", int64(in), got, want)
		}
		if back, err := ParseByteSize(want); err != nil || back != in {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", want, back, err, int64(in))
		}
	}
}

func TestNewPath(t *testing.T) {
	tests := []struct {
		dir, given string
		want       Path
	}{
		{"/r", "", Path{}},
		{"/r", "a/b", Path{"a/b", "/r/a/b"}},
		{"/r", "../x", Path{"../x", "/x"}},
		{"/r", "/abs//p/", Path{"/abs//p/", "/abs/p"}},
	}
	for _, tt := range tests {
		if got := NewPath(tt.dir, tt.given); got != tt.want {
			t.Errorf("NewPath(%q, %q) = %+v; want %+v", tt.dir, tt.given, got, tt.want)
		}
	}
	data, _ := json.Marshal(struct{ P Path }{NewPath("/r", "./a//b")})
	if string(data) != `{"P":"a/b"}` {
		t.Errorf("json = %s", data)
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"name", "sources", "spec", "srpm", "top-dir", "build-only", "jobs", "with", "without"}
	tests := map[string]string{
		"sorces":       "sources",
		"source":       "sources",
		"Sources":      "sources",
		"top_dir":      "top-dir",
		"build_only":   "build-only",
		"jbos":         "jobs",
		"withuot":      "without",
		"nmae":         "name",
		"colour":       "",
		"x":            "",
		"dependencies": "",
	}
	for in, want := range tests {
		if got := suggest(in, known); got != want {
			t.Errorf("suggest(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "r.yaml", Pos: Pos{3, 7}, Field: "a.b", Msg: "bad"}, "r.yaml:3:7: a.b: bad"},
		{Error{File: "r.yaml", Pos: Pos{3, 0}, Msg: "bad"}, "r.yaml:3: bad"},
		{Error{File: "r.yaml", Msg: "bad"}, "r.yaml: bad"},
		{Error{Field: "name", Msg: "required"}, "name: required"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q; want %q", got, tt.want)
		}
	}
}
