/*
 * wh/manifest.h - `cmesh inject` / `cmesh uninject` over parsed manifests, and
 * JSON values written back as YAML (libyaml emitter).
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

/* Appends `v` as one YAML document (block style, strings quoted whenever a
 * plain scalar would read back as something else). 0 or -1. */
int wh_yaml_emit(const json_t *v, mesh_buf_t *out);

#endif
