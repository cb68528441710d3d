/* ucwa_schema: the versioned migrations of the contact list tables, run against real
 * SQLite databases through APR DBD (the sqlite3 driver the server uses): a new
 * database, running again, two connections migrating in turn, a database from a newer
 * module, a table in the way, a read-only database. */
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <apr_dbd.h>
#include <apr_thread_proc.h>

#include "unit.h"
#include "ucwa_schema.h"

static const apr_dbd_driver_t *drv;
static char dir[64];

static void setup(void)
{
    unit_pool_setup();
    ck_assert_int_eq(apr_dbd_init(pool), APR_SUCCESS);
    ck_assert_int_eq(apr_dbd_get_driver(pool, "sqlite3", &drv), APR_SUCCESS);
    strcpy(dir, "/tmp/ucwa-schema-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    unit_pool_teardown();
}

static apr_dbd_t *open_db(const char *name)
{
    apr_dbd_t *h = NULL;
    const char *err = NULL;

    ck_assert_int_eq(apr_dbd_open_ex(drv, pool, apr_pstrcat(pool, dir, "/", name, NULL), &h,
                                     &err), APR_SUCCESS);
    return h;
}

static int rows(apr_dbd_t *h, const char *sql)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int n = 0;

    ck_assert_int_eq(apr_dbd_select(drv, pool, h, &res, sql, 1), 0);
    while (apr_dbd_get_row(drv, pool, res, &row, -1) == 0) {
        n++;
    }
    return n;
}

static void exec(apr_dbd_t *h, const char *sql)
{
    int n;

    ck_assert_msg(apr_dbd_query(drv, h, &n, sql) == 0, "%s: %s", sql,
                  apr_dbd_error(drv, h, 1));
}

START_TEST(statements_of_one_database)
{
    ck_assert_str_eq(ucwa_schema_statement(drv, "CREATE INDEX i ON t (c)"),
                     "CREATE INDEX i ON t (c)");
    ck_assert_str_eq(ucwa_schema_statement(drv, "sqlite3:CREATE INDEX i ON t (c)"),
                     "CREATE INDEX i ON t (c)");
    ck_assert_ptr_null(ucwa_schema_statement(drv, "pgsql:CREATE INDEX i ON t (c)"));
    ck_assert_ptr_null(ucwa_schema_statement(drv, "sqlite:CREATE INDEX i ON t (c)"));
    ck_assert_str_eq(ucwa_schema_statement(drv, "INSERT INTO t VALUES ('a:b')"),
                     "INSERT INTO t VALUES ('a:b')");
}
END_TEST

START_TEST(migrations_are_numbered_in_order)
{
    int count, i;
    const ucwa_migration *m = ucwa_schema_migrations(&count);

    ck_assert_int_eq(count, UCWA_SCHEMA_VERSION);
    for (i = 0; i < count; i++) {
        ck_assert_int_eq(m[i].version, i + 1);
        ck_assert_ptr_nonnull(m[i].statements[0]);
        ck_assert_ptr_null(strchr(m[i].description, '\''));
    }
}
END_TEST

START_TEST(new_database)
{
    apr_dbd_t *h = open_db("new.db");
    ucwa_schema_result res;
    const char *err = NULL;
    int v = -1;

    ck_assert_int_eq(ucwa_schema_version(pool, drv, h, &v, &err), APR_EGENERAL);
    ck_assert_ptr_nonnull(err);   /* no table yet */
    ck_assert_int_eq(ucwa_schema_migrate(pool, drv, h, apr_time_now(), &res, &err), APR_SUCCESS);
    ck_assert_int_eq(res.from, 0);
    ck_assert_int_eq(res.to, UCWA_SCHEMA_VERSION);
    ck_assert_int_eq(res.applied, UCWA_SCHEMA_VERSION);
    ck_assert_int_eq(ucwa_schema_version(pool, drv, h, &v, &err), APR_SUCCESS);
    ck_assert_int_eq(v, UCWA_SCHEMA_VERSION);
    ck_assert_int_eq(rows(h, "SELECT version, description, applied_at FROM ucwa_schema_version"),
                     UCWA_SCHEMA_VERSION);
    /* the tables are there and empty */
    ck_assert_int_eq(rows(h, "SELECT owner, group_id, name, name_key, created FROM ucwa_groups"), 0);
    ck_assert_int_eq(rows(h, "SELECT owner, group_id, contact, added FROM ucwa_group_members"), 0);
    ck_assert_int_eq(rows(h, "SELECT name FROM sqlite_master WHERE type = 'index' "
                             "AND name = 'ucwa_group_members_contact'"), 1);
    apr_dbd_close(drv, h);
}
END_TEST

