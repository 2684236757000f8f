#!/usr/bin/env bash
# bench/delta/run.sh — binary delta benchmark: Uplift (native and BSDIFF40) against Debian's
# bsdiff 4.3, xdelta3 and zstd --patch-from on the real image pairs of the shared corpus, all in
# one invocation, every output checked byte-identical. Prints one markdown table and a summary
# of the delta targets (PASS/MISS). See bench/delta/README.md.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/delta/run.sh [--corpus DIR] [--pairs REGEX] [--tools LIST] [--bsdiff-timeout SEC]
                          [--timeout SEC] [--runs N] [--out FILE.md] [--uplift PATH]
                          [--native-args "ARGS"] [--raw FILE.tsv] [--reuse FILE.tsv]
  --corpus DIR          corpus from make-corpus.sh (default /tmp/ota-corpus)
  --pairs REGEX         only pairs whose name matches (bash regex; default all)
  --tools LIST          comma list from: uplift-native,uplift-bsdiff40,bsdiff,xdelta3,zstd,xz,cp
                        (default all; xz and cp are the full-image baselines)
  --bsdiff-timeout SEC  cap for one bsdiff run, reported as TIMEOUT (default 900)
  --timeout SEC         cap for any other single command (default 3600)
  --runs N              apply runs per tool; the table shows the median time (default 1)
  --out FILE.md         also write the report there
  --uplift PATH         uplift binary (default build/release/apps/uplift/uplift, built if missing)
  --native-args "ARGS"  extra arguments for `uplift delta create --format native`
  --raw FILE.tsv        also write the raw measurements (one row per pair and tool)
  --reuse FILE.tsv      take the rows of tools NOT in --tools from an earlier --raw file, e.g.
                        re-measure only uplift-native without waiting for bsdiff again; the
                        report marks those rows "reused"
EOF
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
corpus=/tmp/ota-corpus
pairs_re=''
all_tools='uplift-native,uplift-bsdiff40,bsdiff,xdelta3,zstd,xz,cp'
tools=$all_tools
bsdiff_timeout=900
tool_timeout=3600
runs=1
out_md=''
uplift=''
native_args=''
raw_out=''
reuse=''
cmdline="bench/delta/run.sh$(printf ' %q' "$@")"

while [ $# -gt 0 ]; do
  case $1 in
    --corpus) corpus=${2:?}; shift 2 ;;
    --pairs) pairs_re=${2:?}; shift 2 ;;
    --tools) tools=${2:?}; shift 2 ;;
    --bsdiff-timeout) bsdiff_timeout=${2:?}; shift 2 ;;
    --timeout) tool_timeout=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    --out) out_md=${2:?}; shift 2 ;;
    --uplift) uplift=${2:?}; shift 2 ;;
    --native-args) native_args=${2?}; shift 2 ;;
    --raw) raw_out=${2:?}; shift 2 ;;
    --reuse) reuse=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
for n in "$bsdiff_timeout" "$tool_timeout" "$runs"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: '$n' is not a positive integer" >&2; exit 2; }
done
IFS=, read -r -a tool_list <<<"$tools"
for t in "${tool_list[@]}"; do
  [[ ,$all_tools, == *,$t,* ]] || { echo "run.sh: unknown tool '$t' (known: $all_tools)" >&2; exit 2; }
done
# --out relative to the caller's cwd, before anything changes directory.
[ -z "$out_md" ] || out_md=$(realpath -m "$out_md")
[ -z "$raw_out" ] || raw_out=$(realpath -m "$raw_out")
if [ -n "$reuse" ]; then
  [ -f "$reuse" ] || { echo "run.sh: --reuse $reuse: no such file" >&2; exit 2; }
  reuse=$(realpath "$reuse")
fi

if [ ! -f "$corpus/corpus.tsv" ]; then
  mk=$(realpath -m "$repo/../shared/bench/make-corpus.sh")
  cat >&2 <<EOF
run.sh: no corpus at $corpus (corpus.tsv missing). Build it first (root + apt, ~10 minutes;
SKIP_LARGE=1 skips the 256 MiB ext4 image pair):
  $mk $corpus
EOF
  exit 2
fi

if [ -z "$uplift" ]; then
  uplift=$repo/build/release/apps/uplift/uplift
  if [ ! -x "$uplift" ]; then
    echo "run.sh: building $uplift (release preset)" >&2
    "$repo/scripts/build" release uplift >&2
  fi
