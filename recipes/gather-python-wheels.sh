#!/bin/sh
# gather-python-wheels.sh - gather bundle's offline Python package set from Debian.
#
# `bundle lock` and the pip stage of `bundle build` run pip with
# --no-index --find-links DIR: every wheel or sdist they need must be in DIR.
# On build machines whose only way out is a Debian mirror, this script fills
# DIR from Debian's archive, with APT, whose signed indexes vouch for every
# file downloaded:
#
#   * pip, setuptools, wheel: the wheels Debian ships in python3-pip-whl,
#     python3-setuptools-whl and python3-wheel-whl (extracted with dpkg -x,
#     nothing is installed). Debian builds them from its own sources (pip's
#     is repacked, "+dfsg"), so they are not byte-identical to PyPI's, and
#     Debian's setuptools is patched for Debian's Python ("install_layout"):
#     with any other Python it cannot build an sdist. So with -p PYTHON, pip
#     and setuptools come instead from the wheels PYTHON's ensurepip bundles
#     (CPython ships PyPI's own files there); give -p the bundle's Python,
#     or the same CPython version, whenever the set holds sdists.
#   * requests and its dependencies (urllib3, idna, charset-normalizer,
#     certifi, chardet) and six, one of two ways:
#       default  Debian's binary packages (python3-requests, ...), repacked
#                as wheels. The code is Debian's (patched: certifi returns
#                /etc/ssl/certs/ca-certificates.crt), Debian strips
#                install_requires, so Requires-Dist is rebuilt from the
#                package's Depends (python3-X (>= V) -> X>=V; Debian names that differ
#                from PyPI's, such as python3-pkg-resources, are mapped), and the version
#                gets a local label saying so: requests 2.28.1+dfsg-1 becomes
#                2.28.1+deb.dfsg.1 (`requests==2.28.1` and `requests>=2` still
#                match it). The zip is written deterministically (sorted, stored,
#                1980-01-01 timestamps): the same .deb gives the same wheel.
#       -s       the upstream sdists from Debian's source archive
#                (apt-get source --download-only), renamed to pip's
#                NAME-VERSION.tar.* form. A Debian orig tarball is byte-identical
#                to PyPI's sdist unless Debian repacked it (a "+dfsg"/"+ds"
#                version, or an .orig.tar.xz where PyPI has .tar.gz): for
#                bookworm requests (+dfsg) and certifi (.tar.xz) are repacked;
#                urllib3, idna, charset-normalizer, chardet and six are taken
#                as published. The script prints which.
#     The two ways give different files, hence different hashes: a lock
#     (recipes/requirements.lock is made from the default set) is tied to one.
#
# Usage:
#   gather-python-wheels.sh [-s] [-n] [-p PYTHON] DIR [PACKAGE ...]
#
#   DIR        the find-links directory to fill (created if missing).
#   PACKAGE    Debian packages instead of the default set: binary packages
#              (python3-NAME) by default, source packages with -s.
#   -s         upstream sdists from the source archive (see above).
#   -p PYTHON  pip and setuptools from PYTHON's ensurepip (see above); PYTHON
#              may also be a CPython source tarball (any non-executable file,
#              e.g. Python-3.11.2.tgz or its entry in bundle's source cache),
#              whose Lib/ensurepip/_bundled wheels are taken without building it.
#   -n         never touch the APT configuration nor run `apt-get update`.
#
# Without -n, `apt-get update` runs when a download fails (a stale index),
# and with -s a deb-src entry for the running release is added to
# /etc/apt/sources.list.d/bundle-deb-src.list when APT has none; both need
# root. Needs apt-get, dpkg-deb, sha256sum and, without -s, python3 (any
# Python 3.8 or later, to write the wheels).
#
# Output: one line "SHA256  FILENAME" per file of DIR gathered (sha256sum's
# format), and DIR/ORIGIN.txt saying where each file came from. Messages go
# to stderr. Exit status 1 if any package failed (the others are gathered).
# A file reaches DIR only by a rename of a complete copy.

set -eu

prog=${0##*/}
whl_packages="python3-pip-whl python3-setuptools-whl python3-wheel-whl"
default_binary="python3-requests python3-urllib3 python3-idna python3-charset-normalizer python3-certifi python3-chardet python3-six"
default_source="requests python-urllib3 python-idna python-charset-normalizer python-certifi chardet six"

die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$prog" "$*" >&2; }

usage() {
	sed -n '/^# Usage:/,/^# Without -n/p' "$0" | sed 's/^# \{0,1\}//; /^Without -n/d' >&2
	exit 2
}

mode=binary
touch_apt=yes
bundled_from=
while getopts snp:h opt; do
	case $opt in
	s) mode=source ;;
	n) touch_apt=no ;;
	p) bundled_from=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
