# Shared by bench/run.sh and bench/auto_latency.sh (source it; set BENCH_NAME first).
# A temp folder $tmp, background pids in $pids killed and reaped on exit, and two helpers:
#   free_port          a free TCP port on 127.0.0.1
#   wait_port PORT     until something accepts on 127.0.0.1:PORT (10 s), else fails
#   cpu_ns PID         "PROCESS_NS WRITER_NS": CPU used so far by process PID (utime+stime of
#                      /proc/PID/stat, clock ticks, so 10 ms steps) and by its thread named
#                      gavel-writer (first field of its /proc/PID/task/TID/schedstat, ns;
#                      for a build whose threads are unnamed, its busiest thread)
#   start_pg           a throwaway PostgreSQL cluster in $tmp/pg (Debian's server binaries; as
#                      user postgres when run as root), fsync and synchronous_commit on (the
#                      defaults); sets PG_URL (database "bench") and PSQL; stopped by cleanup
tmp=$(mktemp -d "/tmp/gavel-${BENCH_NAME:-bench}.XXXXXX")
pids=()
pg_stop=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ ${#pg_stop[@]} -eq 0 ] || "${pg_stop[@]}" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "${BENCH_NAME:-bench}: nothing listening on 127.0.0.1:$1" >&2
  return 1
}

cpu_ns() {
  local ticks writer=0 t
  ticks=$(getconf CLK_TCK)
  # Fields 14 and 15 of /proc/PID/stat, counted after the ")" that ends the command name.
  local process
  process=$(sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$ticks" '{ printf "%.0f", ($12 + $13) * 1e9 / hz }')
  local busiest=0 named=0 c
  for t in /proc/"$1"/task/*; do
    c=$(cut -d' ' -f1 "$t/schedstat" 2>/dev/null || echo 0)
    # The writer names itself with ThreadName.set (GavelCore); builds before that did not, and
    # there the writer is the busiest thread.
    if [ "$(cat "$t/comm" 2>/dev/null)" = "gavel-writer" ]; then named=$c; fi
    [ "$c" -gt "$busiest" ] && busiest=$c
  done
  writer=$named
  [ "$named" -gt 0 ] || writer=$busiest
  echo "$process $writer"
}

start_pg() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$bin" ] && [ -x "$bin/initdb" ] || { echo "${BENCH_NAME:-bench}: no PostgreSQL server binaries (apt-get install postgresql)" >&2; return 1; }
  local dir="$tmp/pg" port as=()
  port=$(free_port)
  mkdir -p "$dir"; chmod 755 "$tmp" "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; as=(runuser -u postgres --); fi
  (cd "$dir" && "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null)
  (cd "$dir" && "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null)
  pg_stop=("${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop)
  PSQL=("$bin/psql" -X -q -A -t -h 127.0.0.1 -p "$port" -U postgres)
  "${PSQL[@]}" -d postgres -c "CREATE DATABASE bench" >/dev/null
  PG_URL="postgres://postgres@127.0.0.1:$port/bench"
}
