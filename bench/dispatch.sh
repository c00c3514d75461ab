#!/usr/bin/env bash
# gavel's dispatch benchmark (issue 15): N approved bans sent by `gavel dispatch --once` to a
# loopback endpoint (bench/dispatch_sink.py) that answers after a delay and counts what it got,
#   sequential   concurrency 1, one remediation per request (before issue 15: the only way)
#   concurrent   concurrency 64, one remediation per request
#   batched      batches of 500 per request ("batch": {"max": 500, "window": "200ms"}), concurrency 8
# and prints, per mode: wall time, requests sent, remediations/s, gavel's CPU per remediation
# (user + system of the dispatch process), and checks that every remediation reached the
# endpoint exactly once (the sink's count) and is recorded dispatched with one attempt.
#
#   bench/dispatch.sh [--n 10000] [--sequential-n 1000] [--delay-ms 50] [--only MODES] [--profile] [--debug]
#
#   --n N             remediations for the concurrent and batched runs (default 10000)
#   --sequential-n N  remediations for the sequential run (default 1000: at 50 ms each, 10,000 take
#                     over 8 minutes; remediations/s is what compares)
#   --delay-ms MS     the endpoint's delay before it answers (default 50)
#   --only MODES      comma-separated subset of sequential,concurrent,batched
#   --profile         perf record the dispatch process of each run (self time by library and by symbol)
#   --debug           use the debug build (.build/debug) instead of a release build
# Everything listens on 127.0.0.1 only, under a temp folder removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export LANG=C.UTF-8 LC_ALL=C.UTF-8

n=10000
seq_n=1000
delay=50
only="sequential,concurrent,batched"
profile=0
debug=0
while [ $# -gt 0 ]; do
  case "$1" in
    --n) n="$2"; shift ;;
    --sequential-n) seq_n="$2"; shift ;;
    --delay-ms) delay="$2"; shift ;;
    --only) only="$2"; shift ;;
    --profile) profile=1 ;;
    --debug) debug=1 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "bench/dispatch.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
wants() { [[ ",$only," == *",$1,"* ]]; }

if [ "$debug" -eq 1 ]; then
  swift build --product gavel >/dev/null
  gavel="$PWD/.build/debug/gavel"
else
  echo "bench: swift build -c release --scratch-path .build-release --product gavel" >&2
  swift build -c release --scratch-path .build-release --product gavel >/dev/null
  gavel="$PWD/.build-release/release/gavel"
fi

BENCH_NAME=dispatch
# shellcheck source=bench/lib.sh
. bench/lib.sh

sink_port=$(free_port)
python3 bench/dispatch_sink.py "$sink_port" --delay-ms "$delay" 2>"$tmp/sink.log" &
pids+=($!)
wait_port "$sink_port"
sink="http://127.0.0.1:$sink_port"

failures=0
declare -a rows=()

