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

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
