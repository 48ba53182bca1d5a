/*
 * px/err.h - the proxy's error codes. Functions return 0 or a negative PX_ERR_*;
 * errno values are mapped, never returned raw (px_err_from_errno).
 */
#ifndef PX_ERR_H
#define PX_ERR_H

typedef enum {
    PX_OK = 0,
    PX_ERR_NOMEM = -1,       /* an allocation failed */
    PX_ERR_IO = -2,          /* an I/O error not listed below */
    PX_ERR_EOF = -3,         /* the peer closed the connection */
    PX_ERR_RESET = -4,       /* ECONNRESET / EPIPE */
    PX_ERR_REFUSED = -5,     /* ECONNREFUSED */
    PX_ERR_TIMEOUT = -6,     /* a timer fired first */
    PX_ERR_PROTO = -7,       /* the peer broke the protocol */
    PX_ERR_LIMIT = -8,       /* a named limit was reached */
    PX_ERR_NO_TARGET = -9,   /* no destination for the connection */
    PX_ERR_UNREACHABLE = -10, /* EHOSTUNREACH / ENETUNREACH */
    PX_ERR_INVALID = -11,    /* bad argument or configuration */
} px_err_t;

/* A static message for a px_err_t. */
const char *px_strerror(int err);
/* Maps an errno to the nearest px_err_t. */
int px_err_from_errno(int e);

#endif
