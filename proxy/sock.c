/* Buffered non-blocking sockets; see px/sock.h. */
#include "px/sock.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include "mesh/mem.h"
#include "px/err.h"

static ssize_t tcp_recv(px_sock_t *s, void *p, size_t n) { return recv(s->fd, p, n, 0); }
static ssize_t tcp_send(px_sock_t *s, const void *p, size_t n)
{
    return send(s->fd, p, n, MSG_NOSIGNAL);
}
static int tcp_shutdown(px_sock_t *s) { return shutdown(s->fd, SHUT_WR); }

const px_sock_type_t px_sock_tcp = {"tcp", tcp_recv, tcp_send, tcp_shutdown};

const char *px_errno_name(int e)
{
    if (e == 0)
        return "";
    const char *n = strerrorname_np(e);
    return n ? n : "EUNKNOWN";
}

static void fail(px_sock_t *s, int e)
{
    s->flags |= PX_SOCK_FLAG_ERROR;
    if (s->last_errno == 0)
        s->last_errno = e;
}

/* Read interest is dropped lazily (`strict` false): a handler that stops
 * and restarts reading around every exchange would otherwise cost two
 * epoll_ctl calls per request. The registration stays until an event
 * actually arrives while reading is off; on_io then drops it for real. */
static void set_interest(px_sock_t *s, bool strict)
{
    unsigned want = 0;
    if (!(s->flags & PX_SOCK_FLAG_EOF) && s->in.len < s->in_max &&
        ((s->flags & PX_SOCK_FLAG_READING) || (!strict && (s->io.want & PX_IO_READ))))
        want |= PX_IO_READ;
    if (s->flags & PX_SOCK_FLAG_CONNECTING)
        want |= PX_IO_WRITE;
    /* Write interest is added only by flush, after the kernel said EAGAIN. */
    if ((s->io.want & PX_IO_WRITE) && s->out.len > 0)
        want |= PX_IO_WRITE;
    if (s->flags & PX_SOCK_FLAG_PARKED) {
        if (want == 0 || (s->flags & PX_SOCK_FLAG_ERROR))
            return;
        s->flags &= ~PX_SOCK_FLAG_PARKED;
        if (px_io_start(s->loop, &s->io, s->fd, want, s->io.cb) != 0)
            fail(s, EIO);
        return;
    }
    px_io_set(s->loop, &s->io, want);
}

static void update_interest(px_sock_t *s) { set_interest(s, false); }


static void do_read(px_sock_t *s)
{
    if (px_buf_reserve(&s->in, PX_SOCK_READ_CHUNK, s->in_max) != 0) {
        size_t room = s->in_max > s->in.len ? s->in_max - s->in.len : 0;
        if (room == 0 || px_buf_reserve(&s->in, room, s->in_max) != 0) {
            update_interest(s); /* full: wait until the handler consumes */
            return;
        }
    }
    size_t room = px_buf_tail_room(&s->in);
    if (room > PX_SOCK_READ_CHUNK)
        room = PX_SOCK_READ_CHUNK;
    if (s->in.len + room > s->in_max)
        room = s->in_max - s->in.len;
    ssize_t n = s->type->recv(s, px_buf_tail(&s->in), room);
    if (n > 0) {
        px_buf_commit(&s->in, (size_t)n);
        s->bytes_in += (uint64_t)n;
        update_interest(s);
        s->on_read(s, 0);
    } else if (n == 0) {
        s->flags |= PX_SOCK_FLAG_EOF;
        update_interest(s);
        s->on_read(s, PX_ERR_EOF);
    } else if (errno != EAGAIN && errno != EINTR) {
        int e = errno;
        fail(s, e);
        px_io_set(s->loop, &s->io, 0);
        s->on_read(s, px_err_from_errno(e));
    }
}

static void queue_link(px_sock_t *s)
{
    if (!px_list_linked(&s->_pending) && s->queue)
        px_list_insert(&s->queue->pending, &s->_pending);
}

/* Sends what the kernel takes. Returns 1 when `out` drained, 0 when some
 * remains (EPOLLOUT armed), negative on error. */
