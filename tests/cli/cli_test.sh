#!/usr/bin/env bash
# The `onceonly` CLI as an operator meets it: exit codes, and refusals that name the file, the
# line and the field. Usage: cli_test.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
BUILD=$1
SRC=$2
ONCEONLY="$BUILD/tools/onceonly"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
passed=0
failed=0

# expect NAME EXIT_CODE PATTERN -- COMMAND...: runs COMMAND, checks its exit code and that
# its stdout+stderr match the extended regex PATTERN.
expect() {
  local name=$1 code=$2 pattern=$3
  shift 4
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -Eq -- "$pattern" <<<"$out"; then
    echo "FAIL $name: exit $rc (want $code), output:"
    sed 's/^/    /' <<<"$out"
    echo "    (wanted /$pattern/)"
    failed=$((failed + 1))
  else
    echo "ok   $name"
    passed=$((passed + 1))
  fi
}

cp "$SRC/deploy/demo/policy.yaml" "$SRC/deploy/demo/gateway.yaml" "$WORK/"
expect "valid policy" 0 "policy OK \(4 members, 3 purposes, 3 grants\)" -- \
  "$ONCEONLY" config check "$WORK/policy.yaml"
"$ONCEONLY" pki init "$WORK/pki" >/dev/null
touch "$WORK/kbo.db" "$WORK/registries.db"
expect "valid gateway config checks its policy too" 0 "gateway config OK .*policy .* OK" -- \
  "$ONCEONLY" config check "$WORK/gateway.yaml"

sed 's/    purpose: permit-instruction/    purpose: permit-instructoin/' "$SRC/deploy/demo/policy.yaml" \
  > "$WORK/bad-policy.yaml"
line=$(grep -n "permit-instructoin" "$WORK/bad-policy.yaml" | cut -d: -f1)
expect "grant naming an unknown purpose" 1 \
  "bad-policy.yaml:$line: grants\[1\]\.purpose: no purpose \"permit-instructoin\"" -- \
  "$ONCEONLY" config check "$WORK/bad-policy.yaml"

sed 's/^listen_address:/listen_adress:/' "$SRC/deploy/demo/gateway.yaml" > "$WORK/bad-gateway.yaml"
line=$(grep -n "^listen_adress" "$WORK/bad-gateway.yaml" | cut -d: -f1)
expect "misspelt config field" 1 "bad-gateway.yaml:$line: listen_adress: unknown field" -- \
  "$ONCEONLY" config check "$WORK/bad-gateway.yaml"

sed 's/categories: \[company.identity, company.addresses, company.establishments/categories: [company.identity, company.adresses, company.establishments/' \
  "$SRC/deploy/demo/policy.yaml" > "$WORK/bad-category.yaml"
expect "unknown category in a grant" 1 \
  "bad-category.yaml:[0-9]+: grants\[1\]\.categories\[1\]: unknown category \"company.adresses\"" -- \
  "$ONCEONLY" config check "$WORK/bad-category.yaml"

printf 'members:\n  - id: [unclosed\n' > "$WORK/syntax.yaml"
expect "YAML syntax error" 1 "syntax.yaml:[0-9]+:[0-9]+: YAML syntax" -- \
  "$ONCEONLY" config check "$WORK/syntax.yaml"

sed 's#cert_file: pki/server.crt#cert_file: pki/nope.crt#' "$SRC/deploy/demo/gateway.yaml" > "$WORK/nocert.yaml"
expect "config naming a missing certificate" 1 "nocert.yaml: tls.cert_file: cannot read .*pki/nope.crt" -- \
  "$ONCEONLY" config check "$WORK/nocert.yaml"

expect "missing config file" 1 "nope.yaml: No such file" -- \
  "$ONCEONLY" config check "$WORK/nope.yaml"

mkdir -p "$WORK/empty-extract"
expect "KBO extract without meta.csv" 1 "meta.csv" -- \
  "$ONCEONLY" kbo import "$WORK/empty-extract" --db "$WORK/kbo.db"

# ---- kbo generate / digest: the generator's manifest agrees with what an import holds ----
manifest_digest() { grep -o '"digest": "[0-9a-f]*"' "$1/manifest.json" | tail -1 | cut -d'"' -f4; }
expect "kbo generate writes a full extract (real code.csv found by default)" 0 \
  "wrote full extract 140 .*" -- "$ONCEONLY" kbo generate --enterprises 500 --out "$WORK/gen"
