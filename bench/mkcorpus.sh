#!/bin/bash
# Builds a benchmark corpus of RPMs by repackaging large trees that exist on
# the machine. Each package requires the previous one, so the closure has a
# chain to follow.
#
#   small (default): 24 RPMs, >= 300 MB installed, ~15k files, xz -2 and
#                    zstd -3 payloads (the Go distribution and GCC's library
#                    directory)
#   large:           23 RPMs, >= 1.5 GB installed, >= 60k entries, xz and
#                    zstd payloads (/usr/share, /usr/include, the Go
#                    distribution, the system's libraries, GCC, Python)
#
# Both use xz -2 and zstd -3: decompression speed hardly depends on the
# level, and xz -6 / zstd -19 (what distributions ship) take over an hour
# to build the large corpus on a busy 2-core machine.
#
# usage: bench/mkcorpus.sh DIR [small|large]   (DIR/repo gets the RPMs; reused when present)
set -euo pipefail
out="${1:?usage: $0 DIR [small|large]}"
kind="${2:-small}"
repo="$out/repo"
if [ -f "$out/.done" ]; then echo "corpus: reusing $repo"; exit 0; fi
rm -rf "$out"; mkdir -p "$repo" "$out/top"

# Source trees, split into one directory per package.
dirs=()
case "$kind" in
small)
	n=24; comps=(w2T.xzdio w3T.zstdio)
	for d in /usr/local/go/src/* /usr/local/go/pkg /usr/local/go/test /usr/local/go/lib /usr/local/go/bin /usr/lib/gcc/x86_64-linux-gnu/*; do
		[ -d "$d" ] && dirs+=("$d")
	done ;;
large)
	n=23; comps=(w2T.xzdio w3T.zstdio)
	for d in /usr/share/* /usr/include/* /usr/local/go/* /usr/lib/x86_64-linux-gnu/* /usr/lib/gcc/* /usr/lib/python3*; do
		[ -d "$d" ] && [ ! -L "$d" ] && dirs+=("$d")
	done ;;
*) echo "usage: $0 DIR [small|large]" >&2; exit 2 ;;
esac
# Round-robin the directories, largest first, over n packages.
mapfile -t sorted < <(du -s "${dirs[@]}" 2>/dev/null | sort -rn | cut -f2)
declare -a bucket
i=0
for d in "${sorted[@]}"; do
	bucket[$((i % n))]+="$d "
	i=$((i + 1))
done

for k in $(seq 0 $((n - 1))); do
	name=$(printf 'corpus%02d' "$k")
	comp=${comps[$((k % 2))]}
	req=""
	[ "$k" -gt 0 ] && req="Requires: $(printf 'corpus%02d' $((k - 1)))"
	cat > "$out/$name.spec" <<SPEC
Name: $name
Version: 1.0
Release: 1
Summary: benchmark corpus package $k
License: various
BuildArch: x86_64
AutoReqProv: no
$req
%define _binary_payload $comp
%define __os_install_post %{nil}
%define debug_package %{nil}
%description
Repackaged host files for the bundle benchmarks.
%install
for d in ${bucket[$k]}; do
	mkdir -p %{buildroot}/opt/corpus\$(dirname \$d)
	cp -a \$d %{buildroot}/opt/corpus\$d
done
%files
/opt/corpus
SPEC
	rpmbuild --quiet --define "_topdir $out/top" -bb "$out/$name.spec" >/dev/null
done
cp "$out"/top/RPMS/*/*.rpm "$repo/"
touch "$out/.done"
echo "corpus ($kind): $(ls "$repo" | wc -l) RPMs, $(du -sh "$repo" | cut -f1) compressed"
