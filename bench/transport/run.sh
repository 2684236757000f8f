#!/usr/bin/env bash
# Benchmark: `uplift fetch` (resumable, every chunk verified against the signed manifest as it
# arrives, written atomically) against `curl -s -o` of the same 256 MiB bundle from a real nginx
# on 127.0.0.1, and against `curl -s -o` followed by `openssl dgst -sha256` (a peer that also hashes, with the same SHA-NI code),
# alternating, in the same run; then both through `uplift-faultproxy` resetting
# the connection after every 8 MiB: uplift resumes by itself, curl is re-run with `-C -` until
# it has the file. Prints medians, throughput ratio, peak RSS and the extra bytes fetched.
#   bench/transport/run.sh [SIZE_MIB] [RUNS]     (defaults 256 and 5)
#   BUILD=build/release (default): a release-preset build with uplift and uplift-faultproxy.
# Targets (issue #5): throughput >= 0.9x curl -o; with a drop every 8 MiB, extra bytes <= 5%.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MIB=${1:-256}
RUNS=${2:-5}
BUILD=${BUILD:-build/release}
UPLIFT=$PWD/$BUILD/apps/uplift/uplift
AGENT=$PWD/$BUILD/apps/uplift-agent/uplift-agent
PROXY=$PWD/$BUILD/tests/support/uplift-faultproxy
for b in "$UPLIFT" "$AGENT" "$PROXY"; do
  [[ -x $b ]] || { echo "missing $b: cmake --preset release -B $BUILD && cmake --build $BUILD" >&2; exit 1; }
done
command -v nginx >/dev/null || PATH=$PATH:/usr/sbin
work=$(mktemp -d /tmp/uplift-transport-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
mkdir -p www tmp

"$UPLIFT" key gen --out k >/dev/null 2>&1
"$UPLIFT" trust init trust.json --key k.pub >/dev/null 2>&1
head -c $((SIZE_MIB << 20)) /dev/urandom > image.bin
"$UPLIFT" bundle create --image image.bin --compression none --version 2.0.0 --compat bench \
  --security-counter 1 --key k.key --out www/update.upl >/dev/null 2>&1
rm image.bin
size=$(stat -c %s www/update.upl)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18931)
user_line=""
[[ $(id -u) == 0 ]] && user_line="user root $(id -gn);"
cat > nginx.conf <<CONF
$user_line
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  server { listen 127.0.0.1:$port; root $work/www; }
}
CONF
nginx -c "$work/nginx.conf" -g 'daemon off;' & pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
url="http://127.0.0.1:$port/update.upl"
cat www/update.upl > /dev/null  # warm the page cache

measure() {  # LABEL CMD...: appends "seconds rss_kib" to LABEL.txt
  local label=$1; shift
  /usr/bin/time -f '%e %M' -o "$label.one" "$@" >"$label.out" 2>"$label.err" \
    || { cat "$label.err" >&2; exit 1; }
  cat "$label.one" >> "$label.txt"
}
for _ in $(seq "$RUNS"); do
  rm -f out.curl out.uplift
  measure curl curl -s -o out.curl "$url"
  rm -f out.curl
  measure curlsha sh -c "curl -s -o out.curl '$url' && openssl dgst -sha256 out.curl"
  measure uplift "$UPLIFT" fetch "$url" out.uplift --trust-store trust.json --json
  cmp -s out.uplift www/update.upl || { echo "uplift fetch output differs" >&2; exit 1; }
done

# The device side: uplift-agent installing the same bundle from the URL into a file slot
# (download, verify, write, sync, read back, arm), against the local-file install of it.
slot_bytes=$(((SIZE_MIB + 16) << 20))
truncate -s $slot_bytes slot-a.img slot-b.img
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
for _ in $(seq 3); do
  fresh_device
  measure agent_file "$AGENT" -c agent.toml install www/update.upl --booted-slot A
  fresh_device
  measure agent_url "$AGENT" -c agent.toml install "$url" --booted-slot A
done

# A connection reset after every 8 MiB of body.
"$PROXY" --upstream "127.0.0.1:$port" --drop-every $((8 << 20)) > proxy.port & pids+=($!)
for _ in $(seq 100); do [[ -s proxy.port ]] && break; sleep 0.05; done
purl="http://127.0.0.1:$(head -1 proxy.port)/update.upl"
rm -f out.uplift
"$UPLIFT" fetch "$purl" out.uplift --trust-store trust.json --json > drop.json
cmp -s out.uplift www/update.upl || { echo "uplift fetch through drops differs" >&2; exit 1; }
up_body=$(python3 -c 'import json,sys; print(json.load(open("drop.json"))["body_bytes"])')
up_req=$(python3 -c 'import json,sys; print(json.load(open("drop.json"))["requests"])')
rm -f out.curl
curl_runs=0
until cmp -s out.curl www/update.upl; do
  curl -s -C - -o out.curl "$purl" || true
  curl_runs=$((curl_runs + 1))
  [[ $curl_runs -lt 1000 ]] || { echo "curl never finished" >&2; exit 1; }
done

median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; print m}'; }
col() { awk -v c="$2" '{print $c}' "$1.txt" | median; }
t_curl=$(col curl 1); t_cs=$(col curlsha 1); t_up=$(col uplift 1); r_curl=$(col curl 2); r_up=$(col uplift 2)
echo
echo "| artifact | curl -o s | curl -o + openssl sha256 s | uplift fetch s | ratio vs curl -o | ratio vs curl + openssl sha256 | curl RSS | uplift RSS |"
echo "|---|---|---|---|---|---|---|---|"
awk -v n="$SIZE_MIB MiB bundle, nginx on loopback" -v a="$t_curl" -v c="$t_cs" -v b="$t_up" -v ra="$r_curl" -v rb="$r_up" \
  'BEGIN{printf "| %s | %.2f | %.2f | %.2f | **%.2f** | **%.2f** | %.1f MiB | %.1f MiB |\n", n, a, c, b, a/b, c/b, ra/1024, rb/1024}'
echo
echo "| uplift-agent install, $SIZE_MIB MiB image | from a local file | from the URL | ratio | peak RSS (URL) |"
echo "|---|---|---|---|---|"
awk -v a="$(col agent_file 1)" -v b="$(col agent_url 1)" -v r="$(col agent_url 2)" \
  'BEGIN{printf "| median of 3 | %.2f s | %.2f s | %.2f | %.1f MiB |\n", a, b, b/a, r/1024}'
echo
echo "| with a reset every 8 MiB | requests | extra bytes |"
echo "|---|---|---|"
awk -v s="$size" -v b="$up_body" -v q="$up_req" \
  'BEGIN{printf "| uplift fetch (resumes itself) | %d | %d (**%.3f%%**) |\n", q, b-s, 100*(b-s)/s}'
echo "| curl -C - (re-run $curl_runs times) | $curl_runs | 0 (resume by file size) |"
echo
echo "medians of $RUNS alternating runs; all runs (seconds, peak RSS KiB):"
for f in curl curlsha uplift agent_file agent_url; do echo "  $f: $(tr '\n' ' ' < $f.txt)"; done
