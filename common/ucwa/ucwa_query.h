/* The query of the UCWA event request, GET {A}/events?ack=N[&timeout=&low=&medium=
 * &priority=], parsed the way the event channel applies it. */
#ifndef UCWA_QUERY_H
#define UCWA_QUERY_H

#include <apr_pools.h>

#define UCWA_QUERY_WINDOW_MIN     5         /* low and medium (s) are clamped to these */
#define UCWA_QUERY_WINDOW_MAX     1800
#define UCWA_QUERY_LOW_DEFAULT    15
#define UCWA_QUERY_MEDIUM_DEFAULT 5
#define UCWA_QUERY_PRIORITY_MAX   1000000

typedef struct {
    apr_uint32_t ack;              /* positive */
    apr_uint32_t timeout;          /* seconds, within [tmin, tmax] */
    apr_uint32_t low, medium;      /* aggregation windows (s), within [5, 1800] */
    apr_uint32_t priority;         /* 0 .. UCWA_QUERY_PRIORITY_MAX */
} ucwa_event_params;

/* Parses args (the raw query string, NULL for none; form-decoded leniently: a repeated
 * name keeps its first value, names match in any case). ack must be a positive 32-bit
 * decimal number; timeout, low, medium and priority are optional decimal numbers
 * (timeout, low and medium at most 2^32-1, priority at most UCWA_QUERY_PRIORITY_MAX).
 *
 * The values are sticky: on entry out->timeout, out->low and out->medium hold the ones
 * the application's previous event request left (0: none, then tdefault,
 * UCWA_QUERY_LOW_DEFAULT and UCWA_QUERY_MEDIUM_DEFAULT apply), and a parameter the query
 * leaves out keeps them. priority is 0 unless given. timeout is then clamped to
 * [tmin, tmax], low and medium to [UCWA_QUERY_WINDOW_MIN, UCWA_QUERY_WINDOW_MAX].
 *
 * Returns NULL and fills *out, or a reason for a 400 (a fixed string; *out unchanged). */
const char *ucwa_query_events(apr_pool_t *p, const char *args, apr_uint32_t tmin,
                              apr_uint32_t tmax, apr_uint32_t tdefault, ucwa_event_params *out);

/* The limit of a collection's query (conversationLogs?limit=N), parsed like the event
 * query above: *out is dflt when limit is absent, else the number (1 to 2^32-1) clamped
 * to max. NULL, or a reason for a 400 (a fixed string; *out unchanged). */
const char *ucwa_query_limit(apr_pool_t *p, const char *args, apr_uint32_t dflt,
                             apr_uint32_t max, apr_uint32_t *out);

#endif
