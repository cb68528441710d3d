#include <apr_strings.h>

#include "ucwa_sql.h"

void ucwa_sql_fail(ucwa_db *db, apr_pool_t *p, const char *what, int rv)
{
    const char *e = rv ? apr_dbd_error(db->driver, db->handle, rv) : NULL;

    db->err = apr_psprintf(p, "%s: %s", what, e && *e ? e : "database error");
}

static apr_dbd_prepared_t *stmt(ucwa_db *db, apr_pool_t *p, const char *label,
                                const char *sql)
{
    apr_dbd_prepared_t *st = db->prepared
        ? apr_hash_get(db->prepared, label, APR_HASH_KEY_STRING) : NULL;
    int rv;

    if (st) {
        return st;
    }
    rv = apr_dbd_prepare(db->driver, db->pool, db->handle, sql, label, &st);
    if (rv != 0 || !st) {
        ucwa_sql_fail(db, p, apr_pstrcat(p, "cannot prepare ", label, NULL), rv);
        return NULL;
    }
    if (db->prepared) {
        apr_hash_set(db->prepared, label, APR_HASH_KEY_STRING, st);
    }
    return st;
}

int ucwa_sql_select(ucwa_db *db, apr_pool_t *p, const char *label, const char *sql,
                    int nargs, const char **args, int ncol, apr_array_header_t **rows)
{
    apr_dbd_prepared_t *st = stmt(db, p, label, sql);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv, i;

    *rows = apr_array_make(p, 8, sizeof(const char **));
    if (!st) {
        return -1;
    }
    rv = apr_dbd_pselect(db->driver, p, db->handle, &res, st, 1, nargs, args);
    if (rv != 0) {
        ucwa_sql_fail(db, p, label, rv);
        return -1;
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        const char **cols = apr_pcalloc(p, sizeof(*cols) * (size_t)ncol);
        for (i = 0; i < ncol; i++) {
            const char *v = NULL;
            if (apr_dbd_datum_get(db->driver, row, i, APR_DBD_TYPE_STRING, &v) == APR_SUCCESS
                && v) {
                cols[i] = apr_pstrdup(p, v);
            }
        }
        APR_ARRAY_PUSH(*rows, const char **) = cols;
    }
    return 0;
}

int ucwa_sql_exec(ucwa_db *db, apr_pool_t *p, const char *label, const char *sql,
                  int nargs, const char **args, int *nrows)
{
    apr_dbd_prepared_t *st = stmt(db, p, label, sql);
    int n = 0, rv;

    if (!st) {
        return -1;
    }
    rv = apr_dbd_pquery(db->driver, p, db->handle, &n, st, nargs, args);
    if (rv != 0) {
        ucwa_sql_fail(db, p, label, rv);
        return -1;
    }
    if (nrows) {
        *nrows = n;
    }
    return 0;
}
