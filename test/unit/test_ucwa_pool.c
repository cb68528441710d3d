/* ucwa_pool: two Front Ends (fe1, fe2), each with its own session store in memory, and
 * the pool between them played by test/fuzz/pool_model.h (what the pool's SQL and
 * thread do): presence, conversations across Front Ends, claims, a Front End gone, a
 * full outbox, and messages that are malformed or name nothing. */
#include <stdlib.h>
#include <jansson.h>

#include "unit.h"
#include "unit_conv.h"
#include "ucwa_av.h"
#include "ucwa_conv.h"
#include "ucwa_conv_phone.h"
#include "ucwa_pool.h"
#include "ucwa_subs.h"
#include "../fuzz/pool_model.h"

#define FE1 0
#define FE2 1
#define ALICE "alice@contoso.test"
#define BOB "bob@contoso.test"
#define CAROL "carol@contoso.test"

static pm_model m;
static apr_time_t now;
static int endpoints_made;
static json_t *last;      /* the events of the last events() call */
static const char *raw;   /* the same as a JSON text */

static void setup(void)
{
    ucwa_store_limits l;

    unit_pool_setup();
    memset(&l, 0, sizeof(l));
    l.max_apps = 8;
    l.ring_len = 128;
    l.event_size = 4096;
    l.max_users = 8;
    l.max_subs = 4;
    l.max_convs = 16;
    l.max_calls = 4;
    pm_init(&m, pool, &l);
    now = apr_time_from_sec(1700000000);
    endpoints_made = 0;
    raw = "";
    last = NULL;
}

static void teardown(void)
{
    int i;

    for (i = 0; i < PM_FES; i++) {
        ucwa_conv_stats cs;
        ucwa_store_stats ss;
        const char *bad = ucwa_conv_check_locked(m.s[i], &cs, pool);
        ck_assert_msg(bad == NULL, "%s inconsistent: %s", m.name[i], bad);
        bad = ucwa_store_check_locked(m.s[i], &ss, pool);
        ck_assert_msg(bad == NULL, "%s inconsistent: %s", m.name[i], bad);
    }
    if (last) {
        json_decref(last);
    }
    pm_free(&m);
    unit_pool_teardown();
}

static ucwa_store *S(int fe)
{
    return m.s[fe];
}

/* A new application of user on fe, available for Messaging (or a lurker), announced to
 * the pool as makeMeAvailable does. */
static int app_on(int fe, const char *user, const char *name, int available)
{
    int idx = unit_conv_app(S(fe), user, name, endpoints_made++, now);
    ucwa_app *a = ucwa_store_app(S(fe), idx);

    if (available) {
        ucwa_user *u = ucwa_store_user(S(fe), (int)a->user);
        a->available = 1;
        a->modalities = UCWA_MOD_MESSAGING;
        a->html = 1;
        u->available_apps++;
        u->last_activity = now;
        ucwa_pool_user_changed_locked(S(fe), (int)a->user, now);
        u->published = ucwa_store_availability(u, &m.rules, now);
    }
    return idx;
}

/* Ships and delivers until nothing moves; every message applied. */
static void flow(void)
{
    apr_uint64_t skipped = m.skipped[FE1] + m.skipped[FE2];

    ck_assert_msg(pm_settle(&m, 16, now, pool), "the pool does not settle");
    ck_assert_msg(m.skipped[FE1] + m.skipped[FE2] == skipped, "a message was skipped: %s",
                  m.last_what);
}

/* Everything posted to app on fe since the last call (see unit_conv_events); the
 * events' texts in raw. */
static const char *events(int fe, int idx)
{
    const char *out = unit_conv_events(S(fe), idx, now, &last);
    char *text = json_dumps(last, 0);

    raw = apr_pstrdup(pool, text);
    free(text);
    return out;
}

/* alice's application (on FE1) invites `to`, alerted where the pool says it is. */
static int invite(int from, const char *to, ucwa_conv_result want)
{
    ucwa_conv_invite_in in;
    ucwa_conv_touched t;
    const char *fes[PM_FES];
    int idx = -1;

    memset(&in, 0, sizeof(in));
    in.app = from;
    in.to = to;
    in.subject = "pool";
    in.expires = now + apr_time_from_sec(30);
    in.nremote = pm_user_fes(&m, FE1, to, fes);
    in.remote_fes = fes;
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_invite_locked(S(FE1), &in, now, pool, &idx, &t), want);
    return idx;
}

/* fe's record of the conversation whose key is FE1's record c. */
static int mirror_of(int fe, int c)
{
    return ucwa_conv_find_mirror_locked(S(fe), "fe1", ucwa_store_conv(S(FE1), c)->id);
}

/* alice invites bob on FE2 and his endpoints there ring (their events and alice's read):
 * alice's record, and the mirror's in *c2. */
static int ringing(int alice, int bob, int *c2)
{
    int c1 = invite(alice, BOB, UCWA_CONV_OK);

    flow();
    *c2 = mirror_of(FE2, c1);
    ck_assert_int_ge(*c2, 0);
    (void)events(FE1, alice);
    (void)events(FE2, bob);
    return c1;
}

static ucwa_conv_touched t;

static int phase(int fe, int idx)
{
    return (int)ucwa_store_conv(S(fe), idx)->phase;
}

START_TEST(presence_of_a_watched_user_crosses)
{
    int carol = app_on(FE1, CAROL, "Carol", 1), bob, sub = -1, user;
    const char *watch[] = { BOB };
    ucwa_txn txn;
    ucwa_user *u;

    ucwa_txn_init(&txn, S(FE1), pool);
    ck_assert_int_eq(ucwa_subs_subscribe_locked(S(FE1), carol, watch, 1, apr_time_from_sec(600),
                                                now, pool, &txn, &sub), UCWA_SUBS_OK);
    flow();
    (void)events(FE1, carol);
    user = ucwa_store_user_find_locked(S(FE1), BOB, 0);
    ck_assert_int_ge(user, 0);
    u = ucwa_store_user(S(FE1), user);
    ck_assert_int_eq(u->published, UCWA_AV_OFFLINE);

    /* bob signs in on FE2: carol, on FE1, sees him Online */
    now += apr_time_from_sec(1);
    bob = app_on(FE2, BOB, "Bob", 1);
    flow();
    ck_assert_str_eq(u->remote_fe, "fe2");
    ck_assert_uint_eq(u->remote_available, 1);
    ck_assert_int_eq(u->published, UCWA_AV_ONLINE);
    ck_assert_str_eq(events(FE1, carol), "people/contactPresence/updated");
    /* a note set on FE2 comes too */
    now += apr_time_from_sec(1);
    strcpy(ucwa_store_user(S(FE2), ucwa_store_user_find_locked(S(FE2), BOB, 0))->note, "at lunch");
    ucwa_pool_user_changed_locked(S(FE2), (int)ucwa_store_app(S(FE2), bob)->user, now);
    flow();
    ck_assert_str_eq(u->remote_note, "at lunch");
    ck_assert_str_eq(events(FE1, carol),
                     "people/contactPresence/updated people/contactNote/updated");
    /* older news from another Front End does not win */
    {
        ucwa_pool_applied res;
        const char *old = "{\"k\":\"presence\",\"fe\":\"fe3\",\"sip\":\"" BOB "\",\"av\":\"Away\","
                          "\"avail\":1,\"act\":\"\",\"note\":\"old\",\"loc\":\"\",\"last\":0,"
                          "\"changed\":5}";
        ck_assert_int_eq(ucwa_pool_apply_locked(&txn, old, strlen(old), &m.rules, now, &res), 0);
        ck_assert_str_eq(res.what, "older than what another Front End said");
        ck_assert_str_eq(u->remote_fe, "fe2");
        ck_assert_str_eq(u->remote_note, "at lunch");
    }
    /* bob signs out on FE2: Offline again */
    now += apr_time_from_sec(1);
    ucwa_store_delete_locked(S(FE2), bob);
    flow();
    ck_assert_str_eq(u->remote_fe, "");
    ck_assert_uint_eq(u->remote_available, 0);
    ck_assert_int_eq(u->published, UCWA_AV_OFFLINE);
    ck_assert_str_eq(events(FE1, carol), "people/contactPresence/updated");
    /* nobody on FE2 watches alice: her presence is not kept there */
    app_on(FE1, ALICE, "Alice", 1);
    flow();
    ck_assert_int_lt(ucwa_store_user_find_locked(S(FE2), ALICE, 0), 0);
}
END_TEST

/* alice on FE1 and bob on FE2, connected: the records on both sides. */
static void connected(int *alice, int *bob, int *c1, int *c2)
{
    *alice = app_on(FE1, ALICE, "Alice", 1);
    *bob = app_on(FE2, BOB, "Bob", 1);
    flow();
    *c1 = invite(*alice, BOB, UCWA_CONV_OK);
    ck_assert_str_eq(events(FE1, *alice), SENDER_STARTED);
    ck_assert_int_eq(phase(FE1, *c1), UCWA_CONV_INVITING);
    ck_assert_uint_eq(ucwa_store_conv(S(FE1), *c1)->remote_invited, 1);
    flow();
    *c2 = mirror_of(FE2, *c1);
    ck_assert_int_ge(*c2, 0);
    ck_assert_str_eq(events(FE2, *bob), INCOMING);
    ck_assert(strstr(raw, "\"Alice\"") != NULL);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_accept_locked(S(FE2), *c2, *bob, now, pool, &t), UCWA_CONV_PENDING);
    ck_assert_int_eq(phase(FE2, *c2), UCWA_CONV_INVITING);    /* until the pool decides */
    ck_assert_str_eq(events(FE2, *bob), "");
    flow();
    ck_assert_int_eq(m.wins, 1);
    ck_assert_int_eq(phase(FE2, *c2), UCWA_CONV_CONNECTED);
    ck_assert_int_eq(phase(FE1, *c1), UCWA_CONV_CONNECTED);
    ck_assert_str_eq(events(FE2, *bob), ACCEPTER);
    ck_assert_str_eq(events(FE1, *alice), SENDER_CONNECTED);
    ck_assert(strstr(raw, "\"Bob\"") != NULL);
    ck_assert_str_eq(ucwa_store_conv(S(FE1), *c1)->peer_fe, "fe2");
    ck_assert_str_eq(ucwa_store_conv(S(FE1), *c1)->peer_id, ucwa_store_conv(S(FE2), *c2)->id);
}

static void say(int fe, int c, int side, const char *text, ucwa_conv_result want)
{
    apr_uint32_t n = 0;

    t.n = 0;
    ck_assert_int_eq(ucwa_conv_message_locked(S(fe), c, side, UCWA_MSG_PLAIN, text, strlen(text),
                                              NULL, NULL, now, pool, &n, &t), want);
}

START_TEST(conversation_across_front_ends)
{
    int alice, bob, c1, c2;
    const char *p;

    connected(&alice, &bob, &c1, &c2);
    /* messages both ways, each side in its own order */
    say(FE1, c1, 0, "one", UCWA_CONV_OK);
    say(FE1, c1, 0, "two", UCWA_CONV_OK);
    say(FE2, c2, 1, "three", UCWA_CONV_OK);
    say(FE1, c1, 0, "four", UCWA_CONV_OK);
    flow();
    ck_assert_str_eq(events(FE2, bob), "conv/message/completed conv/message/completed "
                                       "conv/message/completed conv/message/completed");
    p = strstr(raw, "data:text/plain;charset=utf-8,one");
    ck_assert_ptr_nonnull(p);
    p = strstr(p, ",two");
    ck_assert_ptr_nonnull(p);
    p = strstr(p, ",four");
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(events(FE1, alice), "conv/message/completed conv/message/completed "
                                         "conv/message/completed conv/message/completed");
    ck_assert_ptr_nonnull(strstr(raw, ",three"));
    ck_assert_uint_eq(ucwa_store_conv(S(FE1), c1)->next_message, 5);
    ck_assert_uint_eq(ucwa_store_conv(S(FE2), c2)->next_message, 5);
    /* typing crosses once while it lasts, and ends with the message */
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_typing_locked(S(FE2), c2, 1, now, pool, &t), UCWA_CONV_OK);
    ck_assert_int_eq(ucwa_conv_typing_locked(S(FE2), c2, 1, now, pool, &t), UCWA_CONV_OK);
    flow();
    ck_assert_str_eq(events(FE1, alice), "conv/participant/added");
    ck_assert_ptr_nonnull(strstr(raw, "typingParticipants"));
    say(FE2, c2, 1, "five", UCWA_CONV_OK);
    flow();
    ck_assert_str_eq(events(FE1, alice), "conv/participant/deleted conv/message/completed");
    (void)events(FE2, bob);
    /* bob leaves: alice sees him go */
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_leave_locked(S(FE2), c2, 1, now, pool, &t), UCWA_CONV_OK);
    ck_assert_str_eq(events(FE2, bob), LEFT);
    flow();
    ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_ENDED);
    ck_assert_int_eq(ucwa_store_conv(S(FE1), c1)->end, UCWA_CONV_END_LEFT);
    ck_assert_str_eq(events(FE1, alice), OTHER_LEFT);
    /* nothing more crosses: messages after the end are refused on both sides */
    say(FE1, c1, 0, "late", UCWA_CONV_STATE);
    say(FE2, c2, 1, "late", UCWA_CONV_STATE);
    ck_assert_int_eq(pm_queued(&m, FE1) + pm_queued(&m, FE2), 0);
}
END_TEST

