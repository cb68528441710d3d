/* Request bodies of UCWA clients, in JSON. Real clients are sloppy (the documented
 * capture posts a trailing comma) and property names arrive in any case, so parsing is
 * lenient in exactly those two ways and strict in size and depth. */
#ifndef UCWA_INPUT_H
#define UCWA_INPUT_H

#include <apr_pools.h>
#include <jansson.h>

#define UCWA_INPUT_DEPTH_MAX 16

/* Parses a JSON object (trailing commas before } or ] tolerated); NULL and a reason if
 * the body is not an object, is nested deeper than UCWA_INPUT_DEPTH_MAX, or holds a NUL.
 * An empty body is an empty object. The value is owned by p. */
json_t *ucwa_input_json(apr_pool_t *p, const char *buf, apr_size_t len, const char **why);

/* The member of obj whose name equals name ignoring case, or NULL. */
json_t *ucwa_input_get(const json_t *obj, const char *name);

/* A string member (case-insensitive name) or NULL; *bad is set when present but not a
 * string, or longer than max characters (UTF-8 code points: a value fits 4 * max + 1
 * bytes). */
const char *ucwa_input_string(const json_t *obj, const char *name, apr_size_t max, int *bad);

#endif
