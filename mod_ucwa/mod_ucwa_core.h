/* What mod_ucwa offers other modules (mod_mcx): a call to the UCWA API inside the
 * current request, answered exactly as the same HTTP request would be, with the same
 * session store, events and wake-ups. */
#ifndef MOD_UCWA_CORE_H
#define MOD_UCWA_CORE_H

#include <httpd.h>
#include <apr_optional.h>

typedef struct {
    int status;                 /* the HTTP status */
    const char *content_type;   /* NULL when there is no body */
    const char *body;           /* NUL-terminated, in r->pool */
    apr_size_t len;
    apr_table_t *headers;       /* the response headers (Location, ETag, Retry-After...) */
} ucwa_core_response;

/* Request notes only an internal call can set (a client cannot send notes). */
#define UCWA_NOTE_IDLE_LIMIT "ucwa-idle-limit"   /* POST applications: seconds without an
                                                  * event request before it expires */
#define UCWA_NOTE_KEEPALIVE  "ucwa-keepalive"    /* GET {A}: the application was seen now;
                                                  * the answer then has this header: */
#define UCWA_NOTE_SESSION_SUBSCRIPTION "ucwa-session-subscription"   /* POST people/
                                                  * presenceSubscriptions: it lasts as long
                                                  * as the application (10 years at most) */
#define UCWA_SESSION_SUBSCRIPTION_SECONDS (10 * 365 * 86400)
#define UCWA_HEADER_IDLE_LIMIT "X-Ucwa-Idle-Limit"   /* its lifetime without activity, s */

/* Runs method path (a path under /ucwa of this virtual host, query included) as a
 * subrequest of r, with the given request headers (Authorization among them), body and
 * notes. OK with *out filled (whatever the status), HTTP_NOT_FOUND when the path is not
 * UCWA's on this host (Ucwa Off), or HTTP_INTERNAL_SERVER_ERROR when it could not run. A
 * pending GET of the event channel blocks like the real one. */
APR_DECLARE_OPTIONAL_FN(int, ucwa_core_call,
                        (request_rec *r, const char *method, const char *path,
                         apr_table_t *headers, const char *body, apr_size_t len,
                         apr_table_t *notes, ucwa_core_response *out));

/* The request body, at most max bytes, NUL-terminated, in r->pool: APR_SUCCESS,
 * APR_ENOSPC (too large: refused from Content-Length before reading, else as soon as it
 * passes max) or APR_EGENERAL (it could not be read). */
APR_DECLARE_OPTIONAL_FN(apr_status_t, ucwa_core_read_body,
                        (request_rec *r, apr_size_t max, char **out, apr_size_t *len));

#endif
