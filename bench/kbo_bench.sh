#!/usr/bin/env bash
# `make bench-kbo`: the companies registry at national scale, in one run (not part of
# `make test`). Generates a full KBO extract of ONCEONLY_KBO_ENTERPRISES enterprises (default
# 1,900,000, the real dump's size), then:
#   1. baseline: the sqlite3 CLI `.import`s the same CSV files into bare tables, no indexes;
#   2. `onceonly kbo import` of the same extract, indexes ready to serve (time, peak RSS);
#   3. a daily update of 10,000 enterprises generated against it, applied on top (time);
#   4. kbo_bench: GetEnterprise and SearchEnterprises latencies on the imported database;
#   5. the next full extract imported into that database in service (one WAL transaction).
# Prints each step's figures and a summary with the ratio to the baseline. Needs ~8 GB of
# disk in ONCEONLY_BENCH_DIR (default build/kbo-bench, kept for inspection; removed first).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD_DIR:-$ROOT/build}"
ONCEONLY="$BUILD/tools/onceonly"
KBO_BENCH="$BUILD/bench/kbo_bench"
N="${ONCEONLY_KBO_ENTERPRISES:-1900000}"
CHANGES="${ONCEONLY_KBO_CHANGES:-10000}"
DIR="${ONCEONLY_BENCH_DIR:-$BUILD/kbo-bench}"

for tool in "$ONCEONLY" "$KBO_BENCH" sqlite3; do
  command -v "$tool" > /dev/null || { echo "bench-kbo: $tool not found (run make build)"; exit 1; }
done

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
step() { printf '\n== %s\n' "$*"; }

rm -rf "$DIR" && mkdir -p "$DIR"
echo "bench-kbo: $N enterprises, update of $CHANGES, in $DIR ($(nproc) cores)"

step "generate a full extract of $N enterprises"
t0=$(now)
"$ONCEONLY" kbo generate --enterprises "$N" --out "$DIR/full"
t1=$(now)
GENERATE_S=$(elapsed "$t0" "$t1")
CSV_BYTES=$(du -cb "$DIR"/full/*.csv | tail -1 | cut -f1)
echo "generated in ${GENERATE_S} s, $((CSV_BYTES / 1048576)) MiB of CSV"

step "baseline: sqlite3 .import of the same CSV files into bare tables (no indexes)"
sync
t0=$(now)
{
  echo ".mode csv"
  for table in code enterprise establishment denomination address contact activity branch; do
    echo ".import $DIR/full/$table.csv $table"
  done
} | sqlite3 "$DIR/baseline.db"
t1=$(now)
BASELINE_S=$(elapsed "$t0" "$t1")
echo "sqlite3 .import: ${BASELINE_S} s"

step "onceonly kbo import (validated, converted, indexes ready to serve)"
sync
t0=$(now)
"$ONCEONLY" kbo import "$DIR/full" --db "$DIR/kbo.db" 2> "$DIR/import.log" | tee "$DIR/import.out"
t1=$(now)
IMPORT_S=$(elapsed "$t0" "$t1")
tail -3 "$DIR/import.log"
PEAK_RSS=$(grep -o 'peak RSS [0-9]* MiB' "$DIR/import.log" | tail -1 || true)
echo "onceonly kbo import: ${IMPORT_S} s, ${PEAK_RSS:-peak RSS not reported}"

step "daily update of $CHANGES enterprises"
"$ONCEONLY" kbo generate --update-from "$DIR/full" --changes "$CHANGES" --out "$DIR/update"
sync
t0=$(now)
"$ONCEONLY" kbo import "$DIR/update" --db "$DIR/kbo.db" 2> "$DIR/update.log" | tee "$DIR/update.out"
t1=$(now)
UPDATE_S=$(elapsed "$t0" "$t1")
echo "update applied in ${UPDATE_S} s"

step "reads on the imported database"
ONCEONLY_KBO_DB="$DIR/kbo.db" "$KBO_BENCH" --benchmark_min_time=2 | tee "$DIR/reads.txt"

# A monthly full dump into the database in service: one WAL transaction (readers go on), not
# the first import's build-beside-and-link. The same enterprises under a newer extract number.
step "the next full extract into the database in service"
rm -rf "$DIR/update"
"$ONCEONLY" kbo generate --enterprises "$N" --extract-number 150 --registries "$DIR/registries2.db" \
  --out "$DIR/full2" > /dev/null 2>&1
rm -rf "$DIR/full" "$DIR/baseline.db"  # disk: the new extract's import needs a WAL as large as the database
sync
t0=$(now)
"$ONCEONLY" kbo import "$DIR/full2" --db "$DIR/kbo.db" 2> "$DIR/reimport.log" | tail -1
t1=$(now)
REIMPORT_S=$(elapsed "$t0" "$t1")
tail -3 "$DIR/reimport.log"
echo "full extract into the database in service: ${REIMPORT_S} s"

step "summary"
awk -v i="$IMPORT_S" -v b="$BASELINE_S" 'BEGIN { printf "import / sqlite3 .import baseline: %.2f (target <= 1.0)\n", i / b }'
awk -v i="$REIMPORT_S" -v b="$BASELINE_S" 'BEGIN { printf "full extract into the database in service / baseline: %.2f\n", i / b }'
echo "${PEAK_RSS:-peak RSS not reported} (target < 1 GiB)"
echo "daily update of $CHANGES enterprises: ${UPDATE_S} s (target < 5 s)"
grep -o 'BM_[A-Za-z_]*.*p99_ms=[0-9.]*' "$DIR/reads.txt" | sed 's/\/real_time .*p99_ms=/ p99 ms: /' || true
echo "  (targets: GetEnterprise < 1 ms, SearchEnterprises by name prefix < 20 ms)"
