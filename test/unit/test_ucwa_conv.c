/* ucwa_conv: the conversation table, the transitions of 1:1 instant messaging and the
 * events each one posts, read back from a real (in-memory) session store. */
#include <stdlib.h>
#include <jansson.h>
#include <apr_lib.h>

#include "unit.h"
#include "unit_conv.h"
#include "ucwa_conv.h"

static ucwa_store *st;
static void *mem;
static apr_time_t now;
static int endpoints_made;
static json_t *last;   /* the events of the last events() call, as a JSON array */

static void make_store(apr_uint32_t event_size, apr_uint32_t convs)
{
    ucwa_store_limits l;

    memset(&l, 0, sizeof(l));
    l.max_apps = 8;
    l.ring_len = 128;
    l.event_size = event_size;
    l.max_users = 8;
    l.max_subs = 4;
    l.max_convs = convs;
    free(mem);
    mem = calloc(1, ucwa_store_bytes(&l));
    st = ucwa_store_init(mem, &l);
}

static void setup(void)
{
    unit_pool_setup();
    make_store(4096, 20);
    now = apr_time_from_sec(1700000000);
    endpoints_made = 0;
    last = NULL;
}

static void teardown(void)
{
    ucwa_conv_stats stats;
    const char *bad = ucwa_conv_check_locked(st, &stats, pool);
    apr_uint32_t i;

    ck_assert_msg(bad == NULL, "inconsistent: %s", bad);
    /* the check reads the records in use; past them none may be live */
    for (i = ucwa_conv_used_locked(st); i < ucwa_store_get_limits(st)->max_convs; i++) {
        ck_assert_uint_ne(ucwa_store_conv(st, (int)i)->state, UCWA_SLOT_LIVE);
    }
    if (last) {
        json_decref(last);
    }
    free(mem);
    mem = NULL;
    unit_pool_teardown();
}

/* A new application of user (available for the given modalities; 0: a lurker). */
static int app(const char *user, const char *name, apr_uint32_t modalities)
{
    int idx = unit_conv_app(st, user, name, endpoints_made++, now);
    ucwa_app *a = ucwa_store_app(st, idx);

    if (modalities) {
        a->available = 1;
        a->modalities = modalities;
        ucwa_store_user(st, (int)a->user)->available_apps++;
    }
    return idx;
}

static int messaging_app(const char *user, const char *name)
{
    return app(user, name, UCWA_MOD_MESSAGING);
}

/* Everything posted to app since the last call (see unit_conv_events). */
static const char *events(int idx)
{
    return unit_conv_events(st, idx, now, &last);
}

/* A string in the n-th event of last, by a path of keys ("a.b.c"). */
static const char *field(int n, const char *path)
{
    json_t *v = json_array_get(last, (size_t)n);
    char *copy = apr_pstrdup(pool, path), *tok, *state;

    for (tok = apr_strtok(copy, ".", &state); tok && v; tok = apr_strtok(NULL, ".", &state)) {
        v = json_is_array(v) ? json_array_get(v, (size_t)atoi(tok)) : json_object_get(v, tok);
    }
    return v ? json_string_value(v) : NULL;
}

static int invite(int from, const char *to, const char *first, ucwa_conv_result want)
{
    ucwa_conv_invite_in in;
    ucwa_conv_touched t;
    int idx = -1;

    memset(&in, 0, sizeof(in));
    memset(&t, 0, sizeof(t));
    in.app = from;
    in.to = to;
    in.subject = "Task \"Sample\"";
    in.operation_id = "op-1";
    in.first = first;
    in.expires = now + apr_time_from_sec(30);
    ck_assert_int_eq(ucwa_conv_invite_locked(st, &in, now, pool, &idx, &t), want);
    return idx;
}

static ucwa_conv_touched t;

