/* HTTP/2 proxying (proxy/h2.c) in process: a real px_proxy_t runs its
 * worker thread while the test thread drives, over loopback sockets, an
 * nghttp2 client session (downstream) and nghttp2 server sessions playing
 * the backends (upstream). Checked: header, body and trailer forwarding;
 * flow control with a client that stops reading; GOAWAY on shutdown with the
 * stream in flight completed; targets taken per stream from :authority; the
 * response and idle timeouts; the REFUSED_STREAM retry; the drain steps
 * against a client that opens its next stream from the stream-close
 * callback (as h2load does) and against one slow to read. The "core" case
 * checks the frame-boundary tracker and the frames the drain writes. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "mesh/buf.h"
#include "mesh/mem.h"
#include "px/h2.h"
#include "px/proxy.h"

#define NBACKENDS 2
#define NCONNS 4
#define NSTREAMS 16
/* Body of /big: larger than every window on the way. */
#define BIG_BYTES (4 * 1024 * 1024)
/* Bytes a backend may have sent while the client reads nothing: the client's
 * stream window plus the proxy's upstream stream window (the proxy holds no
 * more than that), with slack for frame rounding. */
#define STALL_BOUND (2 * 65535 + 16384)
/* Body of /medium: fits one stream window, so the backend sends all of it
 * at once and the upstream stream ends while the proxy still holds it. */
#define MEDIUM_BYTES 60000

typedef struct peer {
    int fd;
    nghttp2_session *ng;
    char *pend;            /* output not yet taken by the socket */
    size_t plen;
    bool eof;
    bool goaway;           /* a GOAWAY was received */
} peer_t;

typedef struct backend {
    const char *name;
    int lfd;
    uint16_t port;
    peer_t conns[NCONNS];
    int nconns;
    int streams;           /* request HEADERS seen */
    int refuse;            /* refuse this many first streams with REFUSED_STREAM */
    int refused;
    int refuse_end;        /* refuse this many next streams once their body is in */
    int cancelled;         /* streams the proxy reset with CANCEL */
    size_t big_sent;       /* /big body bytes handed to the session */
    int32_t held;          /* /hold stream waiting for backend_release */
    peer_t *held_peer;
    char authority[64], xtest[64];
    bool req_trailer;      /* the last request carried trailer x-req-trailer */
    size_t body_len;       /* request body bytes of the last request */
} backend_t;

typedef struct bstream {
    char path[32];
    size_t body_len;
    size_t big_left;
    bool trailers_sent;
    backend_t *b;
} bstream_t;

typedef struct cstream {
    int32_t id;
    int status;
    char x_backend[64], x_echo[96], grpc_status[64], proxy_error[64], trailer[64];
    bool trailer_grpc0;    /* trailers carried grpc-status: 0 */
    size_t body;           /* DATA bytes received */
    size_t unconsumed;     /* not yet given back (manual window) */
    bool closed;
    uint32_t code;         /* RST code when closed */
    bool big;              /* /big: check the byte pattern */
} cstream_t;

static struct {
    px_config_t cfg;
    px_proxy_t *p;
    backend_t be[NBACKENDS];
    peer_t cl;
    bool manual_window;    /* the client gives window back only when told */
    bool cl_paused;        /* the client neither reads nor writes */
    int follow;            /* streams closing open this many new ones (h2load) */
    cstream_t *followed[NSTREAMS];
    int nfollowed;
    cstream_t cs[NSTREAMS];
    int ncs;
} W;

/* --- sockets ------------------------------------------------------------------ */

static void nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static uint16_t port_of(const px_addr_t *a) { return ntohs(((const struct sockaddr_in *)&a->sa)->sin_port); }

static void flush_peer(peer_t *pe)
{
    if (pe->fd < 0)
        return;
    for (;;) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(pe->ng, &data);
        ck_assert_int_ge(n, 0);
        if (n == 0)
            break;
        pe->pend = mesh_realloc(pe->pend, pe->plen + (size_t)n);
        ck_assert_ptr_nonnull(pe->pend);
        memcpy(pe->pend + pe->plen, data, (size_t)n);
        pe->plen += (size_t)n;
    }
    while (pe->plen) {
        ssize_t w = send(pe->fd, pe->pend, pe->plen, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        memmove(pe->pend, pe->pend + w, pe->plen - (size_t)w);
        pe->plen -= (size_t)w;
    }
}

static void read_peer(peer_t *pe)
{
    uint8_t buf[16384];
    for (;;) {
        ssize_t n = recv(pe->fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            pe->eof = true;
            return;
        }
        if (n < 0)
            return;
        ssize_t r = nghttp2_session_mem_recv(pe->ng, buf, (size_t)n);
        ck_assert_msg(r == n, "mem_recv: %s", nghttp2_strerror((int)r));
    }
}

static void peer_close(peer_t *pe)
{
    if (pe->fd >= 0)
        close(pe->fd);
    pe->fd = -1;
    nghttp2_session_del(pe->ng);
    pe->ng = NULL;
    mesh_free(pe->pend);
    pe->pend = NULL;
    pe->plen = 0;
}

/* --- backends (nghttp2 servers) --------------------------------------------------- */

