package recipes

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary documents to Parse: it must never panic, every
// failure must be a list of *Error naming the file, and every success must
// validate again and have a stable digest.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	seeds = append(seeds, "example.yaml")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("<<: {name: x}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse("f.yaml", data, "testdata")
		if err != nil {
			if r != nil {
				t.Fatal("recipe returned with an error")
			}
			errs := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			}
			for _, e := range errs {
				var re *Error
				if !errors.As(e, &re) || re.File != "f.yaml" {
					t.Fatalf("error %q (%T) is not an *Error naming the file", e, e)
				}
				if re.Msg == "" || strings.Contains(re.Msg, "internal error") {
					t.Fatalf("bad message %q", e)
				}
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("parsed recipe does not validate: %v", err)
		}
		if r.Digest() != r.Digest() {
			t.Fatal("digest not stable")
		}
		for _, p := range r.All() {
			if p == nil {
				t.Fatal("nil package")
			}
			r.Effective(p)
		}
	})
}
