#!/usr/bin/env bash
# Benchmark: `uplift-agent install` of a full-image bundle (uncompressed, 256 MiB) into a file
# slot, against `dd conv=fsync` of the same image into a file followed by `sha256sum` of that file
# (write + read-back hash: what the agent must do at least), in the same run, alternating, warm
# page cache. Prints medians, the time ratio, the agent's peak RSS and its stripped size.
#   bench/agent_install.sh [SIZE_MIB] [RUNS]     (defaults 256 and 5)
#   BUILD=build/release (default): a release-preset build dir with uplift and uplift-agent built.
# Targets (issue #4): time ratio <= 1.25, peak RSS <= 16 MiB, stripped binary <= 2 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-256}
RUNS=${2:-5}
BUILD=${BUILD:-build/release}
UPLIFT=$PWD/$BUILD/apps/uplift/uplift
AGENT=$PWD/$BUILD/apps/uplift-agent/uplift-agent
for b in "$UPLIFT" "$AGENT"; do
  [[ -x $b ]] || { echo "missing $b: cmake --preset release -B $BUILD && cmake --build $BUILD" >&2; exit 1; }
done
work=$(mktemp -d /tmp/uplift-agent-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

"$UPLIFT" key gen --out k >/dev/null 2>&1
"$UPLIFT" trust init trust.json --key k.pub >/dev/null 2>&1
head -c $((SIZE_MIB << 20)) /dev/urandom > image.bin
"$UPLIFT" bundle create --image image.bin --compression none --version 2.0.0 --compat bench \
  --security-counter 1 --key k.key --out update.upl >/dev/null 2>&1
slot_bytes=$(((SIZE_MIB + 16) << 20))
truncate -s $slot_bytes slot-a.img slot-b.img peer.img
printf '%s 0x0 0x4000\n%s 0x0 0x4000\n' "$work/env0.bin" "$work/env1.bin" > fw_env.config
cat > agent.toml <<TOML
device_type = "bench"
data_dir = "$work/data"
trust_store = "$work/trust.json"
[slots]
a = { path = "$work/slot-a.img" }
b = { path = "$work/slot-b.img" }
[boot]
backend = "uboot"
fw_env_config = "$work/fw_env.config"
[reboot]
command = ["/bin/true"]
TOML
fresh_device() {
  rm -rf data
  head -c $((0x4000)) /dev/zero > env0.bin
  head -c $((0x4000)) /dev/zero > env1.bin
}
cat update.upl image.bin > /dev/null  # warm the page cache

# measure LABEL CMD...: appends "seconds rss_kib" to LABEL.txt
measure() {
  local label=$1; shift
  /usr/bin/time -f '%e %M' -o "$label.one" "$@" >/dev/null 2>"$label.err" \
    || { cat "$label.err" >&2; exit 1; }
  cat "$label.one" >> "$label.txt"
}
for _ in $(seq "$RUNS"); do
  measure peer sh -c 'dd if=image.bin of=peer.img bs=1M conv=notrunc,fsync status=none && sha256sum peer.img'
  fresh_device
  measure agent "$AGENT" -c agent.toml install update.upl --booted-slot A
  cmp -n $((SIZE_MIB << 20)) image.bin slot-b.img  # the agent really wrote the image
done

median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; print m}'; }
col() { awk -v c="$2" '{print $c}' "$1.txt" | median; }
t_peer=$(col peer 1); t_agent=$(col agent 1); r_agent=$(col agent 2)
strip -o stripped "$AGENT"
size=$(stat -c %s stripped)
echo
echo "| image | dd+sha256sum s | uplift-agent install s | ratio | agent peak RSS | stripped uplift-agent |"
echo "|---|---|---|---|---|---|"
awk -v n="$SIZE_MIB MiB full image, file slot" -v a="$t_peer" -v b="$t_agent" -v r="$r_agent" -v s="$size" \
  'BEGIN{printf "| %s | %.2f | %.2f | **%.2f** | %.1f MiB | %.2f MiB |\n", n, a, b, b/a, r/1024, s/1048576}'
echo
echo "medians of $RUNS alternating runs; all runs (seconds, peak RSS KiB):"
for f in peer agent; do echo "  $f: $(tr '\n' ' ' < $f.txt)"; done
echo "shared libraries of uplift-agent:"
ldd "$AGENT" | awk '{print "  " $1}'
