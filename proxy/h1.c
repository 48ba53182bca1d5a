/* HTTP/1.1 parsing, framing and head rewriting; see px/h1.h. */
#include "px/h1.h"

#include <string.h>
#include <strings.h>

/* RFC 9110 §5.6.2 tchar, as a table for the hot loop. */
static const unsigned char tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

#define IS_TCHAR(c) (tchar[(unsigned char)(c)])
/* field-vchar / SP / HTAB / obs-text: anything but CTLs (HTAB allowed) and
 * DEL; a table, since every value byte goes through it. */
static const unsigned char fieldchar[256] = {
    ['\t'] = 1, [0x20 ... 0x7e] = 1, [0x80 ... 0xff] = 1,
};
#define IS_FIELD(c) (fieldchar[(unsigned char)(c)])

bool px_h1_iequal(const char *a, size_t an, const char *b)
{
    return strlen(b) == an && strncasecmp(a, b, an) == 0;
}

/* Compares a header name (a token, checked by the parser) with a lowercase
 * literal of letters, digits and '-': for token characters, OR-ing 0x20
 * lowercases letters and maps nothing else onto those. Hot: every header
 * goes through it several times. */
static inline bool name_eq(const char *a, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)a[i] | 0x20) != (unsigned char)lit[i])
            return false;
    return true;
}
#define NAME_IS(h, lit) ((h)->name_len == sizeof(lit) - 1 && name_eq((h)->name, lit, sizeof(lit) - 1))

/* Expects CRLF at p[i]; returns the index after it, PX_H1_INCOMPLETE or BAD. */
static long crlf(const char *p, size_t n, size_t i)
{
    if (i >= n)
        return PX_H1_INCOMPLETE;
    if (p[i] != '\r')
        return PX_H1_ERR_BAD;
    if (i + 1 >= n)
        return PX_H1_INCOMPLETE;
    return p[i + 1] == '\n' ? (long)(i + 2) : PX_H1_ERR_BAD;
}

static long parse_headers(const char *p, size_t n, size_t i, px_h1_msg_t *m)
{
    m->nheaders = 0;
    for (;;) {
        if (i >= n)
            return PX_H1_INCOMPLETE;
        if (p[i] == '\r')
            return crlf(p, n, i);
        /* A line starting with whitespace is obs-fold (RFC 9112 §5.2):
         * refused, since intermediaries disagree on how to unfold it. */
        size_t ns = i;
        while (i < n && IS_TCHAR(p[i]))
            i++;
        if (i >= n)
            return PX_H1_INCOMPLETE;
        /* No whitespace between name and colon (RFC 9112 §5.1): a 400. */
        if (p[i] != ':' || i == ns)
            return PX_H1_ERR_BAD;
        size_t nl = i - ns;
        i++;
        while (i < n && (p[i] == ' ' || p[i] == '\t'))
            i++;
        size_t vs = i;
        while (i + 4 <= n && IS_FIELD(p[i]) && IS_FIELD(p[i + 1]) && IS_FIELD(p[i + 2]) &&
               IS_FIELD(p[i + 3]))
            i += 4;
        while (i < n && IS_FIELD(p[i]))
            i++;
        if (i >= n)
            return PX_H1_INCOMPLETE;
        size_t ve = i;
        long r = crlf(p, n, i); /* a NUL, bare CR or bare LF fails here */
        if (r < 0)
            return r;
        while (ve > vs && (p[ve - 1] == ' ' || p[ve - 1] == '\t'))
            ve--;
        if (m->nheaders == PX_H1_MAX_HEADERS)
            return PX_H1_ERR_LARGE;
        m->headers[m->nheaders++] = (px_h1_header_t){p + ns, nl, p + vs, ve - vs};
        i = (size_t)r;
    }
}

/* "HTTP/1.x"; returns the index after it or an error. */
static long version(const char *p, size_t n, size_t i, int *minor)
{
    static const char v[] = "HTTP/1.";
    for (size_t k = 0; k < sizeof(v) - 1; k++, i++) {
        if (i >= n)
            return PX_H1_INCOMPLETE;
        if (p[i] != v[k])
            return PX_H1_ERR_BAD;
    }
    if (i >= n)
        return PX_H1_INCOMPLETE;
    if (p[i] != '0' && p[i] != '1')
        return PX_H1_ERR_BAD;
    *minor = p[i] - '0';
    return (long)i + 1;
}

