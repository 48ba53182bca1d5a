/*
 * wh/manifest.h - `cmesh inject` / `cmesh uninject` over parsed manifests, and
 * JSON values written back as YAML.
 *
 * Kinds with a pod template: Deployment, StatefulSet, DaemonSet, ReplicaSet,
 * Job, ReplicationController (/spec/template), CronJob
 * (/spec/jobTemplate/spec/template), Pod (the object itself); Lists recurse
 * into items. Everything else is passed through unchanged.
 */
#ifndef WH_MANIFEST_H
#define WH_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>

#include "mesh/buf.h"
#include "wh/values.h"

typedef struct wh_manifest_report {
    int injected, skipped, unchanged; /* workloads counted by outcome */
    char last_skip[256];              /* why the last skip happened */
} wh_manifest_report_t;

/* Injects in place: without `manual`, adds linkerd.io/inject: enabled to the
 * pod template; with it, applies the full sidecar patch. 0, or -1 (no
 * memory or an object that is not a valid workload; message in err). */
int wh_manifest_inject(const wh_values_t *v, json_t *doc, bool manual, const char *created_by,
                       wh_manifest_report_t *rep, char *err, size_t errlen);

/* Removes what inject added (containers, volumes, labels, annotations, the
 * inject annotation) and maps/arrays left empty by that. 0 or -1. */
int wh_manifest_uninject(json_t *doc, wh_manifest_report_t *rep);

/* Appends `v` as one YAML document: `---`, then block style with two-space
 * indentation, no line folding, UTF-8 as it is. Strings are double-quoted
 * whenever a plain scalar would read back as something else (null, bool,
 * number, `0x`/`0o`, a leading `.`), strings with a line break are literal
 * blocks where YAML allows, and every other choice (plain, single or double
 * quotes, `? ` for keys over 128 bytes or with breaks, `{}`/`[]` when empty)
 * is the one libyaml 0.2.5's emitter makes for the same events. A string
 * ends at its first NUL. Returns 0, or -1 (no memory, invalid UTF-8, nesting
 * deeper than 512) with `out` as it was. Writes into `out` directly. */
int wh_yaml_emit(const json_t *v, mesh_buf_t *out);

/* The same through libyaml's emitter (events, then its writer): slower, kept
 * as the reference wh_yaml_emit is tested against. 0 or -1; on -1 `out` may
 * hold part of the document. */
int wh_yaml_emit_libyaml(const json_t *v, mesh_buf_t *out);

#endif
