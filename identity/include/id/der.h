/*
 * id/der.h - a small, strict DER reader and writer for the identity fast path.
 *
 * Pure: bytes in, spans out; no allocation, no logging. The reader accepts
 * only what DER allows for the structures we walk: single-byte tags (tag
 * numbers below 31), definite lengths in minimal form (short form below 128,
 * no leading zero octet in the long form), at most 4 length octets, and
 * content that fits the enclosing span. Anything else is an error, so a
 * caller can fall back to a general parser (OpenSSL) when it sees one.
 *
 * The writer appends TLVs to a caller-provided fixed buffer and records
 * overflow instead of writing past it (check id_der_out_t.err once at the
 * end).
 */
#ifndef ID_DER_H
#define ID_DER_H

#include <stddef.h>
#include <stdint.h>

/* Universal tags we use (class universal, with the constructed bit where it
 * applies). */
#define ID_DER_BOOLEAN 0x01
#define ID_DER_INTEGER 0x02
#define ID_DER_BIT_STRING 0x03
#define ID_DER_OCTET_STRING 0x04
#define ID_DER_NULL 0x05
#define ID_DER_OID 0x06
#define ID_DER_UTF8STRING 0x0c
#define ID_DER_PRINTABLESTRING 0x13
#define ID_DER_IA5STRING 0x16
#define ID_DER_UTCTIME 0x17
#define ID_DER_GENERALIZEDTIME 0x18
#define ID_DER_SEQUENCE 0x30
#define ID_DER_SET 0x31
/* Context-specific tags: [n] constructed / primitive. */
#define ID_DER_CTX_CONS(n) (0xa0 | (n))
#define ID_DER_CTX_PRIM(n) (0x80 | (n))

/* A span of bytes; also the read cursor (p advances, len shrinks). */
typedef struct id_der {
    const uint8_t *p;
    size_t len;
} id_der_t;

/* One element read by id_der_read. */
typedef struct id_der_tlv {
    uint8_t tag;      /* the identifier octet */
    id_der_t content; /* the contents octets */
    id_der_t whole;   /* identifier + length + contents */
} id_der_tlv_t;

/* Reads the next element of `cur` into *out and advances. Returns 0, or -1
 * when `cur` is empty or the element is not strict DER (see above). */
int id_der_read(id_der_t *cur, id_der_tlv_t *out);

/* id_der_read, and also requires the identifier octet to be `tag`; on
 * success *content gets the contents (whole may be NULL). 0 or -1. */
int id_der_expect(id_der_t *cur, uint8_t tag, id_der_t *content, id_der_t *whole);

/* 1 when the span holds exactly the bytes of `s` (n bytes). */
int id_der_eq(const id_der_t *d, const void *s, size_t n);

/* 1 when `oid` (contents octets of an OBJECT IDENTIFIER) is well formed:
 * non-empty, no subidentifier starting with 0x80, the last octet without the
 * continuation bit. */
int id_der_oid_valid(const id_der_t *oid);

/* Appending writer over a fixed buffer. */
typedef struct id_der_out {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err; /* set once anything did not fit; later appends are no-ops */
} id_der_out_t;

/* Appends raw bytes. */
void id_der_put(id_der_out_t *o, const void *p, size_t n);
/* Appends an identifier and a minimal DER length for `n` content bytes. */
void id_der_put_header(id_der_out_t *o, uint8_t tag, size_t n);
/* Appends a whole TLV. */
void id_der_put_tlv(id_der_out_t *o, uint8_t tag, const void *content, size_t n);
/* Bytes a header for `n` content bytes takes (2..6). */
size_t id_der_header_len(size_t n);

#endif
