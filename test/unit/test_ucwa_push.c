/* ucwa_push: the background rule, the push queue (folding, content, the oldest first,
 * stale sends taken back, retries and giving up) and the backoff. */
#include <stdlib.h>

#include "unit.h"
#include "ucwa_push.h"

static ucwa_store *st;
static void *mem;
static apr_time_t now;

static void setup(void)
{
    ucwa_store_limits l;

    unit_pool_setup();
    memset(&l, 0, sizeof(l));
    l.max_apps = 4;
    l.ring_len = 8;
    l.event_size = 1024;
    l.max_users = 4;
    l.max_push = 3;
    mem = calloc(1, ucwa_store_bytes(&l));
    st = ucwa_store_init(mem, &l);
    now = apr_time_from_sec(1700000000);
    ucwa_push_configure_locked(st, 1, 60, UCWA_PUSH_CONTENT_NONE);
}

static void teardown(void)
{
    free(mem);
    mem = NULL;
    unit_pool_teardown();
}

/* An application of user on device, registered for push, last seen at seen. */
static int app(const char *user, const char *device, apr_time_t seen)
{
    ucwa_app_params in;
    int idx = -1;

    memset(&in, 0, sizeof(in));
    in.user = user;
    in.endpoint_id = device;
    in.user_agent = "unit";
    in.culture = "en-US";
    in.instance_id = "";
    in.prefix = "/ucwa/oauth/v1/applications";
    in.policy_tag = "";
    in.name = user;
    ck_assert_int_eq(ucwa_store_create_locked(st, &in, seen, &idx), UCWA_CREATE_NEW);
    ucwa_store_app(st, idx)->push = 1;
    return idx;
}

static int queued(void)
{
    apr_uint32_t q, s;

    ucwa_push_counts_locked(st, &q, &s);
    return (int)q;
}

START_TEST(background_rule)
{
    int a = app("bob@x", "phone", now);
    ucwa_app *ap = ucwa_store_app(st, a);

    ck_assert(!ucwa_push_in_background_locked(st, ap, now + apr_time_from_sec(59)));
    ck_assert(ucwa_push_in_background_locked(st, ap, now + apr_time_from_sec(60)));
    ap->parked = 1;                  /* a pending event request: in the foreground */
    ck_assert(!ucwa_push_in_background_locked(st, ap, now + apr_time_from_sec(600)));
    ap->parked = 0;
    ap->background = 1;              /* it said so */
    ck_assert(ucwa_push_in_background_locked(st, ap, now));
    ap->push = 0;                    /* no registration: never */
    ck_assert(!ucwa_push_in_background_locked(st, ap, now + apr_time_from_sec(600)));
}
END_TEST

START_TEST(only_registered_background_apps_get_jobs)
{
    int fg = app("bob@x", "tablet", now), bg = app("bob@x", "phone", now), plain;

    ucwa_store_app(st, bg)->background = 1;
    ck_assert_int_eq(ucwa_push_note_locked(st, fg, UCWA_PUSH_MESSAGE, "c1", "Alice", "hi", 2, now), 0);
    ck_assert_int_eq(ucwa_push_note_locked(st, bg, UCWA_PUSH_MESSAGE, "c1", "Alice", "hi", 2, now), 1);
    plain = app("carol@x", "phone", now);
    ucwa_store_app(st, plain)->push = 0;
    ucwa_store_app(st, plain)->background = 1;
    ck_assert_int_eq(ucwa_push_note_locked(st, plain, UCWA_PUSH_MESSAGE, "c2", "A", "x", 1, now), 0);
    ck_assert_int_eq(queued(), 1);
    /* push switched off on the server: nothing is queued */
    ucwa_push_configure_locked(st, 0, 60, UCWA_PUSH_CONTENT_NONE);
    ck_assert_int_eq(ucwa_push_note_locked(st, bg, UCWA_PUSH_MESSAGE, "c3", "A", "x", 1, now), 0);
    ck_assert_int_eq(queued(), 1);
}
END_TEST

