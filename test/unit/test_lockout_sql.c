/* mob_lockout_sql: the lockout entries of a pool as rows of one SQL table (SQLite here,
 * through APR DBD, as PostgreSQL in test_lockout_pool.py): the same answers as the
 * shared-memory table for the same attempts (one rule, two stores), the table made on
 * first use, nothing in the clear, rows that expire. */
#include <stdlib.h>
#include <apr_file_io.h>

#include "unit_sqlite.h"
#include "mob_lockout_sql.h"

#define T0    apr_time_from_sec(1700000000)
#define SEC(n) apr_time_from_sec(n)
#define ALICE "alice@contoso.test"
#define HOME  "198.51.100.7"
#define AWAY  "203.0.113.9"

static ucwa_db db;
static unsigned char secret[MOB_LOCKOUT_SECRET];
static const mob_lockout_policy pol = { 3, apr_time_from_sec(60), apr_time_from_sec(300) };
static const mob_lockout_policy addr_pol = { 5, apr_time_from_sec(60), apr_time_from_sec(300) };

static void setup(void)
{
    int n;

    unit_sqlite_open("lockout-sql", "l.db", &db);
    /* every attempt is a transaction: without an fsync each, 600 of them take
     * milliseconds, not seconds on a loaded disk (the rules are under test, not SQLite) */
    apr_dbd_query(db.driver, db.handle, &n, "PRAGMA synchronous = OFF");
    memset(secret, 0x42, sizeof(secret));
}

static void teardown(void)
{
    unit_sqlite_close(&db);
}

static mob_lockout_keys *keys(const char *account, const char *address, const char *device,
                              const char *password)
{
    mob_lockout_keys *k = apr_palloc(pool, sizeof(*k));

    mob_lockout_keys_make(secret, account, address, device, password, k);
    return k;
}

static unsigned sql_check(const char *account, const char *address, const char *device,
                          apr_time_t now)
{
    unsigned v = 0;

    ck_assert_msg(mob_lockout_sql_check(&db, pool, keys(account, address, device, NULL), now,
                                        &v) == 0, "%s", db.err);
    return v;
}

static unsigned sql_failed(const char *account, const char *address, const char *device,
                           const char *password, apr_time_t now)
{
    unsigned v = 0;

    ck_assert_msg(mob_lockout_sql_failed(&db, pool, keys(account, address, device, password),
                                         &pol, &addr_pol, now, &v) == 0, "%s", db.err);
    return v;
}

static void sql_succeeded(const char *account, const char *address, const char *device,
                          apr_time_t now)
{
    ck_assert_msg(mob_lockout_sql_succeeded(&db, pool, keys(account, address, device, NULL),
                                            now) == 0, "%s", db.err);
}

static long rows(void)
{
    apr_array_header_t *r;

    ck_assert_int_eq(ucwa_sql_select(&db, pool, "t_count", "SELECT COUNT(*) FROM "
                                     MOB_LOCKOUT_SQL_TABLE, 0, NULL, 1, &r), 0);
    return atol(APR_ARRAY_IDX(r, 0, const char **)[0]);
}

/* One rule, two stores: a pseudo-random run of sign-ins (failures with a few passwords,
 * successes, checks, from a few addresses and devices, over a few minutes) answers the
 * same from SQL as from a table large enough never to evict. */
START_TEST(same_answers_as_the_table)
{
    static const char *const users[] = { ALICE, "bob@contoso.test", "ghost@contoso.test", NULL };
    static const char *const addrs[] = { HOME, AWAY, "2001:db8::1" };
    static const char *const devs[] = { NULL, "0123456789abcdef0123456789abcdef" };
    static const char *const pws[] = { "Summer2025", "Spring2026!", "Demo-Passw0rd", "x" };
    mob_lockout_table *t = apr_palloc(pool, mob_lockout_bytes(1024));
    apr_uint32_t seed = 12345;
    apr_time_t now = T0;
    unsigned seen = 0;
    int i;

    mob_lockout_init(t, 1024);
    memcpy(t->secret, secret, sizeof(secret));
    for (i = 0; i < 600; i++) {
        const char *u, *a, *d, *pw;
        unsigned op;

        seed = seed * 1103515245u + 12345u;
        u = users[(seed >> 8) % 4];
        a = addrs[(seed >> 12) % 3];
        d = devs[(seed >> 15) % 2];
        pw = pws[(seed >> 17) % 4];
        op = (seed >> 20) % 8;
        now += apr_time_from_msec((seed >> 23) % 4000);
        seen |= sql_check(u, a, d, now);
        ck_assert_uint_eq(sql_check(u, a, d, now), mob_lockout_check(t, u, a, d, now));
        if (op == 0 && u) {
            sql_succeeded(u, a, d, now);
            mob_lockout_succeeded(t, u, a, d, now);
        }
        else if (op < 6) {
            unsigned v = sql_failed(u, a, d, u ? pw : NULL, now);
            seen |= v;
            ck_assert_uint_eq(v, mob_lockout_failed(t, u, a, d, u ? pw : NULL, &pol, &addr_pol,
                                                    now));
        }
    }
    /* the run went through every rule */
    ck_assert_uint_eq(seen, MOB_LOCKOUT_ACCOUNT_LOCKED | MOB_LOCKOUT_ADDRESS_LOCKED
                      | MOB_LOCKOUT_FAMILIAR_ORIGIN | MOB_LOCKOUT_REPEATED
                      | MOB_LOCKOUT_ACCOUNT_LOCKS | MOB_LOCKOUT_ADDRESS_LOCKS);
}
END_TEST

