/*
 * mesh/k8s_watch.h - incremental parser for a Kubernetes watch response body.
 *
 * A watch body is a sequence of WatchEvent JSON objects
 * ({"type":"ADDED","object":{...}}), each normally followed by "\n". The
 * parser does no I/O: feed it byte chunks exactly as they arrive (split at any
 * byte, several events per chunk) and it calls back once per complete event.
 * Like client-go's framer it splits on JSON value boundaries (a small scanner
 * tracking strings and brace depth), so events without a newline between them
 * are also accepted. A raw newline can never sit inside a valid event (JSON
 * strings escape it, and the server writes compact JSON one event per line),
 * so a newline also ends the current value: a truncated or malformed event
 * costs only its own line. Feeding the same bytes in any split gives the same
 * events.
 *
 * Errors never stop the parser: a bad line (not JSON, not an object, missing
 * or unknown `type`, `object` not an object) is skipped up to the next value
 * boundary or newline, counted, and reported through feed's return value and
 * mesh_k8s_watch_error(). One event larger than the parser's limit
 * (MESH_K8S_WATCH_EVENT_MAX by default) is discarded as it streams, without
 * buffering it whole, and reported as MESH_K8S_WATCH_ETOOBIG.
 *
 * Not thread-safe (one parser per stream). Never logs.
 */
#ifndef MESH_K8S_WATCH_H
#define MESH_K8S_WATCH_H

#include <jansson.h>
#include <stddef.h>

#include "mesh/buf.h"

/* Largest single event accepted (bytes of its JSON text). */
#define MESH_K8S_WATCH_EVENT_MAX ((size_t)16 << 20)

typedef enum {
    MESH_K8S_EV_ADDED = 1,
    MESH_K8S_EV_MODIFIED,
    MESH_K8S_EV_DELETED,
    MESH_K8S_EV_BOOKMARK,
    MESH_K8S_EV_ERROR,
} mesh_k8s_ev_type_t;

enum {
    MESH_K8S_WATCH_OK = 0,
    MESH_K8S_WATCH_ENOMEM = -1,
    MESH_K8S_WATCH_EBADJSON = -2,  /* a value that is not valid JSON */
    MESH_K8S_WATCH_EBADEVENT = -3, /* JSON, but not a WatchEvent */
    MESH_K8S_WATCH_ETOOBIG = -4,   /* an event over the size limit */
    MESH_K8S_WATCH_ESTOPPED = -5,  /* the callback asked to stop */
};

typedef struct {
    mesh_k8s_ev_type_t type;
    json_t *object;        /* borrowed for the callback; json_incref to keep */
    const char *rv;        /* object.metadata.resourceVersion, or NULL */
} mesh_k8s_watch_event_t;

/* Called per event; return 0 to continue, non-zero to stop feeding (the rest
 * of the chunk stays buffered and feed returns MESH_K8S_WATCH_ESTOPPED). */
typedef int (*mesh_k8s_watch_event_cb)(const mesh_k8s_watch_event_t *ev, void *ud);

typedef struct {
    mesh_buf_t buf;     /* bytes of the current, incomplete value */
    size_t scan;        /* bytes of buf already scanned */
    int depth;          /* brace/bracket depth at `scan` */
    int in_string;      /* scanner is inside a JSON string */
    int escape;         /* previous byte was a backslash inside a string */
    int skipping;       /* discarding an oversize or garbage value */
    size_t skip_len;    /* bytes discarded so far for the current oversize value */
    size_t max_event;   /* size limit for one event */
    unsigned long events, errors; /* totals, for stats */
    int last_error;     /* code of the most recent error, 0 if none */
    char errmsg[160];   /* text of the most recent error */
} mesh_k8s_watch_parser_t;

/* max_event 0 means MESH_K8S_WATCH_EVENT_MAX. */
void mesh_k8s_watch_parser_init(mesh_k8s_watch_parser_t *p, size_t max_event);
void mesh_k8s_watch_parser_free(mesh_k8s_watch_parser_t *p);
/* Drops buffered bytes and scanner state (new stream); totals are kept. */
void mesh_k8s_watch_parser_reset(mesh_k8s_watch_parser_t *p);

/* Feeds a chunk. Returns 0 when every value completed in this chunk was a good
 * event, MESH_K8S_WATCH_ESTOPPED when the callback stopped it, or the code of
 * the first error met in this chunk (later good events were still delivered). */
int mesh_k8s_watch_feed(mesh_k8s_watch_parser_t *p, const char *data, size_t len,
                        mesh_k8s_watch_event_cb cb, void *ud);

/* Call at end of stream: non-zero (MESH_K8S_WATCH_EBADJSON) when a partial
 * value is left over, i.e. the stream was cut mid-event. */
int mesh_k8s_watch_finish(mesh_k8s_watch_parser_t *p);

const char *mesh_k8s_watch_error(const mesh_k8s_watch_parser_t *p);
const char *mesh_k8s_ev_type_name(mesh_k8s_ev_type_t t);

/* 1 when `status` is a Status saying the resourceVersion is too old: code 410
 * (reason Expired, Gone, or none). Works on the object of an ERROR event and
 * on the body of an HTTP 410. */
int mesh_k8s_status_is_expired(const json_t *status);

#endif
