/* libFuzzer: protocol detection. A verdict on a prefix must not change when
 * more bytes arrive (except NEED_MORE, which may become anything). */
#include <stddef.h>
#include <stdint.h>

#include "px/detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    px_proto_t full = px_detect(p, size);
    for (size_t i = 0; i <= size && i <= 64; i++) {
        px_proto_t pre = px_detect(p, i);
        if (pre != PX_PROTO_NEED_MORE && pre != full && size < PX_DETECT_MAX)
            __builtin_trap();
    }
    return 0;
}