START_TEST(offline_unknown_and_unavailable_fail_at_once)
{
    int alice = messaging_app("alice@contoso.test", "Alice");
    const char *to[] = { "nobody@contoso.test", "bob@contoso.test", "carol@contoso.test" };
    int i, c;

    app("bob@contoso.test", "Bob", 0);                            /* a lurker */
    app("carol@contoso.test", "Carol", UCWA_MOD_PHONE);           /* no Messaging */
    for (i = 0; i < 3; i++) {
        c = invite(alice, to[i], NULL, UCWA_CONV_OK);
        ck_assert_str_eq(events(alice), SENDER_STARTED " " FAILED);
        ck_assert_str_eq(field(5, "status"), "Failure");
        ck_assert_str_eq(field(5, "reason.code"), "RemoteFailure");
        ck_assert_str_eq(field(5, "reason.subcode"), "Unreachable");
        ck_assert_str_eq(field(5, "_embedded.messagingInvitation.state"), "Failed");
        ck_assert_str_eq(field(5, "_embedded.messagingInvitation.operationId"), "op-1");
        ck_assert_str_eq(field(4, "_embedded.messaging.state"), "Disconnected");
        ck_assert_int_eq(ucwa_store_conv(st, c)->phase, UCWA_CONV_ENDED);
        ck_assert_int_eq(ucwa_conv_side(ucwa_store_conv(st, c), alice,
                                        ucwa_store_app(st, alice)->gen), -1);
        ck_assert(ucwa_conv_sees_invitation(ucwa_store_conv(st, c), 0, alice,
                                            ucwa_store_app(st, alice)->gen));
    }
    ck_assert_str_eq(events(1), "");
    ck_assert_str_eq(events(2), "");
    ck_assert_int_eq(ucwa_conv_count_locked(st, alice, ucwa_store_app(st, alice)->gen), 0);
    /* kept UCWA_CONV_RETAIN, then freed */
    ck_assert_uint_eq(ucwa_conv_used_locked(st), 3);     /* the scans stop after the three */
    memset(&t, 0, sizeof(t));
    ucwa_conv_tick_locked(st, c, now + UCWA_CONV_RETAIN - 1, pool, &t);
    ck_assert_int_eq(ucwa_store_conv(st, c)->state, UCWA_SLOT_LIVE);
    ucwa_conv_tick_locked(st, c, now + UCWA_CONV_RETAIN, pool, &t);
    ck_assert_int_eq(ucwa_store_conv(st, c)->state, UCWA_SLOT_FREE);
    ck_assert_int_eq(t.n, 0);
    ck_assert_uint_eq(ucwa_conv_used_locked(st), 2);
    /* the first freed leaves the second in use; then both go */
    ucwa_conv_tick_locked(st, 0, now + UCWA_CONV_RETAIN, pool, &t);
    ck_assert_uint_eq(ucwa_conv_used_locked(st), 2);
    ucwa_conv_tick_locked(st, 1, now + UCWA_CONV_RETAIN, pool, &t);
    ck_assert_uint_eq(ucwa_conv_used_locked(st), 0);
    ck_assert_int_eq(invite(alice, "bob@contoso.test", NULL, UCWA_CONV_OK), 0);
    ck_assert_uint_eq(ucwa_conv_used_locked(st), 1);
}
END_TEST

