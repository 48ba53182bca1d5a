/*
 * The generated protobuf-c descriptors against the wire contract, field by
 * field. The tables below were typed by hand from the reference notes on
 * Linkerd's proxy API (linkerd.md §1.1-1.3), not derived from the files in proto/,
 * so a wrong number, type, label or oneof in our .proto files fails here.
 */
#include <check.h>
#include <string.h>

#include "destination.pb-c.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "http_types.pb-c.h"
#include "identity.pb-c.h"
#include "meta.pb-c.h"
#include "net.pb-c.h"

typedef enum {
    F_STRING,
    F_BYTES,
    F_BOOL,
    F_UINT32,
    F_INT32,
    F_INT64,
    F_FIXED32,
    F_FIXED64,
    F_FLOAT,
    F_MSG,  /* ref = message full name */
    F_ENUM, /* ref = enum full name */
    F_MAP,  /* map<string,string> */
} ftype_t;

typedef struct {
    const char *name;
    unsigned number;
    int repeated;
    ftype_t type;
    const char *ref;   /* F_MSG / F_ENUM only */
    const char *oneof; /* NULL when not in a oneof */
} field_t;

typedef struct {
    const char *full_name;
    const ProtobufCMessageDescriptor *desc;
    const field_t *fields;
    unsigned n_fields;
} message_t;

#define D "io.linkerd.proxy.destination."
#define NET "io.linkerd.proxy.net."
#define HT "io.linkerd.proxy.http_types."
#define META "io.linkerd.proxy.meta."
#define DUR "google.protobuf.Duration"

