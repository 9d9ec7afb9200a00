#!/bin/bash
# Compares bundle's stages with the peer tools DIRACOS used, in one run, on
# one corpus, and prints ratios (lower is better for bundle). Not a test:
# timings vary with the machine; the ratios are what to watch.
#
# usage: bench/run.sh            (needs bin/bundle: `make bundle`)
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE=${BUNDLE:-$PWD/bin/bundle}
WORK=${BENCH_DIR:-/var/tmp/bundle-bench}
mkdir -p "$WORK"
bench/mkcorpus.sh "$WORK/corpus"
REPO="$WORK/corpus/repo"
export SOURCE_DATE_EPOCH=1767225600

now() { date +%s.%N; }
# best TIMES CMD...: run CMD (a shell snippet) TIMES times, print the fastest wall time.
best() {
	local n=$1; shift
	local b=""
	for _ in $(seq "$n"); do
		sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
		local s e
		s=$(now); bash -c "$*" >/dev/null 2>&1; e=$(now)
		local d; d=$(echo "$e - $s" | bc -l)
		if [ -z "$b" ] || [ "$(echo "$d < $b" | bc -l)" = 1 ]; then b=$d; fi
	done
	printf '%.3f' "$b"
}
# bestwarm: as best, without dropping the page cache (both tools warm).
bestwarm() {
	local n=$1; shift
	local b=""
	for _ in $(seq "$n"); do
		local s e
		s=$(now); bash -c "$*" >/dev/null 2>&1; e=$(now)
		local d; d=$(echo "$e - $s" | bc -l)
		if [ -z "$b" ] || [ "$(echo "$d < $b" | bc -l)" = 1 ]; then b=$d; fi
	done
	printf '%.3f' "$b"
}
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }

rpms=$(ls "$REPO"/*.rpm | wc -l)
echo "corpus: $rpms RPMs in $REPO ($(du -sh "$REPO" | cut -f1) compressed)"

# --- extraction ------------------------------------------------------------
X="$WORK/x"
t_bundle=$(best 3 "rm -rf $X && $BUNDLE extract --keep-docs -C $X $REPO/*.rpm")
installed=$(du -sm "$X" | cut -f1)
t_cpio=$(best 3 "rm -rf $X && mkdir -p $X && cd $X && for r in $REPO/*.rpm; do rpm2cpio \$r | cpio -idm --quiet; done")
t_bsdtar=$(best 3 "rm -rf $X && mkdir -p $X && cd $X && for r in $REPO/*.rpm; do bsdtar -xf \$r; done")
echo
echo "extraction of ${installed} MB installed:"
echo "  bundle extract            ${t_bundle}s"
echo "  rpm2cpio | cpio -idm loop ${t_cpio}s   speed-up $(ratio "$t_cpio" "$t_bundle")x (goal >= 3x)"
echo "  bsdtar -xf loop           ${t_bsdtar}s   speed-up $(ratio "$t_bsdtar" "$t_bundle")x"

# --- tarball ---------------------------------------------------------------
rm -rf "$X" && "$BUNDLE" extract --keep-docs -C "$X/top" "$REPO"/*.rpm >/dev/null
T="$WORK/t"; mkdir -p "$T"
t_bgz=$(best 3 "$BUNDLE tarball -C $X/top --top-dir top -o $T/b.tar.gz")
t_pigz=$(best 3 "cd $X && tar --sort=name --owner=0 --group=0 --numeric-owner -cf - top | pigz -n > $T/p.tar.gz")
t_bzst=$(best 3 "$BUNDLE tarball -C $X/top --top-dir top --compression zstd -o $T/b.tar.zst")
t_zstd=$(best 3 "cd $X && tar --sort=name --owner=0 --group=0 --numeric-owner -cf - top | zstd -q -T0 > $T/z.tar.zst")
s_bgz=$(stat -c %s "$T/b.tar.gz"); s_pigz=$(stat -c %s "$T/p.tar.gz")
s_bzst=$(stat -c %s "$T/b.tar.zst"); s_zstd=$(stat -c %s "$T/z.tar.zst")
echo
echo "tarball:"
echo "  bundle gzip ${t_bgz}s $s_bgz B | tar|pigz -n ${t_pigz}s $s_pigz B  time $(ratio "$t_bgz" "$t_pigz")x (goal <= 1.0), size $(ratio "$s_bgz" "$s_pigz")x (goal <= 1.05)"
echo "  bundle zstd ${t_bzst}s $s_bzst B | tar|zstd -T0 ${t_zstd}s $s_zstd B  time $(ratio "$t_bzst" "$t_zstd")x, size $(ratio "$s_bzst" "$s_zstd")x"

# --- closure ---------------------------------------------------------------
C="$WORK/crepo"; rm -rf "$C"; mkdir -p "$C"; cp "$REPO"/*.rpm "$C/"; createrepo_c -q "$C"
last=$(printf 'corpus%02d' $((rpms - 1)))
closure_cmd="$BUNDLE closure --repo $C --platform debian12-x86_64 $last"
dnf_cmd="dnf -q --repofrompath=bench,$C --repo=bench --setopt=cachedir=$WORK/dnfcache --setopt=reposdir=/nonexistent repoquery --requires --resolve --recursive $last"
t_closure=$(best 5 "$closure_cmd"); t_dnf=$(best 3 "$dnf_cmd")
w_closure=$(bestwarm 5 "$closure_cmd"); w_dnf=$(bestwarm 5 "$dnf_cmd")
echo
echo "closure of $last (a chain through all $rpms packages):"
echo "  cold page cache: bundle closure ${t_closure}s | dnf repoquery --requires --resolve --recursive ${t_dnf}s   speed-up $(ratio "$t_dnf" "$t_closure")x (goal >= 20x)"
echo "  warm page cache: bundle closure ${w_closure}s | dnf repoquery ${w_dnf}s   speed-up $(ratio "$w_dnf" "$w_closure")x (goal >= 20x)"