START_TEST(the_inviter_leaves)
{
    int alice, bob, c1, c2;

    connected(&alice, &bob, &c1, &c2);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_leave_locked(S(FE1), c1, 0, now, pool, &t), UCWA_CONV_OK);
    flow();
    ck_assert_int_eq(phase(FE2, c2), UCWA_CONV_ENDED);
    ck_assert_str_eq(events(FE2, bob), OTHER_LEFT);
    ck_assert_str_eq(events(FE1, alice), LEFT);
}
END_TEST

START_TEST(decline_and_cancel)
{
    int alice = app_on(FE1, ALICE, "Alice", 1), bob = app_on(FE2, BOB, "Bob", 1), c1, c2;

    flow();
    /* bob declines on FE2 */
    c1 = ringing(alice, bob, &c2);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_decline_by_locked(S(FE2), c2, bob, now, pool, &t),
                     UCWA_CONV_PENDING);
    flow();
    ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_ENDED);
    ck_assert_int_eq(ucwa_store_conv(S(FE1), c1)->end, UCWA_CONV_END_DECLINED);
    ck_assert_str_eq(events(FE1, alice), FAILED);
    ck_assert_ptr_nonnull(strstr(raw, "\"Declined\""));
    ck_assert_int_eq(phase(FE2, c2), UCWA_CONV_ENDED);
    ck_assert_str_eq(events(FE2, bob), CLOSED);
    ck_assert_ptr_nonnull(strstr(raw, "\"Declined\""));

    /* alice cancels: bob's endpoint on FE2 missed it */
    c1 = ringing(alice, bob, &c2);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_cancel_locked(S(FE1), c1, now, pool, &t), UCWA_CONV_OK);
    ck_assert_str_eq(events(FE1, alice), FAILED);
    ck_assert_ptr_nonnull(strstr(raw, "\"Canceled\""));
    flow();
    ck_assert_int_eq(phase(FE2, c2), UCWA_CONV_ENDED);
    ck_assert_str_eq(events(FE2, bob), CLOSED);
    ck_assert_ptr_nonnull(strstr(raw, "\"Missed\""));
    /* a late accept there is refused */
    ck_assert_int_eq(ucwa_conv_accept_locked(S(FE2), c2, bob, now, pool, &t), UCWA_CONV_STATE);
}
END_TEST

/* bob on both Front Ends; which one answers first, and where, decides. */
START_TEST(a_user_on_both_front_ends)
{
    int alice = app_on(FE1, ALICE, "Alice", 1), bob1 = app_on(FE1, BOB, "Bob", 1);
    int bob2 = app_on(FE2, BOB, "Bob", 1), c1, c2, round;

    flow();
    for (round = 0; round < 2; round++) {
        c1 = invite(alice, BOB, UCWA_CONV_OK);
        ck_assert_uint_eq(ucwa_store_conv(S(FE1), c1)->endpoints, 1);
        ck_assert_uint_eq(ucwa_store_conv(S(FE1), c1)->remote_invited, 1);
        flow();
        c2 = mirror_of(FE2, c1);
        ck_assert_str_eq(events(FE1, bob1), INCOMING);
        ck_assert_str_eq(events(FE2, bob2), INCOMING);
        (void)events(FE1, alice);
        t.n = 0;
        /* both accept before either is shipped: the first shipped wins */
        ck_assert_int_eq(ucwa_conv_accept_locked(S(FE1), c1, bob1, now, pool, &t),
                         UCWA_CONV_PENDING);
        ck_assert_int_eq(ucwa_conv_accept_locked(S(FE2), c2, bob2, now, pool, &t),
                         UCWA_CONV_PENDING);
        /* a second answer on the same side waits for the first */
        ck_assert_int_eq(ucwa_conv_decline_by_locked(S(FE2), c2, bob2, now, pool, &t),
                         UCWA_CONV_STATE);
        if (round == 0) {
            /* FE2 first: bob on FE2 talks to alice, bob on FE1 was connected elsewhere */
            ck_assert_int_eq(pm_ship(&m, FE2, now, pool), 1);
            ck_assert_int_eq(pm_ship(&m, FE1, now, pool), 1);
            ck_assert_int_eq(m.losses, 1);
            flow();
            ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_CONNECTED);
            ck_assert_int_eq(phase(FE2, c2), UCWA_CONV_CONNECTED);
            ck_assert_str_eq(events(FE2, bob2), ACCEPTER);
            ck_assert_str_eq(events(FE1, alice), SENDER_CONNECTED);
            ck_assert_str_eq(events(FE1, bob1), CLOSED);
            ck_assert_ptr_nonnull(strstr(raw, "ConnectedElsewhere"));
            say(FE1, c1, 0, "hello FE2", UCWA_CONV_OK);
            flow();
            ck_assert_str_eq(events(FE2, bob2), "conv/message/completed");
            ck_assert_str_eq(events(FE1, bob1), "");
            ck_assert_int_eq(ucwa_conv_leave_locked(S(FE1), c1, 0, now, pool, &t), UCWA_CONV_OK);
            flow();
            ck_assert_int_eq(phase(FE2, c2), UCWA_CONV_ENDED);
            (void)events(FE2, bob2);
        }
        else {
            /* FE1 first: bob on FE1 talks to alice, the mirror on FE2 ends elsewhere */
            ck_assert_int_eq(pm_ship(&m, FE1, now, pool), 1);
            ck_assert_int_eq(pm_ship(&m, FE2, now, pool), 1);
            ck_assert_int_eq(m.losses, 2);
            flow();
            ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_CONNECTED);
            ck_assert_str_eq(ucwa_store_conv(S(FE1), c1)->peer_fe, "");
            ck_assert_int_eq(phase(FE2, c2), UCWA_CONV_ENDED);
            ck_assert_str_eq(events(FE1, bob1), ACCEPTER);
            ck_assert_str_eq(events(FE1, alice), SENDER_CONNECTED);
            ck_assert_str_eq(events(FE2, bob2), CLOSED);
            ck_assert_ptr_nonnull(strstr(raw, "ConnectedElsewhere"));
        }
    }
    (void)events(FE1, alice);
}
END_TEST

static void tick(int fe, int c)
{
    t.n = 0;
    ucwa_conv_tick_locked(S(fe), c, now, pool, &t);
}

/* Each side times the invitation out on its own clock; an accept that crosses the
 * timeout must not leave one side connected to nobody. */
START_TEST(an_accept_that_crosses_the_timeout)
{
    int alice = app_on(FE1, ALICE, "Alice", 1), bob = app_on(FE2, BOB, "Bob", 1), c1, c2;

    flow();
    /* the claim won on FE2, but FE1 timed the invitation out before the news came */
    c1 = ringing(alice, bob, &c2);
    ck_assert_int_eq(ucwa_conv_accept_locked(S(FE2), c2, bob, now, pool, &t), UCWA_CONV_PENDING);
    ck_assert_int_eq(pm_ship(&m, FE2, now, pool), 1);
    ck_assert_int_eq(phase(FE2, c2), UCWA_CONV_CONNECTED);
    now += apr_time_from_sec(30);
    tick(FE1, c1);
    ck_assert_int_eq(ucwa_store_conv(S(FE1), c1)->end, UCWA_CONV_END_TIMEOUT);
    (void)events(FE2, bob);
    flow();
    ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_ENDED);
    ck_assert_int_eq(phase(FE2, c2), UCWA_CONV_ENDED);
    ck_assert_str_eq(events(FE2, bob), OTHER_LEFT);

    /* the other way: FE2 timed out while its winning claim was on the way */
    now += apr_time_from_sec(1);
    c1 = ringing(alice, bob, &c2);
    ck_assert_int_eq(ucwa_conv_accept_locked(S(FE2), c2, bob, now, pool, &t), UCWA_CONV_PENDING);
    now += apr_time_from_sec(30);
    tick(FE2, c2);
    ck_assert_int_eq(ucwa_store_conv(S(FE2), c2)->end, UCWA_CONV_END_TIMEOUT);
    ck_assert_str_eq(events(FE2, bob), CLOSED);
    flow();
    ck_assert_int_eq(phase(FE2, c2), UCWA_CONV_ENDED);
    ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_ENDED);
    ck_assert_str_eq(events(FE1, alice), SENDER_CONNECTED " " OTHER_LEFT);
}
END_TEST

/* The inviter gives up while the accept is on its way. */
START_TEST(an_accept_that_crosses_a_cancel)
{
    int alice = app_on(FE1, ALICE, "Alice", 1), bob = app_on(FE2, BOB, "Bob", 1), c1, c2;

    flow();
    c1 = ringing(alice, bob, &c2);
    ck_assert_int_eq(ucwa_conv_accept_locked(S(FE2), c2, bob, now, pool, &t), UCWA_CONV_PENDING);
    ck_assert_int_eq(ucwa_conv_cancel_locked(S(FE1), c1, now, pool, &t), UCWA_CONV_OK);
    ck_assert_int_eq(pm_ship(&m, FE2, now, pool), 1);
    ck_assert_int_eq(phase(FE2, c2), UCWA_CONV_CONNECTED);
    (void)events(FE2, bob);
    flow();
    ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_ENDED);
    ck_assert_int_eq(phase(FE2, c2), UCWA_CONV_ENDED);
    ck_assert_str_eq(events(FE2, bob), OTHER_LEFT);
    (void)events(FE1, alice);

    /* the accepter goes away while its claim is out (another endpoint of bob stays) */
    {
        int bob2 = app_on(FE2, BOB, "Bob", 1);
        flow();
        c1 = ringing(alice, bob, &c2);
        ck_assert_uint_eq(ucwa_store_conv(S(FE2), c2)->endpoints, 2);
        ck_assert_int_eq(ucwa_conv_accept_locked(S(FE2), c2, bob, now, pool, &t),
                         UCWA_CONV_PENDING);
        ucwa_conv_app_gone_locked(S(FE2), c2, bob, now, pool, &t);
        ucwa_store_delete_locked(S(FE2), bob);
        (void)events(FE1, alice);
        (void)events(FE2, bob2);
        flow();
        ck_assert_int_eq(phase(FE2, c2), UCWA_CONV_ENDED);
        ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_ENDED);
        ck_assert_str_eq(events(FE1, alice), SENDER_CONNECTED " " OTHER_LEFT);
        ck_assert_str_eq(events(FE2, bob2), CLOSED);

        /* alice goes while bob2's accept is on its way, and her record is freed before
         * the accept arrives (FE1 could not read the pool's database meanwhile) */
        c1 = ringing(alice, bob2, &c2);
        ck_assert_int_eq(ucwa_conv_accept_locked(S(FE2), c2, bob2, now, pool, &t),
                         UCWA_CONV_PENDING);
        ck_assert_int_eq(pm_ship(&m, FE2, now, pool), 1);
        ck_assert_int_eq(phase(FE2, c2), UCWA_CONV_CONNECTED);
        ucwa_conv_app_gone_locked(S(FE1), c1, alice, now, pool, &t);
        ucwa_store_delete_locked(S(FE1), alice);
        now += UCWA_CONV_RETAIN;
        tick(FE1, c1);
        ck_assert_uint_eq(ucwa_store_conv(S(FE1), c1)->state, UCWA_SLOT_FREE);
        (void)events(FE2, bob2);
        flow();
        ck_assert_int_eq(phase(FE2, c2), UCWA_CONV_ENDED);
        ck_assert_str_eq(events(FE2, bob2), OTHER_LEFT);
    }
}
END_TEST

