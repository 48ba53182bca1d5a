/*
 * mesh/yamljson.h - YAML documents to jansson values (libyaml).
 *
 * Used for kubeconfig files, --objects-dir manifests and `cmesh inject` input.
 * Scalars get the YAML 1.2 core-schema types a Kubernetes user expects:
 *   - plain `null`, `~`, `Null`, `NULL` or an empty plain scalar -> JSON null
 *   - plain `true`/`false` (also `True`, `TRUE`, `False`, `FALSE`) -> JSON bool
 *   - plain decimal, `0x` hex or `0o` octal integers that fit int64 -> JSON integer
 *   - plain decimal floats (`1.5`, `-2e3`) -> JSON real; `.inf`/`.nan` stay strings
 *     because JSON cannot carry them
 *   - everything else, and every quoted or block (`|`, `>`) scalar -> JSON string
 *   - explicit tags `!!str`, `!!int`, `!!float`, `!!bool`, `!!null` are honoured
 * Mapping keys become strings (a plain `80:` key is the string "80"); a key
 * that is a mapping or a sequence is an error. Anchors and aliases are
 * supported (the alias shares the anchored value); the merge key `<<` merges a
 * mapping (or a sequence of mappings) without overriding explicit keys.
 *
 * Limits (named so errors can quote them): MESH_YAML_MAX_DEPTH nesting levels,
 * MESH_YAML_MAX_NODES nodes per document counting every alias expansion (so
 * an "alias bomb" is refused instead of exploding when serialised).
 *
 * Parsing never logs; errors are written to `err` (if errlen > 0) with the
 * line and column libyaml reports, and the functions return -1.
 */
#ifndef MESH_YAMLJSON_H
#define MESH_YAMLJSON_H

#include <jansson.h>
#include <stddef.h>

#define MESH_YAML_MAX_DEPTH 128
#define MESH_YAML_MAX_NODES 1000000

/* Parses every document of a YAML stream into a new JSON array (one element
 * per document, in order). Empty documents (nothing but comments, or a bare
 * `---`) are skipped. Returns 0 and sets *out (caller json_decref's it), or
 * -1 with a message in err. */
int mesh_yaml_load_all(const char *data, size_t len, json_t **out, char *err, size_t errlen);

/* Parses a stream that must hold exactly one non-empty document. Returns 0
 * and *out, or -1 (also when there are zero or several documents). */
int mesh_yaml_load_one(const char *data, size_t len, json_t **out, char *err, size_t errlen);

/* Reads a whole file (at most MESH_YAML_MAX_FILE bytes) and runs
 * mesh_yaml_load_all on it. */
#define MESH_YAML_MAX_FILE ((size_t)64 << 20)
int mesh_yaml_load_file(const char *path, json_t **out, char *err, size_t errlen);

#endif
