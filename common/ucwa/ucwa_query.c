#include <string.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "mob_form.h"
#include "ucwa_query.h"

/* A query parameter as an unsigned number: 1 and *out when valid, 0 when absent,
 * -1 when malformed. */
static int uint_param(apr_table_t *query, const char *name, apr_uint32_t max, apr_uint32_t *out)
{
    const char *v = apr_table_get(query, name);
    char *end;
    apr_int64_t n;

    if (!v) {
        return 0;
    }
    n = apr_strtoi64(v, &end, 10);
    if (!*v || *end || n < 0 || (apr_uint64_t)n > max) {
        return -1;
    }
    *out = (apr_uint32_t)n;
    return 1;
}

static apr_uint32_t clamp(apr_uint32_t v, apr_uint32_t lo, apr_uint32_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

const char *ucwa_query_events(apr_pool_t *p, const char *args, apr_uint32_t tmin,
                              apr_uint32_t tmax, apr_uint32_t tdefault, ucwa_event_params *out)
{
    apr_table_t *query;
    const char *why;
    ucwa_event_params pp;
    apr_uint32_t v = 0;

    if (mob_form_parse(p, args ? args : "", args ? strlen(args) : 0, MOB_FORM_LENIENT,
                       &query, &why) != APR_SUCCESS) {
        return "malformed query";
    }
    if (uint_param(query, "ack", 0xFFFFFFFFu, &pp.ack) != 1 || pp.ack == 0) {
        return "ack must be a positive number";
    }
    /* values are sticky: what the client sent last applies until it sends another */
    pp.timeout = out->timeout ? out->timeout : tdefault;
    pp.low = out->low ? out->low : UCWA_QUERY_LOW_DEFAULT;
    pp.medium = out->medium ? out->medium : UCWA_QUERY_MEDIUM_DEFAULT;
    pp.priority = 0;
    if (uint_param(query, "timeout", 0xFFFFFFFFu, &v) < 0
        || uint_param(query, "low", 0xFFFFFFFFu, &pp.low) < 0
        || uint_param(query, "medium", 0xFFFFFFFFu, &pp.medium) < 0
        || uint_param(query, "priority", UCWA_QUERY_PRIORITY_MAX, &pp.priority) < 0) {
        return "timeout, low, medium and priority must be numbers";
    }
    if (apr_table_get(query, "timeout")) {
        pp.timeout = v;
    }
    pp.timeout = clamp(pp.timeout, tmin, tmax);
    pp.low = clamp(pp.low, UCWA_QUERY_WINDOW_MIN, UCWA_QUERY_WINDOW_MAX);
    pp.medium = clamp(pp.medium, UCWA_QUERY_WINDOW_MIN, UCWA_QUERY_WINDOW_MAX);
    *out = pp;
    return NULL;
}

const char *ucwa_query_limit(apr_pool_t *p, const char *args, apr_uint32_t dflt,
                             apr_uint32_t max, apr_uint32_t *out)
{
    apr_table_t *query;
    const char *why;
    apr_uint32_t v = dflt;
    int rv;

    if (mob_form_parse(p, args ? args : "", args ? strlen(args) : 0, MOB_FORM_LENIENT,
                       &query, &why) != APR_SUCCESS) {
        return "malformed query";
    }
    rv = uint_param(query, "limit", 0xFFFFFFFFu, &v);
    if (rv < 0 || (rv == 1 && v == 0)) {
        return "limit must be a positive number";
    }
    *out = v > max ? max : v;
    return NULL;
}
