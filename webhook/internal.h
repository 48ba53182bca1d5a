/*
 * webhook/internal.h - helpers shared by the injector's files (not public).
 */
#ifndef WH_INTERNAL_H
#define WH_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "mesh/buf.h"

/* Kubernetes resource quantity ("500m", "1.5", "64Mi", "1e3"): 1 if valid. */
bool wh__quantity_valid(const char *s);
/* A CPU quantity in millicores, rounded up; -1 when not a quantity. */
long long wh__cpu_millis(const char *s);

/* "10.0.0.0/8,fd00::/8": 1 when every item is an IPv4 or IPv6 CIDR. */
bool wh__cidrs_valid(const char *s);

/* 1 when `s` is a decimal integer in lo..hi (no sign, no blanks). */
bool wh__parse_int(const char *s, long long lo, long long hi, long long *out);

/* Appends `j` as json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) would write
 * it, byte for byte (insertion order, no ASCII-only or slash escaping).
 * `j` must have no cycles. 0, or -1 on no memory or nesting over the limit
 * (out may then hold part of the text). */
int wh__json_dump(const json_t *j, mesh_buf_t *out) __attribute__((warn_unused_result));

/* True when `s` is a number only in YAML 1.1 (1_000, 12:30, 0b101), which
 * kubectl's YAML reader would read as such: the YAML writers quote it. */
int wh__yaml11_number(const char *s);

#endif
