/* ucwa_store: the lists that spare requests a walk over every slot: each user's live
 * applications, the free slots (the last freed is reused first, then slots never used,
 * then the oldest tombstone), what ucwa_store_check_locked says when a list is wrong, and a
 * transaction's wake list. The event channel and ids are covered by fuzz_ucwa_store's
 * model. */
#include "unit.h"
#include "ucwa_store.h"

#define T0 ((apr_time_t)1700000000 * APR_USEC_PER_SEC)

static ucwa_store *store;

static void make_store(apr_uint32_t apps, apr_uint32_t users)
{
    ucwa_store_limits l = { apps, 4, 512, users, 1, 1 };
    void *base = apr_pcalloc(pool, ucwa_store_bytes(&l) + 8);

    store = ucwa_store_init((void *)(((apr_uintptr_t)base + 7) & ~(apr_uintptr_t)7), &l);
}

static ucwa_create_result create(const char *user, const char *endpoint, apr_time_t now,
                                 int *idx)
{
    ucwa_app_params in;

    memset(&in, 0, sizeof(in));
    in.user = user;
    in.endpoint_id = endpoint;
    in.user_agent = "tests";
    in.culture = "en-US";
    in.prefix = "/ucwa/oauth/v1/applications";
    return ucwa_store_create_locked(store, &in, now, idx);
}

static int app(const char *user, const char *endpoint)
{
    int idx = -1;

    ck_assert_int_eq(create(user, endpoint, T0, &idx), UCWA_CREATE_NEW);
    return idx;
}

/* The user's applications as the list gives them, e.g. "3 1 0". */
static const char *list(const char *user)
{
    int u = ucwa_store_user_find_locked(store, user, 0), i;
    const char *out = "";

    ck_assert_int_ge(u, 0);
    for (i = ucwa_store_first_app(store, u); i >= 0; i = ucwa_store_next_app(store, i)) {
        out = apr_psprintf(pool, "%s%s%d", out, *out ? " " : "", i);
    }
    return out;
}

static void consistent(void)
{
    ucwa_store_stats st;
    const char *bad = ucwa_store_check_locked(store, &st, pool);

    ck_assert_msg(bad == NULL, "%s", bad);
}

START_TEST(user_lists)
{
    int a1, b1, a2, a3, again;

    make_store(8, 4);
    a1 = app("alice@contoso.test", "phone");
    b1 = app("bob@contoso.test", "phone");
    a2 = app("alice@contoso.test", "tablet");
    a3 = app("alice@contoso.test", "laptop");
    ck_assert_str_eq(list("alice@contoso.test"), apr_psprintf(pool, "%d %d %d", a3, a2, a1));
    ck_assert_str_eq(list("bob@contoso.test"), apr_psprintf(pool, "%d", b1));
    consistent();
    /* the same endpoint again is found through the list */
    ck_assert_int_eq(create("alice@contoso.test", "tablet", T0, &again), UCWA_CREATE_EXISTING);
    ck_assert_int_eq(again, a2);
    /* out of the middle, the head and the tail */
    ucwa_store_delete_locked(store, a2);
    ck_assert_str_eq(list("alice@contoso.test"), apr_psprintf(pool, "%d %d", a3, a1));
    ucwa_store_expire_locked(store, a3);
    ck_assert_str_eq(list("alice@contoso.test"), apr_psprintf(pool, "%d", a1));
    ucwa_store_delete_locked(store, a1);
    ck_assert_str_eq(list("alice@contoso.test"), "");
    ck_assert_str_eq(list("bob@contoso.test"), apr_psprintf(pool, "%d", b1));
    consistent();
    /* a post to a user reaches the user's live applications only */
    ck_assert_int_eq(ucwa_store_post_user_locked(store, ucwa_store_user_find_locked(store, "bob@contoso.test",
                                                                      0),
                                          0, UCWA_PRIO_HIGH, "me", "/me", "me", "/me",
                                          "updated", T0, pool), 1);
    ck_assert_int_eq(ucwa_store_post_user_locked(store, ucwa_store_user_find_locked(store,
                                                                      "alice@contoso.test", 0),
                                          0, UCWA_PRIO_HIGH, "me", "/me", "me", "/me",
                                          "updated", T0, pool), 0);
}
END_TEST

