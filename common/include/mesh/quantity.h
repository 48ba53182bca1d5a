/*
 * mesh/quantity.h - Kubernetes resource quantities ("500m", "1.5", "64Mi",
 * "1e3", "2k"), read exactly.
 *
 * The value is returned as a milli-value rounded up, as Go's
 * resource.Quantity.MilliValue() does, computed in 128-bit integers (no
 * floating point): "900m" -> 900, "1" -> 1000, "64Mi" -> 67108864000.
 * Accepted: an optional '+', decimal digits with at most one '.', then either
 * a decimal exponent (e/E, optional sign, at most 18) or one of the suffixes
 * n u m k M G T P E Ki Mi Gi Ti Pi Ei. Negative quantities are refused (none
 * of our uses has one).
 */
#ifndef MESH_QUANTITY_H
#define MESH_QUANTITY_H

#include <stdint.h>

/* Significant digits kept exactly; a longer mantissa is refused. */
#define MESH_QUANTITY_DIGITS_MAX 18
/* The largest milli-value returned. */
#define MESH_QUANTITY_MILLI_MAX (UINT64_MAX / 1000)

/* Parses `s` into its milli-value. Returns 0, or -1 when `s` is not a
 * quantity or its milli-value exceeds MESH_QUANTITY_MILLI_MAX. */
int mesh_quantity_milli(const char *s, uint64_t *out) __attribute__((warn_unused_result));

#endif
