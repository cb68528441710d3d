/* ucwa_query: the event request's query (ack, timeout, low, medium, priority), the
 * number rules, the clamping and the sticky values. */
#include "unit.h"
#include "ucwa_query.h"

/* the module's defaults: timeout in [180, 1800], 180 when never given */
#define TMIN 180
#define TMAX 1800
#define TDEF 180

static ucwa_event_params ev;

/* args accepted with no sticky value */
static void ok(const char *args)
{
    const char *why;

    memset(&ev, 0, sizeof(ev));
    why = ucwa_query_events(pool, args, TMIN, TMAX, TDEF, &ev);
    ck_assert_msg(why == NULL, "'%s' refused: %s", args ? args : "(null)", why);
}

/* args refused with the reason that mentions what; *out left alone */
static void bad(const char *args, const char *what)
{
    const char *why;
    ucwa_event_params before;

    memset(&ev, 0x5a, sizeof(ev));
    before = ev;
    why = ucwa_query_events(pool, args, TMIN, TMAX, TDEF, &ev);
    ck_assert_msg(why != NULL, "'%s' accepted", args ? args : "(null)");
    ck_assert_msg(strstr(why, what) != NULL, "'%s': '%s' does not mention '%s'",
                  args ? args : "(null)", why, what);
    ck_assert_msg(memcmp(&ev, &before, sizeof(ev)) == 0, "'%s': refused but out changed", args);
}

START_TEST(defaults)
{
    ok("ack=1");
    ck_assert_uint_eq(ev.ack, 1);
    ck_assert_uint_eq(ev.timeout, TDEF);
    ck_assert_uint_eq(ev.low, UCWA_QUERY_LOW_DEFAULT);
    ck_assert_uint_eq(ev.medium, UCWA_QUERY_MEDIUM_DEFAULT);
    ck_assert_uint_eq(ev.priority, 0);
}
END_TEST

START_TEST(all_given)
{
    ok("ack=42&timeout=900&low=30&medium=10&priority=7");
    ck_assert_uint_eq(ev.ack, 42);
    ck_assert_uint_eq(ev.timeout, 900);
    ck_assert_uint_eq(ev.low, 30);
    ck_assert_uint_eq(ev.medium, 10);
    ck_assert_uint_eq(ev.priority, 7);
    /* names in any case, a repeated name keeps its first value */
    ok("ACK=5&Timeout=200&ack=6&timeout=300");
    ck_assert_uint_eq(ev.ack, 5);
    ck_assert_uint_eq(ev.timeout, 200);
    /* other parameters are ignored */
    ok("x=y&ack=3&callback=z");
    ck_assert_uint_eq(ev.ack, 3);
}
END_TEST

START_TEST(ack_rules)
{
    ok("ack=4294967295");
    ck_assert_uint_eq(ev.ack, 4294967295u);
    ok("ack=007");
    ck_assert_uint_eq(ev.ack, 7);
    bad(NULL, "ack");
    bad("", "ack");
    bad("timeout=200", "ack");
    bad("ack=", "ack");
    bad("ack=0", "ack");
    bad("ack=-1", "ack");
    bad("ack=4294967296", "ack");
    bad("ack=99999999999999999999999", "ack");
    bad("ack=1x", "ack");
    bad("ack=0x10", "ack");
    bad("ack=1.0", "ack");
    bad("ack=%201%20", "ack");   /* a trailing space */
    bad("ack", "ack");
}
END_TEST

START_TEST(number_rules)
{
    bad("ack=1&timeout=", "numbers");
    bad("ack=1&timeout=-5", "numbers");
    bad("ack=1&timeout=4294967296", "numbers");
    bad("ack=1&low=abc", "numbers");
    bad("ack=1&medium=1e3", "numbers");
    bad("ack=1&priority=1000001", "numbers");
    bad("ack=1&priority=-1", "numbers");
    ok("ack=1&priority=1000000");
    ck_assert_uint_eq(ev.priority, 1000000);
    ok("ack=1&priority=0");
    ck_assert_uint_eq(ev.priority, 0);
    /* the form layer refuses before the numbers are looked at */
    bad("ack=1&low=%ZZ", "malformed");
    bad("ack=1&x=%00", "malformed");
}
END_TEST

