/* mob_lockout: failed sign-in counting per account and per client address; a lock that
 * ends however often the owner retries, repeated wrong passwords counted once, and
 * familiar origins kept apart from the rest. */
#include "unit.h"
#include "mob_lockout.h"

#define SIZE  64
#define T0    apr_time_from_sec(1700000000)
#define SEC(n) apr_time_from_sec(n)

#define ALICE "alice@contoso.test"
#define HOME  "198.51.100.7"    /* alice's familiar address, once she signed in there */
#define AWAY  "203.0.113.9"

static mob_lockout_table *table;
static const mob_lockout_policy pol = { 3, apr_time_from_sec(60), apr_time_from_sec(300) };
static const mob_lockout_policy addr_pol = { 5, apr_time_from_sec(60), apr_time_from_sec(300) };
static const mob_lockout_policy off = { 0, apr_time_from_sec(60), apr_time_from_sec(300) };

static void setup(void)
{
    unit_pool_setup();
    table = apr_palloc(pool, mob_lockout_bytes(SIZE));
    mob_lockout_init(table, SIZE);
}

/* A wrong password of its own (never repeated) for user from origin. */
static unsigned fail_pw(const char *user, const char *origin, const char *pw, apr_time_t now)
{
    return mob_lockout_failed(table, user, origin, NULL, pw, &pol, &off, now);
}

static unsigned fail_at(const char *user, const char *origin, apr_time_t now)
{
    static unsigned n;

    return fail_pw(user, origin, apr_psprintf(pool, "guess-%u", n++), now);
}

static int acc_locked(const char *user, const char *origin, apr_time_t now)
{
    return (mob_lockout_check(table, user, origin, NULL, now) & MOB_LOCKOUT_ACCOUNT_LOCKED) != 0;
}

/* Locks user for origin's class at now (threshold failures, one second apart). */
static void lock_at(const char *user, const char *origin, apr_time_t now)
{
    apr_uint32_t i;

    for (i = 1; i < pol.threshold; i++) {
        ck_assert_uint_eq(fail_at(user, origin, now - SEC(pol.threshold - i))
                          & MOB_LOCKOUT_ACCOUNT_LOCKS, 0);
    }
    ck_assert_uint_ne(fail_at(user, origin, now) & MOB_LOCKOUT_ACCOUNT_LOCKS, 0);
    ck_assert(acc_locked(user, origin, now));
}

START_TEST(threshold_locks)
{
    ck_assert(!acc_locked(ALICE, AWAY, T0));
    ck_assert_uint_eq(fail_at(ALICE, AWAY, T0), 0);
    ck_assert_uint_eq(fail_at(ALICE, AWAY, T0 + SEC(1)), 0);
    ck_assert(!acc_locked(ALICE, AWAY, T0 + SEC(1)));
    ck_assert_uint_eq(fail_at(ALICE, AWAY, T0 + SEC(2)), MOB_LOCKOUT_ACCOUNT_LOCKS);
    ck_assert(acc_locked(ALICE, AWAY, T0 + SEC(2)));
    /* any unfamiliar address: the lock is the account's */
    ck_assert(acc_locked(ALICE, "192.0.2.1", T0 + SEC(2)));
    /* others are not affected */
    ck_assert(!acc_locked("bob@contoso.test", AWAY, T0 + SEC(2)));
}
END_TEST

START_TEST(duration_expires)
{
    lock_at(ALICE, AWAY, T0);
    ck_assert(acc_locked(ALICE, AWAY, T0 + pol.duration - 1));
    ck_assert(!acc_locked(ALICE, AWAY, T0 + pol.duration));
    ck_assert(!acc_locked(ALICE, AWAY, T0 + SEC(3600)));
}
END_TEST

/* The defect: every attempt while locked restarted the lock, so a phone retrying on its
 * own never got in. Refused attempts are not failures (the caller calls nothing), and a
 * failure counted while locked (a sign-in that was in flight) does not move the end. */
START_TEST(lock_is_never_extended)
{
    int s;

    lock_at(ALICE, AWAY, T0);
    for (s = 1; s < 60; s += 10) {
        ck_assert_uint_eq(fail_at(ALICE, AWAY, T0 + SEC(s)) & MOB_LOCKOUT_ACCOUNT_LOCKS, 0);
        ck_assert(acc_locked(ALICE, AWAY, T0 + SEC(s)));
    }
    ck_assert(!acc_locked(ALICE, AWAY, T0 + pol.duration));
    mob_lockout_succeeded(table, ALICE, AWAY, NULL, T0 + pol.duration);
    ck_assert(!acc_locked(ALICE, AWAY, T0 + pol.duration));
}
END_TEST

