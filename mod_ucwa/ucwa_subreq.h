/* A UCWA request run inside another request (a batch part, an MCX operation): its
 * headers and body are given, its response is kept instead of sent. */
#ifndef UCWA_SUBREQ_H
#define UCWA_SUBREQ_H

#include <httpd.h>

#include "mod_ucwa_core.h"

/* Runs rr (made by ap_sub_req_method_uri of r, its handler mod_ucwa's) with headers as
 * its request headers (copied; Content-Length is set from len when body is given) and
 * body, then destroys it. Fills *out (copied into r->pool). Returns the status, or 0
 * when no valid response could be kept (*out is then empty). */
int ucwa_subreq_exec(request_rec *r, request_rec *rr, apr_table_t *headers,
                     const char *body, apr_size_t len, ucwa_core_response *out);

/* The optional function ucwa_core_call (mod_ucwa_core.h). */
int ucwa_subreq_call(request_rec *r, const char *method, const char *path,
                     apr_table_t *headers, const char *body, apr_size_t len,
                     apr_table_t *notes, ucwa_core_response *out);

#endif
