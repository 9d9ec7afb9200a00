package platforms

import (
	"github.com/bundle-dev/bundle/bundle/relocate/elfdeps"
)

// Distribution is a Linux distribution grid worker nodes run, with the
// newest symbol versions its base system's glibc and libstdc++ define.
type Distribution struct {
	// Name is what people call it: "EL9", "Ubuntu 22.04".
	Name string `json:"name"`
	// Glibc is the glibc version (its newest GLIBC_x.y).
	Glibc string `json:"glibc"`
	// GLIBCXX and CXXABI are the newest versions of the system libstdc++
	// (the GCC release the distribution ships it from).
	GLIBCXX string `json:"glibcxx"`
	CXXABI  string `json:"cxxabi"`
}

// Distributions are the hosts bundles are meant for, oldest glibc first.
// Sources: each distribution's glibc and libstdc++ packages (EL from
// RHEL's package lists, Debian and Ubuntu from their archives; libstdc++
// versions from GCC's ABI documentation for the GCC release shipped).
var Distributions = []Distribution{
	{Name: "EL7", Glibc: "2.17", GLIBCXX: "3.4.19", CXXABI: "1.3.7"},           // GCC 4.8
	{Name: "EL8", Glibc: "2.28", GLIBCXX: "3.4.25", CXXABI: "1.3.11"},          // GCC 8
	{Name: "Debian 10", Glibc: "2.28", GLIBCXX: "3.4.25", CXXABI: "1.3.11"},    // GCC 8
	{Name: "Ubuntu 20.04", Glibc: "2.31", GLIBCXX: "3.4.28", CXXABI: "1.3.12"}, // GCC 10
	{Name: "Debian 11", Glibc: "2.31", GLIBCXX: "3.4.28", CXXABI: "1.3.12"},    // GCC 10
	{Name: "SLES 15 SP4", Glibc: "2.31", GLIBCXX: "3.4.30", CXXABI: "1.3.13"},  // GCC 12's libstdc++
	{Name: "EL9", Glibc: "2.34", GLIBCXX: "3.4.29", CXXABI: "1.3.13"},          // GCC 11
	{Name: "Ubuntu 22.04", Glibc: "2.35", GLIBCXX: "3.4.30", CXXABI: "1.3.13"}, // GCC 12's libstdc++
	{Name: "Debian 12", Glibc: "2.36", GLIBCXX: "3.4.30", CXXABI: "1.3.13"},    // GCC 12
	{Name: "EL10", Glibc: "2.39", GLIBCXX: "3.4.33", CXXABI: "1.3.15"},         // GCC 14
	{Name: "Ubuntu 24.04", Glibc: "2.39", GLIBCXX: "3.4.33", CXXABI: "1.3.15"}, // GCC 14's libstdc++
	{Name: "Debian 13", Glibc: "2.41", GLIBCXX: "3.4.33", CXXABI: "1.3.15"},    // GCC 14
}

// Satisfies reports whether d has every version needs asks for. Needs
// without a version of a kind ask nothing of it.
func (d Distribution) Satisfies(needs elfdeps.HostNeeds) bool {
	for _, c := range []struct{ need, have string }{
		{needs.Glibc, d.Glibc}, {needs.GLIBCXX, d.GLIBCXX}, {needs.CXXABI, d.CXXABI},
	} {
		if c.need != "" && elfdeps.CompareVersions(c.need, c.have) > 0 {
			return false
		}
	}
	return !needs.GlibcPrivate
}

// RunsOn lists the names of the known distributions that satisfy needs,
// in the order of Distributions.
func RunsOn(needs elfdeps.HostNeeds) []string {
	var out []string
	for _, d := range Distributions {
		if d.Satisfies(needs) {
			out = append(out, d.Name)
		}
	}
	return out
}
