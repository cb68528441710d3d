/* ucwa_subs: presence subscriptions in the session store: addresses, the table (create,
 * find, per-application share, members, extension), the events of subscribe, add,
 * remove, end and notify, the sweeper (about-to-expire update, expiry, applications that
 * went away, presence published without a notify), and members whose user slot the
 * user table took back. */
#include <apr_lib.h>
#include <apr_tables.h>
#include <jansson.h>

#include "unit.h"
#include "ucwa_event.h"
#include "ucwa_subs.h"

#define T0 ((apr_time_t)1700000000 * APR_USEC_PER_SEC)
#define MIN(n) apr_time_from_sec((n) * 60)

static ucwa_store *store;
static apr_uint32_t acks[16];

static ucwa_store *make_store(apr_uint32_t apps, apr_uint32_t users, apr_uint32_t subs)
{
    ucwa_store_limits l = { apps, 64, 2048, users, subs, 1 };
    void *base = apr_pcalloc(pool, ucwa_store_bytes(&l) + 8);

    memset(acks, 0, sizeof(acks));
    return store = ucwa_store_init((void *)(((apr_uintptr_t)base + 7) & ~(apr_uintptr_t)7), &l);
}

static int new_app(const char *user)
{
    ucwa_app_params in;
    int idx = -1;

    memset(&in, 0, sizeof(in));
    in.user = user;
    static int n;

    in.endpoint_id = apr_psprintf(pool, "ep-%d", ++n);
    in.user_agent = "tests";
    in.culture = "en-US";
    in.prefix = "/ucwa/oauth/v1/applications";
    ck_assert_int_eq(ucwa_store_create_locked(store, &in, T0, &idx), UCWA_CREATE_NEW);
    return idx;
}

static void make_available(int app, ucwa_availability av)
{
    ucwa_app *a = ucwa_store_app(store, app);
    ucwa_user *u = ucwa_store_user(store, (int)a->user);
    ucwa_idle_rules rules = { apr_time_from_sec(300), apr_time_from_sec(900) };

    a->available = 1;
    u->available_apps++;
    u->last_activity = T0;
    u->preferred = av;
    u->published = ucwa_store_availability(u, &rules, T0);
}

static const char *base(int app)
{
    return ucwa_store_app(store, app)->base;
}

/* The events waiting for app, each as "type rel href [in-rel in-href]" with the
 * application's path written as A; the sender must be people. */
static apr_array_header_t *events(int app)
{
    apr_array_header_t *out = apr_array_make(pool, 8, sizeof(char *));
    ucwa_windows w = { 0, 0 };
    ucwa_package pkg;
    const char *b = base(app);
    int i;

    ck_assert_int_eq(ucwa_store_poll_locked(store, app, acks[app] + 1, &w, 1, T0, pool, &pkg),
                     UCWA_POLL_READY);
    acks[app]++;
    for (i = 0; i < pkg.count; i++) {
        json_error_t err;
        const char *text = ucwa_event_json(pool, b, &pkg.events[i]);
        json_t *e = json_loads(text, 0, &err);
        const char *in_rel = NULL, *in_href = NULL, *line;
        char *p;
        ck_assert_msg(e != NULL, "not JSON: %s", text);
        ck_assert_str_eq(ucwa_event_sender_json(pool, b, &pkg.events[i]),
                         apr_psprintf(pool, "\"rel\":\"people\",\"href\":\"%s/people\"", b));
        json_unpack(e, "{s?{s:s,s:s}}", "in", "rel", &in_rel, "href", &in_href);
        line = apr_psprintf(pool, "%s %s %s%s%s%s%s",
                            json_string_value(json_object_get(e, "type")),
                            json_string_value(json_object_get(json_object_get(e, "link"), "rel")),
                            json_string_value(json_object_get(json_object_get(e, "link"), "href")),
                            in_rel ? " " : "", in_rel ? in_rel : "", in_rel ? " " : "",
                            in_href ? in_href : "");
        if (json_object_get(e, "_embedded")) {
            line = apr_pstrcat(pool, line, " +embedded", NULL);
        }
        /* the application's path as A */
        while ((p = strstr(line, b)) != NULL) {
            line = apr_pstrcat(pool, apr_pstrndup(pool, line, (apr_size_t)(p - line)), "A",
                               p + strlen(b), NULL);
        }
        APR_ARRAY_PUSH(out, const char *) = line;
        json_decref(e);
    }
    return out;
}

static void expect_events(int app, const char *const *want)
{
    apr_array_header_t *got = events(app);
    int i;

    for (i = 0; want[i]; i++) {
        ck_assert_msg(i < got->nelts, "event %d missing: %s", i, want[i]);
        ck_assert_str_eq(APR_ARRAY_IDX(got, i, const char *), want[i]);
    }
    ck_assert_msg(got->nelts == i, "%d events more than expected, first: %s", got->nelts - i,
                  got->nelts > i ? APR_ARRAY_IDX(got, i, const char *) : "");
}