/* The first call on a database without the table makes it. */
START_TEST(table_made_on_first_use)
{
    ck_assert_uint_eq(sql_check(ALICE, AWAY, NULL, T0), 0);
    ck_assert_int_eq(rows(), 0);
    ck_assert_uint_eq(sql_failed(ALICE, AWAY, NULL, "a", T0), 0);
    ck_assert_int_eq(rows(), 2);
    /* and again: IF NOT EXISTS */
    ck_assert_int_eq(mob_lockout_sql_create(&db, pool), 0);
    ck_assert_int_eq(rows(), 2);
}
END_TEST

START_TEST(locks_and_familiar_origins)
{
    sql_succeeded(ALICE, HOME, NULL, T0);
    ck_assert_uint_eq(sql_failed(ALICE, AWAY, NULL, "a", T0 + SEC(1)), 0);
    ck_assert_uint_eq(sql_failed(ALICE, AWAY, NULL, "a", T0 + SEC(2)), MOB_LOCKOUT_REPEATED);
    ck_assert_uint_eq(sql_failed(ALICE, AWAY, NULL, "b", T0 + SEC(3)), 0);
    ck_assert_uint_eq(sql_failed(ALICE, AWAY, NULL, "c", T0 + SEC(4)), MOB_LOCKOUT_ACCOUNT_LOCKS);
    ck_assert_uint_eq(sql_check(ALICE, AWAY, NULL, T0 + SEC(5)), MOB_LOCKOUT_ACCOUNT_LOCKED);
    ck_assert_uint_eq(sql_check(ALICE, HOME, NULL, T0 + SEC(5)), MOB_LOCKOUT_FAMILIAR_ORIGIN);
    /* never extended */
    ck_assert_uint_eq(sql_failed(ALICE, AWAY, NULL, "d", T0 + SEC(30)), 0);
    ck_assert_uint_eq(sql_check(ALICE, AWAY, NULL, T0 + SEC(64)), 0);
}
END_TEST

/* The database holds keyed hashes only. */
START_TEST(names_not_stored)
{
    const char *leaks[] = { ALICE, "alice", HOME, AWAY, "Summer2025",
                            "0123456789abcdef0123456789abcdef" };
    apr_file_t *f;
    apr_finfo_t fi;
    char *buf;
    apr_size_t n;
    size_t i;

    sql_succeeded(ALICE, HOME, "0123456789abcdef0123456789abcdef", T0);
    sql_failed(ALICE, AWAY, NULL, "Summer2025", T0 + SEC(1));
    sql_failed(NULL, AWAY, NULL, NULL, T0 + SEC(2));
    ck_assert_int_eq(apr_file_open(&f, apr_pstrcat(pool, unit_sqlite_dir, "/l.db", NULL),
                                   APR_FOPEN_READ, 0, pool), APR_SUCCESS);
    ck_assert_int_eq(apr_file_info_get(&fi, APR_FINFO_SIZE, f), APR_SUCCESS);
    buf = apr_palloc(pool, (apr_size_t)fi.size);
    n = (apr_size_t)fi.size;
    ck_assert_int_eq(apr_file_read_full(f, buf, n, &n), APR_SUCCESS);
    apr_file_close(f);
    for (i = 0; i < sizeof(leaks) / sizeof(*leaks); i++) {
        ck_assert_ptr_null(memmem(buf, n, leaks[i], strlen(leaks[i])));
    }
}
END_TEST

/* Rows go a day after their last use; an account's familiar origins stay 90 days. */
START_TEST(rows_expire)
{
    int removed = -1;

    sql_succeeded(ALICE, HOME, NULL, T0);
    sql_failed("bob@contoso.test", AWAY, NULL, "x", T0);
    ck_assert_int_eq(rows(), 3);
    ck_assert_int_eq(mob_lockout_sql_expire(&db, pool, T0 + SEC(3600), &removed), 0);
    ck_assert_int_eq(removed, 0);
    ck_assert_int_eq(mob_lockout_sql_expire(&db, pool, T0 + SEC(24 * 3600 + 1), &removed), 0);
    ck_assert_int_eq(removed, 2);
    ck_assert_uint_eq(sql_check(ALICE, HOME, NULL, T0 + SEC(30 * 24 * 3600)),
                      MOB_LOCKOUT_FAMILIAR_ORIGIN);
    ck_assert_int_eq(mob_lockout_sql_expire(&db, pool, T0 + SEC(91 * 24 * 3600), &removed), 0);
    ck_assert_int_eq(removed, 1);
    ck_assert_int_eq(rows(), 0);
}
END_TEST

/* A database that cannot be used answers -1 with the reason, and counts nothing. */
START_TEST(unusable_database)
{
    unsigned v = 7;

    ck_assert_int_eq(apr_dbd_query(db.driver, db.handle, &(int){ 0 },
                                   "CREATE TABLE " MOB_LOCKOUT_SQL_TABLE " (x INTEGER)"), 0);
    ck_assert_int_eq(mob_lockout_sql_failed(&db, pool, keys(ALICE, AWAY, NULL, "a"), &pol,
                                            &addr_pol, T0, &v), -1);
    ck_assert_ptr_nonnull(db.err);
    ck_assert_int_eq(mob_lockout_sql_check(&db, pool, keys(ALICE, AWAY, NULL, NULL), T0, &v),
                     -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lockout_sql");
    TCase *tc = tcase_create("lockout_sql");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, same_answers_as_the_table);
    tcase_add_test(tc, table_made_on_first_use);
    tcase_add_test(tc, locks_and_familiar_origins);
    tcase_add_test(tc, names_not_stored);
    tcase_add_test(tc, rows_expire);
    tcase_add_test(tc, unusable_database);
    suite_add_tcase(s, tc);
    return unit_run("test_lockout_sql", s);
}
