#!/usr/bin/env bash
# `make bench`: what the gateway costs on every call, against what users would put in front
# of a registry instead. One run, one load generator (`onceonly bench load`, closed loop,
# mTLS), one KBO-backed company registry, every mode measured ROUNDS times, interleaved:
#   a  GetEnterprise straight to onceonly-registry                         (the baseline)
#   b  the same through nginx grpc_pass, TLS to the client and to the registry
#   c  GetDossier (the grant's four company categories) through the gateway to that remote
#      registry: mTLS, authorisation and the durable audit log, no cache
#   d  the same through the gateway with its in-process KBO connector (the default), no cache
#   e  d with a warm cache (the callers accept 5-minute-old data)
#   C, D, E  c, d and e for the whole enterprise (all five company categories; the demo grant
#      covers four, which leave out establishments, and the bench widens it)
# Writes bench/results/federation-<date>.md (a table with the ratios c/b, d/a, e/a and p50/p99)
# and a gnuplot chart beside it. Env: ROUNDS (5), SECONDS_PER_RUN (10), CONCURRENCY (64),
# ENTERPRISES in the generated register (100000).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD_DIR:-$ROOT/build}"
ONCEONLY="$BUILD/tools/onceonly"
REGISTRY="$BUILD/connectors/onceonly-registry"
PLAINTEXT="$BUILD/bench/plaintext_registry"
GATEWAY="$BUILD/gateway/onceonly-gateway"
ROUNDS="${ROUNDS:-5}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-10}"
CONCURRENCY="${CONCURRENCY:-64}"
ENTERPRISES="${ENTERPRISES:-100000}"
WORK="${ONCEONLY_BENCH_DIR:-$BUILD/federation-bench}"
RESULTS="$ROOT/bench/results"
STAMP="$(date -u +%Y-%m-%d)"

for tool in "$ONCEONLY" "$REGISTRY" "$GATEWAY" "$PLAINTEXT" nginx gnuplot sqlite3 h2load; do
  command -v "$tool" > /dev/null || { echo "bench: $tool not found (make bench installs it)"; exit 1; }
done

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2> /dev/null || true
  wait 2> /dev/null || true
}
trap cleanup EXIT
wait_port() {  # FILE: waits for a process to write its port there
  for _ in $(seq 1 100); do [ -s "$1" ] && return 0; sleep 0.1; done
  echo "bench: no port in $1"; exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

rm -rf "$WORK" && mkdir -p "$WORK" "$RESULTS"
cd "$WORK"
echo "bench: $ENTERPRISES enterprises, $ROUNDS rounds of $SECONDS_PER_RUN s per mode, $CONCURRENCY in flight, $(nproc) cores"

echo "== setting up: PKI, a generated KBO register, registry, nginx, three gateways"
"$ONCEONLY" pki init pki > /dev/null
"$ONCEONLY" pki issue pki --member brussels-economy > /dev/null
"$ONCEONLY" pki issue-server pki --name companies --dns localhost > /dev/null
"$ONCEONLY" pki issue-server pki --name nginx --dns localhost > /dev/null
"$ONCEONLY" kbo generate --enterprises "$ENTERPRISES" --out kbo-extract --registries registries.db > /dev/null 2>&1
"$ONCEONLY" kbo import kbo-extract --db kbo.db > /dev/null 2>&1
# 1,000 enterprises the calls cycle through.
sqlite3 kbo.db "SELECT enterprise_number FROM enterprise ORDER BY random() LIMIT 1000" > numbers.txt
# The demo policy, with establishments added to brussels-economy's public-procurement grant,
# so that modes C, D and E can ask for the whole enterprise.
sed 's/categories: \[company.identity, company.addresses, company.activities, company.contacts,$/&\
                 company.establishments,/' "$ROOT/deploy/demo/policy.yaml" > policy.yaml
grep -q "company.establishments,$" policy.yaml || { echo "bench: could not widen the demo grant"; exit 1; }

"$REGISTRY" --registry companies --db kbo.db --listen 127.0.0.1:0 --port-file registry.port \
  --cert pki/servers/companies.crt --key pki/servers/companies.key --ca pki/ca.crt 2> registry.log &
pids+=($!)
wait_port registry.port
REGISTRY_PORT=$(cat registry.port)

NGINX_PORT=$(free_port)
cat > nginx.conf <<NGINX
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream registry { server 127.0.0.1:$REGISTRY_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX_PORT ssl http2;
    ssl_certificate $WORK/pki/servers/nginx.crt;
    ssl_certificate_key $WORK/pki/servers/nginx.key;
    ssl_client_certificate $WORK/pki/ca.crt;
    ssl_verify_client on;
    location / {
      grpc_pass grpcs://registry;
      grpc_ssl_certificate $WORK/pki/server.crt;
      grpc_ssl_certificate_key $WORK/pki/server.key;
      grpc_ssl_trusted_certificate $WORK/pki/ca.crt;
      grpc_ssl_verify on;
      grpc_ssl_name localhost;
      grpc_ssl_session_reuse on;
    }
  }
}
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK"