"$ONCEONLY" kbo import "$WORK/gen" --db "$WORK/gen.db" >/dev/null 2>&1
expect "kbo digest of the imported extract matches the manifest" 0 \
  "^digest $(manifest_digest "$WORK/gen")$" -- "$ONCEONLY" kbo digest --db "$WORK/gen.db"
expect "kbo digest counts the enterprises" 0 "^enterprises 500$" -- \
  "$ONCEONLY" kbo digest --db "$WORK/gen.db"
expect "kbo generate writes an update against it" 0 "wrote update extract 141 .*" -- \
  "$ONCEONLY" kbo generate --update-from "$WORK/gen" --changes 50 --out "$WORK/gen-update"
"$ONCEONLY" kbo import "$WORK/gen-update" --db "$WORK/gen.db" >/dev/null 2>&1
expect "kbo digest after the update matches the update's manifest" 0 \
  "^digest $(manifest_digest "$WORK/gen-update")$" -- "$ONCEONLY" kbo digest --db "$WORK/gen.db"
expect "kbo generate checks its numbers" 2 "--enterprises takes a whole number from 1 to" -- \
  "$ONCEONLY" kbo generate --enterprises 0 --out "$WORK/gen0"
expect "kbo generate names a missing code table" 1 "nope/code.csv" -- \
  "$ONCEONLY" kbo generate --enterprises 10 --out "$WORK/gen1" --codes "$WORK/nope/code.csv"
expect "kbo digest refuses a database without KBO data" 1 "registries.db holds no KBO data" -- \
  "$ONCEONLY" kbo digest --db "$WORK/registries.db"

expect "dossier get without purpose" 2 "needs --purpose" -- \
  "$ONCEONLY" dossier get 1029.028.161 --category company.identity --pki "$WORK" --member x

expect "unknown flag lists the known ones" 2 "unknown flag --colour; known:" -- \
  "$ONCEONLY" dossier get 1029.028.161 --colour red

expect "pki init" 0 "dev PKI in" -- "$ONCEONLY" pki init "$WORK/pki2"
expect "pki init refuses to overwrite the CA" 1 "ca.key.*--force" -- "$ONCEONLY" pki init "$WORK/pki2"
expect "member id is checked" 1 "Bad_Id" -- "$ONCEONLY" pki issue "$WORK/pki2" --member Bad_Id
expect "member certificate" 0 "members/brussels-economy.crt" -- \
  "$ONCEONLY" pki issue "$WORK/pki2" --member brussels-economy

echo '{"receiptJson":"e30=","signature":"AAAA"}' > "$WORK/receipt.json"
expect "a receipt is checked against a key the verifier brings" 2 "needs --public-key" -- \
  "$ONCEONLY" consent verify-receipt "$WORK/receipt.json"
expect "a receipt not signed by the gateway's key is INVALID" 1 "INVALID" -- \
  "$ONCEONLY" consent verify-receipt "$WORK/receipt.json" --public-key "$WORK/pki/checkpoint.pub"

expect "unknown command" 2 "unknown command frobnicate" -- "$ONCEONLY" frobnicate

# ---- audit: a gateway with no registries still logs every AuditService call -------------
mkdir -p "$WORK/audit"
cp "$SRC/deploy/demo/policy.yaml" "$WORK/audit/"
"$ONCEONLY" pki init "$WORK/audit/pki" >/dev/null
"$ONCEONLY" pki issue "$WORK/audit/pki" --member audit-office >/dev/null
"$ONCEONLY" pki issue "$WORK/audit/pki" --member brussels-economy >/dev/null
cat > "$WORK/audit/gateway.yaml" <<'YAML'
listen_address: "localhost:0"
tls: { cert_file: pki/server.crt, key_file: pki/server.key, ca_file: pki/ca.crt }
policy_file: policy.yaml
audit: { sqlite_path: audit.db, checkpoint_every: 4 }
authz_store: { sqlite_path: authz.db }
signing_key_file: pki/checkpoint.key
YAML
"$BUILD/gateway/onceonly-gateway" --config "$WORK/audit/gateway.yaml" \
  --port-file "$WORK/audit/port" 2>"$WORK/audit/gateway.log" &
