/* common/ucwa/ucwa_workhours: a user's work hours (activePeriod Workhours) parsed and
 * evaluated in their time zone by the C library's tz database: DST edges in both
 * directions, days outside, hours past midnight, zones whose day is not UTC's; the row of
 * ucwa_work_hours; ucwa_snr_in_period. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "unit_sqlite.h"
#include "ucwa_callfwd.h"
#include "ucwa_schema.h"
#include "ucwa_snr.h"
#include "ucwa_workhours.h"

/* seconds of a UTC time "YYYY-MM-DD HH:MM" */
static time_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    return timegm(&tm);
}

static ucwa_workhours hours(const char *spec, const char *zone)
{
    ucwa_workhours w;
    const char *err = ucwa_workhours_parse_spec(pool, spec, zone, &w);

    ck_assert_msg(err == NULL, "%s %s: %s", spec, zone, err);
    return w;
}

START_TEST(office_hours_across_dst)
{
    ucwa_workhours w = hours("Mon-Fri 08:00-17:00", "Europe/London");

    ck_assert_int_eq(w.days, 0x3e);
    /* GMT in March: 07:30 UTC is 07:30, before; 08:00 is the start (within); 17:00 the end */
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 3, 23, 7, 30)), 0);
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 3, 23, 8, 0)), 1);
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 3, 23, 16, 59)), 1);
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 3, 23, 17, 0)), 0);
    /* BST from 29 March: the same UTC times are an hour later */
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 3, 30, 7, 30)), 1);
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 3, 30, 16, 30)), 0);
    /* and back to GMT on 25 October */
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 10, 23, 7, 30)), 1);
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 10, 26, 7, 30)), 0);
    /* a day outside: Saturday at noon */
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 3, 28, 12, 0)), 0);
    /* New York: EDT from 8 March */
    w = hours("Mon-Fri 08:00-17:00", "America/New_York");
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 3, 2, 12, 30)), 0);
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 3, 9, 12, 30)), 1);
}
END_TEST

START_TEST(the_zone_decides_the_day)
{
    ucwa_workhours w = hours("Mon-Fri 08:00-17:00", "Pacific/Auckland");

    /* Friday 22:00 UTC is Saturday 11:00 in Auckland (NZDT): outside; Sunday 21:00 UTC
     * is Monday 10:00 there: within */
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 1, 9, 22, 0)), 0);
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 1, 11, 21, 0)), 1);
}
END_TEST

START_TEST(the_hours_of_a_dst_change)
{
    /* London, 29 March 2026: 01:00 GMT becomes 02:00 BST (01:00-02:00 never happens) */
    ucwa_workhours w = hours("Sun 01:30-03:00", "Europe/London");

    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 3, 29, 0, 59)), 0);   /* 00:59 GMT */
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 3, 29, 1, 0)), 1);    /* 02:00 BST */
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 3, 29, 2, 0)), 0);    /* 03:00 BST */
    /* 25 October 2026: 02:00 BST becomes 01:00 GMT (01:00-02:00 happens twice) */
    w = hours("Sun 01:00-02:00", "Europe/London");
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 10, 24, 23, 59)), 0); /* 00:59 BST */
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 10, 25, 0, 30)), 1);  /* 01:30 BST */
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 10, 25, 1, 30)), 1);  /* 01:30 GMT */
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 10, 25, 2, 0)), 0);   /* 02:00 GMT */
}
END_TEST

START_TEST(midnight)
{
    /* night shifts: Friday's run into Saturday morning; Sunday is not a day, so Monday
     * morning is outside */
    ucwa_workhours w = hours("Mon-Fri 22:00-06:00", "UTC");

    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 1, 16, 23, 30)), 1);  /* Fri */
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 1, 17, 0, 0)), 1);    /* Sat */
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 1, 17, 5, 59)), 1);
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 1, 17, 6, 0)), 0);
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 1, 17, 22, 30)), 0);
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 1, 19, 5, 0)), 0);    /* Mon */
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 1, 19, 22, 0)), 1);
    /* whole days: 24:00 is the end of the day */
    w = hours("Mon-Fri 00:00-24:00", "UTC");
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 1, 16, 23, 59)), 1);
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 1, 17, 0, 0)), 0);
    ck_assert_int_eq(ucwa_workhours_within(&w, utc(2026, 1, 19, 0, 0)), 1);
}
END_TEST