START_TEST(a_burst_folds_into_one_job)
{
    int bob = app("bob@x", "phone", now);
    ucwa_push_job j[3];

    ucwa_store_app(st, bob)->background = 1;
    ucwa_push_note_locked(st, bob, UCWA_PUSH_INVITATION, "c1", "Alice", "hello", 5, now);
    ucwa_push_note_locked(st, bob, UCWA_PUSH_MESSAGE, "c1", "Alice", "again", 5, now);
    ucwa_push_note_locked(st, bob, UCWA_PUSH_MESSAGE, "c2", "Dave", "other", 5, now);
    ck_assert_int_eq(queued(), 2);   /* one per conversation */
    ck_assert_int_eq(ucwa_push_take_locked(st, now, j, 3), 2);
    ck_assert_str_eq(j[0].conversation, "c1");
    ck_assert_uint_eq(j[0].events, 2);
    ck_assert_uint_eq(j[0].kind, UCWA_PUSH_MESSAGE);   /* the most telling kind */
    ck_assert_uint_eq(j[0].badge, 2);
    ck_assert_uint_eq(j[1].badge, 3);                  /* the app's count goes on */
    ck_assert_str_eq(j[0].user, "bob@x");
    ck_assert_str_eq(j[0].endpoint_id, "phone");
    /* no customer data by default */
    ck_assert_str_eq(j[0].sender, "");
    ck_assert_str_eq(j[0].preview, "");
    /* back in the foreground: the badge starts again */
    ucwa_push_foreground(ucwa_store_app(st, bob));
    ck_assert_uint_eq(ucwa_store_app(st, bob)->badge, 0);
    ck_assert(!ucwa_store_app(st, bob)->background);
}
END_TEST

START_TEST(content_and_preview_cut)
{
    int bob = app("bob@x", "phone", now);
    char text[400];
    ucwa_push_job j;

    /* 2-byte characters: the preview stops at a character boundary */
    memset(text, 0, sizeof(text));
    for (int i = 0; i < 100; i++) {
        text[2 * i] = (char)0xc3;
        text[2 * i + 1] = (char)0xa9;
    }
    ucwa_store_app(st, bob)->background = 1;
    ucwa_push_configure_locked(st, 1, 60, UCWA_PUSH_CONTENT_SENDER);
    ucwa_push_note_locked(st, bob, UCWA_PUSH_MESSAGE, "c1", "Alice", text, 200, now);
    ck_assert_int_eq(ucwa_push_take_locked(st, now, &j, 1), 1);
    ck_assert_str_eq(j.sender, "Alice");
    ck_assert_str_eq(j.preview, "");
    ucwa_push_finish_locked(st, &j, UCWA_PUSH_DONE, 0, now);
    ucwa_push_configure_locked(st, 1, 60, UCWA_PUSH_CONTENT_PREVIEW);
    ucwa_push_note_locked(st, bob, UCWA_PUSH_MESSAGE, "c1", "Alice", text, 200, now);
    ck_assert_int_eq(ucwa_push_take_locked(st, now, &j, 1), 1);
    ck_assert_uint_eq(strlen(j.preview), UCWA_PUSH_PREVIEW_MAX);   /* 160: 80 whole ones */
    ck_assert_int_eq((unsigned char)j.preview[UCWA_PUSH_PREVIEW_MAX - 2], 0xc3);
}
END_TEST

