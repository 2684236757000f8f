#!/usr/bin/env bash
# uplift-server against nginx on this machine, in the same run (docs/BENCHMARKS.md §Server):
#   1. signed check-ins/s (every request its own nonce) with 1,000 and 200 keep-alive devices vs
#      nginx answering a fixed JSON body of the same size; p50/p99; SQLite and PostgreSQL;
#   2. a reconnect storm: 10,000 devices connecting at once, one check-in each;
#   3. artifact Range downloads (random 1 MiB ranges of a 64 MiB file) vs nginx (sendfile).
# CPU seconds of every process are read from /proc. Usage: server_bench.sh [BUILD_DIR] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
B=$(realpath "${1:-build/release}")
RUNS=${2:-3}
DUR=${DUR:-8}
UPLIFT=$B/apps/uplift/uplift
SERVER=$B/apps/uplift-server/uplift-server
STORM=$B/bench/storm
GEN=$PWD/bench/server/checkin_requests.py
LUA=$PWD/bench/server
for x in "$UPLIFT" "$SERVER" "$STORM"; do [ -x "$x" ] || { echo "missing $x (build it)"; exit 2; }; done
command -v wrk >/dev/null || { echo "wrk missing (scripts/install-deps)"; exit 2; }
work=$(mktemp -d /tmp/uplift-sbench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
  [ -n "${PGBIN:-}" ] && [ -d "$work/pg" ] && $PGRUN "$PGBIN/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"  # the storm needs >10,000 descriptors
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_of() {  # PID... -> CPU seconds (user+system) of these processes so far
  local t=0 p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$t"
}
tree() { echo "$1" $(pgrep -P "$1" || true); }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# ---- keys, a data directory, a release to offer -------------------------------------------
cd "$work"
"$UPLIFT" key gen --algo ed25519 --out release >/dev/null 2>&1
"$UPLIFT" trust init trust.json --key release.pub >/dev/null
head -c $((4 << 20)) /dev/urandom > fw.img
"$UPLIFT" bundle create --image fw.img --product bench-fw --version 2.0.0 --compat bench-board \
  --security-counter 1 --key release.key --out fw.upl >/dev/null 2>&1
head -c $((64 << 20)) /dev/urandom > big.bin

start_server() {  # NAME [DATABASE]
  local name=$1 db=${2:-}
  "$UPLIFT" server init --data "$work/$name" ${db:+--database "$db"} --tenant bench \
    --trust trust.json --json > "$name.init"
  SPORT=$(free_port)
  { echo "data_dir = \"$work/$name\""; [ -n "$db" ] && echo "database = \"$db\""
    echo "[http]"; echo "port = $SPORT"; [ -n "${BLOCKING_THREADS:-}" ] && echo "blocking_threads = $BLOCKING_THREADS"; echo "[log]"; echo 'level = "warn"'; } > "$name.toml"
  "$SERVER" -c "$name.toml" 2> "$name.log" & SPID=$!; pids+=($SPID)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$SPORT/healthz" >/dev/null && break; sleep 0.1; done
  export UPLIFT_SERVER="http://127.0.0.1:$SPORT"
  UPLIFT_TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin_token"])' "$name.init")
  export UPLIFT_TOKEN
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["enrollment_secret"])' "$name.init" > "$name.secret"
  "$UPLIFT" release publish fw.upl >/dev/null
}

# ---- nginx: the fixed JSON answer and the same 64 MiB file --------------------------------
NPORT=$(free_port)
mkdir -p www/files nginx-tmp && cp big.bin www/files/
start_nginx() {  # BODY_FILE
  local body
  body=$(cat "$1" | sed "s/'/\\\\'/g")
  { [ "$(id -u)" = 0 ] && echo "user root $(id -gn);"
    echo "worker_processes 2; worker_rlimit_nofile 19000; pid $work/nginx.pid; error_log $work/nginx.log;"
    echo "events { worker_connections 20000; }"
    echo "http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;"
    echo "  client_body_temp_path $work/nginx-tmp; proxy_temp_path $work/nginx-tmp;"
    echo "  fastcgi_temp_path $work/nginx-tmp; uwsgi_temp_path $work/nginx-tmp; scgi_temp_path $work/nginx-tmp;"
    echo "  server { listen 127.0.0.1:$NPORT backlog=16384; root $work/www;"
    echo "    location = /checkin { default_type application/json; return 200 '$body'; } } }"; } > nginx.conf
  /usr/sbin/nginx -c "$work/nginx.conf" -g 'daemon off;' & NGPID=$!; pids+=($NGPID)
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$NPORT/files/big.bin" -r 0-0 && break; sleep 0.1; done
}