START_TEST(parsing)
{
    ucwa_workhours w;
    const char *old;

    ck_assert_int_eq(hours("fri-mon 09:00-12:00", "UTC").days, 0x63);   /* wraps */
    ck_assert_int_eq(hours("Mon,Wed,Sat-Sun 09:00-12:00", "UTC").days, 0x4b);
    ck_assert_int_eq(hours("Tue   09:00-12:00", "Europe/London").start, 9 * 60);
    ck_assert_ptr_nonnull(ucwa_workhours_parse_spec(pool, "Mon-Fro 08:00-17:00", "UTC", &w));
    ck_assert_ptr_nonnull(ucwa_workhours_parse_spec(pool, "Mon- 08:00-17:00", "UTC", &w));
    ck_assert_ptr_nonnull(ucwa_workhours_parse_spec(pool, "Mon, 08:00-17:00", "UTC", &w));
    ck_assert_ptr_nonnull(ucwa_workhours_parse_spec(pool, "Mon-Fri", "UTC", &w));
    ck_assert_ptr_nonnull(ucwa_workhours_parse_spec(pool, "Mon 08:00-08:00", "UTC", &w));
    ck_assert_ptr_nonnull(ucwa_workhours_parse_spec(pool, "Mon 8:00-17:00", "UTC", &w));
    ck_assert_ptr_nonnull(ucwa_workhours_parse_spec(pool, "Mon 24:00-01:00", "UTC", &w));
    ck_assert_ptr_nonnull(ucwa_workhours_parse_spec(pool, "Mon 08:00-00:00", "UTC", &w));
    ck_assert_ptr_nonnull(ucwa_workhours_parse_spec(pool, "Mon 08:60-17:00", "UTC", &w));
    ck_assert_ptr_nonnull(ucwa_workhours_parse_spec(pool, "Mon 08:00-24:01", "UTC", &w));
    ck_assert_ptr_nonnull(ucwa_workhours_parse_spec(pool, "Mon 08:00-17:00", "Nowhere/City",
                                                    &w));
    ck_assert_ptr_nonnull(ucwa_workhours_parse_spec(pool, "Mon 08:00-17:00", "../../etc/passwd",
                                                    &w));
    ck_assert_ptr_nonnull(ucwa_workhours_parse_spec(pool, "Mon 08:00-17:00", "/etc/localtime",
                                                    &w));
    ck_assert_ptr_nonnull(ucwa_workhours_parse_spec(pool, "Mon 08:00-17:00", "", &w));
    ck_assert_ptr_nonnull(ucwa_workhours_parse_spec(pool, NULL, "UTC", &w));
    ck_assert_int_eq(ucwa_workhours_within(NULL, 0), -1);
    /* TZ is put back as it was, set or not */
    old = getenv("TZ");
    w = hours("Mon-Fri 08:00-17:00", "Europe/London");
    setenv("TZ", "America/Chicago", 1);
    (void)ucwa_workhours_within(&w, utc(2026, 1, 16, 12, 0));
    ck_assert_str_eq(getenv("TZ"), "America/Chicago");
    unsetenv("TZ");
    (void)ucwa_workhours_within(&w, utc(2026, 1, 16, 12, 0));
    ck_assert_ptr_null(getenv("TZ"));
    if (old) {
        setenv("TZ", old, 1);
    }
}
END_TEST

static ucwa_db db;

static void db_setup(void)
{
    ucwa_schema_result res;
    const char *err = NULL;

    unit_sqlite_open("ucwa-workhours", "w.db", &db);
    ck_assert_int_eq(ucwa_schema_migrate(pool, db.driver, db.handle, apr_time_now(), &res,
                                         &err), APR_SUCCESS);
}

static void db_teardown(void)
{
    unit_sqlite_close(&db);
}

START_TEST(rows_and_the_active_period)
{
    ucwa_workhours w;
    ucwa_callfwd f;
    const char *bad;
    int n;

    ck_assert_int_eq(apr_dbd_query(db.driver, db.handle, &n,
                                   "INSERT INTO ucwa_work_hours VALUES ('alice@x.test', "
                                   "'Mon-Fri', '22:00', '06:00', 'Asia/Tokyo')"), 0);
    ck_assert_int_eq(apr_dbd_query(db.driver, db.handle, &n,
                                   "INSERT INTO ucwa_work_hours VALUES ('bob@x.test', "
                                   "'Mon-Fri', '08:00', '17:00', 'Mars/Olympus')"), 0);
    ck_assert_int_eq(ucwa_workhours_get(&db, pool, "alice@x.test", &w, &bad), 1);
    ck_assert_ptr_null(bad);
    ck_assert_str_eq(w.zone, "Asia/Tokyo");
    ck_assert_int_eq(w.start, 22 * 60);
    ck_assert_int_eq(w.end, 6 * 60);
    ck_assert_int_eq(ucwa_workhours_get(&db, pool, "bob@x.test", &w, &bad), 0);
    ck_assert_ptr_nonnull(bad);
    ck_assert_int_eq(ucwa_workhours_get(&db, pool, "carol@x.test", &w, &bad), 0);
    ck_assert_ptr_null(bad);
    /* Always is in force at any time; Workhours within the hours only */
    ucwa_callfwd_defaults(&f);
    w = hours("Mon-Fri 08:00-17:00", "UTC");
    ck_assert_int_eq(ucwa_snr_in_period(&f, &w, utc(2026, 1, 17, 12, 0)), 1);
    f.active_period = "Workhours";
    ck_assert_int_eq(ucwa_snr_in_period(&f, &w, utc(2026, 1, 17, 12, 0)), 0);
    ck_assert_int_eq(ucwa_snr_in_period(&f, &w, utc(2026, 1, 16, 12, 0)), 1);
    ck_assert_int_eq(ucwa_snr_in_period(&f, NULL, utc(2026, 1, 16, 12, 0)), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_workhours");
    TCase *tc = unit_tcase("ucwa_workhours");
    tcase_add_test(tc, office_hours_across_dst);
    tcase_add_test(tc, the_zone_decides_the_day);
    tcase_add_test(tc, the_hours_of_a_dst_change);
    tcase_add_test(tc, midnight);
    tcase_add_test(tc, parsing);
    suite_add_tcase(s, tc);
    tc = tcase_create("ucwa_workhours_sql");
    tcase_add_checked_fixture(tc, db_setup, db_teardown);
    tcase_add_test(tc, rows_and_the_active_period);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_workhours", s);
}
