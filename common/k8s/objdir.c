/* The --objects-dir source: informers fed from a directory of manifests. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "mesh/log.h"
#include "mesh/mem.h"
#include "mesh/yamljson.h"

/* Quiet time after an inotify event before re-reading, so an editor's
 * truncate-then-write lands as one change. */
#define OBJDIR_SETTLE_MS 30
#define OBJDIR_MAX_FILES 10000

int k8s__kind_matches(const char *kind, const char *resource, const char *want_kind)
{
    if (kind == NULL)
        return 0;
    if (want_kind != NULL)
        return strcmp(kind, want_kind) == 0;
    /* Plural of the lower-cased kind: Pod->pods, Ingress->ingresses,
     * NetworkPolicy->networkpolicies. */
    char low[128];
    size_t n = strlen(kind);
    if (n == 0 || n + 4 >= sizeof(low))
        return 0;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)kind[i]);
    low[n] = '\0';
    char plural[136];
    if (low[n - 1] == 's' || low[n - 1] == 'x' || (n > 1 && low[n - 2] == 'c' && low[n - 1] == 'h'))
        snprintf(plural, sizeof(plural), "%ses", low);
    else if (low[n - 1] == 'y' && n > 1 && !strchr("aeiou", low[n - 2]))
        snprintf(plural, sizeof(plural), "%.*sies", (int)(n - 1), low);
    else
        snprintf(plural, sizeof(plural), "%ss", low);
    return strcmp(plural, resource) == 0;
}

/* FNV-1a 64 of the object's canonical text without its resourceVersion. */
static int set_synthetic_rv(json_t *obj)
{
    json_t *md = json_object_get(obj, "metadata");
    json_object_del(md, "resourceVersion");
    char *txt = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    if (txt == NULL)
        return -1;
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)txt; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    free(txt);
    char rv[24];
    /* RVs are positive decimals without leading zeros; keep the form. */
    snprintf(rv, sizeof(rv), "%llu", (unsigned long long)(h % 9000000000000000000ull) + 1);
    return json_object_set_new(md, "resourceVersion", json_string(rv));
}

static int wanted(mesh_k8s_informer_t *inf, const json_t *o)
{
    const char *av = json_string_value(json_object_get(o, "apiVersion"));
    const char *kind = json_string_value(json_object_get(o, "kind"));
    json_t *md = json_object_get(o, "metadata");
    if (av == NULL || kind == NULL || !json_is_object(md))
        return 0;
    char want[256];
    if (inf->group != NULL)
        snprintf(want, sizeof(want), "%s/%s", inf->group, inf->version);
    else
        snprintf(want, sizeof(want), "%s", inf->version);
    if (strcmp(av, want) != 0 || !k8s__kind_matches(kind, inf->resource, inf->kind))
        return 0;
    if (inf->ns != NULL) {
        const char *ns = json_string_value(json_object_get(md, "namespace"));
        if (ns == NULL || strcmp(ns, inf->ns) != 0)
            return 0;
    }
    if (inf->selector != NULL &&
        mesh_k8s_label_selector_match(inf->selector, json_object_get(md, "labels")) != 1)
        return 0;
    return 1;
}

static void take(mesh_k8s_informer_t *inf, json_t *byname, const char *file, json_t *o)
{
    if (!json_is_object(o))
        return;
    const char *kind = json_string_value(json_object_get(o, "kind"));
    json_t *list = json_object_get(o, "items");
    if (kind != NULL && strlen(kind) >= 4 && strcmp(kind + strlen(kind) - 4, "List") == 0 &&
        json_is_array(list)) {
        size_t i;
        json_t *it;
        json_array_foreach(list, i, it) take(inf, byname, file, it);
        return;
    }
    if (!wanted(inf, o))
        return;
    char *key = mesh_k8s_object_key(o);
    if (key == NULL) {
        mesh_log_warn("k8s", "objects-dir %s: a %s without metadata.name is ignored", file, kind);
        return;
    }
    json_t *copy = json_deep_copy(o);
    if (copy != NULL && set_synthetic_rv(copy) == 0) {
        if (json_object_get(byname, key) != NULL)
            mesh_log_warn("k8s", "objects-dir %s: %s %s defined again; the later one wins", file,
                          kind, key);
        json_object_set(byname, key, copy);
    }
    json_decref(copy);
    mesh_free(key);
}