/* ---- destination.proto (§1.2) ---- */
static const field_t get_destination[] = {
    {"scheme", 1, 0, F_STRING, NULL, NULL},
    {"path", 2, 0, F_STRING, NULL, NULL},
    {"context_token", 3, 0, F_STRING, NULL, NULL},
};
static const field_t update[] = {
    {"add", 1, 0, F_MSG, D "WeightedAddrSet", "update"},
    {"remove", 2, 0, F_MSG, D "AddrSet", "update"},
    {"no_endpoints", 3, 0, F_MSG, D "NoEndpoints", "update"},
};
static const field_t addr_set[] = {
    {"addrs", 1, 1, F_MSG, NET "TcpAddress", NULL},
};
static const field_t weighted_addr_set[] = {
    {"addrs", 1, 1, F_MSG, D "WeightedAddr", NULL},
    {"metric_labels", 2, 0, F_MAP, NULL, NULL},
};
static const field_t weighted_addr[] = {
    {"addr", 1, 0, F_MSG, NET "TcpAddress", NULL},
    {"weight", 3, 0, F_UINT32, NULL, NULL},
    {"metric_labels", 4, 0, F_MAP, NULL, NULL},
    {"tls_identity", 5, 0, F_MSG, D "TlsIdentity", NULL},
    {"protocol_hint", 6, 0, F_MSG, D "ProtocolHint", NULL},
    {"authority_override", 7, 0, F_MSG, D "AuthorityOverride", NULL},
    {"http2", 8, 0, F_MSG, D "Http2ClientParams", NULL},
    {"resource_ref", 9, 0, F_MSG, META "Metadata", NULL},
};
static const field_t tls_identity[] = {
    {"dns_like_identity", 1, 0, F_MSG, D "TlsIdentity.DnsLikeIdentity", "strategy"},
    {"uri_like_identity", 3, 0, F_MSG, D "TlsIdentity.UriLikeIdentity", "strategy"},
    {"server_name", 4, 0, F_MSG, D "TlsIdentity.DnsLikeIdentity", NULL},
};
static const field_t dns_like_identity[] = {
    {"name", 1, 0, F_STRING, NULL, NULL},
};
static const field_t uri_like_identity[] = {
    {"uri", 1, 0, F_STRING, NULL, NULL},
};
static const field_t authority_override[] = {
    {"authority_override", 1, 0, F_STRING, NULL, NULL},
};
static const field_t no_endpoints[] = {
    {"exists", 1, 0, F_BOOL, NULL, NULL},
};
static const field_t protocol_hint[] = {
    {"h2", 1, 0, F_MSG, D "ProtocolHint.H2", "protocol"},
    {"opaque", 3, 0, F_MSG, D "ProtocolHint.Opaque", "protocol"},
    {"opaque_transport", 2, 0, F_MSG, D "ProtocolHint.OpaqueTransport", NULL},
};
static const field_t opaque_transport[] = {
    {"inbound_port", 1, 0, F_UINT32, NULL, NULL},
};
static const field_t http2_client_params[] = {
    {"flow_control", 1, 0, F_MSG, D "Http2ClientParams.FlowControl", NULL},
    {"keep_alive", 2, 0, F_MSG, D "Http2ClientParams.KeepAlive", NULL},
    {"internals", 3, 0, F_MSG, D "Http2ClientParams.Internals", NULL},
};
static const field_t flow_control[] = {
    {"initial_connection_window_size", 1, 0, F_UINT32, NULL, NULL},
    {"initial_stream_window_size", 2, 0, F_UINT32, NULL, NULL},
    {"adaptive_flow_control", 3, 0, F_BOOL, NULL, NULL},
};
static const field_t keep_alive[] = {
    {"interval", 1, 0, F_MSG, DUR, NULL},
    {"timeout", 2, 0, F_MSG, DUR, NULL},
    {"while_idle", 3, 0, F_BOOL, NULL, NULL},
};
static const field_t internals[] = {
    {"max_concurrent_reset_streams", 1, 0, F_UINT32, NULL, NULL},
    {"max_frame_size", 2, 0, F_UINT32, NULL, NULL},
    {"max_send_buf_size", 3, 0, F_UINT32, NULL, NULL},
};
static const field_t destination_profile[] = {
    {"routes", 1, 1, F_MSG, D "Route", NULL},
    {"retry_budget", 2, 0, F_MSG, D "RetryBudget", NULL},
    {"dst_overrides", 3, 1, F_MSG, D "WeightedDst", NULL},
    {"opaque_protocol", 4, 0, F_BOOL, NULL, NULL},
    {"fully_qualified_name", 5, 0, F_STRING, NULL, NULL},
    {"endpoint", 6, 0, F_MSG, D "WeightedAddr", NULL},
    {"parent_ref", 7, 0, F_MSG, META "Metadata", NULL},
    {"profile_ref", 8, 0, F_MSG, META "Metadata", NULL},
};
static const field_t route[] = {
    {"condition", 1, 0, F_MSG, D "RequestMatch", NULL},
    {"response_classes", 2, 1, F_MSG, D "ResponseClass", NULL},
    {"metrics_labels", 3, 0, F_MAP, NULL, NULL},
    {"is_retryable", 4, 0, F_BOOL, NULL, NULL},
    {"timeout", 5, 0, F_MSG, DUR, NULL},
};
static const field_t retry_budget[] = {
    {"retry_ratio", 1, 0, F_FLOAT, NULL, NULL},
    {"min_retries_per_second", 2, 0, F_UINT32, NULL, NULL},
    {"ttl", 3, 0, F_MSG, DUR, NULL},
};
static const field_t response_class[] = {
    {"condition", 1, 0, F_MSG, D "ResponseMatch", NULL},
    {"is_failure", 2, 0, F_BOOL, NULL, NULL},
};
static const field_t request_match[] = {
    {"all", 1, 0, F_MSG, D "RequestMatch.Seq", "match"},
    {"any", 2, 0, F_MSG, D "RequestMatch.Seq", "match"},
    {"not", 3, 0, F_MSG, D "RequestMatch", "match"},
    {"path", 4, 0, F_MSG, D "PathMatch", "match"},
    {"method", 5, 0, F_MSG, HT "HttpMethod", "match"},
};
static const field_t request_match_seq[] = {
    {"matches", 1, 1, F_MSG, D "RequestMatch", NULL},
};
static const field_t path_match[] = {
    {"regex", 1, 0, F_STRING, NULL, NULL},
};
static const field_t response_match[] = {
    {"all", 1, 0, F_MSG, D "ResponseMatch.Seq", "match"},
    {"any", 2, 0, F_MSG, D "ResponseMatch.Seq", "match"},
    {"not", 3, 0, F_MSG, D "ResponseMatch", "match"},
    {"status", 4, 0, F_MSG, D "HttpStatusRange", "match"},
};
static const field_t response_match_seq[] = {
    {"matches", 1, 1, F_MSG, D "ResponseMatch", NULL},
};
static const field_t http_status_range[] = {
    {"min", 1, 0, F_UINT32, NULL, NULL},
    {"max", 2, 0, F_UINT32, NULL, NULL},
};
static const field_t weighted_dst[] = {
    {"authority", 1, 0, F_STRING, NULL, NULL},
    {"weight", 2, 0, F_UINT32, NULL, NULL},
    {"backend_ref", 3, 0, F_MSG, META "Metadata", NULL},
};

