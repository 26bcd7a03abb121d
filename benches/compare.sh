#!/usr/bin/env bash
# Whole-run comparison of evtriage with the evtx crate's own evtx_dump (0.15.1), on this machine:
#   1. a folder of many real logs: ../shared/corpus copied until it holds about 256 MiB;
#      evtx_dump converts each file to JSON lines, one thread per file, two files at a time;
#   2. one large generated log (1 GiB, incidents planted), evtx_dump with 2 threads;
#   3. evtriage with 1 and with 2 threads on that log; and a 1 GiB classic .evt (Windows Server
#      2003 layout, the KB case planted at its end) against that log's MiB/s (no evtx_dump: it does
#      not read .evt), median of 5 interleaved runs each;
#   4. peak memory as the input grows (100 MiB, then the large set), and on 10,000 small logs;
#   5. start-up on an empty input;
#   6. small hostile logs whose shape made correlation or display slow;
#   7. rendering a fleet's report in each readable format.
# Prints MiB/s, records/s, the ratios and peak memory. Inputs are generated once into $WORK and reused.
# Usage: benches/compare.sh            (LARGE=1GiB; set GROW=4GiB to add a 4 GiB memory point)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/evtriage-bench}
LARGE_HOST_SIZE=${LARGE_HOST_SIZE:-2GiB}   # two logs per host: System.evtx is half of it
GROW=${GROW:-}
mkdir -p "$WORK"

command -v evtx_dump >/dev/null || { echo "evtx_dump not found: cargo install evtx --version 0.15.1" >&2; exit 2; }
cargo build --release --quiet --bin evtriage && cargo build --release --quiet -p evtriage-gen
EVTRIAGE=$PWD/target/release/evtriage
GEN=$PWD/target/release/evtriage-gen

