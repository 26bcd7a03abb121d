#!/usr/bin/env bash
# Seed the fuzz corpora from the samples, the signatures and (when it is beside this checkout)
# ../shared/corpus and ../shared/scenarios. The corpora are not committed: the shared files must
# not be copied into the repository, and the corpora grow as the fuzzers run.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/reader corpus/evt corpus/event_xml corpus/signature \
  corpus/msi_log corpus/service_control corpus/exchange_setup corpus/clixml corpus/archive
for f in ../samples/*/*.evtx; do cp "$f" "corpus/reader/$(basename "$(dirname "$f")")-$(basename "$f")"; done
for f in ../samples/*/*.[Ee]vt; do cp "$f" "corpus/evt/$(basename "$(dirname "$f")")-$(basename "$f")"; done
# The samples' Event XML, from the generator (the bundles hold the logs only).
(cd .. && cargo run -q -p evtriage-gen -- event-xml fuzz/corpus/event_xml)
cp ../signatures/*.toml corpus/signature/
# The text logs of the samples, by format; the zipped case.
find ../samples -iname 'MSI*.LOG' -o -iname '*retry.log' | while read -r f; do cp "$f" "corpus/msi_log/$(basename "$f")"; done
for f in ../samples/*/ExchangeSetupLogs/ServiceControl.log; do cp "$f" "corpus/service_control/$(basename "$(dirname "$(dirname "$f")")").log"; done
for f in ../samples/*/ExchangeSetupLogs/*.xml; do cp "$f" "corpus/clixml/$(basename "$f")"; done
cp ../samples/*/*.zip corpus/archive/
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
if [[ -d ../../shared/corpus/textlogs ]]; then
  cp ../../shared/corpus/textlogs/redball/msi_install.log corpus/msi_log/
  cp ../../shared/corpus/textlogs/css-exchange/*.log corpus/exchange_setup/
fi
echo "seeded: $(ls corpus/reader | wc -l) logs, $(ls corpus/evt | wc -l) .evt logs, $(ls corpus/event_xml | wc -l) XML files, $(ls corpus/signature | wc -l) signatures"
