/* The people database (contact lists, push registrations, the directory's statements)
 * through mod_dbd: the request's connection, and the schema (common/ucwa/ucwa_schema)
 * brought up to date before any request. */
#ifndef UCWA_PEOPLE_DB_H
#define UCWA_PEOPLE_DB_H

#include <httpd.h>
#include <apr_dbd.h>
#include <mod_dbd.h>


#include "ucwa_http.h"
#include "ucwa_sql.h"


/* The request's database connection (mod_dbd) as a ucwa_db; with schema set, one whose
 * tables (ucwa_schema) are known to be current. 1, or 0 with why (for the log). */
int ucwa_people_db(request_rec *r, apr_pool_t *p, int schema, ucwa_db *db, const char **why);

/* For a resource of the request's application kept in this database: the application
 * (404/410 as for every resource of it), then ucwa_people_db with the schema. 1 with
 * *base (the application's path, in the request's pool), or 0 with the answer sent in *rv:
 * a database that cannot be used is 503 ServiceUnavailable with Retry-After 60 and
 * message, logged (UCWA00678) with what. */
int ucwa_people_db_app(ucwa_req *q, ucwa_db *db, const char **base, const char *what,
                       const char *message, int *rv);

/* The same outside a request (the sweeper, the pool's thread, or a request that records
 * for someone else): a connection of its own (mod_dbd's ap_dbd_open), whose tables are
 * known to be current; NULL with why. Give it back with ucwa_people_db_close. */
ap_dbd_t *ucwa_people_db_open(server_rec *s, apr_pool_t *p, ucwa_db *db, const char **why);
void ucwa_people_db_close(server_rec *s, ap_dbd_t *dbd);

/* In post_config (the parent, before any child exists): create or upgrade the schema
 * (versioned migrations) of each database a server with Ucwa On uses, over a connection
 * of its own (for SQLite, only a file that exists: never create one as root). Always OK:
 * a failure is logged, and the children try again. */
int ucwa_people_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

/* In child_init: check the schema of each database a server with Ucwa On uses, and
 * migrate it if the parent did not (waiting half a second first for SQLite, so that the
 * sibling children are past mod_dbd's child_init); then, for SQLite, give this process's
 * connections a short busy handler and make mod_dbd's pooled connections read the schema
 * and prepare their statements again (a schema change ends SQLite's legacy prepared
 * statements).
 */
void ucwa_people_child_init(apr_pool_t *pchild, server_rec *s);

/* In child_init, before mod_dbd's: give every SQLite connection this process opens the
 * short busy handler, the connections mod_dbd opens and prepares in its child_init
 * included (the children of a starting httpd all open the file at once; the first to
 * open a WAL database sets up its shared index while the others are told it is busy). A
 * no-op when SQLite is not loaded yet (ucwa_people_child_init tries again). */
void ucwa_people_sqlite_child_init(apr_pool_t *pchild, server_rec *s);

#endif
