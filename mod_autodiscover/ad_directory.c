#include <httpd.h>
#include <string.h>
#include <apr_dbd.h>
#include <apr_strings.h>
#include <http_log.h>
#include <mod_dbd.h>

#include "mob_dbd.h"

#include "mod_autodiscover.h"
#include "ad_directory.h"

APLOG_USE_MODULE(autodiscover);

static int query_pool(request_rec *r, const char *user, const char **name)
{
    ap_dbd_t *dbd = mob_dbd_acquire(r);
    apr_dbd_prepared_t *stmt;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv;

    *name = NULL;
    if (!dbd) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ADLOGNO(00030)
                      "directory: no database connection (check DBDriver and DBDParams)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    stmt = apr_hash_get(dbd->prepared, AD_DIRECTORY_LABEL, APR_HASH_KEY_STRING);
    if (!stmt) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ADLOGNO(00031)
                      "directory: AutodiscoverDirectoryQuery was not prepared");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = apr_dbd_pvselect(dbd->driver, r->pool, dbd->handle, &res, stmt, 0, user, NULL);
    if (rv != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ADLOGNO(00032)
                      "directory query failed: %s", apr_dbd_error(dbd->driver, dbd->handle, rv));
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* read every row so the driver finishes the statement */
    while (apr_dbd_get_row(dbd->driver, r->pool, res, &row, -1) == 0) {
        const char *v = apr_dbd_get_entry(dbd->driver, row, 0);
        if (!*name && v) {
            *name = apr_pstrdup(r->pool, v);
        }
    }
    return *name ? OK : HTTP_NOT_FOUND;
}

int ad_directory_home_pool(request_rec *r, const ad_server_conf *c, const char *user,
                           const mob_pool **pool)
{
    const char *name = NULL;
    int rv;

    if (c->directory == 1) {
        rv = query_pool(r, user, &name);
        if (rv != OK) {
            return rv;
        }
    }
    else {
        const char *at = strrchr(user, '@');
        const mob_sipdomain *d = at ? mob_topology_domain(c->global->topology, at + 1) : NULL;
        if (!d) {
            return HTTP_NOT_FOUND;
        }
        name = d->pool;
    }
    *pool = mob_topology_pool(c->global->topology, name);
    if (!*pool) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ADLOGNO(00033)
                      "directory: %s is homed on %s, which no AutodiscoverPool defines",
                      user, name);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}