static int finish(long r, size_t n)
{
    if (r == PX_H1_INCOMPLETE && n > PX_H1_MAX_HEAD)
        return PX_H1_ERR_LARGE;
    if (r > PX_H1_MAX_HEAD)
        return PX_H1_ERR_LARGE;
    return (int)r;
}

static long request_line(const char *p, size_t n, px_h1_msg_t *m)
{
    size_t i = 0;
    while (i < n && IS_TCHAR(p[i]))
        i++;
    if (i >= n)
        return PX_H1_INCOMPLETE;
    if (i == 0 || p[i] != ' ')
        return PX_H1_ERR_BAD;
    m->method = p;
    m->method_len = i++;
    size_t ts = i;
    while (i < n && (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f)
        i++;
    if (i >= n)
        return PX_H1_INCOMPLETE;
    if (i == ts || p[i] != ' ')
        return PX_H1_ERR_BAD;
    m->target = p + ts;
    m->target_len = i - ts;
    long r = version(p, n, i + 1, &m->minor_version);
    if (r < 0)
        return r;
    return crlf(p, n, (size_t)r);
}

int px_h1_parse_request(const char *p, size_t n, px_h1_msg_t *m)
{
    m->status = 0;
    m->reason = NULL;
    m->reason_len = 0;
    m->nheaders = 0;
    long r = request_line(p, n, m);
    if (r >= 0)
        r = parse_headers(p, n, (size_t)r, m);
    return finish(r, n);
}

int px_h1_parse_response(const char *p, size_t n, px_h1_msg_t *m)
{
    m->method = m->target = NULL;
    m->method_len = m->target_len = 0;
    m->nheaders = 0;
    long r = version(p, n, 0, &m->minor_version);
    if (r < 0)
        return finish(r, n);
    size_t i = (size_t)r;
    if (i + 4 > n)
        return finish(PX_H1_INCOMPLETE, n);
    if (p[i] != ' ' || p[i + 1] < '1' || p[i + 1] > '9' || p[i + 2] < '0' || p[i + 2] > '9' ||
        p[i + 3] < '0' || p[i + 3] > '9')
        return PX_H1_ERR_BAD;
    m->status = (p[i + 1] - '0') * 100 + (p[i + 2] - '0') * 10 + (p[i + 3] - '0');
    i += 4;
    if (i >= n)
        return finish(PX_H1_INCOMPLETE, n);
    size_t rs = i;
    if (p[i] == ' ') {
        rs = ++i;
        while (i < n && IS_FIELD(p[i]))
            i++;
    }
    m->reason = p + rs;
    m->reason_len = i - rs;
    r = crlf(p, n, i);
    if (r >= 0)
        r = parse_headers(p, n, (size_t)r, m);
    return finish(r, n);
}

/* --- framing --------------------------------------------------------------- */

/* Calls fn for each comma-separated element of a list value, trimmed; empty
 * elements are skipped (RFC 9110 §5.6.1). */
typedef void (*elem_cb)(const char *e, size_t n, void *arg);
static void each_elem(const char *v, size_t n, elem_cb fn, void *arg)
{
    size_t i = 0;
    while (i < n) {
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (s < e && (v[s] == ' ' || v[s] == '\t'))
            s++;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e > s)
            fn(v + s, e - s, arg);
        i++;
    }
}

typedef struct {
    bool close, keep_alive, upgrade;
} conn_tokens_t;

static void conn_elem(const char *e, size_t n, void *arg)
{
    conn_tokens_t *t = arg;
    if (px_h1_iequal(e, n, "close"))
        t->close = true;
    else if (px_h1_iequal(e, n, "keep-alive"))
        t->keep_alive = true;
    else if (px_h1_iequal(e, n, "upgrade"))
        t->upgrade = true;
}

typedef struct {
    unsigned chunked;   /* times "chunked" appears */
    unsigned other;     /* other codings */
    bool chunked_last;  /* the last coding seen is chunked */
} te_t;