/* FE2 lost the database while bob accepted; its lease was taken, and it joins again
 * with its store: its mirror ended. The reaper told alice's Front End that nobody rings
 * on FE2 any more, so her invitation failed; bob's claim still goes out and wins, too
 * late: bob is told to leave. */
START_TEST(a_claim_from_a_front_end_that_joined_again)
{
    int alice = app_on(FE1, ALICE, "Alice", 1), bob = app_on(FE2, BOB, "Bob", 1), c1, c2;

    flow();
    c1 = ringing(alice, bob, &c2);
    pm_gone(&m, FE2);
    ck_assert_int_eq(ucwa_conv_accept_locked(S(FE2), c2, bob, now, pool, &t), UCWA_CONV_PENDING);
    pm_join(&m, FE2, 0, now, pool);
    ck_assert_int_eq(phase(FE2, c2), UCWA_CONV_ENDED);
    flow();
    ck_assert_int_eq(m.wins, 1);
    ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_ENDED);
    ck_assert_str_eq(events(FE1, alice), FAILED);
    ck_assert_int_eq(ucwa_store_conv(S(FE1), c1)->end, UCWA_CONV_END_UNREACHABLE);
}
END_TEST

/* FE2 dies while bob's only device there rings: alice's invitation fails at once as
 * Unreachable (the reaper says "gone" for FE2), not at its timeout. */
START_TEST(an_invitation_to_a_front_end_that_dies)
{
    int alice = app_on(FE1, ALICE, "Alice", 1), bob = app_on(FE2, BOB, "Bob", 1), c1, c2;

    flow();
    c1 = ringing(alice, bob, &c2);
    (void)events(FE1, alice);
    pm_gone(&m, FE2);
    flow();
    ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_ENDED);
    ck_assert_int_eq(ucwa_store_conv(S(FE1), c1)->end, UCWA_CONV_END_UNREACHABLE);
    ck_assert_str_eq(events(FE1, alice), FAILED);
}
END_TEST

/* FE1 lost the database and joins again with its store while bob's accept on FE2 waits
 * to be shipped: FE2 ends what it had with FE1's earlier life, including the mirror its
 * verdict just connected, and FE1, told it was accepted, must not stay connected. */
START_TEST(an_accept_that_crosses_a_rejoin)
{
    int alice = app_on(FE1, ALICE, "Alice", 1), bob = app_on(FE2, BOB, "Bob", 1), c1, c2;

    flow();
    c1 = ringing(alice, bob, &c2);
    ck_assert_int_eq(ucwa_conv_accept_locked(S(FE2), c2, bob, now, pool, &t), UCWA_CONV_PENDING);
    pm_gone(&m, FE1);
    pm_join(&m, FE1, 0, now, pool);
    flow();
    ck_assert_int_eq(m.wins, 1);
    ck_assert_int_eq(phase(FE2, c2), UCWA_CONV_ENDED);
    ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_ENDED);
    ck_assert_str_eq(events(FE1, alice), SENDER_CONNECTED " " OTHER_LEFT);
}
END_TEST

START_TEST(nobody_to_alert_is_unreachable)
{
    int alice = app_on(FE1, ALICE, "Alice", 1), bob = app_on(FE2, BOB, "Bob", 1), c1;

    flow();
    (void)events(FE1, alice);
    /* the pool still lists bob on FE2 when alice invites; he is gone when it arrives */
    c1 = invite(alice, BOB, UCWA_CONV_OK);
    ucwa_store_delete_locked(S(FE2), bob);
    ck_assert_int_eq(pm_ship(&m, FE1, now, pool), 1);
    ck_assert_int_eq(pm_deliver(&m, FE2, 10, now, pool), 1);
    ck_assert_int_eq(m.last_rv, 0);
    ck_assert_str_eq(m.last_what, "invitation for nobody here");
    ck_assert_int_lt(mirror_of(FE2, c1), 0);
    flow();
    ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_ENDED);
    ck_assert_int_eq(ucwa_store_conv(S(FE1), c1)->end, UCWA_CONV_END_UNREACHABLE);
    ck_assert_str_eq(events(FE1, alice), SENDER_STARTED " " FAILED);
    ck_assert_ptr_nonnull(strstr(raw, "\"Unreachable\""));
}
END_TEST

START_TEST(the_last_endpoint_of_a_mirror_goes)
{
    int alice = app_on(FE1, ALICE, "Alice", 1), bob = app_on(FE2, BOB, "Bob", 1), c1, c2;

    flow();
    c1 = ringing(alice, bob, &c2);
    t.n = 0;
    ucwa_conv_app_gone_locked(S(FE2), c2, bob, now, pool, &t);
    ucwa_store_delete_locked(S(FE2), bob);
    flow();
    ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_ENDED);
    ck_assert_int_eq(ucwa_store_conv(S(FE1), c1)->end, UCWA_CONV_END_UNREACHABLE);
    ck_assert_str_eq(events(FE1, alice), FAILED);
}
END_TEST

START_TEST(a_front_end_gone)
{
    int alice, bob, c1, c2, carol, sub = -1, user;
    const char *watch[] = { BOB };
    ucwa_txn txn;

    carol = app_on(FE1, CAROL, "Carol", 1);
    ucwa_txn_init(&txn, S(FE1), pool);
    ck_assert_int_eq(ucwa_subs_subscribe_locked(S(FE1), carol, watch, 1, apr_time_from_sec(600),
                                                now, pool, &txn, &sub), UCWA_SUBS_OK);
    connected(&alice, &bob, &c1, &c2);
    user = ucwa_store_user_find_locked(S(FE1), BOB, 0);
    ck_assert_int_eq(ucwa_store_user(S(FE1), user)->published, UCWA_AV_ONLINE);
    (void)events(FE1, carol);
    /* FE2's lease runs out: alice sees bob leave, carol sees him Offline */
    pm_gone(&m, FE2);
    flow();
    ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_ENDED);
    ck_assert_int_eq(ucwa_store_conv(S(FE1), c1)->end, UCWA_CONV_END_LEFT);
    ck_assert_str_eq(ucwa_store_conv(S(FE1), c1)->peer_fe, "");
    ck_assert_str_eq(events(FE1, alice), OTHER_LEFT);
    ck_assert_str_eq(ucwa_store_user(S(FE1), user)->remote_fe, "");
    ck_assert_int_eq(ucwa_store_user(S(FE1), user)->published, UCWA_AV_OFFLINE);
    ck_assert_str_eq(events(FE1, carol), "people/contactPresence/updated");
    /* nothing goes to the gone Front End; alice's leaving is refused as ended */
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_leave_locked(S(FE1), c1, 0, now, pool, &t), UCWA_CONV_STATE);
    ck_assert_int_eq(pm_queued(&m, FE1), 0);
    /* FE2 comes back empty: bob signs in again and is seen again */
    pm_join(&m, FE2, 1, now, pool);
    now += apr_time_from_sec(1);
    bob = app_on(FE2, BOB, "Bob", 1);
    flow();
    ck_assert_int_eq(ucwa_store_user(S(FE1), user)->published, UCWA_AV_ONLINE);
    /* a Front End naming itself gone, or nobody, is refused */
    {
        ucwa_pool_applied res;
        const char *self = "{\"k\":\"fe-gone\",\"fe\":\"fe1\"}", *none = "{\"k\":\"fe-gone\"}";
        ck_assert_int_eq(ucwa_pool_apply_locked(&txn, self, strlen(self), &m.rules, now, &res), -1);
        ck_assert_int_eq(ucwa_pool_apply_locked(&txn, none, strlen(none), &m.rules, now, &res), -1);
    }
}
END_TEST

/* fe-gone with "keep" (ucwa-sipd restarted and took these calls' dialogs back): the
 * connected calls it names stay connected, the others end as with fe-gone. */
START_TEST(a_front_end_gone_keeps_what_it_names)
{
    int alice, bob, c1, c2;
    const char *kfe, *kconv;
    char *keep, *other;
    ucwa_pool_applied res;
    ucwa_txn txn;

    connected(&alice, &bob, &c1, &c2);
    ucwa_pool_conv_key(S(FE1), ucwa_store_conv(S(FE1), c1), &kfe, &kconv);
    keep = apr_psprintf(pool, "{\"k\":\"fe-gone\",\"fe\":\"fe2\",\"keep\":[\"%s\"]}", kconv);
    other = "{\"k\":\"fe-gone\",\"fe\":\"fe2\",\"keep\":[\"0123\"]}";
    ucwa_txn_init(&txn, S(FE1), pool);
    ck_assert_int_eq(ucwa_pool_apply_locked(&txn, keep, strlen(keep), &m.rules, now, &res), 0);
    ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_CONNECTED);
    ck_assert_str_eq(ucwa_store_conv(S(FE1), c1)->peer_fe, "fe2");
    ck_assert_int_eq(ucwa_pool_apply_locked(&txn, other, strlen(other), &m.rules, now, &res), 0);
    ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_ENDED);
    ck_assert_int_eq(ucwa_store_conv(S(FE1), c1)->end, UCWA_CONV_END_LEFT);
    (void)alice; (void)bob; (void)c2;
}
END_TEST

/* Every message of bad (NULL-terminated) is refused by fe, as forged or malformed. */
static void all_refused(int fe, const char *const *bad)
{
    ucwa_pool_applied res;
    ucwa_txn txn;

    ucwa_txn_init(&txn, S(fe), pool);
    for (; *bad; bad++) {
        ck_assert_int_eq(ucwa_pool_apply_locked(&txn, *bad, strlen(*bad), &m.rules, now, &res),
                         -1);
    }
}

/* A user's conversation log changed on FE2 (markAsRead, DELETE): his applications on FE1
 * hear it through the pool; a malformed one changes nothing. */
START_TEST(a_conversation_log_change_crosses)
{
    int bob1 = app_on(FE1, BOB, "Bob", 1), bob2 = app_on(FE2, BOB, "Bob", 1);
    const char *id = "0123456789abcdef01234567";

    flow();
    (void)events(FE1, bob1);
    ck_assert_int_eq(ucwa_pool_log_tell_locked(S(FE2), "fe1", BOB, id, "updated", pool), 1);
    flow();
    ck_assert_str_eq(events(FE1, bob1),
                     "comm/conversationLog/updated comm/missedItems/updated");
    ck_assert_ptr_nonnull(strstr(raw, "/communication/conversationLogs/0123456789abcdef01234567"));
    (void)bob2;
    {
        static const char *const bad[] = {
            "{\"k\":\"log\",\"sip\":\"bob@contoso.test\",\"log\":\"../x\",\"type\":\"updated\"}",
            "{\"k\":\"log\",\"sip\":\"bob@contoso.test\",\"log\":\"0123456789abcdef01234567\","
            "\"type\":\"x\"}",
            NULL
        };
        all_refused(FE1, bad);
    }
    ck_assert_str_eq(events(FE1, bob1), "");
}
END_TEST

/* A user's callForwardingSettings changed on FE2: his applications on FE1 hear it
 * through the pool; another rel, or none, is refused. */
START_TEST(a_me_change_crosses)
{
    int bob1 = app_on(FE1, BOB, "Bob", 1);

    flow();
    (void)events(FE1, bob1);
    ck_assert_int_eq(ucwa_pool_me_tell_locked(S(FE2), "fe1", BOB, "callForwardingSettings",
                                              pool), 1);
    flow();
    ck_assert_str_eq(events(FE1, bob1), "me/callForwardingSettings/updated");
    ck_assert_ptr_nonnull(strstr(raw, "/me/callForwardingSettings\""));
    {
        static const char *const bad[] = {
            "{\"k\":\"me\",\"sip\":\"bob@contoso.test\",\"rel\":\"../x\"}",
            "{\"k\":\"me\",\"sip\":\"bob@contoso.test\",\"rel\":\"presence\"}",
            "{\"k\":\"me\",\"sip\":\"bob@contoso.test\"}",
            NULL
        };
        all_refused(FE1, bad);
    }
    ck_assert_str_eq(events(FE1, bob1), "");
}
END_TEST

