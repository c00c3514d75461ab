# Shared by bench/run.sh and bench/auto_latency.sh (source it; set BENCH_NAME first).
# A temp folder $tmp, background pids in $pids killed and reaped on exit, and two helpers:
#   free_port          a free TCP port on 127.0.0.1
#   wait_port PORT     until something accepts on 127.0.0.1:PORT (10 s), else fails
tmp=$(mktemp -d "/tmp/gavel-${BENCH_NAME:-bench}.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
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
