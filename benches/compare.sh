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
#   7. rendering a fleet's report in each readable format;
#   8. text logs (a verbose installer log in UTF-16 and in the ANSI code page, ExchangeSetup.log),
#      one thread, against `cat` of the same bytes; and a zipped case against its folder and its
#      decompression alone (`unzip -p`);
#   9. `evtriage merge` of the 5,000 hosts' JSONL reports (section 4) split across runs, against
#      the run that wrote them: time and peak memory;
#  10. with WINDOWS=1: the Windows build on the 1 GiB log under Wine (needs wine64, MinGW-w64 and
#      the .exe: .ci/run builds it); Wine's own cost is in it, so it is marked as such;
#  11. every byte once, against cat (benches/every_byte.sh, which runs alone too): a log of real
#      chunks and a generated host, -j 2 and -j 1, perf stat's system time and context switches,
#      and peak memory from 1 GiB to 4 GiB (8 and 16 GiB with BIG=1).
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
echo

echo "8. text logs, one thread (-j 1), median of 5; and a zipped case"
# Built from the real logs of ../shared/corpus/textlogs when it is beside this checkout (a real
# log's density of lines worth an event); otherwise from the samples' generated ones, which hold
# an event every few lines and so measure matching more than reading.
textlogs=../shared/corpus/textlogs
msi16=$WORK/msi-utf16.log; msi8=$WORK/msi-ansi.log; setup=$WORK/ExchangeSetup.log
if [[ ! -f $msi16 ]]; then
  if [[ -d $textlogs ]]; then
    src16=$textlogs/redball/msi_install.log; srcsetup=$textlogs/css-exchange/ExchangeSetup_Reboot_Pending.log
  else
    src16=samples/msi-update-failed-file-in-use/MSI2b7d4.LOG
    "$GEN" fixture cu-setup-refused-after-su-failed "$WORK/fixture" >/dev/null
    srcsetup=$WORK/fixture/ExchangeSetupLogs/ExchangeSetup.log
  fi
  python3 - "$src16" "$srcsetup" "$msi16" "$msi8" "$setup" <<'PY'
