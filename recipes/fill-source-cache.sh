#!/bin/sh
# fill-source-cache.sh - fill bundle's source cache from Debian source packages.
#
# For build machines whose only way out is a Debian mirror: bundle cannot
# download upstream tarballs there, but Debian's source packages carry them
# (*.orig.tar.*, byte-identical to the upstream release unless Debian had to
# repack it, in which case the version says so, e.g. "+dfsg"). This script
# downloads the source packages with apt-get, whose signed Sources index
# vouches for every file, and imports each upstream tarball into bundle's
# content-addressed cache, where `bundle build --offline` finds it by sha256.
#
# Usage:
#   fill-source-cache.sh [-d CACHE_DIR] [-n] [PACKAGE[=VERSION] ...]
#
#   PACKAGE    Debian source (or binary) package names. Default:
#              zlib bzip2 xz-utils libffi openssl sqlite3 ncurses readline
#              expat libxml2 python3.11 gdb
#   -d DIR     the cache directory. Default, as bundle's: $BUNDLE_CACHE/sources,
#              else $XDG_CACHE_HOME/bundle/sources, else ~/.cache/bundle/sources.
#   -n         never touch the APT configuration nor run `apt-get update`.
#
# Without -n, a deb-src entry for the running release (from /etc/os-release;
# mirror $DEBIAN_MIRROR, default http://deb.debian.org/debian) is added to
# /etc/apt/sources.list.d/bundle-deb-src.list when APT has none, and
# `apt-get update` runs when the source index is missing or stale; both need
# root. Downloading source packages itself does not.
#
# Output: for each imported tarball one line "SHA256  FILENAME" on stdout (the
# format of sha256sum), to pin in a recipe. Everything else goes to stderr.
# Exit status 1 if any package failed (the others are still imported).
#
# Cache layout (the same as bundle/sources documents and writes):
#   DIR/sha256/<first two hex digits>/<sha256>   the file, mode 0444
#   DIR/by-name/<file name> -> ../sha256/<ab>/<sha256>
#   DIR/tmp/                                     copies in progress
# A file only reaches DIR/sha256 by a rename of a complete copy whose digest
# was computed from the copy itself, so readers never see partial files and
# concurrent writers (this script, bundle) of the same digest are harmless.

set -eu

prog=${0##*/}
default_packages="zlib bzip2 xz-utils libffi openssl sqlite3 ncurses readline expat libxml2 python3.11 gdb"

die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$prog" "$*" >&2; }

usage() {
	sed -n '/^# Usage:/,/^# Output:/p' "$0" | sed 's/^# \{0,1\}//; /^Output:/d' >&2
	exit 2
}

default_cache_dir() {
	if [ -n "${BUNDLE_CACHE:-}" ]; then
		printf '%s\n' "$BUNDLE_CACHE/sources"
	elif [ -n "${XDG_CACHE_HOME:-}" ] && [ "${XDG_CACHE_HOME#/}" != "$XDG_CACHE_HOME" ]; then
		printf '%s\n' "$XDG_CACHE_HOME/bundle/sources"
	elif [ -n "${HOME:-}" ]; then
		printf '%s\n' "$HOME/.cache/bundle/sources"
	else
		die "no cache directory: set BUNDLE_CACHE or HOME, or pass -d"
	fi
}

cache=
touch_apt=yes
while getopts d:nh opt; do
	case $opt in
	d) cache=$OPTARG ;;
	n) touch_apt=no ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
# shellcheck disable=SC2086 # the default list is split on purpose
[ $# -gt 0 ] || set -- $default_packages
[ -n "$cache" ] || cache=$(default_cache_dir)

for tool in apt-get sha256sum mktemp; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is required (this script is for Debian and derivatives)"
done


updated=no
# shellcheck source=recipes/debian-apt.sh
. "$(dirname "$0")/debian-apt.sh"

# import FILE: copy FILE into the cache under its digest and print the pin.
# set -e does not apply inside a function called from `||`, so every step is
# checked by hand.
import() {
	file=$1
	name=${file##*/}
	mkdir -p "$cache/tmp" "$cache/by-name" || return 1
	tmp=$(mktemp "$cache/tmp/fetch-XXXXXX") || return 1
	if ! cp "$file" "$tmp" || ! sum=$(sha256sum <"$tmp"); then
		rm -f "$tmp"
		return 1
	fi
	sum=${sum%% *}
	case $sum in
	*[!0-9a-f]* | '') sum=bad ;;
	esac
	if [ "${#sum}" -ne 64 ]; then
		rm -f "$tmp"
		say "cannot hash $file"
		return 1
	fi
	ab=$(printf '%.2s' "$sum")
	if ! mkdir -p "$cache/sha256/$ab" || ! chmod 0444 "$tmp" || ! mv -f "$tmp" "$cache/sha256/$ab/$sum"; then
		rm -f "$tmp"
		return 1
	fi
	# The by-name index is for humans: replace the link atomically, and do
	# not fail the import over it.
	link=$(mktemp -u "$cache/by-name/.link-XXXXXX") || link=
	if [ -z "$link" ] || ! ln -s "../sha256/$ab/$sum" "$link" || ! mv -f "$link" "$cache/by-name/$name"; then
		say "warning: cannot update $cache/by-name/$name"
		[ -z "$link" ] || rm -f "$link"
	fi
	printf '%s  %s\n' "$sum" "$name"
}

# fetch PKG: download PKG's source package into a fresh directory and import
# its upstream tarballs.
fetch() {
	pkg=$1
	dir=$(mktemp -d "${TMPDIR:-/tmp}/fill-source-cache.XXXXXX") || return 1
	# Let APT's unprivileged download user write here.
	chmod 0755 "$dir"
	if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$dir"; fi
	log=$dir/apt.log
	if ! (cd "$dir" && apt-get source --download-only "$pkg") >"$log" 2>&1; then
		# A stale index names versions the mirror no longer has; refresh once.
		if apt_update && (cd "$dir" && apt-get source --download-only "$pkg") >"$log" 2>&1; then
			:
		else
			cat "$log" >&2
			rm -rf "$dir"
			say "apt-get source $pkg failed"
			return 1
		fi
	fi
	found=no
	for f in "$dir"/*.orig.tar.* "$dir"/*.orig-*.tar.*; do
		[ -f "$f" ] || continue
		case $f in *.asc | *.sig) continue ;; esac
		import "$f" || { rm -rf "$dir"; say "importing $f failed"; return 1; }
		found=yes
	done
	rm -rf "$dir"
	dir=
	if [ "$found" = no ]; then
		say "$pkg: no upstream tarball (*.orig.tar.*): a Debian-native package, nothing to import"
	fi
	return 0
}

dir=
trap 'if [ -n "$dir" ]; then rm -rf "$dir"; fi' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ensure_deb_src
mkdir -p "$cache" || die "cannot create $cache"
status=0
for pkg do
	case $pkg in
	-* | '') say "not a package name: '$pkg'"; status=1; continue ;;
	esac
	fetch "$pkg" || status=1
done
exit $status
