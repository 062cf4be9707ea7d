#!/usr/bin/env bash
# The demo stack on embedded defaults: dev PKI, registries from the real KBO extract, SQLite
# stores, the gateway on mTLS; then one real request and the access record it left.
set -euo pipefail

BUILD_DIR=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="$ROOT/$BUILD_DIR"
ONCEONLY="$BIN/tools/onceonly"
EXTRACT=${ONCEONLY_KBO_EXTRACT:-$ROOT/../shared/data/kbo/KboOpenData_0147_2025_10_12_Update}
RUN="$ROOT/demo-run"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

[ -d "$EXTRACT" ] || { echo "demo: KBO extract not found at $EXTRACT (set ONCEONLY_KBO_EXTRACT)"; exit 1; }

step "fresh demo directory $RUN"
rm -rf "$RUN" && mkdir -p "$RUN"
cp "$ROOT/deploy/demo/gateway.yaml" "$ROOT/deploy/demo/policy.yaml" "$RUN/"

step "dev PKI: CA, gateway certificate, checkpoint key, member certificate"
"$ONCEONLY" pki init "$RUN/pki"
"$ONCEONLY" pki issue "$RUN/pki" --member brussels-economy
"$ONCEONLY" pki issue "$RUN/pki" --member firm-portal
"$ONCEONLY" pki issue "$RUN/pki" --member audit-office

step "companies registry: import the KBO open data extract ($(basename "$EXTRACT"))"
"$ONCEONLY" kbo import "$EXTRACT" --db "$RUN/kbo.db" 2>"$RUN/import.log"
tail -1 "$RUN/import.log"

step "permits and tax registries: sample data for the enterprises of the extract"
"$ONCEONLY" registry seed --kbo-db "$RUN/kbo.db" --db "$RUN/registries.db"

step "config check"
"$ONCEONLY" config check "$RUN/gateway.yaml"

step "start the gateway (mTLS only)"
"$BIN/gateway/onceonly-gateway" --config "$RUN/gateway.yaml" --port-file "$RUN/port" \
  2>"$RUN/gateway.log" &
GATEWAY_PID=$!
trap 'kill $GATEWAY_PID 2>/dev/null; wait $GATEWAY_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  [ -s "$RUN/port" ] && break
  kill -0 $GATEWAY_PID 2>/dev/null || { cat "$RUN/gateway.log"; exit 1; }
  sleep 0.1
done
[ -s "$RUN/port" ] || { echo "demo: gateway did not start"; cat "$RUN/gateway.log"; exit 1; }
PORT=$(cat "$RUN/port")
echo "gateway pid $GATEWAY_PID on localhost:$PORT"

step "GetDossier 1029.028.161 as brussels-economy, purpose public-procurement, over mTLS"
"$ONCEONLY" dossier get 1029.028.161 --gateway "localhost:$PORT" \
  --pki "$RUN/pki" --member brussels-economy \
  --purpose public-procurement \
  --category company.identity --category company.addresses --category company.activities \
  --category permits.environment --category permits.urbanism --category tax.good_standing \
  --case-ref ECO/2025/00042 --user civil-servant-7f3a

step "the access record it left (durable before the answer went out)"
"$ONCEONLY" audit show --db "$RUN/audit.db" --last 1

step "a request beyond the grant is refused, and logged too"
"$ONCEONLY" dossier get 1029.028.161 --gateway "localhost:$PORT" \
  --pki "$RUN/pki" --member brussels-economy \
  --purpose public-procurement --category company.identity --category tax.details || true
"$ONCEONLY" audit show --db "$RUN/audit.db" --last 1

step "a sole trader is a natural person: its data needs its consent"
AS_ECONOMY=(--gateway "localhost:$PORT" --pki "$RUN/pki" --member brussels-economy)
AS_PORTAL=(--gateway "localhost:$PORT" --pki "$RUN/pki" --member firm-portal)
"$ONCEONLY" dossier get 0552.627.113 "${AS_ECONOMY[@]}" \
  --purpose sole-trader-support --category company.identity || true
echo "-- the firm portal records the sole trader's consent, and gets a signed receipt:"
"$ONCEONLY" consent grant 0552.627.113 "${AS_PORTAL[@]}" --grantee brussels-economy \
  --purpose sole-trader-support --category company.identity --category tax.good_standing \
  --until 2030-01-01T00:00:00Z --receipt-out "$RUN/receipt.json"
"$ONCEONLY" consent verify-receipt "$RUN/receipt.json" --public-key "$RUN/pki/checkpoint.pub" \
  | head -1
echo "-- and now the same request is served:"
"$ONCEONLY" dossier get 0552.627.113 "${AS_ECONOMY[@]}" \
  --purpose sole-trader-support --category company.identity --category tax.good_standing

step "transparency: the firm sees who read its data, and why"
"$ONCEONLY" audit history 0552.627.113 --acting-for 0552.627.113 "${AS_PORTAL[@]}"

step "auditing: an auditor queries the log, keeps a signed checkpoint, and verifies"
AS_AUDITOR=(--gateway "localhost:$PORT" --pki "$RUN/pki" --member audit-office)
"$ONCEONLY" audit query "${AS_AUDITOR[@]}" --limit 20
for _ in $(seq 1 30); do  # checkpoints are signed every second; wait for one that covers us
  rm -f "$RUN/trusted-checkpoint.json"  # --out never overwrites: this one was too early
  "$ONCEONLY" audit checkpoint "${AS_AUDITOR[@]}" --out "$RUN/trusted-checkpoint.json" >/dev/null
  grep -q '"tree_size": "[1-9]' "$RUN/trusted-checkpoint.json" && break
  sleep 0.2
done
cat "$RUN/trusted-checkpoint.json"
"$ONCEONLY" audit verify "${AS_AUDITOR[@]}" --public-key "$RUN/pki/checkpoint.pub" \
  --trusted-checkpoint "$RUN/trusted-checkpoint.json"
echo "-- an export verifies offline, and one changed byte is caught:"
"$ONCEONLY" audit export --db "$RUN/audit.db" --out "$RUN/audit-export.jsonl"
"$ONCEONLY" audit verify --file "$RUN/audit-export.jsonl" --public-key "$RUN/pki/checkpoint.pub"
sed '3s/brussels-economy/brussels-ecOnomy/' "$RUN/audit-export.jsonl" > "$RUN/tampered.jsonl"
if "$ONCEONLY" audit verify --file "$RUN/tampered.jsonl" --public-key "$RUN/pki/checkpoint.pub"; then
  echo "demo: a tampered export verified"; exit 1
fi

step "done"
echo "The gateway is stopped now. Files are in $RUN; run it again with:"
echo "  $BIN/gateway/onceonly-gateway --config $RUN/gateway.yaml"