/* ---- net.proto (§1.3) ---- */
static const field_t ip_address[] = {
    {"ipv4", 1, 0, F_FIXED32, NULL, "ip"},
    {"ipv6", 2, 0, F_MSG, NET "IPv6", "ip"},
};
static const field_t ipv6[] = {
    {"first", 1, 0, F_FIXED64, NULL, NULL},
    {"last", 2, 0, F_FIXED64, NULL, NULL},
};
static const field_t ip_network[] = {
    {"ip", 1, 0, F_MSG, NET "IPAddress", NULL},
    {"prefix_len", 2, 0, F_UINT32, NULL, NULL},
};
static const field_t tcp_address[] = {
    {"ip", 1, 0, F_MSG, NET "IPAddress", NULL},
    {"port", 2, 0, F_UINT32, NULL, NULL},
};

/* ---- http_types.proto (§1.3) ---- */
static const field_t http_method[] = {
    {"registered", 1, 0, F_ENUM, HT "HttpMethod.Registered", "type"},
    {"unregistered", 2, 0, F_STRING, NULL, "type"},
};
static const field_t scheme[] = {
    {"registered", 1, 0, F_ENUM, HT "Scheme.Registered", "type"},
    {"unregistered", 2, 0, F_STRING, NULL, "type"},
};
static const field_t headers[] = {
    {"headers", 1, 1, F_MSG, HT "Headers.Header", NULL},
};
static const field_t header[] = {
    {"name", 1, 0, F_STRING, NULL, NULL},
    {"value", 2, 0, F_BYTES, NULL, NULL},
};

/* ---- meta.proto (§1.3) ---- */
static const field_t metadata[] = {
    {"default", 1, 0, F_STRING, NULL, "kind"},
    {"resource", 2, 0, F_MSG, META "Resource", "kind"},
};
static const field_t resource[] = {
    {"group", 1, 0, F_STRING, NULL, NULL},
    {"kind", 2, 0, F_STRING, NULL, NULL},
    {"name", 3, 0, F_STRING, NULL, NULL},
    {"namespace", 4, 0, F_STRING, NULL, NULL},
    {"section", 5, 0, F_STRING, NULL, NULL},
    {"port", 6, 0, F_UINT32, NULL, NULL},
};

/* ---- identity.proto (§1.3) ---- */
static const field_t certify_request[] = {
    {"identity", 1, 0, F_STRING, NULL, NULL},
    {"token", 2, 0, F_BYTES, NULL, NULL},
    {"certificate_signing_request", 3, 0, F_BYTES, NULL, NULL},
};
static const field_t certify_response[] = {
    {"leaf_certificate", 1, 0, F_BYTES, NULL, NULL},
    {"intermediate_certificates", 2, 1, F_BYTES, NULL, NULL},
    {"valid_until", 3, 0, F_MSG, "google.protobuf.Timestamp", NULL},
};

/* ---- well-known types (§1.3) ---- */
static const field_t duration[] = {
    {"seconds", 1, 0, F_INT64, NULL, NULL},
    {"nanos", 2, 0, F_INT32, NULL, NULL},
};
static const field_t timestamp[] = {
    {"seconds", 1, 0, F_INT64, NULL, NULL},
    {"nanos", 2, 0, F_INT32, NULL, NULL},
};

