/*
 * protobuf-c against the hand-written golden encodings in golden/ (*.hex): every
 * field decodes to the value written in the file's comments, and packing the
 * decoded message gives back the same bytes (the files are canonical).
 */
#include <check.h>
#include <string.h>

#include "destination.pb-c.h"
#include "golden.h"
#include "identity.pb-c.h"
#include "mesh/mem.h"

typedef struct {
    uint8_t *bytes;
    size_t len;
} golden_t;

static golden_t load(const char *name)
{
    golden_t g = {NULL, 0};
    const char *err = NULL;
    g.bytes = golden_load(name, &g.len, &err);
    ck_assert_msg(g.bytes != NULL, "%s: %s", name, err);
    return g;
}

/* Packs m and compares with the golden bytes. */
static void assert_repacks(const ProtobufCMessage *m, const golden_t *g)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    ck_assert_uint_eq(n, g->len);
    uint8_t *out = mesh_malloc(n);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(protobuf_c_message_pack(m, out), n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(out[i] == g->bytes[i], "byte %zu: packed %02x, golden %02x", i, out[i],
                      g->bytes[i]);
    mesh_free(out);
}

static void assert_label(ProtobufCMessage **entries, size_t i, const char *k, const char *v)
{
    /* Every map entry message of destination.proto has the same layout. */
    Io__Linkerd__Proxy__Destination__WeightedAddr__MetricLabelsEntry *e = (void *)entries[i];
    ck_assert_str_eq(e->key, k);
    ck_assert_str_eq(e->value, v);
}

static const char *const SA_NAME = "web.ns.serviceaccount.identity.linkerd.cluster.local";

START_TEST(test_golden_update)
{
    golden_t g = load("update.hex");
    ck_assert_uint_eq(g.len, 281);
    Io__Linkerd__Proxy__Destination__Update *u =
        io__linkerd__proxy__destination__update__unpack(NULL, g.len, g.bytes);
    ck_assert_ptr_nonnull(u);
    ck_assert_int_eq(u->update_case, IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_ADD);
    Io__Linkerd__Proxy__Destination__WeightedAddrSet *set = u->add;
    ck_assert_uint_eq(set->n_addrs, 2);
    ck_assert_uint_eq(set->n_metric_labels, 2);
    assert_label((ProtobufCMessage **)set->metric_labels, 0, "namespace", "ns");
    assert_label((ProtobufCMessage **)set->metric_labels, 1, "service", "web");

    /* Endpoint 0: 10.1.2.3:8080, DNS identity, h2 + opaque transport. */
    Io__Linkerd__Proxy__Destination__WeightedAddr *a = set->addrs[0];
    ck_assert_ptr_nonnull(a->addr);
    ck_assert_int_eq(a->addr->ip->ip_case, IO__LINKERD__PROXY__NET__IPADDRESS__IP_IPV4);
    ck_assert_uint_eq(a->addr->ip->ipv4, 0x0A010203u);
    ck_assert_uint_eq(a->addr->port, 8080);
    ck_assert_uint_eq(a->weight, 10000);
    ck_assert_uint_eq(a->n_metric_labels, 1);
    assert_label((ProtobufCMessage **)a->metric_labels, 0, "pod", "web-0");
    ck_assert_int_eq(a->tls_identity->strategy_case,
                     IO__LINKERD__PROXY__DESTINATION__TLS_IDENTITY__STRATEGY_DNS_LIKE_IDENTITY);
    ck_assert_str_eq(a->tls_identity->dns_like_identity->name, SA_NAME);
    ck_assert_ptr_null(a->tls_identity->server_name);
    ck_assert_int_eq(a->protocol_hint->protocol_case,
                     IO__LINKERD__PROXY__DESTINATION__PROTOCOL_HINT__PROTOCOL_H2);
    ck_assert_ptr_nonnull(a->protocol_hint->h2);
    ck_assert_ptr_nonnull(a->protocol_hint->opaque_transport);
    ck_assert_uint_eq(a->protocol_hint->opaque_transport->inbound_port, 4143);
    ck_assert_ptr_null(a->authority_override);
    ck_assert_ptr_null(a->http2);
    ck_assert_ptr_null(a->resource_ref);

    /* Endpoint 1: [fd00:1:2:3:4:5:6:7]:80, URI identity + SNI, opaque. */
    Io__Linkerd__Proxy__Destination__WeightedAddr *b = set->addrs[1];
    ck_assert_int_eq(b->addr->ip->ip_case, IO__LINKERD__PROXY__NET__IPADDRESS__IP_IPV6);
    ck_assert_uint_eq(b->addr->ip->ipv6->first, 0xFD00000100020003ull);
    ck_assert_uint_eq(b->addr->ip->ipv6->last, 0x0004000500060007ull);
    ck_assert_uint_eq(b->addr->port, 80);
    ck_assert_uint_eq(b->weight, 5000);
    ck_assert_uint_eq(b->n_metric_labels, 1);
    assert_label((ProtobufCMessage **)b->metric_labels, 0, "pod", "web-1");
    ck_assert_int_eq(b->tls_identity->strategy_case,
                     IO__LINKERD__PROXY__DESTINATION__TLS_IDENTITY__STRATEGY_URI_LIKE_IDENTITY);
    ck_assert_str_eq(b->tls_identity->uri_like_identity->uri, "spiffe://cluster.local/ns/ns/sa/web");
    ck_assert_str_eq(b->tls_identity->server_name->name, SA_NAME);
    ck_assert_int_eq(b->protocol_hint->protocol_case,
                     IO__LINKERD__PROXY__DESTINATION__PROTOCOL_HINT__PROTOCOL_OPAQUE);
    ck_assert_ptr_nonnull(b->protocol_hint->opaque);
    ck_assert_ptr_null(b->protocol_hint->opaque_transport);

    assert_repacks(&u->base, &g);
    io__linkerd__proxy__destination__update__free_unpacked(u, NULL);
    mesh_free(g.bytes);
}
END_TEST