START_TEST(running_again_changes_nothing)
{
    apr_dbd_t *h = open_db("again.db");
    ucwa_schema_result res;
    const char *err = NULL;

    ck_assert_int_eq(ucwa_schema_migrate(pool, drv, h, apr_time_now(), &res, &err), APR_SUCCESS);
    exec(h, "INSERT INTO ucwa_groups VALUES ('a@x.test', 'g', 'G', 'g', 1)");
    ck_assert_int_eq(ucwa_schema_migrate(pool, drv, h, apr_time_now(), &res, &err), APR_SUCCESS);
    ck_assert_int_eq(res.from, UCWA_SCHEMA_VERSION);
    ck_assert_int_eq(res.to, UCWA_SCHEMA_VERSION);
    ck_assert_int_eq(res.applied, 0);
    ck_assert_int_eq(rows(h, "SELECT * FROM ucwa_groups"), 1);
    apr_dbd_close(drv, h);
}
END_TEST

/* Version 1 only (an older module ran here): the upgrade applies the rest. */
START_TEST(upgrade_from_version_1)
{
    apr_dbd_t *h = open_db("old.db");
    ucwa_schema_result res;
    const char *err = NULL;
    int count;
    const ucwa_migration *m = ucwa_schema_migrations(&count);
    const char *const *sql;

    exec(h, "CREATE TABLE ucwa_schema_version (version INTEGER NOT NULL PRIMARY KEY, "
            "description VARCHAR(200) NOT NULL, applied_at VARCHAR(32) NOT NULL)");
    for (sql = m[0].statements; *sql; sql++) {
        exec(h, *sql);
    }
    exec(h, "INSERT INTO ucwa_schema_version VALUES (1, 'x', '2020-01-01T00:00:00Z')");
    exec(h, "INSERT INTO ucwa_group_members VALUES ('a@x.test', 'default', 'b@x.test', 1)");
    ck_assert_int_eq(ucwa_schema_migrate(pool, drv, h, apr_time_now(), &res, &err), APR_SUCCESS);
    ck_assert_int_eq(res.from, 1);
    ck_assert_int_eq(res.to, UCWA_SCHEMA_VERSION);
    ck_assert_int_eq(res.applied, UCWA_SCHEMA_VERSION - 1);
    ck_assert_int_eq(rows(h, "SELECT * FROM ucwa_group_members"), 1);
    apr_dbd_close(drv, h);
}
END_TEST

/* Version 3 (push registrations, before conversation logs): the upgrade adds the logs
 * and keeps the rows it found. */
START_TEST(upgrade_from_version_3)
{
    apr_dbd_t *h = open_db("v3.db");
    ucwa_schema_result res;
    const char *err = NULL;
    int count, i;
    const ucwa_migration *m = ucwa_schema_migrations(&count);
    const char *const *sql;

    exec(h, "CREATE TABLE ucwa_schema_version (version INTEGER NOT NULL PRIMARY KEY, "
            "description VARCHAR(200) NOT NULL, applied_at VARCHAR(32) NOT NULL)");
    for (i = 0; i < 3; i++) {
        for (sql = m[i].statements; *sql; sql++) {
            exec(h, *sql);
        }
        exec(h, apr_psprintf(pool, "INSERT INTO ucwa_schema_version VALUES (%d, 'x', "
                                   "'2020-01-01T00:00:00Z')", i + 1));
    }
    exec(h, "INSERT INTO ucwa_push_registrations (reg_id, owner, endpoint_id, provider, "
            "token, created, updated) VALUES ('r', 'a@x.test', 'e', 'FCM', 't', 1, 1)");
    ck_assert_int_eq(ucwa_schema_migrate(pool, drv, h, apr_time_now(), &res, &err), APR_SUCCESS);
    ck_assert_int_eq(res.from, 3);
    ck_assert_int_eq(res.to, UCWA_SCHEMA_VERSION);
    ck_assert_int_eq(rows(h, "SELECT * FROM ucwa_push_registrations"), 1);
    ck_assert_int_eq(rows(h, "SELECT * FROM ucwa_conversation_logs"), 0);
    apr_dbd_close(drv, h);
}
END_TEST

/* Another process migrated after this one read the version: this one's claim of
 * migration 1 fails (it waited for the other's transaction, then hit the primary key),
 * it reads the version again and has nothing left to do. The other process is the main
 * thread here, holding its transaction open while a thread migrates. */
typedef struct {
    apr_dbd_t *h;
    apr_status_t rv;
    ucwa_schema_result res;
    const char *err;
    apr_pool_t *p;
} migrator;

static void *APR_THREAD_FUNC migrate_thread(apr_thread_t *t, void *data)
{
    migrator *m = data;

    m->rv = ucwa_schema_migrate(m->p, drv, m->h, apr_time_now(), &m->res, &m->err);
    return NULL;
}