static void te_elem(const char *e, size_t n, void *arg)
{
    te_t *t = arg;
    bool c = px_h1_iequal(e, n, "chunked");
    t->chunked += c;
    t->other += !c;
    t->chunked_last = c;
}

static int parse_length(const char *v, size_t n, uint64_t *out)
{
    /* 1*DIGIT only: no sign, no list, no whitespace inside. */
    uint64_t x = 0;
    if (n == 0 || n > 19)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *out = x;
    return 0;
}

static bool valid_authority(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!(IS_TCHAR(c) || c == ':' || c == '[' || c == ']') || c == '%' || c == '|' ||
            c == '`' || c == '^')
            return false;
    }
    return true;
}

typedef struct {
    conn_tokens_t conn;
    te_t te;
    unsigned te_headers, cl_headers, host_headers, upgrade_headers;
    bool cl_bad;
    uint64_t cl;
} scan_t;

static void scan(const px_h1_msg_t *m, scan_t *s, px_h1_framing_t *f)
{
    memset(s, 0, sizeof(*s));
    memset(f, 0, sizeof(*f));
    f->grpc_status = -1;
    for (size_t i = 0; i < m->nheaders; i++) {
        const px_h1_header_t *h = &m->headers[i];
        if (NAME_IS(h, "content-length")) {
            s->cl_headers++;
            if (parse_length(h->value, h->value_len, &s->cl) != 0)
                s->cl_bad = true;
        } else if (NAME_IS(h, "transfer-encoding")) {
            s->te_headers++;
            each_elem(h->value, h->value_len, te_elem, &s->te);
        } else if (NAME_IS(h, "connection")) {
            each_elem(h->value, h->value_len, conn_elem, &s->conn);
        } else if (NAME_IS(h, "host")) {
            s->host_headers++;
            f->authority = h->value;
            f->authority_len = h->value_len;
        } else if (NAME_IS(h, "upgrade")) {
            s->upgrade_headers++;
        } else if (NAME_IS(h, "expect")) {
            f->expect_continue = px_h1_iequal(h->value, h->value_len, "100-continue");
        } else if (NAME_IS(h, "grpc-status")) {
            uint64_t g;
            if (parse_length(h->value, h->value_len, &g) == 0 && g < 1000)
                f->grpc_status = (int)g;
        }
    }
    f->keep_alive = m->minor_version == 1 ? !s->conn.close : (s->conn.keep_alive && !s->conn.close);
}

int px_h1_request_framing(const px_h1_msg_t *m, px_h1_framing_t *f)
{
    scan_t s;
    scan(m, &s, f);
    /* RFC 9112 §6.1: CL with TE "ought to be handled as an error"; it is the
     * classic smuggling setup, so it is a 400 and nothing is forwarded. */
    if (s.te_headers && s.cl_headers)
        return 400;
    if (s.cl_headers > 1 || s.cl_bad)
        return 400;
    if (s.host_headers > 1 || (m->minor_version == 1 && s.host_headers == 0))
        return 400;
    if (f->authority && !valid_authority(f->authority, f->authority_len))
        return 400;
    if (px_h1_iequal(m->method, m->method_len, "CONNECT"))
        return 501;
    /* absolute-form: the target's authority must agree with Host. */
    if (m->target_len > 7 && strncasecmp(m->target, "http://", 7) == 0) {
        const char *a = m->target + 7;
        size_t an = 0;
        while (7 + an < m->target_len && a[an] != '/' && a[an] != '?')
            an++;
        if (an == 0 || !f->authority || f->authority_len != an ||
            strncasecmp(a, f->authority, an) != 0)
            return 400;
    } else if (m->target[0] != '/' && !(m->target_len == 1 && m->target[0] == '*')) {
        return 400;
    }
    if (s.te_headers) {
        if (s.te.chunked == 0 && s.te.other == 0)
            return 400;
        if (s.te.other)
            return s.te.chunked ? 400 : 501;
        if (s.te.chunked != 1 || m->minor_version == 0)
            return 400;
        f->body = PX_H1_BODY_CHUNKED;
    } else if (s.cl_headers) {
        f->body = s.cl ? PX_H1_BODY_LENGTH : PX_H1_BODY_NONE;
        f->length = s.cl;
    }
    f->upgrade = s.conn.upgrade && s.upgrade_headers == 1;
    return 0;
}

