/* libFuzzer driver for the watch stream parser (mesh/k8s_watch.h).
 *
 * The first byte picks a chunk size; the rest is the stream. The stream is
 * parsed twice, whole and in chunks, with a small event limit so the oversize
 * path is reached; both parses must yield the same events (type and RV), the
 * parser's split-independence contract. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/buf.h"
#include "mesh/k8s_watch.h"

#define FUZZ_EVENT_MAX 4096

static int record(const mesh_k8s_watch_event_t *ev, void *ud)
{
    mesh_buf_t *b = ud;
    if (mesh_buf_appendf(b, "%d:%s;", (int)ev->type, ev->rv ? ev->rv : "-") != 0)
        abort();
    /* Touch the object the way the informer does. */
    (void)mesh_k8s_status_is_expired(ev->object);
    return 0;
}

static void parse(const uint8_t *data, size_t len, size_t chunk, mesh_buf_t *out, unsigned long *errors)
{
    mesh_k8s_watch_parser_t p;
    mesh_k8s_watch_parser_init(&p, FUZZ_EVENT_MAX);
    for (size_t i = 0; i < len; i += chunk) {
        size_t n = len - i < chunk ? len - i : chunk;
        mesh_k8s_watch_feed(&p, (const char *)data + i, n, record, out);
        if (p.buf.len > FUZZ_EVENT_MAX + chunk)
            abort(); /* the limit must bound what is buffered */
    }
    mesh_k8s_watch_finish(&p);
    *errors = p.errors;
    mesh_k8s_watch_parser_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    mesh_buf_t whole = MESH_BUF_INIT, split = MESH_BUF_INIT;
    unsigned long e1, e2;
    parse(data, size, size ? size : 1, &whole, &e1);
    parse(data, size, chunk, &split, &e2);
    if (whole.len != split.len || (whole.len && memcmp(whole.base, split.base, whole.len) != 0))
        abort();
    mesh_buf_free(&whole);
    mesh_buf_free(&split);
    return 0;
}
