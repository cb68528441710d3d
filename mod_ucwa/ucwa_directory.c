#include <httpd.h>
#include <string.h>
#include <apr_dbd.h>
#include <apr_strings.h>
#include <http_log.h>
#include <mod_dbd.h>

#include "mob_dbd.h"

#include "mod_ucwa.h"
#include "ucwa_directory.h"

APLOG_USE_MODULE(ucwa);

int ucwa_directory_user(request_rec *r, const ucwa_global *g, const char *user,
                        ucwa_user_info *out)
{
    const char *at = strchr(user, '@');
    ap_dbd_t *dbd;
    apr_dbd_prepared_t *stmt;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv, seen = 0;

    out->display_name = at ? apr_pstrndup(r->pool, user, (apr_size_t)(at - user)) : user;
    out->policy_tag = "";
    if (!g->user_query) {
        return OK;
    }
    dbd = mob_dbd_acquire(r);
    stmt = dbd ? apr_hash_get(dbd->prepared, UCWA_USER_LABEL, APR_HASH_KEY_STRING) : NULL;
    if (!stmt) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, UCWALOGNO(00030)
                      "directory: no connection or UcwaUserQuery not prepared");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = apr_dbd_pvselect(dbd->driver, r->pool, dbd->handle, &res, stmt, 0, user, NULL);
    if (rv != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, UCWALOGNO(00031)
                      "directory query failed: %s", apr_dbd_error(dbd->driver, dbd->handle, rv));
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    while (apr_dbd_get_row(dbd->driver, r->pool, res, &row, -1) == 0) {
        const char *name = apr_dbd_get_entry(dbd->driver, row, 0);
        const char *tag = apr_dbd_num_cols(dbd->driver, res) > 1
                          ? apr_dbd_get_entry(dbd->driver, row, 1) : NULL;
        if (!seen++) {
            if (name && *name) out->display_name = apr_pstrdup(r->pool, name);
            if (tag) out->policy_tag = apr_pstrdup(r->pool, tag);
        }
    }
    return OK;
}
