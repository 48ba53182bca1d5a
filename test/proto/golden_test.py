"""python3-protobuf against the hand-written golden encodings in golden/.

The same hex files are decoded by golden_test.c with protobuf-c, so the C and
Python views of proto/ cannot drift apart. Also checks the generated gRPC
stubs (method paths and streaming kinds) and that the cross-file imports of
the generated modules resolve (destination imports net, meta, http_types and
the well-known Duration; identity imports Timestamp).

Generated modules come from BUILD/gen/py on PYTHONPATH (set by runall.py).
"""
import os
import re
import unittest

import destination_pb2
import destination_pb2_grpc
import http_types_pb2
import identity_pb2
import identity_pb2_grpc
import meta_pb2
import net_pb2
from google.protobuf import duration_pb2, timestamp_pb2

ROOT = os.environ.get("CMESH_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN = os.path.join(ROOT, "test", "proto", "golden")

SA_NAME = "web.ns.serviceaccount.identity.linkerd.cluster.local"


def parse_hex(text):
    """Hex pairs with whitespace between them; '#' comments to end of line."""
    out = bytearray()
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        for tok in line.split():
            if len(tok) % 2 or not re.fullmatch(r"[0-9a-fA-F]+", tok):
                raise ValueError("bad hex token %r" % tok)
            out += bytes.fromhex(tok)
    return bytes(out)


def load(name):
    with open(os.path.join(GOLDEN, name)) as f:
        return parse_hex(f.read())


class ParseHexTest(unittest.TestCase):
    def test_format(self):
        self.assertEqual(parse_hex("0a 1B # ff\n\tc3"), b"\x0a\x1b\xc3")
        with self.assertRaises(ValueError):
            parse_hex("0a 1")
        with self.assertRaises(ValueError):
            parse_hex("zz")


class GoldenTest(unittest.TestCase):
    def decode(self, cls, name, size):
        data = load(name)
        self.assertEqual(len(data), size)
        msg = cls()
        self.assertEqual(msg.ParseFromString(data), size)
        # Canonical: fields in number order, map keys sorted in the files.
        self.assertEqual(msg.SerializeToString(deterministic=True), data)
        return msg

    def test_update(self):
        u = self.decode(destination_pb2.Update, "update.hex", 281)
        self.assertEqual(u.WhichOneof("update"), "add")
        s = u.add
        self.assertEqual(dict(s.metric_labels), {"namespace": "ns", "service": "web"})
        self.assertEqual(len(s.addrs), 2)

        a = s.addrs[0]
        self.assertEqual(a.addr.ip.WhichOneof("ip"), "ipv4")
        self.assertEqual(a.addr.ip.ipv4, 0x0A010203)
        self.assertEqual(a.addr.port, 8080)
        self.assertEqual(a.weight, 10000)
        self.assertEqual(dict(a.metric_labels), {"pod": "web-0"})
        self.assertEqual(a.tls_identity.WhichOneof("strategy"), "dns_like_identity")
        self.assertEqual(a.tls_identity.dns_like_identity.name, SA_NAME)
        self.assertFalse(a.tls_identity.HasField("server_name"))
        self.assertEqual(a.protocol_hint.WhichOneof("protocol"), "h2")
        self.assertTrue(a.protocol_hint.HasField("opaque_transport"))
        self.assertEqual(a.protocol_hint.opaque_transport.inbound_port, 4143)
        for absent in ("authority_override", "http2", "resource_ref"):
            self.assertFalse(a.HasField(absent), absent)

        b = s.addrs[1]
        self.assertEqual(b.addr.ip.WhichOneof("ip"), "ipv6")
        self.assertEqual(b.addr.ip.ipv6.first, 0xFD00000100020003)
        self.assertEqual(b.addr.ip.ipv6.last, 0x0004000500060007)
        self.assertEqual(b.addr.port, 80)
        self.assertEqual(b.weight, 5000)
        self.assertEqual(dict(b.metric_labels), {"pod": "web-1"})
        self.assertEqual(b.tls_identity.WhichOneof("strategy"), "uri_like_identity")
        self.assertEqual(b.tls_identity.uri_like_identity.uri,
                         "spiffe://cluster.local/ns/ns/sa/web")
        self.assertEqual(b.tls_identity.server_name.name, SA_NAME)
        self.assertEqual(b.protocol_hint.WhichOneof("protocol"), "opaque")
        self.assertFalse(b.protocol_hint.HasField("opaque_transport"))

    def test_profile(self):
        p = self.decode(destination_pb2.DestinationProfile, "profile.hex", 179)
        self.assertEqual(p.fully_qualified_name, "web.ns.svc.cluster.local")
        self.assertFalse(p.opaque_protocol)
        self.assertFalse(p.HasField("endpoint"))
        self.assertEqual(len(p.routes), 1)
        r = p.routes[0]
        self.assertEqual(r.condition.WhichOneof("match"), "all")
        m0, m1 = r.condition.all.matches
        self.assertEqual(m0.WhichOneof("match"), "path")
        self.assertEqual(m0.path.regex, "/api/.*")
        self.assertEqual(m1.WhichOneof("match"), "method")
        self.assertEqual(m1.method.WhichOneof("type"), "registered")
        self.assertEqual(m1.method.registered, http_types_pb2.HttpMethod.POST)
        self.assertEqual(len(r.response_classes), 1)
        rc = r.response_classes[0]
        self.assertTrue(rc.is_failure)
        self.assertEqual(rc.condition.WhichOneof("match"), "status")
        self.assertEqual((rc.condition.status.min, rc.condition.status.max), (500, 599))
        self.assertEqual(dict(r.metrics_labels), {"route": "POST /api"})
        self.assertTrue(r.is_retryable)
        self.assertEqual((r.timeout.seconds, r.timeout.nanos), (1, 500000000))
        self.assertIsInstance(r.timeout, duration_pb2.Duration)

        rb = p.retry_budget
        self.assertAlmostEqual(rb.retry_ratio, 0.2, places=6)
        self.assertEqual(rb.min_retries_per_second, 10)
        self.assertEqual((rb.ttl.seconds, rb.ttl.nanos), (10, 0))

        self.assertEqual(len(p.dst_overrides), 1)
        d = p.dst_overrides[0]
        self.assertEqual((d.authority, d.weight), ("web.ns.svc.cluster.local:80", 10000))
        self.assertFalse(d.HasField("backend_ref"))

        self.assertEqual(p.parent_ref.WhichOneof("kind"), "resource")
        res = p.parent_ref.resource
        self.assertEqual((res.group, res.kind, res.name, res.namespace, res.section, res.port),
                         ("", "Service", "web", "ns", "", 80))
        self.assertIsInstance(res, meta_pb2.Resource)
        self.assertEqual(p.profile_ref.WhichOneof("kind"), "default")
        self.assertEqual(getattr(p.profile_ref, "default"), "default")

    def test_certify_response(self):
        r = self.decode(identity_pb2.CertifyResponse, "certify_response.hex", 36)
        self.assertEqual(r.leaf_certificate, bytes.fromhex("30050203010001"))
        self.assertEqual(list(r.intermediate_certificates),
                         [bytes.fromhex("3003020102"), bytes.fromhex("3003020103")])
        self.assertIsInstance(r.valid_until, timestamp_pb2.Timestamp)
        self.assertEqual((r.valid_until.seconds, r.valid_until.nanos), (1767225600, 250000000))
        self.assertEqual(r.valid_until.ToJsonString(), "2026-01-01T00:00:00.250Z")

    def test_truncated_rejected(self):
        data = load("update.hex")
        for cut in range(1, len(data), 7):
            with self.assertRaises(Exception, msg="cut %d" % cut):
                destination_pb2.Update().ParseFromString(data[:-cut])


class _RecordingChannel:
    """Stands in for grpc.Channel: records what the generated stub asks for."""

    def __init__(self):
        self.calls = {}

    def _record(self, kind):
        def make(path, request_serializer=None, response_deserializer=None):
            self.calls[path] = (kind, request_serializer, response_deserializer)
            return path
        return make

    def __getattr__(self, kind):
        if kind in ("unary_unary", "unary_stream", "stream_unary", "stream_stream"):
            return self._record(kind)
        raise AttributeError(kind)


class StubTest(unittest.TestCase):
    def test_destination_paths_and_streaming(self):
        ch = _RecordingChannel()
        destination_pb2_grpc.DestinationStub(ch)
        self.assertEqual(set(ch.calls), {
            "/io.linkerd.proxy.destination.Destination/Get",
            "/io.linkerd.proxy.destination.Destination/GetProfile",
        })
        kind, ser, de = ch.calls["/io.linkerd.proxy.destination.Destination/Get"]
        self.assertEqual(kind, "unary_stream")
        self.assertEqual(ser, destination_pb2.GetDestination.SerializeToString)
        self.assertEqual(de, destination_pb2.Update.FromString)
        kind, ser, de = ch.calls["/io.linkerd.proxy.destination.Destination/GetProfile"]
        self.assertEqual(kind, "unary_stream")
        self.assertEqual(de, destination_pb2.DestinationProfile.FromString)

    def test_identity_paths(self):
        ch = _RecordingChannel()
        identity_pb2_grpc.IdentityStub(ch)
        self.assertEqual(list(ch.calls), ["/io.linkerd.proxy.identity.Identity/Certify"])
        kind, ser, de = ch.calls["/io.linkerd.proxy.identity.Identity/Certify"]
        self.assertEqual(kind, "unary_unary")
        self.assertEqual(ser, identity_pb2.CertifyRequest.SerializeToString)
        self.assertEqual(de, identity_pb2.CertifyResponse.FromString)

    def test_streaming_flags_in_descriptors(self):
        svc = destination_pb2.DESCRIPTOR.services_by_name["Destination"]
        for name in ("Get", "GetProfile"):
            m = svc.methods_by_name[name]
            self.assertFalse(m.client_streaming, name)
            self.assertTrue(m.server_streaming, name)
        c = identity_pb2.DESCRIPTOR.services_by_name["Identity"].methods_by_name["Certify"]
        self.assertFalse(c.client_streaming or c.server_streaming)


def _all_messages(fd):
    def walk(d):
        yield d
        for n in d.nested_types:
            if not n.GetOptions().map_entry:
                yield from walk(n)
    for d in fd.message_types_by_name.values():
        yield from walk(d)


class ImportsTest(unittest.TestCase):
    def test_cross_file_types(self):
        wa = destination_pb2.WeightedAddr.DESCRIPTOR
        self.assertIs(wa.fields_by_name["addr"].message_type, net_pb2.TcpAddress.DESCRIPTOR)
        self.assertIs(wa.fields_by_name["resource_ref"].message_type,
                      meta_pb2.Metadata.DESCRIPTOR)
        rm = destination_pb2.RequestMatch.DESCRIPTOR
        self.assertIs(rm.fields_by_name["method"].message_type,
                      http_types_pb2.HttpMethod.DESCRIPTOR)
        self.assertIs(destination_pb2.Route.DESCRIPTOR.fields_by_name["timeout"].message_type,
                      duration_pb2.Duration.DESCRIPTOR)
        self.assertIs(identity_pb2.CertifyResponse.DESCRIPTOR.fields_by_name["valid_until"]
                      .message_type, timestamp_pb2.Timestamp.DESCRIPTOR)
        self.assertEqual([d.name for d in destination_pb2.DESCRIPTOR.dependencies],
                         ["google/protobuf/duration.proto", "http_types.proto",
                          "meta.proto", "net.proto"])
        self.assertEqual([d.name for d in identity_pb2.DESCRIPTOR.dependencies],
                         ["google/protobuf/timestamp.proto"])

    def test_packages_and_message_names(self):
        # Written by hand from the reference; a message added to or missing
        # from proto/ shows up here.
        want = {
            "destination_pb2": ("io.linkerd.proxy.destination", {
                "GetDestination", "Update", "AddrSet", "WeightedAddrSet", "WeightedAddr",
                "TlsIdentity", "TlsIdentity.DnsLikeIdentity", "TlsIdentity.UriLikeIdentity",
                "AuthorityOverride", "NoEndpoints", "ProtocolHint", "ProtocolHint.H2",
                "ProtocolHint.Opaque", "ProtocolHint.OpaqueTransport", "Http2ClientParams",
                "Http2ClientParams.FlowControl", "Http2ClientParams.KeepAlive",
                "Http2ClientParams.Internals", "DestinationProfile", "Route", "RetryBudget",
                "ResponseClass", "RequestMatch", "RequestMatch.Seq", "PathMatch",
                "ResponseMatch", "ResponseMatch.Seq", "HttpStatusRange", "WeightedDst"}),
            "net_pb2": ("io.linkerd.proxy.net",
                        {"IPAddress", "IPv6", "IPNetwork", "TcpAddress"}),
            "http_types_pb2": ("io.linkerd.proxy.http_types",
                               {"HttpMethod", "Scheme", "Headers", "Headers.Header"}),
            "meta_pb2": ("io.linkerd.proxy.meta", {"Metadata", "Resource"}),
            "identity_pb2": ("io.linkerd.proxy.identity", {"CertifyRequest", "CertifyResponse"}),
        }
        mods = {"destination_pb2": destination_pb2, "net_pb2": net_pb2,
                "http_types_pb2": http_types_pb2, "meta_pb2": meta_pb2,
                "identity_pb2": identity_pb2}
        total = 0
        for mod, (pkg, names) in want.items():
            fd = mods[mod].DESCRIPTOR
            self.assertEqual(fd.package, pkg)
            self.assertEqual(fd.syntax, "proto3")
            got = {d.full_name[len(pkg) + 1:] for d in _all_messages(fd)}
            self.assertEqual(got, names, mod)
            total += len(got)
        self.assertEqual(total, 41)


if __name__ == "__main__":
    unittest.main()
