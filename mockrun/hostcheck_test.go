package mockrun

import (
	"strings"
	"testing"
)

func TestHasCap(t *testing.T) {
	status := "Name:\tsh\nCapPrm:\t000001ffffffffff\nCapEff:\t0000000000200000\nCapBnd:\t000001ffffffffff\n"
	if !hasCap(status, 21) {
		t.Error("CAP_SYS_ADMIN not seen")
	}
	if hasCap(status, 0) {
		t.Error("CAP_CHOWN seen")
	}
	for _, s := range []string{"", "CapEff:\tzz\n", "CapPrm:\tffffffffffffffff\n"} {
		if hasCap(s, 21) {
			t.Errorf("capability found in %q", s)
		}
	}
}

func TestSetupHint(t *testing.T) {
	tests := []struct{ tail, want string }{
		{"mount: /w/sandbox/x/merged: wrong fs type, bad option, bad superblock on bundle-sandbox.", "overlay could not be mounted"},
		{"unshare: unshare failed: Operation not permitted", "no new namespaces"},
		{"bwrap: Creating new namespace failed: Operation not permitted", "bubblewrap could not set up"},
		{"Installing /builddir/input/x.src.rpm\nmount: not this one", ""},
		{"Executing(%build): /bin/sh -e /var/tmp/rpm-tmp.x\nbwrap: in the build", ""},
		{"something else", ""},
	}
	for _, tt := range tests {
		got := setupHint(tt.tail)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("setupHint(%q) = %q, want %q", tt.tail, got, tt.want)
		}
	}
}
