package cachedir

import "testing"

func TestRoot(t *testing.T) {
	tests := []struct {
		name, bundle, xdg, home, want string
	}{
		{"BUNDLE_CACHE first", "/srv/bc", "/xdg", "/home/u", "/srv/bc"},
		{"XDG_CACHE_HOME", "", "/xdg", "/home/u", "/xdg/bundle"},
		{"relative XDG_CACHE_HOME ignored", "", "relative", "/home/u", "/home/u/.cache/bundle"},
		{"HOME", "", "", "/home/u", "/home/u/.cache/bundle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("BUNDLE_CACHE", tt.bundle)
			t.Setenv("XDG_CACHE_HOME", tt.xdg)
			t.Setenv("HOME", tt.home)
			got, err := Root()
			if err != nil || got != tt.want {
				t.Errorf("Root() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