#define M(name, sym, tbl) {name, &sym, tbl, (unsigned)(sizeof(tbl) / sizeof(tbl[0]))}
#define M0(name, sym) {name, &sym, NULL, 0}
#define PD(x) io__linkerd__proxy__destination__##x##__descriptor
static const message_t messages[] = {
    M(D "GetDestination", PD(get_destination), get_destination),
    M(D "Update", PD(update), update),
    M(D "AddrSet", PD(addr_set), addr_set),
    M(D "WeightedAddrSet", PD(weighted_addr_set), weighted_addr_set),
    M(D "WeightedAddr", PD(weighted_addr), weighted_addr),
    M(D "TlsIdentity", PD(tls_identity), tls_identity),
    M(D "TlsIdentity.DnsLikeIdentity", PD(tls_identity__dns_like_identity), dns_like_identity),
    M(D "TlsIdentity.UriLikeIdentity", PD(tls_identity__uri_like_identity), uri_like_identity),
    M(D "AuthorityOverride", PD(authority_override), authority_override),
    M(D "NoEndpoints", PD(no_endpoints), no_endpoints),
    M(D "ProtocolHint", PD(protocol_hint), protocol_hint),
    M0(D "ProtocolHint.H2", PD(protocol_hint__h2)),
    M0(D "ProtocolHint.Opaque", PD(protocol_hint__opaque)),
    M(D "ProtocolHint.OpaqueTransport", PD(protocol_hint__opaque_transport), opaque_transport),
    M(D "Http2ClientParams", PD(http2_client_params), http2_client_params),
    M(D "Http2ClientParams.FlowControl", PD(http2_client_params__flow_control), flow_control),
    M(D "Http2ClientParams.KeepAlive", PD(http2_client_params__keep_alive), keep_alive),
    M(D "Http2ClientParams.Internals", PD(http2_client_params__internals), internals),
    M(D "DestinationProfile", PD(destination_profile), destination_profile),
    M(D "Route", PD(route), route),
    M(D "RetryBudget", PD(retry_budget), retry_budget),
    M(D "ResponseClass", PD(response_class), response_class),
    M(D "RequestMatch", PD(request_match), request_match),
    M(D "RequestMatch.Seq", PD(request_match__seq), request_match_seq),
    M(D "PathMatch", PD(path_match), path_match),
    M(D "ResponseMatch", PD(response_match), response_match),
    M(D "ResponseMatch.Seq", PD(response_match__seq), response_match_seq),
    M(D "HttpStatusRange", PD(http_status_range), http_status_range),
    M(D "WeightedDst", PD(weighted_dst), weighted_dst),
    M(NET "IPAddress", io__linkerd__proxy__net__ipaddress__descriptor, ip_address),
    M(NET "IPv6", io__linkerd__proxy__net__ipv6__descriptor, ipv6),
    M(NET "IPNetwork", io__linkerd__proxy__net__ipnetwork__descriptor, ip_network),
    M(NET "TcpAddress", io__linkerd__proxy__net__tcp_address__descriptor, tcp_address),
    M(HT "HttpMethod", io__linkerd__proxy__http_types__http_method__descriptor, http_method),
    M(HT "Scheme", io__linkerd__proxy__http_types__scheme__descriptor, scheme),
    M(HT "Headers", io__linkerd__proxy__http_types__headers__descriptor, headers),
    M(HT "Headers.Header", io__linkerd__proxy__http_types__headers__header__descriptor, header),
    M(META "Metadata", io__linkerd__proxy__meta__metadata__descriptor, metadata),
    M(META "Resource", io__linkerd__proxy__meta__resource__descriptor, resource),
    M("io.linkerd.proxy.identity.CertifyRequest",
      io__linkerd__proxy__identity__certify_request__descriptor, certify_request),
    M("io.linkerd.proxy.identity.CertifyResponse",
      io__linkerd__proxy__identity__certify_response__descriptor, certify_response),
    M(DUR, google__protobuf__duration__descriptor, duration),
    M("google.protobuf.Timestamp", google__protobuf__timestamp__descriptor, timestamp),
};
#define N_MESSAGES (sizeof(messages) / sizeof(messages[0]))

static ProtobufCType pb_type(ftype_t t)
{
    switch (t) {
    case F_STRING: return PROTOBUF_C_TYPE_STRING;
    case F_BYTES: return PROTOBUF_C_TYPE_BYTES;
    case F_BOOL: return PROTOBUF_C_TYPE_BOOL;
    case F_UINT32: return PROTOBUF_C_TYPE_UINT32;
    case F_INT32: return PROTOBUF_C_TYPE_INT32;
    case F_INT64: return PROTOBUF_C_TYPE_INT64;
    case F_FIXED32: return PROTOBUF_C_TYPE_FIXED32;
    case F_FIXED64: return PROTOBUF_C_TYPE_FIXED64;
    case F_FLOAT: return PROTOBUF_C_TYPE_FLOAT;
    case F_ENUM: return PROTOBUF_C_TYPE_ENUM;
    case F_MSG:
    case F_MAP: return PROTOBUF_C_TYPE_MESSAGE;
    }
    return (ProtobufCType)-1;
}