START_TEST(clamping)
{
    ok("ack=1&timeout=0&low=0&medium=0");
    ck_assert_uint_eq(ev.timeout, TMIN);
    ck_assert_uint_eq(ev.low, UCWA_QUERY_WINDOW_MIN);
    ck_assert_uint_eq(ev.medium, UCWA_QUERY_WINDOW_MIN);
    ok("ack=1&timeout=4294967295&low=4294967295&medium=1801");
    ck_assert_uint_eq(ev.timeout, TMAX);
    ck_assert_uint_eq(ev.low, UCWA_QUERY_WINDOW_MAX);
    ck_assert_uint_eq(ev.medium, UCWA_QUERY_WINDOW_MAX);
    ok("ack=1&timeout=179&low=4&medium=1800");
    ck_assert_uint_eq(ev.timeout, TMIN);
    ck_assert_uint_eq(ev.low, 5);
    ck_assert_uint_eq(ev.medium, 1800);
}
END_TEST

START_TEST(sticky)
{
    const char *why;

    /* the previous request's values apply when the query leaves them out */
    ev.timeout = 600;
    ev.low = 60;
    ev.medium = 20;
    ev.priority = 99;
    why = ucwa_query_events(pool, "ack=9", TMIN, TMAX, TDEF, &ev);
    ck_assert_ptr_null(why);
    ck_assert_uint_eq(ev.ack, 9);
    ck_assert_uint_eq(ev.timeout, 600);
    ck_assert_uint_eq(ev.low, 60);
    ck_assert_uint_eq(ev.medium, 20);
    ck_assert_uint_eq(ev.priority, 0);   /* priority is not sticky */
    /* and a given value replaces them */
    why = ucwa_query_events(pool, "ack=10&medium=7", TMIN, TMAX, TDEF, &ev);
    ck_assert_ptr_null(why);
    ck_assert_uint_eq(ev.timeout, 600);
    ck_assert_uint_eq(ev.low, 60);
    ck_assert_uint_eq(ev.medium, 7);
    /* sticky values are clamped too (the range may have changed since) */
    ev.timeout = 5000;
    ev.low = 1;
    ev.medium = 9000;
    why = ucwa_query_events(pool, "ack=10", TMIN, TMAX, TDEF, &ev);
    ck_assert_ptr_null(why);
    ck_assert_uint_eq(ev.timeout, TMAX);
    ck_assert_uint_eq(ev.low, 5);
    ck_assert_uint_eq(ev.medium, 1800);
    /* the configured default is clamped as well */
    memset(&ev, 0, sizeof(ev));
    why = ucwa_query_events(pool, "ack=1", 10, 20, 60, &ev);
    ck_assert_ptr_null(why);
    ck_assert_uint_eq(ev.timeout, 20);
}
END_TEST

START_TEST(limit)
{
    apr_uint32_t n = 7;

    ck_assert_ptr_null(ucwa_query_limit(pool, NULL, 50, 100, &n));
    ck_assert_uint_eq(n, 50);
    ck_assert_ptr_null(ucwa_query_limit(pool, "limit=3&x=y", 50, 100, &n));
    ck_assert_uint_eq(n, 3);
    ck_assert_ptr_null(ucwa_query_limit(pool, "LIMIT=4000000000", 50, 100, &n));
    ck_assert_uint_eq(n, 100);
    n = 7;
    ck_assert_str_eq(ucwa_query_limit(pool, "limit=0", 50, 100, &n),
                     "limit must be a positive number");
    ck_assert_ptr_nonnull(ucwa_query_limit(pool, "limit=x", 50, 100, &n));
    ck_assert_ptr_nonnull(ucwa_query_limit(pool, "limit=-1", 50, 100, &n));
    ck_assert_ptr_nonnull(ucwa_query_limit(pool, "limit=4294967296", 50, 100, &n));
    ck_assert_str_eq(ucwa_query_limit(pool, "limit=%zz", 50, 100, &n), "malformed query");
    ck_assert_uint_eq(n, 7);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_query");
    TCase *tc = unit_tcase("ucwa_query");

    tcase_add_test(tc, defaults);
    tcase_add_test(tc, all_given);
    tcase_add_test(tc, ack_rules);
    tcase_add_test(tc, number_rules);
    tcase_add_test(tc, clamping);
    tcase_add_test(tc, sticky);
    tcase_add_test(tc, limit);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_query", s);
}
