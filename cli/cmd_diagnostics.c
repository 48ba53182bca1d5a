/* cmesh diagnostics endpoints|profile AUTHORITY: what the destination service
 * answers, printed as Linkerd's `diagnostics endpoints` / `profile` do. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "destination.pb-c.h"
#include "mesh/grpc_client.h"
#include "mesh/mem.h"

#define DIAG_DEFAULT_ADDR "127.0.0.1:8086"
/* How long to wait for the first answer of a stream. */
#define DIAG_TIMEOUT_MS 5000

typedef struct {
    const char *addr, *ca, *server_name;
    long timeout_ms;
} diag_opts_t;

static void usage(FILE *f)
{
    fprintf(f, "usage: cmesh diagnostics endpoints|profile [--destination-addr HOST:PORT]\n"
               "         [--tls-ca FILE --tls-server-name NAME] [--timeout-ms N] AUTHORITY...\n"
               "  endpoints: the endpoints Destination.Get returns for each authority\n"
               "  profile:   the first DestinationProfile GetProfile returns\n");
}

static void fmt_tcp(const Io__Linkerd__Proxy__Net__TcpAddress *t, char *ip, size_t cap)
{
    snprintf(ip, cap, "?");
    if (t == NULL || t->ip == NULL)
        return;
    if (t->ip->ip_case == IO__LINKERD__PROXY__NET__IPADDRESS__IP_IPV4) {
        struct in_addr a = {htonl(t->ip->ipv4)};
        inet_ntop(AF_INET, &a, ip, (socklen_t)cap);
    } else if (t->ip->ip_case == IO__LINKERD__PROXY__NET__IPADDRESS__IP_IPV6 && t->ip->ipv6) {
        uint8_t b[16];
        for (int i = 0; i < 8; i++) {
            b[i] = (uint8_t)(t->ip->ipv6->first >> (56 - 8 * i));
            b[8 + i] = (uint8_t)(t->ip->ipv6->last >> (56 - 8 * i));
        }
        inet_ntop(AF_INET6, b, ip, (socklen_t)cap);
    }
}

static const char *label(Io__Linkerd__Proxy__Destination__WeightedAddr *w, const char *k)
{
    for (size_t i = 0; i < w->n_metric_labels; i++)
        if (strcmp(w->metric_labels[i]->key, k) == 0)
            return w->metric_labels[i]->value;
    return "";
}

static const char *set_label(Io__Linkerd__Proxy__Destination__WeightedAddrSet *s, const char *k)
{
    for (size_t i = 0; i < s->n_metric_labels; i++)
        if (strcmp(s->metric_labels[i]->key, k) == 0)
            return s->metric_labels[i]->value;
    return "";
}

/* Opens the stream and returns the first message (mesh_malloc'd), or NULL
 * with the reason printed. */
static uint8_t *first_message(const diag_opts_t *o, const char *method, const char *auth, size_t *len,
                              cli_io_t *io)
{
    mesh_grpc_client_config_t cc = {.target = o->addr, .tls_root_ca_file = o->ca,
                                    .tls_server_name = o->server_name};
    mesh_grpc_client_t *c = NULL;
    mesh_grpc_client_stream_t *st = NULL;
    uint8_t *msg = NULL;
    Io__Linkerd__Proxy__Destination__GetDestination gd = IO__LINKERD__PROXY__DESTINATION__GET_DESTINATION__INIT;
    gd.scheme = (char *)"k8s";
    gd.path = (char *)auth;
    uint8_t req[1024];
    if (protobuf_c_message_get_packed_size(&gd.base) > sizeof req) {
        fprintf(io->err, "cmesh diagnostics: authority too long\n");
        return NULL;
    }
    size_t rl = protobuf_c_message_pack(&gd.base, req);
    if (mesh_grpc_client_new(&cc, &c) != 0) {
        fprintf(io->err, "cmesh diagnostics: cannot create a client for %s\n", o->addr);
        return NULL;
    }
    if (mesh_grpc_client_stream_open(c, method, req, rl, -1, &st) != 0) {
        fprintf(io->err, "cmesh diagnostics: cannot open %s\n", method);
        goto out;
    }
    int rc = mesh_grpc_client_stream_next(st, o->timeout_ms, &msg, len);
    if (rc == 0) {
        const char *m = "";
        int code = mesh_grpc_client_stream_status(st, &m);
        fprintf(io->err, "cmesh diagnostics: %s: status %d: %s\n", auth, code, m);
    } else if (rc != 1) {
        fprintf(io->err, "cmesh diagnostics: %s: no answer from %s within %ld ms\n", auth, o->addr, o->timeout_ms);
        msg = NULL;
    }
out:
    mesh_grpc_client_stream_free(st);
    mesh_grpc_client_free(c);
    return msg;
}

