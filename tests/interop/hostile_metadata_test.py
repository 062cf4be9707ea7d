#!/usr/bin/python3
"""Hostile metadata over raw HTTP/2: what gRPC clients refuse to send, the wire still carries.

gRPC's own clients (C++, Python, Node) check metadata values before sending them, so a test
written with them can never send what an attacker can. This one speaks HTTP/2 itself, with
Debian's python3-h2 (its outbound header checks turned off), over the same mTLS as any member,
and sends GetDossier with raw non-UTF-8 bytes, CR LF and NUL in x-onceonly-* headers: the issue
14 bug. The gateway must refuse each call (INVALID_ARGUMENT, INVALID_METADATA), log the refusal
without the value, and keep the log readable: `onceonly audit verify`, `audit query` and
`audit show` must all work afterwards, and nothing printed may carry a forged line.

Run like python_interop_test.py (same paths and environment), after a full build.
"""

import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest

try:
    import h2.config
    import h2.connection
    import h2.events
except ImportError as e:  # pragma: no cover - environment problem, not a test failure
    sys.exit(f"hostile_metadata_test: needs Debian's python3-h2 (/usr/bin/python3): {e}")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import python_interop_test as interop  # noqa: E402  (shares the stack and the stubs)

METHOD = "/onceonly.v1.DossierService/GetDossier"
SUBJECT = "1029.028.161"