static void consistent(void)
{
    apr_uint32_t subs, members, i;
    const char *bad = ucwa_subs_check_locked(store, &subs, &members, pool);

    ck_assert_msg(bad == NULL, "%s", bad);
    /* the check reads the slots in use; past them none may be live */
    for (i = ucwa_subs_used_locked(store); i < ucwa_store_get_limits(store)->max_subs; i++) {
        ck_assert_uint_ne(ucwa_store_sub(store, (int)i)->state, UCWA_SLOT_LIVE);
    }
}

static int subscribe(int app, const char *const *sips, int n, int *idx)
{
    return ucwa_subs_subscribe_locked(store, app, sips, n, MIN(11), T0, pool, NULL, idx);
}

/* --- addresses ------------------------------------------------------------------------ */

START_TEST(addresses)
{
    static const char *const good[][2] = {
        { "sip:Bob@Contoso.test", "bob@contoso.test" },
        { "SIP:bob.smith+x@sub.contoso-1.test", "bob.smith+x@sub.contoso-1.test" },
        { "sip:j\xc3\xa9r\xc3\xb4me@contoso.test", "j\xc3\xa9r\xc3\xb4me@contoso.test" },
        { "sip:a@b", "a@b" },
    };
    static const char *const bad[] = {
        "bob@contoso.test", "sip:", "sip:bob", "sip:@contoso.test", "sip:bob@",
        "sip:a@b@c", "sip:bo b@c", "sip:bob/x@c", "sip:bob@c;user=phone", "sip:bob@c?x",
        "sip:bob#@c", "sip:bob%40@c", "sip:\"bob\"@c", "sip:bo\\b@c", "sip:<bob>@c",
        "sip:bob@c\x7f", "sip:bob@c\t", "tel:+1555", "sip:bob@co/ntoso", "sip:bob@co ntoso",
        "sip:bob@j\xc3\xa9r\xc3\xb4me", "sip:\xc3@c", "sip:\xed\xa0\x80@c", "sip:\xc0\xaf@c",
        "sip:\xf4\x90\x80\x80@c",
    };
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const char *a = ucwa_subs_address(pool, good[i][0], 1);
        ck_assert_msg(a && !strcmp(a, good[i][1]), "%s -> %s", good[i][0], a ? a : "NULL");
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(ucwa_subs_address(pool, bad[i], 1) == NULL, "accepted %s", bad[i]);
    }
    ck_assert_ptr_null(ucwa_subs_address(pool, NULL, 1));
    /* without the scheme only when it is optional */
    ck_assert_str_eq(ucwa_subs_address(pool, "Bob@Contoso.test", 0), "bob@contoso.test");
    ck_assert_str_eq(ucwa_subs_address(pool, "sip:Bob@Contoso.test", 0), "bob@contoso.test");
    /* 255 bytes fit the store, 256 do not */
    ck_assert_ptr_nonnull(ucwa_subs_address(
        pool, apr_pstrcat(pool, "sip:", unit_repeat("x", UCWA_SIP_MAX - 3), "@c", NULL), 1));
    ck_assert_ptr_null(ucwa_subs_address(
        pool, apr_pstrcat(pool, "sip:", unit_repeat("x", UCWA_SIP_MAX - 2), "@c", NULL), 1));
}
END_TEST

/* --- the table ------------------------------------------------------------------------ */