run_wrk() {  # CONNS URL LUA [REQUESTS_FILE] -> "rps p50 p99 non200 wrk_cpu"
  local conns=$1 url=$2 lua=$3 file=${4:-}
  local out
  out=$(REQUESTS_FILE="$file" WRK_THREADS=2 /usr/bin/time -f "cpu %U %S" \
        wrk -t2 -c"$conns" -d"${DUR}s" --timeout 10s -s "$lua" "$url" 2>&1)
  echo "$out" >> wrk.log
  awk '/^rps /{r=$2} /^p50_ms /{a=$2} /^p99_ms /{b=$2} /^non200 /{n=$2} /^cpu /{c=$2+$3}
       END {print r, a, b, n, c}' <<< "$out"
}

checkin_round() {  # NAME CONNS -> appends "rps p50 p99 non200 server_cpu db_cpu wrk_cpu" to NAME-CONNS.txt
  local name=$1 conns=$2 db_pids=${3:-}
  local count=$(( conns >= 1000 ? 420000 : 420000 ))
  python3 "$GEN" "$UPLIFT_SERVER" bench "$name.secret" 1000 "$count" req.bin >/dev/null
  local c0 d0 c1 d1 res
  c0=$(cpu_of $(tree "$SPID")); d0=$(cpu_of $db_pids)
  res=$(run_wrk "$conns" "$UPLIFT_SERVER/api/device/v1/checkin" "$LUA/checkin.lua" "$work/req.bin")
  c1=$(cpu_of $(tree "$SPID")); d1=$(cpu_of $db_pids)
  set -- $res
  echo "$1 $2 $3 $4 $(( (c1 - c0) )) $(( (d1 - d0) )) $5" >> "$name-$conns.txt"
}

nginx_round() {  # CONNS
  local c0 c1 res
  c0=$(cpu_of $(tree "$NGPID"))
  res=$(run_wrk "$1" "http://127.0.0.1:$NPORT/checkin" "$LUA/static.lua")
  c1=$(cpu_of $(tree "$NGPID"))
  set -- $res
  echo "$1 $2 $3 $4 $(( c1 - c0 )) 0 $5" >> "nginx-$CONNS.txt"
}

summary() {  # FILE -> medians: rps p50 p99 non200(sum) server_cpu_ticks db_cpu_ticks
  local f=$1
  printf "%s %s %s %s %s %s" \
    "$(awk '{print $1}' "$f" | median)" "$(awk '{print $2}' "$f" | median)" \
    "$(awk '{print $3}' "$f" | median)" "$(awk '{s+=$4} END {print s}' "$f")" \
    "$(awk '{print $5}' "$f" | median)" "$(awk '{print $6}' "$f" | median)"
}

echo "== SQLite"
start_server sqlite
# The answer nginx must give: the size of a real check-in answer (with an offer).
python3 "$GEN" "$UPLIFT_SERVER" bench sqlite.secret 1 1 one.bin >/dev/null
python3 - "$SPORT" one.bin > answer.json <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(open(sys.argv[2], "rb").read().rstrip(b"\0"))
data = b""
while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + int(
        [l for l in data.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1]):
    data += s.recv(65536)
sys.stdout.write(data.split(b"\r\n\r\n", 1)[1].decode())
EOF
grep -q '"update":{' answer.json || { echo "the check-in answer has no offer: $(cat answer.json)"; exit 1; }
echo "check-in answer: $(wc -c < answer.json) bytes (with an offer)"
start_nginx answer.json
for CONNS in 1000 200; do
  for r in $(seq "$RUNS"); do
    nginx_round "$CONNS"
    checkin_round sqlite "$CONNS"
  done
done

echo "== reconnect storm (SQLite), 10,000 devices at once"
python3 "$GEN" "$UPLIFT_SERVER" bench sqlite.secret 1000 10000 storm.bin >/dev/null
"$STORM" "$SPORT" storm.bin 10000 | tee storm.txt