START_TEST(oldest_first_retries_and_giving_up)
{
    int bob = app("bob@x", "phone", now);
    ucwa_push_job j[3];
    apr_uint32_t q, s;
    int i;

    ucwa_store_app(st, bob)->background = 1;
    ucwa_push_note_locked(st, bob, UCWA_PUSH_MESSAGE, "late", NULL, NULL, 0, now + 5);
    ucwa_push_note_locked(st, bob, UCWA_PUSH_MESSAGE, "early", NULL, NULL, 0, now);
    ck_assert_int_eq(ucwa_push_take_locked(st, now + 10, j, 1), 1);
    ck_assert_str_eq(j[0].conversation, "early");
    /* a retry waits its backoff */
    ucwa_push_finish_locked(st, &j[0], UCWA_PUSH_AGAIN, apr_time_from_sec(2), now + 10);
    ck_assert_int_eq(ucwa_push_take_locked(st, now + 11, j, 3), 1);
    ck_assert_str_eq(j[0].conversation, "late");
    ucwa_push_finish_locked(st, &j[0], UCWA_PUSH_DONE, 0, now + 11);
    ck_assert_int_eq(ucwa_push_take_locked(st, now + apr_time_from_sec(3), j, 3), 1);
    ck_assert_str_eq(j[0].conversation, "early");
    ck_assert_uint_eq(j[0].attempts, 1);
    /* a send that never reported back is taken again after UCWA_PUSH_SENDING_STALE */
    ck_assert_int_eq(ucwa_push_take_locked(st, now + apr_time_from_sec(60), j + 1, 1), 0);
    ck_assert_int_eq(ucwa_push_take_locked(st, now + apr_time_from_sec(3) + UCWA_PUSH_SENDING_STALE
                                        + 1, j + 1, 1), 1);
    /* the first dispatcher's report then changes nothing */
    ucwa_push_finish_locked(st, &j[0], UCWA_PUSH_DONE, 0, now);
    ucwa_push_counts_locked(st, &q, &s);
    ck_assert_uint_eq(s, 1);
    /* after UCWA_PUSH_MAX_ATTEMPTS the job goes */
    for (i = 0; i < UCWA_PUSH_MAX_ATTEMPTS + 2; i++) {
        apr_time_t t = now + apr_time_from_sec(1000 * (i + 1));
        if (i > 0 && ucwa_push_take_locked(st, t, j + 1, 1) == 0) {
            break;
        }
        ucwa_push_finish_locked(st, &j[1], UCWA_PUSH_AGAIN, 1, t);
    }
    ucwa_push_counts_locked(st, &q, &s);
    ck_assert_uint_eq(q + s, 0);
    ck_assert_int_eq(i, UCWA_PUSH_MAX_ATTEMPTS - 1);
}
END_TEST

START_TEST(a_full_queue_refuses)
{
    int bob = app("bob@x", "phone", now);

    ucwa_store_app(st, bob)->background = 1;
    ck_assert_int_eq(ucwa_push_note_locked(st, bob, UCWA_PUSH_MESSAGE, "a", NULL, NULL, 0, now), 1);
    ck_assert_int_eq(ucwa_push_note_locked(st, bob, UCWA_PUSH_MESSAGE, "b", NULL, NULL, 0, now), 1);
    ck_assert_int_eq(ucwa_push_note_locked(st, bob, UCWA_PUSH_MESSAGE, "c", NULL, NULL, 0, now), 1);
    ck_assert_int_eq(ucwa_push_note_locked(st, bob, UCWA_PUSH_MESSAGE, "d", NULL, NULL, 0, now), -1);
    /* a queued conversation still folds */
    ck_assert_int_eq(ucwa_push_note_locked(st, bob, UCWA_PUSH_MISSED, "b", NULL, NULL, 0, now), 1);
}
END_TEST

START_TEST(take_keeps_the_oldest_and_the_used_slots_shrink)
{
    int bob = app("bob@x", "phone", now);
    ucwa_push_job j[3];

    ucwa_store_app(st, bob)->background = 1;
    ck_assert_uint_eq(ucwa_push_used_locked(st), 0);
    ucwa_push_note_locked(st, bob, UCWA_PUSH_MESSAGE, "b", NULL, NULL, 0, now + 2);
    ucwa_push_note_locked(st, bob, UCWA_PUSH_MESSAGE, "a", NULL, NULL, 0, now + 1);
    ucwa_push_note_locked(st, bob, UCWA_PUSH_MESSAGE, "c", NULL, NULL, 0, now + 2);
    ck_assert_uint_eq(ucwa_push_used_locked(st), 3);
    /* the two oldest, in order; of two queued at once, the first slot first */
    ck_assert_int_eq(ucwa_push_take_locked(st, now + 10, j, 2), 2);
    ck_assert_str_eq(j[0].conversation, "a");
    ck_assert_str_eq(j[1].conversation, "b");
    ck_assert_int_eq(ucwa_push_take_locked(st, now + 10, j + 2, 2), 1);
    ck_assert_str_eq(j[2].conversation, "c");
    /* the last slot done: the scans stop before it; the first done: still in use */
    ucwa_push_finish_locked(st, &j[2], UCWA_PUSH_DONE, 0, now + 10);
    ck_assert_uint_eq(ucwa_push_used_locked(st), 2);
    ucwa_push_finish_locked(st, &j[1], UCWA_PUSH_DONE, 0, now + 10);
    ck_assert_uint_eq(ucwa_push_used_locked(st), 2);
    ucwa_push_finish_locked(st, &j[0], UCWA_PUSH_DONE, 0, now + 10);
    ck_assert_uint_eq(ucwa_push_used_locked(st), 0);
    ck_assert_int_eq(queued(), 0);
    /* queued again from the first slot */
    ck_assert_int_eq(ucwa_push_note_locked(st, bob, UCWA_PUSH_MESSAGE, "d", NULL, NULL, 0, now), 1);
    ck_assert_uint_eq(ucwa_push_used_locked(st), 1);
}
END_TEST

