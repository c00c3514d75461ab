#!/usr/bin/env bash
# gavel's ingest benchmark (issue 6): the same wrk load, one after the other on loopback, against
#   gavel serve    durable (WAL, synchronous=FULL), default config (remediation proposals on)
#   gavel-pg       the same gavel serve on PostgreSQL (--db postgres://…): a throwaway cluster
#                  started here, fsync and synchronous_commit on; one transaction per delivery
#   nginx          answering 204 without reading anything into a store: the HTTP ceiling
#   webhook        adnanh/webhook (Debian `webhook`) with a hook running /bin/true
#   python         bench/python_receiver.py: http.server + one SQLite transaction per signal
# then prints requests/s, p50/p99 latency and the ratios, checks that every 2xx gavel sent
# is a row in `signals` (zero acknowledged signals missing), and runs bench/auto_latency.sh.
#
#   bench/run.sh [--smoke] [--only NAMES] [--duration 10s] [--connections 32] [--no-auto] [--new-targets]
#                [--gavel PATH]
#
#   --smoke        CI: gavel on SQLite and on PostgreSQL (debug build), 3 s each, the zero-loss
#                  check only; never judges speed
#   --only NAMES   comma-separated subset of gavel,gavel-pg,nginx,webhook,python
#   --new-targets  every signal names an IP never seen before (so each proposes a remediation and
#                  writes an audit row) instead of cycling through 200
#   --gavel PATH   run this gavel binary instead of building one (A/B runs of two builds)
# For gavel on SQLite it also prints the CPU per signal stored: the whole process's
# (/proc/PID/stat utime+stime) and the ingest writer thread's (/proc/PID/task/TID/schedstat),
# and the bytes the process wrote per signal (/proc/PID/io wchar: WAL, checkpoints, answers).
# Installs wrk, nginx-light and webhook from Debian when missing (as root, or prints the command).
# Everything listens on 127.0.0.1 only; servers run in the foreground of this script, under a
# temp prefix that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export LANG=C.UTF-8 LC_ALL=C.UTF-8

smoke=0
only="gavel,gavel-pg,nginx,webhook,python"
duration=10s
connections=32
threads=2
auto=1
targets=cycle
gavel_given=
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1; only=gavel,gavel-pg; duration=3s; auto=0 ;;
    --only) only="$2"; shift ;;
    --duration) duration="$2"; shift ;;
    --connections) connections="$2"; shift ;;
    --no-auto) auto=0 ;;
    --new-targets) targets=new ;;
    --gavel) gavel_given="$2"; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
wants() { [[ ",$only," == *",$1,"* ]]; }

# --- packages ---------------------------------------------------------------------------
need=()
command -v wrk >/dev/null || need+=(wrk)
if wants nginx; then command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light); fi
if wants webhook; then command -v webhook >/dev/null || need+=(webhook); fi
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "bench: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "bench: needs ${need[*]}: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

# --- gavel ------------------------------------------------------------------------------
if [ -n "$gavel_given" ]; then
  [ -x "$gavel_given" ] || { echo "bench/run.sh: --gavel $gavel_given is not an executable" >&2; exit 2; }
  gavel=$(cd "$(dirname "$gavel_given")" && pwd)/$(basename "$gavel_given")
elif [ "$smoke" -eq 1 ]; then
  scripts/ensure-deps.sh build
  swift build >/dev/null
  gavel="$PWD/.build/debug/gavel"
else
  scripts/ensure-deps.sh build
  echo "bench: swift build -c release --scratch-path .build-release" >&2
  swift build -c release --scratch-path .build-release >/dev/null
  gavel="$PWD/.build-release/release/gavel"
fi
export GAVEL_BIN="$gavel"