def raw_get_dossier(stack, member, extra_headers, timeout=10.0):
    """GetDossier over HTTP/2 with `extra_headers` sent byte for byte. Returns (grpc-status,
    google.rpc.Status or None, response message bytes)."""
    context = ssl.create_default_context(cafile=os.path.join(stack.pki, "ca.crt"))
    context.load_cert_chain(os.path.join(stack.pki, "members", f"{member}.crt"),
                            os.path.join(stack.pki, "members", f"{member}.key"))
    context.set_alpn_protocols(["h2"])
    raw = socket.create_connection(("localhost", stack.port), timeout=timeout)
    with context.wrap_socket(raw, server_hostname="localhost") as sock:
        config = h2.config.H2Configuration(client_side=True, header_encoding=None,
                                           validate_outbound_headers=False,
                                           normalize_outbound_headers=False,
                                           validate_inbound_headers=False)
        conn = h2.connection.H2Connection(config=config)
        conn.initiate_connection()
        request = interop.Stubs.dossier_pb2.GetDossierRequest(
            enterprise_number=SUBJECT, purpose="public-procurement",
            categories=["company.identity"]).SerializeToString()
        headers = [(b":method", b"POST"), (b":scheme", b"https"), (b":path", METHOD.encode()),
                   (b":authority", b"localhost"), (b"content-type", b"application/grpc"),
                   (b"te", b"trailers")] + list(extra_headers)
        conn.send_headers(1, headers)
        conn.send_data(1, b"\x00" + len(request).to_bytes(4, "big") + request, end_stream=True)
        sock.sendall(conn.data_to_send())
        fields, body, ended = {}, b"", False
        while not ended:
            data = sock.recv(65536)
            if not data:
                break
            for event in conn.receive_data(data):
                if isinstance(event, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
                    fields.update({k: v for k, v in event.headers})
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                    ended = True
            sock.sendall(conn.data_to_send())
    if b"grpc-status" not in fields:
        raise AssertionError(f"no grpc-status in the answer: {fields}")
    details = None
    if b"grpc-status-details-bin" in fields:
        encoded = fields[b"grpc-status-details-bin"]
        details = interop.Stubs.status_pb2.Status()
        details.ParseFromString(base64.b64decode(encoded + b"=" * (-len(encoded) % 4)))
    return int(fields[b"grpc-status"]), details, body


def error_info(details):
    for any_ in details.details:
        if any_.Is(interop.Stubs.error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = interop.Stubs.error_details_pb2.ErrorInfo()
            any_.Unpack(info)
            return info
    raise AssertionError(f"no ErrorInfo in {details}")


class HostileMetadata(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="onceonly-hostile-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        interop.generate_stubs(cls.tmp)
        interop.Stubs.load()
        stack_dir = os.path.join(cls.tmp, "stack")
        os.makedirs(stack_dir)
        cls.stack = interop.Stack(stack_dir)
        cls.stack.prepare()
        interop._run([interop.Paths.cli(), "pki", "issue", cls.stack.pki, "--member",
                      "stranger"], "pki issue stranger")
        cls.addClassCleanup(cls.stack.stop)
        cls.stack.start()

    def cli(self, *args):
        return subprocess.run([interop.Paths.cli(), *args], capture_output=True, text=True,
                              errors="replace", timeout=60)

    def expect_log_readable(self):
        verify = self.cli("audit", "verify", "--db", self.stack.audit_db, "--public-key",
                          os.path.join(self.stack.pki, "checkpoint.pub"))
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        self.assertNotIn("FINDING", verify.stdout)
        query = self.cli("audit", "query", "--db", self.stack.audit_db)
        self.assertEqual(query.returncode, 0, query.stderr)
        self.assertNotIn("corrupt", query.stdout + query.stderr)
        return query.stdout

    def test_a_member_sending_bytes_that_cannot_be_stored_is_refused_and_the_log_stays_readable(self):
        cases = {
            "non-UTF-8 user": [(b"x-onceonly-user", b"\xff\xfe civil servant")],
            "non-UTF-8 case": [(b"x-onceonly-case-ref", b"ECO/2025/\xc3")],
            "CR LF forging a line": [
                (b"x-onceonly-case-ref", b"ECO/2025/42\r\n  member:             audit-office")],
            "NUL": [(b"x-onceonly-case-ref", b"ECO\x00/2025")],
        }
        for what, headers in cases.items():
            with self.subTest(what):
                code, details, body = raw_get_dossier(self.stack, "brussels-economy", headers)
                self.assertEqual(code, 3, f"{what}: expected INVALID_ARGUMENT, got {code}")
                self.assertEqual(body, b"", "no dossier may leave")
                info = error_info(details)
                self.assertEqual(info.reason, "INVALID_METADATA")
                record = self.stack.audit_record(int(info.metadata["access_id"]))
                self.assertEqual(record["reason"], "INVALID_METADATA")
                self.assertEqual(record["member"], "brussels-economy")
                self.assertNotIn("case_ref", record)
                self.assertNotIn("user", record)
                self.assertTrue(record["query"].startswith("refused metadata:"), record)
                shown = self.cli("audit", "show", "--db", self.stack.audit_db, "--access-id",
                                 info.metadata["access_id"])
                self.assertEqual(shown.returncode, 0, shown.stderr)
                member_lines = [line for line in shown.stdout.splitlines()
                                if line.strip().startswith("member ")]
                self.assertEqual(member_lines, ["  member              brussels-economy"],
                                 shown.stdout)
        table = self.expect_log_readable()
        self.assertNotIn("audit-office", table)

    def test_a_stranger_sending_bytes_that_cannot_be_stored_leaves_a_readable_record(self):
        code, details, _ = raw_get_dossier(
            self.stack, "stranger", [(b"x-onceonly-case-ref", b"\xc3\x28\r\nmember: x")])
        self.assertEqual(code, 7, "expected PERMISSION_DENIED")
        info = error_info(details)
        self.assertEqual(info.reason, "UNKNOWN_MEMBER")
        record = self.stack.audit_record(int(info.metadata["access_id"]))
        self.assertNotIn("member", record)
        self.assertNotIn("case_ref", record)
        self.expect_log_readable()

    def test_a_strangers_number_cut_in_a_character_leaves_the_log_readable(self):
        # The first path, with a plain gRPC client: a certificate the CA signed but the
        # policy does not know asks for 63 'A' and an e-acute, once cut at byte 64 in the log.
        channel = self.stack.mtls_channel("stranger")
        self.addCleanup(channel.close)
        stub = interop.Stubs.dossier_pb2_grpc.DossierServiceStub(channel)
        request = interop.Stubs.dossier_pb2.GetDossierRequest(
            enterprise_number="A" * 63 + "\u00e9", purpose="public-procurement",
            categories=["company.identity"])
        try:
            stub.GetDossier(request, timeout=interop.RPC_TIMEOUT_S)
            self.fail("a stranger was served")
        except interop.grpc.RpcError as e:
            self.assertEqual(e.code(), interop.grpc.StatusCode.PERMISSION_DENIED, e.details())
            _, infos, _ = interop.decode_status_details(e)
            access_id = int(infos[0].metadata["access_id"])
        record = self.stack.audit_record(access_id)
        self.assertTrue(record["subject"].startswith("sha256:"), record)
        self.expect_log_readable()

    def test_well_formed_metadata_is_served(self):
        code, _, body = raw_get_dossier(self.stack, "brussels-economy",
                                        [(b"x-onceonly-case-ref", b"ECO/2025/42")])
        self.assertEqual(code, 0)
        dossier = interop.Stubs.dossier_pb2.Dossier()
        dossier.ParseFromString(body[5:])
        self.assertEqual(dossier.enterprise_number, SUBJECT)
        record = self.stack.audit_record(dossier.access_id)
        self.assertEqual(record["case_ref"], "ECO/2025/42")


if __name__ == "__main__":
    unittest.main(verbosity=2)
