/*
 * mesh/signal.h - SIGTERM/SIGINT as a graceful-shutdown request.
 *
 * mesh_signal_install() installs handlers for SIGTERM and SIGINT and ignores
 * SIGPIPE (a peer closing a socket must come back as EPIPE, not kill the
 * daemon). The handler only sets a flag and writes one byte to a self-pipe;
 * the pipe is never drained, so mesh_signal_fd() stays readable from the
 * first request on and every poller (event loops, poll() in worker threads,
 * the gRPC drain loop) sees it without timed polling. Further signals are
 * absorbed; they change nothing.
 *
 * Process-global state; install once from main() before starting threads.
 * mesh_signal_requested(), mesh_signal_fd() and mesh_signal_trigger() are
 * safe from any thread, and mesh_signal_trigger() from a signal handler.
 */
#ifndef MESH_SIGNAL_H
#define MESH_SIGNAL_H

#include <stdbool.h>

/* Installs the handlers and creates the pipe (idempotent). Returns 0, or -1
 * with errno set (pipe or sigaction failed). */
int mesh_signal_install(void);

/* The read end of the self-pipe: readable once shutdown was requested.
 * Do not read from it or close it. -1 before mesh_signal_install(). */
int mesh_signal_fd(void);

/* True once SIGTERM/SIGINT arrived or mesh_signal_trigger() was called. */
bool mesh_signal_requested(void);

/* The signal that requested shutdown (SIGTERM, SIGINT), 0 when none or when
 * requested by mesh_signal_trigger(). */
int mesh_signal_number(void);

/* Requests shutdown from inside the program (e.g. an admin /shutdown
 * endpoint); same effect as a signal. Async-signal-safe. */
void mesh_signal_trigger(void);

/* Blocks until shutdown is requested or `timeout_ms` passes (< 0: forever).
 * Returns 1 when requested, 0 on timeout, -1 when not installed. */
int mesh_signal_wait(int timeout_ms);

/* Tests only: clears the flag and drains the pipe. */
void mesh_signal_reset(void);

#endif