START_TEST(another_process_migrated_first)
{
    apr_dbd_t *a = open_db("race.db");
    apr_dbd_transaction_t *t = NULL;
    apr_thread_t *thread;
    apr_status_t trv;
    migrator b;
    int count, i;
    const ucwa_migration *m = ucwa_schema_migrations(&count);
    const char *const *sql;

    memset(&b, 0, sizeof(b));
    b.h = open_db("race.db");
    apr_pool_create(&b.p, pool);
    exec(a, "CREATE TABLE ucwa_schema_version (version INTEGER NOT NULL PRIMARY KEY, "
            "description VARCHAR(200) NOT NULL, applied_at VARCHAR(32) NOT NULL)");
    ck_assert_int_eq(apr_dbd_transaction_start(drv, pool, a, &t), 0);
    for (i = 0; i < count; i++) {
        exec(a, apr_psprintf(pool, "INSERT INTO ucwa_schema_version VALUES (%d, 'x', 'y')",
                             m[i].version));
        for (sql = m[i].statements; *sql; sql++) {
            if (ucwa_schema_statement(drv, *sql)) {
                exec(a, ucwa_schema_statement(drv, *sql));
            }
        }
    }
    ck_assert_int_eq(apr_thread_create(&thread, NULL, migrate_thread, &b, pool), APR_SUCCESS);
    apr_sleep(apr_time_from_msec(300));   /* b reads version 0, then waits for the lock */
    ck_assert_int_eq(apr_dbd_transaction_end(drv, pool, t), 0);
    apr_thread_join(&trv, thread);
    ck_assert_msg(b.rv == APR_SUCCESS, "%s", b.err ? b.err : "");
    ck_assert_int_eq(b.res.from, 0);
    ck_assert_int_eq(b.res.applied, 0);
    ck_assert_int_eq(b.res.to, UCWA_SCHEMA_VERSION);
    ck_assert_int_eq(rows(a, "SELECT * FROM ucwa_schema_version"), UCWA_SCHEMA_VERSION);
    apr_dbd_close(drv, a);
    apr_dbd_close(drv, b.h);
}
END_TEST

START_TEST(newer_database_left_alone)
{
    apr_dbd_t *h = open_db("newer.db");
    ucwa_schema_result res;
    const char *err = NULL;

    ck_assert_int_eq(ucwa_schema_migrate(pool, drv, h, apr_time_now(), &res, &err), APR_SUCCESS);
    exec(h, "INSERT INTO ucwa_schema_version VALUES (99, 'from the future', 'x')");
    ck_assert_int_eq(ucwa_schema_migrate(pool, drv, h, apr_time_now(), &res, &err), APR_SUCCESS);
    ck_assert_int_eq(res.to, 99);
    ck_assert_int_eq(res.applied, 0);
    apr_dbd_close(drv, h);
}
END_TEST

/* A migration that fails half way leaves nothing behind: not its tables, not its row. */
START_TEST(failed_migration_rolls_back)
{
    apr_dbd_t *h = open_db("clash.db");
    ucwa_schema_result res;
    const char *err = NULL;
    int v = -1;

    exec(h, "CREATE TABLE ucwa_group_members (x INTEGER)");   /* in migration 1's way */
    ck_assert_int_eq(ucwa_schema_migrate(pool, drv, h, apr_time_now(), &res, &err), APR_EGENERAL);
    ck_assert_ptr_nonnull(strstr(err, "migration 1"));
    ck_assert_ptr_nonnull(strstr(err, "statement 2"));
    ck_assert_int_eq(res.to, 0);
    ck_assert_int_eq(rows(h, "SELECT name FROM sqlite_master WHERE name = 'ucwa_groups'"), 0);
    ck_assert_int_eq(ucwa_schema_version(pool, drv, h, &v, &err), APR_SUCCESS);
    ck_assert_int_eq(v, 0);
    apr_dbd_close(drv, h);
}
END_TEST

START_TEST(read_only_database)
{
    apr_dbd_t *h = open_db("ro.db");
    ucwa_schema_result res;
    const char *err = NULL;
    const char *path = apr_pstrcat(pool, dir, "/ro.db", NULL);

    exec(h, "CREATE TABLE users (sip_uri TEXT)");
    apr_dbd_close(drv, h);
    if (geteuid() == 0) {
        return;   /* root writes anyway */
    }
    ck_assert_int_eq(chmod(path, 0444), 0);
    ck_assert_int_eq(chmod(dir, 0555), 0);
    h = open_db("ro.db");
    ck_assert_int_eq(ucwa_schema_migrate(pool, drv, h, apr_time_now(), &res, &err), APR_EGENERAL);
    ck_assert_ptr_nonnull(err);
    apr_dbd_close(drv, h);
    ck_assert_int_eq(chmod(dir, 0755), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_schema");
    TCase *tc = tcase_create("schema");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, migrations_are_numbered_in_order);
    tcase_add_test(tc, statements_of_one_database);
    tcase_add_test(tc, new_database);
    tcase_add_test(tc, running_again_changes_nothing);
    tcase_add_test(tc, upgrade_from_version_1);
    tcase_add_test(tc, upgrade_from_version_3);
    tcase_add_test(tc, another_process_migrated_first);
    tcase_add_test(tc, newer_database_left_alone);
    tcase_add_test(tc, failed_migration_rolls_back);
    tcase_add_test(tc, read_only_database);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_schema", s);
}
