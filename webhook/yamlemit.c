/* JSON values as YAML documents through libyaml's emitter: the reference
 * that webhook/yamlout.c (wh_yaml_emit) must match byte for byte, kept for
 * test/webhook/yamlout_test.c. */
#include "wh/manifest.h"

#include "internal.h"

#include <stdio.h>
#include <string.h>

#include <yaml.h>

static int on_write(void *data, unsigned char *buf, size_t size)
{
    return mesh_buf_append(data, buf, size) == 0;
}

/* True when a plain scalar `s` would not read back as this string. */
static bool needs_quotes(const char *s)
{
    /* Most keys and values start with a letter that begins no special word
     * and that strtod cannot take (it skips blanks, then reads a sign, a
     * digit, '.', "inf" or "nan"): answer those without 21 strcmps. */
    if (strchr(" \t\n\v\f\r+-.0123456789~iInNtTfFyYoO", s[0]) == NULL)
        return false;
    static const char *const special[] = {"", "~", "null", "Null", "NULL", "true", "True",
                                          "TRUE", "false", "False", "FALSE", "yes", "no",
                                          "on", "off", "y", "n", "Yes", "No", "On", "Off",
                                          "YES", "NO", "ON", "OFF", "Y", "N"};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        if (strcmp(s, special[i]) == 0)
            return true;
    if (wh__yaml11_number(s))
        return true;
    char *end;
    (void)strtod(s, &end);
    if (*end == '\0' || (s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) || s[0] == '.')
        return true;
    return false;
}

static int scalar(yaml_emitter_t *e, const char *s, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    return yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                        style) &&
           yaml_emitter_emit(e, &ev);
}

static int node(yaml_emitter_t *e, const json_t *v, int depth)
{
    yaml_event_t ev;
    char buf[64];
    if (depth > 512)
        return 0;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_ANY_MAPPING_STYLE) ||
            !yaml_emitter_emit(e, &ev))
            return 0;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            if (!scalar(e, k, needs_quotes(k) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE) ||
                !node(e, x, depth + 1))
                return 0;
        }
        return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
    }
    case JSON_ARRAY: {
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_ANY_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(e, &ev))
            return 0;
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) if (!node(e, x, depth + 1)) return 0;
        return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
    }
    case JSON_STRING: {
        const char *s = json_string_value(v);
        yaml_scalar_style_t st = needs_quotes(s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                 : strchr(s, '\n') ? YAML_LITERAL_SCALAR_STYLE
                                                   : YAML_ANY_SCALAR_STYLE;
        return scalar(e, s, st);
    }
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return scalar(e, buf, YAML_PLAIN_SCALAR_STYLE);
    case JSON_REAL:
        snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
        if (!strpbrk(buf, ".eEn"))
            strncat(buf, ".0", sizeof buf - strlen(buf) - 1);
        return scalar(e, buf, YAML_PLAIN_SCALAR_STYLE);
    case JSON_TRUE:
        return scalar(e, "true", YAML_PLAIN_SCALAR_STYLE);
    case JSON_FALSE:
        return scalar(e, "false", YAML_PLAIN_SCALAR_STYLE);
    case JSON_NULL:
        return scalar(e, "null", YAML_PLAIN_SCALAR_STYLE);
    }
    return 0;
}

int wh_yaml_emit_libyaml(const json_t *v, mesh_buf_t *out)
{
    yaml_emitter_t e;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&e))
        return -1;
    yaml_emitter_set_output(&e, on_write, out);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, -1);
    int ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
             yaml_emitter_emit(&e, &ev) &&
             yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 0) &&
             yaml_emitter_emit(&e, &ev) && node(&e, v, 0) &&
             yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&e, &ev) &&
             yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&e, &ev) &&
             yaml_emitter_flush(&e);
    yaml_emitter_delete(&e);
    return ok ? 0 : -1;
}
