#!/usr/bin/env bash
# Seed the fuzz corpora from the samples, the signatures and (when it is beside this checkout)
# ../shared/corpus and ../shared/scenarios. The corpora are not committed: the shared files must
# not be copied into the repository, and the corpora grow as the fuzzers run.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/reader corpus/evt corpus/event_xml corpus/signature
for f in ../samples/*/*.evtx; do cp "$f" "corpus/reader/$(basename "$(dirname "$f")")-$(basename "$f")"; done
for f in ../samples/*/*.[Ee]vt; do cp "$f" "corpus/evt/$(basename "$(dirname "$f")")-$(basename "$f")"; done
# The samples' Event XML, from the generator (the bundles hold the logs only).
(cd .. && cargo run -q -p evtriage-gen -- event-xml fuzz/corpus/event_xml)
cp ../signatures/*.toml corpus/signature/
for shared in ../../shared/corpus ../../shared/scenarios; do
  [[ -d $shared ]] || continue
  find "$shared" -name '*.evtx' -print0 | while IFS= read -r -d '' f; do
    name=${f#../../shared/}
    cp "$f" "corpus/reader/${name//\//_}"
  done
  find "$shared" -iname '*.evt' -print0 | while IFS= read -r -d '' f; do
    name=${f#../../shared/}
    cp "$f" "corpus/evt/${name//\//_}"
  done
done
echo "seeded: $(ls corpus/reader | wc -l) logs, $(ls corpus/evt | wc -l) .evt logs, $(ls corpus/event_xml | wc -l) XML files, $(ls corpus/signature | wc -l) signatures"