dest=$1
shift

for tool in apt-get dpkg-deb sha256sum mktemp; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is required (this script is for Debian and derivatives)"
done
python=
if [ "$mode" = binary ]; then
	python=$(command -v python3 || true)
	[ -n "$python" ] || die "python3 is required to write the wheels (apt-get install python3-minimal)"
fi

mkdir -p "$dest" || die "cannot create $dest"
dest=$(cd "$dest" && pwd)

updated=no
# shellcheck source=recipes/debian-apt.sh
. "$(dirname "$0")/debian-apt.sh"


# apt_fetch DIR CMD...: run an apt-get download command in DIR, refreshing
# the index once when it fails.
apt_fetch() {
	d=$1
	shift
	if (cd "$d" && "$@") >"$d/apt.log" 2>&1; then
		return 0
	fi
	if apt_update && (cd "$d" && "$@") >"$d/apt.log" 2>&1; then
		return 0
	fi
	cat "$d/apt.log" >&2
	return 1
}

# workdir: a fresh directory APT's unprivileged download user can write.
workdir() {
	w=$(mktemp -d "${TMPDIR:-/tmp}/gather-python-wheels.XXXXXX") || return 1
	chmod 0755 "$w"
	if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$w"; fi
	printf '%s\n' "$w"
}

# place FILE NAME ORIGIN: copy FILE to DEST/NAME (temp + rename), print its
# pin line and record its origin.
place() {
	tmp=$(mktemp "$dest/.gather-XXXXXX") || return 1
	if ! cp "$1" "$tmp" || ! chmod 0644 "$tmp" || ! mv -f "$tmp" "$dest/$2"; then
		rm -f "$tmp"
		return 1
	fi
	sum=$(sha256sum <"$dest/$2") || return 1
	printf '%s  %s\n' "${sum%% *}" "$2"
	printf '%s\t%s\n' "$2" "$3" >>"$origins"
}

