package cpio_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/cpio"
	"github.com/bundle-dev/bundle/bundle/rpm/rpmtest"
)

type got struct {
	name  string
	index int
	mode  uint32
	nlink uint32
	data  string
}

// readAll reads every entry; skip[i] leaves entry i's data unread.
func readAll(t *testing.T, r *cpio.Reader, skip map[int]bool) ([]got, error) {
	t.Helper()
	var out []got
	for i := 0; ; i++ {
		h, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, got{name: h.Name, index: h.Index, mode: h.Mode, nlink: h.Nlink})
		if !skip[i] {
			b, err := io.ReadAll(r)
			if err != nil {
				return out, err
			}
			if int64(len(b)) != h.Size {
				t.Fatalf("entry %d: read %d bytes, header says %d", i, len(b), h.Size)
			}
			out[len(out)-1].data = string(b)
		}
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestGNUArchives(t *testing.T) {
	for _, name := range []string{"gnu-newc.cpio", "gnu-crc.cpio"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			entries, err := readAll(t, cpio.NewReader(bytes.NewReader(b), nil), nil)
			if err != nil {
				t.Fatal(err)
			}
			want := []struct {
				name  string
				mode  uint32
				nlink uint32
				data  string
			}{
				{"dir", 0o40755, 3, ""},
				{"dir/empty", 0o100644, 1, ""},
				{"dir/hard", 0o100644, 2, ""},
				{"dir/hello.txt", 0o100644, 2, "hello world\n"},
				{"dir/link", 0o120777, 1, "hello.txt"},
				{"dir/sub", 0o40755, 2, ""},
				{"dir/sub/bin.dat", 0o104755, 1, "sha256:16809ee65520495588099c84a1d6a429e002f667d99662643f87af7385841256"},
			}
			if len(entries) != len(want) {
				t.Fatalf("got %d entries, want %d: %+v", len(entries), len(want), entries)
			}
			for i, w := range want {
				e := entries[i]
				data := e.data
				if strings.HasPrefix(w.data, "sha256:") {
					data = "sha256:" + sha(data)
				}
				if e.name != w.name || e.mode != w.mode || e.nlink != w.nlink || data != w.data || e.index != -1 {
					t.Errorf("entry %d = {%q %o %d %q idx %d}, want %+v", i, e.name, e.mode, e.nlink, data, e.index, w)
				}
			}
		})
	}
}

// rpm6Sizes are the header sizes of hlinktest-1.0-1.noarch-v3sig.rpm with
// rpm's hard-link rule applied: file 0 is the first member of {0, 6}.
var rpm6Sizes = []int64{0, 33, 33, 33, 33, 33, 29}

func TestStrippedRPM6(t *testing.T) {
	b, err := os.ReadFile("testdata/rpm6-stripped.cpio")
	if err != nil {
		t.Fatal(err)
	}
	size := func(i int) (int64, error) {
		if i < 0 || i >= len(rpm6Sizes) {
			return 0, fmt.Errorf("index %d out of range", i)
		}
		return rpm6Sizes[i], nil
	}
	entries, err := readAll(t, cpio.NewReader(bytes.NewReader(b), size), nil)
	if err != nil {
		t.Fatal(err)
	}
	var order []int
	for _, e := range entries {
		order = append(order, e.index)
		if e.name != "" {
			t.Errorf("stripped entry %d has name %q", e.index, e.name)
		}
	}
	if fmt.Sprint(order) != "[1 2 3 4 5 0 6]" {
		t.Errorf("order %v", order)
	}
	if entries[5].data != "" || entries[6].data != "#!/bin/sh\necho hlinktest-1.0\n" {
		t.Errorf("hard-link data misplaced: %q / %q", entries[5].data, entries[6].data)
	}
	if entries[0].data != "#!/usr/bin/sh\necho hlinktest-1.0\n" {
		t.Errorf("entry 1 data %q", entries[0].data)
	}
	// Skipping data (not reading it) must land on the same entries.
	skipped, err := readAll(t, cpio.NewReader(bytes.NewReader(b), size), map[int]bool{0: true, 1: true, 6: true})
	if err != nil || len(skipped) != 7 {
		t.Fatalf("skipping: %d entries, %v", len(skipped), err)
	}
}