START_TEST(create_find_and_limits)
{
    int a, b, i, idx[5], n;
    ucwa_sub *sub;

    make_store(2, 4, 8);
    a = new_app("alice@contoso.test");
    b = new_app("alice@contoso.test");
    ck_assert_uint_eq(ucwa_subs_per_app(store), 4);
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(ucwa_subs_create_locked(store, a, MIN(10), T0, &idx[i]), UCWA_SUBS_OK);
        sub = ucwa_store_sub(store, idx[i]);
        ck_assert_uint_eq(strlen(sub->id), 8);
        ck_assert_uint_eq(strspn(sub->id, "0123456789abcdef"), 8);
        ck_assert_int_eq(sub->expires, T0 + MIN(10));
        ck_assert_int_eq(ucwa_subs_find_locked(store, a, sub->id), idx[i]);
        ck_assert_int_eq(ucwa_subs_find_locked(store, b, sub->id), -1);   /* another application's */
    }
    ck_assert_int_eq(ucwa_subs_create_locked(store, a, MIN(10), T0, &idx[4]), UCWA_SUBS_APP_LIMIT);
    ck_assert_int_eq(ucwa_subs_count_locked(store, a), 4);
    ck_assert_int_eq(ucwa_subs_count_locked(store, b), 0);
    /* ids in any case; not an 8-character id: nothing */
    sub = ucwa_store_sub(store, idx[0]);
    ck_assert_int_eq(ucwa_subs_find_locked(store, a, apr_pstrdup(pool, sub->id)), idx[0]);
    {
        char *upper = apr_pstrdup(pool, sub->id), *c;
        for (c = upper; *c; c++) *c = (char)apr_toupper(*c);
        ck_assert_int_eq(ucwa_subs_find_locked(store, a, upper), idx[0]);
    }
    ck_assert_int_eq(ucwa_subs_find_locked(store, a, ""), -1);
    ck_assert_int_eq(ucwa_subs_find_locked(store, a, NULL), -1);
    ck_assert_int_eq(ucwa_subs_find_locked(store, a, apr_pstrcat(pool, sub->id, "0", NULL)), -1);
    consistent();
    /* freeing makes room */
    ucwa_subs_free_locked(store, idx[1]);
    ck_assert_int_eq(ucwa_subs_find_locked(store, a, ucwa_store_sub(store, idx[1])->id), -1);
    ck_assert_int_eq(ucwa_subs_create_locked(store, a, MIN(10), T0, &idx[4]), UCWA_SUBS_OK);
    ck_assert_int_eq(idx[4], idx[1]);
    /* the table full (filled by hand past the shares): 503, not 403 */
    for (n = 0; n < 8; n++) {
        sub = ucwa_store_sub(store, n);
        if (sub->state != UCWA_SLOT_LIVE) {
            sub->state = UCWA_SLOT_LIVE;
            sub->app = (apr_uint32_t)a;
            sub->app_gen = ucwa_store_app(store, a)->gen;
            apr_snprintf(sub->id, sizeof(sub->id), "%08x", 0xabc00 + n);
        }
    }
    *ucwa_store_word(store, UCWA_WORD_SUBS_END) = 8;     /* as create would have */
    ck_assert_int_eq(ucwa_subs_create_locked(store, b, MIN(10), T0, &idx[0]), UCWA_SUBS_TABLE_FULL);
    /* a subscription of an application that ended is a free slot */
    ucwa_store_delete_locked(store, a);
    ck_assert_int_eq(ucwa_subs_count_locked(store, a), 0);
    ck_assert_int_eq(ucwa_subs_create_locked(store, b, MIN(10), T0, &idx[0]), UCWA_SUBS_OK);
    ck_assert_int_eq(idx[0], 0);
}
END_TEST

START_TEST(members)
{
    int a, idx, added, m, i;
    ucwa_sub *sub;
    const char *sip;

    make_store(2, 8, 8);
    a = new_app("alice@contoso.test");
    ck_assert_int_eq(ucwa_subs_create_locked(store, a, MIN(10), T0, &idx), UCWA_SUBS_OK);
    sub = ucwa_store_sub(store, idx);
    ck_assert_int_eq(ucwa_subs_member_add_locked(store, idx, "bob@contoso.test", &added), 0);
    ck_assert_int_eq(added, 1);
    ck_assert_int_eq(ucwa_subs_member_add_locked(store, idx, "carol@contoso.test", &added), 1);
    ck_assert_int_eq(ucwa_subs_member_add_locked(store, idx, "bob@contoso.test", &added), 0);
    ck_assert_int_eq(added, 0);
    ck_assert_int_eq(ucwa_subs_member_add_locked(store, idx, "dave@contoso.test", &added), 2);
    ck_assert_uint_eq(sub->count, 3);
    /* members are users of the store, Offline without an application */
    m = ucwa_subs_member_user_locked(store, idx, 1, 0);
    ck_assert_int_ge(m, 0);
    ck_assert_str_eq(ucwa_store_user(store, m)->sip, "carol@contoso.test");
    ck_assert_int_eq(ucwa_store_user_find_locked(store, "carol@contoso.test", 0), m);
    ck_assert_uint_eq(sub->member_av[1], UCWA_AV_OFFLINE);
    ck_assert_int_eq(ucwa_subs_member_find(sub, "carol@contoso.test"), 1);
    ck_assert_int_eq(ucwa_subs_member_find(sub, "erin@contoso.test"), -1);
    consistent();
    /* removing one moves the later ones down, addresses and users with them */
    ucwa_subs_member_remove_locked(store, idx, 0);
    ck_assert_uint_eq(sub->count, 2);
    ck_assert_str_eq(ucwa_subs_member_sip(sub, 0), "carol@contoso.test");
    ck_assert_str_eq(ucwa_subs_member_sip(sub, 1), "dave@contoso.test");
    ck_assert_int_eq(ucwa_subs_member_user_locked(store, idx, 0, 0), m);
    ck_assert_uint_eq(sub->names_len, strlen("carol@contoso.test") + strlen("dave@contoso.test") + 2);
    consistent();
    ucwa_subs_member_remove_locked(store, idx, 1);
    ucwa_subs_member_remove_locked(store, idx, 0);
    ck_assert_uint_eq(sub->count, 0);
    ck_assert_uint_eq(sub->names_len, 0);
    /* UCWA_SUB_MEMBERS at most; the user table holds 8, so members take back each
     * other's user slots (no user has an application but alice) */
    for (i = 0; i < UCWA_SUB_MEMBERS; i++) {
        sip = apr_psprintf(pool, "user%d@contoso.test", i);
        ck_assert_int_eq(ucwa_subs_member_add_locked(store, idx, sip, &added), i);
    }
    ck_assert_int_eq(ucwa_subs_member_add_locked(store, idx, "one.more@contoso.test", &added), -1);
    ck_assert_int_ge(ucwa_subs_member_user_locked(store, idx, UCWA_SUB_MEMBERS - 1, 0), 0);
    for (i = 0, m = 0; i < UCWA_SUB_MEMBERS; i++) {
        m += ucwa_subs_member_user_locked(store, idx, i, 1) >= 0;
    }
    ck_assert_int_le(m, 7);
    consistent();
    for (i = UCWA_SUB_MEMBERS - 1; i >= 0; i -= 2) {
        ucwa_subs_member_remove_locked(store, idx, i);
    }
    ck_assert_uint_eq(sub->count, UCWA_SUB_MEMBERS / 2);
    ck_assert_str_eq(ucwa_subs_member_sip(sub, 3), "user6@contoso.test");
    consistent();
    /* the address space: long addresses fill it before the count does */
    ucwa_subs_free_locked(store, idx);
    ck_assert_int_eq(ucwa_subs_create_locked(store, a, MIN(10), T0, &idx), UCWA_SUBS_OK);
    sub = ucwa_store_sub(store, idx);
    for (i = 0;; i++) {
        sip = apr_psprintf(pool, "%s%03d@contoso.test", unit_repeat("x", 230), i);
        if (ucwa_subs_member_add_locked(store, idx, sip, &added) < 0) {
            break;
        }
    }
    ck_assert_int_eq(i, UCWA_SUB_NAMES / (int)(strlen(sip) + 1));
    ck_assert_uint_le(sub->names_len, UCWA_SUB_NAMES);
    consistent();
}
END_TEST