GATEWAY=$!
for _ in $(seq 1 100); do [ -s "$WORK/audit/port" ] && break; sleep 0.1; done
AS_AUDITOR=(--gateway "localhost:$(cat "$WORK/audit/port")" --pki "$WORK/audit/pki" --member audit-office)
for _ in 1 2 3 4 5 6 7 8 9; do "$ONCEONLY" audit checkpoint "${AS_AUDITOR[@]}" >/dev/null; done
expect "a consumer cannot export the log" 1 "ROLE_REQUIRED" -- \
  "$ONCEONLY" audit export --gateway "localhost:$(cat "$WORK/audit/port")" \
  --pki "$WORK/audit/pki" --member brussels-economy
expect "the auditor verifies the live log" 0 "log gateway-1 verified from localhost" -- \
  "$ONCEONLY" audit verify "${AS_AUDITOR[@]}" --public-key "$WORK/audit/pki/checkpoint.pub"
expect "audit query through the gateway" 0 "audit-office +GetCheckpoint" -- \
  "$ONCEONLY" audit query "${AS_AUDITOR[@]}" --decision ALLOW --limit 3
expect "history names the firm the portal acts for" 2 "needs? .*--acting-for|--acting-for NUMBER" -- \
  "$ONCEONLY" audit history 0403.170.701 "${AS_AUDITOR[@]}"
expect "a refused export leaves no file" 1 "ROLE_REQUIRED" -- \
  "$ONCEONLY" audit export --gateway "localhost:$(cat "$WORK/audit/port")" \
  --pki "$WORK/audit/pki" --member brussels-economy --out "$WORK/refused.jsonl"
if compgen -G "$WORK/refused.jsonl*" >/dev/null; then
  echo "FAIL a refused export left a file"; failed=$((failed + 1))
else
  echo "ok   no file after a refused export"; passed=$((passed + 1))
fi
# Files named on the command line are never overwritten, nor written through a symlink.
echo "the auditor's own checkpoint" > "$WORK/kept-checkpoint.json"
expect "audit checkpoint --out refuses an existing file, naming it" 1 \
  "kept-checkpoint.json already exists; .*remove it, or give another name" -- \
  "$ONCEONLY" audit checkpoint "${AS_AUDITOR[@]}" --out "$WORK/kept-checkpoint.json"
ln -s "$WORK/kept-checkpoint.json" "$WORK/planted-link.json"
expect "audit export --out refuses a symlink planted at the path" 1 "planted-link.json already exists" -- \
  "$ONCEONLY" audit export "${AS_AUDITOR[@]}" --out "$WORK/planted-link.json"
if [ "$(cat "$WORK/kept-checkpoint.json")" = "the auditor's own checkpoint" ]; then
  echo "ok   the file at the path, and behind the link, is untouched"; passed=$((passed + 1))
else
  echo "FAIL an existing file was overwritten"; failed=$((failed + 1))
fi
expect "a second gateway refuses an existing --port-file before it starts" 1 \
  "--port-file: .*audit/port already exists" -- \
  "$BUILD/gateway/onceonly-gateway" --config "$WORK/audit/gateway.yaml" --port-file "$WORK/audit/port"
kill -TERM $GATEWAY; wait $GATEWAY
DB="$WORK/audit/audit.db"
PUB=(--public-key "$WORK/audit/pki/checkpoint.pub")
expect "verify needs the public key" 2 "needs --public-key" -- "$ONCEONLY" audit verify --db "$DB"
expect "an untouched log verifies" 0 "verified .* 13 entries .* checkpoints" -- \
  "$ONCEONLY" audit verify --db "$DB" "${PUB[@]}"
expect "export" 0 "exported 13 entries" -- "$ONCEONLY" audit export --db "$DB" --out "$WORK/export.jsonl"
mode=$(stat -c %a "$WORK/export.jsonl")
if [ "$mode" = 600 ]; then
  echo "ok   an export is created 0600"; passed=$((passed + 1))
else
  echo "FAIL an export is created $mode, not 600"; failed=$((failed + 1))
fi
expect "an export verifies" 0 "verified from .*export.jsonl: 13 entries" -- \
  "$ONCEONLY" audit verify --file "$WORK/export.jsonl" "${PUB[@]}"
expect "query table" 0 "11 +[0-9: -]+ audit-office +(ExportAccessLog|QueryAccessLog|GetCheckpoint)" -- \
  "$ONCEONLY" audit query --db "$DB"
expect "query flags are checked" 2 "--decision takes ALLOW or DENY" -- \
  "$ONCEONLY" audit query --db "$DB" --decision maybe
