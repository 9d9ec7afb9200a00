#!/bin/bash
# Compares bundle's stages with the peer tools DIRACOS used, in one run, on
# two corpora (bench/mkcorpus.sh small and large, built once into
# $BENCH_DIR), and prints every ratio of issue 14 with its goal, ending with
# a table of them. Not a test: timings vary with the machine; the ratios
# are what to watch.
#
# usage: bench/run.sh   (needs bin/bundle: `make bundle`; root, to drop the
#                        page cache; BENCH_RUNS=N takes the best of N, default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE=${BUNDLE:-$PWD/bin/bundle}
WORK=${BENCH_DIR:-/var/tmp/bundle-bench}
RUNS=${BENCH_RUNS:-3}
mkdir -p "$WORK"
bench/mkcorpus.sh "$WORK/corpus" small
bench/mkcorpus.sh "$WORK/corpus-large" large
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
# verdict VALUE OP GOAL: "ok" or "MISSED" (OP is <= or >=).
verdict() { if [ "$(echo "$1 $2 $3" | bc -l)" = 1 ]; then echo ok; else echo MISSED; fi; }
summary=()
goal() { summary+=("$(printf '%-44s %8s  goal %s %-5s %s' "$1" "$2" "$3" "$4" "$(verdict "$2" "$3" "$4")")"); }

# --- extraction (cold page cache; every tool writes into a fresh directory,
# `sync` included) and decompression alone, on each corpus ----------------
# The xz and zstd payloads are decoded by rpm2cpio into /dev/null: one after
# the other, and as many at once as there are CPUs (the floor).
extraction() {
	local label=$1 repo=$2
	local X="$WORK/x"
	echo
	echo "extraction, $label corpus: $(ls "$repo"/*.rpm | wc -l) RPMs, $(du -sh "$repo" | cut -f1) compressed"
	local t_bundle t_cpio t_bsdtar t_dec t_decp installed entries
	t_bundle=$(best "$RUNS" "rm -rf $X && $BUNDLE extract --keep-docs -C $X $repo/*.rpm && sync")
	installed=$(du -sm "$X" | cut -f1); entries=$(find "$X" | wc -l)
	t_cpio=$(best "$RUNS" "rm -rf $X && mkdir -p $X && cd $X && for r in $repo/*.rpm; do rpm2cpio \$r | cpio -idm --quiet; done && sync")
	t_bsdtar=$(best "$RUNS" "rm -rf $X && mkdir -p $X && cd $X && for r in $repo/*.rpm; do bsdtar -xf \$r; done && sync")
	t_dec=$(best "$RUNS" "for r in $repo/*.rpm; do rpm2cpio \$r > /dev/null; done")
	t_decp=$(best "$RUNS" "ls $repo/*.rpm | xargs -P$(nproc) -n1 sh -c 'rpm2cpio \"\$0\" > /dev/null'")
	rm -rf "$X"
	echo "  ${installed} MB installed, $entries entries"
	echo "  bundle extract              ${t_bundle}s"
	echo "  rpm2cpio | cpio -idm loop   ${t_cpio}s   speed-up $(ratio "$t_cpio" "$t_bundle")x (goal >= 3x)"
	echo "  bsdtar -xf loop             ${t_bsdtar}s   speed-up $(ratio "$t_bsdtar" "$t_bundle")x"
	echo "  decompression alone         ${t_dec}s serial, ${t_decp}s on $(nproc) CPUs: bundle takes $(ratio "$t_bundle" "$t_decp")x the floor"
	goal "extraction ($label) speed-up over cpio" "$(ratio "$t_cpio" "$t_bundle")" ">=" 3
}
extraction small "$REPO"
extraction large "$WORK/corpus-large/repo"
X="$WORK/x"

# --- tarball ---------------------------------------------------------------
rm -rf "$X" && "$BUNDLE" extract --keep-docs -C "$X/top" "$REPO"/*.rpm >/dev/null
T="$WORK/t"; mkdir -p "$T"
t_bgz=$(best "$RUNS" "$BUNDLE tarball -C $X/top --top-dir top -o $T/b.tar.gz")
t_pigz=$(best "$RUNS" "cd $X && tar --sort=name --owner=0 --group=0 --numeric-owner -cf - top | pigz -n > $T/p.tar.gz")
t_bzst=$(best "$RUNS" "$BUNDLE tarball -C $X/top --top-dir top --compression zstd -o $T/b.tar.zst")
t_zstd=$(best "$RUNS" "cd $X && tar --sort=name --owner=0 --group=0 --numeric-owner -cf - top | zstd -q -T0 > $T/z.tar.zst")
s_bgz=$(stat -c %s "$T/b.tar.gz"); s_pigz=$(stat -c %s "$T/p.tar.gz")
s_bzst=$(stat -c %s "$T/b.tar.zst"); s_zstd=$(stat -c %s "$T/z.tar.zst")
echo
echo "tarball:"
echo "  bundle gzip ${t_bgz}s $s_bgz B | tar|pigz -n ${t_pigz}s $s_pigz B  time $(ratio "$t_bgz" "$t_pigz")x (goal <= 0.5), size $(ratio "$s_bgz" "$s_pigz")x"
echo "  bundle zstd ${t_bzst}s $s_bzst B | tar|zstd -T0 ${t_zstd}s $s_zstd B  time $(ratio "$t_bzst" "$t_zstd")x (goal <= 1.0), size $(ratio "$s_bzst" "$s_zstd")x (goal <= 1.01)"
goal "tarball gzip time / tar|pigz -n" "$(ratio "$t_bgz" "$t_pigz")" "<=" 0.5
goal "tarball zstd time / tar|zstd -T0" "$(ratio "$t_bzst" "$t_zstd")" "<=" 1.0
goal "tarball zstd size / tar|zstd -T0" "$(ratio "$s_bzst" "$s_zstd")" "<=" 1.01

# --- closure ---------------------------------------------------------------
rpms=$(ls "$REPO"/*.rpm | wc -l)
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
goal "closure speed-up over dnf (cold)" "$(ratio "$t_dnf" "$t_closure")" ">=" 20
goal "closure speed-up over dnf (warm)" "$(ratio "$w_dnf" "$w_closure")" ">=" 20

# --- a no-op build ---------------------------------------------------------
# `bundle build` of the end-to-end test recipe with nothing changed: builds
# from the cache, the assembled output and the test result reused. Needs the
# sandbox builder (root); the figure is the benchmark's mean.
echo
noop=$(go test ./tests -run XXX -bench 'NoopBuild$' -benchtime "${RUNS}x" 2>/dev/null | awk '/^BenchmarkNoopBuild/ {printf "%.3f", $3 / 1e9}')
if [ -n "$noop" ]; then
	echo "no-op build of the end-to-end recipe: ${noop}s (goal < 2 s)"
	goal "no-op bundle build (s)" "$noop" "<" 2
else
	echo "no-op build: not measured (go test ./tests -bench NoopBuild needs root and the sandbox builder)"
fi

echo
echo "every goal of issue 14 (one run; ratios vary with the machine's load):"
printf '  %s\n' "${summary[@]}"
