package mockrun

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
)

// canMount reports whether this process may mount file systems: root with
// CAP_SYS_ADMIN (not the case for root in most containers).
func canMount() bool {
	if os.Geteuid() != 0 {
		return false
	}
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	return hasCap(string(data), 21) // CAP_SYS_ADMIN
}

// hasCap reports whether the CapEff line of a /proc/<pid>/status text holds
// capability bit.
func hasCap(status string, bit uint) bool {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<bit) != 0
		}
	}
	return false
}

// checkHost reports what is missing for sandbox builds on this host.
func checkHost(privileged bool) error {
	var missing []string
	for _, t := range []struct{ bin, pkg string }{{"bwrap", "bubblewrap"}, {"unshare", "util-linux"}, {"mount", "mount"}} {
		if _, err := exec.LookPath(t.bin); err != nil {
			missing = append(missing, fmt.Sprintf("%s (package %s)", t.bin, t.pkg))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing on this host: %s", strings.Join(missing, ", "))
	}
	if privileged {
		return nil
	}
	return checkUserns()
}

// checkUserns explains why unprivileged builds cannot work here, if they
// cannot: they need user namespaces and overlayfs inside them (Linux 5.11).
func checkUserns() error {
	read := func(p string) (string, bool) {
		b, err := os.ReadFile(p)
		return strings.TrimSpace(string(b)), err == nil
	}
	if v, ok := read("/proc/sys/kernel/unprivileged_userns_clone"); ok && v != "1" {
		return errors.New("not root and unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0): run as root or set the sysctl to 1")
	}
	if v, ok := read("/proc/sys/user/max_user_namespaces"); ok && v == "0" {
		return errors.New("not root and user namespaces are disabled (user.max_user_namespaces=0): run as root or raise the sysctl")
	}
	if v, ok := read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); ok && v == "1" {
		return errors.New("not root and AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1): run as root or allow bwrap/unshare in an AppArmor profile")
	}
	if rel, ok := read("/proc/sys/kernel/osrelease"); ok {
		var major, minor int
		fmt.Sscanf(rel, "%d.%d", &major, &minor)
		if major < 5 || (major == 5 && minor < 11) {
			return fmt.Errorf("not root and kernel %s cannot mount overlayfs in a user namespace (needs 5.11): run as root", rel)
		}
	}
	return nil
}

// checkSubids explains why mmdebstrap cannot make a rootfs in a user
// namespace here, if it cannot: it maps a range of subordinate ids.
func checkSubids() error {
	if _, err := exec.LookPath("newuidmap"); err != nil {
		return errors.New("not root and newuidmap is missing (package uidmap), which mmdebstrap needs to make the rootfs: install it or run as root")
	}
	u, err := user.Current()
	if err != nil {
		return fmt.Errorf("not root and the current user is unknown: %w", err)
	}
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		data, _ := os.ReadFile(f)
		found := false
		for _, line := range strings.Split(string(data), "\n") {
			owner, _, _ := strings.Cut(line, ":")
			found = found || (owner != "" && (owner == u.Username || owner == u.Uid))
		}
		if !found {
			return fmt.Errorf("not root and %s has no range for user %s, which mmdebstrap needs to make the rootfs: add one (usermod --add-subuids/--add-subgids) or run as root", f, u.Username)
		}
	}
	return nil
}

// setupHint explains a sandbox that failed before rpmbuild ran, from the
// last lines of its output ("" when rpmbuild ran or the cause is unclear).
func setupHint(tail string) string {
	if strings.Contains(tail, "Executing(") || strings.Contains(tail, "Installing /builddir") {
		return ""
	}
	switch {
	case strings.Contains(tail, "mount: ") || strings.Contains(tail, "mount -t overlay"):
		return "the sandbox overlay could not be mounted: the work directory must be on a local file system overlayfs takes as upper layer (ext4, xfs, btrfs, tmpfs; not NFS or another overlay), and the process needs root with CAP_SYS_ADMIN or unprivileged user namespaces"
	case strings.Contains(tail, "unshare: "):
		return "no new namespaces could be made: run as root, or allow unprivileged user namespaces"
	case strings.Contains(tail, "bwrap: "):
		return "bubblewrap could not set up the sandbox"
	}
	return ""
}
