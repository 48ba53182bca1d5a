/* Protocol detection; see px/detect.h. */
#include "px/detect.h"

#include <string.h>

/* RFC 9110 §5.6.2 tchar. */
static int is_tchar(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return 1;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Longest method we consider; real ones are far shorter. */
#define METHOD_MAX 32

px_proto_t px_detect(const char *p, size_t n)
{
    size_t m = n < PX_H2_PREFACE_LEN ? n : PX_H2_PREFACE_LEN;
    if (memcmp(p, PX_H2_PREFACE, m) == 0)
        return n >= PX_H2_PREFACE_LEN ? PX_PROTO_H2 : PX_PROTO_NEED_MORE;
    size_t lim = n < PX_DETECT_MAX ? n : PX_DETECT_MAX;
    size_t i = 0;
    while (i < lim && is_tchar((unsigned char)p[i]))
        i++;
    if (i == lim)
        return (i > METHOD_MAX || n >= PX_DETECT_MAX) ? PX_PROTO_OPAQUE : PX_PROTO_NEED_MORE;
    if (i == 0 || i > METHOD_MAX || p[i] != ' ')
        return PX_PROTO_OPAQUE;
    /* A well-known method settles it: a malformed rest of the line then
     * gets a 400 from the HTTP/1 parser instead of slipping through as
     * opaque bytes. */
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE",
                                        "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
        if (strlen(known[k]) == i && memcmp(known[k], p, i) == 0)
            return PX_PROTO_H1;
    i++;
    size_t t = i;
    while (i < lim && (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f)
        i++;
    if (i == lim)
        return n >= PX_DETECT_MAX ? PX_PROTO_OPAQUE : PX_PROTO_NEED_MORE;
    if (i == t || p[i] != ' ')
        return PX_PROTO_OPAQUE;
    i++;
    static const char ver[] = "HTTP/1.";
    for (size_t k = 0; k < sizeof(ver) - 1; k++, i++) {
        if (i == lim)
            return PX_PROTO_NEED_MORE;
        if (p[i] != ver[k])
            return PX_PROTO_OPAQUE;
    }
    if (i == lim)
        return PX_PROTO_NEED_MORE;
    if (p[i] != '0' && p[i] != '1')
        return PX_PROTO_OPAQUE;
    i++;
    if (i == lim)
        return PX_PROTO_NEED_MORE;
    if (p[i] != '\r')
        return PX_PROTO_OPAQUE;
    i++;
    if (i == lim)
        return PX_PROTO_NEED_MORE;
    return p[i] == '\n' ? PX_PROTO_H1 : PX_PROTO_OPAQUE;
}

const char *px_proto_name(px_proto_t p)
{
    switch (p) {
    case PX_PROTO_H1: return "http/1";
    case PX_PROTO_H2: return "h2";
    case PX_PROTO_OPAQUE: return "opaque";
    case PX_PROTO_NEED_MORE: break;
    }
    return "unknown";
}