START_TEST(test_golden_profile)
{
    golden_t g = load("profile.hex");
    ck_assert_uint_eq(g.len, 179);
    Io__Linkerd__Proxy__Destination__DestinationProfile *p =
        io__linkerd__proxy__destination__destination_profile__unpack(NULL, g.len, g.bytes);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p->fully_qualified_name, "web.ns.svc.cluster.local");
    ck_assert(!p->opaque_protocol);
    ck_assert_ptr_null(p->endpoint);

    ck_assert_uint_eq(p->n_routes, 1);
    Io__Linkerd__Proxy__Destination__Route *r = p->routes[0];
    Io__Linkerd__Proxy__Destination__RequestMatch *c = r->condition;
    ck_assert_int_eq(c->match_case, IO__LINKERD__PROXY__DESTINATION__REQUEST_MATCH__MATCH_ALL);
    ck_assert_uint_eq(c->all->n_matches, 2);
    ck_assert_int_eq(c->all->matches[0]->match_case,
                     IO__LINKERD__PROXY__DESTINATION__REQUEST_MATCH__MATCH_PATH);
    ck_assert_str_eq(c->all->matches[0]->path->regex, "/api/.*");
    ck_assert_int_eq(c->all->matches[1]->match_case,
                     IO__LINKERD__PROXY__DESTINATION__REQUEST_MATCH__MATCH_METHOD);
    Io__Linkerd__Proxy__HttpTypes__HttpMethod *m = c->all->matches[1]->method;
    ck_assert_int_eq(m->type_case, IO__LINKERD__PROXY__HTTP_TYPES__HTTP_METHOD__TYPE_REGISTERED);
    ck_assert_int_eq(m->registered, IO__LINKERD__PROXY__HTTP_TYPES__HTTP_METHOD__REGISTERED__POST);
    ck_assert_uint_eq(r->n_response_classes, 1);
    Io__Linkerd__Proxy__Destination__ResponseClass *rc = r->response_classes[0];
    ck_assert(rc->is_failure);
    ck_assert_int_eq(rc->condition->match_case,
                     IO__LINKERD__PROXY__DESTINATION__RESPONSE_MATCH__MATCH_STATUS);
    ck_assert_uint_eq(rc->condition->status->min, 500);
    ck_assert_uint_eq(rc->condition->status->max, 599);
    ck_assert_uint_eq(r->n_metrics_labels, 1);
    ck_assert_str_eq(r->metrics_labels[0]->key, "route");
    ck_assert_str_eq(r->metrics_labels[0]->value, "POST /api");
    ck_assert(r->is_retryable);
    ck_assert_int_eq(r->timeout->seconds, 1);
    ck_assert_int_eq(r->timeout->nanos, 500000000);

    Io__Linkerd__Proxy__Destination__RetryBudget *rb = p->retry_budget;
    ck_assert(rb->retry_ratio == 0.2f);
    ck_assert_uint_eq(rb->min_retries_per_second, 10);
    ck_assert_int_eq(rb->ttl->seconds, 10);
    ck_assert_int_eq(rb->ttl->nanos, 0);

    ck_assert_uint_eq(p->n_dst_overrides, 1);
    ck_assert_str_eq(p->dst_overrides[0]->authority, "web.ns.svc.cluster.local:80");
    ck_assert_uint_eq(p->dst_overrides[0]->weight, 10000);
    ck_assert_ptr_null(p->dst_overrides[0]->backend_ref);

    Io__Linkerd__Proxy__Meta__Metadata *pr = p->parent_ref;
    ck_assert_int_eq(pr->kind_case, IO__LINKERD__PROXY__META__METADATA__KIND_RESOURCE);
    ck_assert_str_eq(pr->resource->group, "");
    ck_assert_str_eq(pr->resource->kind, "Service");
    ck_assert_str_eq(pr->resource->name, "web");
    ck_assert_str_eq(pr->resource->namespace_, "ns");
    ck_assert_str_eq(pr->resource->section, "");
    ck_assert_uint_eq(pr->resource->port, 80);
    ck_assert_int_eq(p->profile_ref->kind_case, IO__LINKERD__PROXY__META__METADATA__KIND_DEFAULT);
    ck_assert_str_eq(p->profile_ref->default_, "default");

    assert_repacks(&p->base, &g);
    io__linkerd__proxy__destination__destination_profile__free_unpacked(p, NULL);
    mesh_free(g.bytes);
}
END_TEST

