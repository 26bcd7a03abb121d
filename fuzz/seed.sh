#!/usr/bin/env bash
# Seed the fuzz corpora from the samples, the signatures and (when it is beside this checkout)
# ../shared/corpus and ../shared/scenarios. The corpora are not committed: the shared files must
# not be copied into the repository, and the corpora grow as the fuzzers run.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/reader corpus/event_xml corpus/signature
for f in ../samples/*/*.evtx; do cp "$f" "corpus/reader/$(basename "$(dirname "$f")")-$(basename "$f")"; done
for f in ../samples/*/*.xml; do cp "$f" "corpus/event_xml/$(basename "$(dirname "$f")")-$(basename "$f")"; done
cp ../signatures/*.toml corpus/signature/
for shared in ../../shared/corpus ../../shared/scenarios; do
  [[ -d $shared ]] || continue
  find "$shared" -name '*.evtx' -print0 | while IFS= read -r -d '' f; do
    name=${f#../../shared/}
    cp "$f" "corpus/reader/${name//\//_}"
  done
done
echo "seeded: $(ls corpus/reader | wc -l) logs, $(ls corpus/event_xml | wc -l) XML files, $(ls corpus/signature | wc -l) signatures"