static ssize_t be_big_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                           nghttp2_data_source *src, void *ud)
{
    (void)ng, (void)id, (void)ud;
    bstream_t *bs = src->ptr;
    size_t n = bs->big_left < len ? bs->big_left : len;
    size_t off = BIG_BYTES - bs->big_left;
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)((off + i) * 7);
    bs->big_left -= n;
    bs->b->big_sent += n;
    if (bs->big_left == 0)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static ssize_t be_text_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                            nghttp2_data_source *src, void *ud)
{
    (void)ud, (void)len;
    bstream_t *bs = src->ptr;
    memcpy(buf, "hello", 5);
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (strcmp(bs->path, "/trailers") == 0) {
        nghttp2_nv t[] = {{(uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1, 0},
                          {(uint8_t *)"x-trailer", (uint8_t *)"yes", 9, 3, 0}};
        ck_assert_int_eq(nghttp2_submit_trailer(ng, id, t, 2), 0);
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
    return 5;
}

static ssize_t be_medium_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                              nghttp2_data_source *src, void *ud)
{
    (void)ng, (void)id, (void)ud;
    bstream_t *bs = src->ptr;
    size_t n = bs->big_left < len ? bs->big_left : len;
    memset(buf, 'm', n);
    bs->big_left -= n;
    if (bs->big_left == 0)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static ssize_t be_never_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                             nghttp2_data_source *src, void *ud)
{
    (void)ng, (void)id, (void)buf, (void)len, (void)flags, (void)src, (void)ud;
    return NGHTTP2_ERR_DEFERRED;
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}

static void be_respond(nghttp2_session *ng, int32_t id, bstream_t *bs)
{
    backend_t *b = bs->b;
    char blen[24];
    snprintf(blen, sizeof(blen), "%zu", bs->body_len);
    nghttp2_nv nv[] = {NV(":status", "200"), NV("x-backend", b->name), NV("x-echo", b->xtest),
                       NV("x-body-len", blen)};
    nghttp2_data_provider dp = {.source.ptr = bs, .read_callback = be_text_read};
    if (strcmp(bs->path, "/big") == 0) {
        bs->big_left = BIG_BYTES;
        dp.read_callback = be_big_read;
    } else if (strcmp(bs->path, "/medium") == 0) {
        bs->big_left = MEDIUM_BYTES;
        dp.read_callback = be_medium_read;
    } else if (strcmp(bs->path, "/stall-body") == 0) {
        dp.read_callback = be_never_read;
    }
    ck_assert_int_eq(nghttp2_submit_response(ng, id, nv, 4, &dp), 0);
}

static backend_t *be_of(nghttp2_session *ng, void *ud)
{
    (void)ng;
    return ud;
}

static int be_on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    backend_t *b = be_of(ng, ud);
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    b->streams++;
    if (b->refused < b->refuse) {
        b->refused++;
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_REFUSED_STREAM);
        return 0;
    }
    bstream_t *bs = mesh_calloc(1, sizeof(*bs));
    ck_assert_ptr_nonnull(bs);
    bs->b = b;
    b->req_trailer = false;
    b->xtest[0] = 0;
    nghttp2_session_set_stream_user_data(ng, f->hd.stream_id, bs);
    return 0;
}

static void copy_field(char *dst, size_t cap, const uint8_t *v, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = 0;
}

static int be_on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                        const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    (void)flags;
    backend_t *b = be_of(ng, ud);
    bstream_t *bs = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (bs == NULL)
        return 0;
    if (nl == 5 && memcmp(name, ":path", 5) == 0)
        copy_field(bs->path, sizeof(bs->path), value, vl);
    else if (nl == 10 && memcmp(name, ":authority", 10) == 0)
        copy_field(b->authority, sizeof(b->authority), value, vl);
    else if (nl == 6 && memcmp(name, "x-test", 6) == 0)
        copy_field(b->xtest, sizeof(b->xtest), value, vl);
    else if (nl == 13 && memcmp(name, "x-req-trailer", 13) == 0)
        b->req_trailer = f->headers.cat == NGHTTP2_HCAT_HEADERS;
    return 0;
}

static int be_on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
    (void)flags, (void)data, (void)ud;
    bstream_t *bs = nghttp2_session_get_stream_user_data(ng, id);
    if (bs)
        bs->body_len += len;
    return 0;
}

static int be_on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    backend_t *b = be_of(ng, ud);
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) || !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    bstream_t *bs = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (bs == NULL)
        return 0;
    b->body_len = bs->body_len;
    if (b->refuse_end > 0) {
        b->refuse_end--;
        b->refused++;
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_REFUSED_STREAM);
        return 0;
    }
    if (strcmp(bs->path, "/stall") == 0)
        return 0;
    if (strcmp(bs->path, "/hold") == 0) {
        b->held = f->hd.stream_id;
        for (int i = 0; i < b->nconns; i++)
            if (b->conns[i].ng == ng)
                b->held_peer = &b->conns[i];
        return 0;
    }
    be_respond(ng, f->hd.stream_id, bs);
    return 0;
}

static int be_on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
    backend_t *b = be_of(ng, ud);
    if (code == NGHTTP2_CANCEL)
        b->cancelled++;
    mesh_free(nghttp2_session_get_stream_user_data(ng, id));
    nghttp2_session_set_stream_user_data(ng, id, NULL);
    return 0;
}

static void be_accept(backend_t *b)
{
    int fd = accept(b->lfd, NULL, NULL);
    if (fd < 0)
        return;
    ck_assert_int_lt(b->nconns, NCONNS);
    nonblock(fd);
    peer_t *pe = &b->conns[b->nconns++];
    memset(pe, 0, sizeof(*pe));
    pe->fd = fd;
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, be_on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, be_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, be_on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, be_on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, be_on_stream_close);
    ck_assert_int_eq(nghttp2_session_server_new(&pe->ng, cb, b), 0);
    nghttp2_session_callbacks_del(cb);
    ck_assert_int_eq(nghttp2_submit_settings(pe->ng, NGHTTP2_FLAG_NONE, NULL, 0), 0);
}