START_TEST(extend)
{
    int a, idx;
    ucwa_sub *sub;

    make_store(1, 4, 4);
    a = new_app("alice@contoso.test");
    ck_assert_int_eq(ucwa_subs_create_locked(store, a, MIN(10), T0, &idx), UCWA_SUBS_OK);
    sub = ucwa_store_sub(store, idx);
    sub->hinted = 1;
    /* adds to what is left */
    ck_assert_int_eq(ucwa_subs_extend_locked(store, idx, MIN(11), T0 + MIN(5)), T0 + MIN(21));
    ck_assert_uint_eq(sub->hinted, 0);
    /* at most 30 minutes from now */
    ck_assert_int_eq(ucwa_subs_extend_locked(store, idx, MIN(30), T0 + MIN(6)), T0 + MIN(36));
    ck_assert_int_eq(ucwa_subs_extend_locked(store, idx, MIN(10), T0 + MIN(6)), T0 + MIN(36));
    /* past its end (the sweeper has not seen it yet): from now */
    ck_assert_int_eq(ucwa_subs_extend_locked(store, idx, MIN(10), T0 + MIN(40)), T0 + MIN(50));
}
END_TEST

/* --- events --------------------------------------------------------------------------- */

START_TEST(subscribe_add_remove_end)
{
    static const char *const sips[] = { "bob@contoso.test", "carol@contoso.test",
                                        "bob@contoso.test" };
    int a, idx, idx2, added, m;
    const char *sid, *sid2;

    make_store(2, 8, 8);
    a = new_app("alice@contoso.test");
    ck_assert_int_eq(subscribe(a, sips, 3, &idx), UCWA_SUBS_OK);
    sid = apr_pstrdup(pool, ucwa_store_sub(store, idx)->id);
    ck_assert_uint_eq(ucwa_store_sub(store, idx)->count, 2);
    {
        const char *want[] = {
            "added contact A/people/bob@contoso.test subscribedContacts A/people/subscribedContacts",
            "added contact A/people/carol@contoso.test subscribedContacts A/people/subscribedContacts",
            apr_psprintf(pool, "added presenceSubscription A/people/presenceSubscriptions/%s", sid),
            "updated contactPresence A/people/bob@contoso.test/presence contact A/people/bob@contoso.test",
            "updated contactPresence A/people/carol@contoso.test/presence contact A/people/carol@contoso.test",
            NULL };
        expect_events(a, want);
    }
    /* a second subscription with bob: bob is no new subscribed contact */
    ck_assert_int_eq(subscribe(a, sips, 1, &idx2), UCWA_SUBS_OK);
    sid2 = apr_pstrdup(pool, ucwa_store_sub(store, idx2)->id);
    {
        const char *want[] = {
            apr_psprintf(pool, "added presenceSubscription A/people/presenceSubscriptions/%s", sid2),
            "updated contactPresence A/people/bob@contoso.test/presence contact A/people/bob@contoso.test",
            NULL };
        expect_events(a, want);
    }
    /* add: dave is new, carol is a member already */
    {
        const char *more[] = { "dave@contoso.test", "carol@contoso.test", "dave@contoso.test" };
        const char *want[] = {
            "added contact A/people/dave@contoso.test subscribedContacts A/people/subscribedContacts",
            "updated contactPresence A/people/dave@contoso.test/presence contact A/people/dave@contoso.test",
            NULL };
        ck_assert_int_eq(ucwa_subs_add_members_locked(store, idx, more, 3, T0, pool, NULL, &added),
                         UCWA_SUBS_OK);
        ck_assert_int_eq(added, 1);
        expect_events(a, want);
        ck_assert_int_eq(ucwa_subs_add_members_locked(store, idx, more + 1, 1, T0, pool, NULL, &added),
                         UCWA_SUBS_OK);
        ck_assert_int_eq(added, 0);
        expect_events(a, (const char *[]){ NULL });
    }
    /* remove bob from the first: still subscribed through the second, no event; carol: deleted */
    m = ucwa_subs_member_find(ucwa_store_sub(store, idx), "bob@contoso.test");
    ucwa_subs_remove_member_locked(store, idx, m, T0, pool, NULL);
    expect_events(a, (const char *[]){ NULL });
    m = ucwa_subs_member_find(ucwa_store_sub(store, idx), "carol@contoso.test");
    ucwa_subs_remove_member_locked(store, idx, m, T0, pool, NULL);
    {
        const char *want[] = {
            "deleted contact A/people/carol@contoso.test subscribedContacts A/people/subscribedContacts",
            NULL };
        expect_events(a, want);
    }
    /* end the second: bob goes; then the first: dave goes */
    ucwa_subs_end_locked(store, idx2, T0, pool, NULL);
    {
        const char *want[] = {
            "deleted contact A/people/bob@contoso.test subscribedContacts A/people/subscribedContacts",
            apr_psprintf(pool, "deleted presenceSubscription A/people/presenceSubscriptions/%s", sid2),
            NULL };
        expect_events(a, want);
    }
    ucwa_subs_end_locked(store, idx, T0, pool, NULL);
    {
        const char *want[] = {
            "deleted contact A/people/dave@contoso.test subscribedContacts A/people/subscribedContacts",
            apr_psprintf(pool, "deleted presenceSubscription A/people/presenceSubscriptions/%s", sid),
            NULL };
        expect_events(a, want);
    }
    ck_assert_int_eq(ucwa_subs_count_locked(store, a), 0);
    consistent();
}
END_TEST