# "seconds peak-KiB" of a command; its output is discarded (and its exit code: evtriage exits 1
# when it finds something to act on).
measure() {
  local t; t=$(mktemp)
  /usr/bin/time -o "$t" -f "%e %M" "$@" >/dev/null 2>&1 || true
  tail -1 "$t"; rm -f "$t"
}
# The same, for a shell pipeline.
measure_sh() { measure bash -c "$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
records_of() { { "$EVTRIAGE" --quiet --format json "$@" 2>/dev/null || true; } | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["records_read"])'; }

echo "machine: $(nproc) CPUs, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -m); evtriage $($EVTRIAGE --version | cut -d' ' -f2), $(evtx_dump --version)"
echo

# 1. Many real logs.
corpus=../shared/corpus
if [[ -d $corpus ]]; then
  many=$WORK/corpus-256m
  if [[ ! -f $many/.done ]]; then
    rm -rf "$many"; mkdir -p "$many"; i=0
    while (( $(du -sb --apparent-size "$many" | cut -f1) < 256 * 1048576 )); do
      i=$((i + 1)); mkdir -p "$many/copy$i"
      find "$corpus" -name '*.evtx' -exec cp {} "$many/copy$i/" \;
    done
    touch "$many/.done"
  fi
  bytes=$(find "$many" -name '*.evtx' -printf '%s\n' | awk '{s+=$1} END {print s}')
  files=$(find "$many" -name '*.evtx' | wc -l)
  recs=$(records_of "$many")
  read -r t_dump m_dump < <(measure_sh "find '$many' -name '*.evtx' -print0 | xargs -0 -n1 -P2 evtx_dump -t 1 -o jsonl")
  read -r t_tri m_tri < <(measure "$EVTRIAGE" --quiet --format json "$many")
  echo "1. $files real logs, $(mib "$bytes") MiB, $recs records"
  echo "   evtx_dump (xargs -P2, -t 1): ${t_dump} s, $(rate "$(mib "$bytes")" "$t_dump") MiB/s, $(rate "$recs" "$t_dump") records/s, peak $((m_dump / 1024)) MiB per process"
  echo "   evtriage  (-j 2)           : ${t_tri} s, $(rate "$(mib "$bytes")" "$t_tri") MiB/s, $(rate "$recs" "$t_tri") records/s, peak $((m_tri / 1024)) MiB"
  echo "   ratio evtriage / evtx_dump: $(ratio "$t_tri" "$t_dump")   (target at most 0.5)"
  echo
else
  echo "1. skipped: $corpus does not exist"
fi

# 2. and 3. One large generated log.
large=$WORK/large
if [[ ! -f $large/manifest.json ]]; then
  "$GEN" logs --out "$large" --size "$LARGE_HOST_SIZE" --hosts 1 --incidents 4 --seed 940006 2>/dev/null
fi
log=$large/host0001/System.evtx
bytes=$(stat -c %s "$log")
recs=$(python3 -c "import json; print(json.load(open('$large/manifest.json'))['hosts'][0]['system']['records'])")
read -r t_dump m_dump < <(measure evtx_dump -t 2 -o jsonl "$log")
read -r t_tri m_tri < <(measure "$EVTRIAGE" --quiet -j 2 --format json "$log")
read -r t_one m_one < <(measure "$EVTRIAGE" --quiet -j 1 --format json "$log")
echo "2. one generated log, $(mib "$bytes") MiB, $recs records"
echo "   evtx_dump -t 2 : ${t_dump} s, $(rate "$(mib "$bytes")" "$t_dump") MiB/s, $(rate "$recs" "$t_dump") records/s, peak $((m_dump / 1024)) MiB"
echo "   evtriage  -j 2 : ${t_tri} s, $(rate "$(mib "$bytes")" "$t_tri") MiB/s, $(rate "$recs" "$t_tri") records/s, peak $((m_tri / 1024)) MiB"
echo "   ratio evtriage / evtx_dump: $(ratio "$t_tri" "$t_dump")   (target at most 1.0, aim 0.5)"
echo "3. evtriage -j 1 : ${t_one} s; speed-up from 1 to 2 threads: $(ratio "$t_one" "$t_tri")   (target at least 1.7)"
evt=$WORK/SysEvent.Evt
[[ -f $evt ]] || "$GEN" evt --out "$evt" --size 1GiB --seed 940006 2>/dev/null
evt_bytes=$(stat -c %s "$evt")
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
evtx_times=(); evt_times=(); evt_mem=0
for _ in 1 2 3 4 5; do
  read -r t _ < <(measure "$EVTRIAGE" --quiet -j 2 --format json "$log"); evtx_times+=("$t")
  read -r t m < <(measure "$EVTRIAGE" --quiet -j 2 --format json "$evt"); evt_times+=("$t")
  (( m > evt_mem )) && evt_mem=$m
done
t_evtx=$(printf '%s\n' "${evtx_times[@]}" | median)
t_evt=$(printf '%s\n' "${evt_times[@]}" | median)
echo "   classic .evt, $(mib "$evt_bytes") MiB, -j 2: ${t_evt} s, $(rate "$(mib "$evt_bytes")" "$t_evt") MiB/s, peak $((evt_mem / 1024)) MiB; the .evtx log above: $(rate "$(mib "$bytes")" "$t_evtx") MiB/s (medians of 5)   (target: at least the .evtx rate)"
echo

# 4. Memory as input grows, and on many small logs.
small=$WORK/100m
if [[ ! -f $small/manifest.json ]]; then
  "$GEN" logs --out "$small" --size 100MiB --hosts 1 --incidents 2 --seed 1 2>/dev/null
fi
read -r t_s m_s < <(measure "$EVTRIAGE" --quiet --format json "$small")
read -r t_l m_l < <(measure "$EVTRIAGE" --quiet --format json "$large")
echo "4. peak memory: 100 MiB input $((m_s / 1024)) MiB; $(mib "$(du -sb "$large" | cut -f1)") MiB input $((m_l / 1024)) MiB   (target: at most 100 MiB, flat)"
if [[ -n $GROW ]]; then
  grow=$WORK/grow-$GROW
  [[ -f $grow/manifest.json ]] || "$GEN" logs --out "$grow" --size "$GROW" --hosts 1 --incidents 4 --seed 2 2>/dev/null
  read -r t_g m_g < <(measure "$EVTRIAGE" --quiet --format json "$grow")
  echo "   $GROW input: ${t_g} s, peak $((m_g / 1024)) MiB"
fi
fleet=$WORK/fleet-10000
if [[ ! -f $fleet/manifest.json ]]; then
  "$GEN" logs --out "$fleet" --size 192KiB --hosts 5000 --incidents 1 --seed 3 --busy 1 2>/dev/null
fi
files=$(find "$fleet" -name '*.evtx' | wc -l)
# Warm: the gigabytes read just before can push these 10,000 files out of the page cache, and
# this row measures evtriage, not the disk.
"$EVTRIAGE" --quiet --format jsonl "$fleet" >/dev/null 2>&1 || true
read -r t_f m_f < <(measure "$EVTRIAGE" --quiet --format jsonl "$fleet")
echo "   $files small logs (5,000 hosts): ${t_f} s, peak $((m_f / 1024)) MiB"
echo

# 5. Start-up.
empty=$WORK/empty.evtx
"$GEN" xml2evtx <(echo '<Events/>') "$empty" 2>/dev/null
read -r t_e _ < <(measure "$EVTRIAGE" --quiet "$empty")
echo "5. empty input: ${t_e} s   (target under 0.02 s)"

# 6. Small hostile logs: shapes that made correlation or the table slow (issue 13). Each is the
#    KB sample made expensive by `evtriage-gen hostile`; the table is what a person would print.
echo "6. hostile logs (the KB sample made expensive), table output:"
for size in services=16000 services=64000 long-values=25 failures=20000; do
  dir=$WORK/hostile-$size
  [[ -f $dir/System.evtx ]] || "$GEN" hostile --size "$size" --out "$dir" 2>/dev/null
  bytes=$(du -sb --apparent-size "$dir" | cut -f1)
  read -r t_h m_h < <(measure "$EVTRIAGE" --quiet --color never "$dir")
  echo "   $size ($(mib "$bytes") MiB): ${t_h} s, peak $((m_h / 1024)) MiB   (target: seconds)"
done

# 7. Rendering a fleet's report (issue 15): the 10,000 logs of section 4 in each readable format,
#    against the same run printing only the overview (--summary), which reads and diagnoses the
#    same but renders no finding. The difference is what rendering the findings costs the run
#    (they are rendered while the next computers are diagnosed); the target is at most 10%.
#    Median of five runs each, interleaved: this VM's timings vary by more than the effect. Then
#    the rendering alone, measured in one process (examples/render_fleet.rs), for the CPU it takes.
echo "7. rendering the report of 5,000 hosts (10,000 logs): median of 5, against --summary"
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
declare -A runs
for round in 1 2 3 4 5; do
  for f in summary table markdown html; do
    if [[ $f == summary ]]; then
      read -r t _ < <(measure "$EVTRIAGE" --quiet --color never --summary "$fleet")
    else
      read -r t _ < <(measure "$EVTRIAGE" --quiet --color never --format "$f" "$fleet")
    fi
    runs[$f]+="$t "
  done
done
t_s=$(echo ${runs[summary]} | tr ' ' '\n' | median)
for f in table markdown html; do
  t=$(echo ${runs[$f]} | tr ' ' '\n' | median)
  share=$(awk -v a="$t" -v b="$t_s" 'BEGIN { d = a - b; if (d < 0) d = 0; printf "%.0f", 100 * d / a }')
  echo "   $f: ${t} s against ${t_s} s: rendering adds ${share}% to the run   (target at most 10%)"
done
cargo build --release --quiet --example render_fleet
echo "   rendering alone, in one process, best of 3:"
"$PWD/target/release/examples/render_fleet" "$fleet"
