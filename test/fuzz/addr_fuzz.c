/* Listen addresses: parse never crashes, and a parsed address formats to text
 * that parses to the same port. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[300];
    if (size >= sizeof(s))
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    mesh_addr_t a, b;
    if (mesh_addr_parse(s, &a) != 0)
        return 0;
    char out[320];
    if (mesh_addr_format(&a, out, sizeof(out)) < 0)
        return 0;
    if (mesh_addr_parse(out, &b) != 0 || memcmp(&a, &b, sizeof(a)) != 0)
        abort();
    return 0;
}