/* Over the threshold, within the forget time, the next counted failure after the lock
 * ended locks again: one guess per lock period. */
START_TEST(relocks_after_expiry)
{
    lock_at(ALICE, AWAY, T0);
    ck_assert_uint_eq(fail_at(ALICE, AWAY, T0 + pol.duration + SEC(1)),
                      MOB_LOCKOUT_ACCOUNT_LOCKS);
    ck_assert(acc_locked(ALICE, AWAY, T0 + pol.duration * 2));
    ck_assert(!acc_locked(ALICE, AWAY, T0 + pol.duration * 2 + SEC(1)));
}
END_TEST

START_TEST(old_failures_forgotten)
{
    ck_assert_uint_eq(fail_at(ALICE, AWAY, T0), 0);
    ck_assert_uint_eq(fail_at(ALICE, AWAY, T0 + SEC(1)), 0);
    /* longer than pol.forget later the count starts again */
    ck_assert_uint_eq(fail_at(ALICE, AWAY, T0 + SEC(400)), 0);
    ck_assert(!acc_locked(ALICE, AWAY, T0 + SEC(400)));
    ck_assert_uint_eq(fail_at(ALICE, AWAY, T0 + SEC(401)), 0);
    ck_assert_uint_eq(fail_at(ALICE, AWAY, T0 + SEC(402)), MOB_LOCKOUT_ACCOUNT_LOCKS);
}
END_TEST

/* A phone retrying a stale saved password: 40 times the same wrong password is one
 * failure, for the account and for the address. */
START_TEST(repeated_password_counts_once)
{
    int i;
    unsigned v;

    for (i = 0; i < 40; i++) {
        v = mob_lockout_failed(table, ALICE, AWAY, NULL, "Summer2025", &pol, &addr_pol,
                               T0 + SEC(i));
        ck_assert_uint_eq(v, i ? MOB_LOCKOUT_REPEATED : 0);
    }
    ck_assert_uint_eq(mob_lockout_check(table, ALICE, AWAY, NULL, T0 + SEC(40)), 0);
    /* two more new passwords lock (3): the 39 repeats did not count */
    ck_assert_uint_eq(fail_at(ALICE, AWAY, T0 + SEC(41)), 0);
    ck_assert_uint_eq(fail_at(ALICE, AWAY, T0 + SEC(42)), MOB_LOCKOUT_ACCOUNT_LOCKS);
    /* the same password on another account is another guess */
    ck_assert_uint_eq(fail_pw("bob@contoso.test", AWAY, "Summer2025", T0 + SEC(43)), 0);
    ck_assert_uint_eq(fail_pw("bob@contoso.test", AWAY, "Summer2025", T0 + SEC(44)),
                      MOB_LOCKOUT_REPEATED);
    /* passwords differing in case or length only are different */
    ck_assert_uint_eq(fail_pw("bob@contoso.test", AWAY, "summer2025", T0 + SEC(45)), 0);
    ck_assert_uint_eq(fail_pw("bob@contoso.test", AWAY, "Summer2025x", T0 + SEC(46)),
                      MOB_LOCKOUT_ACCOUNT_LOCKS);
}
END_TEST

/* Without a password there is nothing to compare: every failure counts. */
START_TEST(no_password_never_repeats)
{
    ck_assert_uint_eq(mob_lockout_failed(table, ALICE, AWAY, NULL, NULL, &pol, &off, T0), 0);
    ck_assert_uint_eq(mob_lockout_failed(table, ALICE, AWAY, NULL, NULL, &pol, &off, T0), 0);
    ck_assert_uint_eq(mob_lockout_failed(table, ALICE, AWAY, NULL, NULL, &pol, &off, T0),
                      MOB_LOCKOUT_ACCOUNT_LOCKS);
}
END_TEST

/* The history is short: the oldest of MOB_LOCKOUT_RECENT + 1 passwords counts again. */
START_TEST(history_is_bounded)
{
    static const mob_lockout_policy many = { 100, apr_time_from_sec(60), apr_time_from_sec(300) };
    int i;

    for (i = 0; i <= MOB_LOCKOUT_RECENT; i++) {
        ck_assert_uint_eq(mob_lockout_failed(table, ALICE, AWAY, NULL, apr_psprintf(pool, "p%d", i),
                                             &many, &off, T0), 0);
    }
    ck_assert_uint_eq(mob_lockout_failed(table, ALICE, AWAY, NULL, "p1", &many, &off, T0),
                      MOB_LOCKOUT_REPEATED);
    /* p1 was just used again: p0 fell out */
    ck_assert_uint_eq(mob_lockout_failed(table, ALICE, AWAY, NULL, "p0", &many, &off, T0), 0);
}
END_TEST

