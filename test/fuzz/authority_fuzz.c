/* libFuzzer driver for the Get/GetProfile authority parser. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dst/authority.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[DST_AUTH_PATH_MAX + 64];
    if (size >= sizeof buf)
        size = sizeof buf - 1;
    memcpy(buf, data, size);
    buf[size] = '\0';
    dst_authority_t a;
    if (dst_authority_parse(buf, "cluster.local", &a) == DST_AUTH_OK) {
        /* Whatever parsed must be within the documented bounds. */
        if (a.port == 0 || (a.kind != DST_AUTH_SERVICE && a.kind != DST_AUTH_IP))
            __builtin_trap();
        if (a.kind == DST_AUTH_SERVICE && (a.svc[0] == '\0' || a.ns[0] == '\0'))
            __builtin_trap();
    }
    return 0;
}
