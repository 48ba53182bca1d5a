/* libFuzzer: a server session of ours (px_h2_session_new: limits, no
 * automatic window updates) fed arbitrary bytes after the preface, with the
 * decoded-header accounting the proxy applies; its output is drained. The
 * same bytes also go through the frame-boundary tracker. */
#include <stddef.h>
#include <stdint.h>

#include "px/h2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                     const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    (void)s; (void)f; (void)name; (void)value; (void)flags;
    return px_h2_hdr_acct_add(ud, nl, vl) == 0 ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

static int on_begin(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)s; (void)f;
    px_h2_hdr_acct_reset(ud);
    return 0;
}

/* The frame-boundary tracker the drain relies on: fed the same bytes whole
 * and in chunks of sizes taken from the data, it ends in the same state. */
static void check_framer(const uint8_t *data, size_t size)
{
    px_h2_framer_t whole = {0}, chunked = {0};
    px_h2_framer_feed(&whole, data, size);
    size_t off = 0, i = 0;
    while (off < size) {
        size_t n = (size_t)(data[i++ % size] % 17) + 1;
        if (n > size - off)
            n = size - off;
        px_h2_framer_feed(&chunked, data + off, n);
        off += n;
    }
    if (whole.hlen != chunked.hlen || whole.left != chunked.left ||
        whole.in_block != chunked.in_block)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nghttp2_session_callbacks *cb;
    check_framer(data, size);
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return 0;
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin);
    px_h2_hdr_acct_t acct = {0, 0};
    nghttp2_session *s;
    if (px_h2_session_new(&s, true, cb, &acct) == 0) {
        if (nghttp2_session_mem_recv(s, (const uint8_t *)NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN) >= 0 &&
            nghttp2_session_mem_recv(s, data, size) >= 0) {
            const uint8_t *out;
            while (nghttp2_session_mem_send(s, &out) > 0)
                ;
        }
        if (acct.bytes > PX_H2_MAX_HEADER_BYTES + 65536 + PX_H2_FIELD_OVERHEAD)
            __builtin_trap(); /* accounting must stop right after the cap */
        nghttp2_session_del(s);
    }
    nghttp2_session_callbacks_del(cb);
    return 0;
}