gateway() {  # NAME COMPANIES_SOURCE_YAML [EXTRA_YAML]: starts a gateway, prints its port
  local name=$1 source=$2 extra=${3:-}
  cat > "$name.yaml" <<YAML
instance_name: $name
listen_address: "127.0.0.1:0"
tls: { cert_file: pki/server.crt, key_file: pki/server.key, ca_file: pki/ca.crt }
policy_file: policy.yaml
audit: { sqlite_path: $name-audit.db }
authz_store: { sqlite_path: $name-authz.db }
signing_key_file: pki/checkpoint.key
member_limits: { max_concurrent_calls: 100000 }
registries:
  - name: companies
    $source
    $extra
YAML
  "$GATEWAY" --config "$name.yaml" --port-file "$name.port" 2> "$name.log" &
  pids+=($!)
  wait_port "$name.port"
}
gateway gateway-remote "remote: { address: \"localhost:$REGISTRY_PORT\", tls: { cert_file: pki/server.crt, key_file: pki/server.key, ca_file: pki/ca.crt } }"
gateway gateway-kbo "kbo: { sqlite_path: kbo.db }"
gateway gateway-cached "kbo: { sqlite_path: kbo.db }" "cache_ttl: 300s"

AS_GATEWAY=(--cert pki/server.crt --key pki/server.key --ca pki/ca.crt --server-name localhost)
AS_MEMBER=(--pki pki --member brussels-economy --server-name localhost)
# The company categories the demo grant gives brussels-economy for public-procurement: the
# dossier carries what GetEnterprise does, less the establishments the grant does not cover.
COMPANY=(--category company.identity --category company.addresses --category company.activities
         --category company.contacts)
# All five company categories: the whole enterprise, as GetEnterprise returns it.
WHOLE=("${COMPANY[@]}" --category company.establishments)
COMMON=(--numbers-file numbers.txt --concurrency "$CONCURRENCY" --duration "${SECONDS_PER_RUN}s"
        --warmup 2s --json results.jsonl)
run() {  # MODE ROUND
  case $1 in
    a) "$ONCEONLY" bench load --call enterprise --target "localhost:$REGISTRY_PORT" "${AS_GATEWAY[@]}" "${COMMON[@]}" --label "a/$2" ;;
    b) "$ONCEONLY" bench load --call enterprise --target "localhost:$NGINX_PORT" "${AS_GATEWAY[@]}" "${COMMON[@]}" --label "b/$2" ;;
    c) "$ONCEONLY" bench load --call dossier --target "localhost:$(cat gateway-remote.port)" "${AS_MEMBER[@]}" "${COMPANY[@]}" "${COMMON[@]}" --label "c/$2" ;;
    d) "$ONCEONLY" bench load --call dossier --target "localhost:$(cat gateway-kbo.port)" "${AS_MEMBER[@]}" "${COMPANY[@]}" "${COMMON[@]}" --label "d/$2" ;;
    e) "$ONCEONLY" bench load --call dossier --max-age 300s --target "localhost:$(cat gateway-cached.port)" "${AS_MEMBER[@]}" "${COMPANY[@]}" "${COMMON[@]}" --label "e/$2" ;;
    C) "$ONCEONLY" bench load --call dossier --target "localhost:$(cat gateway-remote.port)" "${AS_MEMBER[@]}" "${WHOLE[@]}" "${COMMON[@]}" --label "C/$2" ;;
    D) "$ONCEONLY" bench load --call dossier --target "localhost:$(cat gateway-kbo.port)" "${AS_MEMBER[@]}" "${WHOLE[@]}" "${COMMON[@]}" --label "D/$2" ;;
    E) "$ONCEONLY" bench load --call dossier --max-age 300s --target "localhost:$(cat gateway-cached.port)" "${AS_MEMBER[@]}" "${WHOLE[@]}" "${COMMON[@]}" --label "E/$2" ;;
  esac
}

