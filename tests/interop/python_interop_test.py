#!/usr/bin/python3
"""Interop test: Debian's python3-grpcio calls the onceonly gateway over mTLS.

Everything a third-party client would do, with nothing from our C++ tree but the .proto
files and the binaries:
  * Python stubs are generated at test time with /usr/bin/protoc and
    /usr/bin/grpc_python_plugin from <source>/proto (plus the well-known types in
    /usr/include and a tiny local copy of grpc/health/v1/health.proto);
  * a dev PKI, the KBO database and the sample registries are built with `onceonly`;
  * the gateway is started on localhost:0 and its port is read from --port-file;
  * errors are decoded from the `grpc-status-details-bin` trailer (google.rpc.Status).

Paths (environment variable, or command-line option which wins):
  ONCEONLY_BUILD_DIR    --build-dir    CMake build dir holding gateway/onceonly-gateway and
                                       tools/onceonly (default: <source>/build)
  ONCEONLY_SOURCE_DIR   --source-dir   source tree holding proto/ and deploy/demo/
                                       (default: two levels above this file)
  ONCEONLY_KBO_EXTRACT  --kbo-extract  the KBO update extract
                                       (default: <source>/../shared/data/kbo/KboOpenData_0147_2025_10_12_Update)

Run: /usr/bin/python3 tests/interop/python_interop_test.py [-v]   (exit status != 0 on failure)
  or /usr/bin/python3 -m unittest python_interop_test  (from this directory)
The binaries must already be built (ctest runs after a full build).
"""

import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

try:
    import grpc
except ImportError as e:  # pragma: no cover - environment problem, not a test failure
    sys.exit(f"python_interop_test: needs Debian's python3-grpcio (run with /usr/bin/python3): {e}")

PROTOC = "/usr/bin/protoc"
GRPC_PYTHON_PLUGIN = "/usr/bin/grpc_python_plugin"
WKT_INCLUDE = "/usr/include"  # google/protobuf/*.proto

PORT_FILE_TIMEOUT_S = 15.0
COMMAND_TIMEOUT_S = 60.0
RPC_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0

# YAML for a purpose description with a quote, a backslash, a tab, a newline, accents, a
# character outside the BMP and U+2028, as the receipt must carry them.
RECEIPT_DESCRIPTION_YAML = (
    r'"Prime r\u00e9gionale \"ind\u00e9pendant\" \\ a\tb\nc \u2713 \U0001D11E \u2028"')
RECEIPT_CONTEXT = b"onceonly consent-receipt v1\n"

SUBJECT_RAW = "1029028161"
SUBJECT = "1029.028.161"
PURPOSE = "public-procurement"
MEMBER = "brussels-economy"
METHOD = "/onceonly.v1.DossierService/GetDossier"

HEALTH_PROTO = """\
// Minimal wire-compatible copy of grpc/health/v1/health.proto (grpc/grpc-proto).
syntax = "proto3";

package grpc.health.v1;

message HealthCheckRequest {
  string service = 1;
}

message HealthCheckResponse {
  enum ServingStatus {
    UNKNOWN = 0;
    SERVING = 1;
    NOT_SERVING = 2;
    SERVICE_UNKNOWN = 3;
  }
  ServingStatus status = 1;
}

service Health {
  rpc Check(HealthCheckRequest) returns (HealthCheckResponse);
}
"""


# ---------------------------------------------------------------------------------------------
# Configuration