START_TEST(limits_create_nothing)
{
    const char **many = apr_palloc(pool, sizeof(char *) * (UCWA_SUB_MEMBERS + 1));
    int a, idx, i, added;

    make_store(1, 4, 4);
    a = new_app("alice@contoso.test");
    for (i = 0; i <= UCWA_SUB_MEMBERS; i++) {
        many[i] = apr_psprintf(pool, "user%d@contoso.test", i);
    }
    ck_assert_int_eq(subscribe(a, many, UCWA_SUB_MEMBERS + 1, &idx), UCWA_SUBS_MEMBER_LIMIT);
    ck_assert_int_eq(ucwa_subs_count_locked(store, a), 0);
    expect_events(a, (const char *[]){ NULL });
    ck_assert_int_eq(subscribe(a, many, UCWA_SUB_MEMBERS - 1, &idx), UCWA_SUBS_OK);
    (void)events(a);
    ck_assert_int_eq(ucwa_subs_add_members_locked(store, idx, many + 90, 11, T0, pool, NULL, &added),
                     UCWA_SUBS_MEMBER_LIMIT);
    ck_assert_int_eq(added, 0);
    ck_assert_uint_eq(ucwa_store_sub(store, idx)->count, UCWA_SUB_MEMBERS - 1);
    expect_events(a, (const char *[]){ NULL });
    ck_assert_int_eq(ucwa_subs_add_members_locked(store, idx, many + 90, 10, T0, pool, NULL, &added),
                     UCWA_SUBS_OK);
    ck_assert_int_eq(added, 1);
}
END_TEST

/* The transaction the calls run in: the applications they ask to wake. */
static ucwa_txn wake_txn;
#define wake (&wake_txn)

static void reset_woken(void)
{
    ucwa_txn_init(&wake_txn, store, pool);
}

static int woken(int app)
{
    int i, n = 0;

    for (i = 0; i < ucwa_txn_wakes(&wake_txn); i++) {
        n += ucwa_txn_wake_at(&wake_txn, i) == &ucwa_store_app(store, app)->seq;
    }
    return n;
}