START_TEST(free_slots_in_order)
{
    int a[4], i, idx;

    make_store(4, 4);
    for (i = 0; i < 4; i++) {
        a[i] = app("alice@contoso.test", apr_psprintf(pool, "ep-%d", i));
        ck_assert_int_eq(a[i], i);                   /* never used slots, in order */
    }
    ck_assert_int_eq(create("alice@contoso.test", "ep-4", T0, &idx), UCWA_CREATE_FULL);
    ucwa_store_delete_locked(store, a[1]);
    ucwa_store_delete_locked(store, a[3]);
    ucwa_store_delete_locked(store, a[3]);                  /* twice: freed once */
    consistent();
    ck_assert_int_eq(app("bob@contoso.test", "x"), 3);   /* the last freed first */
    ck_assert_int_eq(app("bob@contoso.test", "y"), 1);
    ck_assert_int_eq(create("bob@contoso.test", "z", T0, &idx), UCWA_CREATE_FULL);
    /* a full table of tombstones: the oldest is taken back */
    ucwa_store_app(store, 0)->last_seen = T0 + 5;
    ucwa_store_app(store, 2)->last_seen = T0 + 1;
    ucwa_store_expire_locked(store, 0);
    ucwa_store_expire_locked(store, 2);
    ck_assert_int_eq(create("bob@contoso.test", "z", T0, &idx), UCWA_CREATE_NEW);
    ck_assert_int_eq(idx, 2);
    consistent();
    /* a tombstone freed later (the sweeper) goes on the free list */
    ucwa_store_delete_locked(store, 0);
    ck_assert_int_eq(app("carol@contoso.test", "phone"), 0);
    consistent();
}
END_TEST

START_TEST(check_finds_broken_lists)
{
    int a1, a2, b1, u;

    make_store(8, 4);
    a1 = app("alice@contoso.test", "phone");
    a2 = app("alice@contoso.test", "tablet");
    b1 = app("bob@contoso.test", "phone");
    u = ucwa_store_user_find_locked(store, "alice@contoso.test", 0);
    /* bob's application in alice's list */
    ucwa_store_app(store, a1)->next = (apr_uint32_t)b1 + 1;
    ck_assert_ptr_nonnull(strstr(ucwa_store_check_locked(store, &(ucwa_store_stats){ 0 }, pool),
                                 "not one of its applications"));
    /* a cycle: walks stay bounded, and check reports it */
    ucwa_store_app(store, a1)->next = (apr_uint32_t)a2 + 1;
    ck_assert_int_eq(ucwa_store_first_app(store, u), a2);
    ck_assert_ptr_nonnull(strstr(ucwa_store_check_locked(store, &(ucwa_store_stats){ 0 }, pool),
                                 "holds 3 applications, the table 2"));
    ucwa_store_app(store, a1)->next = 0;
    consistent();
    /* a free slot missing from the free list */
    ucwa_store_delete_locked(store, a2);
    ucwa_store_expire_locked(store, b1);
    consistent();
    ucwa_store_app(store, b1)->state = UCWA_SLOT_FREE;
    ck_assert_ptr_nonnull(strstr(ucwa_store_check_locked(store, &(ucwa_store_stats){ 0 }, pool),
                                 "the free list holds 1 slots, the table 2"));
    ucwa_store_app(store, b1)->state = UCWA_SLOT_EXPIRED;
    consistent();
    /* a slot in use past the never used mark */
    ucwa_store_app(store, 6)->state = UCWA_SLOT_EXPIRED;
    ck_assert_ptr_nonnull(strstr(ucwa_store_check_locked(store, &(ucwa_store_stats){ 0 }, pool),
                                 "counted as never used"));
}
END_TEST

/* A transaction's wake list: empty until asked, in the order asked, a word asked twice
 * in a row kept once; it names the applications' futex words. */
START_TEST(txn_wake_list)
{
    ucwa_txn t;
    int a, b;

    make_store(4, 4);
    a = app("alice@contoso.test", "ep-a");
    b = app("bob@contoso.test", "ep-b");
    ucwa_txn_init(&t, store, pool);
    ck_assert_ptr_eq(t.store, store);
    ck_assert_int_eq(ucwa_txn_wakes(&t), 0);
    ucwa_txn_wake_app(&t, a);
    ucwa_txn_wake_app(&t, a);
    ucwa_txn_wake_app(&t, b);
    ucwa_txn_wake_word(&t, ucwa_store_word(store, UCWA_WORD_PUSH_QUEUED));
    ucwa_txn_wake_app(&t, a);
    ck_assert_int_eq(ucwa_txn_wakes(&t), 4);
    ck_assert(ucwa_txn_wake_at(&t, 0) == &ucwa_store_app(store, a)->seq);
    ck_assert(ucwa_txn_wake_at(&t, 1) == &ucwa_store_app(store, b)->seq);
    ck_assert(ucwa_txn_wake_at(&t, 2) == ucwa_store_word(store, UCWA_WORD_PUSH_QUEUED));
    ck_assert(ucwa_txn_wake_at(&t, 3) == &ucwa_store_app(store, a)->seq);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_store");
    TCase *tc = unit_tcase("ucwa_store");

    tcase_add_test(tc, user_lists);
    tcase_add_test(tc, free_slots_in_order);
    tcase_add_test(tc, check_finds_broken_lists);
    tcase_add_test(tc, txn_wake_list);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_store", s);
}