static void be_start(backend_t *b, const char *name)
{
    memset(b, 0, sizeof(*b));
    b->name = name;
    b->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(b->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(b->lfd, 16), 0);
    socklen_t l = sizeof(a);
    getsockname(b->lfd, (struct sockaddr *)&a, &l);
    b->port = ntohs(a.sin_port);
    nonblock(b->lfd);
}

/* Answers the /hold request. */
static void be_release(backend_t *b)
{
    ck_assert_ptr_nonnull(b->held_peer);
    bstream_t *bs = nghttp2_session_get_stream_user_data(b->held_peer->ng, b->held);
    ck_assert_ptr_nonnull(bs);
    be_respond(b->held_peer->ng, b->held, bs);
}

/* --- client (nghttp2 client toward the proxy) ------------------------------------------ */

static cstream_t *cs_of(int32_t id)
{
    for (int i = 0; i < W.ncs; i++)
        if (W.cs[i].id == id)
            return &W.cs[i];
    return NULL;
}

static int cl_on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                        const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    (void)ng, (void)flags, (void)ud;
    cstream_t *c = cs_of(f->hd.stream_id);
    if (c == NULL)
        return 0;
    char v[64];
    copy_field(v, sizeof(v), value, vl);
    bool trailer = f->headers.cat == NGHTTP2_HCAT_HEADERS;
    if (nl == 7 && memcmp(name, ":status", 7) == 0)
        c->status = atoi(v);
    else if (nl == 9 && memcmp(name, "x-backend", 9) == 0)
        snprintf(c->x_backend, sizeof(c->x_backend), "%s", v);
    else if (nl == 6 && memcmp(name, "x-echo", 6) == 0)
        snprintf(c->x_echo, sizeof(c->x_echo), "%s", v);
    else if (nl == 11 && memcmp(name, "grpc-status", 11) == 0 && trailer)
        c->trailer_grpc0 = strcmp(v, "0") == 0;
    else if (nl == 11 && memcmp(name, "grpc-status", 11) == 0)
        snprintf(c->grpc_status, sizeof(c->grpc_status), "%s", v);
    else if (nl == 15 && memcmp(name, "l5d-proxy-error", 15) == 0)
        snprintf(c->proxy_error, sizeof(c->proxy_error), "%s", v);
    else if (nl == 9 && memcmp(name, "x-trailer", 9) == 0 && trailer)
        snprintf(c->trailer, sizeof(c->trailer), "%s", v);
    else if (nl == 10 && memcmp(name, "x-body-len", 10) == 0)
        snprintf(c->x_echo + strlen(c->x_echo), sizeof(c->x_echo) - strlen(c->x_echo), "/%s", v);
    return 0;
}

static int cl_on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
    (void)flags, (void)ud;
    cstream_t *c = cs_of(id);
    if (c == NULL)
        return 0;
    for (size_t i = 0; c->big && i < len; i++)
        if (data[i] != (uint8_t)((c->body + i) * 7))
            ck_abort_msg("body byte %zu corrupted", c->body + i);
    c->body += len;
    if (W.manual_window)
        c->unconsumed += len;
    else
        nghttp2_session_consume(ng, id, len);
    return 0;
}

static int cl_on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    (void)ng, (void)ud;
    if (f->hd.type == NGHTTP2_GOAWAY)
        W.cl.goaway = true;
    return 0;
}

static cstream_t *client_request(const char *path, const char *authority, bool grpc, const char *body,
                                 bool trailer);

static int cl_on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
    (void)ng, (void)ud;
    cstream_t *c = cs_of(id);
    if (c) {
        c->closed = true;
        c->code = code;
    }
    if (W.follow > 0) {
        /* Like h2load: the next request is submitted from this callback,
         * i.e. before the rest of the bytes read are processed. */
        W.follow--;
        W.followed[W.nfollowed++] = client_request("/hello", "svc", false, NULL, false);
    }
    return 0;
}

static void client_connect(px_dir_t dir)
{
    peer_t *pe = &W.cl;
    memset(pe, 0, sizeof(*pe));
    pe->fd = socket(AF_INET, SOCK_STREAM, 0);
    const px_addr_t *a = px_proxy_listen_addr(W.p, dir);
    ck_assert_int_eq(connect(pe->fd, (const struct sockaddr *)&a->sa, a->len), 0);
    nonblock(pe->fd);
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, cl_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, cl_on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, cl_on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, cl_on_stream_close);
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_auto_window_update(opt, W.manual_window);
    ck_assert_int_eq(nghttp2_session_client_new2(&pe->ng, cb, NULL, opt), 0);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    ck_assert_int_eq(nghttp2_submit_settings(pe->ng, NGHTTP2_FLAG_NONE, NULL, 0), 0);
}

typedef struct req_body {
    const char *p;
    size_t left;
    bool trailer;
} req_body_t;

static req_body_t bodies[NSTREAMS];

static ssize_t cl_body_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                            nghttp2_data_source *src, void *ud)
{
    (void)ud;
    req_body_t *rb = src->ptr;
    size_t n = rb->left < len ? rb->left : len;
    memcpy(buf, rb->p, n);
    rb->p += n;
    rb->left -= n;
    if (rb->left == 0) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (rb->trailer) {
            nghttp2_nv t[] = {NV("x-req-trailer", "1")};
            ck_assert_int_eq(nghttp2_submit_trailer(ng, id, t, 1), 0);
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
    }
    return (ssize_t)n;
}

