#!/usr/bin/env bash
# Auto-remediation latency (issue 6): a detection rule in `auto` whose ban-ip action is an HTTP
# POST to a local sink; N signals at a moderate rate; p50/p99 from the signal's POST starting
# to the action's request arriving at the sink. Loopback only.
#
#   bench/auto_latency.sh [N] [RATE]     (defaults: 300 signals at 50/s)
#
# Uses $GAVEL_BIN when set (bench/run.sh sets it to the release build), else builds release.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-300}
rate=${2:-50}
if [ -z "${GAVEL_BIN:-}" ]; then
  swift build -c release --scratch-path .build-release >/dev/null
  GAVEL_BIN="$PWD/.build-release/release/gavel"
fi
BENCH_NAME=auto_latency
# shellcheck source=bench/lib.sh
. bench/lib.sh

sink_port=$(free_port)
gavel_port=$(free_port)
: >"$tmp/arrivals"
cat >"$tmp/gavel.json" <<EOF
{
  "_comment": "bench/auto_latency.sh: one auto rule, its ban-ip POSTs to the local sink",
  "allow_internal_action_urls": true,
  "auto_limits": { "per_rule": 1000000, "global": 1000000, "window_seconds": 600 },
  "actions": {
    "ban-ip": {
      "target": "ip",
      "http": {
        "method": "POST",
        "url": "http://127.0.0.1:$sink_port/v1/blocklist",
        "body": { "address": "{{ip}}", "signal": "{{signal_id}}" },
        "timeout_seconds": 5,
        "retries": 0
      }
    }
  },
  "rules": { "Bench auto rule": { "actions": ["ban-ip"], "mode": "auto" } }
}
EOF

python3 bench/auto_latency.py sink "$sink_port" "$tmp/arrivals" &
pids+=($!)
(cd "$tmp" && exec env -u GAVEL_TOKEN -u GAVEL_DB "$GAVEL_BIN" serve --listen "127.0.0.1:$gavel_port" \
  --db "$tmp/gavel.db" --config "$tmp/gavel.json" 2>"$tmp/serve.log") &
pids+=($!)
wait_port "$sink_port"
wait_port "$gavel_port"
set +e
result=$(python3 bench/auto_latency.py post "http://127.0.0.1:$gavel_port" "$tmp/arrivals" "$n" "$rate" "$$")
status=$?
set -e
echo "$result"
states=$(python3 -c "
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(' '.join(f'{s}={c}' for s, c in db.execute('SELECT state, count(*) FROM remediations GROUP BY state ORDER BY state')))
" "$tmp/gavel.db")
echo "auto_latency: remediations by state: $states"
awk -v line="$result" 'BEGIN {
  n = split(line, kv, " ")
  for (i = 1; i <= n; i++) { split(kv[i], p, "="); v[p[1]] = p[2] }
  printf "auto-remediation  p50 %s ms (target <= 5)   p99 %s ms (target <= 50)   202 p50 %s ms\n", v["p50_ms"], v["p99_ms"], v["ack_p50_ms"]
}'
exit "$status"
