/* common/ucwa/ucwa_snr: what an incoming call does from the user's call forwarding
 * settings and voice policy (simultaneous ring, immediate and unanswered forward, the
 * policy's gates, routes), the user of a work number (LineURI in SQL), a caller from the
 * PSTN shown as its number. */
#include <apr_strings.h>

#include "unit_sqlite.h"
#include "ucwa_callfwd.h"
#include "ucwa_schema.h"
#include "ucwa_snr.h"
#include "ucwa_voice.h"

static ucwa_db db;

static void setup(void)
{
    ucwa_schema_result res;
    const char *err = NULL;

    unit_sqlite_open("ucwa-snr", "s.db", &db);
    ck_assert_int_eq(ucwa_schema_migrate(pool, db.driver, db.handle, apr_time_now(), &res,
                                         &err), APR_SUCCESS);
}

static void teardown(void)
{
    unit_sqlite_close(&db);
}

static void sql(const char *s)
{
    int n;

    ck_assert_msg(apr_dbd_query(db.driver, db.handle, &n, s) == 0, "%s: %s", s,
                  apr_dbd_error(db.driver, db.handle, 0));
}

/* A user with a voice policy routing +1555xxxxxxx to gateway set 3 (after a name). */
static ucwa_voice_user voice(int allow_fwd, int allow_simring)
{
    ucwa_voice_user vu;

    memset(&vu, 0, sizeof(vu));
    vu.policy = apr_pcalloc(pool, sizeof(*vu.policy));
    vu.policy->identity = "Global";
    vu.policy->usages = ucwa_voice_list(pool, "Local", NULL);
    vu.policy->allow_call_forwarding = allow_fwd;
    vu.policy->allow_simultaneous_ring = allow_simring;
    vu.routes = ucwa_voice_routes_make(pool);
    ck_assert_ptr_null(ucwa_voice_routes_add(vu.routes, pool, "Mobiles", 1,
                                             "^\\+1555\\d{7}$", "Local", "gw-a;3;4"));
    return vu;
}

START_TEST(no_settings_rings_the_apps)
{
    ucwa_callfwd f;
    ucwa_voice_user vu = voice(1, 1), none;
    ucwa_snr_plan plan;

    ucwa_callfwd_defaults(&f);
    ucwa_snr_decide(&f, &vu, pool, &plan);
    ck_assert_int_eq(plan.ring_apps, 1);
    ck_assert_ptr_null(plan.simring.uri);
    ck_assert_ptr_null(plan.forward.uri);
    /* not enabled for Enterprise Voice: stored settings are not acted on */
    f.active_setting = "SimultaneousRing";
    f.simring_target = "Contact";
    f.simring_uri = "tel:+15551230199";
    memset(&none, 0, sizeof(none));
    ucwa_snr_decide(&f, &none, pool, &plan);
    ck_assert_int_eq(plan.ring_apps, 1);
    ck_assert_ptr_null(plan.simring.uri);
}
END_TEST

START_TEST(simultaneous_ring_and_unanswered)
{
    ucwa_callfwd f;
    ucwa_voice_user vu = voice(1, 1);
    ucwa_snr_plan plan;

    ucwa_callfwd_defaults(&f);
    f.active_setting = "SimultaneousRing";
    f.simring_target = "Contact";
    f.simring_uri = "tel:+15551230199";
    f.simring_delay = 5;
    f.unanswered_enabled = 1;
    f.unanswered_target = "Contact";
    f.unanswered_uri = "sip:bob@x.test";
    f.unanswered_delay = 20;
    ucwa_snr_decide(&f, &vu, pool, &plan);
    ck_assert_int_eq(plan.ring_apps, 1);
    ck_assert_int_eq(plan.immediate, 0);
    ck_assert_str_eq(plan.simring.uri, "tel:+15551230199");
    ck_assert_str_eq(plan.simring.gw_set, "3");      /* the first numeric gateway */
    ck_assert_int_eq(plan.simring.delay_ms, 5000);
    ck_assert_str_eq(plan.forward.uri, "sip:bob@x.test");
    ck_assert_ptr_null(plan.forward.gw_set);
    ck_assert_int_eq(plan.forward.delay_ms, 20000);
    ck_assert_ptr_null(plan.skipped);
}
END_TEST