int px_h1_response_framing(const px_h1_msg_t *m, bool head_request, px_h1_framing_t *f)
{
    scan_t s;
    scan(m, &s, f);
    if ((s.te_headers && s.cl_headers) || s.cl_headers > 1 || s.cl_bad)
        return 502;
    f->upgrade = m->status == 101 && s.conn.upgrade && s.upgrade_headers == 1;
    if ((m->status >= 100 && m->status < 200) || m->status == 204 || m->status == 304 ||
        head_request)
        return 0;
    if (s.te_headers) {
        /* We re-frame chunked bodies; any other coding would be lost. */
        if (s.te.chunked != 1 || s.te.other)
            return 502;
        f->body = PX_H1_BODY_CHUNKED;
    } else if (s.cl_headers) {
        f->body = s.cl ? PX_H1_BODY_LENGTH : PX_H1_BODY_NONE;
        f->length = s.cl;
    } else {
        f->body = PX_H1_BODY_CLOSE;
        f->keep_alive = false;
    }
    return 0;
}

/* --- head rewriting ---------------------------------------------------------- */

typedef struct {
    const char *name;
    size_t len;
    bool found;
} listed_t;

static void listed_elem(const char *e, size_t n, void *arg)
{
    listed_t *l = arg;
    if (n == l->len && strncasecmp(e, l->name, n) == 0)
        l->found = true;
}

static void other_elem(const char *e, size_t n, void *arg)
{
    if (!px_h1_iequal(e, n, "close") && !px_h1_iequal(e, n, "keep-alive") &&
        !px_h1_iequal(e, n, "upgrade"))
        *(bool *)arg = true;
}

/* Whether some Connection header lists a name besides the three options
 * that are hop-by-hop anyway (the usual case is no: skip that check). */
static bool connection_lists_names(const px_h1_msg_t *m)
{
    bool other = false;
    for (size_t i = 0; i < m->nheaders && !other; i++)
        if (NAME_IS(&m->headers[i], "connection"))
            each_elem(m->headers[i].value, m->headers[i].value_len, other_elem, &other);
    return other;
}

static bool hop_by_hop(const px_h1_msg_t *m, const px_h1_header_t *h, bool listed)
{
    if (NAME_IS(h, "connection") || NAME_IS(h, "keep-alive") || NAME_IS(h, "proxy-connection") ||
        NAME_IS(h, "te") || NAME_IS(h, "transfer-encoding") || NAME_IS(h, "upgrade"))
        return true;
    /* RFC 9110 §7.6.1: names listed in Connection are hop-by-hop too, but
     * never the ones framing and routing depend on ("Connection: Host" is a
     * known trick to make a proxy drop them). */
    if (!listed || NAME_IS(h, "host") || NAME_IS(h, "content-length"))
        return false;
    listed_t l = {h->name, h->name_len, false};
    for (size_t i = 0; i < m->nheaders && !l.found; i++)
        if (NAME_IS(&m->headers[i], "connection"))
            each_elem(m->headers[i].value, m->headers[i].value_len, listed_elem, &l);
    return l.found;
}

#define APPEND(p, n)                                   \
    do {                                               \
        if (px_buf_append(out, (p), (n), max) != 0)    \
            return -1;                                 \
    } while (0)
#define APPENDS(s) APPEND((s), sizeof(s) - 1)

/* Unchecked copies into room reserved beforehand. */
#define PUT(p, n)                  \
    do {                           \
        memcpy(o, (p), (n));       \
        o += (n);                  \
    } while (0)
#define PUTS(s) PUT((s), sizeof(s) - 1)

