/* A pool of Front Ends (UcwaPoolFrontEnd): the pool's thread, which carries this Front
 * End's messages to the others through the pool's PostgreSQL database and applies
 * theirs (common/ucwa/ucwa_pool), and the pool's reads that requests make. */
#ifndef UCWA_POOL_DB_H
#define UCWA_POOL_DB_H

#include <httpd.h>
#include <apr_tables.h>

#include "ucwa_http.h"
#include "ucwa_pool.h"
#include "ucwa_pool_link.h"

struct pg_conn;   /* libpq's PGconn */

/* post_config: the store joins the pool (or leaves it), and the thread starts. */
int ucwa_pool_post_config(apr_pool_t *pconf, server_rec *s);

/* This server's name in its pool, or NULL when it is in none. */
const char *ucwa_pool_name(const server_rec *s);

/* The other live Front Ends where sip has applications that made themselves available
 * (*fes: const char *). 0, or -1 when the pool's database cannot be asked (logged). */
int ucwa_pool_user_fes(request_rec *r, const char *sip, apr_array_header_t **fes);

/* The pool's newest presence of sip on another live Front End: 1 found, 0 none, -1 the
 * database cannot be asked (logged). */
int ucwa_pool_read_presence(request_rec *r, const char *sip, ucwa_pool_presence_in *out);

/* Writes what another pool relayed (ucwa_pool_relay's receiving end) into this pool's
 * database: to Front End `to`, or, when to is "", where it belongs (an invitation:
 * wherever its user is, or a gone answer back; presence and fe-gone: every live Front
 * End; the rest: every Front End the invitation with its key rang). 0, or -1 with *why. */
int ucwa_pool_deliver(request_rec *r, const char *to, const ucwa_pool_link_in *in,
                      const char **why);

/* Another pool (pool) asks for sip's presence: it watches him for 30 minutes (his changes
 * are relayed there), and *found is his newest presence message here, or NULL. 0, or -1
 * (logged). */
int ucwa_pool_watch(request_rec *r, const char *sip, const char *pool, const char **found);

/* A call's session description (len bytes, ctype as it came) written to the pool's table
 * for the message that will name it on another Front End: *key is its key (in r's pool).
 * 0, or -1 when the pool's database cannot take it (logged). */
int ucwa_pool_sdp_put(request_rec *r, const char *ctype, const char *body, apr_size_t len,
                      const char **key);
/* The same under a key chosen by the caller (what another pool relayed: a fresh key of
 * this pool, common/ucwa/ucwa_pool_link). */
int ucwa_pool_sdp_put_key(request_rec *r, const char *key, const char *ctype, const char *body,
                          apr_size_t len);

/* The request's mod_dbd connection to the pool's PostgreSQL database, used natively
 * (libpq's PGconn), or NULL (logged). */
struct pg_conn *ucwa_pool_request_conn(request_rec *r);

/* 503 ServiceUnavailable with Retry-After: the pool's database cannot be reached. */
int ucwa_pool_unavailable(ucwa_req *q);
/* 503 with Retry-After 1 (logged): the outbox to the pool is full (UCWA_CONV_BUSY), the
 * database is fine. */
int ucwa_pool_busy(ucwa_req *q);

#endif
