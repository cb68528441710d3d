/* mob_lockout: failed sign-in counting per account and per client address. */
#include "unit.h"
#include "mob_lockout.h"

#define SIZE  64
#define T0    apr_time_from_sec(1700000000)
#define SEC(n) apr_time_from_sec(n)

static mob_lockout_table *table;
static const mob_lockout_policy pol = { 3, apr_time_from_sec(60), apr_time_from_sec(300) };

static void setup(void)
{
    unit_pool_setup();
    table = apr_palloc(pool, mob_lockout_bytes(SIZE));
    mob_lockout_init(table, SIZE);
}

static int fail_at(mob_lock_kind k, const char *name, apr_time_t now)
{
    return mob_lockout_fail(table, k, name, &pol, now);
}

static int is_locked(mob_lock_kind k, const char *name, apr_time_t now)
{
    return mob_lockout_locked(table, k, name, now);
}

/* Locks name at now (threshold failures, one second apart, ending at now). */
static void lock_at(mob_lock_kind k, const char *name, apr_time_t now)
{
    apr_uint32_t i;

    for (i = 1; i < pol.threshold; i++) {
        ck_assert_int_eq(fail_at(k, name, now - SEC(pol.threshold - i)), 0);
    }
    ck_assert_int_eq(fail_at(k, name, now), 1);
    ck_assert(is_locked(k, name, now));
}

START_TEST(threshold_locks)
{
    ck_assert(!is_locked(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0));
    ck_assert_int_eq(fail_at(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0), 0);
    ck_assert_int_eq(fail_at(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(1)), 0);
    ck_assert(!is_locked(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(1)));
    ck_assert_int_eq(fail_at(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(2)), 1);
    ck_assert(is_locked(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(2)));
    /* others are not affected */
    ck_assert(!is_locked(MOB_LOCK_ACCOUNT, "bob@contoso.test", T0 + SEC(2)));
}
END_TEST

START_TEST(duration_expires)
{
    lock_at(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0);
    ck_assert(is_locked(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + pol.duration - 1));
    ck_assert(!is_locked(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + pol.duration));
    ck_assert(!is_locked(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(3600)));
}
END_TEST

START_TEST(failure_while_locked_extends)
{
    lock_at(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0);
    ck_assert_int_eq(fail_at(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(50)), 1);
    ck_assert(is_locked(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(100)));
    ck_assert(!is_locked(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(50) + pol.duration));
}
END_TEST

START_TEST(old_failures_forgotten)
{
    ck_assert_int_eq(fail_at(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0), 0);
    ck_assert_int_eq(fail_at(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(1)), 0);
    /* longer than pol.forget later the count starts again */
    ck_assert_int_eq(fail_at(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(400)), 0);
    ck_assert(!is_locked(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(400)));
    ck_assert_int_eq(fail_at(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(401)), 0);
    ck_assert_int_eq(fail_at(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(402)), 1);
}
END_TEST

START_TEST(clear_resets)
{
    ck_assert_int_eq(fail_at(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0), 0);
    ck_assert_int_eq(fail_at(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(1)), 0);
    mob_lockout_clear(table, MOB_LOCK_ACCOUNT, "alice@contoso.test");
    /* a successful sign-in forgets the earlier failures */
    ck_assert_int_eq(fail_at(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(2)), 0);
    ck_assert_int_eq(fail_at(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(3)), 0);
    ck_assert(!is_locked(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(3)));
    /* and an administrator's clear lifts a lock */
    ck_assert_int_eq(fail_at(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(4)), 1);
    ck_assert(is_locked(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(4)));
    mob_lockout_clear(table, MOB_LOCK_ACCOUNT, "alice@contoso.test");
    ck_assert(!is_locked(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(4)));
    /* clearing what is not there is harmless */
    mob_lockout_clear(table, MOB_LOCK_ADDRESS, "192.0.2.1");
}
END_TEST

START_TEST(kinds_independent)
{
    lock_at(MOB_LOCK_ACCOUNT, "192.0.2.7", T0);
    ck_assert(!is_locked(MOB_LOCK_ADDRESS, "192.0.2.7", T0));
    lock_at(MOB_LOCK_ADDRESS, "alice@contoso.test", T0);
    ck_assert(is_locked(MOB_LOCK_ACCOUNT, "192.0.2.7", T0));
    mob_lockout_clear(table, MOB_LOCK_ADDRESS, "192.0.2.7");
    ck_assert(is_locked(MOB_LOCK_ACCOUNT, "192.0.2.7", T0));
    mob_lockout_clear(table, MOB_LOCK_ACCOUNT, "alice@contoso.test");
    ck_assert(is_locked(MOB_LOCK_ADDRESS, "alice@contoso.test", T0));
    /* failures of one kind do not count towards the other */
    ck_assert_int_eq(fail_at(MOB_LOCK_ACCOUNT, "bob@contoso.test", T0), 0);
    ck_assert_int_eq(fail_at(MOB_LOCK_ADDRESS, "bob@contoso.test", T0), 0);
    ck_assert_int_eq(fail_at(MOB_LOCK_ACCOUNT, "bob@contoso.test", T0), 0);
    ck_assert_int_eq(fail_at(MOB_LOCK_ADDRESS, "bob@contoso.test", T0), 0);
    ck_assert(!is_locked(MOB_LOCK_ACCOUNT, "bob@contoso.test", T0));
}
END_TEST