expect "fresh records are not pruned" 0 "pruned the content of 0 records" -- \
  "$ONCEONLY" audit prune --db "$DB" --older-than 24h
cp "$DB" "$WORK/tampered.db"
sqlite3 "$WORK/tampered.db" \
  "UPDATE access_log SET record = CAST(substr(record, 1, 9) || 'Z' || substr(record, 11) AS BLOB) WHERE leaf_index = 5"
expect "one changed byte is named" 1 "FAILED .*entry 5:" -- \
  "$ONCEONLY" audit verify --db "$WORK/tampered.db" "${PUB[@]}"
cp "$DB" "$WORK/deleted.db"
sqlite3 "$WORK/deleted.db" "DELETE FROM access_log WHERE leaf_index = 7"
expect "a deleted record is named" 1 "FAILED .*entry 7 is missing" -- \
  "$ONCEONLY" audit verify --db "$WORK/deleted.db" "${PUB[@]}"
# Line 5 is entry 3; line 6, the checkpoint of size 4, waits; line 7 (now 6) is entry 4.
sed -n '1,4p;6,$p' "$WORK/export.jsonl" > "$WORK/cut.jsonl"
expect "a line cut from an export is named" 1 "cut.jsonl:6: entry 3 is missing" -- \
  "$ONCEONLY" audit verify --file "$WORK/cut.jsonl" "${PUB[@]}"
expect "a key that is not a public key is named, not taken for tampering" 2 \
  "ca.crt is not an Ed25519 public key" -- \
  "$ONCEONLY" audit verify --db "$DB" --public-key "$WORK/audit/pki/ca.crt"
expect "prune refuses a file that is not an access log" 1 "no onceonly access log|No such file|unable to open" -- \
  "$ONCEONLY" audit prune --db "$WORK/kbo.db" --older-than 24h
expect "prune refuses a missing file" 1 "nope.db" -- \
  "$ONCEONLY" audit prune --db "$WORK/nope.db" --older-than 24h
[ ! -e "$WORK/nope.db" ] || { echo "FAIL prune created nope.db"; failed=$((failed + 1)); }
cp "$DB" "$WORK/unsigned.db"
sqlite3 "$WORK/unsigned.db" "DELETE FROM access_log_checkpoint"
out=$("$ONCEONLY" audit verify --db "$WORK/unsigned.db" "${PUB[@]}" 2>/dev/null); rc=$?
if [ "$rc" -eq 1 ] && ! grep -q verified <<<"$out"; then
  echo "ok   a log stripped of its checkpoints fails, and stdout does not say verified"
  passed=$((passed + 1))
else
  echo "FAIL a log without checkpoints: exit $rc, stdout: $out"; failed=$((failed + 1))
fi
"$ONCEONLY" pki init "$WORK/other-pki" >/dev/null
expect "another key's verify fails on the first checkpoint" 1 "signature does not verify" -- \
  "$ONCEONLY" audit verify --db "$DB" --public-key "$WORK/other-pki/checkpoint.pub"

# ---- bench load: closed and open loop against a live gateway with a small generated KBO --
mkdir -p "$WORK/load"
cp -r "$WORK/audit/pki" "$WORK/audit/policy.yaml" "$WORK/audit/gateway.yaml" "$WORK/load/"
"$ONCEONLY" pki issue "$WORK/load/pki" --member firm-portal >/dev/null
"$ONCEONLY" kbo generate --enterprises 500 --out "$WORK/load/extract" >/dev/null 2>&1
"$ONCEONLY" kbo import "$WORK/load/extract" --db "$WORK/load/kbo.db" >/dev/null 2>&1
sqlite3 "$WORK/load/kbo.db" "SELECT enterprise_number FROM enterprise LIMIT 50" > "$WORK/load/numbers"
printf 'registries:\n  - { name: companies, kbo: { sqlite_path: kbo.db } }\n' >> "$WORK/load/gateway.yaml"
"$BUILD/gateway/onceonly-gateway" --config "$WORK/load/gateway.yaml" \
  --port-file "$WORK/load/port" 2>"$WORK/load/gateway.log" &
GATEWAY=$!
for _ in $(seq 1 100); do [ -s "$WORK/load/port" ] && break; sleep 0.1; done
LOAD=("$ONCEONLY" bench load --target "localhost:$(cat "$WORK/load/port")" --pki "$WORK/load/pki"
      --member brussels-economy --server-name localhost --warmup 0.2s --duration 1s
      --numbers-file "$WORK/load/numbers" --json "$WORK/load/results.jsonl")
