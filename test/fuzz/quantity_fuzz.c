/* Quantities: the parser never crashes, and an accepted value stays within
 * the named limit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/quantity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[96];
    uint64_t m;
    if (size >= sizeof(s))
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (mesh_quantity_milli(s, &m) == 0 && m > MESH_QUANTITY_MILLI_MAX)
        abort();
    return 0;
}
