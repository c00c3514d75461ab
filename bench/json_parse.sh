#!/usr/bin/env bash
# JSON parse time against element count (BENCHMARKS.md): builds gavel-fuzz in release
# (.build-release, shared with bench/run.sh) and runs its --bench-json mode, which prints one
# Markdown table row per case. A series stops growing once a case took over SECONDS (default 30).
#
#   bench/json_parse.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product gavel-fuzz --scratch-path .build-release >&2
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
.build-release/release/gavel-fuzz --bench-json "${1:-30}"