START_TEST(a_released_job_is_due_again_without_an_attempt)
{
    int bob = app("bob@x", "phone", now);
    ucwa_push_job j, k;

    ucwa_store_app(st, bob)->background = 1;
    ucwa_push_note_locked(st, bob, UCWA_PUSH_MESSAGE, "c1", NULL, NULL, 0, now);
    ck_assert_int_eq(ucwa_push_take_locked(st, now, &j, 1), 1);
    /* handed to nobody (a pool's database away): back, due at the time given */
    ucwa_push_release_locked(st, &j, now + apr_time_from_sec(1));
    ck_assert_int_eq(queued(), 1);
    ck_assert_int_eq(ucwa_push_take_locked(st, now, &k, 1), 0);
    ck_assert_int_eq(ucwa_push_take_locked(st, now + apr_time_from_sec(1), &k, 1), 1);
    ck_assert_uint_eq(k.attempts, 0);
    /* taken back as stale since: the late copy releases nothing */
    ck_assert_int_eq(ucwa_push_take_locked(st, now + apr_time_from_sec(2) + UCWA_PUSH_SENDING_STALE,
                                           &j, 1), 1);
    ucwa_push_release_locked(st, &k, now);
    ck_assert_int_eq(queued(), 0);
    ucwa_push_finish_locked(st, &j, UCWA_PUSH_DONE, 0, now);
    ck_assert_uint_eq(ucwa_push_used_locked(st), 0);
    /* the retry rule the pool's table shares */
    ck_assert(ucwa_push_retries(UCWA_PUSH_AGAIN, 0));
    ck_assert(ucwa_push_retries(UCWA_PUSH_AGAIN, UCWA_PUSH_MAX_ATTEMPTS - 2));
    ck_assert(!ucwa_push_retries(UCWA_PUSH_AGAIN, UCWA_PUSH_MAX_ATTEMPTS - 1));
    ck_assert(!ucwa_push_retries(UCWA_PUSH_DONE, 0));
}
END_TEST

START_TEST(backoff)
{
    ck_assert_int_eq(ucwa_push_backoff(0, 0), apr_time_from_sec(1));
    ck_assert_int_eq(ucwa_push_backoff(3, 0), apr_time_from_sec(8));
    ck_assert_int_eq(ucwa_push_backoff(20, 0), UCWA_PUSH_BACKOFF_MAX);
    ck_assert_int_eq(ucwa_push_backoff(0, apr_time_from_sec(30)), apr_time_from_sec(30));
    ck_assert_int_eq(ucwa_push_backoff(0, apr_time_from_sec(99999)), apr_time_from_sec(3600));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_push");
    TCase *tc = tcase_create("ucwa_push");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, background_rule);
    tcase_add_test(tc, only_registered_background_apps_get_jobs);
    tcase_add_test(tc, a_burst_folds_into_one_job);
    tcase_add_test(tc, content_and_preview_cut);
    tcase_add_test(tc, oldest_first_retries_and_giving_up);
    tcase_add_test(tc, a_full_queue_refuses);
    tcase_add_test(tc, take_keeps_the_oldest_and_the_used_slots_shrink);
    tcase_add_test(tc, a_released_job_is_due_again_without_an_attempt);
    tcase_add_test(tc, backoff);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_push", s);
}