expect "bench load, closed loop" 0 "closed dossier: [0-9]+ calls/s .*p99 [0-9.]+.*OK.: [0-9]+" -- \
  "${LOAD[@]}" --concurrency 8 --label closed
expect "bench load, open loop" 0 "open dossier: (19[0-9]|20[0-9]) calls/s .*p99.9 [0-9.]+" -- \
  "${LOAD[@]}" --rate 200 --label open
expect "bench load writes one JSON line per run" 0 '"mode": "open".*"throughput_per_s"' -- \
  cat "$WORK/load/results.jsonl"
expect "bench load counts partial dossiers apart" 1 'PARTIAL.: [0-9]+' -- \
  "${LOAD[@]}" --concurrency 2 --category tax.good_standing --label partial
expect "bench load flags are checked" 2 "not both" -- \
  "${LOAD[@]}" --rate 10 --concurrency 2
ln -s "$WORK/kept-checkpoint.json" "$WORK/load/linked.jsonl"
expect "bench load --json appends, but not through a symlink" 1 "linked.jsonl is a symbolic link" -- \
  "$ONCEONLY" bench load --target "localhost:$(cat "$WORK/load/port")" --pki "$WORK/load/pki" \
  --member brussels-economy --server-name localhost --warmup 0s --duration 0.2s \
  --numbers-file "$WORK/load/numbers" --concurrency 1 --json "$WORK/load/linked.jsonl"
# A receipt is handed out once: --receipt-out is checked before the call.
AS_PORTAL=(--gateway "localhost:$(cat "$WORK/load/port")" --pki "$WORK/load/pki" --member firm-portal)
GRANT=("$ONCEONLY" consent grant 0552.627.113 "${AS_PORTAL[@]}" --grantee brussels-economy
       --purpose sole-trader-support --category company.identity --until 2030-01-01T00:00:00Z)
echo "an earlier receipt" > "$WORK/load/receipt.json"
expect "consent grant refuses an existing --receipt-out before the call" 1 \
  "receipt.json already exists" -- "${GRANT[@]}" --receipt-out "$WORK/load/receipt.json"
expect "so no consent was recorded" 0 "\(no consents\)" -- \
  "$ONCEONLY" consent list 0552.627.113 "${AS_PORTAL[@]}"
expect "consent grant writes a new receipt" 0 "receipt written to .*new-receipt.json" -- \
  "${GRANT[@]}" --receipt-out "$WORK/load/new-receipt.json"
expect "the receipt verifies against the gateway's key" 0 "signature valid" -- \
  "$ONCEONLY" consent verify-receipt "$WORK/load/new-receipt.json" \
  --public-key "$WORK/load/pki/checkpoint.pub"
mode=$(stat -c %a "$WORK/load/new-receipt.json")
if [ "$mode" = 600 ] && [ "$(cat "$WORK/load/receipt.json")" = "an earlier receipt" ]; then
  echo "ok   the receipt is 0600 and the earlier one untouched"; passed=$((passed + 1))
else
  echo "FAIL receipt mode $mode, or the earlier receipt was overwritten"; failed=$((failed + 1))
fi
kill -TERM $GATEWAY; wait $GATEWAY
# The plaintext mode, which make bench uses to compare with h2load, against its test server.
"$BUILD/bench/plaintext_registry" --db "$WORK/load/kbo.db" --port-file "$WORK/load/plaintext.port" \
  2>"$WORK/load/plaintext.log" &
PLAINTEXT=$!
for _ in $(seq 1 100); do [ -s "$WORK/load/plaintext.port" ] && break; sleep 0.1; done
expect "bench load --plaintext reads enterprises" 0 "enterprise: [0-9]+ calls/s .*OK.: [0-9]+" -- \
  "$ONCEONLY" bench load --plaintext --call enterprise --concurrency 4 --warmup 0.2s --duration 1s \
  --target "127.0.0.1:$(cat "$WORK/load/plaintext.port")" --numbers-file "$WORK/load/numbers"
expect "bench load --plaintext refuses credentials" 2 "plaintext is for --call enterprise" -- \
  "$ONCEONLY" bench load --plaintext --call enterprise --pki "$WORK/load/pki" \
  --target "127.0.0.1:$(cat "$WORK/load/plaintext.port")"
kill -TERM $PLAINTEXT; wait $PLAINTEXT || true

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