START_TEST(immediate_forward)
{
    ucwa_callfwd f;
    ucwa_voice_user vu = voice(1, 1);
    ucwa_snr_plan plan;

    ucwa_callfwd_defaults(&f);
    f.active_setting = "ImmediateForward";
    f.immediate_target = "Contact";
    f.immediate_uri = "tel:+15551230199";
    ucwa_snr_decide(&f, &vu, pool, &plan);
    ck_assert_int_eq(plan.ring_apps, 0);
    ck_assert_int_eq(plan.immediate, 1);
    ck_assert_str_eq(plan.forward.uri, "tel:+15551230199");
    ck_assert_int_eq(plan.forward.delay_ms, 0);
}
END_TEST

START_TEST(policy_gates_and_routes)
{
    ucwa_callfwd f;
    ucwa_voice_user vu = voice(0, 1);
    ucwa_snr_plan plan;

    ucwa_callfwd_defaults(&f);
    f.active_setting = "ImmediateForward";
    f.immediate_target = "Contact";
    f.immediate_uri = "tel:+15551230199";
    ucwa_snr_decide(&f, &vu, pool, &plan);   /* AllowCallForwarding off */
    ck_assert_int_eq(plan.ring_apps, 1);
    ck_assert_ptr_null(plan.forward.uri);
    ck_assert_ptr_nonnull(strstr(plan.skipped, "call forwarding"));

    f.active_setting = "SimultaneousRing";
    f.simring_target = "Contact";
    f.simring_uri = "tel:+15551230199";
    f.unanswered_enabled = 1;
    f.unanswered_target = "Contact";
    f.unanswered_uri = "tel:+15551230198";
    ucwa_snr_decide(&f, &vu, pool, &plan);   /* simultaneous ring yes, unanswered no */
    ck_assert_str_eq(plan.simring.uri, "tel:+15551230199");
    ck_assert_ptr_null(plan.forward.uri);

    vu = voice(1, 0);
    ucwa_snr_decide(&f, &vu, pool, &plan);   /* AllowSimultaneousRing off */
    ck_assert_ptr_null(plan.simring.uri);
    ck_assert_str_eq(plan.forward.uri, "tel:+15551230198");

    vu = voice(1, 1);
    f.simring_uri = "tel:+4930123456";       /* no route any more */
    ucwa_snr_decide(&f, &vu, pool, &plan);
    ck_assert_ptr_null(plan.simring.uri);
    ck_assert_ptr_nonnull(strstr(plan.skipped, "no route"));

    /* the user's own number (with an extension too): not called, it would come back */
    vu.line_uri = "tel:+15551230199;ext=199";
    f.simring_uri = "tel:+15551230199";
    ucwa_snr_decide(&f, &vu, pool, &plan);
    ck_assert_ptr_null(plan.simring.uri);
    ck_assert_ptr_nonnull(strstr(plan.skipped, "own number"));
    vu.line_uri = "tel:+155512301990";       /* a longer number is another one */
    ucwa_snr_decide(&f, &vu, pool, &plan);
    ck_assert_str_eq(plan.simring.uri, "tel:+15551230199");
}
END_TEST

