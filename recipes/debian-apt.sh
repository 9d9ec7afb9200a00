# shellcheck shell=sh disable=SC2154 # say, die, touch_apt, updated come from the sourcing script
# debian-apt.sh - APT helpers shared by fill-source-cache.sh and
# gather-python-wheels.sh, sourced by them (not run). The caller defines
# say, die, $touch_apt (yes: the APT configuration may be changed) and
# sets updated=no.

# apt_update runs `apt-get update` once, as root and when allowed; it
# returns 1 when it did not run.
apt_update() {
	[ "$updated" = no ] || return 1
	[ "$touch_apt" = yes ] || return 1
	if [ "$(id -u)" != 0 ]; then
		say "not root: cannot run apt-get update"
		return 1
	fi
	say "running apt-get update"
	apt-get update >&2 || die "apt-get update failed"
	updated=yes
}

# has_deb_src: does APT know a source index? indextargets lists what
# `apt-get update` would fetch, whatever the configuration format.
has_deb_src() {
	# shellcheck disable=SC2016 # $(IDENTIFIER) is APT's template syntax
	apt-get indextargets --format '$(IDENTIFIER)' 2>/dev/null | grep -qx Sources
}

ensure_deb_src() {
	has_deb_src && return 0
	[ "$touch_apt" = yes ] || die "APT has no deb-src entry; add one or run without -n"
	[ "$(id -u)" = 0 ] || die "APT has no deb-src entry and adding one needs root: rerun with sudo, or add a deb-src line yourself"
	# shellcheck disable=SC1091
	codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || die "cannot tell the release codename from /etc/os-release; add a deb-src entry by hand"
	list=/etc/apt/sources.list.d/bundle-deb-src.list
	say "adding 'deb-src ${DEBIAN_MIRROR:-http://deb.debian.org/debian} $codename main' to $list"
	# Same keyring option as Debian 12's debian.sources, else APT refuses
	# the two entries ("Conflicting values set for option Signed-By").
	opts=""
	[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] && opts="[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
	printf 'deb-src %s%s %s main\n' "$opts" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" "$codename" >"$list"
	apt_update || true
}