# gather_whl PKG: the wheels a python3-*-whl package ships.
gather_whl() {
	w=$(workdir) || return 1
	apt_fetch "$w" apt-get download "$1" || { rm -rf "$w"; say "apt-get download $1 failed"; return 1; }
	if ! deb=$(ls "$w"/*.deb) || ! dpkg-deb -x "$deb" "$w/x"; then
		rm -rf "$w"
		return 1
	fi
	ver=$(dpkg-deb -f "$deb" Version)
	found=no
	for f in "$w"/x/usr/share/python-wheels/*.whl; do
		[ -f "$f" ] || continue
		place "$f" "${f##*/}" "Debian $1 $ver: wheel built by Debian (not byte-identical to PyPI's)" || { rm -rf "$w"; return 1; }
		found=yes
	done
	rm -rf "$w"
	[ "$found" = yes ] || { say "$1 ships no wheel"; return 1; }
}

# gather_binary PKG: repack a Debian python3-* package as a wheel.
gather_binary() {
	w=$(workdir) || return 1
	apt_fetch "$w" apt-get download "$1" || { rm -rf "$w"; say "apt-get download $1 failed"; return 1; }
	if ! deb=$(ls "$w"/*.deb) || ! dpkg-deb -x "$deb" "$w/x"; then
		rm -rf "$w"
		return 1
	fi
	mkdir "$w/out" || return 1
	if ! whl=$("$python" -I -c "$repack_py" "$w/x" "$(dpkg-deb -f "$deb" Version)" "$(dpkg-deb -f "$deb" Depends)" "$w/out"); then
		rm -rf "$w"
		say "cannot repack $1 as a wheel"
		return 1
	fi
	place "$w/out/$whl" "$whl" "Debian $1 $(dpkg-deb -f "$deb" Version): binary package repacked as a wheel (Debian's code; Requires-Dist from Depends)" || { rm -rf "$w"; return 1; }
	rm -rf "$w"
}

# gather_source PKG: the upstream tarball of a Debian source package, named
# as pip expects an sdist.
gather_source() {
	w=$(workdir) || return 1
	apt_fetch "$w" apt-get source --download-only "$1" || { rm -rf "$w"; say "apt-get source $1 failed (does the mirror carry Debian's source archive?)"; return 1; }
	orig=
	for f in "$w"/*.orig.tar.*; do
		case $f in *.asc | *.sig) continue ;; esac
		[ -f "$f" ] && orig=$f
	done
	[ -n "$orig" ] || { rm -rf "$w"; say "$1: no upstream tarball (*.orig.tar.*)"; return 1; }
	# PKG-INFO at the top of the tarball names the project and version.
	info=$(tar -xOf "$orig" --wildcards '*/PKG-INFO' 2>/dev/null | sed -n '1,/^$/p') || info=
	name=$(printf '%s\n' "$info" | sed -n 's/^Name: *//p' | head -n 1)
	version=$(printf '%s\n' "$info" | sed -n 's/^Version: *//p' | head -n 1)
	if [ -z "$name" ] || [ -z "$version" ]; then
		rm -rf "$w"
		say "$1: ${orig##*/} has no PKG-INFO: not an sdist (a VCS snapshot?), pip cannot use it"
		return 1
	fi
	ext=${orig##*.orig}
	file="$name-$version$ext"
	case ${orig##*/} in
	*+dfsg* | *+ds* | *.orig.tar.xz | *.orig.tar.bz2) how="repacked by Debian: NOT byte-identical to PyPI's sdist" ;;
	*) how="upstream tarball as published (byte-identical to PyPI's sdist)" ;;
	esac
	say "$file: $how"
	place "$orig" "$file" "Debian source $1: ${orig##*/}, $how" || { rm -rf "$w"; return 1; }
	rm -rf "$w"
}

# The wheel writer: argv = extracted .deb root, Debian version, Depends,
# output directory; prints the wheel's file name.
repack_py='
import base64, hashlib, os, re, sys, zipfile
from importlib.metadata import PathDistribution
from pathlib import Path

root, debver, depends, out = sys.argv[1:5]
site = Path(root, "usr/lib/python3/dist-packages")
infos = sorted(p for p in site.iterdir() if p.suffix in (".egg-info", ".dist-info") and p.is_dir())
if len(infos) != 1:
    sys.exit("want one .egg-info or .dist-info directory in %s, found %d" % (site, len(infos)))
info = infos[0]
meta_name = "PKG-INFO" if info.suffix == ".egg-info" else "METADATA"
text = (info / meta_name).read_text(encoding="utf-8")
head, _, body = text.partition("\n\n")
entries = []  # (key, raw lines) in order
for line in head.splitlines():
    if line[:1] in (" ", "\t") and entries:
        entries[-1][1].append(line)
    else:
        entries.append((line.split(":", 1)[0].strip(), [line]))
get = lambda k: next(("\n".join(v).split(":", 1)[1].strip() for key, v in entries if key.lower() == k), "")
name, version = get("name"), get("version")
if not name or not version:
    sys.exit("%s: no Name or Version" % info)

# The local version label tells the Debian revision: 2.28.1+dfsg-1 -> 2.28.1+deb.dfsg.1
upstream = debver.split(":", 1)[-1]
rest = upstream[len(version):] if upstream.startswith(version) else upstream
label = ".".join(x for x in re.split(r"[^A-Za-z0-9]+", rest) if x)
newver = version + "+deb" + ("." + label if label else "")

# Debian names that are not the project name on PyPI.
pypi = {"pkg-resources": "setuptools", "yaml": "PyYAML", "dateutil": "python-dateutil",
        "openssl": "pyOpenSSL", "socks": "PySocks", "jwt": "PyJWT"}
reqs = list(PathDistribution(info).requires or [])
have = {re.split(r"[\s<>=!~;\[(]", r, 1)[0].lower().replace("_", "-") for r in reqs if ";" not in r}
for group in depends.split(","):
    alt = group.split("|")[0].strip()
    m = re.match(r"^python3-([a-z0-9][a-z0-9.+-]*)(?::any)?\s*(?:\(\s*(>=|<<|>>|<=|=)\s*([^)\s]+)\s*\))?$", alt)
    if not m or m.group(1).endswith("-whl"):
        continue
    dep = pypi.get(m.group(1), m.group(1))
    if dep.lower() in have:
        continue
    spec = ""
    if m.group(2):
        v = m.group(3).split(":", 1)[-1].rsplit("-", 1)[0]
        v = re.sub(r"[+~].*$", "", v)
        spec = {">=": ">=", "<<": "<", ">>": ">", "<=": "<=", "=": "=="}[m.group(2)] + v
    reqs.append(dep + spec)
    have.add(dep.lower())

lines = []
for key, raw in entries:
    k = key.lower()
    if k == "requires-dist":
        continue
    if k == "version":
        raw = ["Version: " + newver]
    lines.extend(raw)
lines.extend("Requires-Dist: " + r for r in reqs)
metadata = "\n".join(lines) + "\n\n" + body

dist = re.sub(r"[-_.]+", "_", name)
di = "%s-%s.dist-info" % (dist, newver)
files = {}
for dirpath, dirnames, filenames in os.walk(site):
    dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and Path(dirpath, d) != info)
    for f in filenames:
        p = Path(dirpath, f)
        if p.is_symlink() or not p.is_file():
            continue
        files[p.relative_to(site).as_posix()] = p.read_bytes()
files[di + "/METADATA"] = metadata.encode("utf-8")
files[di + "/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: bundle gather-python-wheels.sh\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
for extra in ("entry_points.txt", "top_level.txt"):
    if (info / extra).is_file():
        files[di + "/" + extra] = (info / extra).read_bytes()
record = []
for n in sorted(files):
    digest = base64.urlsafe_b64encode(hashlib.sha256(files[n]).digest()).rstrip(b"=").decode()
    record.append("%s,sha256=%s,%d" % (n, digest, len(files[n])))
record.append(di + "/RECORD,,")
files[di + "/RECORD"] = ("\n".join(record) + "\n").encode()

whl = "%s-%s-py3-none-any.whl" % (dist, newver)
tmp = Path(out, whl + ".tmp")
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
    for n in sorted(files, key=lambda n: (n.startswith(di + "/"), n.endswith("/RECORD"), n)):
        zi = zipfile.ZipInfo(n, date_time=(1980, 1, 1, 0, 0, 0))
        zi.external_attr = 0o644 << 16
        zi.create_system = 3
        z.writestr(zi, files[n])
tmp.rename(Path(out, whl))
print(whl)
'

w=
trap 'if [ -n "$w" ]; then rm -rf "$w"; fi' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

origins=$(mktemp "$dest/.origin-XXXXXX") || die "cannot write in $dest"
status=0
skip=
if [ -n "$bundled_from" ] && [ -f "$bundled_from" ] && [ ! -x "$bundled_from" ]; then
	# A CPython source tarball: the wheels its ensurepip bundles, without
	# building or running that Python (the bundle's own is built later).
	w=$(mktemp -d) || die "cannot make a temporary directory"
	tar -xf "$bundled_from" -C "$w" --wildcards '*/Lib/ensurepip/_bundled/*.whl' ||
		die "$bundled_from holds no Lib/ensurepip/_bundled/*.whl: is it a CPython source tarball?"
	bundled=$(dirname "$(find "$w" -path '*/Lib/ensurepip/_bundled/*.whl' | head -n 1)")
	# Copy them out of $w: gathering the Debian packages reuses it.
	bundled_copy=$(mktemp -d "$dest/.ensurepip-XXXXXX") || die "cannot write in $dest"
	cp "$bundled"/*.whl "$bundled_copy"/ && rm -rf "$w" && w= && bundled=$bundled_copy
	pyver=$(basename "$(dirname "$(dirname "$(dirname "$bundled")")")")
elif [ -n "$bundled_from" ]; then
	pyver=$("$bundled_from" -I -c 'import sys; print(sys.version.split()[0])') || die "cannot run $bundled_from"
	bundled=$("$bundled_from" -I -c 'import ensurepip, os; print(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled"))' 2>/dev/null) || {
		say "$bundled_from has no ensurepip module (Debian's Python: python3-venv): using Debian's pip and setuptools"
		bundled=/nonexistent
	}
fi
if [ -n "$bundled_from" ]; then
	for f in "$bundled"/*.whl; do
		[ -f "$f" ] || continue
		base=${f##*/}
		place "$f" "$base" "ensurepip of Python $pyver: PyPI's wheel as CPython bundles it" || die "cannot copy $f"
		case $base in
		pip-*) skip="$skip python3-pip-whl" ;;
		setuptools-*) skip="$skip python3-setuptools-whl" ;;
		esac
	done
	if [ -n "${bundled_copy:-}" ]; then rm -rf "$bundled_copy"; fi
fi
for pkg in $whl_packages; do
	case " $skip " in *" $pkg "*) continue ;; esac
	gather_whl "$pkg" || status=1
done
if [ "$mode" = source ]; then
	ensure_deb_src
	# shellcheck disable=SC2086 # the default list is split on purpose
	[ $# -gt 0 ] || set -- $default_source
	for pkg do gather_source "$pkg" || status=1; done
else
	# shellcheck disable=SC2086
	[ $# -gt 0 ] || set -- $default_binary
	for pkg do gather_binary "$pkg" || status=1; done
fi
w=
# ORIGIN.txt: every file gathered so far, by name, merged with this run's.
if [ -f "$dest/ORIGIN.txt" ]; then grep -v '^#' "$dest/ORIGIN.txt" >>"$origins" || true; fi
{
	printf '# Where each file came from (recipes/gather-python-wheels.sh).\n'
	sort -s -t "$(printf '\t')" -k1,1 -u "$origins"
} >"$origins.new" && mv -f "$origins.new" "$dest/ORIGIN.txt"
rm -f "$origins"
exit $status
