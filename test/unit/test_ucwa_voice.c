/* common/ucwa/ucwa_voice and ucwa_callfwd: dial plan normalisation (SfB's patterns and
 * translations), the route of a number by a voice policy, scopes loaded from SQL (the
 * migrations of ucwa_schema applied first), and call forwarding settings in SQL. */
#include <apr_strings.h>

#include "unit_sqlite.h"
#include "ucwa_callfwd.h"
#include "ucwa_schema.h"
#include "ucwa_voice.h"

static ucwa_db db;

static void setup(void)
{
    ucwa_schema_result res;
    const char *err = NULL;

    unit_sqlite_open("ucwa-voice", "v.db", &db);
    ck_assert_int_eq(ucwa_schema_migrate(pool, db.driver, db.handle, apr_time_now(), &res,
                                         &err), APR_SUCCESS);
}

static void teardown(void)
{
    unit_sqlite_close(&db);
}

static const char *norm(const ucwa_dial_plan *dp, const char *in, int want_rc)
{
    const char *out = NULL, *rule = NULL;

    ck_assert_int_eq(ucwa_voice_normalize(dp, pool, in, &out, &rule), want_rc);
    return out;
}

START_TEST(clean_numbers)
{
    ck_assert_str_eq(ucwa_voice_clean(pool, "tel:+1 (425) 555-0100"), "+14255550100");
    ck_assert_str_eq(ucwa_voice_clean(pool, "TEL:0100"), "0100");
    ck_assert_str_eq(ucwa_voice_clean(pool, "555.0100"), "5550100");
    ck_assert_ptr_null(ucwa_voice_clean(pool, ""));
    ck_assert_ptr_null(ucwa_voice_clean(pool, "+"));
    ck_assert_ptr_null(ucwa_voice_clean(pool, "sip:bob@x"));
    ck_assert_ptr_null(ucwa_voice_clean(pool, "12+3"));
    ck_assert_ptr_null(ucwa_voice_clean(pool, "1\n2"));
    ck_assert_ptr_nonnull(ucwa_voice_clean(pool, "123456789012345678901234567890123456789012345678901234567890123456789012345678901"
                                           + 1));
    ck_assert_ptr_null(ucwa_voice_clean(pool, "123456789012345678901234567890123456789012345678901234567890123456789012345678901"));
}
END_TEST

START_TEST(normalisation_rules)
{
    ucwa_dial_plan *dp = ucwa_dial_plan_make(pool, "Global");

    /* as SfB admins write them, .NET shorthands included */
    ck_assert_ptr_null(ucwa_dial_plan_add_rule(dp, pool, "4 digit", 1, "^(\\d{4})$",
                                               "+1425555$1"));
    ck_assert_ptr_null(ucwa_dial_plan_add_rule(dp, pool, "7 digit", 2, "^(\\d{7})$",
                                               "+1425$1"));
    ck_assert_ptr_null(ucwa_dial_plan_add_rule(dp, pool, "international", 3,
                                               "^011(\\d{7,15})$", "+$1"));
    ck_assert_ptr_null(ucwa_dial_plan_add_rule(dp, pool, "ext", 4,
                                               "^\\+?(1[2-9]\\d{9})x(\\d+)$", "+${1};ext=$2"));
    /* a lower priority added later still comes first */
    ck_assert_ptr_null(ucwa_dial_plan_add_rule(dp, pool, "operator", 0, "^0$", "+14255550000"));
    ck_assert_int_eq(ucwa_dial_plan_rules(dp), 5);

    ck_assert_str_eq(norm(dp, "0100", 1), "+14255550100");
    ck_assert_str_eq(norm(dp, "tel:555-0100", 1), "+14255550100");
    ck_assert_str_eq(norm(dp, "011 44 20 7946 0018", 1), "+442079460018");
    ck_assert_str_eq(norm(dp, "0", 1), "+14255550000");
    /* anchored: 5 digits match no rule, not a part of "4 digit" */
    ck_assert_str_eq(norm(dp, "01000", 0), "01000");
    ck_assert_str_eq(norm(dp, "+14255550100", 0), "+14255550100");
    ck_assert_ptr_null(norm(dp, "alice", -1));
    ck_assert_ptr_null(norm(dp, "14255550100x12", -1));   /* 'x' is not cleaned: refused */
    /* no dial plan: cleaned only */
    ck_assert_str_eq(norm(NULL, "(0100)", 0), "0100");
}
END_TEST

