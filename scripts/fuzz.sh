#!/usr/bin/env bash
# Builds the libFuzzer harness once (release, -sanitize=fuzzer,address) and runs every fuzz
# target for a time budget. A finding (crash, sanitizer report or violated property) fails the
# run; its input is left in .build-fuzz/findings/TARGET/ — copy it to Fuzz/corpus/TARGET/ and
# add a regression test (Fuzz/README.md).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default 60 s, every target
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(http chunked number payload ip sanitize template senders triage)
scratch=.build-fuzz

echo "fuzz: building gavel-fuzz (release, fuzzer + address sanitizer)" >&2
swift build -c release --sanitize=fuzzer --sanitize=address -Xswiftc -DGAVEL_FUZZING \
  -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp \
  --product gavel-fuzz --scratch-path "$scratch" >&2
binary="$scratch/release/gavel-fuzz"

failed=()
for target in "${targets[@]}"; do
  [ -d "Fuzz/corpus/$target" ] || { echo "fuzz: no seed corpus Fuzz/corpus/$target" >&2; exit 2; }
  work="$scratch/corpus/$target"          # grows as libFuzzer finds new coverage (not committed)
  findings="$scratch/findings/$target"
  mkdir -p "$work" "$findings"
  log="$scratch/fuzz-$target.log"
  echo "fuzz: $target for ${seconds}s" >&2
  # Swift's runtime caches look like leaks to LeakSanitizer: leaks are not findings here.
  if GAVEL_FUZZ_TARGET="$target" SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}" "$binary" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=20000 -print_final_stats=1 \
      -artifact_prefix="$findings/" "$work" "Fuzz/corpus/$target" >"$log" 2>&1; then
    grep -E "^(stat::number_of_executed_units|Done)" "$log" | sed "s/^/  $target: /" >&2 || true
  else
    echo "fuzz: FINDING in $target (log: $log)" >&2
    grep -E "property violated|ERROR: AddressSanitizer|Fatal error|SUMMARY|Test unit written|deadly signal" "$log" | head -8 >&2 || true
    failed+=("$target")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in: ${failed[*]} — inputs in $scratch/findings/; add each to Fuzz/corpus/<target>/ with a regression test" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no findings" >&2