/* A map<string,string> is a repeated entry message: key #1, value #2. */
static void check_map_entry(const char *where, const ProtobufCMessageDescriptor *e)
{
    ck_assert_msg(e != NULL, "%s: map without entry descriptor", where);
    ck_assert_msg(e->n_fields == 2, "%s: entry has %u fields", where, e->n_fields);
    const ProtobufCFieldDescriptor *k = protobuf_c_message_descriptor_get_field(e, 1);
    const ProtobufCFieldDescriptor *v = protobuf_c_message_descriptor_get_field(e, 2);
    ck_assert_msg(k && strcmp(k->name, "key") == 0 && k->type == PROTOBUF_C_TYPE_STRING,
                  "%s: bad map key", where);
    ck_assert_msg(v && strcmp(v->name, "value") == 0 && v->type == PROTOBUF_C_TYPE_STRING,
                  "%s: bad map value", where);
}

static void check_message(const message_t *m)
{
    const ProtobufCMessageDescriptor *d = m->desc;
    ck_assert_uint_eq(d->magic, PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    ck_assert_str_eq(d->name, m->full_name);
    /* Nothing extra, nothing missing: the counts must agree too. */
    ck_assert_msg(d->n_fields == m->n_fields, "%s: %u fields generated, %u expected",
                  m->full_name, d->n_fields, m->n_fields);
    for (unsigned i = 0; i < m->n_fields; i++) {
        const field_t *x = &m->fields[i];
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, x->name);
        ck_assert_msg(f != NULL, "%s.%s missing", m->full_name, x->name);
        ck_assert_msg(f->id == x->number, "%s.%s: number %u, expected %u", m->full_name, x->name,
                      f->id, x->number);
        ck_assert_msg(f->type == pb_type(x->type), "%s.%s: type %d", m->full_name, x->name,
                      (int)f->type);
        /* proto3: singular fields (oneof members too) carry no presence label. */
        ProtobufCLabel want = (x->repeated || x->type == F_MAP) ? PROTOBUF_C_LABEL_REPEATED
                                                                : PROTOBUF_C_LABEL_NONE;
        ck_assert_msg(f->label == want, "%s.%s: label %d, expected %d", m->full_name, x->name,
                      (int)f->label, (int)want);
        int in_oneof = (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
        ck_assert_msg(in_oneof == (x->oneof != NULL), "%s.%s: oneof membership", m->full_name,
                      x->name);
        if (x->type == F_MSG) {
            const ProtobufCMessageDescriptor *sub = f->descriptor;
            ck_assert_msg(sub != NULL, "%s.%s: no message type", m->full_name, x->name);
            ck_assert_msg(strcmp(sub->name, x->ref) == 0, "%s.%s: type %s, expected %s",
                          m->full_name, x->name, sub->name, x->ref);
        } else if (x->type == F_ENUM) {
            const ProtobufCEnumDescriptor *en = f->descriptor;
            ck_assert_msg(en != NULL && strcmp(en->name, x->ref) == 0, "%s.%s: enum type",
                          m->full_name, x->name);
        } else if (x->type == F_MAP) {
            check_map_entry(x->name, f->descriptor);
        }
        /* protobuf-c records a oneof as the offset of its case member: members
         * of one oneof share it, members of different oneofs do not. */
        for (unsigned j = 0; j < i; j++) {
            const field_t *y = &m->fields[j];
            if (x->oneof == NULL || y->oneof == NULL)
                continue;
            const ProtobufCFieldDescriptor *g = protobuf_c_message_descriptor_get_field_by_name(d, y->name);
            int same = strcmp(x->oneof, y->oneof) == 0;
            ck_assert_msg(same == (f->quantifier_offset == g->quantifier_offset),
                          "%s: %s and %s oneof grouping", m->full_name, x->name, y->name);
        }
    }
}

START_TEST(test_descriptor_messages)
{
    check_message(&messages[_i]);
}
END_TEST

/* Every message a field points to is in the table (or is a map entry), so
 * the table covers the whole graph reachable from it. */
START_TEST(test_descriptor_closed)
{
    unsigned n = 0;
    for (size_t i = 0; i < N_MESSAGES; i++) {
        const ProtobufCMessageDescriptor *d = messages[i].desc;
        n += messages[i].n_fields;
        for (unsigned k = 0; k < d->n_fields; k++) {
            const ProtobufCFieldDescriptor *f = &d->fields[k];
            if (f->type != PROTOBUF_C_TYPE_MESSAGE)
                continue;
            const ProtobufCMessageDescriptor *sub = f->descriptor;
            size_t len = strlen(sub->name);
            if (len > 5 && strcmp(sub->name + len - 5, "Entry") == 0)
                continue;
            int found = 0;
            for (size_t j = 0; j < N_MESSAGES && !found; j++)
                found = messages[j].desc == sub;
            ck_assert_msg(found, "%s.%s -> %s not in table", d->name, f->name, sub->name);
        }
    }
    ck_assert_uint_eq(N_MESSAGES, 43);
    ck_assert_uint_eq(n, 108);
}
END_TEST

typedef struct {
    const char *name;
    int value;
} enum_value_t;

static void check_enum(const ProtobufCEnumDescriptor *e, const char *name,
                       const enum_value_t *v, unsigned n)
{
    ck_assert_str_eq(e->name, name);
    ck_assert_uint_eq(e->n_values, n);
    for (unsigned i = 0; i < n; i++) {
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(e, v[i].name);
        ck_assert_msg(ev != NULL, "%s.%s missing", name, v[i].name);
        ck_assert_int_eq(ev->value, v[i].value);
    }
}

START_TEST(test_descriptor_enums)
{
    static const enum_value_t method[] = {
        {"GET", 0}, {"POST", 1}, {"PUT", 2}, {"DELETE", 3}, {"PATCH", 4},
        {"OPTIONS", 5}, {"CONNECT", 6}, {"HEAD", 7}, {"TRACE", 8},
    };
    static const enum_value_t sch[] = {{"HTTP", 0}, {"HTTPS", 1}};
    check_enum(&io__linkerd__proxy__http_types__http_method__registered__descriptor,
               HT "HttpMethod.Registered", method, 9);
    check_enum(&io__linkerd__proxy__http_types__scheme__registered__descriptor,
               HT "Scheme.Registered", sch, 2);
}
END_TEST

static void check_method(const ProtobufCServiceDescriptor *s, const char *name,
                         const char *in, const char *out)
{
    const ProtobufCMethodDescriptor *m = protobuf_c_service_descriptor_get_method_by_name(s, name);
    ck_assert_msg(m != NULL, "%s/%s missing", s->name, name);
    ck_assert_str_eq(m->input->name, in);
    ck_assert_str_eq(m->output->name, out);
}

START_TEST(test_descriptor_services)
{
    const ProtobufCServiceDescriptor *dst = &io__linkerd__proxy__destination__destination__descriptor;
    ck_assert_uint_eq(dst->magic, PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC);
    ck_assert_str_eq(dst->name, "io.linkerd.proxy.destination.Destination");
    ck_assert_uint_eq(dst->n_methods, 2);
    check_method(dst, "Get", D "GetDestination", D "Update");
    check_method(dst, "GetProfile", D "GetDestination", D "DestinationProfile");

    const ProtobufCServiceDescriptor *id = &io__linkerd__proxy__identity__identity__descriptor;
    ck_assert_str_eq(id->name, "io.linkerd.proxy.identity.Identity");
    ck_assert_uint_eq(id->n_methods, 1);
    check_method(id, "Certify", "io.linkerd.proxy.identity.CertifyRequest",
                 "io.linkerd.proxy.identity.CertifyResponse");
}
END_TEST

Suite *descriptor_suite(void)
{
    Suite *s = suite_create("descriptor");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_descriptor_messages, 0, (int)N_MESSAGES);
    tcase_add_test(tc, test_descriptor_closed);
    tcase_add_test(tc, test_descriptor_enums);
    tcase_add_test(tc, test_descriptor_services);
    suite_add_tcase(s, tc);
    return s;
}