BENCH_NAME=bench
# shellcheck source=bench/lib.sh
. bench/lib.sh
stop() { # PID: SIGTERM and wait
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

declare -A rps p50 p99 acked other errs
run_wrk() { # NAME URL
  local out="$tmp/wrk-$1.txt"
  wrk -t"$threads" -c"$connections" -d"$duration" --latency -s bench/signal.lua "$2" -- "$1-$$" "$targets" >"$out" 2>&1 || true
  local line
  line=$(grep '^BENCH ' "$out" || true)
  if [ -z "$line" ]; then
    echo "bench: wrk against $1 produced no result:" >&2
    cat "$out" >&2
    return 1
  fi
  for kv in ${line#BENCH }; do
    case "$kv" in
      rps=*) rps[$1]=${kv#*=} ;;
      p50_ms=*) p50[$1]=${kv#*=} ;;
      p99_ms=*) p99[$1]=${kv#*=} ;;
      acked=*) acked[$1]=${kv#*=} ;;
      other=*) other[$1]=${kv#*=} ;;
      errors=*) errs[$1]=${kv#*=} ;;
    esac
  done
  printf 'bench: %-8s %8s req/s  p50 %7s ms  p99 %7s ms  (2xx %s, other %s, socket errors/timeouts %s)\n' \
    "$1" "${rps[$1]}" "${p50[$1]}" "${p99[$1]}" "${acked[$1]}" "${other[$1]}" "${errs[$1]}" >&2
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
lost=0
if wants gavel; then
  mkdir -p "$tmp/gavel"
  port=$(free_port)
  (cd "$tmp/gavel" && exec env -u GAVEL_CONFIG -u GAVEL_TOKEN -u GAVEL_DB "$gavel" serve --listen "127.0.0.1:$port" --db "$tmp/gavel/gavel.db" 2>"$tmp/gavel/serve.log") &
  pids+=($!); gpid=$!
  wait_port "$port"
  read -r cpu0 writer0 < <(cpu_ns "$gpid")
  wchar0=$(awk '/^wchar:/ { print $2 }' "/proc/$gpid/io")
  run_wrk gavel "http://127.0.0.1:$port/webhook"
  read -r cpu1 writer1 < <(cpu_ns "$gpid")
  wchar1=$(awk '/^wchar:/ { print $2 }' "/proc/$gpid/io")
  stop "$gpid"
  read -r rows deliveries remediations < <(python3 - "$tmp/gavel/gavel.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
q = lambda s: db.execute(s).fetchone()[0]
print(q("SELECT count(*) FROM signals"), q("SELECT count(*) FROM deliveries"), q("SELECT count(*) FROM remediations"))
EOF
)
  missing=$(( ${acked[gavel]} - rows ))
  if [ "$rows" -gt 0 ]; then
    cpu_process=$(( (cpu1 - cpu0) / rows / 1000 ))
    cpu_writer=$(( (writer1 - writer0) / rows / 1000 ))
    echo "bench: gavel CPU per signal stored: process $cpu_process µs, ingest writer thread $cpu_writer µs;" \
      "bytes written per signal $(( (wchar1 - wchar0) / rows )) (write calls of all kinds: WAL, checkpoints, sockets)" >&2
  fi
  echo "bench: gavel acknowledged ${acked[gavel]} signals; the database holds $rows signals, $deliveries deliveries, $remediations remediations" >&2
  if [ "$missing" -gt 0 ]; then
    echo "bench: FAIL: $missing acknowledged signals are missing from the database" >&2
    lost=1
  else
    echo "bench: ok: zero acknowledged signals missing ($(( rows - ${acked[gavel]} )) committed whose 202 wrk did not wait for at the end)" >&2
  fi
  if [ "${acked[gavel]}" -eq 0 ]; then
    echo "bench: FAIL: gavel acknowledged nothing" >&2
    sed -n '1,20p' "$tmp/gavel/serve.log" >&2
    lost=1
  fi
fi

if wants gavel-pg; then
  start_pg
  mkdir -p "$tmp/gavel-pg"
  port=$(free_port)
  (cd "$tmp/gavel-pg" && exec env -u GAVEL_CONFIG -u GAVEL_TOKEN -u GAVEL_DB "$gavel" serve --listen "127.0.0.1:$port" --db "$PG_URL" 2>"$tmp/gavel-pg/serve.log") &
  pids+=($!); gpid=$!
  wait_port "$port"
  run_wrk gavel-pg "http://127.0.0.1:$port/webhook"
  stop "$gpid"
  read -r pgrows pgdeliveries pgremediations < <("${PSQL[@]}" -d bench -F ' ' -c \
    "SELECT (SELECT count(*) FROM signals), (SELECT count(*) FROM deliveries), (SELECT count(*) FROM remediations)")
  pgmissing=$(( ${acked[gavel-pg]} - pgrows ))
  echo "bench: gavel-pg acknowledged ${acked[gavel-pg]} signals; the database holds $pgrows signals, $pgdeliveries deliveries, $pgremediations remediations" >&2
  if [ "$pgmissing" -gt 0 ]; then
    echo "bench: FAIL: $pgmissing acknowledged signals are missing from the PostgreSQL database" >&2
    lost=1
  else
    echo "bench: ok: zero acknowledged signals missing on PostgreSQL" >&2
  fi
  if [ "${acked[gavel-pg]}" -eq 0 ]; then
    echo "bench: FAIL: gavel-pg acknowledged nothing" >&2
    sed -n '1,20p' "$tmp/gavel-pg/serve.log" >&2
    lost=1
  fi
  "${pg_stop[@]}" >/dev/null 2>&1 || true
  pg_stop=()
fi

if wants nginx; then
  mkdir -p "$tmp/nginx"
  port=$(free_port)
  sed -e "s|@PORT@|$port|g" -e "s|@PREFIX@|$tmp/nginx|g" bench/nginx.conf >"$tmp/nginx/nginx.conf"
  "$nginx_bin" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" &
  pids+=($!); npid=$!
  wait_port "$port"
  run_wrk nginx "http://127.0.0.1:$port/webhook"
  stop "$npid"
fi

if wants webhook; then
  port=$(free_port)
  webhook -hooks bench/hooks.json -ip 127.0.0.1 -port "$port" >"$tmp/webhook.log" 2>&1 &
  pids+=($!); wpid=$!
  wait_port "$port"
  run_wrk webhook "http://127.0.0.1:$port/hooks/signal"
  stop "$wpid"
fi

if wants python; then
  port=$(free_port)
  python3 bench/python_receiver.py "$port" "$tmp/python.db" >"$tmp/python.log" 2>&1 &
  pids+=($!); ppid_=$!
  wait_port "$port"
  run_wrk python "http://127.0.0.1:$port/webhook"
  stop "$ppid_"
fi

# --- summary ----------------------------------------------------------------------------
echo
[ "$smoke" -eq 1 ] && echo "(smoke run: debug build, speed not judged)"
echo "wrk -t$threads -c$connections -d$duration --latency -s bench/signal.lua  ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average before: $load_before)"
printf '%-10s %12s %10s %10s\n' server "requests/s" "p50 ms" "p99 ms"
for name in gavel gavel-pg nginx webhook python; do
  [ -n "${rps[$name]:-}" ] || continue
  printf '%-10s %12s %10s %10s\n' "$name" "${rps[$name]}" "${p50[$name]}" "${p99[$name]}"
done
if [ -n "${rps[gavel]:-}" ]; then
  for name in nginx webhook python; do
    [ -n "${rps[$name]:-}" ] || continue
    target=$(case $name in nginx) echo 0.5 ;; webhook) echo 4 ;; python) echo 5 ;; esac)
    awk -v g="${rps[gavel]}" -v o="${rps[$name]}" -v n="$name" -v t="$target" \
      'BEGIN { printf "gavel/%-8s %6.2fx   (target >= %sx)\n", n, g / o, t }'
  done
  if [ "$smoke" -eq 0 ]; then
    awk -v p="${p99[gavel]}" 'BEGIN { printf "gavel p99    %6.2f ms (target <= 10 ms)\n", p }'
  fi
  echo "acknowledged signals missing: $(( ${acked[gavel]} - rows > 0 ? ${acked[gavel]} - rows : 0 ))"
  [ -z "${cpu_process:-}" ] || echo "gavel CPU per signal: process ${cpu_process} µs, ingest writer ${cpu_writer} µs"
fi
if [ -n "${rps[gavel-pg]:-}" ]; then
  [ -z "${rps[gavel]:-}" ] || awk -v g="${rps[gavel]}" -v p="${rps[gavel-pg]}" 'BEGIN { printf "gavel-pg/gavel %6.2fx   (PostgreSQL beside SQLite, same load)\n", p / g }'
  echo "acknowledged signals missing on PostgreSQL: $(( ${acked[gavel-pg]} - pgrows > 0 ? ${acked[gavel-pg]} - pgrows : 0 ))"
fi

if [ "$auto" -eq 1 ]; then
  echo
  bench/auto_latency.sh
fi
exit "$lost"