/* Submits a request; returns its cstream. body NULL: no body. */
static cstream_t *client_request(const char *path, const char *authority, bool grpc, const char *body,
                                 bool trailer)
{
    ck_assert_int_lt(W.ncs, NSTREAMS);
    nghttp2_nv nv[6] = {NV(":method", body ? "POST" : "GET"), NV(":scheme", "http"), NV(":path", path),
                        NV(":authority", authority), NV("x-test", path)};
    size_t n = 5;
    if (grpc)
        nv[n++] = (nghttp2_nv)NV("content-type", "application/grpc");
    req_body_t *rb = &bodies[W.ncs];
    rb->p = body;
    rb->left = body ? strlen(body) : 0;
    rb->trailer = trailer;
    nghttp2_data_provider dp = {.source.ptr = rb, .read_callback = cl_body_read};
    int32_t id = nghttp2_submit_request(W.cl.ng, NULL, nv, n, body ? &dp : NULL, NULL);
    ck_assert_int_gt(id, 0);
    cstream_t *c = &W.cs[W.ncs++];
    memset(c, 0, sizeof(*c));
    c->id = id;
    c->big = strcmp(path, "/big") == 0;
    return c;
}

/* --- the world ------------------------------------------------------------------------ */

/* One round: flush every session, wait up to ms for input, read it. */
static void pump(int ms)
{
    struct pollfd pf[1 + NBACKENDS * (1 + NCONNS)];
    peer_t *who[1 + NBACKENDS * (1 + NCONNS)];
    backend_t *lis[1 + NBACKENDS * (1 + NCONNS)];
    int n = 0;
    if (W.cl.fd >= 0 && !W.cl_paused) {
        flush_peer(&W.cl); /* after EOF too: nghttp2 then fails what it cannot send */
        if (!W.cl.eof) {
            pf[n] = (struct pollfd){.fd = W.cl.fd, .events = POLLIN};
            who[n] = &W.cl;
            lis[n++] = NULL;
        }
    }
    for (int b = 0; b < NBACKENDS; b++) {
        backend_t *be = &W.be[b];
        if (be->lfd < 0)
            continue;
        pf[n] = (struct pollfd){.fd = be->lfd, .events = POLLIN};
        who[n] = NULL;
        lis[n++] = be;
        for (int i = 0; i < be->nconns; i++) {
            peer_t *pe = &be->conns[i];
            if (pe->fd < 0 || pe->eof)
                continue;
            flush_peer(pe);
            pf[n] = (struct pollfd){.fd = pe->fd, .events = POLLIN};
            who[n] = pe;
            lis[n++] = NULL;
        }
    }
    if (poll(pf, (nfds_t)n, ms) <= 0)
        return;
    for (int i = 0; i < n; i++) {
        if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (lis[i])
            be_accept(lis[i]);
        else
            read_peer(who[i]);
    }
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define RUN_UNTIL(cond, ms)                                                  \
    do {                                                                     \
        uint64_t _end = now_ms() + (ms);                                     \
        while (!(cond) && now_ms() < _end)                                   \
            pump(10);                                                        \
        ck_assert_msg((cond), "timed out waiting for: %s", #cond);           \
    } while (0)

static void pump_for(int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (now_ms() < end)
        pump(5);
}

/* Starts the backends and the proxy. from_host: outbound, target from
 * :authority; else inbound forwarding to backend 0. */
static void world_start(bool from_host, uint64_t resp_timeout_ms, uint64_t idle_timeout_ms)
{
    memset(&W, 0, sizeof(W));
    W.cl.fd = -1;
    be_start(&W.be[0], "A");
    be_start(&W.be[1], "B");
    px_config_defaults(&W.cfg);
    px_parse_addr("127.0.0.1:0", &W.cfg.inbound_addr);
    px_parse_addr("127.0.0.1:0", &W.cfg.outbound_addr);
    px_parse_addr("127.0.0.1:0", &W.cfg.admin_addr);
    W.cfg.shutdown_grace_ms = 5000;
    W.cfg.h2_response_timeout_ms = resp_timeout_ms;
    W.cfg.h2_stream_idle_timeout_ms = idle_timeout_ms;
    if (from_host) {
        W.cfg.outbound_target_from_host = true;
    } else {
        char a[32];
        snprintf(a, sizeof(a), "127.0.0.1:%u", W.be[0].port);
        ck_assert_int_eq(px_parse_addr(a, &W.cfg.inbound_forward_addr), 0);
    }
    int err = 0;
    char eb[256];
    W.p = px_proxy_new(&W.cfg, &err, eb, sizeof(eb));
    ck_assert_msg(W.p != NULL, "proxy: %s", eb);
    ck_assert_int_eq(px_proxy_start(W.p), 0);
}

static void world_stop(void)
{
    if (W.cl.ng)
        peer_close(&W.cl);
    px_proxy_shutdown(W.p);
    uint64_t end = now_ms() + 10000;
    while (px_proxy_running(W.p) > 0 && now_ms() < end)
        pump(5);
    ck_assert_int_eq(px_proxy_running(W.p), 0);
    px_proxy_free(W.p);
    for (int b = 0; b < NBACKENDS; b++) {
        for (int i = 0; i < W.be[b].nconns; i++)
            peer_close(&W.be[b].conns[i]);
        close(W.be[b].lfd);
    }
}

/* The value of the first sample of `name` whose label set contains every
 * `key="value"` in `want` (comma-separated), -1 if none; its labels in out. */
static double metric(const char *name, const char *want, char *labels_out, size_t cap)
{
    mesh_buf_t b = MESH_BUF_INIT;
    ck_assert_int_eq(px_metrics_render(px_proxy_metrics(W.p), &b), 0);
    double v = -1;
    size_t nl = strlen(name);
    for (char *line = b.base; line && *line;) {
        char *eol = strchr(line, '\n');
        if (eol)
            *eol = 0;
        if (strncmp(line, name, nl) == 0 && line[nl] == '{') {
            char *close = strrchr(line, '}');
            bool all = close != NULL;
            for (const char *tok = want; all && *tok;) {
                const char *end = strchr(tok, ',');
                size_t tl = end ? (size_t)(end - tok) : strlen(tok);
                char one[160];
                snprintf(one, sizeof(one), "%.*s", (int)tl, tok);
                char *at = strstr(line, one);
                all = at != NULL && at < close;
                tok += tl + (end ? 1 : 0);
            }
            if (all) {
                v = atof(close + 2);
                if (labels_out)
                    snprintf(labels_out, cap, "%.*s", (int)(close - line - (int)nl - 1), line + nl + 1);
                break;
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    mesh_buf_free(&b);
    return v;
}

/* --- tests ------------------------------------------------------------------------------ */

START_TEST(test_h2proxy_headers_body_trailers)
{
    world_start(false, 0, 0);
    client_connect(PX_DIR_INBOUND);
    cstream_t *a = client_request("/trailers", "svc.test:80", false, NULL, false);
    cstream_t *b = client_request("/upload", "svc.test:80", false, "0123456789", true);
    RUN_UNTIL(a->closed && b->closed, 5000);
    ck_assert_int_eq(a->status, 200);
    ck_assert_int_eq(a->code, 0);
    ck_assert_str_eq(a->x_backend, "A");
    ck_assert_str_eq(a->x_echo, "/trailers/0");
    ck_assert_uint_eq(a->body, 5);
    ck_assert_str_eq(a->trailer, "yes"); /* response trailers forwarded */
    ck_assert(a->trailer_grpc0);
    ck_assert_int_eq(b->status, 200);
    ck_assert_str_eq(b->x_echo, "/upload/10"); /* request header and body */
    ck_assert(W.be[0].req_trailer);            /* request trailers forwarded */
    ck_assert_str_eq(W.be[0].authority, "svc.test:80");
    /* request_total / response_total per stream, with the trailers' status. */
    ck_assert(metric("request_total", "direction=\"inbound\",authority=\"svc.test:80\"", NULL, 0) == 2);
    ck_assert(metric("response_total", "status_code=\"200\",grpc_status=\"0\",classification=\"success\"",
                     NULL, 0) == 1);
    world_stop();
}
END_TEST

START_TEST(test_h2proxy_flow_control_slow_reader)
{
    world_start(false, 0, 0);
    W.manual_window = true;
    client_connect(PX_DIR_INBOUND);
    cstream_t *c = client_request("/big", "svc", false, NULL, false);
    RUN_UNTIL(c->body >= 60000, 5000);
    /* The client reads nothing more: the backend is held back too. */
    pump_for(400);
    size_t stalled = W.be[0].big_sent;
    ck_assert_msg(stalled <= STALL_BOUND, "backend sent %zu bytes to a stalled client", stalled);
    ck_assert_uint_le(c->body, 65535);
    pump_for(200);
    ck_assert_uint_eq(W.be[0].big_sent, stalled);
    /* Reading resumes: everything arrives, intact (checked per byte). */
    uint64_t end = now_ms() + 20000;
    while (!c->closed && now_ms() < end) {
        if (c->unconsumed) {
            nghttp2_session_consume(W.cl.ng, c->id, c->unconsumed);
            c->unconsumed = 0;
        }
        pump(5);
    }
    ck_assert(c->closed);
    ck_assert_int_eq(c->code, 0);
    ck_assert_uint_eq(c->body, BIG_BYTES);
    world_stop();
}
END_TEST

/* Responses that outlive their upstream stream (the backend ended it while
 * the proxy still held the body for a client whose window was full) give
 * the upstream connection window back too: rounds of them add up to more
 * than PX_H2_CONN_WINDOW, and the last round still completes. (The window
 * used to leak by every such body until the shared upstream session
 * stalled: h2load hung after 80,659 13-byte responses.) */
START_TEST(test_h2proxy_conn_window_given_back)
{
    enum { ROUNDS = 4, PER_ROUND = 12 };
    ck_assert_int_gt(ROUNDS * PER_ROUND * MEDIUM_BYTES, 2 * PX_H2_CONN_WINDOW);
    world_start(false, 0, 0);
    client_connect(PX_DIR_INBOUND);
    for (int r = 0; r < ROUNDS; r++) {
        W.ncs = 0;
        cstream_t *c[PER_ROUND];
        for (int i = 0; i < PER_ROUND; i++)
            c[i] = client_request("/medium", "svc", false, NULL, false);
        for (int i = 0; i < PER_ROUND; i++) {
            RUN_UNTIL(c[i]->closed, 5000);
            ck_assert_int_eq(c[i]->status, 200);
            ck_assert_int_eq(c[i]->code, 0);
            ck_assert_uint_eq(c[i]->body, MEDIUM_BYTES);
        }
    }
    ck_assert_int_eq(W.be[0].nconns, 1); /* one shared upstream session all along */
    world_stop();
}
END_TEST

START_TEST(test_h2proxy_goaway_on_shutdown)
{
    world_start(false, 0, 0);
    client_connect(PX_DIR_INBOUND);
    cstream_t *first = client_request("/hello", "svc", false, NULL, false);
    RUN_UNTIL(first->closed, 5000);
    cstream_t *held = client_request("/hold", "svc", false, NULL, false);
    RUN_UNTIL(W.be[0].held_peer != NULL, 5000);
    px_proxy_shutdown(W.p);
    RUN_UNTIL(W.cl.goaway, 5000);
    ck_assert(!held->closed);
    /* The stream in flight still completes, then the connection ends. */
    be_release(&W.be[0]);
    RUN_UNTIL(held->closed, 5000);
    ck_assert_int_eq(held->status, 200);
    ck_assert_int_eq(held->code, 0);
    RUN_UNTIL(W.cl.eof, 5000);
    RUN_UNTIL(px_proxy_running(W.p) == 0, 5000);
    world_stop();
}
END_TEST

START_TEST(test_h2proxy_target_from_authority)
{
    world_start(true, 0, 0);
    client_connect(PX_DIR_OUTBOUND);
    char aa[32], ab[32], self[32];
    snprintf(aa, sizeof(aa), "127.0.0.1:%u", W.be[0].port);
    snprintf(ab, sizeof(ab), "localhost:%u", W.be[1].port);
    snprintf(self, sizeof(self), "127.0.0.1:%u", port_of(px_proxy_listen_addr(W.p, PX_DIR_OUTBOUND)));
    cstream_t *s1 = client_request("/hello", aa, false, NULL, false);
    cstream_t *s2 = client_request("/hello", ab, false, NULL, false);
    cstream_t *s3 = client_request("/hello", aa, false, NULL, false);
    cstream_t *s4 = client_request("/hello", self, false, NULL, false);  /* never dials itself */
    cstream_t *s5 = client_request("/hello", "no-such-host.invalid:1", false, NULL, false);
    RUN_UNTIL(s1->closed && s2->closed && s3->closed && s4->closed && s5->closed, 10000);
    ck_assert_str_eq(s1->x_backend, "A");
    ck_assert_str_eq(s2->x_backend, "B");
    ck_assert_str_eq(s3->x_backend, "A");
    ck_assert_int_eq(s4->status, 502);
    ck_assert_int_eq(s5->status, 502);
    /* One upstream connection per target, shared by the streams. */
    ck_assert_int_eq(W.be[0].nconns, 1);
    ck_assert_int_eq(W.be[1].nconns, 1);
    ck_assert_int_eq(W.be[0].streams, 2);
    /* The target labels name the target of each request. */
    char want[128], port[16];
    snprintf(port, sizeof(port), "%u", W.be[1].port);
    snprintf(want, sizeof(want), "direction=\"outbound\",target_port=\"%s\"", port);
    ck_assert(metric("request_total", want, NULL, 0) == 1);
    snprintf(want, sizeof(want), "target_addr=\"%s\"", aa);
    ck_assert(metric("request_total", want, NULL, 0) == 2);
    ck_assert(metric("outbound_tcp_errors_total", "error=\"no_target\"", NULL, 0) == 2);
    world_stop();
}
END_TEST

START_TEST(test_h2proxy_response_timeout)
{
    world_start(false, 300, 0);
    client_connect(PX_DIR_INBOUND);
    uint64_t t0 = now_ms();
    cstream_t *g = client_request("/stall", "svc", true, NULL, false);
    cstream_t *h = client_request("/stall", "svc", false, NULL, false);
    cstream_t *ok = client_request("/hello", "svc", false, NULL, false);
    RUN_UNTIL(g->closed && h->closed && ok->closed, 5000);
    ck_assert_uint_ge(now_ms() - t0, 250);
    /* gRPC: trailers-only DEADLINE_EXCEEDED, as Linkerd answers. */
    ck_assert_int_eq(g->status, 200);
    ck_assert_str_eq(g->grpc_status, "4");
    ck_assert_str_eq(g->proxy_error, "response timeout");
    ck_assert_int_eq(g->code, 0);
    ck_assert_int_eq(h->status, 504);
    ck_assert_int_eq(h->code, 0);
    ck_assert_int_eq(ok->status, 200);
    /* Both stalled upstream streams were cancelled. */
    RUN_UNTIL(W.be[0].cancelled == 2, 2000);
    ck_assert(metric("response_total", "status_code=\"504\",classification=\"failure\",grpc_status=\"\","
                     "error=\"response_timeout\"", NULL, 0) == 1);
    ck_assert(metric("response_total", "grpc_status=\"4\",error=\"response_timeout\"", NULL, 0) == 1);
    world_stop();
}
END_TEST

START_TEST(test_h2proxy_idle_stream_timeout)
{
    world_start(false, 0, 300);
    client_connect(PX_DIR_INBOUND);
    cstream_t *c = client_request("/stall-body", "svc", false, NULL, false);
    RUN_UNTIL(c->status == 200, 5000);
    uint64_t t0 = now_ms();
    RUN_UNTIL(c->closed, 5000);
    ck_assert_uint_ge(now_ms() - t0, 200);
    ck_assert_uint_eq(c->code, NGHTTP2_CANCEL);
    RUN_UNTIL(W.be[0].cancelled == 1, 2000);
    /* The connection itself is fine: the next stream is served. */
    cstream_t *ok = client_request("/hello", "svc", false, NULL, false);
    RUN_UNTIL(ok->closed, 5000);
    ck_assert_int_eq(ok->status, 200);
    world_stop();
}
END_TEST

START_TEST(test_h2proxy_refused_stream_retried_once)
{
    world_start(false, 0, 0);
    W.be[0].refuse = 1;
    client_connect(PX_DIR_INBOUND);
    cstream_t *c = client_request("/hello", "svc", false, NULL, false);
    RUN_UNTIL(c->closed, 5000);
    ck_assert_int_eq(c->status, 200);
    ck_assert_int_eq(c->code, 0);
    ck_assert_int_eq(W.be[0].refused, 1);
    ck_assert_int_eq(W.be[0].streams, 2);
    /* Refused twice: the client sees REFUSED_STREAM after exactly 2 tries. */
    W.be[0].refuse = 3;
    cstream_t *d = client_request("/hello", "svc", false, NULL, false);
    RUN_UNTIL(d->closed, 5000);
    ck_assert_uint_eq(d->code, NGHTTP2_REFUSED_STREAM);
    ck_assert_int_eq(W.be[0].streams, 4);
    world_stop();
}
END_TEST

START_TEST(test_h2proxy_refused_stream_with_body_retried)
{
    /* Refused once the whole body went upstream: nothing was processed
     * (RFC 9113 §8.7), so the request goes again, body included, from the
     * bytes kept; the client's window is not given back twice. */
    world_start(false, 0, 0);
    W.be[0].refuse_end = 1;
    client_connect(PX_DIR_INBOUND);
    cstream_t *c = client_request("/upload", "svc", false, "0123456789", false);
    RUN_UNTIL(c->closed, 5000);
    ck_assert_uint_eq(c->code, 0);
    ck_assert_int_eq(c->status, 200);
    ck_assert_str_eq(c->x_echo, "/upload/10"); /* the retry carried the body */
    ck_assert_int_eq(W.be[0].refused, 1);
    ck_assert_int_eq(W.be[0].streams, 2);
    /* Past PX_H2_REPLAY_MAX nothing is kept: the refusal reaches the client. */
    static char big[100 * 1024 + 1];
    memset(big, 'b', sizeof(big) - 1);
    W.be[0].refuse_end = 1;
    cstream_t *d = client_request("/upload", "svc", false, big, false);
    RUN_UNTIL(d->closed, 5000);
    ck_assert_uint_eq(d->code, NGHTTP2_REFUSED_STREAM);
    ck_assert_int_eq(W.be[0].streams, 3);
    /* The connection's windows are intact: the same body once more. */
    cstream_t *e = client_request("/upload", "svc", false, big, false);
    RUN_UNTIL(e->closed, 5000);
    ck_assert_int_eq(e->status, 200);
    ck_assert_str_eq(e->x_echo, "/upload/102400");
    world_stop();
}
END_TEST

/* Bytes waiting in the client's socket, unread. */
static int client_unread(void)
{
    int n = 0;
    ck_assert_int_eq(ioctl(W.cl.fd, FIONREAD, &n), 0);
    return n;
}

/* Waits, not reading the client, until its unread bytes stop growing. */
static int client_settle(void)
{
    int last = -1, n = client_unread();
    while (n != last) {
        last = n;
        pump_for(50);
        n = client_unread();
    }
    return n;
}

START_TEST(test_h2proxy_drain_notice_not_behind_responses)
{
    /* The race h2load lost (1 run in 20 or so): a response ending a stream
     * and the shutdown notice arrive in one read. h2load opens its next
     * stream from the stream-close callback, before nghttp2 reaches the
     * GOAWAY; nghttp2 then refuses to send it and h2load counts a started
     * request as failed. Here the client reads only once everything the
     * proxy sent after the response is there. Another stream is in flight
     * throughout, as with h2load -m 10. */
    world_start(false, 0, 0);
    client_connect(PX_DIR_INBOUND);
    cstream_t *first = client_request("/hello", "svc", false, NULL, false);
    RUN_UNTIL(first->closed, 5000);
    cstream_t *held = client_request("/hold", "svc", false, NULL, false);
    RUN_UNTIL(W.be[0].held_peer != NULL, 5000);
    cstream_t *a = client_request("/hello", "svc", false, NULL, false);
    flush_peer(&W.cl);
    W.cl_paused = true;
    RUN_UNTIL(W.be[0].streams == 3, 5000);
    int resp = client_settle();
    ck_assert_int_gt(resp, 0); /* a's response, unread */
    ck_assert(!a->closed);
    px_proxy_shutdown(W.p);
    ck_assert_int_gt(client_settle(), resp); /* the proxy's first drain frame */
    W.follow = 1;
    W.cl_paused = false;
    RUN_UNTIL(a->closed && W.nfollowed == 1, 5000);
    cstream_t *b = W.followed[0];
    RUN_UNTIL(b->closed, 5000);
    ck_assert_int_eq(a->status, 200);
    ck_assert_uint_eq(b->code, 0); /* not REFUSED_STREAM: it was sent and served */
    ck_assert_int_eq(b->status, 200);
    ck_assert(W.cl.goaway);
    ck_assert(!held->closed);
    be_release(&W.be[0]);
    RUN_UNTIL(held->closed, 5000);
    ck_assert_int_eq(held->status, 200);
    RUN_UNTIL(W.cl.eof, 5000);
    RUN_UNTIL(px_proxy_running(W.p) == 0, 5000);
    world_stop();
}
END_TEST

START_TEST(test_h2proxy_drain_waits_for_slow_client)
{
    /* A client (a loaded machine) that has not read anything since the
     * SIGTERM opens a stream 400 ms later: the final GOAWAY must not have
     * been sent before the client saw the notice, or that stream lies above
     * its last stream id and is refused. */
    world_start(false, 0, 0);
    client_connect(PX_DIR_INBOUND);
    cstream_t *first = client_request("/hello", "svc", false, NULL, false);
    RUN_UNTIL(first->closed, 5000);
    W.cl_paused = true;
    px_proxy_shutdown(W.p);
    pump_for(400);
    ck_assert(!W.cl.goaway);
    cstream_t *late = client_request("/hello", "svc", false, NULL, false);
    flush_peer(&W.cl);
    pump_for(100);
    W.cl_paused = false;
    RUN_UNTIL(late->closed, 5000);
    ck_assert_uint_eq(late->code, 0);
    ck_assert_int_eq(late->status, 200);
    ck_assert(W.cl.goaway);
    RUN_UNTIL(W.cl.eof, 5000);
    RUN_UNTIL(px_proxy_running(W.p) == 0, 5000);
    world_stop();
}
END_TEST

/* --- core: frame boundaries and the drain frames ------------------------------------------- */

static size_t frame(uint8_t *out, uint32_t len, uint8_t type, uint8_t flags, int32_t id)
{
    out[0] = (uint8_t)(len >> 16);
    out[1] = (uint8_t)(len >> 8);
    out[2] = (uint8_t)len;
    out[3] = type;
    out[4] = flags;
    out[5] = (uint8_t)(id >> 24);
    out[6] = (uint8_t)(id >> 16);
    out[7] = (uint8_t)(id >> 8);
    out[8] = (uint8_t)id;
    memset(out + 9, 'x', len);
    return 9 + len;
}

typedef struct seen {
    int pings, goaways;
    uint8_t opaque[8];
    int32_t last_id;
    uint32_t code;
} seen_t;

static int seen_frame(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    (void)ng;
    seen_t *sn = ud;
    if (f->hd.type == NGHTTP2_PING) {
        sn->pings++;
        memcpy(sn->opaque, f->ping.opaque_data, 8);
    } else if (f->hd.type == NGHTTP2_GOAWAY) {
        sn->goaways++;
        sn->last_id = f->goaway.last_stream_id;
        sn->code = f->goaway.error_code;
    }
    return 0;
}

START_TEST(test_h2proxy_core_framer_and_drain_frames)
{
    /* A stream of frames with known boundaries: SETTINGS, HEADERS without
     * END_HEADERS, two CONTINUATIONs (the block ends with the second),
     * DATA, then the two frames the drain writes. */
    uint8_t buf[512];
    size_t ends[8], n = 0, k = 0;
    n += frame(buf + n, 6, NGHTTP2_SETTINGS, 0, 0);
    ends[k++] = n;
    size_t block_from = n;
    n += frame(buf + n, 3, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1);
    n += frame(buf + n, 4, NGHTTP2_CONTINUATION, 0, 1);
    n += frame(buf + n, 2, NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, 1);
    ends[k++] = n;
    n += frame(buf + n, 40, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 3);
    ends[k++] = n;
    size_t drain_from = n;
    px_h2_ping_frame(buf + n, (const uint8_t *)"12345678");
    n += PX_H2_PING_FRAME;
    ends[k++] = n;
    px_h2_goaway_frame(buf + n, INT32_MAX, NGHTTP2_NO_ERROR);
    n += PX_H2_GOAWAY_FRAME;
    ends[k++] = n;
    /* Fed in every chunk size from 1 to 23: a boundary exactly at the ends. */
    for (size_t chunk = 1; chunk <= 23; chunk++) {
        px_h2_framer_t f = {0};
        for (size_t off = 0; off < n;) {
            size_t c = n - off < chunk ? n - off : chunk;
            px_h2_framer_feed(&f, buf + off, c);
            off += c;
            bool want = false;
            for (size_t i = 0; i < k; i++)
                want |= ends[i] == off;
            ck_assert_msg(px_h2_framer_at_boundary(&f) == want, "chunk %zu offset %zu", chunk, off);
            if (off > block_from && off < ends[1])
                ck_assert(!px_h2_framer_at_boundary(&f)); /* never inside a header block */
        }
    }
    /* The drain frames as nghttp2 (a client's session) reads them. */
    seen_t sn = {0};
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, seen_frame);
    nghttp2_session *ng;
    ck_assert_int_eq(nghttp2_session_client_new(&ng, cb, &sn), 0);
    nghttp2_session_callbacks_del(cb);
    uint8_t settings[9];
    frame(settings, 0, NGHTTP2_SETTINGS, 0, 0);
    ck_assert_int_eq(nghttp2_session_mem_recv(ng, settings, 9), 9);
    ssize_t r = nghttp2_session_mem_recv(ng, buf + drain_from, n - drain_from);
    ck_assert_int_eq(r, (ssize_t)(n - drain_from));
    ck_assert_int_eq(sn.pings, 1);
    ck_assert(memcmp(sn.opaque, "12345678", 8) == 0);
    ck_assert_int_eq(sn.goaways, 1);
    ck_assert_int_eq(sn.last_id, INT32_MAX);
    ck_assert_uint_eq(sn.code, NGHTTP2_NO_ERROR);
    /* nghttp2 answers the PING and opens no stream any more. */
    ck_assert_int_eq(nghttp2_session_check_request_allowed(ng), 0);
    nghttp2_session_del(ng);
}
END_TEST

Suite *h2proxy_suite(void)
{
    Suite *s = suite_create("h2proxy");
    TCase *tc = tcase_create("inprocess");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_h2proxy_headers_body_trailers);
    tcase_add_test(tc, test_h2proxy_flow_control_slow_reader);
    tcase_add_test(tc, test_h2proxy_conn_window_given_back);
    tcase_add_test(tc, test_h2proxy_goaway_on_shutdown);
    tcase_add_test(tc, test_h2proxy_target_from_authority);
    tcase_add_test(tc, test_h2proxy_response_timeout);
    tcase_add_test(tc, test_h2proxy_idle_stream_timeout);
    tcase_add_test(tc, test_h2proxy_refused_stream_retried_once);
    tcase_add_test(tc, test_h2proxy_refused_stream_with_body_retried);
    tcase_add_test(tc, test_h2proxy_drain_notice_not_behind_responses);
    tcase_add_test(tc, test_h2proxy_drain_waits_for_slow_client);
    suite_add_tcase(s, tc);
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_h2proxy_core_framer_and_drain_frames);
    suite_add_tcase(s, core);
    return s;
}