echo "== warming the cache of mode e (every enterprise once)"
"$ONCEONLY" bench load --call dossier --max-age 300s --target "localhost:$(cat gateway-cached.port)" \
  "${AS_MEMBER[@]}" "${COMPANY[@]}" --numbers-file numbers.txt --concurrency 16 --duration 3s --warmup 0s > /dev/null 2>&1
rm -f results.jsonl

for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round of $ROUNDS"
  for mode in a b c d e C D E; do run "$mode" "$round" 2> /dev/null; done
done

# Is the load generator the bottleneck? h2load cannot present a client certificate, so both
# drive a plaintext copy of the registry with the same pre-framed GetEnterprise, 64 streams on
# one connection, interleaved; the CPU each client spends per call is measured too.
echo "== load generator check: onceonly bench load and h2load, plaintext, the same call"
"$PLAINTEXT" --db kbo.db --port-file plaintext.port 2> plaintext.log &
pids+=($!)
wait_port plaintext.port
PLAINTEXT_PORT=$(cat plaintext.port)
CHECK_NUMBER=$(head -1 numbers.txt)
python3 - "$CHECK_NUMBER" > getenterprise.grpc <<'PY'
import struct, sys
number = sys.argv[1].encode()
request = b"\x0a" + bytes([len(number)]) + number + b"\x12\x02fr"  # GetEnterpriseRequest
sys.stdout.buffer.write(b"\x00" + struct.pack(">I", len(request)) + request)  # gRPC frame
PY
cpu_of() {  # COMMAND...: runs it, then prints the CPU seconds it used on stderr's last line
  python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("cpu_s %.3f" % (r.ru_utime + r.ru_stime), file=sys.stderr)' "$@"
}
# The size of h2load's answers, from a run with no warm-up (whose bytes the timed runs count
# but whose calls they do not): h2load counts HTTP 200s, which gRPC errors are too.
h2load -n 256 -c 1 -m 16 -t 1 -d getenterprise.grpc -H 'content-type: application/grpc' \
  -H 'te: trailers' "http://127.0.0.1:$PLAINTEXT_PORT/onceonly.registry.v1.CompanyRegistry/GetEnterprise" \
  > h2load-size.out
rm -f loadgen.jsonl
for round in $(seq 1 "$ROUNDS"); do
  cpu_of h2load -c 1 -m "$CONCURRENCY" -t 1 -D "$SECONDS_PER_RUN" --warm-up-time 2 \
    -d getenterprise.grpc -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://127.0.0.1:$PLAINTEXT_PORT/onceonly.registry.v1.CompanyRegistry/GetEnterprise" \
    > h2load.out 2> h2load.err
  python3 - "$SECONDS_PER_RUN" >> loadgen.jsonl <<'PY'