START_TEST(notify)
{
    static const char *const bob[] = { "bob@contoso.test" };
    static const char *const both[] = { "carol@contoso.test", "bob@contoso.test" };
    int a1, a2, a3, b, idx, user;

    make_store(4, 8, 16);
    a1 = new_app("alice@contoso.test");
    a2 = new_app("alice@contoso.test");
    a3 = new_app("carol@contoso.test");
    ck_assert_int_eq(subscribe(a1, bob, 1, &idx), UCWA_SUBS_OK);
    ck_assert_int_eq(subscribe(a1, both, 2, &idx), UCWA_SUBS_OK);
    ck_assert_int_eq(subscribe(a2, bob, 1, &idx), UCWA_SUBS_OK);
    (void)events(a1);
    (void)events(a2);
    b = new_app("bob@contoso.test");
    user = (int)ucwa_store_app(store, b)->user;
    make_available(b, UCWA_AV_BUSY);
    reset_woken();
    /* once per watching application, however many of its subscriptions have bob */
    ck_assert_int_eq(ucwa_subs_notify_locked(store, user, "presence", T0, pool, wake), 2);
    {
        const char *want[] = {
            "updated contactPresence A/people/bob@contoso.test/presence contact A/people/bob@contoso.test",
            NULL };
        expect_events(a1, want);
        expect_events(a2, want);
        expect_events(a3, (const char *[]){ NULL });
        expect_events(b, (const char *[]){ NULL });
    }
    ck_assert_int_eq(woken(a1), 1);
    ck_assert_int_eq(woken(a2), 1);
    ck_assert_int_eq(woken(a3) + woken(b), 0);
    /* every member that is bob learnt the availability announced */
    ck_assert_uint_eq(ucwa_store_sub(store, idx)->member_av[0], UCWA_AV_BUSY);
    ck_assert_int_eq(ucwa_subs_notify_locked(store, user, "note", T0, pool, NULL), 2);
    {
        const char *want[] = {
            "updated contactNote A/people/bob@contoso.test/note contact A/people/bob@contoso.test",
            NULL };
        expect_events(a1, want);
        expect_events(a2, want);
    }
    ck_assert_int_eq(ucwa_subs_notify_locked(store, user, "location", T0, pool, NULL), 2);
    {
        const char *want[] = {
            "updated contactLocation A/people/bob@contoso.test/location contact A/people/bob@contoso.test",
            NULL };
        expect_events(a1, want);
        expect_events(a2, want);
    }
    ck_assert_int_eq(ucwa_subs_notify_locked(store, user, "photo", T0, pool, NULL), 0);
    /* nobody watches carol's user but a1 */
    ck_assert_int_eq(ucwa_subs_notify_locked(store, (int)ucwa_store_app(store, a3)->user, "presence",
                                      T0, pool, NULL), 1);
    /* a1 ends: a2 alone hears of bob */
    ucwa_subs_app_gone_locked(store, a1);
    ucwa_store_delete_locked(store, a1);
    ck_assert_int_eq(ucwa_subs_notify_locked(store, user, "presence", T0, pool, NULL), 1);
    consistent();
}
END_TEST

START_TEST(watchers)
{
    static const char *const bob[] = { "carol@contoso.test", "bob@contoso.test" };
    int a1, a2, i1, i2, user, pos = -1, sub, m, n = 0;

    make_store(2, 8, 8);
    a1 = new_app("alice@contoso.test");
    a2 = new_app("alice@contoso.test");
    ck_assert_int_eq(subscribe(a1, bob, 2, &i1), UCWA_SUBS_OK);
    ck_assert_int_eq(subscribe(a2, bob + 1, 1, &i2), UCWA_SUBS_OK);
    user = ucwa_store_user_find_locked(store, "bob@contoso.test", 0);
    while (ucwa_subs_next_watcher_locked(store, user, &pos, &sub, &m)) {
        ck_assert_str_eq(ucwa_subs_member_sip(ucwa_store_sub(store, sub), m), "bob@contoso.test");
        ck_assert_int_eq(sub, n == 0 ? i1 : i2);
        ck_assert_int_eq(m, n == 0 ? 1 : 0);
        n++;
    }
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(ucwa_subs_next_watcher_locked(store, user, &pos, &sub, &m), 0);
    ck_assert(ucwa_subs_app_watches_locked(store, a1, "bob@contoso.test", -1));
    ck_assert(!ucwa_subs_app_watches_locked(store, a1, "bob@contoso.test", i1));
    ck_assert(!ucwa_subs_app_watches_locked(store, a2, "carol@contoso.test", -1));
}
END_TEST

