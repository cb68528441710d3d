/* The lockout entries of a pool of Front Ends, as rows of one SQL table in the pool's
 * database (APR DBD: PostgreSQL, or SQLite), so that every Front End counts the same
 * failures. The rule is mob_lockout's (mob_lockout_entries_*); this object only moves
 * entries between rows and the rule, one short transaction per failure or success:
 *
 *   1. INSERT ... ON CONFLICT DO NOTHING the rows the attempt may write (so that two
 *      first failures of one account at once wait for each other instead of both
 *      inserting), which also takes SQLite's write lock first;
 *   2. SELECT both rows, ORDER BY key, FOR UPDATE on PostgreSQL (locked in one order:
 *      no deadlock between two attempts on the same account and address);
 *   3. the rule; UPDATE the rows it changed; COMMIT.
 * A check is one SELECT without a lock. A call that fails creates the table when it is
 * missing (mob_lockout_sql_create) and is tried once more.
 *
 * Rows hold the keyed hashes of mob_lockout_keys (hex), never a name, an address or a
 * password, and expire (mob_lockout_sql_expire): a day after their last use, or 90 days
 * (the MobilityDevice cookie's lifetime) when they remember familiar origins. The table
 * is described in docs/schema.md. */
#ifndef MOB_LOCKOUT_SQL_H
#define MOB_LOCKOUT_SQL_H

#include "mob_lockout.h"
#include "ucwa_sql.h"

#define MOB_LOCKOUT_SQL_TABLE "autodiscover_lockout"
#define MOB_LOCKOUT_SQL_KEEP          apr_time_from_sec(24 * 3600)
#define MOB_LOCKOUT_SQL_KEEP_FAMILIAR apr_time_from_sec(90 * 24 * 3600)

/* Creates the table and its index when they are missing (CREATE ... IF NOT EXISTS,
 * outside any transaction). 0, or -1 with db->err. */
int mob_lockout_sql_create(ucwa_db *db, apr_pool_t *p);

/* As mob_lockout_check, mob_lockout_failed and mob_lockout_succeeded, on the rows of
 * the keys k. 0 with *v the answer, or -1 with db->err (nothing was written). */
int mob_lockout_sql_check(ucwa_db *db, apr_pool_t *p, const mob_lockout_keys *k,
                          apr_time_t now, unsigned *v);
int mob_lockout_sql_failed(ucwa_db *db, apr_pool_t *p, const mob_lockout_keys *k,
                           const mob_lockout_policy *account_pol,
                           const mob_lockout_policy *address_pol, apr_time_t now,
                           unsigned *v);
int mob_lockout_sql_succeeded(ucwa_db *db, apr_pool_t *p, const mob_lockout_keys *k,
                              apr_time_t now);

/* Deletes the rows expired at now; *removed (if given) their number. 0 or -1. */
int mob_lockout_sql_expire(ucwa_db *db, apr_pool_t *p, apr_time_t now, int *removed);

#endif