START_TEST(ids)
{
    int alice = messaging_app("alice@contoso.test", "Alice");
    int bob = messaging_app("bob@contoso.test", "Bob");
    int c = invite(alice, "bob@contoso.test", NULL, UCWA_CONV_OK), side = -1;
    ucwa_conv *cv = ucwa_store_conv(st, c);
    char *id = apr_pstrdup(pool, cv->id);

    ck_assert_uint_eq(strlen(id), 32);
    ck_assert_int_eq(ucwa_conv_find_locked(st, id), c);
    ck_assert_int_eq(ucwa_conv_find_invitation_locked(st, cv->party[0].invitation, &side), c);
    ck_assert_int_eq(side, 0);
    ck_assert_int_eq(ucwa_conv_find_invitation_locked(st, cv->party[1].invitation, &side), c);
    ck_assert_int_eq(side, 1);
    ck_assert_int_eq(ucwa_conv_find_invitation_locked(st, id, &side), -1);
    ck_assert_int_eq(ucwa_conv_find_locked(st, cv->party[0].invitation), -1);
    ck_assert_int_eq(ucwa_conv_find_locked(st, ""), -1);
    ck_assert_int_eq(ucwa_conv_find_locked(st, apr_pstrndup(pool, id, 31)), -1);
    ck_assert_int_eq(ucwa_conv_find_locked(st, apr_pstrcat(pool, id, "0", NULL)), -1);
    id[31] = id[31] == '0' ? '1' : '0';
    ck_assert_int_eq(ucwa_conv_find_locked(st, id), -1);
    id[31] = cv->id[31];
    ck_assert_int_eq(ucwa_conv_find_locked(st, id), c);
    {
        char *upper = apr_pstrdup(pool, id), *u;
        for (u = upper; *u; u++) *u = (char)apr_toupper(*u);
        ck_assert_int_eq(ucwa_conv_find_locked(st, upper), -1);   /* the ids have digits a-f */
    }
    ck_assert_int_eq(ucwa_conv_find_locked(st, "ffffffff000000000000000000000000"), -1);
    ck_assert_int_eq(ucwa_conv_find_locked(st, "00000014000000000000000000000000"), -1);
    ck_assert_str_ne(cv->party[0].invitation, cv->party[1].invitation);
    ck_assert_uint_eq(strlen(cv->thread_id), 32);
    (void)bob;
}
END_TEST

