/* Durations: parse never crashes; whatever parses formats and parses back to
 * the same value (the formatter's output is always valid input). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[128];
    if (size >= sizeof(s))
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    int64_t ns, back;
    if (mesh_duration_parse(s, &ns) != 0)
        return 0;
    char out[64];
    mesh_duration_format(ns, out, sizeof(out));
    if (mesh_duration_parse(out, &back) != 0 || back != ns)
        abort();
    return 0;
}