START_TEST(sweep)
{
    static const char *const bob[] = { "bob@contoso.test" };
    int a, idx, b, other;
    const char *sid;

    make_store(3, 8, 12);
    a = new_app("alice@contoso.test");
    ck_assert_int_eq(ucwa_subs_subscribe_locked(store, a, bob, 1, MIN(10), T0, pool, NULL, &idx),
                     UCWA_SUBS_OK);
    sid = apr_pstrdup(pool, ucwa_store_sub(store, idx)->id);
    (void)events(a);
    /* nothing before the last minute */
    reset_woken();
    ucwa_subs_sweep_locked(store, T0 + MIN(9) - 1, pool, wake);
    expect_events(a, (const char *[]){ NULL });
    ck_assert_int_eq(woken(a), 0);
    /* then the hint, with the resource, once */
    ucwa_subs_sweep_locked(store, T0 + MIN(9), pool, wake);
    {
        const char *want[] = {
            apr_psprintf(pool, "updated presenceSubscription A/people/presenceSubscriptions/%s "
                         "+embedded", sid), NULL };
        expect_events(a, want);
    }
    ck_assert_int_eq(woken(a), 1);
    ucwa_subs_sweep_locked(store, T0 + MIN(9) + 1, pool, wake);
    expect_events(a, (const char *[]){ NULL });
    /* extended: the hint comes again before the new end */
    ucwa_subs_extend_locked(store, idx, MIN(10), T0 + MIN(9) + 1);
    ucwa_subs_sweep_locked(store, T0 + MIN(18), pool, wake);
    expect_events(a, (const char *[]){ NULL });
    ucwa_subs_sweep_locked(store, T0 + MIN(19), pool, wake);
    ck_assert_int_eq(events(a)->nelts, 1);
    /* presence published without a notify (makeMeAvailable) is announced by the sweep */
    b = new_app("bob@contoso.test");
    make_available(b, UCWA_AV_NONE);
    ucwa_subs_sweep_locked(store, T0 + MIN(19) + 2, pool, wake);
    {
        const char *want[] = {
            "updated contactPresence A/people/bob@contoso.test/presence contact A/people/bob@contoso.test",
            NULL };
        expect_events(a, want);
    }
    ucwa_subs_sweep_locked(store, T0 + MIN(19) + 3, pool, wake);
    expect_events(a, (const char *[]){ NULL });
    /* the end */
    ucwa_subs_sweep_locked(store, T0 + MIN(19) + 1 + MIN(1), pool, wake);
    {
        const char *want[] = {
            "deleted contact A/people/bob@contoso.test subscribedContacts A/people/subscribedContacts",
            apr_psprintf(pool, "deleted presenceSubscription A/people/presenceSubscriptions/%s", sid),
            NULL };
        expect_events(a, want);
    }
    ck_assert_int_eq(ucwa_subs_count_locked(store, a), 0);
    ck_assert_uint_eq(ucwa_store_sub(store, idx)->state, UCWA_SLOT_FREE);
    ck_assert_uint_eq(ucwa_subs_used_locked(store), 0);     /* scans stop at once again */
    /* an application that ended without app_gone: its subscriptions are freed quietly */
    other = new_app("carol@contoso.test");
    ck_assert_int_eq(subscribe(other, bob, 1, &idx), UCWA_SUBS_OK);
    ck_assert_int_eq(subscribe(b, bob, 1, &idx), UCWA_SUBS_OK);
    ck_assert_uint_eq(ucwa_subs_used_locked(store), 2);
    ucwa_store_delete_locked(store, b);
    ucwa_subs_sweep_locked(store, T0, pool, NULL);
    ck_assert_uint_eq(ucwa_store_sub(store, idx)->state, UCWA_SLOT_FREE);
    ck_assert_uint_eq(ucwa_subs_used_locked(store), 1);     /* the last one in use ended */
    ucwa_store_delete_locked(store, other);
    ucwa_subs_sweep_locked(store, T0, pool, NULL);
    ck_assert_uint_eq(ucwa_subs_used_locked(store), 0);
    /* app_gone frees every subscription of the application, at once */
    other = new_app("carol@contoso.test");
    ck_assert_int_eq(subscribe(other, bob, 1, &idx), UCWA_SUBS_OK);
    ck_assert_int_eq(subscribe(other, bob, 1, &idx), UCWA_SUBS_OK);
    ck_assert_int_eq(ucwa_subs_count_locked(store, other), 2);
    ucwa_subs_app_gone_locked(store, other);
    ck_assert_int_eq(ucwa_subs_count_locked(store, other), 0);
    ucwa_store_expire_locked(store, other);
    consistent();
}
END_TEST