START_TEST(two_endpoints_first_accept_wins)
{
    int alice = messaging_app("alice@contoso.test", "Alice Anderson");
    int phone = messaging_app("bob@contoso.test", "Bob Brown");
    int lurker = app("bob@contoso.test", "Bob Brown", 0);
    int tablet = messaging_app("bob@contoso.test", "Bob Brown");
    const char *first = "data:text/plain;charset=utf-8,Hi+Bob%0d%0a";
    int c = invite(alice, "bob@contoso.test", first, UCWA_CONV_OK);
    ucwa_conv *cv = ucwa_store_conv(st, c);
    apr_uint32_t gen_phone = ucwa_store_app(st, phone)->gen;
    apr_uint32_t number = 0;
    ucwa_conv_view v;

    ck_assert_uint_eq(cv->endpoints, 2);
    ck_assert_str_eq(events(alice), SENDER_STARTED);
    ck_assert_str_eq(field(0, "_embedded.messagingInvitation.direction"), "Outgoing");
    ck_assert_str_eq(field(0, "_embedded.messagingInvitation.subject"), "Task \"Sample\"");
    ck_assert_str_eq(field(0, "_embedded.messagingInvitation._links.message.href"), first);
    ck_assert_str_eq(field(1, "_embedded.conversation.state"), "Connecting");
    ck_assert_str_eq(events(phone), INCOMING);
    ck_assert_str_eq(field(0, "_embedded.messagingInvitation.direction"), "Incoming");
    ck_assert_ptr_nonnull(field(0, "_embedded.messagingInvitation._links.accept.href"));
    ck_assert_str_eq(field(0, "_embedded.messagingInvitation._embedded.from.name"),
                     "Alice Anderson");
    ck_assert_ptr_null(field(0, "_embedded.messagingInvitation.operationId"));
    ck_assert_str_eq(field(1, "_embedded.conversation.state"), "Incoming");
    ck_assert_str_eq(field(3, "link.title"), "Alice Anderson");
    ck_assert_str_eq(events(tablet), INCOMING);
    ck_assert_str_eq(events(lurker), "");
    ck_assert_int_eq(ucwa_conv_side(cv, phone, gen_phone), 1);
    ck_assert_int_eq(ucwa_conv_side(cv, lurker, ucwa_store_app(st, lurker)->gen), -1);
    /* messages and typing wait for Connected */
    memset(&t, 0, sizeof(t));
    ck_assert_int_eq(ucwa_conv_message_locked(st, c, 0, UCWA_MSG_PLAIN, "x", 1, NULL, NULL, now, pool,
                                       &number, &t), UCWA_CONV_STATE);
    ck_assert_int_eq(ucwa_conv_typing_locked(st, c, 0, now, pool, &t), UCWA_CONV_STATE);
    ck_assert_int_eq(ucwa_conv_leave_locked(st, c, 0, now, pool, &t), UCWA_CONV_STATE);

    ck_assert_int_eq(ucwa_conv_accept_locked(st, c, tablet, now, pool, &t), UCWA_CONV_OK);
    ck_assert_int_eq(t.n, 3);
    ck_assert_str_eq(events(tablet), ACCEPTER " conv/message/completed");
    ck_assert_ptr_null(field(0, "_embedded.messagingInvitation._links.accept"));
    ck_assert_str_eq(field(1, "_embedded.messaging.state"), "Connected");
    ck_assert_str_eq(field(2, "_embedded.conversation.state"), "Connected");
    ck_assert_str_eq(field(3, "in.rel"), "localParticipant");
    ck_assert_str_eq(field(4, "in.rel"), "participant");
    ck_assert_str_eq(field(6, "status"), "Success");
    ck_assert_str_eq(field(7, "_embedded.message.direction"), "Incoming");
    ck_assert_str_eq(field(7, "_embedded.message._links.plainMessage.href"), first);
    ck_assert(strstr(field(7, "link.href"), "/messaging/messages/1") != NULL);
    ck_assert_str_eq(events(alice), SENDER_CONNECTED " conv/message/completed");
    ck_assert_str_eq(field(1, "link.title"), "Bob Brown");
    ck_assert_str_eq(field(5, "_embedded.messagingInvitation.state"), "Connected");
    ck_assert_str_eq(field(5, "_embedded.messagingInvitation.operationId"), "op-1");
    ck_assert_str_eq(field(5, "_embedded.messagingInvitation._embedded.acceptedByParticipant.0.uri"),
                     "sip:bob@contoso.test");
    ck_assert_str_eq(field(6, "_embedded.message.direction"), "Outgoing");
    ck_assert_str_eq(field(6, "_embedded.message.operationId"), "op-1");
    ck_assert_str_eq(events(phone), CLOSED);
    ck_assert_str_eq(field(0, "status"), "Failure");
    ck_assert_str_eq(field(0, "reason.code"), "Informational");
    ck_assert_str_eq(field(0, "reason.subcode"), "ConnectedElsewhere");
    ck_assert_str_eq(field(0, "_embedded.messagingInvitation.state"), "Cancelled");
    /* the phone is out, but still reads its invitation; a late accept finds it closed */
    ck_assert_int_eq(ucwa_conv_side(cv, phone, gen_phone), -1);
    ck_assert(ucwa_conv_sees_invitation(cv, 1, phone, gen_phone));
    ck_assert_int_eq(ucwa_conv_accept_locked(st, c, phone, now, pool, &t), UCWA_CONV_STATE);
    ck_assert_int_eq(ucwa_conv_decline_locked(st, c, now, pool, &t), UCWA_CONV_STATE);
    ck_assert_int_eq(ucwa_conv_cancel_locked(st, c, now, pool, &t), UCWA_CONV_STATE);
    ucwa_conv_view_of_locked(st, cv, 1, phone, &v);
    ck_assert_str_eq(json_string_value(json_object_get(ucwa_conv_res_invitation(pool, &v),
                                                       "state")), "Cancelled");

    /* typing, then a message, which ends the typing */
    memset(&t, 0, sizeof(t));
    ck_assert_int_eq(ucwa_conv_typing_locked(st, c, 1, now, pool, &t), UCWA_CONV_OK);
    ck_assert_int_eq(ucwa_conv_typing_locked(st, c, 1, now, pool, &t), UCWA_CONV_OK);
    ck_assert_str_eq(events(alice), "conv/participant/added");
    ck_assert_str_eq(field(0, "in.rel"), "typingParticipants");
    ucwa_conv_view_of_locked(st, cv, 0, alice, &v);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(ucwa_conv_res_typing(pool, &v, now),
                                                          "_links"), "participant"));
    ck_assert_int_eq(ucwa_conv_message_locked(st, c, 1, UCWA_MSG_PLAIN, "Hi Alice\r\n", 10,
                                              ucwa_message_data_uri(pool, UCWA_MSG_PLAIN,
                                                                    "Hi Alice\r\n", 10),
                                              "op-2", now, pool, &number, &t), UCWA_CONV_OK);
    ck_assert_uint_eq(number, 2);
    ck_assert_str_eq(events(tablet), "conv/message/completed");
    ck_assert_str_eq(field(0, "_embedded.message.direction"), "Outgoing");
    ck_assert_str_eq(field(0, "_embedded.message.operationId"), "op-2");
    ck_assert_ptr_null(field(0, "_embedded.message._links.plainMessage.href"));
    ck_assert_str_eq(events(alice), "conv/participant/deleted conv/message/completed");
    ck_assert_str_eq(field(1, "_embedded.message._links.plainMessage.href"),
                     "data:text/plain;charset=utf-8,Hi+Alice%0d%0a");
    ck_assert_str_eq(field(1, "_embedded.message.timeStamp"), "/Date(1700000000000)/");
    ck_assert_str_eq(events(phone), "");
    /* typing that stops by itself, on the tick after UCWA_CONV_TYPING */
    ck_assert_int_eq(ucwa_conv_typing_locked(st, c, 0, now, pool, &t), UCWA_CONV_OK);
    ck_assert_str_eq(events(tablet), "conv/participant/added");
    ucwa_conv_tick_locked(st, c, now + UCWA_CONV_TYPING - 1, pool, &t);
    ck_assert_str_eq(events(tablet), "");
    ucwa_conv_tick_locked(st, c, now + UCWA_CONV_TYPING, pool, &t);
    ck_assert_str_eq(events(tablet), "conv/participant/deleted");
    /* alice leaves while she is typing: bob sees her indicator end, then her leave */
    ck_assert_int_eq(ucwa_conv_typing_locked(st, c, 0, now, pool, &t), UCWA_CONV_OK);
    events(tablet);
    ck_assert_int_eq(ucwa_conv_leave_locked(st, c, 0, now, pool, &t), UCWA_CONV_OK);
    ck_assert_str_eq(events(alice), LEFT);
    ck_assert_str_eq(field(0, "_embedded.messaging.state"), "Disconnected");
    ck_assert_str_eq(events(tablet), "conv/participant/deleted " OTHER_LEFT);
    ck_assert_str_eq(field(0, "in.rel"), "typingParticipants");
    ck_assert_ptr_null(field(1, "in.rel"));
    ck_assert_int_eq(ucwa_conv_message_locked(st, c, 1, UCWA_MSG_PLAIN, "x", 1, NULL, NULL, now, pool,
                                       &number, &t), UCWA_CONV_STATE);
    ck_assert_int_eq(ucwa_conv_side(cv, tablet, ucwa_store_app(st, tablet)->gen), -1);
}
END_TEST

