#!/usr/bin/env bash
# `onceonly kbo import` killed (SIGKILL) at points spread over an import leaves the database
# either exactly as it was (same content digest) or, killed after its commit, exactly as the
# extract says; never a mix, and always readable. Then the import, run to the
# end, round-trips a generated extract of 20,000 enterprises: the database's digest is the
# generator's manifest. Usage: kbo_import_fault_test.sh BUILD_DIR
set -uo pipefail
BUILD=$1
ONCEONLY="$BUILD/tools/onceonly"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

fail() { echo "FAIL $*"; exit 1; }
ok() { echo "ok   $*"; }
manifest_digest() { grep -o '"digest": "[0-9a-f]*"' "$1/manifest.json" | tail -1 | cut -d'"' -f4; }
db_digest() { "$ONCEONLY" kbo digest --db "$1" 2>&1 | sed -n 's/^digest //p'; }
now() { date +%s.%N; }

# The database in service: a small full extract.
"$ONCEONLY" kbo generate --enterprises 2000 --seed 1 --out "$WORK/base" > /dev/null 2>&1 ||
  fail "kbo generate (base)"
"$ONCEONLY" kbo import "$WORK/base" --db "$WORK/kbo.db" > /dev/null 2>&1 || fail "kbo import (base)"
base=$(db_digest "$WORK/kbo.db")
[ -n "$base" ] && [ "$base" = "$(manifest_digest "$WORK/base")" ] ||
  fail "the base import's digest ($base) is not its manifest's"
ok "base database: 2,000 enterprises, digest as in the manifest"

# The next full extract, and how long its import takes here (on a copy).
"$ONCEONLY" kbo generate --enterprises 20000 --seed 2 --extract-number 200 --out "$WORK/next" \
  > /dev/null 2>&1 || fail "kbo generate (next)"
cp "$WORK/kbo.db" "$WORK/timing.db"
t0=$(now)
"$ONCEONLY" kbo import "$WORK/next" --db "$WORK/timing.db" > /dev/null 2>&1 || fail "timing import"
took=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')
ok "a complete import of 20,000 enterprises takes ${took} s here"

# Killed at 5%, 25%, ..., 95% of that time: every time, the database is the base one, or (once
# the commit is through) the whole next one.
next=$(manifest_digest "$WORK/next")
restore_base() {
  rm -f "$WORK/kbo.db" "$WORK/kbo.db-wal" "$WORK/kbo.db-shm"
  "$ONCEONLY" kbo import "$WORK/base" --db "$WORK/kbo.db" > /dev/null 2>&1 || fail "re-import base"
}
before_commit=0
for share in 0.05 0.25 0.45 0.65 0.85 0.95; do
  delay=$(awk -v t="$took" -v s="$share" 'BEGIN { printf "%.3f", t * s }')
  "$ONCEONLY" kbo import "$WORK/next" --db "$WORK/kbo.db" > /dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2> /dev/null
  wait "$pid" 2> /dev/null
  after=$(db_digest "$WORK/kbo.db")
  if [ "$after" = "$base" ]; then
    before_commit=$((before_commit + 1))
    ok "killed after ${delay} s, before its commit: the previous database is intact and readable"
  elif [ "$after" = "$next" ]; then
    ok "killed after ${delay} s, after its commit: the database is the whole new extract"
    restore_base
  else
    fail "killed after ${delay} s: the database is neither the old one nor the new one ($after)"
  fi
done
[ "$before_commit" -ge 3 ] || fail "only $before_commit of 6 kills came before the commit"

# A first import (no database at the path yet) is built beside it and linked into place when
# complete: killed half-way, it leaves no database at the path, and the next run starts over.
fresh_delay=$(awk -v t="$took" 'BEGIN { printf "%.3f", t * 0.5 }')
"$ONCEONLY" kbo import "$WORK/next" --db "$WORK/fresh.db" > /dev/null 2>&1 &
pid=$!
sleep "$fresh_delay"
kill -9 "$pid" 2> /dev/null
wait "$pid" 2> /dev/null
if [ -e "$WORK/fresh.db" ]; then
  [ "$(db_digest "$WORK/fresh.db")" = "$next" ] ||
    fail "a first import killed after ${fresh_delay} s left a partial database at the path"
  ok "a first import killed after ${fresh_delay} s had already published the whole extract"
else
  [ -e "$WORK/fresh.db.importing" ] || fail "no trace of the killed first import's build file"
  ok "a first import killed after ${fresh_delay} s left no database at the path"
fi
rm -f "$WORK/fresh.db"
"$ONCEONLY" kbo import "$WORK/next" --db "$WORK/fresh.db" > /dev/null 2>&1 || fail "fresh re-run"
[ "$(db_digest "$WORK/fresh.db")" = "$next" ] || fail "the re-run first import's digest"
[ ! -e "$WORK/fresh.db.importing" ] || fail "the re-run left its build file behind"
ok "run again, the first import replaces the leftover build file and publishes the whole extract"

# Two first imports of the same path at once: one builds it, the other is refused at once
# (it names the lock), and the database at the path is the whole extract.
rm -f "$WORK/twice.db"
"$ONCEONLY" kbo import "$WORK/next" --db "$WORK/twice.db" > /dev/null 2> "$WORK/first.err" &
first=$!
sleep 0.2
"$ONCEONLY" kbo import "$WORK/base" --db "$WORK/twice.db" > /dev/null 2> "$WORK/second.err"
second_rc=$?
wait "$first" || fail "the first of two concurrent first imports failed: $(tail -1 "$WORK/first.err")"
[ "$second_rc" -ne 0 ] && grep -q "another import is building" "$WORK/second.err" ||
  fail "the second concurrent first import was not refused: $(tail -1 "$WORK/second.err")"
[ "$(db_digest "$WORK/twice.db")" = "$next" ] || fail "two concurrent first imports: digest"
ok "two first imports at once: one builds the database, the other is refused naming the lock"

# Run to the end, the import round-trips the 20,000 enterprises.
"$ONCEONLY" kbo import "$WORK/next" --db "$WORK/kbo.db" > /dev/null 2>&1 || fail "final import"
final=$("$ONCEONLY" kbo digest --db "$WORK/kbo.db")
grep -q "^enterprises 20000$" <<<"$final" || fail "final database: $final"
[ "$(sed -n 's/^digest //p' <<<"$final")" = "$(manifest_digest "$WORK/next")" ] ||
  fail "the final digest is not the manifest's"
ok "the complete import holds 20,000 enterprises, digest as in the manifest"

# The generator's permit and tax registries are those `registry seed` derives from the
# imported extract, row for row.
"$ONCEONLY" registry seed --kbo-db "$WORK/kbo.db" --db "$WORK/seeded.db" > /dev/null 2>&1 ||
  fail "registry seed"
dump() { sqlite3 "$1" "SELECT * FROM $2 ORDER BY 1" | sha256sum | cut -d' ' -f1; }
for table in tax_status permit; do
  [ "$(dump "$WORK/next/registries.db" $table)" = "$(dump "$WORK/seeded.db" $table)" ] ||
    fail "$table: the generator's registries.db differs from registry seed's"
  rows=$(sqlite3 "$WORK/seeded.db" "SELECT count(*) FROM $table")
  [ "$rows" -gt 0 ] || fail "$table: no rows"
  ok "$table: the generator's $rows rows are registry seed's"
done
echo "kbo import fault test: 6 kills ($before_commit before the commit), all consistent"
