/* A scripted one-connection-at-a-time HTTP server on 127.0.0.1 for informer
 * unit tests: each request gets the next queued response; with the queue
 * empty it holds the request open (an idle watch) until a response is queued
 * (then ends it cleanly) or the server stops. */
#ifndef FAKEAPI_H
#define FAKEAPI_H

#define FAKE_CUT (-1) /* status: 200 whose body is cut short (connection dropped) */

typedef struct fakeapi fakeapi_t;

fakeapi_t *fakeapi_start(void);
int fakeapi_port(fakeapi_t *f);
/* From now on, watch requests never take a scripted response: each is held
 * idle briefly, then ended cleanly. For tests whose informers list at once. */
void fakeapi_hold_watches(fakeapi_t *f);
/* Queues a response; body is copied. content_type NULL = application/json. */
void fakeapi_push(fakeapi_t *f, int status, const char *content_type, const char *body);
/* Number of requests received so far. */
int fakeapi_nrequests(fakeapi_t *f);
/* Waits until at least n requests arrived; 1 ok, 0 on timeout. */
int fakeapi_wait_requests(fakeapi_t *f, int n, int timeout_ms);
/* Request target of request i ("/api/v1/pods?..."), valid until stop. */
const char *fakeapi_request(fakeapi_t *f, int i);
void fakeapi_stop(fakeapi_t *f);

#endif