START_TEST(decline_cancel_timeout)
{
    int alice = messaging_app("alice@contoso.test", "Alice");
    int phone = messaging_app("bob@contoso.test", "Bob");
    int tablet = messaging_app("bob@contoso.test", "Bob");
    static const struct { const char *sub0, *code0, *sub1, *state1; } want[] = {
        { "Declined", "RemoteFailure", "Declined", "Declined" },
        { "Canceled", "LocalFailure", "Missed", "Cancelled" },
        { "Timeout", "RemoteFailure", "Missed", "Failed" },
    };
    int k, c;

    for (k = 0; k < 3; k++) {
        c = invite(alice, "bob@contoso.test", NULL, UCWA_CONV_OK);
        events(alice);
        events(phone);
        events(tablet);
        memset(&t, 0, sizeof(t));
        if (k == 0) {
            ck_assert_int_eq(ucwa_conv_decline_locked(st, c, now, pool, &t), UCWA_CONV_OK);
        }
        else if (k == 1) {
            ck_assert_int_eq(ucwa_conv_cancel_locked(st, c, now, pool, &t), UCWA_CONV_OK);
        }
        else {
            ucwa_conv_tick_locked(st, c, now + apr_time_from_sec(30) - 1, pool, &t);
            ck_assert_int_eq(t.n, 0);
            ucwa_conv_tick_locked(st, c, now + apr_time_from_sec(30), pool, &t);
        }
        ck_assert_int_eq(t.n, 3);
        ck_assert_str_eq(events(alice), FAILED);
        ck_assert_str_eq(field(1, "reason.subcode"), want[k].sub0);
        ck_assert_str_eq(field(1, "reason.code"), want[k].code0);
        ck_assert_str_eq(events(phone), CLOSED);
        ck_assert_str_eq(field(0, "reason.code"), "Informational");
        ck_assert_str_eq(field(0, "reason.subcode"), want[k].sub1);
        ck_assert_str_eq(field(0, "_embedded.messagingInvitation.state"), want[k].state1);
        ck_assert_str_eq(events(tablet), CLOSED);
        ck_assert_int_eq(ucwa_conv_accept_locked(st, c, phone, now, pool, &t), UCWA_CONV_STATE);
        /* the log it owes bob: none for a decline (he answered), Missed otherwise */
        ck_assert_uint_eq(ucwa_store_conv(st, c)->logs, k == 0 ? 0 : UCWA_CONV_LOG_MISSED);
    }
    /* accepted: an Archived log for both, and nothing missed when it ends */
    c = invite(alice, "bob@contoso.test", NULL, UCWA_CONV_OK);
    ck_assert_uint_eq(ucwa_store_conv(st, c)->logs, 0);
    ck_assert_int_eq(ucwa_conv_accept_locked(st, c, tablet, now, pool, &t), UCWA_CONV_OK);
    ck_assert_uint_eq(ucwa_store_conv(st, c)->logs, UCWA_CONV_LOG_ARCHIVED);
    ucwa_store_conv(st, c)->logs = 0;   /* taken (mod_ucwa/ucwa_conversation_logs) */
    ck_assert_int_eq(ucwa_conv_leave_locked(st, c, 0, now, pool, &t), UCWA_CONV_OK);
    ck_assert_uint_eq(ucwa_store_conv(st, c)->logs, 0);
}
END_TEST