func TestCrafted(t *testing.T) {
	build := func(f func(a *rpmtest.Archive)) []byte {
		var a rpmtest.Archive
		f(&a)
		return a.Bytes()
	}
	one := build(func(a *rpmtest.Archive) {
		a.Newc(rpmtest.Entry{Name: "./a", Mode: 0o100644, Data: []byte("abcde")})
		a.Trailer()
	})
	sizes := func(i int) (int64, error) { return int64(i), nil }
	tests := []struct {
		name    string
		in      []byte
		size    cpio.SizeFunc
		wantErr error  // errors.Is target, nil = success
		errText string // substring of the error
		n       int    // entries expected before the end/error
	}{
		{name: "one entry", in: one, n: 1},
		{name: "empty input", in: nil, wantErr: io.ErrUnexpectedEOF},
		{name: "no trailer", in: one[:len(one)-124], wantErr: io.ErrUnexpectedEOF, n: 1},
		{name: "cut in header", in: one[:50], wantErr: io.ErrUnexpectedEOF},
		{name: "cut in name", in: one[:111], wantErr: io.ErrUnexpectedEOF},
		{name: "cut in data", in: one[:116], wantErr: io.ErrUnexpectedEOF, n: 1},
		{name: "bad magic", in: append([]byte("070707"), one[6:]...), wantErr: cpio.ErrBadMagic},
		{name: "bad hex", in: append(append([]byte{}, one[:14]...), append([]byte("zz"), one[16:]...)...), wantErr: cpio.ErrBadHeader},
		{name: "name size zero", in: build(func(a *rpmtest.Archive) {
			a.WriteString("070701" + strings.Repeat("0", 88) + "00000000" + "00000000")
		}), wantErr: cpio.ErrBadHeader},
		{name: "name size huge", in: build(func(a *rpmtest.Archive) {
			a.WriteString("070701" + strings.Repeat("0", 88) + "ffffffff" + "00000000")
		}), wantErr: cpio.ErrBadHeader},
		{name: "name without NUL", in: build(func(a *rpmtest.Archive) {
			a.WriteString("070701" + strings.Repeat("0", 88) + "00000002" + "00000000" + "ab")
		}), wantErr: cpio.ErrBadHeader},
		{name: "NUL inside name", in: build(func(a *rpmtest.Archive) {
			a.Newc(rpmtest.Entry{Name: "a\x00b"})
		}), wantErr: cpio.ErrBadHeader},
		{name: "trailer with data", in: build(func(a *rpmtest.Archive) {
			a.Newc(rpmtest.Entry{Name: "TRAILER!!!", Data: []byte("x")})
		}), wantErr: cpio.ErrBadHeader},
		{name: "size lie", in: build(func(a *rpmtest.Archive) {
			a.Newc(rpmtest.Entry{Name: "./a", Mode: 0o100644, Data: []byte("abc"), Size: 0xfffffff0})
			a.Trailer()
		}), wantErr: io.ErrUnexpectedEOF, n: 1},
		{name: "crc ok", in: build(func(a *rpmtest.Archive) {
			a.Newc(rpmtest.Entry{Name: "./a", Mode: 0o100644, Data: []byte("abc"), CRC: true})
			a.Trailer()
		}), n: 1},
		{name: "crc mismatch", in: build(func(a *rpmtest.Archive) {
			a.Newc(rpmtest.Entry{Name: "./a", Mode: 0o100644, Data: []byte("abc"), CRC: true, Checksum: 7})
			a.Trailer()
		}), wantErr: cpio.ErrChecksum, n: 1},
		{name: "stripped", size: sizes, in: build(func(a *rpmtest.Archive) {
			a.Stripped(0, nil)
			a.Stripped(3, []byte("xyz"))
			a.Stripped(1, []byte("q"))
			a.Trailer()
		}), n: 3},
		{name: "stripped end marker", size: sizes, in: build(func(a *rpmtest.Archive) {
			a.Stripped(2, []byte("xy"))
			for a.Len()%4 != 0 {
				a.WriteByte(0)
			}
			a.WriteString("07070Xffffffff")
		}), n: 1},
		{name: "stripped without size func", in: build(func(a *rpmtest.Archive) {
			a.Stripped(1, []byte("x"))
			a.Trailer()
		}), wantErr: cpio.ErrNoSizeFunc},
		{name: "stripped size error", size: func(int) (int64, error) { return 0, errors.New("no such file") },
			in: build(func(a *rpmtest.Archive) { a.Stripped(9, nil) }), errText: "no such file"},
		{name: "stripped negative size", size: func(int) (int64, error) { return -1, nil },
			in: build(func(a *rpmtest.Archive) { a.Stripped(0, nil) }), wantErr: cpio.ErrEntryLength},
		{name: "stripped truncated data", size: sizes, in: build(func(a *rpmtest.Archive) {
			a.Stripped(5, []byte("ab"))
		}), wantErr: io.ErrUnexpectedEOF, n: 1},
		{name: "stripped bad index", size: sizes, in: []byte("07070X0000000g"), wantErr: cpio.ErrBadHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			entries, err := readAll(t, cpio.NewReader(bytes.NewReader(tc.in), tc.size), nil)
			if len(entries) != tc.n {
				t.Errorf("got %d entries, want %d", len(entries), tc.n)
			}
			switch {
			case tc.wantErr == nil && tc.errText == "":
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			case tc.errText != "" && (err == nil || !strings.Contains(err.Error(), tc.errText)):
				t.Fatalf("error %v, want one containing %q", err, tc.errText)
			}
		})
	}
}

