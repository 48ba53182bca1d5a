/*
 * Loading the hand-written golden encodings of test/proto/golden/ (format in
 * golden/README.md). Shared by the Check tests of this directory.
 */
#ifndef TEST_PROTO_GOLDEN_H
#define TEST_PROTO_GOLDEN_H

#include <stddef.h>
#include <stdint.h>

/* Largest golden file accepted, in bytes of text. */
#define GOLDEN_TEXT_MAX (64 * 1024)

/*
 * Decodes hex text: digit pairs, whitespace between pairs, '#' comments to the
 * end of the line. Returns a mesh_malloc'ed buffer (free with mesh_free) and
 * its length in *len, or NULL with a reason in *err (odd digit count, a
 * character that is not hex, no memory).
 */
uint8_t *golden_parse(const char *text, size_t *len, const char **err);

/*
 * Reads and decodes test/proto/golden/NAME, relative to $CMESH_ROOT or, when
 * that is unset, the current directory. NULL with *err on failure.
 */
uint8_t *golden_load(const char *name, size_t *len, const char **err);

#endif