START_TEST(applications_that_go)
{
    int alice = messaging_app("alice@contoso.test", "Alice");
    int bob = messaging_app("bob@contoso.test", "Bob");
    int c, i, n = (int)ucwa_store_get_limits(st)->max_convs;

#define GONE(a) do { memset(&t, 0, sizeof(t)); \
                     for (i = 0; i < n; i++) ucwa_conv_app_gone_locked(st, i, (a), now, pool, &t); \
                } while (0)
    /* the inviter goes while inviting: bob missed it */
    c = invite(alice, "bob@contoso.test", NULL, UCWA_CONV_OK);
    events(bob);
    GONE(alice);
    ucwa_store_delete_locked(st, alice);
    ck_assert_str_eq(events(bob), CLOSED);
    ck_assert_str_eq(field(0, "reason.subcode"), "Missed");
    ck_assert_int_eq(t.n, 1);
    /* the only endpoint goes while invited: the inviter learns at once */
    alice = messaging_app("alice@contoso.test", "Alice");
    c = invite(alice, "bob@contoso.test", NULL, UCWA_CONV_OK);
    events(alice);
    GONE(bob);
    ucwa_store_delete_locked(st, bob);
    ck_assert_str_eq(events(alice), FAILED);
    ck_assert_str_eq(field(1, "reason.subcode"), "Unreachable");
    /* connected, then either side goes: the other sees it leave */
    bob = messaging_app("bob@contoso.test", "Bob");
    c = invite(alice, "bob@contoso.test", NULL, UCWA_CONV_OK);
    ck_assert_int_eq(ucwa_conv_accept_locked(st, c, bob, now, pool, &t), UCWA_CONV_OK);
    events(alice);
    events(bob);
    GONE(bob);
    ucwa_store_delete_locked(st, bob);
    ck_assert_str_eq(events(alice), OTHER_LEFT);
    bob = messaging_app("bob@contoso.test", "Bob");
    c = invite(alice, "bob@contoso.test", NULL, UCWA_CONV_OK);
    ck_assert_int_eq(ucwa_conv_accept_locked(st, c, bob, now, pool, &t), UCWA_CONV_OK);
    events(alice);
    events(bob);
    GONE(alice);
    ucwa_store_expire_locked(st, alice);
    ck_assert_str_eq(events(bob), OTHER_LEFT);
