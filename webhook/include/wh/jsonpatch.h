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

#endif