static int has_ext(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    return n > e && strcmp(name + n - e, ext) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int k8s__objdir_load(mesh_k8s_informer_t *inf, const char *dir, json_t **items)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        mesh_log_warn("k8s", "objects-dir %s: %s", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < OBJDIR_MAX_FILES) {
        if (de->d_name[0] == '.' ||
            !(has_ext(de->d_name, ".yaml") || has_ext(de->d_name, ".yml") || has_ext(de->d_name, ".json")))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **v = mesh_realloc(names, cap * sizeof(*v));
            if (v == NULL)
                break;
            names = v;
        }
        if ((names[n] = mesh_strdup(de->d_name)) != NULL)
            n++;
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof(*names), cmp_str); /* later files win, deterministically */
    json_t *byname = json_object();
    for (size_t i = 0; i < n && byname != NULL; i++) {
        char path[4096], err[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        json_t *docs = NULL;
        if (has_ext(names[i], ".json")) {
            json_error_t je;
            json_t *one = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
            if (one == NULL)
                snprintf(err, sizeof(err), "%.700s: line %d: %.200s", path, je.line, je.text);
            else if ((docs = json_array()) != NULL)
                json_array_append_new(docs, one);
            else
                json_decref(one);
        } else if (mesh_yaml_load_file(path, &docs, err, sizeof(err)) != 0) {
            docs = NULL;
        }
        if (docs == NULL) {
            mesh_log_warn("k8s", "objects-dir: %s (file skipped)", err);
            continue;
        }
        size_t j;
        json_t *doc;
        json_array_foreach(docs, j, doc) take(inf, byname, path, doc);
        json_decref(docs);
    }
    for (size_t i = 0; i < n; i++)
        mesh_free(names[i]);
    mesh_free(names);
    if (byname == NULL)
        return -1;
    json_t *arr = json_array();
    const char *k;
    json_t *o;
    json_object_foreach(byname, k, o) json_array_append(arr, o);
    json_decref(byname);
    if (arr == NULL)
        return -1;
    *items = arr;
    return 0;
}

static void drain(int fd)
{
    char buf[4096];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
}

void *k8s__objdir_thread(void *arg)
{
    mesh_k8s_informer_t *inf = arg;
    const char *dir = inf->src->dir;
    int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ifd >= 0 && inotify_add_watch(ifd, dir,
                                      IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO |
                                          IN_MOVED_FROM | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF) < 0) {
        mesh_log_warn("k8s", "objects-dir %s: inotify: %s; re-reading every %llu ms only", dir,
                      strerror(errno), (unsigned long long)inf->src->recheck_ms);
        close(ifd);
        ifd = -1;
    }
    while (!atomic_load(&inf->stop)) {
        json_t *items;
        if (k8s__objdir_load(inf, dir, &items) == 0) {
            k8s__deliver_list(inf, items);
            json_decref(items);
        }
        struct pollfd p[2] = {{inf->wake_fd, POLLIN, 0}, {ifd, POLLIN, 0}};
        int r = poll(p, ifd >= 0 ? 2 : 1, (int)inf->src->recheck_ms);
        if (atomic_load(&inf->stop) || (r > 0 && (p[0].revents & POLLIN)))
            break;
        if (r > 0 && ifd >= 0 && (p[1].revents & POLLIN)) {
            /* Let a burst of writes settle, then read once. */
            do {
                drain(ifd);
                r = poll(p, 2, OBJDIR_SETTLE_MS);
            } while (r > 0 && !(p[0].revents & POLLIN) && (p[1].revents & POLLIN));
            if (r > 0 && (p[0].revents & POLLIN))
                break;
        }
    }
    if (ifd >= 0)
        close(ifd);
    return NULL;
}