static int endpoints(const diag_opts_t *o, int argc, char **argv, cli_io_t *io)
{
    int rc = 0, header = 0;
    for (int i = 0; i < argc; i++) {
        size_t len;
        uint8_t *m = first_message(o, "/io.linkerd.proxy.destination.Destination/Get", argv[i], &len, io);
        if (m == NULL) {
            rc = 1;
            continue;
        }
        Io__Linkerd__Proxy__Destination__Update *u = io__linkerd__proxy__destination__update__unpack(NULL, len, m);
        mesh_free(m);
        if (u == NULL) {
            fprintf(io->err, "cmesh diagnostics: %s: undecodable Update\n", argv[i]);
            rc = 1;
            continue;
        }
        if (u->update_case != IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_ADD) {
            fprintf(io->out, "No endpoints found for %s (%s).\n", argv[i],
                    u->update_case == IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_NO_ENDPOINTS &&
                            !u->no_endpoints->exists
                        ? "service does not exist"
                        : "service exists");
        } else {
            if (!header++)
                fprintf(io->out, "%-12s %-40s %-6s %-32s %-24s %s\n", "NAMESPACE", "IP", "PORT", "POD", "SERVICE",
                        "IDENTITY");
            for (size_t k = 0; k < u->add->n_addrs; k++) {
                Io__Linkerd__Proxy__Destination__WeightedAddr *w = u->add->addrs[k];
                char ip[64], svc[160];
                fmt_tcp(w->addr, ip, sizeof ip);
                snprintf(svc, sizeof svc, "%s.%s", set_label(u->add, "service"), set_label(u->add, "namespace"));
                const char *id = w->tls_identity && w->tls_identity->dns_like_identity
                                     ? w->tls_identity->dns_like_identity->name
                                     : "-";
                fprintf(io->out, "%-12s %-40s %-6u %-32s %-24s %s\n", set_label(u->add, "namespace"), ip,
                        w->addr ? w->addr->port : 0, label(w, "pod"), svc, id);
            }
        }
        io__linkerd__proxy__destination__update__free_unpacked(u, NULL);
    }
    return rc;
}

static int profile(const diag_opts_t *o, int argc, char **argv, cli_io_t *io)
{
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        size_t len;
        uint8_t *m = first_message(o, "/io.linkerd.proxy.destination.Destination/GetProfile", argv[i], &len, io);
        if (m == NULL) {
            rc = 1;
            continue;
        }
        Io__Linkerd__Proxy__Destination__DestinationProfile *p =
            io__linkerd__proxy__destination__destination_profile__unpack(NULL, len, m);
        mesh_free(m);
        if (p == NULL) {
            fprintf(io->err, "cmesh diagnostics: %s: undecodable DestinationProfile\n", argv[i]);
            rc = 1;
            continue;
        }
        fprintf(io->out, "fullyQualifiedName: %s\nopaqueProtocol: %s\n", p->fully_qualified_name,
                p->opaque_protocol ? "true" : "false");
        if (p->retry_budget)
            fprintf(io->out, "retryBudget:\n  retryRatio: %g\n  minRetriesPerSecond: %u\n  ttl: %" PRId64 "s\n",
                    (double)p->retry_budget->retry_ratio, p->retry_budget->min_retries_per_second,
                    p->retry_budget->ttl ? p->retry_budget->ttl->seconds : 0);
        fprintf(io->out, "routes:%s\n", p->n_routes ? "" : " []");
        for (size_t k = 0; k < p->n_routes; k++) {
            Io__Linkerd__Proxy__Destination__Route *r = p->routes[k];
            const char *name = r->n_metrics_labels ? r->metrics_labels[0]->value : "";
            fprintf(io->out, "- name: %s\n  isRetryable: %s\n", name, r->is_retryable ? "true" : "false");
            if (r->timeout)
                fprintf(io->out, "  timeout: %" PRId64 "ms\n",
                        r->timeout->seconds * 1000 + r->timeout->nanos / 1000000);
            fprintf(io->out, "  responseClasses: %zu\n", r->n_response_classes);
        }
        fprintf(io->out, "dstOverrides:%s\n", p->n_dst_overrides ? "" : " []");
        for (size_t k = 0; k < p->n_dst_overrides; k++)
            fprintf(io->out, "- authority: %s\n  weight: %u\n", p->dst_overrides[k]->authority,
                    p->dst_overrides[k]->weight);
        if (p->endpoint) {
            char ip[64];
            fmt_tcp(p->endpoint->addr, ip, sizeof ip);
            fprintf(io->out, "endpoint: %s:%u pod=%s\n", ip, p->endpoint->addr ? p->endpoint->addr->port : 0,
                    label(p->endpoint, "pod"));
        }
        io__linkerd__proxy__destination__destination_profile__free_unpacked(p, NULL);
    }
    return rc;
}

int cli_cmd_diagnostics(int argc, char **argv, cli_io_t *io)
{
    diag_opts_t o = {DIAG_DEFAULT_ADDR, NULL, NULL, DIAG_TIMEOUT_MS};
    if (argc < 2) {
        usage(io->err);
        return 2;
    }
    const char *sub = argv[1];
    int i = 2;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (v == NULL) {
            fprintf(io->err, "cmesh diagnostics: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--destination-addr") == 0)
            o.addr = v;
        else if (strcmp(argv[i], "--tls-ca") == 0)
            o.ca = v;
        else if (strcmp(argv[i], "--tls-server-name") == 0)
            o.server_name = v;
        else if (strcmp(argv[i], "--timeout-ms") == 0 && (o.timeout_ms = strtol(v, NULL, 10)) > 0)
            ;
        else {
            fprintf(io->err, "cmesh diagnostics: bad option %s %s\n", argv[i], v);
            return 2;
        }
        i++;
    }
    if (i >= argc) {
        usage(io->err);
        return 2;
    }
    if (strcmp(sub, "endpoints") == 0)
        return endpoints(&o, argc - i, argv + i, io);
    if (strcmp(sub, "profile") == 0)
        return profile(&o, argc - i, argv + i, io);
    usage(io->err);
    return 2;
}