/* Fills fe's outbox with messages that name nothing (applied as no-ops). */
static void fill(int fe)
{
    while (ucwa_pool_room_locked(S(fe)) > 0) {
        ck_assert_int_eq(ucwa_pool_queue_locked(S(fe), UCWA_POOL_SEND, m.name[1 - fe], NULL,
                                                "{\"k\":\"typing\",\"fe\":\"fe9\",\"conv\":\"x\"}",
                                                NULL), 1);
    }
    ck_assert_int_eq(ucwa_pool_queue_locked(S(fe), UCWA_POOL_SEND, m.name[1 - fe], NULL, "{}",
                                            NULL), -1);
}

static void same_record(int fe, int c, const ucwa_conv *before)
{
    ck_assert_int_eq(memcmp(ucwa_store_conv(S(fe), c), before, sizeof(*before)), 0);
}

START_TEST(a_full_outbox_changes_nothing)
{
    int alice, bob, c1, c2, bob1, c3;
    ucwa_conv before;

    connected(&alice, &bob, &c1, &c2);
    /* a message, typing, leaving: BUSY, and the record as it was */
    fill(FE1);
    before = *ucwa_store_conv(S(FE1), c1);
    say(FE1, c1, 0, "lost?", UCWA_CONV_BUSY);
    ck_assert_int_eq(t.n, 0);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_typing_locked(S(FE1), c1, 0, now, pool, &t), UCWA_CONV_BUSY);
    ck_assert_int_eq(ucwa_conv_leave_locked(S(FE1), c1, 0, now, pool, &t), UCWA_CONV_BUSY);
    ck_assert_int_eq(t.n, 0);
    same_record(FE1, c1, &before);
    ck_assert_str_eq(events(FE1, alice), "");
    /* an invitation to another Front End */
    bob1 = app_on(FE1, BOB, "Bob", 1);
    invite(alice, BOB, UCWA_CONV_BUSY);
    ck_assert_str_eq(events(FE1, alice), "");
    ck_assert_str_eq(events(FE1, bob1), "");
    flow();
    /* the shipment emptied it: all goes on */
    say(FE1, c1, 0, "now", UCWA_CONV_OK);
    c3 = invite(alice, BOB, UCWA_CONV_OK);
    flow();
    ck_assert_ptr_nonnull(strstr((events(FE2, bob), raw), ",now"));
    /* an answer on FE2 (a claim) and cancelling on FE1 */
    c2 = mirror_of(FE2, c3);
    fill(FE2);
    before = *ucwa_store_conv(S(FE2), c2);
    ck_assert_int_eq(ucwa_conv_accept_locked(S(FE2), c2, bob, now, pool, &t), UCWA_CONV_BUSY);
    ck_assert_int_eq(ucwa_conv_decline_by_locked(S(FE2), c2, bob, now, pool, &t), UCWA_CONV_BUSY);
    same_record(FE2, c2, &before);
    fill(FE1);
    before = *ucwa_store_conv(S(FE1), c3);
    ck_assert_int_eq(ucwa_conv_cancel_locked(S(FE1), c3, now, pool, &t), UCWA_CONV_BUSY);
    same_record(FE1, c3, &before);
    flow();
    ck_assert_int_eq(ucwa_conv_cancel_locked(S(FE1), c3, now, pool, &t), UCWA_CONV_OK);
    flow();
    ck_assert_int_eq(phase(FE2, c2), UCWA_CONV_ENDED);
}
END_TEST

/* Every store byte that a refused message must leave alone: the records and the area. */
static const char *snapshot(int fe)
{
    return apr_pmemdup(pool, m.mem[fe], ucwa_store_bytes(&m.limits));
}

START_TEST(malformed_and_hostile_messages)
{
    static const char *const bad[] = {
        "", "not json", "[1,2]", "\"presence\"", "42",
        "{\"k\":\"presence\",\"k\":\"presence\"}",                 /* duplicate keys */
        "{\"k\":\"nonsense\",\"fe\":\"fe1\",\"conv\":\"%s\"}",      /* unknown kind */
        "{\"k\":\"invite\",\"fe\":\"fe2\",\"conv\":\"x\"}",         /* missing members */
        "{\"k\":\"invite\",\"fe\":\"fe2\",\"conv\":7,\"to\":\"bob@contoso.test\","
        "\"from\":\"eve@contoso.test\"}",                           /* wrong types */
        "{\"k\":\"invite\",\"fe\":\"fe2\",\"conv\":\"0123456789012345678901234567890123456789x\","
        "\"to\":\"bob@contoso.test\",\"from\":\"eve@contoso.test\"}",   /* id too long */
        "{\"k\":\"accepted\",\"fe\":\"fe1\",\"conv\":\"%s\",\"peer\":\"\",\"from\":\"fe2\"}",
        "{\"k\":\"accepted\",\"fe\":\"fe1\",\"conv\":\"%s\",\"peer\":\"p\",\"from\":"
        "\"fe22222222222222222222222222222222222222222222222222222222222222222222\"}",
        "{\"k\":\"message\",\"fe\":\"fe1\",\"conv\":\"%s\",\"uri\":\"http://x\"}",
        "{\"k\":\"canceled\",\"fe\":\"fe1\",\"conv\":\"%s\"}",     /* only to mirrors */
        "{\"k\":\"fe-gone\",\"fe\":\"fe1\"}",
    };
    static const char *const nothing[] = {
        /* name a conversation that does not exist (or ended): skipped, nothing changed */
        "{\"k\":\"message\",\"fe\":\"fe1\",\"conv\":\"00000009aaaaaaaaaaaaaaaaaaaaaaaa\","
        "\"uri\":\"data:text/plain,hi\"}",
        "{\"k\":\"left\",\"fe\":\"fe2\",\"conv\":\"00000000aaaaaaaaaaaaaaaaaaaaaaaa\"}",
        "{\"k\":\"accepted\",\"fe\":\"fe3\",\"conv\":\"x\",\"peer\":\"p\",\"from\":\"fe3\"}",
        "{\"k\":\"typing\",\"fe\":\"\",\"conv\":\"\"}", "{\"k\":1}", "{}",
        "{\"k\":\"gone\",\"fe\":\"fe1\",\"conv\":\"../../etc\"}",
        "{\"k\":\"presence\",\"fe\":\"fe2\",\"sip\":\"nobody@contoso.test\",\"av\":\"Online\","
        "\"avail\":1}",
        "{\"k\":\"invite\",\"fe\":\"fe2\",\"conv\":\"%s\",\"to\":\"" ALICE "\",\"from\":\""
        BOB "\"}",                                                   /* seen before */
    };
    int alice = app_on(FE1, ALICE, "Alice", 1), bob = app_on(FE2, BOB, "Bob", 1), c1, i;
    ucwa_pool_applied res;
    ucwa_txn txn;
    const char *before;
    char *big;

    flow();
    c1 = invite(alice, BOB, UCWA_CONV_OK);
    (void)bob;
    flow();
    (void)events(FE1, alice);
    ucwa_txn_init(&txn, S(FE1), pool);
    before = snapshot(FE1);
    for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
        const char *b = apr_psprintf(pool, bad[i], ucwa_store_conv(S(FE1), c1)->id);
        ck_assert_msg(ucwa_pool_apply_locked(&txn, b, strlen(b), &m.rules, now, &res) == -1,
                      "accepted %s", b);
        ck_assert_ptr_nonnull(res.what);
        ck_assert_msg(memcmp(before, m.mem[FE1], ucwa_store_bytes(&m.limits)) == 0,
                      "changed by %s", b);
    }
    /* a message body with a NUL in it, and one over the limit */
    ck_assert_int_eq(ucwa_pool_apply_locked(&txn, "{\"k\":\"left\"}\0x", 14, &m.rules, now, &res),
                     -1);
    big = apr_palloc(pool, UCWA_POOL_BODY_MAX + 2);
    memset(big, ' ', UCWA_POOL_BODY_MAX + 1);
    big[0] = '{';
    big[UCWA_POOL_BODY_MAX] = '}';
    ck_assert_int_eq(ucwa_pool_apply_locked(&txn, big, UCWA_POOL_BODY_MAX + 1, &m.rules, now,
                                            &res), -1);
    ck_assert_str_eq(res.what, "too long");
    ck_assert_int_eq(memcmp(before, m.mem[FE1], ucwa_store_bytes(&m.limits)), 0);
    /* the ones that name nothing change nothing but the count of what was applied */
    for (i = 0; i < (int)(sizeof(nothing) / sizeof(nothing[0])); i++) {
        const char *b = apr_psprintf(pool, nothing[i], ucwa_store_conv(S(FE1), c1)->id);
        ucwa_txn t2;
        apr_uint64_t applied;
        int fe = strstr(b, "\"invite\"") ? FE2 : FE1;
        const char *snap = snapshot(fe);
        if (fe == FE2) {
            b = apr_psprintf(pool, "{\"k\":\"invite\",\"fe\":\"fe1\",\"conv\":\"%s\",\"to\":\""
                             BOB "\",\"from\":\"" ALICE "\"}", ucwa_store_conv(S(FE1), c1)->id);
        }
        ucwa_txn_init(&t2, S(fe), pool);
        applied = ucwa_store_pool_area(S(fe))->applied;
        ck_assert_msg(ucwa_pool_apply_locked(&t2, b, strlen(b), &m.rules, now, &res) == 0,
                      "refused %s", b);
        ck_assert_int_eq(res.wakes, 0);
        ucwa_store_pool_area(S(fe))->applied = applied;
        ck_assert_msg(memcmp(snap, m.mem[fe], ucwa_store_bytes(&m.limits)) == 0, "changed by %s",
                      b);
    }
    /* without a pool nothing is applied at all */
    ucwa_pool_enable_locked(S(FE1), "");
    ck_assert_ptr_null(ucwa_pool_fe(S(FE1)));
    ck_assert_int_eq(ucwa_pool_apply_locked(&txn, "{\"k\":\"left\"}", 12, &m.rules, now, &res), -1);
    ucwa_pool_enable_locked(S(FE1), "fe1");
    ck_assert_str_eq(ucwa_pool_fe(S(FE1)), "fe1");
}
END_TEST

/* --- calls ----------------------------------------------------------------------------- */

#define OFFER "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nm=audio 9 RTP/AVP 0\r\na=x:offer\r\n"
#define ANSWER "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nm=audio 9 RTP/AVP 0\r\na=x:answer\r\n"
#define EARLY "v=0\r\nm=audio 9 RTP/AVP 0\r\na=x:early\r\n"
#define AV_CALLER "comm/audioVideoInvitation/started comm/conversation/added " \
                  "conv/localParticipant/added conv/audioVideo/updated"
#define AV_RINGING "comm/audioVideoInvitation/started comm/conversation/added " \
                   "conv/localParticipant/added conv/participant/added"
#define AV_ANSWERER "comm/audioVideoInvitation/updated conv/audioVideo/updated " \
                    "comm/conversation/updated conv/participant/updated " \
                    "comm/audioVideoInvitation/completed"
#define AV_CALLER_CONNECTED "audioVideoInvitation/audioVideoNegotiation/updated " \
                            "comm/conversation/updated conv/participant/added " \
                            "conv/audioVideo/updated comm/audioVideoInvitation/completed"

/* An application of user on fe that rings for calls. */
static int av_app_on(int fe, const char *user, const char *name)
{
    int idx = app_on(fe, user, name, 1);

    ucwa_store_app(S(fe), idx)->modalities |= UCWA_MOD_AUDIO | UCWA_MOD_VIDEO;
    return idx;
}

/* The description of kind in record c of fe is text, byte for byte. */
static void holds(int fe, int c, ucwa_sdp_kind kind, const char *text)
{
    ucwa_conv *conv = ucwa_store_conv(S(fe), c);
    ucwa_call *k = ucwa_av_call_of_locked(S(fe), conv);

    ck_assert_ptr_nonnull(k);
    ck_assert_uint_eq(k->len[kind], strlen(text));
    ck_assert(!memcmp(ucwa_store_call_blob(S(fe), (int)conv->call - 1, kind), text,
                      strlen(text)));
    ck_assert_str_eq(k->ctype[kind], "application/sdp");
}

