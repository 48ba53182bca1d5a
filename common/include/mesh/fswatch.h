/*
 * mesh/fswatch.h - reload files when a mounted Secret or ConfigMap changes.
 *
 * The kubelet updates such a volume atomically: it writes a new hidden
 * directory ("..2026_01_01_00_00_00.123"), points a new "..data" symlink at
 * it, renames that symlink over the old "..data", and the visible names
 * ("tls.crt -> ..data/tls.crt") follow. Watching the files themselves misses
 * this, so the watcher puts an inotify watch on the DIRECTORY (creates,
 * moves, deletes, writes, attribute changes) and, because events can still
 * be missed (overflowed queue, the directory mounted after start, a file
 * edited in a subdirectory), also re-checks on a fixed interval.
 *
 * A change is decided by a fingerprint of the watched files' CONTENT (size
 * and a 64-bit hash of each resolved target, or its absence), never by
 * events or mtimes alone: the callback runs once per real change, and never
 * for a rewrite with identical bytes. Bursts of events are coalesced: the
 * first event arms a settle timer and the files are compared when it fires.
 *
 * The callback runs on the watcher's own thread, one call at a time. It must
 * not call mesh_fswatch_stop on its own watcher. The initial state is taken
 * at start without a callback.
 */
#ifndef MESH_FSWATCH_H
#define MESH_FSWATCH_H

#define MESH_FSWATCH_SETTLE_MS 100     /* default coalescing delay */
#define MESH_FSWATCH_INTERVAL_MS 10000 /* default periodic re-check */
#define MESH_FSWATCH_FILE_MAX (4 << 20) /* bytes hashed per file; the size counts beyond */
#define MESH_FSWATCH_FILES_MAX 64      /* files fingerprinted in directory mode */

typedef struct mesh_fswatch mesh_fswatch_t;

/* Called on the watcher thread after the watched content changed. */
typedef void (*mesh_fswatch_cb)(void *ud);

typedef struct mesh_fswatch_config {
    const char *dir;           /* the mount directory to watch (copied) */
    const char *const *files;  /* NULL-terminated names inside dir (copied); NULL =
                                * every entry not starting with '.', sorted, up to
                                * MESH_FSWATCH_FILES_MAX */
    int settle_ms;             /* <= 0: MESH_FSWATCH_SETTLE_MS */
    int interval_ms;           /* <= 0: MESH_FSWATCH_INTERVAL_MS */
    mesh_fswatch_cb on_change;
    void *ud;
} mesh_fswatch_config_t;

/* Takes the initial fingerprint and starts the thread. The directory need
 * not exist yet (its watch is added when it appears). NULL when dir or
 * on_change is NULL, out of memory, or when a thread, pipe or inotify
 * instance cannot be created. */
mesh_fswatch_t *mesh_fswatch_start(const mesh_fswatch_config_t *cfg);

/* Stops the thread (waits for a running callback), frees everything. NULL ok. */
void mesh_fswatch_stop(mesh_fswatch_t *w);

/* Tests and diagnostics: the fingerprint the watcher would compute now. */
unsigned long long mesh_fswatch_fingerprint(const mesh_fswatch_t *w);

#endif