/* An attacker guessing many names (each below the threshold) fills the table; the
 * lock on the account under attack must survive, else the flood would unlock it. */
START_TEST(flood_keeps_live_lock)
{
    apr_time_t now = T0;
    int i, round;

    lock_at(MOB_LOCK_ACCOUNT, "alice@contoso.test", now);
    lock_at(MOB_LOCK_ADDRESS, "198.51.100.9", now);
    for (round = 0; round < (int)pol.threshold - 1; round++) {
        for (i = 0; i < 16 * SIZE; i++) {
            now += apr_time_from_msec(1);
            ck_assert_int_eq(fail_at(MOB_LOCK_ACCOUNT, apr_psprintf(pool, "user%d@contoso.test", i),
                                  now), 0);
            ck_assert_int_eq(fail_at(MOB_LOCK_ADDRESS, apr_psprintf(pool, "2001:db8::%x", i), now),
                             0);
        }
    }
    ck_assert_int_lt(now - T0, pol.duration);
    ck_assert(is_locked(MOB_LOCK_ACCOUNT, "alice@contoso.test", now));
    ck_assert(is_locked(MOB_LOCK_ADDRESS, "198.51.100.9", now));
    /* the lock still ends on time */
    ck_assert(!is_locked(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + pol.duration));
}
END_TEST

START_TEST(disabled)
{
    mob_lockout_policy off = pol;
    int i;

    off.threshold = 0;
    for (i = 0; i < 10; i++) {
        ck_assert_int_eq(mob_lockout_fail(table, MOB_LOCK_ACCOUNT, "alice@contoso.test", &off,
                                          T0 + SEC(i)), 0);
    }
    ck_assert(!is_locked(MOB_LOCK_ACCOUNT, "alice@contoso.test", T0 + SEC(9)));
}
END_TEST

START_TEST(table_header)
{
    mob_lockout_table *t = apr_pcalloc(pool, mob_lockout_bytes(8));

    ck_assert_uint_eq(mob_lockout_bytes(SIZE), sizeof(mob_lockout_table)
                      + SIZE * sizeof(mob_lockout_entry));
    ck_assert(mob_lockout_valid(table, SIZE));
    ck_assert(!mob_lockout_valid(table, SIZE + 1));
    /* zeroed (fresh shared memory) is not a table */
    ck_assert(!mob_lockout_valid(t, 8));
    mob_lockout_init(t, 8);
    ck_assert(mob_lockout_valid(t, 8));
}
END_TEST

START_TEST(empty_table)
{
    mob_lockout_table *t = apr_palloc(pool, mob_lockout_bytes(0));
    int i;

    mob_lockout_init(t, 0);
    for (i = 0; i < 5; i++) {
        ck_assert_int_eq(mob_lockout_fail(t, MOB_LOCK_ACCOUNT, "alice@contoso.test", &pol, T0), 0);
    }
    ck_assert(!mob_lockout_locked(t, MOB_LOCK_ACCOUNT, "alice@contoso.test", T0));
    mob_lockout_clear(t, MOB_LOCK_ACCOUNT, "alice@contoso.test");
}
END_TEST

/* The table lives in shared memory: it must not hold the names it counts. */
START_TEST(names_not_stored)
{
    const char *name = "alice@contoso.test";

    lock_at(MOB_LOCK_ACCOUNT, name, T0);
    ck_assert_ptr_null(memmem(table, mob_lockout_bytes(SIZE), name, strlen(name)));
    ck_assert_ptr_null(memmem(table, mob_lockout_bytes(SIZE), "alice", 5));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lockout");
    TCase *tc = tcase_create("lockout");

    tcase_add_checked_fixture(tc, setup, unit_pool_teardown);
    tcase_add_test(tc, threshold_locks);
    tcase_add_test(tc, duration_expires);
    tcase_add_test(tc, failure_while_locked_extends);
    tcase_add_test(tc, old_failures_forgotten);
    tcase_add_test(tc, clear_resets);
    tcase_add_test(tc, kinds_independent);
    tcase_add_test(tc, flood_keeps_live_lock);
    tcase_add_test(tc, disabled);
    tcase_add_test(tc, table_header);
    tcase_add_test(tc, empty_table);
    tcase_add_test(tc, names_not_stored);
    suite_add_tcase(s, tc);
    return unit_run("test_lockout", s);
}
