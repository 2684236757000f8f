#!/usr/bin/env bash
# Benchmark: `uplift bundle verify` of a 512 MiB bundle against `sha256sum` of the same file, in
# the same run, alternating, warm page cache. Prints medians, the time ratio and peak RSS.
#   bench/bundle_verify.sh [SIZE_MIB] [RUNS]     (defaults 512 and 5; release preset)
# Targets (issue #2): time ratio <= 1.15, peak RSS <= 32 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-512}
RUNS=${2:-5}
scripts/install-deps
scripts/build release uplift >/dev/null
UPLIFT=$PWD/build/release/apps/uplift/uplift
work=$(mktemp -d /tmp/uplift-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

"$UPLIFT" key gen --out k >/dev/null 2>&1
"$UPLIFT" trust init trust.json --key k.pub >/dev/null 2>&1
head -c $((SIZE_MIB << 20)) /dev/urandom > image.bin
"$UPLIFT" bundle create --image image.bin --compression none --version 1.0.0 --compat bench \
  --security-counter 1 --key k.key --out plain.bundle >/dev/null 2>&1
# A compressible image for the zstd row: real binaries, repeated to the size.
( set +o pipefail  # head closes the pipe early on purpose
  find /usr/lib/x86_64-linux-gnu -maxdepth 1 -name '*.so*' -type f -print0 | sort -z \
    | xargs -0 cat 2>/dev/null | head -c $((SIZE_MIB << 20)) ) > libs.bin
"$UPLIFT" bundle create --image libs.bin --compression zstd --level 3 --version 1.0.0 \
  --compat bench --security-counter 1 --key k.key --out zstd.bundle >/dev/null 2>&1
cat plain.bundle zstd.bundle > /dev/null  # warm the page cache

# measure LABEL CMD...: appends "seconds rss_kib" to LABEL.txt
measure() {
  local label=$1; shift
  /usr/bin/time -f '%e %M' -o "$label.one" "$@" >/dev/null 2>"$label.err" \
    || { cat "$label.err" >&2; exit 1; }
  cat "$label.one" >> "$label.txt"
}
for _ in $(seq "$RUNS"); do
  measure sha256sum sha256sum plain.bundle
  measure verify "$UPLIFT" bundle verify plain.bundle --trust trust.json
  measure sha256sum_z sha256sum zstd.bundle
  measure verify_z "$UPLIFT" bundle verify zstd.bundle --trust trust.json
done

median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; print m}'; }
col() { awk -v c="$2" '{print $c}' "$1.txt" | median; }
plain_size=$(stat -c %s plain.bundle)
zstd_size=$(stat -c %s zstd.bundle)
t_sha=$(col sha256sum 1); t_ver=$(col verify 1); r_ver=$(col verify 2)
t_sha_z=$(col sha256sum_z 1); t_ver_z=$(col verify_z 1); r_ver_z=$(col verify_z 2)
echo
echo "| bundle | size | sha256sum s | uplift verify s | ratio | verify peak RSS |"
echo "|---|---|---|---|---|---|"
awk -v n="plain ($SIZE_MIB MiB random, no compression)" -v s="$plain_size" -v a="$t_sha" -v b="$t_ver" -v r="$r_ver" \
  'BEGIN{printf "| %s | %.1f MiB | %.2f | %.2f | **%.2f** | %.1f MiB |\n", n, s/1048576, a, b, b/a, r/1024}'
awk -v n="zstd ($SIZE_MIB MiB of shared libraries, level 3)" -v s="$zstd_size" -v a="$t_sha_z" -v b="$t_ver_z" -v r="$r_ver_z" \
  'BEGIN{printf "| %s | %.1f MiB | %.2f | %.2f | %.2f | %.1f MiB |\n", n, s/1048576, a, b, b/a, r/1024}'
echo
echo "medians of $RUNS alternating runs; all runs (seconds, peak RSS KiB):"
for f in sha256sum verify sha256sum_z verify_z; do echo "  $f: $(tr '\n' ' ' < $f.txt)"; done
