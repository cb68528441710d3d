/* The durable part of UCWA (contact groups and memberships) lives in SQL, reached
 * through APR DBD (mod_dbd in the server). This object owns its schema: a table
 * schema_version and numbered migrations, applied in order, each in its own
 * transaction, and recorded in schema_version inside that transaction. The SQL is
 * portable (SQLite 3 and PostgreSQL): no AUTOINCREMENT/SERIAL, no IF NOT EXISTS inside
 * a migration, types VARCHAR(n) and BIGINT. docs/schema.md describes every version.
 *
 * Version 3 adds push registrations (common/push/ucwa_push_reg), version 4 conversation
 * logs (common/ucwa/ucwa_calllog), version 5 Enterprise Voice (common/ucwa/ucwa_voice:
 * dial plans, voice policies, routes, grants) and call forwarding (ucwa_callfwd).
 *
 * Several processes may migrate the same database at once (every child process of a
 * starting httpd does): a migration begins by inserting its row into schema_version,
 * whose primary key lets one of them in and turns the others away (a unique violation,
 * or a lock wait first); a process turned away rolls back, reads the version again and
 * goes on from there. Nothing else changes the schema. */
#ifndef UCWA_SCHEMA_H
#define UCWA_SCHEMA_H

#include <apr_pools.h>
#include <apr_time.h>
#include <apr_dbd.h>

/* The version this code needs (the number of the last migration). */
#define UCWA_SCHEMA_VERSION 8

typedef struct {
    int version;                     /* 1, 2, ... in order, no gaps */
    const char *description;         /* recorded in schema_version; no quote */
    const char *const *statements;   /* NULL-terminated; one that starts "sqlite3:" or
                                      * "pgsql:" is run on that database only */
} ucwa_migration;

/* The migrations, in order; *count gets their number. */
const ucwa_migration *ucwa_schema_migrations(int *count);
/* A migration's statement as database d runs it: sql, or without its "driver:" prefix
 * when it names d, or NULL when it names another database. */
const char *ucwa_schema_statement(const apr_dbd_driver_t *d, const char *sql);

/* The number part of a LineURI ("tel:+15550100" of "tel:+15550100;ext=100"), as the
 * expression index ucwa_voice_users_number (version 8) has it, in each database's SQL. */
#define UCWA_LINE_NUMBER_SQLITE "substr(line_uri, 1, instr(line_uri || ';', ';') - 1)"
#define UCWA_LINE_NUMBER_PGSQL "split_part(line_uri, ';', 1)"

/* The version recorded in the database: 0 when schema_version is empty or missing.
 * APR_SUCCESS, or an error with *err (the driver's message). */
apr_status_t ucwa_schema_version(apr_pool_t *p, const apr_dbd_driver_t *d, apr_dbd_t *h,
                                 int *version, const char **err);

typedef struct {
    int from;        /* version found */
    int to;          /* version reached (UCWA_SCHEMA_VERSION on success) */
    int applied;     /* migrations this call applied (others may have applied the rest) */
} ucwa_schema_result;

/* Brings the database up to UCWA_SCHEMA_VERSION, as described above. A database
 * already at a newer version (a newer module ran on it) is left alone: APR_SUCCESS with
 * to > UCWA_SCHEMA_VERSION. On failure: APR_EGENERAL and *err says which migration and
 * statement failed, and why. now stamps the rows of schema_version. */
apr_status_t ucwa_schema_migrate(apr_pool_t *p, const apr_dbd_driver_t *d, apr_dbd_t *h,
                                 apr_time_t now, ucwa_schema_result *res, const char **err);

#endif