fi
uplift=$(realpath "$uplift")
for b in /usr/bin/time timeout cmp; do
  command -v "$b" >/dev/null || { echo "run.sh: $b not found" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/uplift-bench-delta.XXXXXX")
trap 'rm -rf "$work"' EXIT
results=$work/results.tsv  # pair tool status patch diff_s diff_cpu diff_rss apply_s apply_rss note
: >"$results"
started=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

has_tool() { [[ ,$tools, == *,$1,* ]]; }

# timed LIMIT CMD...: runs CMD under `timeout LIMIT` and /usr/bin/time; sets RC, SECS (wall,
# microsecond clock), CPU (user+sys s), RSS (peak KiB), ERR (one line of stderr). Its stdout goes
# to $STDOUT_TO (default: discarded).
timed() {
  local limit=$1 t0 t1 user sys
  shift
  RC=0
  t0=$(date +%s%N)
  /usr/bin/time -f '%e %M %U %S' -o "$work/time.out" \
    timeout -k 10 "$limit" "$@" <"/dev/null" >"${STDOUT_TO:-/dev/null}" 2>"$work/cmd.err" || RC=$?
  t1=$(date +%s%N)
  SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  # GNU time puts "Command exited with non-zero status N" first; the figures are the last line.
  read -r _ RSS user sys < <(awk 'END { print }' "$work/time.out")
  CPU=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  # The first line naming an error, else the last line (zstd prints advice we do not want).
  ERR=$(awk 'tolower($0) ~ /error|fail|corrupt|illegal|invalid|not /' "$work/cmd.err" \
          | awk 'NR == 1 { print; found = 1 } END { }')
  [ -n "$ERR" ] || ERR=$(awk 'NF { l = $0 } END { print l }' "$work/cmd.err")
  ERR=$(printf '%s' "$ERR" | tr '\t|' ' /' | cut -c1-160)
}

record() {  # pair tool status patch diff_s diff_cpu diff_rss apply_s apply_rss note
  local IFS=$'\t'
  echo "$*" >>"$results"
}

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

pow2_at_least() {  # smallest power of two >= $1
  local v=1
  while [ "$v" -lt "$1" ]; do v=$((v * 2)); done
  echo "$v"
}

ceil_log2() {
  local v=1 n=0
  while [ "$v" -lt "$1" ]; do v=$((v * 2)); n=$((n + 1)); done
  echo "$n"
}

# Per-tool commands. diff_cmd/apply_cmd fill the array CMD; STDOUT_TO is set where the tool
# writes to stdout.
set_cmds() {  # tool old new patch out old_size new_size
  local tool=$1 old=$2 new=$3 patch=$4 out=$5 old_size=$6 new_size=$7 b n max
  STDOUT_TO=''
  case $tool in
    uplift-native)
      # shellcheck disable=SC2206  # --native-args is split on purpose
      DIFF=("$uplift" delta create "$old" "$new" "$patch" --format native $native_args)
      APPLY=("$uplift" delta apply "$old" "$patch" "$out") ;;
    uplift-bsdiff40)
      DIFF=("$uplift" delta create "$old" "$new" "$patch" --format bsdiff40)
      APPLY=("$uplift" delta apply "$old" "$patch" "$out") ;;
    bsdiff)
      DIFF=(bsdiff "$old" "$new" "$patch")
      APPLY=(bspatch "$old" "$out" "$patch") ;;
    xdelta3)
      # The source window must hold all of OLD for xdelta3 to find every match; Debian's 3.0.11
      # accepts -B from 512 KiB to 2 GiB.
      b=$(pow2_at_least "$old_size")
      [ "$b" -ge 524288 ] || b=524288
      [ "$b" -le 2147483648 ] || b=2147483648
      DIFF=(xdelta3 -9 -e -f -B "$b" -s "$old" "$new" "$patch")
      APPLY=(xdelta3 -d -f -B "$b" -s "$old" "$patch" "$out") ;;
    zstd)
      # The window must cover the larger image; 31 is zstd's maximum window log on 64-bit.
      max=$((old_size > new_size ? old_size : new_size))
      n=$(ceil_log2 "$max")
      [ "$n" -ge 10 ] || n=10
      [ "$n" -le 31 ] || n=31
      DIFF=(zstd -q -f -19 --long="$n" --patch-from="$old" "$new" -o "$patch")
      APPLY=(zstd -q -f -d --long="$n" --patch-from="$old" "$patch" -o "$out") ;;
    xz)
      DIFF=(xz -9 -T1 -k -c "$new")
      APPLY=(xz -d -c "$patch") ;;
  esac
}

