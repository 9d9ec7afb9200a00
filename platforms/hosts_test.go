package platforms

import (
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/relocate/elfdeps"
)

func TestRunsOn(t *testing.T) {
	tests := []struct {
		needs elfdeps.HostNeeds
		want  string
	}{
		{elfdeps.HostNeeds{}, "EL7,EL8,Debian 10,Ubuntu 20.04,Debian 11,SLES 15 SP4,EL9,Ubuntu 22.04,Debian 12,EL10,Ubuntu 24.04,Debian 13"},
		{elfdeps.HostNeeds{Glibc: "2.31"}, "Ubuntu 20.04,Debian 11,SLES 15 SP4,EL9,Ubuntu 22.04,Debian 12,EL10,Ubuntu 24.04,Debian 13"},
		{elfdeps.HostNeeds{Glibc: "2.29"}, "Ubuntu 20.04,Debian 11,SLES 15 SP4,EL9,Ubuntu 22.04,Debian 12,EL10,Ubuntu 24.04,Debian 13"},
		{elfdeps.HostNeeds{Glibc: "2.36"}, "Debian 12,EL10,Ubuntu 24.04,Debian 13"},
		// EL9's libstdc++ (GCC 11) is older than Ubuntu 22.04's.
		{elfdeps.HostNeeds{Glibc: "2.17", GLIBCXX: "3.4.30"}, "SLES 15 SP4,Ubuntu 22.04,Debian 12,EL10,Ubuntu 24.04,Debian 13"},
		{elfdeps.HostNeeds{CXXABI: "1.3.15"}, "EL10,Ubuntu 24.04,Debian 13"},
		{elfdeps.HostNeeds{Glibc: "2.42"}, ""},
		{elfdeps.HostNeeds{Glibc: "2.17", GlibcPrivate: true}, ""},
	}
	for _, tt := range tests {
		if got := strings.Join(RunsOn(tt.needs), ","); got != tt.want {
			t.Errorf("RunsOn(%+v) = %s, want %s", tt.needs, got, tt.want)
		}
	}
}

// The table is ordered by glibc, and every embedded platform's ceiling is
// a glibc some distribution has.
func TestDistributionsTable(t *testing.T) {
	for i := 1; i < len(Distributions); i++ {
		if elfdeps.CompareVersions(Distributions[i-1].Glibc, Distributions[i].Glibc) > 0 {
			t.Errorf("%s after %s: keep the table ordered by glibc", Distributions[i].Name, Distributions[i-1].Name)
		}
	}
	for _, n := range Names() {
		p, err := Load(n)
		if err != nil {
			t.Fatal(err)
		}
		if len(RunsOn(elfdeps.HostNeeds{Glibc: p.GlibcCeiling})) == 0 {
			t.Errorf("%s: ceiling %s satisfied by no known distribution", n, p.GlibcCeiling)
		}
	}
}