import json, re, sys
out, err = open("h2load.out").read(), open("h2load.err").read()
done = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed", out)
rate = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
sized = open("h2load-size.out").read()
data = re.search(r"traffic: .*?, ([\d.]+)(\w+) \((\d+)\) data", sized)
answered = int(re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", sized).group(1))
calls = int(done.group(1))
print(json.dumps({"tool": "h2load", "ok": calls, "failed": int(done.group(2)),
                  "throughput_per_s": float(rate.group(1)),
                  "bytes_per_call": int(data.group(3)) / max(answered, 1),
                  "cpu_s": float(re.search(r"cpu_s ([\d.]+)", err).group(1))}))
PY
  cpu_of "$ONCEONLY" bench load --plaintext --call enterprise --target "127.0.0.1:$PLAINTEXT_PORT" \
    --number "$CHECK_NUMBER" --concurrency "$CONCURRENCY" --duration "${SECONDS_PER_RUN}s" \
    --warmup 2s --json bench-load.json --label "loadgen/$round" > /dev/null 2> bench-load.err
  python3 - >> loadgen.jsonl <<'PY'
import json, re
run = json.loads(open("bench-load.json").read().splitlines()[-1])
run.update(tool="onceonly bench load", cpu_s=float(re.search(r"cpu_s ([\d.]+)", open("bench-load.err").read()).group(1)))
print(json.dumps(run))
PY
  tail -2 loadgen.jsonl | python3 -c 'import json, sys
for line in sys.stdin:
    r = json.loads(line); print("%s: %.0f calls/s" % (r["tool"], r["throughput_per_s"]))'
done

echo "== results"
python3 - "$WORK/results.jsonl" "$RESULTS/federation-$STAMP.md" "$RESULTS/federation-$STAMP.dat" \
  "$ROUNDS" "$CONCURRENCY" "$SECONDS_PER_RUN" "$ENTERPRISES" "$WORK/loadgen.jsonl" <<'PY'
import json, statistics, sys, platform, os
path, md, dat, rounds, concurrency, seconds, enterprises, loadgen = sys.argv[1:]
runs = [json.loads(line) for line in open(path)]
modes = {}
for r in runs:
    modes.setdefault(r["label"].split("/")[0], []).append(r)
names = {"a": "GetEnterprise, direct to onceonly-registry",
         "b": "GetEnterprise through nginx grpc_pass (TLS both sides)",
         "c": "GetDossier through the gateway to the remote registry",
         "d": "GetDossier through the gateway, in-process KBO",
         "e": "GetDossier through the gateway, in-process KBO, warm cache",
         "C": "(c) for the whole enterprise (five company categories)",
         "D": "(d) for the whole enterprise",
         "E": "(e) for the whole enterprise"}
med = {m: {k: statistics.median(r[k] for r in rs) for k in ("throughput_per_s", "p50_ms", "p99_ms")}
       for m, rs in modes.items()}
def ratio(x, y):
    return med[x]["throughput_per_s"] / med[y]["throughput_per_s"] if x in med and y in med else float("nan")
lines = [f"# Federation benchmark, {os.popen('date -u +%FT%TZ').read().strip()}", "",
         f"`make bench` (bench/federation_bench.sh) on {os.cpu_count()} cores: {enterprises} generated "
         f"enterprises, calls cycling through 1,000 of them, `onceonly bench load` in a closed loop "
         f"with {concurrency} calls in flight on one connection, every mode {rounds} times for "
         f"{seconds} s, interleaved (a b c d e C D E, a b c d e C D E, ...). Medians of the runs. Everything "
         "runs on this one machine: load generator, nginx, registry and gateway share its cores. "
         "(a) and (b) return the whole enterprise; (c), (d) and (e) ask for the four company "
         "categories the demo grant covers (identity, addresses, activities, contacts), the "
         "same enterprise less its establishments; (C), (D) and (E) for all five.", "",
         "| mode | calls/s (median) | runs | p50 ms | p99 ms | answer bytes (mean) |",
         "|---|---|---|---|---|---|"]
for m in "abcdeCDE":
    if m not in med: continue
    each = ", ".join("%.0f" % r["throughput_per_s"] for r in modes[m])
    size = statistics.median(r.get("mean_answer_bytes", 0) for r in modes[m])
    lines.append(f"| ({m}) {names[m]} | {med[m]['throughput_per_s']:.0f} | {each} | "
                 f"{med[m]['p50_ms']:.2f} | {med[m]['p99_ms']:.2f} | {size:.0f} |")
lines += ["", "| ratio | measured | target |", "|---|---|---|",
          f"| (c)/(b) gateway to a remote registry vs nginx grpc_pass | {ratio('c','b'):.2f} | >= 1.0 |",
          f"| (d)/(a) gateway with in-process KBO vs direct registry | {ratio('d','a'):.2f} | >= 0.7 |",
          f"| (e)/(a) the same with a warm cache vs direct registry | {ratio('e','a'):.2f} | >= 1.5 |",
          f"| (C)/(b), (D)/(a), (E)/(a): the same for the whole enterprise | {ratio('C','b'):.2f}, {ratio('D','a'):.2f}, {ratio('E','a'):.2f} | |", "",
          "(c), (d) and (e) ask for what the demo grant gives this purpose: four company categories, "
          "so the gateway asks the registry for those fields only and the enterprise's "
          "establishments are neither read nor sent. (a) and (b) return the whole enterprise. "
          "(C), (D) and (E) ask for all five company categories (the bench widens the grant), "
          "the same data as (a) and (b).", ""]
checks = {}
for r in (json.loads(line) for line in open(loadgen)):
    checks.setdefault(r["tool"], []).append(r)
if checks:
    lines += ["## Is the load generator the bottleneck?", "",
              "Both clients drive a plaintext copy of the registry (`bench/plaintext_registry`: "
              "h2load cannot present a client certificate) with the same GetEnterprise, pre-framed "
              f"for h2load, {concurrency} streams on one connection, {rounds} runs each, interleaved. "
              "Client CPU per call is an estimate: the client process's user + system time over "
              "its whole run (connecting, warm-up and drain included) divided by its rate times "
              "the run and warm-up time.", "",
              "| client | calls/s (median) | runs | client CPU per call, µs (estimate) | failed |",
              "|---|---|---|---|---|"]
    warm = 2.0
    for tool, rs in checks.items():
        cpu = statistics.median(r["cpu_s"] * 1e6 / (r["throughput_per_s"] * (float(seconds) + warm)) for r in rs)
        failed = sum(r.get("failed", 0) for r in rs) + sum(
            n for r in rs for code, n in r.get("codes", {}).items() if code != "OK")
        lines.append(f"| {tool} | {statistics.median(r['throughput_per_s'] for r in rs):.0f} | "
                     + ", ".join("%.0f" % r["throughput_per_s"] for r in rs) + f" | {cpu:.0f} | {failed} |")
    if "h2load" in checks and "onceonly bench load" in checks:
        # h2load counts HTTP 200s, and a gRPC error is one too: its answers must be the size of
        # the enterprise bench load parsed (plus the 5-byte gRPC frame header).
        h2_size = statistics.median(r["bytes_per_call"] for r in checks["h2load"])
        our_size = statistics.median(r["mean_answer_bytes"] for r in checks["onceonly bench load"])
        if our_size <= 0 or abs(h2_size - 5 - our_size) > 0.02 * our_size:
            sys.exit(f"bench: h2load's answers had {h2_size:.0f} bytes of DATA, the enterprise "
                     f"{our_size:.0f} (+5): h2load was not answered with enterprises")
        lines += ["", f"h2load's answers carried {h2_size:.0f} bytes of DATA each: the {our_size:.0f}-byte "
                  "enterprise `bench load` parsed, in its 5-byte gRPC frame, so they were "
                  "enterprises and not gRPC errors (which h2load would count as HTTP 200s too)."]
        loadgen_ratio = (statistics.median(r["throughput_per_s"] for r in checks["onceonly bench load"]) /
                         statistics.median(r["throughput_per_s"] for r in checks["h2load"]))
        lines += ["", f"onceonly bench load / h2load: **{loadgen_ratio:.2f}**", ""]
open(md, "w").write("\n".join(lines) + "\n")
with open(dat, "w") as f:
    for i, m in enumerate("abcdeCDE"):
        if m in med:
            f.write(f'{i} "({m})" {med[m]["throughput_per_s"]:.1f} {med[m]["p50_ms"]:.3f} {med[m]["p99_ms"]:.3f}\n')
print("\n".join(lines))
PY
gnuplot <<GNUPLOT
set terminal pngcairo size 1100,500
set output "$RESULTS/federation-$STAMP.png"
set title "onceonly federation benchmark ($STAMP, $(nproc) cores, $CONCURRENCY in flight)"
set style data histogram
set style fill solid 0.8
set boxwidth 0.8
set ylabel "calls/s (median of $ROUNDS runs)"
set y2label "p99 latency (ms)"
set y2tics
set ytics nomirror
set xtics ("(a) direct" 0, "(b) nginx" 1, "(c) gw remote" 2, "(d) gw kbo" 3, "(e) gw cache" 4, "(C) whole" 5, "(D) whole" 6, "(E) whole" 7)
set yrange [0:*]
set y2range [0:*]
set xrange [-0.6:7.6]
set key top left
plot "$RESULTS/federation-$STAMP.dat" using 1:3 with boxes title "calls/s", \
     "" using 1:5 axes x1y2 with linespoints lw 2 pt 7 title "p99 ms"
GNUPLOT
echo "bench: wrote $RESULTS/federation-$STAMP.md and .png"
