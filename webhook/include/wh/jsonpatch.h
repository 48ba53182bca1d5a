/*
 * wh/jsonpatch.h - applying a JSON Patch (RFC 6902) to a jansson tree.
 *
 * Used by `cmesh inject --manual` (the injector's patch applied to the
 * workload) and by tests. Supports `add`, `remove`, `replace` and `test`;
 * paths are JSON Pointers (RFC 6901) with `~0`/`~1` unescaped. Array indices
 * are decimal without leading zeros; `-` appends (add only).
 *
 * The document is modified in place; on error the operations already applied
 * stay applied (callers that need atomicity apply to a copy). Values added
 * are deep-copied from the patch.
 */
#ifndef WH_JSONPATCH_H
#define WH_JSONPATCH_H

#include <jansson.h>
#include <stddef.h>

/* Applies every operation of `patch` (an array) to *doc. A `""` path replaces
 * the whole document, hence the double pointer. Returns 0, or -1 with the
 * failing operation's index and reason in err. */
int wh_jsonpatch_apply(json_t **doc, const json_t *patch, char *err, size_t errlen);

/* The same, for a patch the caller is done with: its reference is released,
 * and values that only the patch holds move into the document instead of
 * being copied (for `cmesh inject --manual`, where the copies were a quarter
 * of the time). A value the patch shares with anything else is copied. */
int wh_jsonpatch_apply_consume(json_t **doc, json_t *patch, char *err, size_t errlen);

#endif