START_TEST(numbers_and_callers)
{
    const char *a, *n;

    ck_assert_str_eq(ucwa_snr_number(pool, "+15550100", 0), "+15550100");
    ck_assert_str_eq(ucwa_snr_number(pool, "15550100", 1), "+15550100");
    ck_assert_ptr_null(ucwa_snr_number(pool, "15550100", 0));   /* a user called 1555... */
    ck_assert_ptr_null(ucwa_snr_number(pool, "+", 0));
    ck_assert_ptr_null(ucwa_snr_number(pool, "+1555%", 0));
    ck_assert_ptr_null(ucwa_snr_number(pool, "alice", 1));
    ck_assert_ptr_null(ucwa_snr_number(pool, NULL, 1));
    ck_assert_ptr_null(ucwa_snr_number(pool, "+12345678901234567890123456789012", 0));

    ucwa_snr_caller(pool, "+15550123", "gw.x.test", 1, "Someone", &a, &n);
    ck_assert_str_eq(a, "tel:+15550123");
    ck_assert_str_eq(n, "+15550123");
    ucwa_snr_caller(pool, "Dave", "X.test", 0, "Dave D", &a, &n);
    ck_assert_str_eq(a, "dave@x.test");
    ck_assert_str_eq(n, "Dave D");
    ucwa_snr_caller(pool, "dave", "x.test", 0, NULL, &a, &n);
    ck_assert_str_eq(n, "dave");
}
END_TEST

START_TEST(user_of_a_number)
{
    const char *u = NULL;

    sql("INSERT INTO ucwa_voice_users VALUES ('alice@x.test', NULL, NULL, 'tel:+15550100')");
    sql("INSERT INTO ucwa_voice_users VALUES ('Bob@X.test', NULL, NULL, "
        "'tel:+15550200;ext=200')");
    sql("INSERT INTO ucwa_voice_users VALUES ('carol@x.test', NULL, NULL, NULL)");
    ck_assert_int_eq(ucwa_snr_user_of_number(&db, pool, "+15550100", &u), 1);
    ck_assert_str_eq(u, "alice@x.test");
    ck_assert_int_eq(ucwa_snr_user_of_number(&db, pool, "+15550200", &u), 1);
    ck_assert_str_eq(u, "bob@x.test");
    ck_assert_int_eq(ucwa_snr_user_of_number(&db, pool, "+1555010", &u), 0);   /* a prefix */
    ck_assert_ptr_null(u);
    ck_assert_int_eq(ucwa_snr_user_of_number(&db, pool, "+1555%", &u), 0);
    ck_assert_int_eq(ucwa_snr_user_of_number(&db, pool, NULL, &u), 0);
}
END_TEST

START_TEST(diversions)
{
    int hops = 0;

    /* a call diverted by bob, then by alice's number: named by either, two hops */
    ck_assert_int_eq(ucwa_snr_diversion("<sip:bob@x.test>;reason=unconditional;counter=1, "
                                        "<tel:+15550100>;reason=deflection", "alice@x.test",
                                        "tel:+15550100", &hops), 1);
    ck_assert_int_eq(hops, 2);
    hops = 0;
    ck_assert_int_eq(ucwa_snr_diversion("<sip:bob@x.test>;reason=unconditional", "alice@x.test",
                                        "tel:+15550100", &hops), 0);
    ck_assert_int_eq(hops, 1);
    ck_assert_int_eq(ucwa_snr_diversion("\"Alice\" <sip:ALICE@X.test>;counter=2",
                                        "alice@x.test", NULL, &hops), 1);
    ck_assert_int_eq(hops, 3);
    /* the LineURI as a sip: number, with an extension; a prefix is not the user */
    ck_assert_int_eq(ucwa_snr_diversion("<sip:+15550100@gw.x.test;user=phone>", "alice@x.test",
                                        "tel:+15550100;ext=100", &hops), 1);
    ck_assert_int_eq(ucwa_snr_diversion("<sip:+1555010@gw.x.test;user=phone>", "alice@x.test",
                                        "tel:+15550100", &hops), 0);
    ck_assert_int_eq(ucwa_snr_diversion("<sip:alice@x.test.evil>", "alice@x.test", NULL, &hops),
                     0);
    /* counters out of range count one; garbage counts nothing */
    hops = 0;
    ck_assert_int_eq(ucwa_snr_diversion("<sip:b@x>;counter=1000,<sip:c@x>;counter=-3",
                                        "a@x", NULL, &hops), 0);
    ck_assert_int_eq(hops, 2);
    hops = 0;
    ck_assert_int_eq(ucwa_snr_diversion("no brackets, <unclosed", "a@x", NULL, &hops), 0);
    ck_assert_int_eq(hops, 0);
    ck_assert_int_eq(ucwa_snr_diversion(NULL, "a@x", NULL, &hops), 0);
}
END_TEST

