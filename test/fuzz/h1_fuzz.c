/* libFuzzer: HTTP/1 request and response parsers, framing, head rewriting,
 * the chunked decoder (fed in two parts, so state carries over) and the
 * trailer section: parsed, re-written, and the rewrite parsed back. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "px/h1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parses a trailer section, writes it as we forward it, and checks that
 * what we write is a last chunk plus a section that parses back whole,
 * with no more fields than came in. */
static void trailers_roundtrip(const char *p, size_t n)
{
    static px_h1_msg_t t, t2;
    int r = px_h1_parse_trailers(p, n, &t);
    if (r == PX_H1_INCOMPLETE || r == PX_H1_ERR_BAD || r == PX_H1_ERR_LARGE)
        return;
    if (r <= 0 || (size_t)r > n)
        __builtin_trap();
    px_buf_t out = PX_BUF_INIT;
    if (px_h1_write_trailers(&out, 1 << 20, &t) == 0) {
        const char *o = px_buf_data(&out);
        if (out.len < 5 || memcmp(o, "0\r\n", 3) != 0)
            __builtin_trap();
        int r2 = px_h1_parse_trailers(o + 3, out.len - 3, &t2);
        if (r2 != (int)(out.len - 3) || t2.nheaders > t.nheaders)
            __builtin_trap();
    }
    px_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static px_h1_msg_t m;
    const char *p = (const char *)data;
    int r = px_h1_parse_request(p, size, &m);
    if (r > 0) {
        px_h1_framing_t f;
        if (px_h1_request_framing(&m, &f) == 0) {
            px_buf_t out = PX_BUF_INIT;
            if (px_h1_write_head(&out, 1 << 20, &m, true, f.body == PX_H1_BODY_CHUNKED, false, f.upgrade) == 0) {
                /* What we forward must parse back to an accepted request. */
                static px_h1_msg_t m2;
                px_h1_framing_t f2;
                int r2 = px_h1_parse_request(px_buf_data(&out), out.len, &m2);
                if (r2 != (int)out.len || px_h1_request_framing(&m2, &f2) != 0 || f2.body != f.body)
                    __builtin_trap();
            }
            px_buf_free(&out);
        }
    }
    r = px_h1_parse_response(p, size, &m);
    if (r > 0) {
        px_h1_framing_t f;
        (void)px_h1_response_framing(&m, size & 1, &f);
    }
    trailers_roundtrip(p, size);
    px_h1_chunked_t d = {0};
    /* Odd sizes stop before the trailers and hand them to the trailer parser,
     * as the proxy does; even sizes let the decoder skip them. */
    d.keep_trailers = size & 1;
    size_t half = size / 2, off = 0;
    size_t ends[2] = {half, size};
    for (int k = 0; k < 2; k++) {
        while (off < ends[k]) {
            const char *dp;
            size_t dl;
            bool done;
            long c = px_h1_chunked_decode(&d, p + off, ends[k] - off, &dp, &dl, &done);
            if (c < 0 || done)
                break;
            if (dl && (dp < p + off || dp + dl > p + ends[k]))
                __builtin_trap();
            off += (size_t)c;
            if (px_h1_chunked_at_trailers(&d)) {
                trailers_roundtrip(p + off, size - off);
                px_h1_chunked_finish(&d);
                break;
            }
            if (c == 0 && dl == 0)
                break;
        }
    }
    return 0;
}