import sys
src16, srcsetup, msi16, msi8, setup = sys.argv[1:]
size = 256 << 20
one = open(src16, 'rb').read()
body = one[2:] if one.startswith(b'\xff\xfe') else one
open(msi16, 'wb').write(b'\xff\xfe' + body * (size // len(body)))
ansi = body.decode('utf-16-le').encode('cp1252', 'replace')
open(msi8, 'wb').write(ansi * (size // len(ansi)))
s = open(srcsetup, 'rb').read()
open(setup, 'wb').write(s * (size // len(s)))
PY
fi
for f in "$msi16" "$msi8" "$setup"; do
  bytes=$(stat -c %s "$f"); cat "$f" >/dev/null
  ev=(); ct=(); mem=0
  for _ in 1 2 3 4 5; do
    read -r t m < <(measure "$EVTRIAGE" --quiet -j 1 --format json "$f"); ev+=("$t"); (( m > mem )) && mem=$m
    read -r t _ < <(measure cat "$f"); ct+=("$t")
  done
  te=$(printf '%s\n' "${ev[@]}" | median); tc=$(printf '%s\n' "${ct[@]}" | median)
  echo "   $(basename "$f"), $(mib "$bytes") MiB: ${te} s, $(rate "$(mib "$bytes")" "$te") MiB/s, peak $((mem / 1024)) MiB; cat ${tc} s   (target: at least 500 MiB/s)"
done
# Event XML (issue 24): every sample's events as Event Viewer exports them, repeated to 256 MiB,
# with one thread and two (events are cut out in order and parsed on the pool).
xml=$WORK/events-256m.xml
if [[ ! -f $xml ]]; then
  "$GEN" event-xml "$WORK/xml" >/dev/null
  python3 - "$WORK/xml" "$xml" <<'PY'
import glob, re, sys
events = []
for f in sorted(glob.glob(sys.argv[1] + '/*.xml')):
    events += re.findall(r'<Event[ >].*?</Event>', open(f, encoding='utf-8').read(), re.S)
body = '\n'.join(events) + '\n'
with open(sys.argv[2], 'w', encoding='utf-8') as out:
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n<Events>\n')
    for _ in range((256 << 20) // len(body.encode()) + 1):
        out.write(body)
    out.write('</Events>\n')
PY
fi
bytes=$(stat -c %s "$xml"); cat "$xml" >/dev/null
x1=(); x2=(); ct=(); mem=0
for _ in 1 2 3 4 5; do
  read -r t m < <(measure "$EVTRIAGE" --quiet -j 1 --format json "$xml"); x1+=("$t"); (( m > mem )) && mem=$m
  read -r t _ < <(measure "$EVTRIAGE" --quiet -j 2 --format json "$xml"); x2+=("$t")
  read -r t _ < <(measure cat "$xml"); ct+=("$t")
done
t1=$(printf '%s\n' "${x1[@]}" | median); t2=$(printf '%s\n' "${x2[@]}" | median); tc=$(printf '%s\n' "${ct[@]}" | median)
echo "   $(basename "$xml"), $(mib "$bytes") MiB: -j 1 ${t1} s ($(rate "$(mib "$bytes")" "$t1") MiB/s), -j 2 ${t2} s ($(rate "$(mib "$bytes")" "$t2") MiB/s), peak $((mem / 1024)) MiB; cat ${tc} s"
# A zipped case: the KB sample's logs and the large .evtx log of section 2, deflated, against the
# same files in a folder and against unpacking the archive alone.
case_dir=$WORK/zipcase/EXMBX01
if [[ ! -f $WORK/case.zip ]]; then
  mkdir -p "$case_dir"; cp samples/kb940006-rollup-failed/* "$case_dir/"; cp "$log" "$case_dir/Big-System.evtx"
  (cd "$WORK/zipcase" && zip -qr "$WORK/case.zip" EXMBX01)
fi
zb=$(stat -c %s "$WORK/case.zip"); ub=$(du -sb "$case_dir" | cut -f1)
zt=(); ft=(); ut=(); zmem=0
for _ in 1 2 3 4 5; do
  read -r t m < <(measure "$EVTRIAGE" --quiet -j 2 --format json "$WORK/case.zip"); zt+=("$t"); (( m > zmem )) && zmem=$m
  read -r t _ < <(measure "$EVTRIAGE" --quiet -j 2 --format json "$case_dir"); ft+=("$t")
  read -r t _ < <(measure_sh "unzip -p '$WORK/case.zip' > /dev/null"); ut+=("$t")
done
tz=$(printf '%s\n' "${zt[@]}" | median); tf=$(printf '%s\n' "${ft[@]}" | median); tu=$(printf '%s\n' "${ut[@]}" | median)
echo "   case.zip ($(mib "$zb") MiB packed, $(mib "$ub") MiB unpacked): ${tz} s, peak $((zmem / 1024)) MiB; the folder: ${tf} s; unzip -p alone: ${tu} s; the zip adds $(awk -v z="$tz" -v f="$tf" 'BEGIN { printf "%.2f", z - f }') s   (target: no more than its decompression)"

# 9. Merging a fleet's reports: the JSONL of the 5,000 hosts, written by two runs over halves of
#    the fleet, merged into one table; memory should not grow with the reports' size (one finding
#    held per run).
reports=$WORK/fleet-reports
mkdir -p "$reports"
if [[ ! -s $reports/b.jsonl ]]; then
  mapfile -t hosts < <(find "$fleet" -mindepth 1 -maxdepth 1 -type d | sort)
  half=$(( ${#hosts[@]} / 2 ))
  "$EVTRIAGE" --quiet --format jsonl "${hosts[@]:0:$half}" > "$reports/a.jsonl" 2>/dev/null || true
  "$EVTRIAGE" --quiet --format jsonl "${hosts[@]:$half}" > "$reports/b.jsonl" 2>/dev/null || true
fi
rb=$(cat "$reports"/*.jsonl | wc -c)
read -r t_m m_m < <(measure "$EVTRIAGE" merge --quiet --color never "$reports")
read -r t_mj m_mj < <(measure "$EVTRIAGE" merge --quiet --format jsonl "$reports")
echo "9. merge of the 5,000 hosts' reports ($(mib "$rb") MiB of JSONL in 2 runs): table ${t_m} s, peak $((m_m / 1024)) MiB; jsonl ${t_mj} s, peak $((m_mj / 1024)) MiB; the run that wrote them: ${t_f} s"

# 11. Every byte once (issue 24): evtriage against cat of the same bytes, the second thread's
#     gain, system time and context switches, and peak memory up to 4 GiB (8 and 16 GiB with BIG=1).
echo
benches/every_byte.sh

# 10. The Windows build under Wine, on the 1 GiB log of section 2 (median of 3).
if [[ -n ${WINDOWS:-} ]]; then
  exe=$PWD/target/x86_64-pc-windows-gnu/dist/evtriage.exe
  bin=$PWD/target/wine/bin
  [[ -x /usr/lib/wine/wine64 && -f $exe && -f $bin/bcryptprimitives.dll ]] || {
    echo "10. skipped: needs wine64, $exe and $bin/bcryptprimitives.dll (run tests/windows.rs once)"; exit 0; }
  cp "$exe" "$bin/evtriage.exe"
  export WINEPREFIX=$PWD/target/wine/prefix-main WINEDEBUG=-all
  for i in 1 2 3; do
    read -r tw _ < <(measure /usr/lib/wine/wine64 "$bin/evtriage.exe" --quiet -j 2 --format json "Z:$large/host0001/System.evtx")
    echo "$tw"
  done | sort -n | sed -n 2p | { read -r tw; echo "10. Windows build under Wine (wine64 $(/usr/lib/wine/wine64 --version)), -j 2, the 1 GiB log: ${tw} s, median of 3 (Wine's cost included); the Linux build: ${t_tri} s"; }
fi
