/* Directory watcher for mounted Secrets; see mesh/fswatch.h. */
#include "mesh/fswatch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mesh/log.h"
#include "mesh/mem.h"

/* Everything the kubelet's swap and an in-place edit can produce. */
#define WATCH_MASK                                                                                   \
    (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | \
     IN_DELETE_SELF | IN_MOVE_SELF)
#define READ_CHUNK 65536

struct mesh_fswatch {
    char *dir;                 /* owned */
    char **files;              /* owned, NULL-terminated; NULL = directory mode */
    int settle_ms, interval_ms;
    mesh_fswatch_cb on_change;
    void *ud;
    int ino_fd;                /* inotify instance */
    int wd;                    /* watch on dir, -1 while the dir is missing */
    int stop_pipe[2];          /* written by mesh_fswatch_stop */
    unsigned long long last;   /* fingerprint at the last callback (or start) */
    pthread_t thread;
};

#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

static unsigned long long fnv(unsigned long long h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * FNV_PRIME;
    return h;
}

/* Hashes one name and what it resolves to: content and size, or a marker. */
static unsigned long long hash_file(unsigned long long h, const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    h = fnv(h, name, strlen(name) + 1);
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
        return fnv(h, "toolong", 7);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return fnv(h, "missing", 7);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fnv(h, "notfile", 7);
    }
    char *buf = mesh_malloc(READ_CHUNK);
    size_t total = 0;
    ssize_t n;
    while (buf != NULL && total < MESH_FSWATCH_FILE_MAX && (n = read(fd, buf, READ_CHUNK)) > 0) {
        h = fnv(h, buf, (size_t)n);
        total += (size_t)n;
    }
    mesh_free(buf);
    close(fd);
    uint64_t size = (uint64_t)st.st_size;
    return fnv(h, &size, sizeof(size));
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static unsigned long long fingerprint(const mesh_fswatch_t *w)
{
    unsigned long long h = FNV_OFFSET;
    if (w->files != NULL) {
        for (char **f = w->files; *f != NULL; f++)
            h = hash_file(h, w->dir, *f);
        return h;
    }
    DIR *d = opendir(w->dir);
    if (d == NULL)
        return fnv(h, "nodir", 5);
    char *names[MESH_FSWATCH_FILES_MAX];
    size_t n = 0;
    for (struct dirent *e; n < MESH_FSWATCH_FILES_MAX && (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.' && (names[n] = mesh_strdup(e->d_name)) != NULL)
            n++;
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_names);
    for (size_t i = 0; i < n; i++) {
        h = hash_file(h, w->dir, names[i]);
        mesh_free(names[i]);
    }
    return h;
}

unsigned long long mesh_fswatch_fingerprint(const mesh_fswatch_t *w)
{
    return fingerprint(w);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void try_watch(mesh_fswatch_t *w)
{
    if (w->wd < 0)
        w->wd = inotify_add_watch(w->ino_fd, w->dir, WATCH_MASK);
}

/* Reads all queued events; returns true when any concerned our directory. */
static bool drain_events(mesh_fswatch_t *w)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool any = false;
    ssize_t n;
    while ((n = read(w->ino_fd, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            if (ev->mask & IN_IGNORED)
                w->wd = -1; /* the directory went away; re-added on a later check */
            any = true;
            p += sizeof(*ev) + ev->len;
        }
    }
    return any;
}

static void check(mesh_fswatch_t *w)
{
    unsigned long long fp = fingerprint(w);
    if (fp == w->last)
        return;
    w->last = fp;
    mesh_log_debug("fswatch", "content changed under %s", w->dir);
    w->on_change(w->ud);
}

static void *run(void *arg)
{
    mesh_fswatch_t *w = arg;
    int64_t next_check = now_ms() + w->interval_ms, settle_at = -1;

    for (;;) {
        int64_t now = now_ms(), due = next_check;
        if (settle_at >= 0 && settle_at < due)
            due = settle_at;
        struct pollfd p[2] = {{.fd = w->stop_pipe[0], .events = POLLIN}, {.fd = w->ino_fd, .events = POLLIN}};
        int rc = poll(p, 2, due > now ? (int)(due - now) : 0);
        if (rc < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            break;
        if ((p[1].revents & POLLIN) && drain_events(w) && settle_at < 0)
            settle_at = now_ms() + w->settle_ms; /* not pushed back by later events: bounded delay */
        now = now_ms();
        if ((settle_at >= 0 && now >= settle_at) || now >= next_check) {
            try_watch(w);
            check(w);
            settle_at = -1;
            next_check = now + w->interval_ms;
        }
    }
    return NULL;
}

static void release(mesh_fswatch_t *w)
{
    for (char **f = w->files; f != NULL && *f != NULL; f++)
        mesh_free(*f);
    mesh_free(w->files);
    mesh_free(w->dir);
    if (w->ino_fd >= 0)
        close(w->ino_fd);
    if (w->stop_pipe[0] >= 0)
        close(w->stop_pipe[0]);
    if (w->stop_pipe[1] >= 0)
        close(w->stop_pipe[1]);
    mesh_free(w);
}

mesh_fswatch_t *mesh_fswatch_start(const mesh_fswatch_config_t *cfg)
{
    if (cfg->dir == NULL || cfg->on_change == NULL)
        return NULL;
    mesh_fswatch_t *w = mesh_calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->ino_fd = w->wd = w->stop_pipe[0] = w->stop_pipe[1] = -1;
    w->settle_ms = cfg->settle_ms > 0 ? cfg->settle_ms : MESH_FSWATCH_SETTLE_MS;
    w->interval_ms = cfg->interval_ms > 0 ? cfg->interval_ms : MESH_FSWATCH_INTERVAL_MS;
    w->on_change = cfg->on_change;
    w->ud = cfg->ud;
    if ((w->dir = mesh_strdup(cfg->dir)) == NULL)
        goto fail;
    if (cfg->files != NULL) {
        size_t n = 0;
        while (cfg->files[n] != NULL)
            n++;
        if ((w->files = mesh_calloc(n + 1, sizeof(char *))) == NULL)
            goto fail;
        for (size_t i = 0; i < n; i++)
            if ((w->files[i] = mesh_strdup(cfg->files[i])) == NULL)
                goto fail;
    }
    if ((w->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0 || pipe2(w->stop_pipe, O_CLOEXEC) != 0)
        goto fail;
    try_watch(w);
    w->last = fingerprint(w);
    if (pthread_create(&w->thread, NULL, run, w) != 0)
        goto fail;
    return w;
fail:
    release(w);
    return NULL;
}

void mesh_fswatch_stop(mesh_fswatch_t *w)
{
    if (w == NULL)
        return;
    ssize_t rc = write(w->stop_pipe[1], "x", 1);
    (void)rc;
    pthread_join(w->thread, NULL);
    release(w);
}