/* A spray from elsewhere locks every unfamiliar address out of the account, not the
 * owner where he signed in before; his own failures there lock him there only. */
START_TEST(familiar_origin_kept_apart)
{
    int i;

    mob_lockout_succeeded(table, ALICE, HOME, NULL, T0);
    ck_assert_uint_eq(mob_lockout_check(table, ALICE, HOME, NULL, T0), MOB_LOCKOUT_FAMILIAR_ORIGIN);
    ck_assert_uint_eq(mob_lockout_check(table, ALICE, AWAY, NULL, T0), 0);
    for (i = 0; i < 40; i++) {
        fail_at(ALICE, apr_psprintf(pool, "203.0.113.%d", i), T0 + SEC(1));
    }
    ck_assert(acc_locked(ALICE, AWAY, T0 + SEC(1)));
    ck_assert(acc_locked(ALICE, "2001:db8::1", T0 + SEC(1)));
    ck_assert_uint_eq(mob_lockout_check(table, ALICE, HOME, NULL, T0 + SEC(1)),
                      MOB_LOCKOUT_FAMILIAR_ORIGIN);
    /* his success at home does not lift the lock on the others */
    mob_lockout_succeeded(table, ALICE, HOME, NULL, T0 + SEC(2));
    ck_assert(acc_locked(ALICE, AWAY, T0 + SEC(2)));
    /* his own failures at home count apart, and lock home only */
    ck_assert_uint_eq(fail_at(ALICE, HOME, T0 + SEC(3)), MOB_LOCKOUT_FAMILIAR_ORIGIN);
    ck_assert_uint_eq(fail_at(ALICE, HOME, T0 + SEC(4)), MOB_LOCKOUT_FAMILIAR_ORIGIN);
    ck_assert_uint_eq(fail_at(ALICE, HOME, T0 + SEC(5)),
                      MOB_LOCKOUT_FAMILIAR_ORIGIN | MOB_LOCKOUT_ACCOUNT_LOCKS);
    ck_assert(acc_locked(ALICE, HOME, T0 + SEC(5)));
    ck_assert(!acc_locked(ALICE, HOME, T0 + SEC(5) + pol.duration));
    ck_assert(acc_locked(ALICE, AWAY, T0 + SEC(60)));
    ck_assert(!acc_locked(ALICE, AWAY, T0 + SEC(61)));
    /* familiarity is per account */
    ck_assert_uint_eq(mob_lockout_check(table, "bob@contoso.test", HOME, NULL, T0), 0);
}
END_TEST

/* A phone changes address all the time: the device identity it carries keeps it
 * familiar wherever it connects from; one it did not get from a sign-in does not. */
START_TEST(familiar_device)
{
    const char *dev = "kX3vQm9TzR2bW8cYhN5pLa";

    mob_lockout_succeeded(table, ALICE, HOME, dev, T0);
    lock_at(ALICE, AWAY, T0 + SEC(10));
    ck_assert_uint_eq(mob_lockout_check(table, ALICE, "192.0.2.80", dev, T0 + SEC(10)),
                      MOB_LOCKOUT_FAMILIAR_ORIGIN);
    ck_assert_uint_eq(mob_lockout_check(table, ALICE, "192.0.2.80", NULL, T0 + SEC(10)),
                      MOB_LOCKOUT_ACCOUNT_LOCKED);
    ck_assert_uint_eq(mob_lockout_check(table, ALICE, "192.0.2.80", "kX3vQm9TzR2bW8cYhN5pLb",
                                        T0 + SEC(10)), MOB_LOCKOUT_ACCOUNT_LOCKED);
    /* a device is not an address, nor the other way round */
    ck_assert_uint_eq(mob_lockout_check(table, ALICE, dev, NULL, T0 + SEC(10)),
                      MOB_LOCKOUT_ACCOUNT_LOCKED);
    ck_assert_uint_eq(mob_lockout_check(table, ALICE, "192.0.2.80", HOME, T0 + SEC(10)),
                      MOB_LOCKOUT_ACCOUNT_LOCKED);
    /* and it is alice's device, not bob's */
    ck_assert_uint_eq(mob_lockout_check(table, "bob@contoso.test", AWAY, dev, T0), 0);
    ck_assert_uint_eq(mob_lockout_failed(table, "bob@contoso.test", AWAY, dev, "x", &pol, &off,
                                         T0), 0);
}
END_TEST