# A missing feature (an older uplift without --format native, --level, ...) is "n/a", not FAIL.
unsupported() {
  [[ $1 == *"not implemented"* || $1 == *" not in {"* || $1 == *"not expected"* \
     || $1 == *"nknown"* || $1 == *"nrecognized"* ]]
}

bench_tool() {  # pair tool old new old_size new_size
  local pair=$1 tool=$2 old=$3 new=$4 old_size=$5 new_size=$6
  local patch=$work/$tool.patch out=$work/$tool.out limit=$tool_timeout
  local d_s d_cpu d_rss size r times=() a_rss=0
  [ "$tool" = bsdiff ] && limit=$bsdiff_timeout
  case $tool in
    uplift-*) [ -x "$uplift" ] || { record "$pair" "$tool" n/a "" "" "" "" "" "" "no uplift binary"; return; } ;;
    bsdiff) command -v bspatch >/dev/null || { record "$pair" "$tool" n/a "" "" "" "" "" "" "not installed"; return; } ;;
    *) command -v "$tool" >/dev/null || { record "$pair" "$tool" n/a "" "" "" "" "" "" "not installed"; return; } ;;
  esac
  rm -f "$patch" "$out"
  set_cmds "$tool" "$old" "$new" "$patch" "$out" "$old_size" "$new_size"
  [ "$tool" = xz ] && STDOUT_TO=$patch
  log "$pair $tool: diff"
  timed "$limit" "${DIFF[@]}"
  STDOUT_TO=''
  d_s=$SECS d_cpu=$CPU d_rss=$RSS
  # timeout exits 124 (or 137 after -k); only a run that lasted the whole cap counts as TIMEOUT.
  if { [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; } && [ "${SECS%.*}" -ge "$limit" ]; then
    log "$pair $tool: TIMEOUT after ${limit}s"
    record "$pair" "$tool" TIMEOUT "" "$d_s" "$d_cpu" "$d_rss" "" "" "over ${limit} s"
    rm -f "$patch"; return
  fi
  if [ "$RC" -ne 0 ] || [ ! -f "$patch" ]; then
    log "$pair $tool: diff failed (exit $RC): $ERR"
    if [[ $tool == uplift-* ]] && unsupported "$ERR"; then
      record "$pair" "$tool" n/a "" "" "" "" "" "" "$ERR"
    else
      record "$pair" "$tool" FAIL "" "$d_s" "$d_cpu" "$d_rss" "" "" "diff exit $RC: $ERR"
    fi
    rm -f "$patch"; return
  fi
  size=$(stat -c %s "$patch")
  local info=''
  if [ "$tool" = uplift-native ]; then
    # Which executable filter and how many restart segments the encoder chose, for the table.
    info=$("$uplift" delta info "$patch" --json 2>/dev/null \
      | awk -F'"' '/"filter"/ { f = $4 } /"segments"/ { gsub(/[^0-9]/, "", $3); n = $3 }
                   END { if (f != "") printf "filter %s, %s segments", f, n }') || info=''
  fi
  for ((r = 0; r < runs; r++)); do
    rm -f "$out"
    [ "$tool" = xz ] && STDOUT_TO=$out
    log "$pair $tool: apply (run $((r + 1))/$runs)"
    timed "$tool_timeout" "${APPLY[@]}"
    STDOUT_TO=''
    if [ "$RC" -ne 0 ]; then
      record "$pair" "$tool" FAIL "$size" "$d_s" "$d_cpu" "$d_rss" "$SECS" "$RSS" "apply exit $RC: $ERR"
      rm -f "$patch" "$out"; return
    fi
    if ! cmp -s "$out" "$new"; then
      record "$pair" "$tool" FAIL "$size" "$d_s" "$d_cpu" "$d_rss" "$SECS" "$RSS" "apply output differs from new"
      rm -f "$patch" "$out"; return
    fi
    times+=("$SECS")
    [ "$RSS" -le "$a_rss" ] || a_rss=$RSS
  done
  record "$pair" "$tool" ok "$size" "$d_s" "$d_cpu" "$d_rss" \
    "$(printf '%s\n' "${times[@]}" | median)" "$a_rss" "$info"
  rm -f "$patch" "$out"
}

bench_cp() {  # pair new: the second of two copies (page cache warm), the apply-throughput yardstick
  local pair=$1 new=$2
  log "$pair cp"
  cp "$new" "$work/cp.out"; rm -f "$work/cp.out"
  timed "$tool_timeout" cp "$new" "$work/cp.out"
  if [ "$RC" -ne 0 ]; then
    record "$pair" cp FAIL "" "" "" "" "$SECS" "$RSS" "cp exit $RC: $ERR"
  else
    record "$pair" cp ok "" "" "" "" "$SECS" "$RSS" ""
  fi
  rm -f "$work/cp.out"
}

# ---------------------------------------------------------------- run --------
pairs_file=$work/pairs.tsv
: >"$pairs_file"
while IFS=$'\t' read -r name class old new old_size new_size _ _ desc; do
  [ "$name" = name ] && continue
  [ -z "$pairs_re" ] || [[ $name =~ $pairs_re ]] || continue
  # Prefer the pair inside --corpus (the manifest's absolute paths may point elsewhere).
  [ ! -f "$corpus/pairs/$name/old" ] || old=$corpus/pairs/$name/old
  [ ! -f "$corpus/pairs/$name/new" ] || new=$corpus/pairs/$name/new
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$class" "$old" "$new" "$old_size" "$new_size" "$desc" \
    >>"$pairs_file"
done <"$corpus/corpus.tsv"
[ -s "$pairs_file" ] || { echo "run.sh: no pair matches '$pairs_re'" >&2; exit 2; }

if [ -n "$reuse" ]; then
  # Earlier rows for the selected pairs and the tools not run now.
  awk -F'\t' -v OFS='\t' -v run=",$tools," 'FNR == NR { want[$1] = 1; next }
    ($1 in want) && index(run, "," $2 ",") == 0 { $10 = ($10 == "" ? "reused" : "reused; " $10); print }' \
    "$pairs_file" "$reuse" >>"$results"
fi

while IFS=$'\t' read -r name _ old new old_size new_size _; do
  cat "$old" "$new" >/dev/null  # warm the page cache: every tool reads the same warm files
  for t in "${tool_list[@]}"; do
    if [ "$t" = cp ]; then bench_cp "$name" "$new"; else
      bench_tool "$name" "$t" "$old" "$new" "$old_size" "$new_size"; fi
  done
done <"$pairs_file"

# ---------------------------------------------------------------- report -----
if [ -n "$raw_out" ]; then cp "$results" "$raw_out"; log "wrote $raw_out"; fi
elapsed=$(( $(date +%s) - started ))
uplift_rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
if git -C "$repo" diff --quiet HEAD -- libs apps 2>/dev/null; then dirty=''; else dirty=' + uncommitted changes'; fi
report=$work/report.md
{
  echo "## Delta benchmark ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo '```'
  echo "$cmdline"
  echo '```'
  echo
  echo "uplift $uplift_rev$dirty ($uplift); $(nproc) cores;${reuse:+ rows of tools other than $tools reused from $reuse;} load average at start $load_start, at end $(cut -d' ' -f1-3 /proc/loadavg); bsdiff cap ${bsdiff_timeout} s; apply time = median of $runs run(s); total ${elapsed} s."
  echo
  awk -F'\t' -v runs="$runs" '
    function mib(k) { return k == "" ? "" : sprintf("%.1f", k / 1024) }
    function human(b) { return b >= 1048576 ? sprintf("%.1f MiB", b / 1048576) : sprintf("%.0f KiB", b / 1024) }
    FNR == NR { order[++np] = $1; cls[$1] = $2; osz[$1] = $5; nsz[$1] = $6; desc[$1] = $7; next }
    { k = $1 SUBSEP $2; st[k] = $3; ps[k] = $4; ds[k] = $5; dc[k] = $6; dr[k] = $7; as[k] = $8; ar[k] = $9; note[k] = $10 }
    END {
      nt = split("uplift-native uplift-bsdiff40 bsdiff xdelta3 zstd xz cp", tools, " ")
      label["uplift-native"] = "uplift native"; label["uplift-bsdiff40"] = "uplift bsdiff40"
      label["bsdiff"] = "bsdiff 4.3"; label["xdelta3"] = "xdelta3 -9"; label["zstd"] = "zstd -19 --long --patch-from"
      label["xz"] = "xz -9 (whole new image)"; label["cp"] = "cp of new image"
      print "| pair | old | new | description |"
      print "|---|---|---|---|"
      for (i = 1; i <= np; i++) { p = order[i]; printf "| %s | %s | %s | %s |\n", p, human(osz[p]), human(nsz[p]), desc[p] }
      print ""
      print "| pair | tool | patch bytes | % of new | × bsdiff | diff s | diff CPU s | diff RSS MiB | apply s | apply RSS MiB | result |"
      print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
      for (i = 1; i <= np; i++) {
        p = order[i]; kb = p SUBSEP "bsdiff"
        for (j = 1; j <= nt; j++) {
          t = tools[j]; k = p SUBSEP t
          if (!(k in st)) continue
          pct = ps[k] == "" ? "" : sprintf("%.2f", 100 * ps[k] / nsz[p])
          rel = (ps[k] != "" && st[kb] == "ok" && t != "cp") ? sprintf("%.3f", ps[k] / ps[kb]) : ""
          res = st[k] == "ok" ? "identical" (note[k] == "" ? "" : " (" note[k] ")") : st[k] (note[k] == "" ? "" : ": " note[k])
          if (t == "cp") res = "copy" (note[k] == "" ? "" : " (" note[k] ")")
          printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", p, label[t], ps[k], pct, rel,
            ds[k], dc[k], mib(dr[k]), as[k], mib(ar[k]), res
        }
      }
    }' "$pairs_file" "$results"
  echo
  echo "### Targets"
  echo
  awk -F'\t' '
    FNR == NR { order[++np] = $1; cls[$1] = $2; nsz[$1] = $6; next }
    { k = $1 SUBSEP $2; st[k] = $3; ps[k] = $4; ds[k] = $5; dc[k] = $6; dr[k] = $7; as[k] = $8; ar[k] = $9 }
    function ok(p, t) { return st[p SUBSEP t] == "ok" }
    function v(p, t, a) { return a[p SUBSEP t] }
    function verdict(c) { return c ? "PASS" : "MISS" }
    END {
      # 1. Patch size against bsdiff, geometric mean over the pairs bsdiff finished.
      nb = 0; nn = 0; n4 = 0; ln = 0; l4 = 0; missing = ""
      for (i = 1; i <= np; i++) {
        p = order[i]; if (!ok(p, "bsdiff")) continue; nb++
        if (ok(p, "uplift-native")) { nn++; ln += log(v(p, "uplift-native", ps) / v(p, "bsdiff", ps)) }
        else missing = missing " " p
        if (ok(p, "uplift-bsdiff40")) { n4++; l4 += log(v(p, "uplift-bsdiff40", ps) / v(p, "bsdiff", ps)) }
      }
      if (nb == 0) print "- patch size vs bsdiff: no pair where bsdiff finished — n/a"
      else {
        if (nn == nb) { g = exp(ln / nn)
          printf "- native patch size ≤ 0.85× bsdiff (geometric mean over %d pairs bsdiff finished): %.3f — **%s**; toward 0.6× (executable-aware): %s\n", nb, g, verdict(g <= 0.85), (g <= 0.6 ? "reached" : "not yet")
        } else printf "- native patch size ≤ 0.85× bsdiff: native has no patch for%s — **MISS (n/a)**\n", missing
        if (n4 > 0) printf "- (info) uplift bsdiff40 / bsdiff 4.3: geometric mean %.3f over %d pairs\n", exp(l4 / n4), n4
      }
      # 2. Native no larger than the best peer or xz -9 of the new image, on every pair.
      all = 1; line = ""
      for (i = 1; i <= np; i++) {
        p = order[i]; best = ""; bt = ""
        split("bsdiff xdelta3 zstd xz", peers, " ")
        for (j = 1; j <= 4; j++) if (ok(p, peers[j]) && (best == "" || v(p, peers[j], ps) + 0 < best + 0)) { best = v(p, peers[j], ps); bt = peers[j] }
        if (!ok(p, "uplift-native")) { all = 0; line = line sprintf("  - %s: native n/a, best peer %s %s\n", p, bt, best); continue }
        if (best == "") { line = line sprintf("  - %s: native %s, no peer finished\n", p, v(p, "uplift-native", ps)); continue }
        yes = v(p, "uplift-native", ps) + 0 <= best + 0; if (!yes) all = 0
        line = line sprintf("  - %s: native %s vs best %s (%s) → %s\n", p, v(p, "uplift-native", ps), best, bt, yes ? "yes" : "no")
      }
      printf "- native ≤ min(best peer, xz -9) on every pair: **%s**\n%s", verdict(all), line
      # 3. Diff time and peak RSS against bsdiff.
      nr = 0; rss_ok = 1; have = 1
      for (i = 1; i <= np; i++) {
        p = order[i]; if (!ok(p, "bsdiff")) continue
        if (!ok(p, "uplift-native")) { have = 0; failed3 = failed3 " " p; continue }
        r[++nr] = v(p, "uplift-native", ds) / v(p, "bsdiff", ds)
        cr[nr] = v(p, "bsdiff", dc) > 0 ? v(p, "uplift-native", dc) / v(p, "bsdiff", dc) : 1
        if (v(p, "uplift-native", dr) + 0 > v(p, "bsdiff", dr) + 0) rss_ok = 0
      }
      if (nr == 0) print "- native diff time ≤ 0.5× bsdiff and peak RSS ≤ bsdiff: **MISS (n/a)**"
      else {
        for (a = 1; a <= nr; a++) for (b = a + 1; b <= nr; b++) {
          if (r[b] < r[a]) { t = r[a]; r[a] = r[b]; r[b] = t }
          if (cr[b] < cr[a]) { t = cr[a]; cr[a] = cr[b]; cr[b] = t } }
        med = (nr % 2) ? r[(nr + 1) / 2] : (r[nr / 2] + r[nr / 2 + 1]) / 2
        cmed = (nr % 2) ? cr[(nr + 1) / 2] : (cr[nr / 2] + cr[nr / 2 + 1]) / 2
        printf "- native diff time ≤ 0.5× bsdiff (median over %d pairs): %.3f — **%s**; diff peak RSS ≤ bsdiff on every pair: **%s**%s\n", nr, med, verdict(have && med <= 0.5), verdict(have && rss_ok), (have ? "" : " (native failed on" failed3 ")")
        printf "  - (info) the same median of CPU time (user + sys) ratios, less sensitive to a loaded machine: %.3f\n", cmed
      }
      # 4. The 256 MiB ext4 image pair.
      for (i = 1; i <= np; i++) {
        p = order[i]; if (cls[p] != "large") continue
        if (!ok(p, "uplift-native")) { printf "- %s: native n/a — **MISS (n/a)**\n", p; continue }
        t = v(p, "uplift-native", ds); m = v(p, "uplift-native", dr) / 1048576; s = v(p, "uplift-native", ps)
        xd = ok(p, "xdelta3") ? v(p, "xdelta3", ps) : ""
        c = (t < 120) && (m <= 3) && (xd != "" && s + 0 <= xd + 0)
        printf "- %s: native diff %.1f s (< 120), %.2f GiB RSS (≤ 3), patch %s vs xdelta3 %s — **%s**\n", p, t, m, s, (xd == "" ? "n/a" : xd), verdict(c)
      }
      # 5. Apply peak RSS.
      mx = 0; mp = ""; have = 1
      for (i = 1; i <= np; i++) { p = order[i]
        if (!ok(p, "uplift-native")) { have = 0; failed5 = failed5 " " p; continue }
        if (v(p, "uplift-native", ar) + 0 > mx) { mx = v(p, "uplift-native", ar) + 0; mp = p } }
      if (mp == "") print "- native apply peak RSS ≤ 16 MiB on every pair: **MISS (n/a)**"
      else printf "- native apply peak RSS ≤ 16 MiB on every pair: max %.1f MiB (%s) — **%s**%s\n", mx / 1024, mp, verdict(have && mx <= 16 * 1024), (have ? "" : " (native failed on" failed5 ")")
      # 6. Apply throughput against cp, on pairs large enough that process start-up does not dominate.
      nl = 0; worst = ""; wp = ""; line = ""
      for (i = 1; i <= np; i++) { p = order[i]
        if (!ok(p, "uplift-native") || !ok(p, "cp")) continue
        q = v(p, "uplift-native", as) > 0 ? v(p, "cp", as) / v(p, "uplift-native", as) : 0
        line = line sprintf(" %s %.2f;", p, q)
        if (nsz[p] >= 16 * 1048576) { nl++; if (worst == "" || q < worst) { worst = q; wp = p } } }
      if (line == "") print "- native apply throughput ≥ 0.5× cp: **MISS (n/a)**"
      else if (nl == 0) printf "- native apply throughput ≥ 0.5× cp: no pair ≥ 16 MiB in this run (per pair:%s)\n", line
      else printf "- native apply throughput ≥ 0.5× cp (worst over %d pairs ≥ 16 MiB): %.2f (%s) — **%s**; all pairs:%s\n", nl, worst, wp, verdict(worst >= 0.5), line
    }' "$pairs_file" "$results"
} >"$report"

cat "$report"
if [ -n "$out_md" ]; then cp "$report" "$out_md"; log "wrote $out_md"; fi