run_mode() { # NAME COUNT SETTINGS
  local name=$1 count=$2 settings=$3 dir="$tmp/$1"
  mkdir -p "$dir"
  cat >"$dir/gavel.json" <<EOF
{ "allow_internal_action_urls": true,
  "actions": { "ban-ip": { "target": "ip",
    "http": { "url": "$sink/ban", "body": { "ip": "{{ip}}", "id": "{{remediation_id}}" }, "timeout_seconds": 10 },
    $settings } },
  "rules": { "Storm": { "actions": ["ban-ip"] } } }
EOF
  # Signals through the real receiver (which adopts the configuration), then approved with the CLI.
  local port
  port=$(free_port)
  (cd "$dir" && exec env -u GAVEL_CONFIG -u GAVEL_TOKEN -u GAVEL_DB "$gavel" serve --listen "127.0.0.1:$port" --db "$dir/gavel.db" \
    --config "$dir/gavel.json" 2>"$dir/serve.log") &
  local spid=$!
  pids+=("$spid")
  wait_port "$port"
  python3 bench/dispatch_load.py "http://127.0.0.1:$port/webhook" "$count" >/dev/null
  kill "$spid"; wait "$spid" 2>/dev/null || true
  sqlite3 "$dir/gavel.db" "SELECT id FROM remediations WHERE state = 'pending'" >"$dir/ids"
  xargs -a "$dir/ids" "$gavel" approve --by bench --db "$dir/gavel.db" >/dev/null
  curl -s "$sink/reset" >/dev/null
  local approved
  approved=$(sqlite3 "$dir/gavel.db" "SELECT count(*) FROM remediations WHERE state = 'approved'")

  local run=("$gavel" dispatch --once --db "$dir/gavel.db")
  if [ "$profile" -eq 1 ]; then run=(perf record -F 1999 -g -o "$dir/perf.data" -- "${run[@]}"); fi
  (cd "$dir" && env -u GAVEL_CONFIG /usr/bin/time -f "%e %U %S" -o "$dir/time" "${run[@]}" >"$dir/dispatch.out" 2>"$dir/dispatch.log") || true
  read -r wall user sys <"$dir/time"
  local stats
  stats=$(curl -s "$sink/stats")
  read -r requests received distinct dup <<<"$(python3 -c 'import json,sys; s=json.loads(sys.argv[1]); print(s["requests"], s["remediations"], s["distinct"], len(s["duplicates"]))' "$stats")"
  read -r dispatched attempts success <<<"$(sqlite3 -separator ' ' "$dir/gavel.db" \
    "SELECT (SELECT count(*) FROM remediations WHERE state = 'dispatched'), (SELECT coalesce(sum(attempts), 0) FROM remediations), (SELECT count(*) FROM attempts WHERE outcome = 'success')")"
  local verdict="ok"
  if [ "$approved" -ne "$count" ] || [ "$received" -ne "$count" ] || [ "$distinct" -ne "$count" ] || [ "$dup" -ne 0 ] \
    || [ "$dispatched" -ne "$count" ] || [ "$attempts" -ne "$count" ] || [ "$success" -ne "$count" ]; then
    verdict="FAIL"
    failures=$((failures + 1))
  fi
  rows+=("$(awk -v m="$name" -v c="$count" -v w="$wall" -v u="$user" -v s="$sys" -v r="$requests" -v v="$verdict" \
    -v d="$distinct" -v dup="$dup" -v disp="$dispatched" \
    'BEGIN { printf "%-11s %7d %8.2f %9d %12.0f %13.0f   %s (sink: %d distinct, %d twice; store: %d dispatched)", m, c, w, r, c / w, (u + s) / c * 1e6, v, d, dup, disp }')")
  echo "bench: $name: ${rows[-1]}" >&2
  if [ "$profile" -eq 1 ]; then
    echo "--- perf report ($name), self time by library" >&2
    perf report -i "$dir/perf.data" --stdio --no-children -g none --sort dso 2>/dev/null | grep -v '^#' | grep '%' | head -12 >&2 || true
    echo "--- perf report ($name), top symbols by self time" >&2
    perf report -i "$dir/perf.data" --stdio --no-children -g none --sort dso,symbol 2>/dev/null | grep -v '^#' | grep '%' | head -25 >&2 || true
  fi
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
wants sequential && run_mode sequential "$seq_n" '"concurrency": 1'
wants concurrent && run_mode concurrent "$n" '"concurrency": 64'
wants batched && run_mode batched "$n" '"concurrency": 8, "batch": { "max": 500, "window": "200ms", "body": { "items": "{{targets}}" } }'

echo
echo "gavel dispatch --once: approved bans to a loopback endpoint answering after ${delay} ms ($(nproc) cores; load average before: $load_before)"
printf '%-11s %7s %8s %9s %12s %13s   %s\n' mode bans "wall s" requests "bans/s" "CPU us/ban" "every ban sent once"
for row in "${rows[@]}"; do echo "$row"; done
echo "targets (issue 15): concurrent <= 10 s and batched <= 2 s for 10,000 bans at 50 ms"
exit $((failures > 0 ? 1 : 0))