echo "== artifact Range downloads, 64 MiB file, random 1 MiB ranges"
ART_URL=$("$UPLIFT" artifact upload big.bin --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
cat > range.lua <<'EOF'
math.randomseed(42)
local size = 64 * 1048576
request = function()
  local first = math.random(0, size - 1048576 - 1)
  wrk.headers["Range"] = "bytes=" .. first .. "-" .. (first + 1048575)
  return wrk.format(nil)
end
EOF
range_round() {  # NAME URL PID
  local out c0 c1
  c0=$(cpu_of $(tree "$3"))
  out=$(wrk -t2 -c50 -d"${DUR}s" -s range.lua "$2" 2>&1)
  c1=$(cpu_of $(tree "$3"))
  echo "$out" >> wrk.log
  # Transfer/sec in MB/s
  awk -v cpu=$((c1 - c0)) '/Transfer\/sec/ {v=$2; u=substr(v, length(v)-1); n=substr(v, 1, length(v)-2);
       if (u=="GB") n*=1024; if (u=="KB") n/=1024; print n, cpu}' <<< "$out" >> "range-$1.txt"
}
for r in $(seq "$RUNS"); do
  range_round nginx "http://127.0.0.1:$NPORT/files/big.bin" "$NGPID"
  range_round uplift "$ART_URL" "$SPID"
done
kill "$SPID"; wait "$SPID" 2>/dev/null || true

echo "== PostgreSQL"
PGBIN=/usr/lib/postgresql/15/bin
PGRUN=""
if [ "$(id -u)" = 0 ]; then PGRUN="setpriv --reuid=nobody --regid=nogroup --clear-groups"; chown nobody "$work"; mkdir -p "$work/pg"; chown nobody "$work/pg"; fi
PGPORT=$(free_port)
$PGRUN "$PGBIN/initdb" -D "$work/pg" -U uplift -A trust --no-locale -E UTF8 >/dev/null
$PGRUN "$PGBIN/postgres" -D "$work/pg" -k "$work/pg" -h 127.0.0.1 -p "$PGPORT" -c max_connections=200 \
  > pg.log 2>&1 & PGPID=$!; pids+=($PGPID)
for _ in $(seq 100); do $PGRUN "$PGBIN/pg_isready" -h 127.0.0.1 -p "$PGPORT" >/dev/null 2>&1 && break; sleep 0.1; done
$PGRUN "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U uplift uplift
start_server pgsrv "host=127.0.0.1 port=$PGPORT user=uplift dbname=uplift"
for CONNS in 1000 200; do
  for r in $(seq "$RUNS"); do
    checkin_round pgsrv "$CONNS" "$(pgrep -P "$PGPID" | tr '\n' ' ') $PGPID"
  done
done

echo
echo "Medians of $RUNS runs, ${DUR} s each (CPU in ticks of 1/100 s over the run):"
printf "%-22s %9s %8s %8s %7s %9s %7s %7s\n" run req/s p50_ms p99_ms non200 srv_cpu db_cpu ratio
N1000=$(summary nginx-1000.txt); N200=$(summary nginx-200.txt)
for row in "nginx-1000:nginx-1000.txt:$N1000" "sqlite-1000:sqlite-1000.txt:$N1000" "postgresql-1000:pgsrv-1000.txt:$N1000" \
           "nginx-200:nginx-200.txt:$N200" "sqlite-200:sqlite-200.txt:$N200" "postgresql-200:pgsrv-200.txt:$N200"; do
  IFS=: read -r name file ref <<< "$row"
  set -- $(summary "$file")
  ratio=$(awk -v a="$1" -v b="$(echo "$ref" | awk '{print $1}')" 'BEGIN {printf "%.2f", a / b}')
  printf "%-22s %9s %8s %8s %7s %9s %7s %7s\n" "$name" "$1" "$2" "$3" "$4" "$5" "$6" "$ratio"
done
bad=$(cat sqlite-*.txt pgsrv-*.txt nginx-*.txt | awk '{s+=$4} END {print s}')
echo
echo "storm: $(cat storm.txt)"
rn=$(awk '{print $1}' range-nginx.txt | median); ru=$(awk '{print $1}' range-uplift.txt | median)
echo "range downloads: nginx $rn MB/s (cpu $(awk '{print $2}' range-nginx.txt | median)), uplift $ru MB/s (cpu $(awk '{print $2}' range-uplift.txt | median)), ratio $(awk -v a="$ru" -v b="$rn" 'BEGIN {printf "%.2f", a / b}')"
[ "$bad" = 0 ] || { echo "INVALID: $bad non-200 answers (see $work/wrk.log)"; exit 1; }