START_TEST(bad_rules)
{
    ucwa_dial_plan *dp = ucwa_dial_plan_make(pool, "Global");
    char big[400];

    ck_assert_ptr_nonnull(ucwa_dial_plan_add_rule(dp, pool, "r", 1, "", "+1"));
    ck_assert_ptr_nonnull(ucwa_dial_plan_add_rule(dp, pool, "r", 1, "^(\\d$", "+1"));
    ck_assert_ptr_nonnull(ucwa_dial_plan_add_rule(dp, pool, "r", 1, "^\\d$\\", "+1"));
    ck_assert_ptr_nonnull(ucwa_dial_plan_add_rule(dp, pool, "r", 1, "^\\q$", "+1"));
    ck_assert_ptr_nonnull(ucwa_dial_plan_add_rule(dp, pool, "r", 1, "^[\\D]$", "+1"));
    ck_assert_ptr_nonnull(ucwa_dial_plan_add_rule(dp, pool, "r", 1, "^(\\d)$", "+$2"));
    ck_assert_ptr_nonnull(ucwa_dial_plan_add_rule(dp, pool, "r", 1, "^(\\d)$", "+${1"));
    ck_assert_ptr_nonnull(ucwa_dial_plan_add_rule(dp, pool, "r", 1, "^(\\d)$", ""));
    ck_assert_ptr_nonnull(ucwa_dial_plan_add_rule(dp, pool, "r", 1,
                                                  "(1)(2)(3)(4)(5)(6)(7)(8)(9)(0)", "+1"));
    /* what would make regcomp copy a repetition per repetition (the fuzzer's find) */
    ck_assert_ptr_nonnull(ucwa_dial_plan_add_rule(dp, pool, "r", 1, "^\\w++++++++++++++++$", "+1"));
    ck_assert_ptr_nonnull(ucwa_dial_plan_add_rule(dp, pool, "r", 1, "^(\\d)*?$", "+1"));
    ck_assert_ptr_nonnull(ucwa_dial_plan_add_rule(dp, pool, "r", 1,
                                                  "^(((1{99}){99}){99})$", "+1"));
    ck_assert_ptr_nonnull(ucwa_dial_plan_add_rule(dp, pool, "r", 1, "^1{99999}$", "+1"));
    ck_assert_ptr_nonnull(ucwa_dial_plan_add_rule(dp, pool, "r", 1, "^+1$", "+1"));
    memset(big, '1', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_ptr_nonnull(ucwa_dial_plan_add_rule(dp, pool, "r", 1, big, "+1"));
    ck_assert_int_eq(ucwa_dial_plan_rules(dp), 0);
    /* a bracket with escapes POSIX reads literally */
    ck_assert_ptr_null(ucwa_dial_plan_add_rule(dp, pool, "b", 1, "^[\\d\\+]{2}$", "$0"));
    ck_assert_ptr_null(ucwa_dial_plan_add_rule(dp, pool, "z", 9, "^([[:digit:]]{2,}|9)$", "$1"));
    ck_assert_str_eq(norm(dp, "12", 1), "12");
    /* a translation that is no number is refused, not returned */
    ck_assert_ptr_null(ucwa_dial_plan_add_rule(dp, pool, "c", 2, "^(\\d{3})$", "+1$1$$"));
    ck_assert_ptr_null(norm(dp, "123", -1));
}
END_TEST

static ucwa_voice_policy *policy(const char *usages)
{
    ucwa_voice_policy *p = apr_pcalloc(pool, sizeof(*p));
    const char *err = NULL;

    p->identity = "Global";
    p->usages = ucwa_voice_list(pool, usages, &err);
    ck_assert_ptr_nonnull(p->usages);
    return p;
}

START_TEST(routes)
{
    ucwa_voice_routes *r = ucwa_voice_routes_make(pool);
    ucwa_voice_choice c;
    const char *err = NULL;

    ck_assert_ptr_null(ucwa_voice_routes_add(r, pool, "Local", 5, "^\\+1425\\d{7}$",
                                             "Local; LongDistance", "gw2;gw1"));
    ck_assert_ptr_null(ucwa_voice_routes_add(r, pool, "LocalFirst", 1, "^\\+1425\\d{7}$",
                                             "Local", "gw1"));
    ck_assert_ptr_null(ucwa_voice_routes_add(r, pool, "US", 9, "^\\+1\\d{10}$",
                                             "LongDistance", "gw3"));
    ck_assert_ptr_null(ucwa_voice_routes_add(r, pool, "Intl", 1, "^\\+[2-9]\\d+$",
                                             "International", "gw4"));
    ck_assert_ptr_null(ucwa_voice_routes_add(r, pool, "NoGateway", 0, "^.*$", "Local", ""));
    ck_assert_ptr_nonnull(ucwa_voice_routes_add(r, pool, "Bad", 0, "^(", "Local", "gw"));
    ck_assert_int_eq(ucwa_voice_routes_count(r), 5);

    /* usages in the policy's order, routes by priority, gateways without repeats */
    ck_assert_int_eq(ucwa_voice_route(policy("Local;LongDistance"), r, pool, "+14255550100", &c), 1);
    ck_assert_str_eq(c.route, "LocalFirst");
    ck_assert_str_eq(c.usage, "Local");
    ck_assert_int_eq(c.gateways->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(c.gateways, 0, const char *), "gw1");
    ck_assert_str_eq(APR_ARRAY_IDX(c.gateways, 1, const char *), "gw2");
    ck_assert_str_eq(APR_ARRAY_IDX(c.gateways, 2, const char *), "gw3");
    ck_assert_int_eq(ucwa_voice_route(policy("longdistance"), r, pool, "+12065550100", &c), 1);
    ck_assert_str_eq(c.route, "US");
    /* refused: no usage with a route for it */
    ck_assert_int_eq(ucwa_voice_route(policy("Local"), r, pool, "+12065550100", &c), 0);
    ck_assert_int_eq(ucwa_voice_route(policy("Local;LongDistance"), r, pool, "+442079460018",
                                      &c), 0);
    ck_assert_int_eq(ucwa_voice_route(policy(""), r, pool, "+14255550100", &c), 0);
    ck_assert_int_eq(ucwa_voice_route(NULL, r, pool, "+14255550100", &c), 0);
    /* lists */
    ck_assert_int_eq(ucwa_voice_list(pool, " a ;; b,c ", &err)->nelts, 3);
    ck_assert_ptr_null(ucwa_voice_list(pool, ";;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;a;b;c;d;e;f;g;h;"
                                       "i;j;k;l;m;n;o;p;q;r;s;t;u;v;w;x;y;z;1;2;3;4;5;6;7", &err));
}
END_TEST

static void sql(const char *s)
{
    int n = 0;

    ck_assert_msg(apr_dbd_query(db.driver, db.handle, &n, s) == 0, "%s: %s", s,
                  apr_dbd_error(db.driver, db.handle, 0));
}

START_TEST(load_by_scope)
{
    ucwa_voice_user u;
    const char *out, *rule;

    ck_assert_str_eq(ucwa_voice_identity_key(pool, "Tag:Contractors"), "tag:contractors");
    ck_assert_str_eq(ucwa_voice_identity_key(pool, "Contractors"), "tag:contractors");
    ck_assert_str_eq(ucwa_voice_identity_key(pool, "Site:Redmond"), "site:redmond");
    ck_assert_str_eq(ucwa_voice_identity_key(pool, "GLOBAL"), "global");
    ck_assert_ptr_null(ucwa_voice_identity_key(pool, "site:"));

    {
        ucwa_voice_user none;
        ucwa_voice_choice c;
        memset(&none, 0, sizeof(none));
        ck_assert_int_eq(ucwa_voice_check(&none, pool, "0100", &out, &c), UCWA_VOICE_NO_POLICY);
    }
    /* nothing configured: not enabled for Enterprise Voice, no dial plan */
    ck_assert_int_eq(ucwa_voice_load(&db, pool, "alice@x.test", "Redmond", &u), 0);
    ck_assert_ptr_null(u.policy);
    ck_assert_ptr_null(u.dial_plan);

    sql("INSERT INTO ucwa_dial_plans (identity) VALUES ('Global')");
    sql("INSERT INTO ucwa_dial_plan_rules VALUES ('Global', '4 digit', 1, '^(\\d{4})$', "
        "'+1425555$1')");
    sql("INSERT INTO ucwa_dial_plan_rules VALUES ('global', 'broken', 0, '^(', '+1')");
    sql("INSERT INTO ucwa_dial_plans (identity) VALUES ('Site:Redmond')");
    sql("INSERT INTO ucwa_dial_plan_rules VALUES ('Site:Redmond', '4 digit', 1, '^(\\d{4})$', "
        "'+1206555$1')");
    sql("INSERT INTO ucwa_voice_policies VALUES ('Global', 'Local', 1, 1, NULL)");
    sql("INSERT INTO ucwa_voice_policies VALUES ('Site:Redmond', 'Local;LongDistance', 1, 0, "
        "NULL)");
    sql("INSERT INTO ucwa_voice_policies VALUES ('Tag:NoForward', 'Local', 0, 0, NULL)");
    sql("INSERT INTO ucwa_voice_routes VALUES ('Local', 1, '^\\+1425\\d{7}$', 'Local', "
        "'gw.x.test', NULL)");
    sql("INSERT INTO ucwa_voice_users VALUES ('bob@x.test', 'NoForward', NULL, "
        "'tel:+14255550199')");
    sql("INSERT INTO ucwa_voice_users VALUES ('carol@x.test', 'Undefined', NULL, NULL)");

    /* global (another site) */
    ck_assert_int_eq(ucwa_voice_load(&db, pool, "alice@x.test", "Paris", &u), 0);
    ck_assert_str_eq(u.policy->identity, "Global");
    ck_assert_int_eq(u.policy->allow_simultaneous_ring, 1);
    ck_assert_str_eq(ucwa_dial_plan_identity(u.dial_plan), "Global");
    ck_assert_int_eq(ucwa_dial_plan_rules(u.dial_plan), 1);
    ck_assert_int_eq(u.warnings->nelts, 1);            /* the broken rule, skipped */
    ck_assert_int_eq(ucwa_voice_normalize(u.dial_plan, pool, "0100", &out, &rule), 1);
    ck_assert_str_eq(out, "+14255550100");
    ck_assert_int_eq(ucwa_voice_routes_count(u.routes), 1);
    {
        ucwa_voice_choice c;
        ck_assert_int_eq(ucwa_voice_check(&u, pool, "0100", &out, &c), UCWA_VOICE_ALLOWED);
        ck_assert_str_eq(out, "+14255550100");
        ck_assert_str_eq(APR_ARRAY_IDX(c.gateways, 0, const char *), "gw.x.test");
        ck_assert_int_eq(ucwa_voice_check(&u, pool, "+12065550100", &out, &c),
                         UCWA_VOICE_NOT_ALLOWED);
        ck_assert_int_eq(ucwa_voice_check(&u, pool, "bob", &out, &c), UCWA_VOICE_NOT_A_NUMBER);
    }
    /* the site's policy and dial plan (case-insensitive site) */
    ck_assert_int_eq(ucwa_voice_load(&db, pool, "alice@x.test", "redmond", &u), 0);
    ck_assert_str_eq(u.policy->identity, "Site:Redmond");
    ck_assert_int_eq(u.policy->allow_simultaneous_ring, 0);
    ck_assert_int_eq(u.policy->usages->nelts, 2);
    ck_assert_int_eq(ucwa_voice_normalize(u.dial_plan, pool, "0100", &out, &rule), 1);
    ck_assert_str_eq(out, "+12065550100");
    /* the granted tag wins over the site; the dial plan stays the site's */
    ck_assert_int_eq(ucwa_voice_load(&db, pool, "bob@x.test", "Redmond", &u), 0);
    ck_assert_str_eq(u.policy->identity, "Tag:NoForward");
    ck_assert_int_eq(u.policy->allow_call_forwarding, 0);
    ck_assert_str_eq(u.line_uri, "tel:+14255550199");
    ck_assert_str_eq(ucwa_dial_plan_identity(u.dial_plan), "Site:Redmond");
    /* a grant of an undefined tag falls back */
    ck_assert_int_eq(ucwa_voice_load(&db, pool, "carol@x.test", "Redmond", &u), 0);
    ck_assert_str_eq(u.policy->identity, "Site:Redmond");
}
END_TEST

START_TEST(call_forwarding_rows)
{
    ucwa_callfwd f, g;

    ck_assert_int_eq(ucwa_callfwd_get(&db, pool, "alice@x.test", &f), 0);
    ck_assert_str_eq(f.active_setting, "None");
    ck_assert_int_eq(f.unanswered_delay, 20);
    ck_assert_ptr_null(ucwa_callfwd_check(&f));

    f.simring_target = "Contact";
    f.simring_uri = "tel:+14255550100";
    f.simring_delay = 10;
    f.active_setting = "SimultaneousRing";
    f.unanswered_target = "Contact";
    f.unanswered_uri = "sip:bob@x.test";
    f.unanswered_enabled = 1;
    ck_assert_ptr_null(ucwa_callfwd_check(&f));
    ck_assert_int_eq(ucwa_callfwd_put(&db, pool, "alice@x.test", &f, 1), 1);
    ck_assert_int_eq(f.stored, 1);
    ck_assert(f.updated == 1);
    ck_assert_int_eq(ucwa_callfwd_get(&db, pool, "alice@x.test", &g), 1);
    ck_assert_str_eq(g.active_setting, "SimultaneousRing");
    ck_assert_str_eq(g.simring_uri, "tel:+14255550100");
    ck_assert_int_eq(g.simring_delay, 10);
    ck_assert_int_eq(g.unanswered_enabled, 1);
    ck_assert_str_eq(g.unanswered_uri, "sip:bob@x.test");
    /* update in place */
    g.active_setting = "None";
    f = g;   /* a second device read the same row */
    /* the same millisecond still makes a new version */
    ck_assert_int_eq(ucwa_callfwd_put(&db, pool, "alice@x.test", &g, 1), 1);
    ck_assert(g.updated == 2);
    /* the second device's change, from the old reading, loses: nothing written */
    f.active_setting = "SimultaneousRing";
    ck_assert_int_eq(ucwa_callfwd_put(&db, pool, "alice@x.test", &f, 3), 0);
    ck_assert_int_eq(ucwa_callfwd_get(&db, pool, "alice@x.test", &f), 1);
    ck_assert_str_eq(f.active_setting, "None");
    ck_assert(f.updated == 2);
    /* and two first rows: the second insert loses too */
    {
        ucwa_callfwd a, b;
        ck_assert_int_eq(ucwa_callfwd_get(&db, pool, "carol@x.test", &a), 0);
        b = a;
        ck_assert_int_eq(ucwa_callfwd_put(&db, pool, "carol@x.test", &a, 5), 1);
        ck_assert_int_eq(ucwa_callfwd_put(&db, pool, "carol@x.test", &b, 6), 0);
    }
    ck_assert_int_eq(ucwa_callfwd_get(&db, pool, "bob@x.test", &f), 0);

    /* consistency */
    ucwa_callfwd_defaults(&f);
    f.active_setting = "ImmediateForward";
    ck_assert_ptr_nonnull(ucwa_callfwd_check(&f));
    f.immediate_target = "Contact";
    ck_assert_ptr_nonnull(ucwa_callfwd_check(&f));   /* no URI */
    f.immediate_uri = "tel:+1";
    ck_assert_ptr_null(ucwa_callfwd_check(&f));
    f.unanswered_target = "Contact";
    f.unanswered_uri = "tel:+2";
    f.unanswered_enabled = 1;
    ck_assert_ptr_nonnull(ucwa_callfwd_check(&f));   /* not with ImmediateForward */
    ucwa_callfwd_defaults(&f);
    f.unanswered_delay = 4;
    ck_assert_ptr_nonnull(ucwa_callfwd_check(&f));
    f.unanswered_delay = 60;
    f.simring_delay = 56;
    ck_assert_ptr_nonnull(ucwa_callfwd_check(&f));
    ck_assert_str_eq(ucwa_callfwd_enum("simultaneousring", ucwa_callfwd_settings),
                     "SimultaneousRing");
    ck_assert_ptr_null(ucwa_callfwd_enum("Team", ucwa_callfwd_targets));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_voice");
    TCase *tc = tcase_create("ucwa_voice");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, clean_numbers);
    tcase_add_test(tc, normalisation_rules);
    tcase_add_test(tc, bad_rules);
    tcase_add_test(tc, routes);
    tcase_add_test(tc, load_by_scope);
    tcase_add_test(tc, call_forwarding_rows);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_voice", s);
}