START_TEST(test_golden_certify_response)
{
    static const uint8_t leaf[] = {0x30, 0x05, 0x02, 0x03, 0x01, 0x00, 0x01};
    static const uint8_t int0[] = {0x30, 0x03, 0x02, 0x01, 0x02};
    static const uint8_t int1[] = {0x30, 0x03, 0x02, 0x01, 0x03};
    golden_t g = load("certify_response.hex");
    ck_assert_uint_eq(g.len, 36);
    Io__Linkerd__Proxy__Identity__CertifyResponse *r =
        io__linkerd__proxy__identity__certify_response__unpack(NULL, g.len, g.bytes);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->leaf_certificate.len, sizeof(leaf));
    ck_assert_mem_eq(r->leaf_certificate.data, leaf, sizeof(leaf));
    ck_assert_uint_eq(r->n_intermediate_certificates, 2);
    ck_assert_uint_eq(r->intermediate_certificates[0].len, sizeof(int0));
    ck_assert_mem_eq(r->intermediate_certificates[0].data, int0, sizeof(int0));
    ck_assert_uint_eq(r->intermediate_certificates[1].len, sizeof(int1));
    ck_assert_mem_eq(r->intermediate_certificates[1].data, int1, sizeof(int1));
    ck_assert_ptr_nonnull(r->valid_until);
    ck_assert_int_eq(r->valid_until->seconds, 1767225600);
    ck_assert_int_eq(r->valid_until->nanos, 250000000);

    assert_repacks(&r->base, &g);
    io__linkerd__proxy__identity__certify_response__free_unpacked(r, NULL);
    mesh_free(g.bytes);
}
END_TEST

/* The decoder notices damage: the whole Update is one LEN field, so every
 * non-empty proper prefix of it is a truncated field and must not unpack. */
START_TEST(test_golden_truncated_rejected)
{
    golden_t g = load("update.hex");
    for (size_t cut = 1; cut < g.len; cut += 7) {
        ProtobufCMessage *m = protobuf_c_message_unpack(
            &io__linkerd__proxy__destination__update__descriptor, NULL, g.len - cut, g.bytes);
        ck_assert_msg(m == NULL, "unpack of %zu bytes succeeded", g.len - cut);
    }
    mesh_free(g.bytes);
}
END_TEST

START_TEST(test_golden_parse_format)
{
    const char *err = NULL;
    size_t n = 0;
    uint8_t *b = golden_parse("0a 1B # comment ff\n\tc3", &n, &err);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(b[0], 0x0a);
    ck_assert_uint_eq(b[1], 0x1b);
    ck_assert_uint_eq(b[2], 0xc3);
    mesh_free(b);
    ck_assert_ptr_null(golden_parse("0a 1", &n, &err));
    ck_assert_str_eq(err, "hex digits must come in pairs");
    ck_assert_ptr_null(golden_parse("0a zz", &n, &err));
    ck_assert_str_eq(err, "not a hex digit");
    ck_assert_ptr_null(golden_load("no-such-file.hex", &n, &err));
    ck_assert_str_eq(err, "cannot open golden file");
}
END_TEST

Suite *golden_suite(void)
{
    Suite *s = suite_create("golden");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_golden_update);
    tcase_add_test(tc, test_golden_profile);
    tcase_add_test(tc, test_golden_certify_response);
    tcase_add_test(tc, test_golden_truncated_rejected);
    tcase_add_test(tc, test_golden_parse_format);
    suite_add_tcase(s, tc);
    return s;
}