static int do_flush(px_sock_t *s)
{
    while (s->out.len > 0) {
        ssize_t n = s->type->send(s, px_buf_data(&s->out), s->out.len);
        if (n > 0) {
            px_buf_consume(&s->out, (size_t)n);
            s->bytes_out += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (s->flags & PX_SOCK_FLAG_PARKED) {
                s->flags &= ~PX_SOCK_FLAG_PARKED;
                if (px_io_start(s->loop, &s->io, s->fd, PX_IO_WRITE, s->io.cb) == 0)
                    return 0;
            }
            unsigned want = s->io.want | PX_IO_WRITE;
            px_io_set(s->loop, &s->io, want);
            return 0;
        }
        int e = n < 0 ? errno : EPIPE;
        fail(s, e);
        px_buf_consume(&s->out, s->out.len);
        px_io_set(s->loop, &s->io, 0);
        return px_err_from_errno(e);
    }
    if (s->io.want & PX_IO_WRITE)
        px_io_set(s->loop, &s->io, s->io.want & ~PX_IO_WRITE);
    /* Idle keep-alive connections should not pin a send buffer each (a
     * handler that frees it itself, after a pause, sets KEEP_BUFS). */
    if (!(s->flags & PX_SOCK_FLAG_KEEP_BUFS))
        px_buf_free(&s->out);
    if ((s->flags & (PX_SOCK_FLAG_SHUT_PENDING | PX_SOCK_FLAG_SHUT)) == PX_SOCK_FLAG_SHUT_PENDING) {
        s->flags |= PX_SOCK_FLAG_SHUT;
        s->type->shutdown_write(s);
    }
    return 1;
}

static void flush_one(px_sock_t *s)
{
    int r = do_flush(s);
    if (r == 0)
        return;
    px_list_unlink(&s->_pending);
    if (s->on_written)
        s->on_written(s, r > 0 ? 0 : r);
}

static void on_io(px_io_t *io, unsigned ev)
{
    px_sock_t *s = MESH_CONTAINER_OF(io, px_sock_t, io);
    if (s->flags & PX_SOCK_FLAG_CONNECTING) {
        if (!(ev & (PX_IO_WRITE | PX_IO_ERR)))
            return;
        int err = 0;
        socklen_t l = sizeof(err);
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0)
            err = errno;
        s->flags &= ~PX_SOCK_FLAG_CONNECTING;
        if (err)
            fail(s, err);
        px_io_set(s->loop, &s->io, 0);
        update_interest(s);
        s->on_connect(s, err ? px_err_from_errno(err) : 0);
        return;
    }
    if ((ev & PX_IO_WRITE) && px_list_linked(&s->_pending)) {
        flush_one(s);
        if (s->flags & PX_SOCK_FLAG_CLOSED)
            return;
    }
    if ((ev & (PX_IO_READ | PX_IO_ERR)) && (s->flags & PX_SOCK_FLAG_READING) &&
        !(s->flags & PX_SOCK_FLAG_EOF))
        do_read(s);
    else if ((ev & PX_IO_READ) && !(ev & PX_IO_ERR)) {
        set_interest(s, true); /* the lazily kept registration fired: drop it now */
    } else if (ev & PX_IO_ERR) {
        /* EPOLLERR/EPOLLHUP are reported whatever the interest set, so a
         * socket nobody reads would spin. A pending error goes to the
         * handler now; a plain hang-up parks the socket until the handler
         * shows interest again (it then reads the rest, or fails to write). */
        int err = 0;
        socklen_t l = sizeof(err);
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0)
            err = errno;
        if (err) {
            fail(s, err);
            px_io_stop(s->loop, &s->io);
            s->flags |= PX_SOCK_FLAG_PARKED;
            s->on_read(s, px_err_from_errno(err));
        } else {
            px_io_stop(s->loop, &s->io);
            s->flags |= PX_SOCK_FLAG_PARKED;
        }
    }
}

static void flush_hook(px_loop_t *loop, void *data)
{
    (void)loop;
    px_sock_queue_flush(data);
}

int px_sock_queue_init(px_sock_queue_t *q, px_loop_t *loop)
{
    px_list_init(&q->pending);
    q->loop = loop;
    return px_loop_add_before_sleep(loop, flush_hook, q);
}

