/* Error codes; see px/err.h. */
#include "px/err.h"

#include <errno.h>

const char *px_strerror(int err)
{
    switch (err) {
    case PX_OK: return "success";
    case PX_ERR_NOMEM: return "out of memory";
    case PX_ERR_IO: return "i/o error";
    case PX_ERR_EOF: return "connection closed by peer";
    case PX_ERR_RESET: return "connection reset";
    case PX_ERR_REFUSED: return "connection refused";
    case PX_ERR_TIMEOUT: return "timed out";
    case PX_ERR_PROTO: return "protocol error";
    case PX_ERR_LIMIT: return "limit reached";
    case PX_ERR_NO_TARGET: return "no target address";
    case PX_ERR_UNREACHABLE: return "unreachable";
    case PX_ERR_INVALID: return "invalid argument";
    }
    return "unknown error";
}

int px_err_from_errno(int e)
{
    switch (e) {
    case 0: return PX_OK;
    case ENOMEM: return PX_ERR_NOMEM;
    case ECONNRESET: case EPIPE: return PX_ERR_RESET;
    case ECONNREFUSED: return PX_ERR_REFUSED;
    case ETIMEDOUT: return PX_ERR_TIMEOUT;
    case EHOSTUNREACH: case ENETUNREACH: return PX_ERR_UNREACHABLE;
    case EINVAL: return PX_ERR_INVALID;
    }
    return PX_ERR_IO;
}