/* alice's application on FE1 calls bob with OFFER (its key: key, or written now). */
static int call(int alice, const char *key, ucwa_conv_result want)
{
    ucwa_conv_invite_in in;
    const char *fes[PM_FES];
    int idx = -1;

    memset(&in, 0, sizeof(in));
    in.app = alice;
    in.to = BOB;
    in.kind = UCWA_CONV_KIND_AV;
    in.session_context = "ctx-a";
    in.offer_type = "application/sdp";
    in.offer = OFFER;
    in.offer_len = strlen(OFFER);
    in.expires = now + apr_time_from_sec(20);
    in.nremote = pm_user_fes(&m, FE1, BOB, fes);
    in.remote_fes = fes;
    in.offer_key = key ? key : (in.nremote ? pm_sdp_put(&m, in.offer_type, OFFER,
                                                        strlen(OFFER)) : NULL);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_invite_locked(S(FE1), &in, now, pool, &idx, &t), want);
    return idx;
}

/* What side gives in record c of fe (on its way to the other Front End): its key
 * written first, as the request does. */
static void give(int fe, int c, ucwa_sdp_kind kind, const char *text)
{
    ucwa_av_pool_key_locked(S(fe), ucwa_store_conv(S(fe), c), kind,
                            pm_sdp_put(&m, "application/sdp", text, strlen(text)));
}

/* The SIP side (ucwa-sipd) as the Front End "~sip" of a store without a pool: a call with
 * nobody to ring goes there through the outbox (the offer stays in the call record), the
 * SIP side's answers are applied as that Front End's messages with their descriptions. */
static int sip_out(ucwa_pool_out *o)
{
    ucwa_pool_out *out = NULL;
    int n = ucwa_pool_out_peek_locked(S(FE1), pool, 4, &out);

    if (n > 0) {
        *o = out[0];
        ucwa_pool_out_done_locked(S(FE1), n);
    }
    return n;
}

static int sip_says(const char *body, const char *sdp)
{
    ucwa_pool_sdp d = { "application/sdp", sdp, sdp ? strlen(sdp) : 0 };
    ucwa_pool_applied res;
    ucwa_txn txn;

    ucwa_txn_init(&txn, S(FE1), pool);
    return ucwa_pool_apply_sdp_locked(&txn, body, strlen(body), sdp ? &d : NULL, &m.rules,
                                      now, &res);
}

START_TEST(a_call_to_the_sip_side)
{
    int alice = av_app_on(FE1, ALICE, "Alice"), c;
    ucwa_conv_invite_in in;
    ucwa_pool_out o;
    json_t *msg;
    char body[256];

    ucwa_pool_enable_locked(S(FE1), "");
    ucwa_pool_sip_enable_locked(S(FE1), 1);
    ck_assert(ucwa_pool_sip_on(S(FE1)));
    ck_assert_ptr_null(ucwa_pool_fe(S(FE1)));     /* not a pool */
    ck_assert_int_eq(sip_out(&o), 0);
    memset(&in, 0, sizeof(in));
    in.app = alice;
    in.to = "tel:+15550100";
    in.gw_set = "2";
    in.kind = UCWA_CONV_KIND_AV;
    in.offer_type = "application/sdp";
    in.offer = OFFER;
    in.offer_len = strlen(OFFER);
    in.expires = now + apr_time_from_sec(20);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_invite_locked(S(FE1), &in, now, pool, &c, &t), UCWA_CONV_OK);
    ck_assert_int_eq(phase(FE1, c), UCWA_CONV_INVITING);     /* not Unreachable */
    ck_assert_str_eq(events(FE1, alice), AV_CALLER);
    /* the invitation for the SIP side, naming the conversation and the gateway set */
    ck_assert_int_eq(sip_out(&o), 1);
    ck_assert_uint_eq(o.op, UCWA_POOL_INVITE);
    ck_assert_str_eq(o.target, UCWA_POOL_SIP_FE);
    msg = json_loadb(o.body, o.len, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(msg, "fe")), UCWA_POOL_SIP_LOCAL);
    ck_assert_str_eq(json_string_value(json_object_get(msg, "conv")),
                     ucwa_store_conv(S(FE1), c)->id);
    ck_assert_str_eq(json_string_value(json_object_get(msg, "to")), "tel:+15550100");
    ck_assert_str_eq(json_string_value(json_object_get(msg, "gw")), "2");
    json_decref(msg);
    holds(FE1, c, UCWA_SDP_OFFER, OFFER);
    /* answered by SIP: connected with the answer's bytes */
    snprintf(body, sizeof(body), "{\"k\":\"accepted\",\"fe\":\"%s\",\"conv\":\"%s\","
             "\"by\":\"~sip\",\"peer\":\"x\",\"name\":\"\",\"html\":0,\"sdp\":\"sip\"}",
             UCWA_POOL_SIP_LOCAL, ucwa_store_conv(S(FE1), c)->id);
    ck_assert_int_eq(sip_says(body, ANSWER), 0);
    ck_assert_int_eq(phase(FE1, c), UCWA_CONV_CONNECTED);
    ck_assert_str_eq(events(FE1, alice), AV_CALLER_CONNECTED);
    holds(FE1, c, UCWA_SDP_ANSWER, ANSWER);
    /* alice hangs up: "left" for the SIP side (its BYE) */
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_stop_av_locked(S(FE1), c, 0, alice, now, pool, &t),
                     UCWA_CONV_OK);
    ck_assert_int_eq(sip_out(&o), 1);
    ck_assert_str_eq(o.target, UCWA_POOL_SIP_FE);
    ck_assert(strstr(o.body, "\"k\":\"left\"") != NULL);
    /* without UcwaSip the same call is Unreachable at once, and nothing is queued */
    ucwa_pool_sip_enable_locked(S(FE1), 0);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_invite_locked(S(FE1), &in, now, pool, &c, &t), UCWA_CONV_OK);
    ck_assert_int_eq(phase(FE1, c), UCWA_CONV_ENDED);
    ck_assert_int_eq(sip_out(&o), 0);
    /* with a pool, the outbox is the pool's thread's: the call goes to this Front End's
     * SIP side as a member of the pool ("~sip:fe1"), its offer by key as for any other */
    ucwa_pool_enable_locked(S(FE1), "fe1");
    ucwa_pool_sip_enable_locked(S(FE1), 1);
    ck_assert(!ucwa_pool_sip_on(S(FE1)));
    ck_assert_str_eq(ucwa_pool_sip_name(pool, "fe1"), "~sip:fe1");
    ck_assert(ucwa_pool_is_pool_sip("~sip:fe1"));
    ck_assert(!ucwa_pool_is_pool_sip("~sip") && !ucwa_pool_is_pool_sip("fe1"));
    ck_assert(!ucwa_pool_is_sip("~sip:fe1"));     /* not the single Front End's */
    in.sip_fe = ucwa_pool_sip_name(pool, "fe1");
    in.offer_key = "0123456789abcdef0123456789abcdef";
    in.to = "sip:dave@contoso.test";
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_invite_locked(S(FE1), &in, now, pool, &c, &t), UCWA_CONV_OK);
    ck_assert_int_eq(phase(FE1, c), UCWA_CONV_INVITING);
    ck_assert_int_eq(sip_out(&o), 1);
    ck_assert_uint_eq(o.op, UCWA_POOL_INVITE);
    ck_assert_str_eq(o.target, "~sip:fe1");
    msg = json_loadb(o.body, o.len, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(msg, "fe")), "fe1");
    ck_assert_str_eq(json_string_value(json_object_get(msg, "sdp")), in.offer_key);
    json_decref(msg);
    /* answered there (its ucwa-sipd applies it here, the caller is local) */
    snprintf(body, sizeof(body), "{\"k\":\"accepted\",\"fe\":\"fe1\",\"conv\":\"%s\","
             "\"by\":\"~sip:fe1\",\"peer\":\"x\",\"name\":\"\",\"html\":0,"
             "\"sdp\":\"sip\"}", ucwa_store_conv(S(FE1), c)->id);
    ck_assert_int_eq(sip_says(body, ANSWER), 0);
    ck_assert_int_eq(phase(FE1, c), UCWA_CONV_CONNECTED);
    /* the caller hangs up: "left" to "~sip:fe1", through the pool */
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_stop_av_locked(S(FE1), c, 0, alice, now, pool, &t),
                     UCWA_CONV_OK);
    ck_assert_int_eq(sip_out(&o), 1);
    ck_assert_str_eq(o.target, "~sip:fe1");
    ck_assert(strstr(o.body, "\"k\":\"left\"") != NULL);
}
END_TEST

/* Call via work: a phoneAudio conversation for the SIP side (no descriptions); its
 * invitation names the callback number, its gateway set and the LineURI; the SIP side's
 * progress updates the invitation, its answer connects it in phoneAudio's order, a failing
 * leg gives its reason; hold and resume reach the SIP side; a second stop is refused. */
#define PHONE_CALLER "comm/phoneAudioInvitation/started comm/conversation/added " \
                     "conv/localParticipant/added conv/phoneAudio/updated"
#define PHONE_CONNECTED "conv/participant/added comm/phoneAudioInvitation/completed " \
                        "conv/phoneAudio/updated comm/conversation/updated"

static int phone_call(int alice, const char *to, apr_interval_time_t ring)
{
    ucwa_conv_invite_in in;
    int c = -1;

    memset(&in, 0, sizeof(in));
    in.app = alice;
    in.to = to;
    in.kind = UCWA_CONV_KIND_AV;
    in.phone = 1;
    in.phone_number = "tel:+15550100";
    in.phone_gw = "3";
    in.phone_line = "tel:+14255550111";
    in.expires = now + ring;
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_invite_locked(S(FE1), &in, now, pool, &c, &t), UCWA_CONV_OK);
    return c;
}

