#include <string.h>
#include <strings.h>
#include <apr_strings.h>

#include "mob_json.h"
#include "ucwa_input.h"

json_t *ucwa_input_json(apr_pool_t *p, const char *buf, apr_size_t len, const char **why)
{
    char *clean = apr_palloc(p, len + 1);
    apr_size_t i, o = 0, last_comma = (apr_size_t)-1;
    int in_string = 0, escaped = 0, depth = 0, after_value = 0;
    json_error_t err;
    json_t *j;

    for (i = 0; i < len; i++) {
        char c = buf[i];
        if (c == '\0') {
            *why = "NUL byte in the body";
            return NULL;
        }
        if (in_string) {
            clean[o++] = c;
            if (escaped) escaped = 0;
            else if (c == '\\') escaped = 1;
            else if (c == '"') {
                in_string = 0;
                after_value = 1;
            }
            continue;
        }
        switch (c) {
        case '"':
            in_string = 1;
            last_comma = (apr_size_t)-1;
            break;
        case '{':
        case '[':
            if (++depth > UCWA_INPUT_DEPTH_MAX) {
                *why = "nested too deeply";
                return NULL;
            }
            last_comma = (apr_size_t)-1;
            after_value = 0;
            break;
        case '}':
        case ']':
            depth--;
            if (last_comma != (apr_size_t)-1) {
                clean[last_comma] = ' ';   /* the tolerated trailing comma */
            }
            last_comma = (apr_size_t)-1;
            after_value = 1;
            break;
        case ',':
            /* trailing only after a value: not in "{,}", "[,]" or "[1,,]" */
            last_comma = after_value ? o : (apr_size_t)-1;
            after_value = 0;
            break;
        case ' ': case '\t': case '\r': case '\n':
            break;
        default:
            last_comma = (apr_size_t)-1;
            after_value = c != ':';
        }
        clean[o++] = c;
    }
    clean[o] = '\0';
    for (i = 0; i < o && (clean[i] == ' ' || clean[i] == '\t' || clean[i] == '\r'
                         || clean[i] == '\n'); i++) {
    }
    if (i == o) {
        return mob_json_own(p, json_object());
    }
    j = json_loadb(clean, o, 0, &err);
    if (!j) {
        *why = apr_psprintf(p, "malformed JSON: %s", err.text);
        return NULL;
    }
    mob_json_own(p, j);
    if (!json_is_object(j)) {
        *why = "the body is not a JSON object";
        return NULL;
    }
    return j;
}

/* jansson strings are valid UTF-8: count the bytes that start a character */
static apr_size_t utf8_chars(const char *s)
{
    apr_size_t n = 0;

    for (; *s; s++) {
        n += ((unsigned char)*s & 0xC0) != 0x80;
    }
    return n;
}

json_t *ucwa_input_get(const json_t *obj, const char *name)
{
    const char *key;
    json_t *v;

    if (!json_is_object(obj)) {
        return NULL;
    }
    json_object_foreach((json_t *)obj, key, v) {
        if (!strcasecmp(key, name)) {
            return v;
        }
    }
    return NULL;
}

const char *ucwa_input_string(const json_t *obj, const char *name, apr_size_t max, int *bad)
{
    json_t *v = ucwa_input_get(obj, name);

    if (!v || json_is_null(v)) {
        return NULL;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)
        || utf8_chars(json_string_value(v)) > max) {
        *bad = 1;
        return NULL;
    }
    return json_string_value(v);
}
