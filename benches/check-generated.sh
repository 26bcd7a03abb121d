#!/usr/bin/env bash
# Generate logs of a given size and check them the way the samples are checked: every file reads back
# through the evtx crate (checksums validated), python-evtx and libevtx's evtxexport, with the record
# counts of manifest.json. Usage: benches/check-generated.sh [SIZE] [HOSTS] (default 16MiB 2).
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-16MiB}
hosts=${2:-2}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo build --release --quiet -p evtriage-gen --bin evtriage-gen && cargo build --release --quiet --example count_records
/usr/bin/time -f "generated in %e s, peak %M KiB" target/release/evtriage-gen logs --out "$out" --size "$size" --hosts "$hosts" --incidents 3
python3 - "$out" <<'PY'
import json, subprocess, sys
out = sys.argv[1]
m = json.load(open(f"{out}/manifest.json"))
bad = 0
for h in m["hosts"]:
    for log in ("application", "system"):
        path = f"{out}/{h[log]['file']}"
        want = h[log]["records"]
        crate = int(subprocess.run(["target/release/examples/count_records", path], capture_output=True, text=True, check=True).stdout)
        lib = subprocess.run(["evtxexport", path], capture_output=True, text=True).stdout.count("\nEvent number")
        py = int(subprocess.run(["python3", "-c", "import sys\nfrom Evtx.Evtx import Evtx\nn=0\nwith Evtx(sys.argv[1]) as l:\n    for r in l.records():\n        r.xml(); n+=1\nprint(n)", path], capture_output=True, text=True, check=True).stdout)
        ok = want == crate == lib == py
        bad += not ok
        print(f"{'ok ' if ok else 'BAD'} {h[log]['file']}: manifest {want}, evtx crate {crate}, evtxexport {lib}, python-evtx {py}")
sys.exit(1 if bad else 0)
PY