START_TEST(user_slot_taken_back)
{
    static const char *const bob[] = { "bob@contoso.test" };
    static const char *const carol[] = { "carol@contoso.test" };
    int a, i1, i2, b, bob_slot, user;
    ucwa_sub *s1;

    /* two user slots: alice's, and bob's, made by the subscription */
    make_store(2, 2, 8);
    a = new_app("alice@contoso.test");
    ck_assert_int_eq(subscribe(a, bob, 1, &i1), UCWA_SUBS_OK);
    s1 = ucwa_store_sub(store, i1);
    bob_slot = ucwa_subs_member_user_locked(store, i1, 0, 0);
    ck_assert_int_ge(bob_slot, 0);
    /* carol takes bob's slot (bob has no application) */
    ck_assert_int_eq(subscribe(a, carol, 1, &i2), UCWA_SUBS_OK);
    ck_assert_int_eq(ucwa_subs_member_user_locked(store, i2, 0, 0), bob_slot);
    ck_assert_int_eq(ucwa_subs_member_user_locked(store, i1, 0, 0), -1);
    ck_assert_int_eq(ucwa_subs_member_user_locked(store, i1, 0, 1), -1);
    ck_assert_uint_eq(s1->member[0], UCWA_SUBS_NO_USER);
    (void)events(a);
    /* bob signs in (taking carol's slot back): a notify of his finds the member by address */
    b = new_app("bob@contoso.test");
    user = (int)ucwa_store_app(store, b)->user;
    ck_assert_int_eq(ucwa_subs_notify_locked(store, user, "note", T0, pool, NULL), 1);
    ck_assert_int_eq(ucwa_subs_member_user_locked(store, i1, 0, 0), user);
    ck_assert_int_eq(ucwa_subs_member_user_locked(store, i2, 0, 0), -1);   /* carol is out */
    {
        const char *want[] = {
            "updated contactNote A/people/bob@contoso.test/note contact A/people/bob@contoso.test",
            NULL };
        expect_events(a, want);
    }
    /* and the sweep finds him too, when he comes back without a notify */
    s1->member[0] = UCWA_SUBS_NO_USER;
    make_available(b, UCWA_AV_NONE);
    ucwa_subs_sweep_locked(store, T0, pool, NULL);
    ck_assert_int_eq(ucwa_subs_member_user_locked(store, i1, 0, 0), user);
    {
        const char *want[] = {
            "updated contactPresence A/people/bob@contoso.test/presence contact A/people/bob@contoso.test",
            NULL };
        expect_events(a, want);
    }
    consistent();
}
END_TEST

START_TEST(resource)
{
    json_t *r;
    char *s;

    r = ucwa_subs_resource(pool, "/ucwa/oauth/v1/applications/101", "97b6bd66");
    s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
    ck_assert_str_eq(s,
        "{\"id\":\"97b6bd66\",\"_links\":{\"self\":{\"href\":\"/ucwa/oauth/v1/applications/101/"
        "people/presenceSubscriptions/97b6bd66\"},\"memberships\":{\"href\":\"/ucwa/oauth/v1/"
        "applications/101/people/presenceSubscriptionMemberships?presenceSubscriptionId="
        "97b6bd66\"},\"addToPresenceSubscription\":{\"href\":\"/ucwa/oauth/v1/applications/101/"
        "people/presenceSubscriptionMemberships?presenceSubscriptionId=97b6bd66\"}},"
        "\"rel\":\"presenceSubscription\"}");
    free(s);
}
END_TEST

START_TEST(check_finds_problems)
{
    static const char *const two[] = { "bob@contoso.test", "carol@contoso.test" };
    apr_uint32_t subs, members;
    int a, idx, idx2;
    ucwa_sub *sub;

    make_store(2, 8, 8);
    a = new_app("alice@contoso.test");
    ck_assert_int_eq(subscribe(a, two, 2, &idx), UCWA_SUBS_OK);
    ck_assert_int_eq(subscribe(a, two, 1, &idx2), UCWA_SUBS_OK);
    ck_assert_ptr_null(ucwa_subs_check_locked(store, &subs, &members, pool));
    ck_assert_uint_eq(subs, 2);
    ck_assert_uint_eq(members, 3);
    sub = ucwa_store_sub(store, idx);
    sub->name_off[1] = 3;
    ck_assert_ptr_nonnull(ucwa_subs_check_locked(store, &subs, &members, pool));
    sub->name_off[1] = (apr_uint16_t)(strlen(two[0]) + 1);
    memcpy(ucwa_store_sub(store, idx2)->id, sub->id, sizeof(sub->id));
    ck_assert_ptr_nonnull(strstr(ucwa_subs_check_locked(store, &subs, &members, pool), "two"));
    ucwa_subs_free_locked(store, idx2);
    ck_assert_ptr_null(ucwa_subs_check_locked(store, &subs, &members, pool));
    ucwa_store_delete_locked(store, a);
    ck_assert_ptr_nonnull(strstr(ucwa_subs_check_locked(store, &subs, &members, pool), "ended"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_subs");
    TCase *tc = unit_tcase("ucwa_subs");

    tcase_add_test(tc, addresses);
    tcase_add_test(tc, create_find_and_limits);
    tcase_add_test(tc, members);
    tcase_add_test(tc, extend);
    tcase_add_test(tc, subscribe_add_remove_end);
    tcase_add_test(tc, limits_create_nothing);
    tcase_add_test(tc, notify);
    tcase_add_test(tc, watchers);
    tcase_add_test(tc, sweep);
    tcase_add_test(tc, user_slot_taken_back);
    tcase_add_test(tc, resource);
    tcase_add_test(tc, check_finds_problems);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_subs", s);
}
