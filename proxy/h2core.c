/* HTTP/2 core without I/O: limits, session options, reset bucket, header
 * accounting; see px/h2.h. */
#include "px/h2.h"

#include <string.h>

#include "mesh/mem.h"

void px_h2_rate_init(px_h2_rate_t *r, unsigned burst, unsigned per_second, uint64_t now_ms)
{
    r->tokens = r->burst = (double)burst;
    r->per_ms = (double)per_second / 1000.0;
    r->last_ms = now_ms;
}

bool px_h2_rate_take(px_h2_rate_t *r, uint64_t now_ms)
{
    if (now_ms > r->last_ms) {
        r->tokens += (double)(now_ms - r->last_ms) * r->per_ms;
        if (r->tokens > r->burst)
            r->tokens = r->burst;
        r->last_ms = now_ms;
    }
    if (r->tokens < 1.0)
        return false;
    r->tokens -= 1.0;
    return true;
}

int px_h2_hdr_acct_add(px_h2_hdr_acct_t *a, size_t namelen, size_t valuelen)
{
    /* Each field costs its overhead too, so a flood of tiny indexed
     * references (the "HTTP/2 bomb") trips the byte limit as well. */
    a->bytes += namelen + valuelen + PX_H2_FIELD_OVERHEAD;
    a->fields++;
    return a->bytes > PX_H2_MAX_HEADER_BYTES || a->fields > PX_H2_MAX_HEADER_FIELDS ? -1 : 0;
}

static bool name_is(const uint8_t *n, size_t len, const char *lit)
{
    size_t l = strlen(lit);
    return len == l && memcmp(n, lit, l) == 0;
}

bool px_h2_forward_field(const uint8_t *name, size_t namelen)
{
    /* HTTP/2 field names arrive lower-case (nghttp2 checks). */
    return !(name_is(name, namelen, "connection") || name_is(name, namelen, "keep-alive") ||
             name_is(name, namelen, "proxy-connection") ||
             name_is(name, namelen, "transfer-encoding") || name_is(name, namelen, "upgrade"));
}

void px_h2_framer_feed(px_h2_framer_t *f, const uint8_t *p, size_t n)
{
    while (n) {
        if (f->left) {
            size_t k = n < f->left ? n : f->left;
            f->left -= (uint32_t)k;
            p += k;
            n -= k;
            continue;
        }
        f->hdr[f->hlen++] = *p++;
        n--;
        if (f->hlen < PX_H2_FRAME_HEADER)
            continue;
        f->hlen = 0;
        f->left = (uint32_t)f->hdr[0] << 16 | (uint32_t)f->hdr[1] << 8 | f->hdr[2];
        uint8_t type = f->hdr[3], flags = f->hdr[4];
        if (type == NGHTTP2_HEADERS || type == NGHTTP2_PUSH_PROMISE || type == NGHTTP2_CONTINUATION)
            f->in_block = (flags & NGHTTP2_FLAG_END_HEADERS) == 0;
    }
}

static void frame_header(uint8_t *out, uint32_t len, uint8_t type, uint8_t flags, int32_t stream)
{
    out[0] = (uint8_t)(len >> 16);
    out[1] = (uint8_t)(len >> 8);
    out[2] = (uint8_t)len;
    out[3] = type;
    out[4] = flags;
    out[5] = (uint8_t)((uint32_t)stream >> 24 & 0x7f);
    out[6] = (uint8_t)((uint32_t)stream >> 16);
    out[7] = (uint8_t)((uint32_t)stream >> 8);
    out[8] = (uint8_t)stream;
}

static void put32(uint8_t *out, uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

void px_h2_ping_frame(uint8_t out[PX_H2_PING_FRAME], const uint8_t opaque[8])
{
    frame_header(out, 8, NGHTTP2_PING, NGHTTP2_FLAG_NONE, 0);
    memcpy(out + PX_H2_FRAME_HEADER, opaque, 8);
}

void px_h2_goaway_frame(uint8_t out[PX_H2_GOAWAY_FRAME], int32_t last_stream_id, uint32_t error_code)
{
    frame_header(out, 8, NGHTTP2_GOAWAY, NGHTTP2_FLAG_NONE, 0);
    put32(out + PX_H2_FRAME_HEADER, (uint32_t)last_stream_id & 0x7fffffffu);
    put32(out + PX_H2_FRAME_HEADER + 4, error_code);
}

static void *m_malloc(size_t n, void *ud)
{
    (void)ud;
    return mesh_malloc(n);
}
static void m_free(void *p, void *ud)
{
    (void)ud;
    mesh_free(p);
}
static void *m_calloc(size_t nmemb, size_t size, void *ud)
{
    (void)ud;
    return mesh_calloc(nmemb, size);
}
static void *m_realloc(void *p, size_t n, void *ud)
{
    (void)ud;
    return mesh_realloc(p, n);
}

static nghttp2_mem px_mem = {NULL, m_malloc, m_free, m_calloc, m_realloc};

nghttp2_mem *px_h2_mem(void) { return &px_mem; }

int px_h2_session_new(nghttp2_session **out, bool server, const nghttp2_session_callbacks *cb,
                      void *user_data)
{
    nghttp2_option *opt;
    *out = NULL;
    int rv = nghttp2_option_new(&opt);
    if (rv != 0)
        return rv;
    /* Flow control is ours: a window opens only as the other side drains. */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_option_set_max_send_header_block_length(opt, PX_H2_MAX_SEND_HEADER_BLOCK);
    nghttp2_option_set_max_outbound_ack(opt, PX_H2_MAX_OUTBOUND_ACK);
    nghttp2_option_set_max_settings(opt, PX_H2_MAX_SETTINGS);
    nghttp2_option_set_max_continuations(opt, PX_H2_MAX_CONTINUATIONS);
    nghttp2_session *s = NULL;
    rv = server ? nghttp2_session_server_new3(&s, cb, user_data, opt, &px_mem)
                : nghttp2_session_client_new3(&s, cb, user_data, opt, &px_mem);
    nghttp2_option_del(opt);
    if (rv != 0)
        return rv;
    nghttp2_settings_entry iv[4] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, PX_H2_STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, PX_H2_MAX_HEADER_BYTES},
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, PX_H2_MAX_CONCURRENT_STREAMS},
    };
    /* A client has no reason to limit streams the server may not open. */
    rv = nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, iv, server ? 4 : 3);
    if (rv == 0)
        rv = nghttp2_session_set_local_window_size(s, NGHTTP2_FLAG_NONE, 0, PX_H2_CONN_WINDOW);
    if (rv != 0) {
        nghttp2_session_del(s);
        return rv;
    }
    *out = s;
    return 0;
}
