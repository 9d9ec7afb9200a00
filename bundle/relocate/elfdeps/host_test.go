package elfdeps_test

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/bundle-dev/bundle/bundle/relocate/elfdeps"
	"github.com/bundle-dev/bundle/bundle/relocate/elfdeps/elftest"
)

func TestComputeHostNeeds(t *testing.T) {
	libc := map[string][]string{"libc.so.6": {"GLIBC_2.14", "GLIBC_2.2.5", "GLIBC_2.29"}}
	tests := []struct {
		name  string
		files []string
		infos []*elfdeps.Info
		want  elfdeps.HostNeeds
	}{
		{name: "nothing", want: elfdeps.HostNeeds{}},
		{
			name:  "glibc only",
			files: []string{"/usr/bin/python3"},
			infos: []*elfdeps.Info{{Needed: []string{"libc.so.6", "libpython3.11.so.1.0"}, VersionsFrom: libc}},
			want: elfdeps.HostNeeds{Libraries: []string{"libc.so.6", "libpython3.11.so.1.0"}, Glibc: "2.29",
				By: map[string]string{"GLIBC": "/usr/bin/python3"}},
		},
		{
			// libstdc++ shipped in the bundle: its versions are not the host's.
			name:  "bundled libstdc++",
			files: []string{"/usr/bin/gdb", "/usr/lib64/libstdc++.so.6"},
			infos: []*elfdeps.Info{
				{Needed: []string{"libstdc++.so.6", "libm.so.6"}, VersionsFrom: map[string][]string{
					"libstdc++.so.6": {"CXXABI_1.3.13", "GLIBCXX_3.4.30"}, "libm.so.6": {"GLIBC_2.2.5", "GLIBC_2.27"}}},
				{Soname: "libstdc++.so.6", Needed: []string{"libc.so.6"}, VersionsFrom: map[string][]string{"libc.so.6": {"GLIBC_2.18", "GLIBC_PRIVATE"}}},
			},
			want: elfdeps.HostNeeds{Libraries: []string{"libc.so.6", "libm.so.6"}, Glibc: "2.27", GlibcPrivate: true,
				By: map[string]string{"GLIBC": "/usr/bin/gdb"}},
		},
		{
			name:  "host libstdc++",
			files: []string{"/usr/bin/a", "/usr/bin/b"},
			infos: []*elfdeps.Info{
				{Needed: []string{"libstdc++.so.6"}, VersionsFrom: map[string][]string{"libstdc++.so.6": {"CXXABI_1.3.9", "GLIBCXX_3.4.21"}}},
				{Needed: []string{"libstdc++.so.6"}, VersionsFrom: map[string][]string{"libstdc++.so.6": {"CXXABI_1.3.13", "GLIBCXX_3.4.3", "GLIBCXX_3.4.9"}}},
			},
			want: elfdeps.HostNeeds{Libraries: []string{"libstdc++.so.6"}, GLIBCXX: "3.4.21", CXXABI: "1.3.13",
				By: map[string]string{"GLIBCXX": "/usr/bin/a", "CXXABI": "/usr/bin/b"}},
		},
		{
			// A library found by its file name though it has no SONAME.
			name:  "provided by file name",
			files: []string{"/usr/lib64/libfoo.so.1", "/usr/bin/x"},
			infos: []*elfdeps.Info{{}, {Needed: []string{"libfoo.so.1"}, VersionsFrom: map[string][]string{"libfoo.so.1": {"FOO_9"}}}},
			want:  elfdeps.HostNeeds{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := elfdeps.ComputeHostNeeds(tt.files, tt.infos)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestHostNeedsOfARealProgram compiles a program that calls a function
// added in glibc 2.34 (the host's glibc is newer) and reads its needs back.
func TestHostNeedsOfARealProgram(t *testing.T) {
	exe := elftest.BuildExe(t, filepath.Join(t.TempDir(), "prog"), `#include <pthread.h>
#include <stdio.h>
int main(void) { pthread_mutexattr_t a; pthread_mutexattr_init(&a); puts("x"); return 0; }
`, "-pthread")
	info, err := elfdeps.Inspect(exe)
	if err != nil {
		t.Fatal(err)
	}
	got := elfdeps.ComputeHostNeeds([]string{"/bin/prog"}, []*elfdeps.Info{info})
	if !reflect.DeepEqual(got.Libraries, []string{"libc.so.6"}) || got.Glibc == "" || got.GLIBCXX != "" {
		t.Fatalf("needs of a C program linked to glibc: %+v (VersionsFrom %v)", got, info.VersionsFrom)
	}
	if elfdeps.CompareVersions(got.Glibc, "2.34") < 0 {
		t.Errorf("pthread_mutexattr_init in libc proper since 2.34, need %s", got.Glibc)
	}
}
