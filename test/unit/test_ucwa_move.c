/* ucwa_move: an application handed from one store to another (two Front Ends of a pool):
 * the same id found in the new store through its alias index, the event channel going
 * on from the package the client may ask for again, its presence subscriptions, and the
 * bytes refused when they are not one of this user's applications of this layout. */
#include "unit.h"
#include "ucwa_move.h"
#include "ucwa_store.h"
#include "ucwa_subs.h"

#define T0 ((apr_time_t)1700000000 * APR_USEC_PER_SEC)
#define ALICE "alice@contoso.test"
#define BOB "bob@contoso.test"

static ucwa_store *make_store(apr_uint32_t ring)
{
    ucwa_store_limits l = { 8, ring, 512, 8, 8, 1, 1, 1 };
    void *base = apr_pcalloc(pool, ucwa_store_bytes(&l) + 8);

    return ucwa_store_init((void *)(((apr_uintptr_t)base + 7) & ~(apr_uintptr_t)7), &l);
}

static int app(ucwa_store *s, const char *user, const char *endpoint)
{
    ucwa_app_params in;
    int idx = -1;

    memset(&in, 0, sizeof(in));
    in.user = user;
    in.endpoint_id = endpoint;
    in.user_agent = "tests";
    in.culture = "en-US";
    in.prefix = "/ucwa/oauth/v1/applications";
    ck_assert_int_eq(ucwa_store_create_locked(s, &in, T0, &idx), UCWA_CREATE_NEW);
    return idx;
}

static void post(ucwa_store *s, int idx, const char *href)
{
    ucwa_event e;

    memset(&e, 0, sizeof(e));
    e.type = "updated";
    e.sender_rel = "people";
    e.sender_href = "/people";
    e.rel = "contactPresence";
    e.href = href;
    ck_assert_int_eq(ucwa_store_post_locked(s, idx, UCWA_PRIO_HIGH, &e, T0), 0);
}

static ucwa_package poll_pkg(ucwa_store *s, int idx, apr_uint32_t ack)
{
    ucwa_windows w = { 0, 0 };
    ucwa_package pkg;

    ck_assert_int_eq(ucwa_store_poll_locked(s, idx, ack, &w, 1, T0, pool, &pkg), UCWA_POLL_READY);
    return pkg;
}

static void consistent(ucwa_store *s)
{
    ucwa_store_stats st;
    const char *bad = ucwa_store_check_locked(s, &st, pool);

    ck_assert_msg(bad == NULL, "%s", bad);
}

static const ucwa_idle_rules rules = { 300 * APR_USEC_PER_SEC, 600 * APR_USEC_PER_SEC };

