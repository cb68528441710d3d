/* application/x-www-form-urlencoded parsing, for token request bodies and query strings. */
#ifndef MOB_FORM_H
#define MOB_FORM_H

#include <apr_pools.h>
#include <apr_tables.h>

#define MOB_FORM_MAX_FIELDS 32
#define MOB_FORM_MAX_VALUE  1024

typedef enum {
    MOB_FORM_STRICT,   /* token bodies: a duplicate name is an error */
    MOB_FORM_LENIENT   /* query strings: a duplicate name keeps the first value */
} mob_form_mode;

/* Decodes data[0..len) into *out (names matched case-insensitively by apr_table).
 * Every decoded name and value must be valid UTF-8 without control characters and at
 * most MOB_FORM_MAX_VALUE bytes; at most MOB_FORM_MAX_FIELDS fields. On failure
 * returns APR_EINVAL and a short reason (for the log, never for the client). */
apr_status_t mob_form_parse(apr_pool_t *p, const char *data, apr_size_t len,
                            mob_form_mode mode, apr_table_t **out, const char **why);

/* Percent-encodes s for use inside a query value (RFC 3986 unreserved kept). */
const char *mob_form_escape(apr_pool_t *p, const char *s);

#endif