def _pop_option(argv, name):
    """Removes `--name VALUE` or `--name=VALUE` from argv; returns VALUE or None."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            value = argv[i + 1]
            del argv[i:i + 2]
            return value
        if arg.startswith(name + "="):
            del argv[i]
            return arg[len(name) + 1:]
    return None


class Paths:
    source_dir = None
    build_dir = None
    kbo_extract = None

    @classmethod
    def resolve(cls, argv):
        here = os.path.dirname(os.path.abspath(__file__))
        cls.source_dir = os.path.abspath(
            _pop_option(argv, "--source-dir")
            or os.environ.get("ONCEONLY_SOURCE_DIR")
            or os.path.join(here, "..", ".."))
        cls.build_dir = os.path.abspath(
            _pop_option(argv, "--build-dir")
            or os.environ.get("ONCEONLY_BUILD_DIR")
            or os.path.join(cls.source_dir, "build"))
        cls.kbo_extract = os.path.abspath(
            _pop_option(argv, "--kbo-extract")
            or os.environ.get("ONCEONLY_KBO_EXTRACT")
            or os.path.join(cls.source_dir, "..", "shared", "data", "kbo",
                            "KboOpenData_0147_2025_10_12_Update"))

    @classmethod
    def cli(cls):
        return os.path.join(cls.build_dir, "tools", "onceonly")

    @classmethod
    def gateway(cls):
        return os.path.join(cls.build_dir, "gateway", "onceonly-gateway")


def _run(cmd, what, cwd=None):
    """Runs cmd with a bounded wait; raises AssertionError with its output on failure."""
    try:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                           timeout=COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{what}: timed out after {COMMAND_TIMEOUT_S}s: {cmd}\n"
                             f"stdout:\n{e.stdout}\nstderr:\n{e.stderr}") from None
    if p.returncode != 0:
        raise AssertionError(f"{what}: exit {p.returncode}: {' '.join(cmd)}\n"
                             f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p.stdout


# ---------------------------------------------------------------------------------------------
# Stub generation


def generate_stubs(out_dir):
    """Generates *_pb2.py / *_pb2_grpc.py for every proto in <source>/proto plus health."""
    proto_root = os.path.join(Paths.source_dir, "proto")
    # The health proto keeps its package (grpc.health.v1, which is what goes on the wire) but
    # lives at interop_health/health.proto so that the generated module does not land in a
    # `grpc/` directory shadowing the real grpc package.
    health_root = os.path.join(out_dir, "health_src")
    os.makedirs(os.path.join(health_root, "interop_health"))
    with open(os.path.join(health_root, "interop_health", "health.proto"), "w") as f:
        f.write(HEALTH_PROTO)

    sources = []
    for root, _, files in os.walk(proto_root):
        for name in files:
            if name.endswith(".proto"):
                sources.append(os.path.relpath(os.path.join(root, name), proto_root))
    sources.sort()
    if "onceonly/v1/dossier.proto" not in sources:
        raise AssertionError(f"no onceonly/v1/dossier.proto under {proto_root}: {sources}")

    gen_dir = os.path.join(out_dir, "gen")
    os.makedirs(gen_dir)
    common = [PROTOC, f"--plugin=protoc-gen-grpc_python={GRPC_PYTHON_PLUGIN}",
              f"--python_out={gen_dir}", f"--grpc_python_out={gen_dir}"]
    _run(common + [f"-I{proto_root}", f"-I{WKT_INCLUDE}"] + sources, "protoc (project protos)")
    _run(common + [f"-I{health_root}", "interop_health/health.proto"], "protoc (health)")

    # `google` is a namespace package in Debian (google.protobuf lives in dist-packages), so
    # our generated google/rpc merges with it once gen_dir is on sys.path.
    sys.path.insert(0, gen_dir)
    importlib.invalidate_caches()


class Stubs:
    """The generated modules, imported after generation."""

    @classmethod
    def load(cls):
        cls.dossier_pb2 = importlib.import_module("onceonly.v1.dossier_pb2")
        cls.dossier_pb2_grpc = importlib.import_module("onceonly.v1.dossier_pb2_grpc")
        cls.status_pb2 = importlib.import_module("google.rpc.status_pb2")
        cls.error_details_pb2 = importlib.import_module("google.rpc.error_details_pb2")
        cls.consent_pb2 = importlib.import_module("onceonly.v1.consent_pb2")
        cls.consent_pb2_grpc = importlib.import_module("onceonly.v1.consent_pb2_grpc")
        cls.health_pb2 = importlib.import_module("interop_health.health_pb2")
        cls.health_pb2_grpc = importlib.import_module("interop_health.health_pb2_grpc")


def decode_status_details(rpc_error):
    """Returns (google.rpc.Status, [ErrorInfo], [BadRequest]) from the trailer."""
    raw = None
    for key, value in rpc_error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            raw = value
    if raw is None:
        raise AssertionError(f"no grpc-status-details-bin trailer on {rpc_error.code()} "
                             f"{rpc_error.details()!r}; trailers: {rpc_error.trailing_metadata()}")
    status = Stubs.status_pb2.Status()
    status.ParseFromString(raw)
    infos, bad_requests = [], []
    for any_ in status.details:
        if any_.Is(Stubs.error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = Stubs.error_details_pb2.ErrorInfo()
            any_.Unpack(info)
            infos.append(info)
        elif any_.Is(Stubs.error_details_pb2.BadRequest.DESCRIPTOR):
            bad = Stubs.error_details_pb2.BadRequest()
            any_.Unpack(bad)
            bad_requests.append(bad)
    return status, infos, bad_requests


# ---------------------------------------------------------------------------------------------
# The stack


class Stack:
    """A dev PKI, KBO and registry databases, and one running gateway, all in a temp dir."""

    def __init__(self, work_dir):
        self.dir = work_dir
        self.pki = os.path.join(work_dir, "pki")
        self.audit_db = os.path.join(work_dir, "audit.db")
        self.process = None
        self.port = None
        self._stderr_path = os.path.join(work_dir, "gateway.stderr")
        self._stdout_path = os.path.join(work_dir, "gateway.stdout")

    def prepare(self):
        demo = os.path.join(Paths.source_dir, "deploy", "demo")
        for name in os.listdir(demo):
            if name.endswith(".yaml"):
                shutil.copy(os.path.join(demo, name), self.dir)
        # Receipts quote this description: every kind of character JSON escapes or not.
        policy = os.path.join(self.dir, "policy.yaml")
        with open(policy, encoding="utf-8") as f:
            text = f.read()
        plain = 'description: "Granting the regional support premium to a sole trader"'
        if plain not in text:
            raise AssertionError(f"{policy} no longer holds {plain}")
        with open(policy, "w", encoding="utf-8") as f:
            f.write(text.replace(plain, f"description: {RECEIPT_DESCRIPTION_YAML}"))
        cli = Paths.cli()
        kbo_db = os.path.join(self.dir, "kbo.db")
        _run([cli, "pki", "init", self.pki], "pki init")
        _run([cli, "pki", "issue", self.pki, "--member", "brussels-economy"], "pki issue")
        _run([cli, "pki", "issue", self.pki, "--member", "urban-brussels"], "pki issue")
        _run([cli, "pki", "issue", self.pki, "--member", "firm-portal"], "pki issue")
        _run([cli, "kbo", "import", Paths.kbo_extract, "--db", kbo_db], "kbo import")
        _run([cli, "registry", "seed", "--kbo-db", kbo_db,
              "--db", os.path.join(self.dir, "registries.db")], "registry seed")

    def gateway_output(self):
        out = []
        for path in (self._stderr_path, self._stdout_path):
            try:
                with open(path, errors="replace") as f:
                    out.append(f"--- {os.path.basename(path)}:\n{f.read()}")
            except OSError:
                pass
        return "\n".join(out)

    def start(self):
        port_file = os.path.join(self.dir, "port")
        with open(self._stderr_path, "w") as err, open(self._stdout_path, "w") as out:
            self.process = subprocess.Popen(
                [Paths.gateway(), "--config", os.path.join(self.dir, "gateway.yaml"),
                 "--port-file", port_file],
                cwd=self.dir, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + PORT_FILE_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gateway exited with {self.process.returncode} before "
                                     f"writing its port\n{self.gateway_output()}")
            try:
                with open(port_file) as f:
                    text = f.read().strip()
                if text:
                    self.port = int(text)
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"gateway wrote no port file within {PORT_FILE_TIMEOUT_S}s\n"
                             f"{self.gateway_output()}")

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)

    def read(self, name):
        with open(os.path.join(self.pki, name), "rb") as f:
            return f.read()

    def target(self):
        return f"localhost:{self.port}"

    def mtls_channel(self, member=MEMBER):
        creds = grpc.ssl_channel_credentials(
            root_certificates=self.read("ca.crt"),
            private_key=self.read(f"members/{member}.key"),
            certificate_chain=self.read(f"members/{member}.crt"))
        return grpc.secure_channel(self.target(), creds)

    def audit_record(self, access_id):
        out = _run([Paths.cli(), "audit", "show", "--db", self.audit_db,
                    "--access-id", str(access_id), "--json"], "audit show")
        return json.loads(out)


# ---------------------------------------------------------------------------------------------
# Tests


class PythonGrpcioInterop(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        for path in (Paths.cli(), Paths.gateway()):
            if not os.access(path, os.X_OK):
                raise AssertionError(f"{path} is missing: build the project first "
                                     f"(ninja -C {Paths.build_dir} onceonly-gateway onceonly)")
        if not os.path.isdir(Paths.kbo_extract):
            raise AssertionError(f"KBO extract not found: {Paths.kbo_extract}")
        cls.tmp = tempfile.mkdtemp(prefix="onceonly-interop-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        generate_stubs(cls.tmp)
        Stubs.load()
        stack_dir = os.path.join(cls.tmp, "stack")
        os.makedirs(stack_dir)
        cls.stack = Stack(stack_dir)
        cls.stack.prepare()
        cls.addClassCleanup(cls.stack.stop)  # runs even if start() fails half-way
        cls.stack.start()

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()

    def setUp(self):
        self.channel = self.stack.mtls_channel()
        self.addCleanup(self.channel.close)
        self.dossier = Stubs.dossier_pb2_grpc.DossierServiceStub(self.channel)

    def get_dossier(self, number, categories, case_ref, user="civ-7f3a"):
        request = Stubs.dossier_pb2.GetDossierRequest(
            enterprise_number=number, purpose=PURPOSE, categories=categories)
        metadata = (("x-onceonly-case-ref", case_ref), ("x-onceonly-user", user))
        return self.dossier.GetDossier(request, metadata=metadata, timeout=RPC_TIMEOUT_S)

    def expect_rpc_error(self, call):
        try:
            response = call()
        except grpc.RpcError as e:
            return e
        self.fail(f"expected an error, got OK:\n{response}")

    def context(self):
        return f"\n(gateway at {self.stack.target()})\n{self.stack.gateway_output()}"

    # --- allowed ---------------------------------------------------------------------------

    def test_get_dossier_allowed_is_minimised_and_audited(self):
        case_ref = "ECO/2025/interop-allow"
        categories = ["company.identity", "company.addresses", "tax.good_standing"]
        try:
            dossier = self.get_dossier(SUBJECT_RAW, categories, case_ref)
        except grpc.RpcError as e:
            self.fail(f"GetDossier failed: {e.code()} {e.details()}{self.context()}")

        self.assertEqual(dossier.enterprise_number, SUBJECT)
        self.assertEqual(dossier.purpose, PURPOSE)
        self.assertEqual(list(dossier.released_categories), categories)
        self.assertTrue(dossier.grant_id, "grant_id empty")

        company = dossier.company
        self.assertTrue(dossier.HasField("company"))
        self.assertEqual(company.enterprise_number, SUBJECT)
        names = [d.value for d in company.denominations]
        self.assertIn("Cap Horizons ASBL", names)
        self.assertEqual(company.juridical_form.code, "017")
        seats = [a for a in company.addresses if a.zipcode == "1080"]
        self.assertTrue(seats, f"no address with zipcode 1080: {list(company.addresses)}")
        self.assertEqual(seats[0].municipality_nl, "Sint-Jans-Molenbeek")
        self.assertEqual(seats[0].municipality_fr, "Molenbeek-Saint-Jean")
        # Minimisation: categories not asked for are not filled.
        self.assertEqual(len(company.activities), 0, "company.activities not asked for")
        self.assertEqual(len(company.contacts), 0, "company.contacts not asked for")
        self.assertFalse(dossier.HasField("permits"), "permits not asked for")

        self.assertTrue(dossier.HasField("tax"))
        self.assertTrue(dossier.tax.HasField("good_standing"))
        self.assertTrue(dossier.tax.good_standing.established_on)
        self.assertFalse(dossier.tax.HasField("details"), "tax.details leaked (not asked)")
        self.assertFalse(dossier.tax.HasField("vat"), "VAT is tax.details, not good standing")

        sources = {s.registry: s for s in dossier.sources}
        self.assertEqual(sorted(sources), ["companies", "tax"])
        for name, source in sources.items():
            self.assertEqual(source.code, 0, f"source {name}: {source}")
            self.assertTrue(source.HasField("retrieved_at"), f"source {name}: no retrieved_at")

        # access_id has explicit presence: leaf 0 of a fresh log is still "set".
        self.assertTrue(dossier.HasField("access_id"), "dossier carries no access_id")
        record = self.stack.audit_record(dossier.access_id)
        # proto JSON writes uint64 as a string.
        self.assertEqual(int(record["access_id"]), dossier.access_id)
        self.assertEqual(record["case_ref"], case_ref)
        self.assertEqual(record["user"], "civ-7f3a")
        self.assertEqual(record["decision"], "DECISION_ALLOW")
        self.assertEqual(record["reason"], "ALLOWED")
        self.assertEqual(record["member"], MEMBER)
        self.assertEqual(record["subject"], SUBJECT)
        self.assertEqual(record["purpose"], PURPOSE)
        self.assertEqual(record["grant_id"], dossier.grant_id)
        self.assertEqual(record["categories_released"], categories)
        self.assertEqual(record["method"], METHOD)
        self.assertEqual(sorted(record["sources"]), ["companies:OK", "tax:OK"])
        self.assertRegex(record["payload_sha256"], r"^[0-9a-f]{64}$")

    # --- errors ----------------------------------------------------------------------------

    def test_bad_checksum_is_invalid_argument_with_bad_request(self):
        err = self.expect_rpc_error(
            lambda: self.get_dossier("1029.028.162", ["company.identity"], "ECO/interop-bad"))
        self.assertEqual(err.code(), grpc.StatusCode.INVALID_ARGUMENT, err.details())
        status, _, bad_requests = decode_status_details(err)
        self.assertEqual(status.code, grpc.StatusCode.INVALID_ARGUMENT.value[0])
        fields = [v.field for b in bad_requests for v in b.field_violations]
        self.assertIn("enterprise_number", fields, f"status details: {status}")

    def test_category_not_granted_is_denied_and_audited(self):
        case_ref = "ECO/2025/interop-deny"
        err = self.expect_rpc_error(
            lambda: self.get_dossier(SUBJECT, ["company.identity", "tax.details"], case_ref))
        self.assertEqual(err.code(), grpc.StatusCode.PERMISSION_DENIED, err.details())
        status, infos, _ = decode_status_details(err)
        self.assertEqual(status.code, grpc.StatusCode.PERMISSION_DENIED.value[0])
        self.assertEqual(len(infos), 1, f"status details: {status}")
        info = infos[0]
        self.assertEqual(info.reason, "CATEGORY_NOT_GRANTED")
        self.assertIn("access_id", info.metadata, f"ErrorInfo: {info}")
        access_id = int(info.metadata["access_id"])

        record = self.stack.audit_record(access_id)
        self.assertEqual(int(record["access_id"]), access_id)
        self.assertEqual(record["decision"], "DECISION_DENY")
        self.assertEqual(record["reason"], "CATEGORY_NOT_GRANTED")
        self.assertEqual(record["case_ref"], case_ref)
        self.assertEqual(record["subject"], SUBJECT)
        self.assertEqual(record["categories_requested"], ["company.identity", "tax.details"])
        self.assertEqual(record.get("categories_released", []), [])
        self.assertEqual(record.get("payload_sha256", ""), "")

    def test_channel_without_client_certificate_is_refused(self):
        creds = grpc.ssl_channel_credentials(root_certificates=self.stack.read("ca.crt"))
        with grpc.secure_channel(self.stack.target(), creds) as channel:
            stub = Stubs.dossier_pb2_grpc.DossierServiceStub(channel)
            request = Stubs.dossier_pb2.GetDossierRequest(
                enterprise_number=SUBJECT, purpose=PURPOSE, categories=["company.identity"])
            err = self.expect_rpc_error(lambda: stub.GetDossier(request, timeout=RPC_TIMEOUT_S))
        self.assertEqual(err.code(), grpc.StatusCode.UNAVAILABLE, err.details())

    # --- consent (a sole trader is a natural person) -----------------------------------------

    def test_sole_trader_consent_reason_and_signed_receipt(self):
        sole_trader = "0552.627.113"
        request = Stubs.dossier_pb2.GetDossierRequest(
            enterprise_number=sole_trader, purpose="sole-trader-support",
            categories=["company.identity"])
        err = self.expect_rpc_error(
            lambda: self.dossier.GetDossier(request, timeout=RPC_TIMEOUT_S))
        self.assertEqual(err.code(), grpc.StatusCode.PERMISSION_DENIED, err.details())
        _, infos, _ = decode_status_details(err)
        self.assertEqual([i.reason for i in infos], ["CONSENT_REQUIRED"])

        portal_channel = self.stack.mtls_channel("firm-portal")
        self.addCleanup(portal_channel.close)
        portal = Stubs.consent_pb2_grpc.ConsentServiceStub(portal_channel)
        consent = Stubs.consent_pb2.Consent(
            subject=sole_trader, grantee_member=MEMBER, purpose="sole-trader-support",
            categories=["company.identity"])
        consent.valid_until.FromJsonString("2099-01-01T00:00:00Z")
        # The portal says which firm's representative is signed in.
        acting_for = (("x-onceonly-acting-for", sole_trader),)
        granted = portal.GrantConsent(Stubs.consent_pb2.GrantConsentRequest(consent=consent),
                                      timeout=RPC_TIMEOUT_S, metadata=acting_for)
        dossier = self.dossier.GetDossier(request, timeout=RPC_TIMEOUT_S)
        self.assertEqual(dossier.company.enterprise_number, sole_trader)

        # The receipt, as a Python client saves it, verifies with the gateway's public key, and
        # a single changed byte does not.
        from google.protobuf import json_format
        receipt_file = os.path.join(self.stack.dir, "receipt.json")
        with open(receipt_file, "w") as f:
            f.write(json_format.MessageToJson(granted.receipt))
        key = os.path.join(self.stack.pki, "checkpoint.pub")
        ok = subprocess.run([Paths.cli(), "consent", "verify-receipt", receipt_file,
                             "--public-key", key], capture_output=True, text=True, timeout=30)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn("signature valid", ok.stdout)
        self.check_receipt_without_onceonly(granted.receipt, key)
        tampered = Stubs.consent_pb2.SignedReceipt()
        tampered.CopyFrom(granted.receipt)
        tampered.receipt_json = tampered.receipt_json.replace(b"company.identity", b"company.identitY")
        with open(receipt_file, "w") as f:
            f.write(json_format.MessageToJson(tampered))
        bad = subprocess.run([Paths.cli(), "consent", "verify-receipt", receipt_file,
                              "--public-key", key], capture_output=True, text=True, timeout=30)
        self.assertEqual(bad.returncode, 1, bad.stdout)
        self.assertIn("INVALID", bad.stderr)

        revoked = portal.RevokeConsent(Stubs.consent_pb2.RevokeConsentRequest(
            consent_id=granted.consent.consent_id, subject=sole_trader), timeout=RPC_TIMEOUT_S,
            metadata=acting_for)
        self.check_receipt_without_onceonly(revoked.receipt, key)
        err = self.expect_rpc_error(
            lambda: self.dossier.GetDossier(request, timeout=RPC_TIMEOUT_S))
        _, infos, _ = decode_status_details(err)
        self.assertEqual([i.reason for i in infos], ["CONSENT_REVOKED"])

    def check_receipt_without_onceonly(self, receipt, public_key_file):
        """What docs/api.md promises another tool: Python's json re-canonicalizes the receipt
        to the same bytes, and openssl verifies the signature over the context line and them."""
        received = bytes(receipt.receipt_json)
        value = json.loads(received.decode("utf-8"))

        # json.dumps(sort_keys, no spaces, ensure_ascii=False) is RFC 8785 only for objects with
        # ASCII names (code point order = UTF-16 order), arrays and strings: no numbers (JCS
        # writes them as ECMAScript does), no true/false/null here either.
        def check_types(v, where):
            if isinstance(v, dict):
                for name, member in v.items():
                    self.assertTrue(name.isascii(), f"{where}: name {name!r} is not ASCII")
                    check_types(member, f"{where}.{name}")
            elif isinstance(v, list):
                for i, element in enumerate(v):
                    check_types(element, f"{where}[{i}]")
            else:
                self.assertIsInstance(v, str, f"{where}: {v!r} is not a string")
        check_types(value, "receipt")
        canonical = json.dumps(value, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False).encode("utf-8")
        self.assertEqual(canonical, received, "the receipt is not RFC 8785 canonical JSON")
        description = value["purposes"][0]["description"]
        self.assertEqual(description, 'Prime r\u00e9gionale "ind\u00e9pendant" \\ a\tb\nc '
                                      '\u2713 \U0001D11E \u2028')
        self.assertIn(b'\\"ind\xc3\xa9pendant\\" \\\\ a\\tb\\nc \xe2\x9c\x93 \xf0\x9d\x84\x9e',
                      received)

        def openssl_verify(message, signature):
            msg = os.path.join(self.stack.dir, "receipt.msg")
            sig = os.path.join(self.stack.dir, "receipt.sig")
            with open(msg, "wb") as f:
                f.write(message)
            with open(sig, "wb") as f:
                f.write(signature)
            return subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                                   public_key_file, "-rawin", "-in", msg, "-sigfile", sig],
                                  capture_output=True, text=True, timeout=30)
        signature = bytes(receipt.signature)
        ok = openssl_verify(RECEIPT_CONTEXT + received, signature)
        self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
        self.assertIn("Signature Verified Successfully", ok.stdout)
        # Not over the bare JSON, and not once a byte of it changed.
        self.assertNotEqual(openssl_verify(received, signature).returncode, 0)
        altered = received.replace(b'"state":"', b'"state":"X')
        self.assertNotEqual(openssl_verify(RECEIPT_CONTEXT + altered, signature).returncode, 0)

    # --- health ----------------------------------------------------------------------------

    def test_health_check_serving(self):
        health = Stubs.health_pb2_grpc.HealthStub(self.channel)
        response = health.Check(Stubs.health_pb2.HealthCheckRequest(service=""),
                                timeout=RPC_TIMEOUT_S)
        self.assertEqual(response.status, Stubs.health_pb2.HealthCheckResponse.SERVING)


Paths.resolve(sys.argv)

if __name__ == "__main__":
    unittest.main(verbosity=2)
