/*
 * mesh/embed.h - files compiled into every binary (the Makefile's EMBED list),
 * such as the chart's values.yaml that holds the injector's defaults.
 */
#ifndef MESH_EMBED_H
#define MESH_EMBED_H

#include <stddef.h>

struct mesh_embedded_file {
    const char *path;          /* path in the source tree */
    const unsigned char *data; /* contents, followed by a NUL byte */
    size_t len;                /* length without that NUL */
};

/* Terminated by an entry whose path is NULL. */
extern const struct mesh_embedded_file mesh_embedded[];

/* The embedded file with that source path, or NULL. */
const struct mesh_embedded_file *mesh_embed_find(const char *path);

#endif
