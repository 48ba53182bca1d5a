/* Strict DER reading and writing; see id/der.h. */
#include "id/der.h"

#include <string.h>

/* Lengths above this are never part of a CSR we accept (ID_CSR_MAX is 16 KiB),
 * and the bound keeps size arithmetic far from overflow. */
#define DER_MAX_LEN_OCTETS 4

int id_der_read(id_der_t *cur, id_der_tlv_t *out)
{
    const uint8_t *p = cur->p;
    size_t left = cur->len;
    if (left < 2)
        return -1;
    uint8_t tag = p[0];
    /* Tag number 31 announces the multi-byte form, which nothing we read uses. */
    if ((tag & 0x1f) == 0x1f)
        return -1;
    size_t n = p[1], hdr = 2;
    if (n & 0x80) {
        size_t k = n & 0x7f;
        /* 0x80 is the BER indefinite form; DER forbids it. */
        if (k == 0 || k > DER_MAX_LEN_OCTETS || left < 2 + k)
            return -1;
        /* X.690 10.1: the length uses the fewest octets, so no leading zero
         * and no long form for lengths below 128. */
        if (p[2] == 0)
            return -1;
        n = 0;
        for (size_t i = 0; i < k; i++)
            n = (n << 8) | p[2 + i];
        if (n < 0x80)
            return -1;
        hdr += k;
    }
    if (n > left - hdr)
        return -1;
    out->tag = tag;
    out->content.p = p + hdr;
    out->content.len = n;
    out->whole.p = p;
    out->whole.len = hdr + n;
    cur->p = p + hdr + n;
    cur->len = left - hdr - n;
    return 0;
}

int id_der_expect(id_der_t *cur, uint8_t tag, id_der_t *content, id_der_t *whole)
{
    id_der_t save = *cur;
    id_der_tlv_t t;
    if (id_der_read(cur, &t) != 0 || t.tag != tag) {
        *cur = save;
        return -1;
    }
    if (content != NULL)
        *content = t.content;
    if (whole != NULL)
        *whole = t.whole;
    return 0;
}

int id_der_eq(const id_der_t *d, const void *s, size_t n)
{
    return d->len == n && memcmp(d->p, s, n) == 0;
}

int id_der_oid_valid(const id_der_t *oid)
{
    if (oid->len == 0 || (oid->p[oid->len - 1] & 0x80))
        return 0;
    int start = 1;
    for (size_t i = 0; i < oid->len; i++) {
        if (start && oid->p[i] == 0x80)
            return 0;
        start = !(oid->p[i] & 0x80);
    }
    return 1;
}

void id_der_put(id_der_out_t *o, const void *p, size_t n)
{
    if (o->err || n > o->cap - o->len) {
        o->err = 1;
        return;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

size_t id_der_header_len(size_t n)
{
    if (n < 0x80)
        return 2;
    size_t k = 0;
    for (size_t v = n; v != 0; v >>= 8)
        k++;
    return 2 + k;
}

void id_der_put_header(id_der_out_t *o, uint8_t tag, size_t n)
{
    uint8_t h[2 + sizeof(size_t)];
    size_t hl = id_der_header_len(n);
    h[0] = tag;
    if (hl == 2) {
        h[1] = (uint8_t)n;
    } else {
        size_t k = hl - 2;
        h[1] = (uint8_t)(0x80 | k);
        for (size_t i = 0; i < k; i++)
            h[2 + i] = (uint8_t)(n >> (8 * (k - 1 - i)));
    }
    id_der_put(o, h, hl);
}

void id_der_put_tlv(id_der_out_t *o, uint8_t tag, const void *content, size_t n)
{
    id_der_put_header(o, tag, n);
    id_der_put(o, content, n);
}