int px_h1_write_head(px_buf_t *out, size_t max, const px_h1_msg_t *m, bool request,
                     bool chunked, bool close, bool upgrade)
{
    /* Size everything first, so the head is built with one reservation. */
    const px_h1_header_t *up = NULL;
    size_t need = request ? m->method_len + m->target_len + 12 : 15 + m->reason_len;
    for (size_t i = 0; i < m->nheaders; i++) {
        const px_h1_header_t *h = &m->headers[i];
        need += h->name_len + h->value_len + 4;
        if (NAME_IS(h, "upgrade"))
            up = h;
    }
    need += sizeof("Transfer-Encoding: chunked\r\n") + sizeof("Connection: upgrade\r\nUpgrade: ") +
            (up ? up->value_len : 0) + 4;
    if (px_buf_reserve(out, need, max) != 0)
        return -1;
    bool listed = connection_lists_names(m);
    char *o = px_buf_tail(out);
    if (request) {
        PUT(m->method, m->method_len);
        PUTS(" ");
        PUT(m->target, m->target_len);
        PUT(m->minor_version ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n", 11);
    } else {
        char st[16] = "HTTP/1.1 000 ";
        st[9] = (char)('0' + m->status / 100);
        st[10] = (char)('0' + m->status / 10 % 10);
        st[11] = (char)('0' + m->status % 10);
        PUT(st, 13);
        PUT(m->reason, m->reason_len);
        PUTS("\r\n");
    }
    for (size_t i = 0; i < m->nheaders; i++) {
        const px_h1_header_t *h = &m->headers[i];
        if (hop_by_hop(m, h, listed))
            continue;
        PUT(h->name, h->name_len);
        PUTS(": ");
        PUT(h->value, h->value_len);
        PUTS("\r\n");
    }
    if (chunked)
        PUTS("Transfer-Encoding: chunked\r\n");
    if (upgrade && up) {
        PUTS("Connection: upgrade\r\nUpgrade: ");
        PUT(up->value, up->value_len);
        PUTS("\r\n");
    } else if (close) {
        PUTS("Connection: close\r\n");
    }
    PUTS("\r\n");
    px_buf_commit(out, (size_t)(o - px_buf_tail(out)));
    return 0;
}

/* --- chunked decoding -------------------------------------------------------- */

enum {
    CH_SIZE = 0,   /* hex digits of the chunk size */
    CH_EXT,        /* chunk extensions up to CR */
    CH_SIZE_LF,    /* LF after the size line */
    CH_DATA,       /* chunk data */
    CH_DATA_CR,    /* CR after data */
    CH_DATA_LF,    /* LF after data */
    CH_TRAILER,    /* start of a trailer line (or the final CRLF) */
    CH_TRAILER_LINE, /* inside a trailer field line */
    CH_TRAILER_LF, /* LF ending a trailer line */
    CH_END_LF,     /* LF of the final empty line */
    CH_DONE,
};

/* 2^60: far more than any body, and no overflow when digits accumulate. */
#define CHUNK_SIZE_MAX ((uint64_t)1 << 60)

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long px_h1_chunked_decode(px_h1_chunked_t *d, const char *p, size_t n, const char **data,
                          size_t *data_len, bool *done)
{
    size_t i = 0;
    *data = NULL;
    *data_len = 0;
    *done = d->state == CH_DONE;
    while (i < n && d->state != CH_DONE) {
        char c = p[i];
        switch (d->state) {
        case CH_SIZE: {
            int v = hexval(c);
            if (v >= 0) {
                if (++d->digits > 16 || d->remaining > (CHUNK_SIZE_MAX >> 4))
                    return PX_H1_ERR_BAD;
                d->remaining = d->remaining * 16 + (uint64_t)v;
                d->line++;
                i++;
                break;
            }
            /* A size needs at least one digit, then ';' or CRLF: no
             * whitespace, sign or "0x" (parsers that skip those disagree
             * about where the body ends). */
            if (d->digits == 0 || (c != ';' && c != '\r'))
                return PX_H1_ERR_BAD;
            d->state = c == ';' ? CH_EXT : CH_SIZE_LF;
            d->line++;
            i++;
            break;
        }
        case CH_EXT:
            if (c == '\r')
                d->state = CH_SIZE_LF;
            else if (!IS_FIELD(c))
                return PX_H1_ERR_BAD;
            if (++d->line > PX_H1_MAX_CHUNK_LINE)
                return PX_H1_ERR_BAD;
            i++;
            break;
        case CH_SIZE_LF:
            if (c != '\n')
                return PX_H1_ERR_BAD;
            i++;
            d->line = 0;
            d->digits = 0;
            d->state = d->remaining ? CH_DATA : CH_TRAILER;
            if (d->state == CH_TRAILER && d->keep_trailers)
                return (long)i; /* the caller takes the section from here */
            break;
        case CH_DATA: {
            /* Return the data at once so it stays contiguous. */
            size_t take = n - i;
            if (take > d->remaining)
                take = (size_t)d->remaining;
            *data = p + i;
            *data_len = take;
            d->remaining -= take;
            i += take;
            if (d->remaining == 0)
                d->state = CH_DATA_CR;
            return (long)i;
        }
        case CH_DATA_CR:
            if (c != '\r')
                return PX_H1_ERR_BAD;
            d->state = CH_DATA_LF;
            i++;
            break;
        case CH_DATA_LF:
            if (c != '\n')
                return PX_H1_ERR_BAD;
            d->state = CH_SIZE;
            d->remaining = 0;
            i++;
            break;
        case CH_TRAILER:
            if (d->keep_trailers && d->line == 0)
                return (long)i; /* stopped before the section (see above) */
            if (c == '\r') {
                d->state = CH_END_LF;
            } else if (IS_TCHAR(c)) {
                d->state = CH_TRAILER_LINE;
            } else {
                return PX_H1_ERR_BAD;
            }
            if (++d->line > PX_H1_MAX_TRAILERS)
                return PX_H1_ERR_BAD;
            i++;
            break;
        case CH_TRAILER_LINE:
            if (c == '\r')
                d->state = CH_TRAILER_LF;
            else if (!IS_FIELD(c))
                return PX_H1_ERR_BAD;
            if (++d->line > PX_H1_MAX_TRAILERS)
                return PX_H1_ERR_BAD;
            i++;
            break;
        case CH_TRAILER_LF:
            if (c != '\n')
                return PX_H1_ERR_BAD;
            d->state = CH_TRAILER;
            i++;
            break;
        case CH_END_LF:
            if (c != '\n')
                return PX_H1_ERR_BAD;
            d->state = CH_DONE;
            i++;
            break;
        }
    }
    *done = d->state == CH_DONE;
    return (long)i;
}

bool px_h1_chunked_at_trailers(const px_h1_chunked_t *d)
{
    return d->keep_trailers && d->state == CH_TRAILER && d->line == 0;
}

void px_h1_chunked_finish(px_h1_chunked_t *d) { d->state = CH_DONE; }

int px_h1_parse_trailers(const char *p, size_t n, px_h1_msg_t *m)
{
    m->method = m->target = m->reason = NULL;
    m->method_len = m->target_len = m->reason_len = 0;
    m->status = 0;
    m->minor_version = 1;
    long r = parse_headers(p, n, 0, m);
    if (r == PX_H1_INCOMPLETE)
        return n > PX_H1_MAX_TRAILERS ? PX_H1_ERR_LARGE : PX_H1_INCOMPLETE;
    if (r > PX_H1_MAX_TRAILERS)
        return PX_H1_ERR_LARGE;
    return (int)r;
}

int px_h1_write_trailers(px_buf_t *out, size_t max, const px_h1_msg_t *m)
{
    /* RFC 9110 §6.5.1: fields that frame, route or describe the message
     * must not come late; a recipient may drop them, and we do. */
    static const char *const banned[] = {"content-length", "host", "trailer"};
    APPENDS("0\r\n");
    bool listed = m && connection_lists_names(m);
    for (size_t i = 0; m && i < m->nheaders; i++) {
        const px_h1_header_t *h = &m->headers[i];
        bool drop = hop_by_hop(m, h, listed);
        for (size_t k = 0; !drop && k < sizeof(banned) / sizeof(banned[0]); k++)
            drop = px_h1_iequal(h->name, h->name_len, banned[k]);
        if (drop)
            continue;
        APPEND(h->name, h->name_len);
        APPENDS(": ");
        APPEND(h->value, h->value_len);
        APPENDS("\r\n");
    }
    APPENDS("\r\n");
    return 0;
}