START_TEST(a_call_via_work)
{
    int alice = av_app_on(FE1, ALICE, "Alice"), c;
    ucwa_pool_out o;
    ucwa_conv *k;
    json_t *msg, *inv;
    char body[256];

    ucwa_pool_enable_locked(S(FE1), "");
    ucwa_pool_sip_enable_locked(S(FE1), 1);
    c = phone_call(alice, BOB, apr_time_from_sec(40));
    k = ucwa_store_conv(S(FE1), c);
    ck_assert_int_eq(phase(FE1, c), UCWA_CONV_INVITING);
    ck_assert_uint_eq(k->endpoints, 0);               /* bob's apps do not ring */
    ck_assert_str_eq(events(FE1, alice), PHONE_CALLER);
    inv = json_object_get(json_object_get(json_array_get(last, 0), "_embedded"),
                          "phoneAudioInvitation");
    ck_assert_str_eq(json_string_value(json_object_get(inv, "phoneNumber")), "tel:+15550100");
    ck_assert_str_eq(json_string_value(json_object_get(inv, "to")), "sip:" BOB);
    ck_assert_int_eq(sip_out(&o), 1);
    ck_assert_uint_eq(o.op, UCWA_POOL_INVITE);
    msg = json_loadb(o.body, o.len, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(msg, "pa")), "tel:+15550100");
    ck_assert_str_eq(json_string_value(json_object_get(msg, "pgw")), "3");
    ck_assert_str_eq(json_string_value(json_object_get(msg, "line")), "tel:+14255550111");
    json_decref(msg);
    /* the SIP side's progress: each step once, in order */
    t.n = 0;
    ucwa_conv_phone_progress_locked(S(FE1), c, UCWA_PHONE_LEG_RINGING, now, pool, &t);
    ucwa_conv_phone_progress_locked(S(FE1), c, UCWA_PHONE_LEG_RINGING, now, pool, &t);
    ucwa_conv_phone_progress_locked(S(FE1), c, UCWA_PHONE_LEG_TARGET, now, pool, &t);
    ck_assert_str_eq(events(FE1, alice), "comm/phoneAudioInvitation/updated "
                                         "comm/phoneAudioInvitation/updated");
    /* hold before it connects: refused */
    ck_assert_int_eq(ucwa_conv_phone_hold_locked(S(FE1), c, 0, 1, now, pool, &t),
                     UCWA_CONV_STATE);
    snprintf(body, sizeof(body), "{\"k\":\"accepted\",\"fe\":\"%s\",\"conv\":\"%s\","
             "\"by\":\"~sip\",\"peer\":\"x\",\"name\":\"\",\"html\":0}",
             UCWA_POOL_SIP_LOCAL, k->id);
    ck_assert_int_eq(sip_says(body, NULL), 0);
    ck_assert_int_eq(phase(FE1, c), UCWA_CONV_CONNECTED);
    ck_assert_str_eq(events(FE1, alice), PHONE_CONNECTED);
    /* hold, hold again (nothing), resume: the SIP side hears twice */
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_phone_hold_locked(S(FE1), c, 0, 1, now, pool, &t), UCWA_CONV_OK);
    ck_assert_int_eq(ucwa_conv_phone_hold_locked(S(FE1), c, 0, 1, now, pool, &t), UCWA_CONV_OK);
    ck_assert_int_eq(ucwa_conv_phone_hold_locked(S(FE1), c, 1, 0, now, pool, &t),
                     UCWA_CONV_STATE);        /* not the caller's side */
    ck_assert_int_eq(sip_out(&o), 1);
    ck_assert(strstr(o.body, "\"k\":\"hold\"") != NULL);
    ck_assert_str_eq(events(FE1, alice), "conv/phoneAudio/updated");
    ck_assert(strstr(raw, "resumePhoneAudio") != NULL);
    ck_assert_int_eq(ucwa_conv_phone_hold_locked(S(FE1), c, 0, 0, now, pool, &t), UCWA_CONV_OK);
    ck_assert_int_eq(sip_out(&o), 1);
    ck_assert(strstr(o.body, "\"k\":\"resume\"") != NULL);
    ck_assert_str_eq(events(FE1, alice), "conv/phoneAudio/updated");
    ck_assert(strstr(raw, "holdPhoneAudio") != NULL);
    /* stop: "left" for the SIP side; twice: the call has ended */
    ck_assert_int_eq(ucwa_conv_stop_av_locked(S(FE1), c, 0, alice, now, pool, &t), UCWA_CONV_OK);
    ck_assert_int_eq(sip_out(&o), 1);
    ck_assert(strstr(o.body, "\"k\":\"left\"") != NULL);
    ck_assert_int_ne(ucwa_conv_stop_av_locked(S(FE1), c, 0, alice, now, pool, &t),
                     UCWA_CONV_OK);
    ck_assert_int_eq(ucwa_conv_phone_hold_locked(S(FE1), c, 0, 1, now, pool, &t),
                     UCWA_CONV_STATE);
    events(FE1, alice);

    /* a busy target: the reason says so */
    c = phone_call(alice, "tel:+15570100", apr_time_from_sec(40));
    k = ucwa_store_conv(S(FE1), c);
    ck_assert_int_eq(sip_out(&o), 1);
    events(FE1, alice);
    ucwa_conv_phone_failing_locked(S(FE1), c, UCWA_PHONE_FAIL_TARGET_BUSY);
    snprintf(body, sizeof(body), "{\"k\":\"declined\",\"fe\":\"%s\",\"conv\":\"%s\"}",
             UCWA_POOL_SIP_LOCAL, k->id);
    ck_assert_int_eq(sip_says(body, NULL), 0);
    ck_assert_int_eq(phase(FE1, c), UCWA_CONV_ENDED);
    events(FE1, alice);
    ck_assert(strstr(raw, "\"subcode\": \"Busy\"") || strstr(raw, "\"subcode\":\"Busy\""));
    ck_assert(strstr(raw, "tel:+15570100") != NULL);
    ck_assert(strstr(raw, "sip:tel:") == NULL);
    /* not the phone's: the progress and failure of another call change nothing */
    ck_assert_int_eq(ucwa_conv_phone_find_locked(S(FE1), "nope"), -1);
}
END_TEST

START_TEST(a_call_across_front_ends)
{
    int alice = av_app_on(FE1, ALICE, "Alice"), bob = av_app_on(FE2, BOB, "Bob"), c1, c2;
    const char *hold = "v=0\r\nm=audio 9 RTP/AVP 0\r\na=sendonly\r\n";
    const char *held = "v=0\r\nm=audio 9 RTP/AVP 0\r\na=recvonly\r\n";

    flow();
    c1 = call(alice, NULL, UCWA_CONV_OK);
    ck_assert_str_eq(events(FE1, alice), AV_CALLER);
    flow();
    /* bob's endpoint on FE2 rings with the caller's offer, byte for byte */
    c2 = mirror_of(FE2, c1);
    ck_assert_int_ge(c2, 0);
    ck_assert_str_eq(events(FE2, bob), AV_RINGING);
    ck_assert_uint_eq(ucwa_store_conv(S(FE2), c2)->kind, UCWA_CONV_KIND_AV);
    ck_assert_str_eq(ucwa_store_conv(S(FE2), c2)->session_context[0], "ctx-a");
    holds(FE2, c2, UCWA_SDP_OFFER, OFFER);
    /* a provisional answer reaches the caller, the call rings on */
    give(FE2, c2, UCWA_SDP_ANSWER, EARLY);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_answer_locked(S(FE2), c2, bob, 1, "application/sdp", EARLY,
                                             strlen(EARLY), "v6", "ctx-b", now, pool, &t),
                     UCWA_CONV_OK);
    flow();
    ck_assert_str_eq(events(FE1, alice), "audioVideoInvitation/audioVideoNegotiation/updated");
    ck_assert(strstr(raw, "mediaProvisionalAnswer") != NULL);
    holds(FE1, c1, UCWA_SDP_ANSWER, EARLY);
    /* the answer is a claim: the pool decides, the caller gets the answer's bytes */
    give(FE2, c2, UCWA_SDP_ANSWER, ANSWER);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_answer_locked(S(FE2), c2, bob, 0, "application/sdp", ANSWER,
                                             strlen(ANSWER), "v19", "ctx-b", now, pool, &t),
                     UCWA_CONV_PENDING);
    flow();
    ck_assert_int_eq(phase(FE2, c2), UCWA_CONV_CONNECTED);
    ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_CONNECTED);
    ck_assert_str_eq(events(FE2, bob), AV_ANSWERER);
    ck_assert_str_eq(events(FE1, alice), AV_CALLER_CONNECTED);
    holds(FE1, c1, UCWA_SDP_ANSWER, ANSWER);
    ck_assert_uint_eq(ucwa_store_conv(S(FE1), c1)->provisional, 0);
    ck_assert_str_eq(ucwa_store_conv(S(FE1), c1)->accepted_cid, "v19");
    ck_assert_str_eq(ucwa_store_conv(S(FE1), c1)->session_context[1], "ctx-b");
    /* bob holds (a renegotiation from FE2), alice answers from FE1 */
    give(FE2, c2, UCWA_SDP_RENEG_OFFER, hold);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_renegotiate_locked(S(FE2), c2, 1, "application/sdp", hold,
                                                  strlen(hold), "op-h", now, pool, &t),
                     UCWA_CONV_OK);
    flow();
    ck_assert_str_eq(events(FE1, alice), "comm/audioVideoRenegotiation/started");
    holds(FE1, c1, UCWA_SDP_RENEG_OFFER, hold);
    ck_assert_uint_eq(ucwa_store_conv(S(FE1), c1)->reneg_n, 1);
    ck_assert_str_eq(ucwa_store_conv(S(FE1), c1)->reneg_op, "op-h");
    give(FE1, c1, UCWA_SDP_RENEG_ANSWER, held);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_reneg_answer_locked(S(FE1), c1, 0, 1, "application/sdp", held,
                                                   strlen(held), now, pool, &t), UCWA_CONV_OK);
    flow();
    ck_assert_str_eq(events(FE2, bob), "comm/audioVideoRenegotiation/completed");
    holds(FE2, c2, UCWA_SDP_RENEG_ANSWER, held);
    ck_assert_uint_eq(ucwa_store_conv(S(FE2), c2)->reneg_done, 1);
    /* alice's renegotiation is dismissed on FE2 */
    give(FE1, c1, UCWA_SDP_RENEG_OFFER, OFFER);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_renegotiate_locked(S(FE1), c1, 0, "application/sdp", OFFER,
                                                  strlen(OFFER), NULL, now, pool, &t),
                     UCWA_CONV_OK);
    flow();
    ck_assert_str_eq(events(FE2, bob), "comm/audioVideoRenegotiation/started");
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_reneg_answer_locked(S(FE2), c2, 1, 2, NULL, NULL, 0, now, pool,
                                                   &t), UCWA_CONV_OK);
    flow();
    ck_assert_str_eq(events(FE1, alice), "comm/audioVideoRenegotiation/completed");
    ck_assert_uint_eq(ucwa_store_conv(S(FE1), c1)->reneg_done, 2);
    /* bob hangs up on FE2 */
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_leave_locked(S(FE2), c2, 1, now, pool, &t), UCWA_CONV_OK);
    flow();
    ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_ENDED);
    ck_assert_str_eq(events(FE1, alice), "conv/participant/deleted conv/audioVideo/updated "
                                         "comm/conversation/deleted");
}
END_TEST

/* alice on FE1 calls bob on FE2, bob's answer connects them: both records. */
static void av_connected(int *alice, int *bob, int *c1, int *c2)
{
    *alice = av_app_on(FE1, ALICE, "Alice");
    *bob = av_app_on(FE2, BOB, "Bob");
    flow();
    *c1 = call(*alice, NULL, UCWA_CONV_OK);
    flow();
    *c2 = mirror_of(FE2, *c1);
    ck_assert_int_ge(*c2, 0);
    give(FE2, *c2, UCWA_SDP_ANSWER, ANSWER);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_answer_locked(S(FE2), *c2, *bob, 0, "application/sdp", ANSWER,
                                             strlen(ANSWER), NULL, NULL, now, pool, &t),
                     UCWA_CONV_PENDING);
    flow();
    ck_assert_int_eq(phase(FE1, *c1), UCWA_CONV_CONNECTED);
    (void)events(FE1, *alice);
    (void)events(FE2, *bob);
}

/* alice (FE1) calls bob (FE2), who answers: both sides connected, their events read;
 * alice's record, and the mirror's in *c2. */
static int call_connected(int alice, int bob, int *c2)
{
    int c1;

    flow();
    c1 = call(alice, NULL, UCWA_CONV_OK);
    flow();
    *c2 = mirror_of(FE2, c1);
    give(FE2, *c2, UCWA_SDP_ANSWER, ANSWER);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_answer_locked(S(FE2), *c2, bob, 0, "application/sdp", ANSWER,
                                             strlen(ANSWER), NULL, "ctx-b", now, pool, &t),
                     UCWA_CONV_PENDING);
    flow();
    ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_CONNECTED);
    ck_assert_int_eq(phase(FE2, *c2), UCWA_CONV_CONNECTED);
    (void)events(FE1, alice);
    (void)events(FE2, bob);
    return c1;
}

/* Both sides renegotiate at once, each on its Front End, and the two offers cross in the
 * pool (glare): the caller's wins on both sides. Its Front End refuses the callee's (its own
 * stays open); the callee's fails the callee's own (Conflict) and takes the caller's under
 * the same number, so the answer and every later renegotiation keep the numbers in step. */