#undef GONE
}
END_TEST

START_TEST(limits)
{
    int alice = messaging_app("alice@contoso.test", "Alice");
    int carol = messaging_app("carol@contoso.test", "Carol");
    int bob = messaging_app("bob@contoso.test", "Bob");
    int k, c, first = -1;

    (void)bob;
    for (k = 0; k < UCWA_CONV_PER_APP; k++) {
        c = invite(alice, "bob@contoso.test", NULL, UCWA_CONV_OK);
        if (first < 0) first = c;
    }
    invite(alice, "bob@contoso.test", NULL, UCWA_CONV_TOO_MANY);
    /* failed invitations do not count */
    invite(carol, "nobody@contoso.test", NULL, UCWA_CONV_OK);
    for (k = 0; k < 3; k++) {
        invite(carol, "bob@contoso.test", NULL, UCWA_CONV_OK);
    }
    /* 20 records: 19 live, one ended, which is taken back */
    c = invite(carol, "bob@contoso.test", NULL, UCWA_CONV_OK);
    invite(carol, "bob@contoso.test", NULL, UCWA_CONV_FULL);
    memset(&t, 0, sizeof(t));
    ck_assert_int_eq(ucwa_conv_cancel_locked(st, first, now, pool, &t), UCWA_CONV_OK);
    c = invite(carol, "bob@contoso.test", NULL, UCWA_CONV_OK);
    ck_assert_int_eq(c, first);
    ck_assert_int_eq(ucwa_conv_count_locked(st, alice, ucwa_store_app(st, alice)->gen),
                     UCWA_CONV_PER_APP - 1);
    /* the accepter's limit */
    for (k = 0; k < 20; k++) {
        ucwa_conv *cv = ucwa_store_conv(st, k);
        if (cv->phase == UCWA_CONV_INVITING) {
            ucwa_conv_result r = ucwa_conv_accept_locked(st, k, bob, now, pool, &t);
            ck_assert(r == UCWA_CONV_OK || r == UCWA_CONV_TOO_MANY);
        }
    }
    ck_assert_int_eq(ucwa_conv_count_locked(st, bob, ucwa_store_app(st, bob)->gen), UCWA_CONV_PER_APP);
}
END_TEST

