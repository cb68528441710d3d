/* Shared by the unit tests of SQL objects: a new SQLite database in a temporary
 * directory per test, opened through APR DBD as a ucwa_db, removed at teardown. */
#ifndef UNIT_SQLITE_H
#define UNIT_SQLITE_H

#include <apr_dbd.h>
#include <apr_hash.h>

#include "unit.h"
#include "ucwa_sql.h"

static char unit_sqlite_dir[64];

/* Sets pool up, then opens prefix-XXXXXX/file into db. */
static inline void unit_sqlite_open(const char *prefix, const char *file, ucwa_db *db)
{
    const char *err = NULL;

    unit_pool_setup();
    ck_assert_int_eq(apr_dbd_init(pool), APR_SUCCESS);
    memset(db, 0, sizeof(*db));
    ck_assert_int_eq(apr_dbd_get_driver(pool, "sqlite3", &db->driver), APR_SUCCESS);
    snprintf(unit_sqlite_dir, sizeof(unit_sqlite_dir), "/tmp/%s-XXXXXX", prefix);
    ck_assert_ptr_nonnull(mkdtemp(unit_sqlite_dir));
    db->pool = pool;
    db->prepared = apr_hash_make(pool);
    ck_assert_int_eq(apr_dbd_open_ex(db->driver, pool,
                                     apr_pstrcat(pool, unit_sqlite_dir, "/", file, NULL),
                                     &db->handle, &err), APR_SUCCESS);
}

/* Closes db, removes its directory, tears pool down. */
static inline void unit_sqlite_close(ucwa_db *db)
{
    char cmd[128];

    apr_dbd_close(db->driver, db->handle);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", unit_sqlite_dir);
    ck_assert_int_eq(system(cmd), 0);
    unit_pool_teardown();
}

#endif