func TestStickyAndAfterEOF(t *testing.T) {
	var a rpmtest.Archive
	a.Newc(rpmtest.Entry{Name: "./a", Mode: 0o100644, Data: []byte("abc")})
	a.Trailer()
	r := cpio.NewReader(bytes.NewReader(a.Bytes()), nil)
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("want EOF again, got %v", err)
	}
	if n, err := r.Read(make([]byte, 4)); n != 0 || err != io.EOF {
		t.Fatalf("Read after end = %d, %v", n, err)
	}
	r = cpio.NewReader(strings.NewReader("junkjunk"), nil)
	_, err1 := r.Next()
	_, err2 := r.Next()
	if err1 == nil || err1 != err2 {
		t.Fatalf("errors not sticky: %v / %v", err1, err2)
	}
}

func TestFormatString(t *testing.T) {
	for f, want := range map[cpio.Format]string{cpio.FormatNewc: "070701", cpio.FormatCRC: "070702", cpio.FormatStripped: "07070X", 9: "Format(9)"} {
		if f.String() != want {
			t.Errorf("%d: %q", f, f.String())
		}
	}
}

func FuzzReader(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.cpio")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		// Drop GNU cpio's block padding after the trailer: small seeds
		// keep the fuzzer's minimisation fast.
		if i := bytes.Index(b, []byte("TRAILER!!!\x00")); i >= 0 {
			b = b[:min(len(b), (i+11+3)/4*4)]
		}
		f.Add(b)
	}
	var a rpmtest.Archive
	a.Newc(rpmtest.Entry{Name: "./x", Mode: 0o100644, Data: []byte("data"), CRC: true})
	a.Stripped(1, []byte("zz"))
	a.Trailer()
	f.Add(a.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		size := func(i int) (int64, error) {
			if i > 64 {
				return 0, errors.New("index out of range")
			}
			return int64(i * 3), nil
		}
		r := cpio.NewReader(bytes.NewReader(b), size)
		var total int64
		for {
			h, err := r.Next()
			if err != nil {
				return
			}
			if h.Size < 0 || len(h.Name) >= cpio.MaxNameSize {
				t.Fatalf("bad header %+v", h)
			}
			n, err := io.Copy(io.Discard, r)
			total += n
			if total > int64(len(b)) {
				t.Fatalf("read %d data bytes from %d input bytes", total, len(b))
			}
			if err != nil {
				return
			}
		}
	})
}
