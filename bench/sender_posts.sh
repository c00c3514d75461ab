#!/usr/bin/env bash
# Ingest of posts that carry many alerts (BENCHMARKS.md, "Posts of many alerts"): builds gavel in
# release (.build-release, shared with bench/run.sh), starts `gavel serve` on a free 127.0.0.1
# port with a fresh database, and posts CrowdSec bodies of 1, 10, 100 and 1000 alerts (each alert
# a new signal with its own address) to /webhook/crowdsec, REPEAT times each, with curl. Prints
# one Markdown row per size: the median time to the 202 and the time per stored signal.
#
#   bench/sender_posts.sh [REPEAT]        default 5
set -euo pipefail
cd "$(dirname "$0")/.."
repeat="${1:-5}"
swift build -c release --product gavel --scratch-path .build-release >&2
gavel=.build-release/release/gavel
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
"$gavel" serve --listen 127.0.0.1:0 --db "$work/gavel.db" 2>"$work/serve.err" &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/serve.err" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.err" | head -1)/webhook/crowdsec
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "| alerts per post | body | median time to 202 | per signal | signals stored |"
echo "| ---: | ---: | ---: | ---: | ---: |"
run=0
for n in 1 10 100 1000; do
  times=()
  for r in $(seq "$repeat"); do
    run=$((run + 1))
    python3 - "$n" "$run" >"$work/body.json" <<'PY'
import json, sys
n, run = int(sys.argv[1]), int(sys.argv[2])
alerts = [{"scenario": "crowdsecurity/ssh-bf", "uuid": f"bench-{run}-{i}", "events_count": 6,
           "source": {"scope": "Ip", "value": f"198.{(run % 250) + 1}.{i // 250}.{i % 250 + 1}"},
           "decisions": [{"duration": "4h", "scope": "Ip", "type": "ban", "value": f"198.{(run % 250) + 1}.{i // 250}.{i % 250 + 1}"}]}
          for i in range(n)]
print(json.dumps(alerts))
PY
    t=$(curl -sS -o "$work/answer" -w '%{time_total}' -H 'Content-Type: application/json' --data-binary @"$work/body.json" "$url")
    grep -q "\"duplicate\":false" "$work/answer" || { echo "unexpected answer: $(head -c 200 "$work/answer")" >&2; exit 1; }
    times+=("$t")
  done
  median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  size=$(stat -c %s "$work/body.json")
  stored=$(sqlite3 "$work/gavel.db" "SELECT count(*) FROM signals")
  awk -v n="$n" -v m="$median" -v s="$size" -v st="$stored" \
    'BEGIN { printf "| %d | %.0f KiB | %.1f ms | %.3f ms | %d |\n", n, s / 1024, m * 1000, m * 1000 / n, st }'
done