START_TEST(what_does_not_fit_is_refused_whole)
{
    int alice, bob, c;
    apr_uint32_t number = 0;
    char *big = unit_repeat("a", 1500);

    make_store(2048, 4);
    alice = messaging_app("alice@contoso.test", "Alice");
    bob = messaging_app("bob@contoso.test", "Bob");
    invite(alice, apr_pstrcat(pool, "bob@contoso.test", NULL),
           apr_pstrcat(pool, "data:text/plain;charset=utf-8,", big, NULL), UCWA_CONV_TOO_LARGE);
    invite(alice, "bob@contoso.test",
           apr_pstrcat(pool, "data:,", unit_repeat("a", UCWA_CONV_FIRST_MAX), NULL),
           UCWA_CONV_TOO_LARGE);
    ck_assert_str_eq(events(alice), "");
    ck_assert_str_eq(events(bob), "");
    c = invite(alice, "bob@contoso.test", NULL, UCWA_CONV_OK);
    memset(&t, 0, sizeof(t));
    ck_assert_int_eq(ucwa_conv_accept_locked(st, c, bob, now, pool, &t), UCWA_CONV_OK);
    events(alice);
    events(bob);
    ck_assert_int_eq(ucwa_conv_message_locked(st, c, 0, UCWA_MSG_PLAIN, big, 1500, NULL, NULL, now, pool,
                                       &number, &t), UCWA_CONV_TOO_LARGE);
    ck_assert_str_eq(events(alice), "");
    ck_assert_str_eq(events(bob), "");
    ck_assert_int_eq(ucwa_conv_message_locked(st, c, 0, UCWA_MSG_PLAIN, big, 500, NULL, NULL, now, pool,
                                       &number, &t), UCWA_CONV_OK);
    ck_assert_uint_eq(number, 1);
    ck_assert_str_eq(events(bob), "conv/message/completed");
}
END_TEST

START_TEST(resources)
{
    int alice = messaging_app("alice@contoso.test", "Alice");
    int bob = messaging_app("bob@contoso.test", "Bob");
    int c = invite(alice, "bob@contoso.test", NULL, UCWA_CONV_OK);
    ucwa_conv *cv = ucwa_store_conv(st, c);
    ucwa_conv_view va, vb;
    json_t *j;

    ucwa_conv_view_of_locked(st, cv, 0, alice, &va);
    ucwa_conv_view_of_locked(st, cv, 1, bob, &vb);
    ck_assert_int_eq(ucwa_conv_participant_of(&va, "ALICE@contoso.test"), 1);
    ck_assert_int_eq(ucwa_conv_participant_of(&va, "bob@contoso.test"), -1);   /* not yet in */
    ck_assert_int_eq(ucwa_conv_participant_of(&vb, "alice@contoso.test"), 0);
    j = ucwa_conv_res_participants(pool, &va);
    ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(j, "_links"),
                                                      "participant")), 1);
    j = ucwa_conv_res_messaging(pool, &va);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "Connecting");
    ck_assert_ptr_null(json_object_get(json_object_get(j, "_links"), "sendMessage"));
    memset(&t, 0, sizeof(t));
    ck_assert_int_eq(ucwa_conv_accept_locked(st, c, bob, now, pool, &t), UCWA_CONV_OK);
    ck_assert_int_eq(ucwa_conv_participant_of(&va, "bob@contoso.test"), 0);
    j = ucwa_conv_res_conversation(pool, &va);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "Connected");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(
        j, "_links"), "localParticipant"), "title")), "Alice");
    j = ucwa_conv_res_participant(pool, &va, 0);
    ck_assert_str_eq(json_string_value(json_object_get(j, "uri")), "sip:bob@contoso.test");
    ck_assert_ptr_nonnull(json_object_get(json_object_get(j, "_links"), "contactPresence"));
    j = ucwa_conv_res_participant_messaging(pool, &vb, 1);
    ck_assert_str_eq(json_string_value(json_object_get(j, "rel")), "participantMessaging");
    j = ucwa_conv_res_messaging(pool, &vb);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(j, "_links"), "sendMessage"));
    ck_assert_str_eq(ucwa_conv_date(pool, apr_time_from_msec(1383784870271)),
                     "/Date(1383784870271)/");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_conv");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, offline_unknown_and_unavailable_fail_at_once);
    tcase_add_test(tc, ids);
    tcase_add_test(tc, two_endpoints_first_accept_wins);
    tcase_add_test(tc, decline_cancel_timeout);
    tcase_add_test(tc, applications_that_go);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, what_does_not_fit_is_refused_whole);
    tcase_add_test(tc, resources);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_conv", s);
}