/* A success clears the count of the class it came from only. */
START_TEST(success_clears_own_class)
{
    mob_lockout_succeeded(table, ALICE, HOME, NULL, T0);
    fail_at(ALICE, AWAY, T0 + SEC(1));
    fail_at(ALICE, AWAY, T0 + SEC(2));
    mob_lockout_succeeded(table, ALICE, HOME, NULL, T0 + SEC(3));
    ck_assert_uint_eq(fail_at(ALICE, AWAY, T0 + SEC(4)), MOB_LOCKOUT_ACCOUNT_LOCKS);
    /* a success from a new address clears the unfamiliar count; the address then is
     * familiar */
    fail_at(ALICE, AWAY, T0 + SEC(70));
    mob_lockout_succeeded(table, ALICE, "192.0.2.44", NULL, T0 + SEC(70));
    ck_assert_uint_eq(mob_lockout_check(table, ALICE, "192.0.2.44", NULL, T0 + SEC(71)),
                      MOB_LOCKOUT_FAMILIAR_ORIGIN);
    ck_assert_uint_eq(fail_at(ALICE, AWAY, T0 + SEC(72)), 0);
}
END_TEST

/* An account remembers its MOB_LOCKOUT_FAMILIAR most recent origins. */
START_TEST(familiar_list_is_bounded)
{
    int i;

    for (i = 0; i <= MOB_LOCKOUT_FAMILIAR; i++) {
        mob_lockout_succeeded(table, ALICE, apr_psprintf(pool, "192.0.2.%d", i), NULL,
                              T0 + SEC(i));
    }
    ck_assert_uint_eq(mob_lockout_check(table, ALICE, "192.0.2.0", NULL, T0 + SEC(9)), 0);
    for (i = 1; i <= MOB_LOCKOUT_FAMILIAR; i++) {
        ck_assert_uint_eq(mob_lockout_check(table, ALICE, apr_psprintf(pool, "192.0.2.%d", i), NULL,
                                            T0 + SEC(9)), MOB_LOCKOUT_FAMILIAR_ORIGIN);
    }
}
END_TEST

START_TEST(address_lock)
{
    int i;
    unsigned v = 0;

    /* spraying: one password over many accounts */
    for (i = 0; i < (int)addr_pol.threshold; i++) {
        ck_assert_uint_eq(v & MOB_LOCKOUT_ADDRESS_LOCKS, 0);
        v = mob_lockout_failed(table, apr_psprintf(pool, "user%d@contoso.test", i), AWAY, NULL,
                               "Spring2026!", &pol, &addr_pol, T0);
    }
    ck_assert_uint_eq(v, MOB_LOCKOUT_ADDRESS_LOCKS);
    ck_assert_uint_eq(mob_lockout_check(table, ALICE, AWAY, NULL, T0), MOB_LOCKOUT_ADDRESS_LOCKED);
    ck_assert_uint_eq(mob_lockout_check(table, NULL, AWAY, NULL, T0), MOB_LOCKOUT_ADDRESS_LOCKED);
    ck_assert_uint_eq(mob_lockout_check(table, ALICE, HOME, NULL, T0), 0);
    /* names that cannot be users count against the address */
    for (i = 0; i < (int)addr_pol.threshold - 1; i++) {
        ck_assert_uint_eq(mob_lockout_failed(table, NULL, HOME, NULL, NULL, &pol, &addr_pol, T0),
                          0);
    }
    ck_assert_uint_eq(mob_lockout_failed(table, NULL, HOME, NULL, NULL, &pol, &addr_pol, T0),
                      MOB_LOCKOUT_ADDRESS_LOCKS);
}
END_TEST

/* An attacker guessing many names (each below the threshold) fills the table; the
 * lock on the account under attack must survive, else the flood would unlock it. */
START_TEST(flood_keeps_live_lock)
{
    apr_time_t now = T0;
    int i, round;

    lock_at(ALICE, AWAY, now);
    for (i = 0; i < (int)addr_pol.threshold; i++) {
        mob_lockout_failed(table, NULL, "198.51.100.9", NULL, NULL, &off, &addr_pol, now);
    }
    for (round = 0; round < (int)pol.threshold - 1; round++) {
        for (i = 0; i < 16 * SIZE; i++) {
            now += apr_time_from_msec(1);
            ck_assert_uint_eq(mob_lockout_failed(table,
                                                 apr_psprintf(pool, "user%d@contoso.test", i),
                                                 apr_psprintf(pool, "2001:db8::%x", i), NULL,
                                                 apr_psprintf(pool, "pw%d", round), &pol,
                                                 &addr_pol, now), 0);
        }
    }
    ck_assert_int_lt(now - T0, pol.duration);
    ck_assert(acc_locked(ALICE, AWAY, now));
    ck_assert(mob_lockout_check(table, NULL, "198.51.100.9", NULL, now)
              & MOB_LOCKOUT_ADDRESS_LOCKED);
    /* the lock still ends on time */
    ck_assert(!acc_locked(ALICE, AWAY, T0 + pol.duration));
}
END_TEST