START_TEST(renegotiations_that_cross_across_front_ends)
{
    int alice = av_app_on(FE1, ALICE, "Alice"), bob = av_app_on(FE2, BOB, "Bob"), c1, c2;
    const char *hold = "v=0\r\nm=audio 9 RTP/AVP 0\r\na=sendonly\r\n";
    const char *held = "v=0\r\nm=audio 9 RTP/AVP 0\r\na=recvonly\r\n";
    const char *video = "v=0\r\nm=audio 9 RTP/AVP 0\r\nm=video 9 RTP/AVP 96\r\n";

    c1 = call_connected(alice, bob, &c2);
    /* alice (the caller) holds on FE1 while bob adds video on FE2: both are taken */
    give(FE1, c1, UCWA_SDP_RENEG_OFFER, hold);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_renegotiate_locked(S(FE1), c1, 0, "application/sdp", hold,
                                                  strlen(hold), "op-a", now, pool, &t),
                     UCWA_CONV_OK);
    give(FE2, c2, UCWA_SDP_RENEG_OFFER, video);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_renegotiate_locked(S(FE2), c2, 1, "application/sdp", video,
                                                  strlen(video), "op-b", now, pool, &t),
                     UCWA_CONV_OK);
    flow();
    /* the caller's side keeps its own; the callee's own fails, then the caller's rings */
    ck_assert_str_eq(events(FE1, alice), "");
    ck_assert_uint_eq(ucwa_store_conv(S(FE1), c1)->reneg, 1);
    ck_assert_str_eq(events(FE2, bob), "comm/audioVideoRenegotiation/completed "
                                       "comm/audioVideoRenegotiation/started");
    ck_assert(strstr(raw, "\"Failure\"") != NULL && strstr(raw, "\"Conflict\"") != NULL);
    ck_assert(strstr(raw, "op-b") != NULL);
    holds(FE2, c2, UCWA_SDP_RENEG_OFFER, hold);
    ck_assert_uint_eq(ucwa_store_conv(S(FE2), c2)->reneg, 1);
    ck_assert_uint_eq(ucwa_store_conv(S(FE2), c2)->reneg_n, ucwa_store_conv(S(FE1), c1)->reneg_n);
    /* bob answers the caller's: alice's completes */
    give(FE2, c2, UCWA_SDP_RENEG_ANSWER, held);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_reneg_answer_locked(S(FE2), c2, 1,
                                                   ucwa_store_conv(S(FE2), c2)->reneg_n,
                                                   "application/sdp", held, strlen(held), now,
                                                   pool, &t), UCWA_CONV_OK);
    flow();
    ck_assert_str_eq(events(FE1, alice), "comm/audioVideoRenegotiation/completed");
    ck_assert(strstr(raw, "\"Success\"") != NULL);
    holds(FE1, c1, UCWA_SDP_RENEG_ANSWER, held);
    /* bob tries again: it reaches alice with the next number on both sides */
    give(FE2, c2, UCWA_SDP_RENEG_OFFER, video);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_renegotiate_locked(S(FE2), c2, 1, "application/sdp", video,
                                                  strlen(video), "op-b2", now, pool, &t),
                     UCWA_CONV_OK);
    flow();
    ck_assert_str_eq(events(FE1, alice), "comm/audioVideoRenegotiation/started");
    holds(FE1, c1, UCWA_SDP_RENEG_OFFER, video);
    ck_assert_uint_eq(ucwa_store_conv(S(FE1), c1)->reneg_n, 2);
    ck_assert_uint_eq(ucwa_store_conv(S(FE2), c2)->reneg_n, 2);
    /* on one Front End nothing crosses: a second one while one is open is refused */
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_renegotiate_locked(S(FE1), c1, 0, "application/sdp", hold,
                                                  strlen(hold), NULL, now, pool, &t),
                     UCWA_CONV_STATE);
}
END_TEST

/* Messaging added to a call's conversation from both sides at once, across Front Ends: each
 * side's msg-add finds the other's own invitation ringing, so neither rings and both fail as
 * declined (as calls added to an IM conversation that cross); then one add goes through. */
START_TEST(messaging_added_to_a_call_from_both_sides_at_once)
{
    int alice = av_app_on(FE1, ALICE, "Alice"), bob = av_app_on(FE2, BOB, "Bob"), c1, c2;
    apr_time_t expires = now + apr_time_from_sec(30);

    c1 = call_connected(alice, bob, &c2);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_add_messaging_locked(S(FE1), c1, 0, "op-a", expires, now, pool,
                                                    &t), UCWA_CONV_OK);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_add_messaging_locked(S(FE2), c2, 1, "op-b", expires, now, pool,
                                                    &t), UCWA_CONV_OK);
    ck_assert_str_eq(events(FE1, alice), "comm/messagingInvitation/started "
                                         "conv/messaging/updated");
    ck_assert_str_eq(events(FE2, bob), "comm/messagingInvitation/started "
                                       "conv/messaging/updated");
    flow();
    ck_assert_str_eq(events(FE1, alice), "conv/messaging/updated "
                                         "comm/messagingInvitation/completed");
    ck_assert(strstr(raw, "\"Declined\"") != NULL);
    ck_assert_str_eq(events(FE2, bob), "conv/messaging/updated "
                                       "comm/messagingInvitation/completed");
    ck_assert_uint_eq(ucwa_store_conv(S(FE1), c1)->msg_phase, UCWA_CONV_ENDED);
    ck_assert_uint_eq(ucwa_store_conv(S(FE2), c2)->msg_phase, UCWA_CONV_ENDED);
    /* alice alone: bob's application rings and accepts, both are connected */
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_add_messaging_locked(S(FE1), c1, 0, NULL, expires, now, pool,
                                                    &t), UCWA_CONV_OK);
    flow();
    (void)events(FE1, alice);
    ck_assert_str_eq(events(FE2, bob), "comm/messagingInvitation/started");
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_accept_locked(S(FE2), c2, bob, now, pool, &t), UCWA_CONV_OK);
    flow();
    ck_assert_uint_eq(ucwa_store_conv(S(FE1), c1)->msg_phase, UCWA_CONV_CONNECTED);
    ck_assert_uint_eq(ucwa_store_conv(S(FE2), c2)->msg_phase, UCWA_CONV_CONNECTED);
    ck_assert(strstr(events(FE1, alice), "comm/messagingInvitation/completed") != NULL);
    ck_assert(strstr(raw, "\"Success\"") != NULL);
}
END_TEST

START_TEST(a_call_ends_with_its_front_end)
{
    int alice, bob, c1, c2;

    /* connected: the callee's Front End goes, the caller sees him hang up */
    av_connected(&alice, &bob, &c1, &c2);
    pm_gone(&m, FE2);
    flow();
    ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_ENDED);
    ck_assert_str_eq(events(FE1, alice), "conv/participant/deleted conv/audioVideo/updated "
                                         "comm/conversation/deleted");
    /* ringing: the caller's Front End goes, the callee's call is missed */
    pm_join(&m, FE2, 1, now, pool);
    now += apr_time_from_sec(1);
    bob = av_app_on(FE2, BOB, "Bob");
    flow();
    c1 = call(alice, NULL, UCWA_CONV_OK);
    flow();
    c2 = mirror_of(FE2, c1);
    ck_assert_int_ge(c2, 0);
    (void)events(FE2, bob);
    pm_gone(&m, FE1);
    flow();
    ck_assert_int_eq(phase(FE2, c2), UCWA_CONV_ENDED);
    ck_assert_str_eq(events(FE2, bob), "comm/audioVideoInvitation/completed "
                                       "comm/conversation/deleted");
    ck_assert(strstr(raw, "You missed a call.") != NULL);
}
END_TEST

START_TEST(a_call_whose_offer_is_lost)
{
    int alice = av_app_on(FE1, ALICE, "Alice"), bob = av_app_on(FE2, BOB, "Bob"), c1;
    apr_uint64_t skipped = m.skipped[FE2];

    flow();
    /* the message names a key the pool's table does not have (reaped): FE2 cannot ring,
     * it skips the message and answers gone: nobody else rings, the call fails */
    c1 = call(alice, "0123456789abcdef0123456789abcdef", UCWA_CONV_OK);
    ck_assert(pm_settle(&m, 16, now, pool));
    ck_assert_uint_eq(m.skipped[FE2], skipped + 1);
    ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_ENDED);
    ck_assert_str_eq(events(FE2, bob), "");
    (void)events(FE1, alice);
    ck_assert(strstr(raw, "Unreachable") != NULL);
    /* every call record of FE2 in use: it cannot ring, says so (skipped, logged by the
     * thread) and answers gone */
    {
        apr_uint32_t i;
        for (i = 0; i < m.limits.max_calls; i++) {
            ucwa_store_call(S(FE2), (int)i)->state = UCWA_SLOT_LIVE;
        }
        skipped = m.skipped[FE2];
        c1 = call(alice, NULL, UCWA_CONV_OK);
        ck_assert(pm_settle(&m, 16, now, pool));
        ck_assert_uint_eq(m.skipped[FE2], skipped + 1);
        ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_ENDED);
        ck_assert_str_eq(events(FE2, bob), "");
        for (i = 0; i < m.limits.max_calls; i++) {
            ucwa_store_call(S(FE2), (int)i)->state = UCWA_SLOT_FREE;
        }
    }
    /* a malformed key is no key */
    {
        ucwa_pool_applied res;
        ucwa_txn txn;
        const char *b = "{\"k\":\"reneg\",\"fe\":\"fe1\",\"conv\":\"x\",\"sdp\":\"../x\"}";
        ck_assert_ptr_null(ucwa_pool_sdp_key(pool, b, strlen(b)));
        ucwa_txn_init(&txn, S(FE2), pool);
        ck_assert_int_eq(ucwa_pool_apply_locked(&txn, b, strlen(b), &m.rules, now, &res), 0);
    }
}
END_TEST

/* alice (FE1) or bob (FE2), side of their IM conversation, adds a call to it with offer
 * (its key written first, as the request does). */
static void add_call(int fe, int c, int side, const char *offer, ucwa_conv_result want)
{
    const char *key = pm_sdp_put(&m, "application/sdp", offer, strlen(offer));

    t.n = 0;
    ck_assert_int_eq(ucwa_conv_add_av_locked(S(fe), c, side, 0, "application/sdp", offer,
                                             strlen(offer), "ctx-add", "op-add", key,
                                             now + apr_time_from_sec(20), now, pool, &t),
                     want);
}

static int av_phase(int fe, int c)
{
    return (int)ucwa_store_conv(S(fe), c)->av_phase;
}

static int av_end(int fe, int c)
{
    return (int)ucwa_store_conv(S(fe), c)->av_end;
}

/* bob on FE2 answers the call added to record c2 with text (provisional or final). */
static void answer_added(int c2, int bob, int provisional, const char *text)
{
    give(FE2, c2, UCWA_SDP_ANSWER, text);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_answer_locked(S(FE2), c2, bob, provisional, "application/sdp",
                                             text, strlen(text), "v1", "ctx-b", now, pool,
                                             &t), UCWA_CONV_OK);
}

#define ADDED "comm/audioVideoInvitation/started conv/audioVideo/updated"