/* The query plan of ucwa_snr_user_of_number's lookup of a number with an extension. */
static int ext_lookup_uses_index(void)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int found = 0;

    ck_assert_int_eq(apr_dbd_select(db.driver, pool, db.handle, &res,
                                    "EXPLAIN QUERY PLAN SELECT sip_uri FROM ucwa_voice_users "
                                    "WHERE " UCWA_LINE_NUMBER_SQLITE " = 'tel:+15550200' "
                                    "ORDER BY sip_uri", 1), 0);
    while (apr_dbd_get_row(db.driver, pool, res, &row, -1) == 0) {
        const char *detail = apr_dbd_get_entry(db.driver, row, 3);
        found |= detail && strstr(detail, "USING INDEX ucwa_voice_users_number") != NULL;
    }
    return found;
}

/* 100,000 users with a LineURI each, every tenth with an extension: a number with an
 * extension is found by the index of version 8 (the scan before it: 36 ms). */
START_TEST(user_of_a_number_with_extension_among_many)
{
    const char *u = NULL;
    apr_time_t t0;
    double exact_us, ext_us, none_us;
    int i, n = 100000, rounds = 200;

    sql("BEGIN");
    for (i = 0; i < n; i++) {
        char q[200];
        snprintf(q, sizeof(q), "INSERT INTO ucwa_voice_users VALUES ('user%06d@x.test', NULL, "
                 "NULL, 'tel:+1425%07d%s')", i, i, i % 10 ? "" : ";ext=1");
        sql(q);
    }
    sql("COMMIT");
    sql("ANALYZE");
    ck_assert(ext_lookup_uses_index());
    t0 = apr_time_now();
    for (i = 0; i < rounds; i++) {
        ck_assert_int_eq(ucwa_snr_user_of_number(&db, pool, "+14250012341", &u), 1);
    }
    exact_us = (double)(apr_time_now() - t0) / rounds;
    ck_assert_str_eq(u, "user012341@x.test");
    t0 = apr_time_now();
    for (i = 0; i < rounds; i++) {
        ck_assert_int_eq(ucwa_snr_user_of_number(&db, pool, "+14250012340", &u), 1);
    }
    ext_us = (double)(apr_time_now() - t0) / rounds;
    ck_assert_str_eq(u, "user012340@x.test");
    t0 = apr_time_now();
    for (i = 0; i < rounds; i++) {
        ck_assert_int_eq(ucwa_snr_user_of_number(&db, pool, "+19999999999", &u), 0);
    }
    none_us = (double)(apr_time_now() - t0) / rounds;
    fprintf(stderr, "user of a number among %d users: LineURI as it is %.1f us, with "
            ";ext= %.1f us, nobody's %.1f us\n", n, exact_us, ext_us, none_us);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_snr");
    TCase *tc = tcase_create("ucwa_snr");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, no_settings_rings_the_apps);
    tcase_add_test(tc, simultaneous_ring_and_unanswered);
    tcase_add_test(tc, immediate_forward);
    tcase_add_test(tc, policy_gates_and_routes);
    tcase_add_test(tc, numbers_and_callers);
    tcase_add_test(tc, user_of_a_number);
    tcase_add_test(tc, diversions);
    tcase_add_test(tc, user_of_a_number_with_extension_among_many);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_snr", s);
}