START_TEST(disabled)
{
    int i;

    for (i = 0; i < 10; i++) {
        ck_assert_uint_eq(mob_lockout_failed(table, ALICE, AWAY, NULL, apr_psprintf(pool, "%d", i),
                                             &off, &off, T0 + SEC(i)), 0);
    }
    ck_assert_uint_eq(mob_lockout_check(table, ALICE, AWAY, NULL, T0 + SEC(9)), 0);
}
END_TEST

START_TEST(table_header)
{
    mob_lockout_table *t = apr_pcalloc(pool, mob_lockout_bytes(8));

    ck_assert_uint_eq(mob_lockout_bytes(SIZE), sizeof(mob_lockout_table)
                      + SIZE * sizeof(mob_lockout_entry));
    ck_assert_uint_eq(sizeof(mob_lockout_entry), 160);   /* docs/ARCHITECTURE.md §3 */
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
        ck_assert_uint_eq(mob_lockout_failed(t, ALICE, AWAY, NULL, "x", &pol, &addr_pol, T0), 0);
    }
    ck_assert_uint_eq(mob_lockout_check(t, ALICE, AWAY, NULL, T0), 0);
    mob_lockout_succeeded(t, ALICE, AWAY, NULL, T0);
}
END_TEST

/* The table lives in shared memory: it must not hold the names, addresses or passwords
 * it counts. */
START_TEST(names_not_stored)
{
    const char *leaks[] = { ALICE, "alice", HOME, AWAY, "Summer2025" };
    size_t i;

    mob_lockout_succeeded(table, ALICE, HOME, NULL, T0);
    lock_at(ALICE, AWAY, T0 + SEC(10));
    mob_lockout_failed(table, ALICE, AWAY, NULL, "Summer2025", &pol, &addr_pol, T0 + SEC(11));
    for (i = 0; i < sizeof(leaks) / sizeof(*leaks); i++) {
        ck_assert_ptr_null(memmem(table, mob_lockout_bytes(SIZE), leaks[i], strlen(leaks[i])));
    }
}
END_TEST

/* A pool's Front Ends derive the same secret from the token key they share; it is not
 * the key, and another key gives another secret. */
START_TEST(secret_from_the_token_key)
{
    static const unsigned char key[32] = "0123456789abcdef0123456789abcdef";
    static const unsigned char other[32] = "0123456789abcdef0123456789abcdeF";
    unsigned char a[MOB_LOCKOUT_SECRET], b[MOB_LOCKOUT_SECRET], c[MOB_LOCKOUT_SECRET];

    mob_lockout_secret_derive(key, sizeof(key), a);
    mob_lockout_secret_derive(key, sizeof(key), b);
    mob_lockout_secret_derive(other, sizeof(other), c);
    ck_assert_mem_eq(a, b, sizeof(a));
    ck_assert(memcmp(a, c, sizeof(a)) != 0);
    ck_assert(memcmp(a, key, sizeof(a)) != 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lockout");
    TCase *tc = tcase_create("lockout");

    tcase_add_checked_fixture(tc, setup, unit_pool_teardown);
    tcase_add_test(tc, threshold_locks);
    tcase_add_test(tc, duration_expires);
    tcase_add_test(tc, lock_is_never_extended);
    tcase_add_test(tc, relocks_after_expiry);
    tcase_add_test(tc, old_failures_forgotten);
    tcase_add_test(tc, repeated_password_counts_once);
    tcase_add_test(tc, no_password_never_repeats);
    tcase_add_test(tc, history_is_bounded);
    tcase_add_test(tc, familiar_origin_kept_apart);
    tcase_add_test(tc, familiar_device);
    tcase_add_test(tc, success_clears_own_class);
    tcase_add_test(tc, familiar_list_is_bounded);
    tcase_add_test(tc, address_lock);
    tcase_add_test(tc, flood_keeps_live_lock);
    tcase_add_test(tc, disabled);
    tcase_add_test(tc, table_header);
    tcase_add_test(tc, empty_table);
    tcase_add_test(tc, names_not_stored);
    tcase_add_test(tc, secret_from_the_token_key);
    suite_add_tcase(s, tc);
    return unit_run("test_lockout", s);
}
