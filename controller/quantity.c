/* Split weights from Kubernetes Quantities (numbers or strings); see dst/profile.h. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dst/profile.h"
#include "mesh/quantity.h"

int dst_quantity_milli(const json_t *q, uint64_t *out)
{
    if (json_is_integer(q)) {
        json_int_t v = json_integer_value(q);
        if (v < 0 || (uint64_t)v > MESH_QUANTITY_MILLI_MAX)
            return DST_ERR_INVALID;
        *out = (uint64_t)v * 1000;
        return DST_OK;
    }
    if (json_is_real(q)) {
        double v = json_real_value(q) * 1000.0;
        if (!(v >= 0) || v > 1e18)
            return DST_ERR_INVALID;
        *out = (uint64_t)ceil(v);
        return DST_OK;
    }
    if (json_is_string(q))
        return mesh_quantity_milli(json_string_value(q), out) == 0 ? DST_OK : DST_ERR_INVALID;
    return DST_ERR_INVALID;
}

int dst_weight_from_quantity(const json_t *q, uint32_t *out)
{
    uint64_t m;
    if (dst_quantity_milli(q, &m) != DST_OK || m > UINT32_MAX / 10)
        return DST_ERR_INVALID;
    *out = (uint32_t)(m * 10);
    return DST_OK;
}
