/* Prepared statements on one database connection (APR DBD, mod_dbd in the server):
 * each is prepared once per connection and kept in the connection's statement table
 * under its label; values are always bound, never written into the SQL. */
#ifndef UCWA_SQL_H
#define UCWA_SQL_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_hash.h>
#include <apr_dbd.h>

typedef struct {
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    apr_hash_t *prepared;   /* the connection's statements by label (may be NULL) */
    apr_pool_t *pool;       /* lives as long as the connection: statements go there */
    const char *err;        /* after a failure: what the database said */
} ucwa_db;

/* Runs a SELECT; every row's first ncol columns (NULL for SQL NULL) go to *rows, an
 * array of const char *[ncol]. 0, or -1 with db->err. */
int ucwa_sql_select(ucwa_db *db, apr_pool_t *p, const char *label, const char *sql,
                    int nargs, const char **args, int ncol, apr_array_header_t **rows);

/* Runs a statement that returns no rows; *nrows (if given) the rows it changed. */
int ucwa_sql_exec(ucwa_db *db, apr_pool_t *p, const char *label, const char *sql,
                  int nargs, const char **args, int *nrows);

/* Records a failure in db->err ("what: the driver's message"). */
void ucwa_sql_fail(ucwa_db *db, apr_pool_t *p, const char *what, int rv);

#endif