START_TEST(a_call_added_across_front_ends)
{
    const char *hold = "v=0\r\nm=audio 9 RTP/AVP 0\r\na=sendonly\r\n";
    const char *held = "v=0\r\nm=audio 9 RTP/AVP 0\r\na=recvonly\r\n";
    int alice, bob, c1, c2;

    connected(&alice, &bob, &c1, &c2);
    ucwa_store_app(S(FE1), alice)->modalities |= UCWA_MOD_AUDIO | UCWA_MOD_VIDEO;
    ucwa_store_app(S(FE2), bob)->modalities |= UCWA_MOD_AUDIO | UCWA_MOD_VIDEO;
    /* without its offer in the pool's table the call cannot go */
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_add_av_locked(S(FE1), c1, 0, 0, "application/sdp", OFFER,
                                             strlen(OFFER), NULL, NULL, NULL,
                                             now + apr_time_from_sec(20), now, pool, &t),
                     UCWA_CONV_STATE);
    /* alice adds a call: bob's application on FE2 rings with her offer, byte for byte */
    add_call(FE1, c1, 0, OFFER, UCWA_CONV_OK);
    ck_assert_str_eq(events(FE1, alice), ADDED);
    flow();
    ck_assert_str_eq(events(FE2, bob), ADDED);
    ck_assert(strstr(raw, "mediaOffer") != NULL);
    holds(FE2, c2, UCWA_SDP_OFFER, OFFER);
    ck_assert_int_eq(av_phase(FE2, c2), UCWA_CONV_INVITING);
    ck_assert_uint_eq(ucwa_store_conv(S(FE2), c2)->av_side, 0);
    ck_assert_str_eq(ucwa_store_conv(S(FE2), c2)->session_context[0], "ctx-add");
    /* a provisional answer, then the final one, reach alice with their bytes */
    answer_added(c2, bob, 1, EARLY);
    flow();
    ck_assert_str_eq(events(FE1, alice), "audioVideoInvitation/audioVideoNegotiation/updated");
    holds(FE1, c1, UCWA_SDP_ANSWER, EARLY);
    ck_assert_int_eq(av_phase(FE1, c1), UCWA_CONV_INVITING);
    answer_added(c2, bob, 0, ANSWER);
    ck_assert_str_eq(events(FE2, bob), "comm/audioVideoInvitation/completed "
                                       "conv/audioVideo/updated comm/conversation/updated");
    flow();
    ck_assert_str_eq(events(FE1, alice), "audioVideoInvitation/audioVideoNegotiation/updated "
                                         "comm/audioVideoInvitation/completed "
                                         "conv/audioVideo/updated comm/conversation/updated");
    holds(FE1, c1, UCWA_SDP_ANSWER, ANSWER);
    ck_assert_int_eq(av_phase(FE1, c1), UCWA_CONV_CONNECTED);
    ck_assert_str_eq(ucwa_store_conv(S(FE1), c1)->session_context[1], "ctx-b");
    ck_assert_str_eq(ucwa_store_conv(S(FE1), c1)->accepted_cid, "v1");
    /* a renegotiation crosses as for any call */
    give(FE1, c1, UCWA_SDP_RENEG_OFFER, hold);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_renegotiate_locked(S(FE1), c1, 0, "application/sdp", hold,
                                                  strlen(hold), "op-h", now, pool, &t),
                     UCWA_CONV_OK);
    flow();
    ck_assert_str_eq(events(FE2, bob), "comm/audioVideoRenegotiation/started");
    holds(FE2, c2, UCWA_SDP_RENEG_OFFER, hold);
    give(FE2, c2, UCWA_SDP_RENEG_ANSWER, held);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_reneg_answer_locked(S(FE2), c2, 1, 1, "application/sdp", held,
                                                   strlen(held), now, pool, &t), UCWA_CONV_OK);
    flow();
    ck_assert_str_eq(events(FE1, alice), "comm/audioVideoRenegotiation/completed");
    holds(FE1, c1, UCWA_SDP_RENEG_ANSWER, held);
    /* bob hangs up: the call ends on both, messaging goes on */
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_stop_av_locked(S(FE2), c2, 1, bob, now, pool, &t), UCWA_CONV_OK);
    flow();
    ck_assert_str_eq(events(FE1, alice), "conv/audioVideo/updated comm/conversation/updated");
    ck_assert_int_eq(av_phase(FE1, c1), UCWA_CONV_ENDED);
    ck_assert_int_eq(av_end(FE1, c1), UCWA_CONV_END_LEFT);
    ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_CONNECTED);
    (void)events(FE2, bob);
    say(FE1, c1, 0, "still here", UCWA_CONV_OK);
    flow();
    ck_assert_str_eq(events(FE2, bob), "conv/message/completed");
    (void)events(FE1, alice);
    /* bob adds one from FE2; alice declines it on FE1 */
    add_call(FE2, c2, 1, OFFER, UCWA_CONV_OK);
    flow();
    ck_assert_str_eq(events(FE1, alice), ADDED);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_stop_av_locked(S(FE1), c1, 0, alice, now, pool, &t),
                     UCWA_CONV_OK);
    flow();
    ck_assert_int_eq(av_end(FE2, c2), UCWA_CONV_END_DECLINED);
    ck_assert_int_eq(av_end(FE1, c1), UCWA_CONV_END_DECLINED);
    /* alice cancels as bob answers: both end (the answer that comes too late is answered
     * av-stop, the cancel ends bob's connected side) */
    add_call(FE1, c1, 0, OFFER, UCWA_CONV_OK);
    flow();
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_stop_av_locked(S(FE1), c1, 0, alice, now, pool, &t),
                     UCWA_CONV_OK);
    answer_added(c2, bob, 0, ANSWER);
    ck_assert_int_eq(av_phase(FE2, c2), UCWA_CONV_CONNECTED);
    flow();
    ck_assert_int_eq(av_phase(FE1, c1), UCWA_CONV_ENDED);
    ck_assert_int_eq(av_end(FE1, c1), UCWA_CONV_END_CANCELED);
    ck_assert_int_eq(av_phase(FE2, c2), UCWA_CONV_ENDED);
    /* not answered: each Front End ends it by its own clock, nothing crosses */
    add_call(FE1, c1, 0, OFFER, UCWA_CONV_OK);
    flow();
    now += apr_time_from_sec(21);
    tick(FE1, c1);
    tick(FE2, c2);
    ck_assert_int_eq(av_end(FE1, c1), UCWA_CONV_END_TIMEOUT);
    ck_assert_int_eq(av_end(FE2, c2), UCWA_CONV_END_TIMEOUT);
    flow();
    /* both add at once: neither rings, both fail as declined */
    add_call(FE1, c1, 0, OFFER, UCWA_CONV_OK);
    add_call(FE2, c2, 1, ANSWER, UCWA_CONV_OK);
    flow();
    ck_assert_int_eq(av_end(FE1, c1), UCWA_CONV_END_DECLINED);
    ck_assert_int_eq(av_end(FE2, c2), UCWA_CONV_END_DECLINED);
    /* a call again, answered; alice stops messaging: it stops on FE2 too, the call goes on */
    add_call(FE1, c1, 0, OFFER, UCWA_CONV_OK);
    flow();
    answer_added(c2, bob, 0, ANSWER);
    flow();
    (void)events(FE1, alice);
    (void)events(FE2, bob);
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_stop_messaging_locked(S(FE1), c1, 0, now, pool, &t),
                     UCWA_CONV_OK);
    flow();
    ck_assert_str_eq(events(FE2, bob), "conv/messaging/updated comm/conversation/updated");
    ck_assert_uint_eq(ucwa_store_conv(S(FE2), c2)->msg_off, 1);
    ck_assert_int_eq(av_phase(FE2, c2), UCWA_CONV_CONNECTED);
    say(FE2, c2, 1, "nobody reads", UCWA_CONV_STATE);
    /* the call was all that was left: hanging up ends the conversation on both */
    t.n = 0;
    ck_assert_int_eq(ucwa_conv_stop_av_locked(S(FE2), c2, 1, bob, now, pool, &t), UCWA_CONV_OK);
    flow();
    ck_assert_int_eq(phase(FE1, c1), UCWA_CONV_ENDED);
    ck_assert_int_eq(phase(FE2, c2), UCWA_CONV_ENDED);
}
END_TEST

START_TEST(presence_parse)
{
    ucwa_pool_presence_in in;
    const char *idle = "{\"k\":\"presence\",\"av\":\"IdleBusy\",\"avail\":2,\"note\":\"n\","
                       "\"changed\":7}";

    ck_assert_int_eq(ucwa_pool_presence_parse(pool, idle, strlen(idle), &in), 0);
    ck_assert_int_eq(in.av, UCWA_AV_IDLE_BUSY);
    ck_assert_int_eq(in.available, 2);
    ck_assert_str_eq(in.note, "n");
    ck_assert_str_eq(in.activity, "");
    ck_assert_int_eq(in.changed, 7);
    idle = "{\"k\":\"presence\",\"av\":\"Bogus\"}";
    ck_assert_int_eq(ucwa_pool_presence_parse(pool, idle, strlen(idle), &in), 0);
    ck_assert_int_eq(in.av, UCWA_AV_OFFLINE);
    ck_assert_int_eq(ucwa_pool_presence_parse(pool, "{\"k\":\"invite\"}", 14, &in), -1);
    ck_assert_int_eq(ucwa_pool_presence_parse(pool, "{\"k\":", 5, &in), -1);
}
END_TEST

START_TEST(the_outbox)
{
    ucwa_pool_out *out;
    int n;

    /* too long a body, target or key is refused whole */
    ck_assert_int_eq(ucwa_pool_queue_locked(S(FE1), UCWA_POOL_SEND,
                                            unit_repeat("f", UCWA_POOL_FE_MAX), NULL,
                                            "{}", NULL), -1);
    ck_assert_int_eq(ucwa_pool_queue_locked(S(FE1), UCWA_POOL_INVITE, "fe2", unit_repeat("k", 40),
                                            "{}", NULL), -1);
    ck_assert_int_eq(ucwa_pool_queue_locked(S(FE1), UCWA_POOL_SEND, "fe2", NULL,
                                            unit_repeat("x", UCWA_POOL_BODY_MAX - 1), NULL), -1);
    ck_assert_int_eq(ucwa_pool_queue_locked(S(FE1), UCWA_POOL_SEND, NULL, NULL, "{}", NULL), -1);
    ck_assert_int_eq(pm_queued(&m, FE1), 0);
    /* peek copies, done removes; done past what is queued does nothing */
    ck_assert_int_eq(ucwa_pool_queue_locked(S(FE1), UCWA_POOL_CLAIM_ACCEPT, "fe2", "k", "{\"a\":1}",
                                            "{\"b\":2}"), 1);
    ck_assert_int_eq(ucwa_pool_queue_locked(S(FE1), UCWA_POOL_SEND, "fe2", NULL, "{}", NULL), 1);
    n = ucwa_pool_out_peek_locked(S(FE1), pool, 1, &out);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(out[0].body, "{\"a\":1}");
    ck_assert_str_eq(out[0].body + out[0].len + 1, "{\"b\":2}");
    ck_assert_str_eq(out[0].key, "k");
    ucwa_pool_out_done_locked(S(FE1), 3);
    ck_assert_int_eq(pm_queued(&m, FE1), 2);
    ucwa_pool_out_done_locked(S(FE1), 1);
    ck_assert_int_eq(ucwa_pool_out_peek_locked(S(FE1), pool, 8, &out), 1);
    ck_assert_str_eq(out[0].body, "{}");
    ucwa_pool_out_done_locked(S(FE1), 1);
    ck_assert_int_eq(ucwa_pool_out_peek_locked(S(FE1), pool, 8, &out), 0);
    ck_assert_uint_eq(ucwa_store_pool_area(S(FE1))->shipped, 2);
    /* without a pool nothing is queued, and there is room */
    ucwa_pool_enable_locked(S(FE1), NULL);
    ck_assert_int_eq(ucwa_pool_queue_locked(S(FE1), UCWA_POOL_SEND, "fe2", NULL, "{}", NULL), 0);
    ck_assert_int_eq(ucwa_pool_room_locked(S(FE1)), UCWA_POOL_OUTBOX);
    app_on(FE1, ALICE, "Alice", 1);
    ck_assert_uint_eq(ucwa_store_pool_area(S(FE1))->dirty_head, 0);
    ucwa_pool_enable_locked(S(FE1), "fe1");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_pool");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, presence_of_a_watched_user_crosses);
    tcase_add_test(tc, conversation_across_front_ends);
    tcase_add_test(tc, the_inviter_leaves);
    tcase_add_test(tc, decline_and_cancel);
    tcase_add_test(tc, a_user_on_both_front_ends);
    tcase_add_test(tc, an_accept_that_crosses_the_timeout);
    tcase_add_test(tc, an_accept_that_crosses_a_cancel);
    tcase_add_test(tc, a_claim_from_a_front_end_that_joined_again);
    tcase_add_test(tc, an_invitation_to_a_front_end_that_dies);
    tcase_add_test(tc, an_accept_that_crosses_a_rejoin);
    tcase_add_test(tc, nobody_to_alert_is_unreachable);
    tcase_add_test(tc, the_last_endpoint_of_a_mirror_goes);
    tcase_add_test(tc, a_conversation_log_change_crosses);
    tcase_add_test(tc, a_me_change_crosses);
    tcase_add_test(tc, a_front_end_gone);
    tcase_add_test(tc, a_front_end_gone_keeps_what_it_names);
    tcase_add_test(tc, a_full_outbox_changes_nothing);
    tcase_add_test(tc, malformed_and_hostile_messages);
    tcase_add_test(tc, a_call_across_front_ends);
    tcase_add_test(tc, renegotiations_that_cross_across_front_ends);
    tcase_add_test(tc, messaging_added_to_a_call_from_both_sides_at_once);
    tcase_add_test(tc, a_call_ends_with_its_front_end);
    tcase_add_test(tc, a_call_whose_offer_is_lost);
    tcase_add_test(tc, a_call_added_across_front_ends);
    tcase_add_test(tc, presence_parse);
    tcase_add_test(tc, the_outbox);
    tcase_add_test(tc, a_call_to_the_sip_side);
    tcase_add_test(tc, a_call_via_work);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_pool", s);
}
