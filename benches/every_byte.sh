#!/usr/bin/env bash
# Section 11 of benches/compare.sh (issue 24), runnable alone: evtriage against `cat` of the same
# bytes, page cache warm, medians of 5 runs interleaved with cat:
#   a. one .evtx of real chunks (../shared/corpus's sound chunks repeated to 512 MiB:
#      `evtriage-gen realchunks`), -j 2 and -j 1: the ratio to cat, the speed-up from the second
#      thread, `perf stat`'s context switches, user and system time, and `strace -c`'s read and
#      futex calls per run;
#   b. one generated host of 1 GiB (`evtriage-gen logs --size 1GiB --hosts 1 --incidents 2
#      --seed 7`, two files), the same;
#   c. peak memory on generated hosts of 1 GiB and 4 GiB (median of 5), and with BIG=1 of 8 and
#      16 GiB (each about half an hour to generate on 2 cores and 8 or 16 GiB of room: BIGWORK
#      puts them elsewhere, e.g. BIGWORK=/dev/shm): it must stay flat.
# Targets: at most 2.5x cat with 2 threads; 1 -> 2 threads at least 1.6x on the real-chunk log;
# peak memory at most 100 MiB and flat.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/evtriage-bench}
mkdir -p "$WORK"
cargo build --release --quiet --bin evtriage && cargo build --release --quiet -p evtriage-gen
EVTRIAGE=$PWD/target/release/evtriage
GEN=$PWD/target/release/evtriage-gen
secs() { local t; t=$(mktemp); /usr/bin/time -o "$t" -f "%e %M" "$@" >/dev/null 2>&1 || true; tail -1 "$t"; rm -f "$t"; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

# Median time of 5 runs of cat, evtriage -j 2 and evtriage -j 1, interleaved; then perf stat.
row() {
  local name=$1; shift
  local files=("$@") c=() two=() one=() t
  cat "${files[@]}" >/dev/null
  for _ in 1 2 3 4 5; do
    read -r t _ < <(secs cat "${files[@]}"); c+=("$t")
    read -r t _ < <(secs "$EVTRIAGE" --quiet -j 2 --format json "${files[@]}"); two+=("$t")
    read -r t _ < <(secs "$EVTRIAGE" --quiet -j 1 --format json "${files[@]}"); one+=("$t")
  done
  local tc t2 t1
  tc=$(printf '%s\n' "${c[@]}" | median); t2=$(printf '%s\n' "${two[@]}" | median); t1=$(printf '%s\n' "${one[@]}" | median)
  echo "   $name: cat ${tc} s; evtriage -j 2 ${t2} s ($(ratio "$t2" "$tc")x cat), -j 1 ${t1} s; 1 -> 2 threads $(ratio "$t1" "$t2")x"
  if command -v perf >/dev/null && perf stat -x, -e task-clock true >/dev/null 2>&1; then
    for j in 2 1; do
      # evtriage exits 1 when it finds something to act on: not a failure here.
      { perf stat -x, -e context-switches "$EVTRIAGE" --quiet -j "$j" --format json "${files[@]}" 2>&1 >/dev/null || true; } \
        | awk -F, -v j="$j" '/context-switches/ { cs = $1 } END { printf "      -j %s: %s context switches", j, cs }'
      { /usr/bin/time -f " user %U s, system %S s" "$EVTRIAGE" --quiet -j "$j" --format json "${files[@]}" 2>&1 >/dev/null || true; } | tail -1
    done
  fi
  if command -v strace >/dev/null; then
    # System calls of one run, -j 2: reads (one per MiB block) and futex (hand-offs between threads).
    { strace -c -f -e trace=read,futex "$EVTRIAGE" --quiet -j 2 --format json "${files[@]}" 2>&1 >/dev/null || true; } \
      | awk '$NF == "read" || $NF == "futex" { printf "      -j 2: %s %s calls\n", $4, $NF }'
  fi
}

echo "11. every byte once (issue 24): against cat of the same bytes, medians of 5 interleaved"
real=$WORK/realchunks-512m.evtx
if [[ -d ../shared/corpus ]]; then
  [[ -f $real ]] || "$GEN" realchunks --from ../shared/corpus --size 512MiB --out "$real" 2>/dev/null
  row "a. $(du -m --apparent-size "$real" | cut -f1) MiB of real chunks" "$real"
else
  echo "   a. skipped: ../shared/corpus does not exist"
fi
host=$WORK/host-1g
[[ -f $host/manifest.json ]] || "$GEN" logs --out "$host" --size 1GiB --hosts 1 --incidents 2 --seed 7 2>/dev/null
row "b. a generated host of 1 GiB (2 files)" "$host"/host0001/*.evtx
echo "   c. peak memory as the input grows (-j 2, median of 5):"
sizes=(1GiB 4GiB); [[ -n ${BIG:-} ]] && sizes+=(8GiB 16GiB)
for size in "${sizes[@]}"; do
  dir=$WORK/grow-$size
  case $size in 8GiB|16GiB) dir=${BIGWORK:-$WORK}/grow-$size ;; esac
  [[ -f $dir/manifest.json ]] || "$GEN" logs --out "$dir" --size "$size" --hosts 1 --incidents 4 --seed 2 2>/dev/null
  ts=(); ms=()
  for _ in 1 2 3 4 5; do
    read -r t m < <(secs "$EVTRIAGE" --quiet -j 2 --format json "$dir"); ts+=("$t"); ms+=("$m")
  done
  t=$(printf '%s\n' "${ts[@]}" | median); m=$(printf '%s\n' "${ms[@]}" | median)
  echo "      $size: ${t} s, peak $((m / 1024)) MiB (each run: $(printf '%s ' "${ms[@]}" | awk '{ for (i = 1; i <= NF; i++) printf "%d ", $i / 1024 }')MiB)"
done