void px_sock_queue_flush(px_sock_queue_t *q)
{
    /* on_written may queue more output (on this or another socket): walk a
     * detached list so each socket is tried once per pass. */
    px_list_t batch;
    px_list_init(&batch);
    if (px_list_empty(&q->pending))
        return;
    batch.next = q->pending.next;
    batch.prev = q->pending.prev;
    batch.next->prev = &batch;
    batch.prev->next = &batch;
    px_list_init(&q->pending);
    while (!px_list_empty(&batch)) {
        px_sock_t *s = MESH_CONTAINER_OF(batch.next, px_sock_t, _pending);
        px_list_unlink(&s->_pending);
        px_list_insert(&q->pending, &s->_pending);
        if (s->io.want & PX_IO_WRITE)
            continue; /* waiting for EPOLLOUT already */
        flush_one(s);
    }
}

static void sock_init(px_sock_t *s, px_sock_queue_t *q, int fd, void *data)
{
    memset(s, 0, sizeof(*s));
    s->type = &px_sock_tcp;
    s->loop = q->loop;
    s->queue = q;
    s->fd = fd;
    s->in_max = PX_SOCK_IN_MAX;
    s->data = data;
    px_list_init(&s->_pending);
}

int px_sock_open(px_sock_t *s, px_sock_queue_t *q, int fd, void *data)
{
    sock_init(s, q, fd, data);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int r = px_io_start(s->loop, &s->io, fd, 0, on_io);
    if (r != 0)
        s->fd = -1;
    return r;
}

int px_sock_connect(px_sock_t *s, px_sock_queue_t *q, const struct sockaddr *addr,
                    socklen_t alen, void *data)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        sock_init(s, q, -1, data);
        return px_err_from_errno(errno);
    }
    if (connect(fd, addr, alen) != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        sock_init(s, q, -1, data);
        s->last_errno = e;
        return px_err_from_errno(e);
    }
    int r = px_sock_open(s, q, fd, data);
    if (r != 0) {
        close(fd);
        return r;
    }
    /* Even an immediate loopback connect reports through EPOLLOUT, so the
     * callback never runs inside this call. */
    s->flags |= PX_SOCK_FLAG_CONNECTING;
    px_io_set(s->loop, &s->io, PX_IO_WRITE);
    return 0;
}

void px_sock_read_start(px_sock_t *s)
{
    if (s->flags & PX_SOCK_FLAG_CLOSED)
        return;
    s->flags |= PX_SOCK_FLAG_READING;
    update_interest(s);
}

void px_sock_read_stop(px_sock_t *s)
{
    if (s->flags & PX_SOCK_FLAG_CLOSED)
        return;
    s->flags &= ~PX_SOCK_FLAG_READING;
    update_interest(s);
}

int px_sock_write(px_sock_t *s, const void *p, size_t n)
{
    if (s->flags & (PX_SOCK_FLAG_CLOSED | PX_SOCK_FLAG_SHUT))
        return PX_ERR_IO;
    if (px_buf_append(&s->out, p, n, PX_SOCK_OUT_MAX) != 0)
        return s->out.len + n > PX_SOCK_OUT_MAX ? PX_ERR_LIMIT : PX_ERR_NOMEM;
    queue_link(s);
    return 0;
}

void px_sock_shrink(px_sock_t *s)
{
    if (s->in.len == 0)
        px_buf_free(&s->in);
    if (s->out.len == 0)
        px_buf_free(&s->out);
}

void px_sock_shutdown(px_sock_t *s)
{
    if (s->flags & (PX_SOCK_FLAG_CLOSED | PX_SOCK_FLAG_SHUT_PENDING))
        return;
    s->flags |= PX_SOCK_FLAG_SHUT_PENDING;
    queue_link(s);
}

void px_sock_close(px_sock_t *s)
{
    if (s->flags & PX_SOCK_FLAG_CLOSED)
        return;
    s->flags |= PX_SOCK_FLAG_CLOSED;
    px_list_unlink(&s->_pending);
    if (s->fd >= 0) {
        px_io_stop(s->loop, &s->io);
        close(s->fd);
        s->fd = -1;
    }
    px_buf_free(&s->in);
    px_buf_free(&s->out);
}