START_TEST(the_application_moves_with_its_channel)
{
    ucwa_store *a = make_store(8), *b = make_store(8);
    const char *sips[] = { BOB };
    const char *data, *why = NULL;
    char id[UCWA_ID_MAX];
    apr_size_t len;
    ucwa_package pkg;
    int idx, moved, sub, expired;

    app(b, BOB, "phone");              /* slot 0 taken in b: the id names another slot */
    app(b, "carol@contoso.test", "phone");
    idx = app(a, ALICE, "phone");
    ucwa_store_app(a, idx)->available = 1;
    ucwa_store_user(a, ucwa_store_app(a, idx)->user)->available_apps = 1;
    ucwa_store_user(a, ucwa_store_app(a, idx)->user)->preferred = UCWA_AV_BUSY;
    ucwa_store_user(a, ucwa_store_app(a, idx)->user)->changed = T0;
    ck_assert_int_eq(ucwa_subs_subscribe_locked(a, idx, sips, 1, apr_time_from_sec(600), T0,
                                                pool, NULL, &sub), UCWA_SUBS_OK);
    poll_pkg(a, idx, 1);
    post(a, idx, "/people/bob@contoso.test/presence");
    post(a, idx, "/people/bob@contoso.test/note");
    pkg = poll_pkg(a, idx, 2);         /* package 2 cut, not acknowledged yet */
    ck_assert_int_eq(pkg.count, 2);
    post(a, idx, "/people/bob@contoso.test/location");
    apr_cpystrn(id, ucwa_store_app(a, idx)->id, sizeof(id));

    /* another user asks, or another ring: nothing to hand over */
    ck_assert_int_eq(ucwa_move_export_locked(a, idx, BOB, 8, 512, pool, &data, &len), -1);
    ck_assert_int_eq(ucwa_move_export_locked(a, idx, ALICE, 16, 512, pool, &data, &len), -1);
    ck_assert_int_eq(ucwa_move_export_locked(a, idx, ALICE, 8, 512, pool, &data, &len), 0);
    ck_assert_str_eq(ucwa_move_id(pool, data, len), id);
    ucwa_subs_app_gone_locked(a, idx);
    ucwa_store_delete_locked(a, idx);
    consistent(a);

    /* bytes that are not this user's application, or cut short, install nothing */
    ck_assert_int_eq(ucwa_move_import_locked(b, data, len, BOB, &rules, T0, pool, NULL, &moved,
                                             &why), -1);
    ck_assert_int_eq(ucwa_move_import_locked(b, data, len - 1, ALICE, &rules, T0, pool, NULL,
                                             &moved, &why), -1);
    ck_assert_int_eq(ucwa_move_import_locked(make_store(16), data, len, ALICE, &rules, T0, pool,
                                             NULL, &moved, &why), -1);
    {
        /* an event slot whose strings would run past it (its first length, after prio,
         * flags and time) */
        char *bad = apr_pmemdup(pool, data, len);
        apr_uint32_t huge = 100000;
        memcpy(bad + len - 512 + 16, &huge, sizeof(huge));
        ck_assert_int_eq(ucwa_move_import_locked(b, bad, len, ALICE, &rules, T0, pool, NULL,
                                                 &moved, &why), -1);
        ck_assert_str_eq(why, "an event slot out of bounds");
    }
    ck_assert_int_eq(ucwa_move_import_locked(b, data, len, ALICE, &rules, T0, pool, NULL, &moved,
                                             &why), 0);
    ck_assert_int_ne(moved, idx);      /* another slot, the same id */
    ck_assert_int_eq(ucwa_store_find_locked(b, id, &expired), moved);
    ck_assert_int_eq(expired, 0);
    ck_assert_int_eq(ucwa_store_app(b, moved)->available, 1);
    ck_assert_int_eq(ucwa_store_user(b, ucwa_store_app(b, moved)->user)->preferred, UCWA_AV_BUSY);
    consistent(b);
    /* the package the client may ask for again is there, then the rest, each once */
    pkg = poll_pkg(b, moved, 2);
    ck_assert_int_eq(pkg.count, 2);
    ck_assert_str_eq(pkg.events[0].href, "/people/bob@contoso.test/presence");
    pkg = poll_pkg(b, moved, 3);
    ck_assert_int_eq(pkg.count, 1);
    ck_assert_str_eq(pkg.events[0].href, "/people/bob@contoso.test/location");
    /* its subscription, same id, same member */
    sub = ucwa_subs_find_locked(b, moved, ucwa_store_sub(a, sub)->id);
    ck_assert_int_ge(sub, 0);
    ck_assert_int_eq(ucwa_subs_member_find(ucwa_store_sub(b, sub), BOB), 0);
    /* twice: the id is taken */
    ck_assert_int_eq(ucwa_move_import_locked(b, data, len, ALICE, &rules, T0, pool, NULL, &idx,
                                             &why), -1);
    /* gone from b: its id answers nothing, and its alias is freed for the next */
    ucwa_subs_app_gone_locked(b, moved);
    ucwa_store_delete_locked(b, moved);
    ck_assert_int_eq(ucwa_store_find_locked(b, id, &expired), -1);
    consistent(b);
    ck_assert_int_eq(ucwa_move_import_locked(b, data, len, ALICE, &rules, T0, pool, NULL, &moved,
                                             &why), 0);
    ck_assert_int_eq(ucwa_store_find_locked(b, id, &expired), moved);
    consistent(b);
}
END_TEST

START_TEST(garbage_is_refused)
{
    ucwa_store *b = make_store(8);
    char junk[64];
    const char *why;
    int idx;

    memset(junk, 'x', sizeof(junk));
    ck_assert_int_eq(ucwa_move_import_locked(b, junk, sizeof(junk), ALICE, &rules, T0, pool,
                                             NULL, &idx, &why), -1);
    ck_assert_ptr_nonnull(why);
    ck_assert_ptr_null(ucwa_move_id(pool, junk, sizeof(junk)));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_move");
    TCase *tc = unit_tcase("ucwa_move");

    tcase_add_test(tc, the_application_moves_with_its_channel);
    tcase_add_test(tc, garbage_is_refused);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_move", s);
}
