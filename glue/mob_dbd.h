/* mod_dbd as our modules use it: written once, compiled into each module (glue/ is
 * httpd glue shared by mod_autodiscover, mod_ucwa and mod_mcx; common/ has no httpd). */
#ifndef MOB_DBD_H
#define MOB_DBD_H

#include <httpd.h>
#include <apr_dbd.h>
#include <mod_dbd.h>

#include "mob_glue.h"

/* mod_dbd's configuration of server s (driver name, parameters, the statements to
 * prepare), or NULL when it has none: for connections of our own (schema migration,
 * the pool's thread). */
MOB_GLUE const dbd_cfg_t *mob_dbd_config(server_rec *s);

/* The request's mod_dbd connection (ap_dbd_acquire: every module asking during this
 * request gets the same one), or NULL. On PostgreSQL, a connection the database closed
 * (a restart) is reopened, and one that was reopened (here, or by APR-util's check in
 * mod_dbd) gets the statements mod_dbd prepared when it first opened it prepared again:
 * without that, sign-in (mod_authn_dbd), the directory and contact lists would fail on
 * that connection for as long as it lives. The statements our code prepares itself on
 * first use (common/ucwa/ucwa_sql) are forgotten then, to be prepared again. */
MOB_GLUE ap_dbd_t *mob_dbd_acquire(request_rec *r);

/* The same for a thread without a request (ap_dbd_open: a connection of the child's
 * pool, held until mob_dbd_close): the push dispatcher. NULL when there is none. */
MOB_GLUE ap_dbd_t *mob_dbd_open(server_rec *s, apr_pool_t *p);
MOB_GLUE void mob_dbd_close(server_rec *s, ap_dbd_t *dbd);

#endif
