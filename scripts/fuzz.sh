#!/usr/bin/env bash
# `make fuzz`: runs every libFuzzer target of fuzz/ for FUZZ_SECONDS each, FUZZ_JOBS at a time,
# from its committed seeds (fuzz/corpus/<name>/, never written to) plus the corpus it grew in
# earlier runs (<build>/fuzz-corpus/<name>/). Prints progress while they run and, at the end,
# a line per target (executions, exec/s, coverage, new corpus entries, crash file). A crash,
# leak, sanitizer report or hang makes it fail, naming the reproducer and how to rerun it.
#
# Usage: scripts/fuzz.sh BUILD_DIR [TARGET...]   (default: every target)
# Environment: FUZZ_SECONDS (60), FUZZ_JOBS (2), FUZZ_NICE (10).
set -euo pipefail

BUILD_DIR=${1:?usage: scripts/fuzz.sh BUILD_DIR [TARGET...]}
shift
SECONDS_EACH=${FUZZ_SECONDS:-60}
JOBS=${FUZZ_JOBS:-2}
NICENESS=${FUZZ_NICE:-10}
LIST="$BUILD_DIR/fuzz/fuzzers.tsv"
[ -f "$LIST" ] || { echo "fuzz: $LIST is missing; configure with -DONCEONLY_FUZZ=ON"; exit 2; }

names=() binaries=() seeds=() dicts=()
while IFS=$'\t' read -r name binary seed dict; do
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  names+=("$name") binaries+=("$binary") seeds+=("$seed") dicts+=("${dict:+-dict=$dict}")
done <"$LIST"
[ ${#names[@]} -gt 0 ] || { echo "fuzz: no target named $*"; exit 2; }

RUN_DIR="$BUILD_DIR/fuzz-run"
rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR"
echo "fuzz: ${#names[@]} targets, ${SECONDS_EACH}s each, $JOBS at a time; logs in $RUN_DIR"

# One target: grows <build>/fuzz-corpus/<name>/ from it and the seeds; crash files go to
# <build>/fuzz-artifacts/<name>/.
run_one() {
  local i=$1
  local name=${names[$i]}
  local corpus="$BUILD_DIR/fuzz-corpus/$name" artifacts="$BUILD_DIR/fuzz-artifacts/$name"
  mkdir -p "$corpus" "$artifacts"
  ls "$corpus" | wc -l >"$RUN_DIR/$name.before"
  set +e
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 nice -n "$NICENESS" "${binaries[$i]}" \
    -max_total_time="$SECONDS_EACH" -timeout=25 -rss_limit_mb=2560 -print_final_stats=1 \
    ${dicts[$i]:+"${dicts[$i]}"} -artifact_prefix="$artifacts/" "$corpus" "${seeds[$i]}" \
    >"$RUN_DIR/$name.log" 2>&1
  echo $? >"$RUN_DIR/$name.rc"
}

# "kbo_csv 120/600s: 40724 runs, cov 311, ft 1310, corpus 162, 336 exec/s", from libFuzzer's
# latest status line.
progress() {
  local name=$1 began=$2 line
  line=$(grep -a -E '^#[0-9]+' "$RUN_DIR/$name.log" 2>/dev/null | tail -1 || true)
  if [ -z "$line" ]; then
    line="loading the corpus"
  else
    line=$(sed -E 's/^#([0-9]+).*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*exec\/s: ([0-9]+).*/\1 runs, cov \2, ft \3, corpus \4, \5 exec\/s/' <<<"$line")
  fi
  echo "fuzz: $name $(($(date +%s) - began))/${SECONDS_EACH}s: $line"
}

start=$(date +%s)
pids=() running=() began=()
next=0
while [ $next -lt ${#names[@]} ] || [ ${#pids[@]} -gt 0 ]; do
  while [ ${#pids[@]} -lt "$JOBS" ] && [ $next -lt ${#names[@]} ]; do
    run_one $next &
    pids+=($!) running+=("${names[$next]}") began+=("$(date +%s)")
    echo "fuzz: [$(($(date +%s) - start))s] started ${names[$next]}"
    next=$((next + 1))
  done
  sleep 2
  still=() still_names=() still_began=()
  for k in "${!pids[@]}"; do
    if kill -0 "${pids[$k]}" 2>/dev/null; then
      still+=("${pids[$k]}") still_names+=("${running[$k]}") still_began+=("${began[$k]}")
    else
      wait "${pids[$k]}" || true
      echo "fuzz: [$(($(date +%s) - start))s] finished ${running[$k]} (exit $(cat "$RUN_DIR/${running[$k]}.rc"))"
    fi
  done
  pids=("${still[@]+"${still[@]}"}") running=("${still_names[@]+"${still_names[@]}"}")
  began=("${still_began[@]+"${still_began[@]}"}")
  [ $(( ($(date +%s) - start) / 30 )) -gt "${last_report:-0}" ] || continue
  last_report=$(( ($(date +%s) - start) / 30 ))
  for k in "${!running[@]}"; do progress "${running[$k]}" "${began[$k]}"; done
done

# The summary: libFuzzer's final stats and its last status line (cov: edges, ft: features,
# corpus: inputs it holds at the end, seeds included), and the inputs this run added to the
# grown corpus (libFuzzer's own new_units_added also counts inputs replaced by smaller ones).
failed=0
printf '\n%-20s %12s %8s %7s %8s %8s %8s  %s\n' TARGET EXECUTIONS EXEC/S COV FT CORPUS NEW RESULT
for i in "${!names[@]}"; do
  name=${names[$i]} log="$RUN_DIR/${names[$i]}.log"
  stat() { grep -a "^stat::$1:" "$log" | awk '{print $2}' | tail -1 || true; }
  last=$(grep -a -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
  corpus=$(sed -n 's/.*corp: \([0-9]*\).*/\1/p' <<<"$last")
  new=$(( $(ls "$BUILD_DIR/fuzz-corpus/$name" | wc -l) - $(cat "$RUN_DIR/$name.before") ))
  rc=$(cat "$RUN_DIR/$name.rc")
  crash=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -1 || true)
  result=ok
  if [ "$rc" != 0 ] || [ -n "$crash" ]; then
    failed=1
    result="FAILED (exit $rc)${crash:+: $crash}"
  fi
  printf '%-20s %12s %8s %7s %8s %8s %8s  %s\n' "$name" "$(stat number_of_executed_units)" \
    "$(stat average_exec_per_sec)" "${cov:--}" "${ft:--}" "${corpus:--}" "$new" "$result"
done

if [ $failed -ne 0 ]; then
  echo
  for i in "${!names[@]}"; do
    name=${names[$i]} log="$RUN_DIR/${names[$i]}.log"
    [ "$(cat "$RUN_DIR/$name.rc")" = 0 ] && continue
    echo "== $name failed; the report (from $log):"
    grep -a -E -m1 -A25 'ERROR: |property violated|runtime error|==[0-9]+==' "$log" || tail -30 "$log"
    crash=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -1)
    if [ -n "$crash" ]; then
      echo "reproduce with: ${binaries[$i]} $crash"
      echo "then add it to fuzz/corpus/$name/ with the fix (and a regression test beside the code)"
    fi
  done
  exit 1
fi
echo "fuzz: no crash, leak, sanitizer report or hang in $(($(date +%s) - start))s"
