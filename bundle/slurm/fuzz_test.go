package slurm

import "testing"

// FuzzParsers feeds Slurm's outputs to every parser: none may panic, and
// what they accept is well formed.
func FuzzParsers(f *testing.F) {
	for _, s := range []string{"42\n", "42;c\n", "1|RUNNING|None\n2|PENDING|Dependency\n", "5|CANCELLED by 0\n", "vm|vm\n", "", "|||\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if id, err := ParseSubmit(s); err == nil && !validID(id) {
			t.Errorf("ParseSubmit(%q) = %q", s, id)
		}
		if m, err := ParseSqueue(s); err == nil {
			for id, st := range m {
				if !validID(id) || st.State == "" {
					t.Errorf("ParseSqueue(%q): %q %+v", s, id, st)
				}
			}
		}
		if m, err := ParseSacct(s); err == nil {
			for id := range m {
				if !validID(id) {
					t.Errorf("ParseSacct(%q): %q", s, id)
				}
			}
		}
		if nodes, err := ParseSinfo(s); err == nil {
			for _, n := range nodes {
				if n.Name == "" || n.Hostname == "" {
					t.Errorf("ParseSinfo(%q): %+v", s, n)
				}
			}
		}
	})
}
