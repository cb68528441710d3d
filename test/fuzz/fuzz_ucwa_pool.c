/* ucwa_pool: a pool of two Front Ends (fe1, fe2), each with its own session store, and
 * the pool between them as test/fuzz/pool_model.h plays it (the pool's SQL and thread).
 * The first byte picks the limits; the rest is a sequence of operations, each an opcode
 * byte (mod 18) and three argument bytes (missing bytes read as 0); a1 & 1 is the Front
 * End an operation is done on:
 *
 *   0 sign in       a user (four addresses) on a Front End: a lurker, available for
 *                   Messaging or for PhoneAudio only, either with Audio and Video or not
 *                   (announced to the pool)
 *   1 sign out      an application slot: its conversations end (app_gone), then delete
 *   2 invite        from a live available slot to a user (or an unknown address), alerted
 *                   here and on the Front Ends the pool lists (none while this one is out
 *                   of the pool), with no first message, a short or a long one; or a call,
 *                   its offer written to the pool's table as the request does (or a key
 *                   the table does not have: the description lost)
 *   3 accept / 4 decline   a record, by an application slot (a claim when pooled); a
 *                   call's accept is an answer, or a provisional one, its key written
 *                   first when the caller is on the other Front End
 *   5 cancel        a record
 *   6 leave / 7 message / 8 typing   a record, a side; typing in a call is a
 *                   renegotiation, or the answer to (or dismissal of) the open one
 *   9 time          the clock moves on (0, 1, 5, 30, 61 s) and every record of both ticks
 *  10 ship          a Front End's dirty users and outbox (claims arbitrated, verdicts)
 *  11 deliver       1, 2, 4 or every message waiting for a Front End
 *  12 fe gone       its lease runs out (out of the pool, requests still served), or it
 *                   restarts empty, or it joins again with its store (partitioned)
 *  13 presence      a user sets a note here (newest wins in the pool)
 *  14 subscribe     an application watches a user
 *  15 raw           a2 | a3 << 8 bytes of the input applied as a message on a Front End
 *  16 forged        a message of a known kind naming real records (ids of either store,
 *                   fe1, fe2 or a stranger fe3) with members of the right types
 *  17 settle        ship and deliver until nothing moves
 *
 * Invariants, after every operation: ucwa_conv_check_locked() and ucwa_store_check_locked()
 * find both stores consistent; the outbox never holds more than UCWA_POOL_OUTBOX; the
 * store counts every message applied once (area->applied), and every shipment once
 * (area->shipped); a message is delivered once, in the order of its Front End's
 * sequence; no raw or forged message crashes anything or leaks a sanitizer report.
 * Whenever the pool is settled with both Front Ends in it (and no forged or raw message
 * was applied, and the outbox was never full: news dropped then is a documented loss), a
 * conversation between the two is CONNECTED on one side iff it is on the other, and each
 * side's record names the other's, and a call's offer is the same bytes on both. */
#include <apr_strings.h>
#include <jansson.h>

#include "fuzz_util.h"
#include "mob_json.h"
#include "ucwa_av.h"
#include "ucwa_conv.h"
#include "ucwa_subs.h"
#include "pool_model.h"

static const ucwa_store_limits configs[] = {
    /* max_apps, ring_len, event_size, max_users, max_subs, max_convs, max_push, max_calls */
    { 6, 64, 4096, 6, 2, 6, 0, 3 },
    { 4, 16, 2048, 4, 1, 3, 0, 1 },
    { 8, 32, 1536, 8, 2, 8, 0, 2 },   /* long first messages do not fit */
};

static const char *const users[5] = {
    "alice@contoso.test", "bob@contoso.test", "carol@contoso.test", "dave@contoso.test",
    "ghost@contoso.test",
};

static const char *const kinds[] = {
    "presence", "invite", "gone", "accepted", "elsewhere", "declined", "canceled", "message",
    "typing", "left", "fe-gone", "provisional", "reneg", "reneg-answer", "bogus",
    "msg-add", "msg-accept", "msg-off", "av-off",
};

#define SDP_OFFER "v=0\r\nm=audio 9 RTP/AVP 0\r\na=x:offer\r\n"
#define SDP_ANSWER "v=0\r\nm=audio 9 RTP/AVP 0\r\na=x:answer\r\n"

/* A description given on record c of s, its key written first when the other side is on
 * the other Front End (as mod_ucwa/ucwa_calls does). */
static void give(pm_model *m, ucwa_store *s, const ucwa_conv *c, ucwa_sdp_kind kind,
                 const char *text)
{
    ucwa_av_pool_key_locked(s, c, kind, c->peer_fe[0] ? pm_sdp_put(m, "application/sdp", text,
                                                                   strlen(text))
                                                      : NULL);
}

typedef struct {
    pm_model m;
    apr_time_t now;
    int endpoint;
    int forged;        /* a raw or forged message was applied: the pool is not its own */
    int lossy;         /* an outbox was full once: news may have been dropped */
} world;

static void invariants(world *w, apr_pool_t *p)
{
    int i;

    for (i = 0; i < PM_FES; i++) {
        ucwa_store *s = w->m.s[i];
        ucwa_pool_area *a = ucwa_store_pool_area(s);
        ucwa_conv_stats cs;
        ucwa_store_stats ss;
        apr_uint32_t k;
        FUZZ_CHECK(ucwa_conv_check_locked(s, &cs, p) == NULL);
        FUZZ_CHECK(ucwa_store_check_locked(s, &ss, p) == NULL);
        for (k = ucwa_conv_used_locked(s); k < w->m.limits.max_convs; k++) {
            FUZZ_CHECK(ucwa_store_conv(s, (int)k)->state != UCWA_SLOT_LIVE);
        }
        FUZZ_CHECK(a->out_head - a->out_tail <= UCWA_POOL_OUTBOX);
        FUZZ_CHECK(ucwa_pool_room_locked(s) >= 0);
        FUZZ_CHECK(a->applied == w->m.applied[i]);
        FUZZ_CHECK(a->shipped == w->m.shipped[i]);
        FUZZ_CHECK(a->on && !strcmp(ucwa_pool_fe(s), w->m.name[i]));
        if (ucwa_pool_room_locked(s) == 0) {
            w->lossy = 1;
        }
    }
}

/* Settled, both in the pool: the two sides of every conversation agree. */
static void paired(world *w)
{
    int i;

    if (w->forged || w->lossy || !w->m.alive[0] || !w->m.alive[1]) {
        return;
    }
    for (i = 0; i < PM_FES; i++) {
        ucwa_store *s = w->m.s[i], *o = w->m.s[1 - i];
        apr_uint32_t k;
        for (k = 0; k < ucwa_conv_used_locked(s); k++) {
            ucwa_conv *c = ucwa_store_conv(s, (int)k), *peer;
            int j;
            if (c->state != UCWA_SLOT_LIVE || c->phase != UCWA_CONV_CONNECTED || !c->peer_fe[0]) {
                continue;
            }
            FUZZ_CHECK(pm_index(&w->m, c->peer_fe) == 1 - i);
            j = ucwa_conv_find_locked(o, c->peer_id);
            FUZZ_CHECK(j >= 0);
            peer = ucwa_store_conv(o, j);
            FUZZ_CHECK(peer->phase == UCWA_CONV_CONNECTED);
            FUZZ_CHECK(!strcmp(peer->peer_fe, w->m.name[i]) && !strcmp(peer->peer_id, c->id));
            FUZZ_CHECK(peer->mirror != c->mirror);
            FUZZ_CHECK(peer->kind == c->kind);
            if (c->kind == UCWA_CONV_KIND_AV) {
                ucwa_call *k = ucwa_av_call_of_locked(s, c), *pk = ucwa_av_call_of_locked(o, peer);
                FUZZ_CHECK(k && pk && k->len[UCWA_SDP_OFFER] == pk->len[UCWA_SDP_OFFER]);
                FUZZ_CHECK(!memcmp(ucwa_store_call_blob(s, (int)c->call - 1, UCWA_SDP_OFFER),
                                   ucwa_store_call_blob(o, (int)peer->call - 1, UCWA_SDP_OFFER),
                                   k->len[UCWA_SDP_OFFER]));
            }
        }
    }
}

static void settle(world *w, apr_pool_t *p)
{
    if (pm_settle(&w->m, 12, w->now, p)) {
        invariants(w, p);
        paired(w);
    }
}

static const char *text_of(apr_pool_t *p, unsigned which, apr_size_t *len)
{
    switch (which % 3) {
    case 0: *len = 0; return NULL;
    case 1: *len = 9; return "Hi Tosh\r\n";
    default: *len = 1200; return memset(apr_palloc(p, 1200), 'x', 1200);
    }
}

/* A conversation id of either store (a record's own or its peer's), or "". */
static const char *some_id(world *w, unsigned a)
{
    ucwa_store *s = w->m.s[a & 1];
    ucwa_conv *c = ucwa_store_conv(s, (int)((a >> 2) % w->m.limits.max_convs));

    return (a & 2) ? c->peer_id : c->id;
}

static void forged(world *w, unsigned a1, unsigned a2, unsigned a3, apr_pool_t *p)
{
    static const char *const fes[] = { "fe1", "fe2", "fe3" };
    json_t *m = json_pack("{s:s,s:s,s:s}", "k", kinds[a2 % (sizeof(kinds) / sizeof(kinds[0]))],
                          "fe", fes[(a2 >> 4) % 3], "conv", some_id(w, a3));
    const char *body;

    json_object_set_new(m, "to", json_string(users[a3 % 5]));
    json_object_set_new(m, "from", json_string(a1 & 2 ? fes[(a1 >> 2) % 3] : users[(a1 >> 2) % 5]));
    json_object_set_new(m, "by", json_string(a1 & 2 ? fes[(a1 >> 2) % 3] : users[(a1 >> 2) % 5]));
    json_object_set_new(m, "peer", json_string(some_id(w, a3 >> 1)));
    json_object_set_new(m, "sip", json_string(users[a1 % 5]));
    json_object_set_new(m, "avail", json_integer((json_int_t)(a3 % 3)));
    json_object_set_new(m, "av", json_string(a3 & 8 ? "Busy" : "Online"));
    json_object_set_new(m, "changed", json_integer((json_int_t)w->now));
    json_object_set_new(m, "uri", json_string(a3 & 16 ? "data:text/plain,hi" : "data:,"));
    json_object_set_new(m, "expires", json_integer((json_int_t)(w->now + apr_time_from_sec(30))));
    if (a3 & 32) {
        /* a call's message: a description the table has (or not), a renegotiation number */
        json_object_set_new(m, "av", json_integer(1));
        json_object_set_new(m, "sdp", json_string(a3 & 64 ? pm_sdp_put(&w->m, "application/sdp",
                                                                       SDP_OFFER,
                                                                       strlen(SDP_OFFER))
                                                          : "0123456789abcdef0123456789abcdef"));
        json_object_set_new(m, "n", json_integer((json_int_t)(a3 >> 7)));
    }
    body = mob_json_dump(p, m, NULL);
    json_decref(m);
    if (pm_apply(&w->m, (int)(a1 & 1), body, strlen(body), w->now, p) == 0) {
        w->forged = 1;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_apr_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_reader r = { data, data + size };
    world *w;
    const ucwa_store_limits *l;
    int ops = 0;

    if (size == 0) {
        apr_pool_destroy(p);
        return 0;
    }
    w = apr_pcalloc(p, sizeof(*w));
    l = &configs[fuzz_next(&r) % (sizeof(configs) / sizeof(configs[0]))];
    pm_init(&w->m, p, l);
    w->now = apr_time_from_sec(1700000000);
    while (r.p < r.end && ops++ < 300) {
        unsigned op = fuzz_next(&r) % 18, a1 = fuzz_next(&r), a2 = fuzz_next(&r);
        unsigned a3 = fuzz_next(&r);
        int fe = (int)(a1 & 1);
        ucwa_store *s = w->m.s[fe];
        int app = (int)((a1 >> 1) % l->max_apps), conv = (int)((a1 >> 1) % l->max_convs);
        int side = (int)(a2 % 2);
        ucwa_conv *c = ucwa_store_conv(s, conv);
        ucwa_conv_touched t;
        apr_pool_t *it;

        apr_pool_create(&it, p);
        t.n = 0;
        switch (op) {
        case 0: {
            ucwa_app_params in;
            int idx = -1;
            memset(&in, 0, sizeof(in));
            in.user = users[a2 % 4];
            in.endpoint_id = apr_psprintf(it, "ep%d", w->endpoint++);
            in.user_agent = "fuzz";
            in.culture = "en-US";
            in.instance_id = "";
            in.prefix = "/ucwa/oauth/v1/applications";
            in.policy_tag = "";
            in.name = a3 & 4 ? "A \"Name\"" : "";
            if (ucwa_store_create_locked(s, &in, w->now, &idx) == UCWA_CREATE_NEW
                && (a3 & 3) % 3) {
                ucwa_app *a = ucwa_store_app(s, idx);
                ucwa_user *u = ucwa_store_user(s, (int)a->user);
                a->available = 1;
                a->modalities = (a3 & 3) % 3 == 1 ? UCWA_MOD_MESSAGING : UCWA_MOD_PHONE;
                if (a3 & 32) {
                    a->modalities |= UCWA_MOD_AUDIO | UCWA_MOD_VIDEO;
                }
                a->html = (a3 >> 3) & 1;
                u->available_apps++;
                u->last_activity = w->now;
                ucwa_pool_user_changed_locked(s, (int)a->user, w->now);
            }
            break;
        }
        case 1: {
            apr_uint32_t i;
            if (ucwa_store_app(s, app)->state != UCWA_SLOT_LIVE) {
                break;
            }
            for (i = 0; i < l->max_convs; i++) {
                ucwa_conv_app_gone_locked(s, (int)i, app, w->now, it, &t);
            }
            ucwa_subs_app_gone_locked(s, app);
            ucwa_store_delete_locked(s, app);
            break;
        }
        case 2: {
            ucwa_app *a = ucwa_store_app(s, app);
            ucwa_conv_invite_in in;
            const char *fes[PM_FES];
            apr_size_t len;
            const char *txt = text_of(it, a3, &len);
            const char *to = users[a2 % 5];
            ucwa_conv_result res;
            int idx = -1;
            if (a->state != UCWA_SLOT_LIVE || !a->available
                || !strcmp(ucwa_store_user(s, (int)a->user)->sip, to)) {
                break;
            }
            memset(&in, 0, sizeof(in));
            in.app = app;
            in.to = to;
            in.first_format = (ucwa_msg_format)((a3 >> 4) & 1);
            in.first = txt ? ucwa_message_data_uri(it, in.first_format, txt, len) : NULL;
            in.expires = w->now + apr_time_from_sec(30);
            in.nremote = w->m.alive[fe] ? pm_user_fes(&w->m, fe, to, fes) : 0;
            in.remote_fes = fes;
            if (a3 & 64) {
                in.kind = UCWA_CONV_KIND_AV;
                in.first = NULL;
                in.session_context = "ctx";
                in.offer_type = "application/sdp";
                in.offer = SDP_OFFER;
                in.offer_len = strlen(SDP_OFFER);
                in.offer_key = !in.nremote ? NULL
                               : a3 & 128 ? "0123456789abcdef0123456789abcdef"
                               : pm_sdp_put(&w->m, in.offer_type, in.offer, in.offer_len);
            }
            res = ucwa_conv_invite_locked(s, &in, w->now, it, &idx, &t);
            if (res == UCWA_CONV_OK) {
                ucwa_conv *nc = ucwa_store_conv(s, idx);
                FUZZ_CHECK((nc->party[0].app == app
                            && nc->remote_invited == (apr_uint32_t)in.nremote)
                           || nc->phase == UCWA_CONV_ENDED);
            }
            else {
                FUZZ_CHECK(t.n == 0);
                FUZZ_CHECK(res != UCWA_CONV_BUSY || ucwa_pool_room_locked(s) < in.nremote);
            }
            break;
        }
        case 3:
        case 4: {
            int who = (int)(a2 % l->max_apps);
            apr_uint32_t before = c->phase;
            ucwa_conv_result res;
            if (c->state != UCWA_SLOT_LIVE || ucwa_store_app(s, who)->state != UCWA_SLOT_LIVE) {
                break;
            }
            if (op == 3 && (c->kind == UCWA_CONV_KIND_AV || c->av_phase == UCWA_CONV_INVITING)) {
                give(&w->m, s, c, UCWA_SDP_ANSWER, SDP_ANSWER);
                res = ucwa_conv_answer_locked(s, conv, who, (int)(a3 & 1), "application/sdp",
                                              SDP_ANSWER, strlen(SDP_ANSWER), "v6", "ctx", w->now,
                                              it, &t);
            }
            else {
                res = op == 3 ? ucwa_conv_accept_locked(s, conv, who, w->now, it, &t)
                              : ucwa_conv_decline_by_locked(s, conv, who, w->now, it, &t);
            }
            if (res == UCWA_CONV_PENDING) {
                FUZZ_CHECK(c->claiming == (apr_uint32_t)who + 1 && c->phase == before);
            }
            if (res != UCWA_CONV_OK) {
                FUZZ_CHECK(c->phase == before && t.n == 0);
            }
            break;
        }
        case 5: {
            apr_uint32_t before = c->phase;
            if (c->state != UCWA_SLOT_LIVE) {
                break;
            }
            if (ucwa_conv_cancel_locked(s, conv, w->now, it, &t) != UCWA_CONV_OK) {
                FUZZ_CHECK(c->phase == before && t.n == 0);
            }
            break;
        }
        case 6: {
            apr_uint32_t before = c->phase;
            if (c->state != UCWA_SLOT_LIVE || c->party[side].app < 0) {
                break;     /* the HTTP side leaves as its own party only */
            }
            if (ucwa_conv_leave_locked(s, conv, side, w->now, it, &t) != UCWA_CONV_OK) {
                FUZZ_CHECK(c->phase == before && t.n == 0);
            }
            break;
        }
        case 7: {
            apr_size_t len;
            const char *txt = text_of(it, a3 | 1, &len);
            apr_uint32_t n = 0, next_before = c->next_message;
            ucwa_conv_result res;
            if (c->state != UCWA_SLOT_LIVE || c->party[side].app < 0) {
                break;
            }
            res = ucwa_conv_message_locked(s, conv, side, UCWA_MSG_PLAIN, txt, len, NULL, NULL,
                                           w->now, it, &n, &t);
            if (res == UCWA_CONV_OK) {
                FUZZ_CHECK(n == next_before && c->next_message == next_before + 1);
            }
            else {
                FUZZ_CHECK(c->next_message == next_before && t.n == 0);
            }
            break;
        }
        case 8:
            if (c->state != UCWA_SLOT_LIVE || c->party[side].app < 0) {
                break;
            }
            if (c->kind != UCWA_CONV_KIND_AV && (a3 & 2)) {
                /* a call added to the IM conversation (the other side's Front End rings
                 * it), or ended */
                ucwa_conv_phase ph = ucwa_av_phase(c);
                if (ph == UCWA_CONV_INVITING || ph == UCWA_CONV_CONNECTED) {
                    ucwa_conv_stop_av_locked(s, conv, side, c->party[side].app, w->now, it,
                                             &t);
                }
                else if (ucwa_conv_add_av_locked(s, conv, side, 0, "application/sdp",
                                                 SDP_OFFER, strlen(SDP_OFFER), "ctx", "op",
                                                 !c->peer_fe[0] ? NULL
                                                 : pm_sdp_put(&w->m, "application/sdp",
                                                              SDP_OFFER, strlen(SDP_OFFER)),
                                                 w->now + apr_time_from_sec(20), w->now, it,
                                                 &t) == UCWA_CONV_OK) {
                    FUZZ_CHECK(ucwa_av_phase(c) == UCWA_CONV_INVITING
                               && ucwa_av_caller(c) == side);
                }
            }
            else if (c->kind != UCWA_CONV_KIND_AV && ucwa_av_phase(c) != UCWA_CONV_CONNECTED) {
                ucwa_conv_typing_locked(s, conv, side, w->now, it, &t);
            }
            else if (c->reneg && !c->reneg_done && (int)c->reneg - 1 != side) {
                int answer = !(a3 & 1);
                if (answer) {
                    give(&w->m, s, c, UCWA_SDP_RENEG_ANSWER, SDP_ANSWER);
                }
                ucwa_conv_reneg_answer_locked(s, conv, side, c->reneg_n,
                                              answer ? "application/sdp" : NULL,
                                              answer ? SDP_ANSWER : NULL,
                                              answer ? strlen(SDP_ANSWER) : 0, w->now, it, &t);
            }
            else {
                give(&w->m, s, c, UCWA_SDP_RENEG_OFFER, SDP_OFFER);
                ucwa_conv_renegotiate_locked(s, conv, side, "application/sdp", SDP_OFFER,
                                             strlen(SDP_OFFER), "op", w->now, it, &t);
            }
            break;
        case 9: {
            static const int steps[] = { 0, 1, 5, 30, 61 };
            apr_uint32_t i;
            int f;
            w->now += apr_time_from_sec(steps[a1 % 5]);
            for (f = 0; f < PM_FES; f++) {
                for (i = 0; i < l->max_convs; i++) {
                    t.n = 0;
                    ucwa_conv_tick_locked(w->m.s[f], (int)i, w->now, it, &t);
                }
            }
            t.n = 0;
            break;
        }
        case 10:
            pm_ship(&w->m, fe, w->now, it);
            break;
        case 11:
            pm_deliver(&w->m, fe, a2 % 4 == 3 ? 1 << 20 : 1 << (a2 % 4), w->now, it);
            break;
        case 12:
            switch (a2 % 3) {
            case 0:
                pm_gone(&w->m, fe);
                break;
            case 1:
                pm_gone(&w->m, fe);
                pm_join(&w->m, fe, 1, w->now, it);
                break;
            default:
                pm_join(&w->m, fe, 0, w->now, it);
            }
            break;
        case 13: {
            int user = ucwa_store_user_find_locked(s, users[a2 % 4], 0);
            if (user >= 0 && ucwa_store_user(s, user)->available_apps > 0) {
                apr_snprintf(ucwa_store_user(s, user)->note, UCWA_NOTE_MAX, "note %u", a3);
                ucwa_pool_user_changed_locked(s, user, w->now);
            }
            break;
        }
        case 14: {
            const char *sips[1];
            int idx;
            sips[0] = users[a2 % 4];
            if (ucwa_store_app(s, app)->state == UCWA_SLOT_LIVE) {
                ucwa_subs_subscribe_locked(s, app, sips, 1, apr_time_from_sec(600), w->now, it,
                                           NULL, &idx);
            }
            break;
        }
        case 15: {
            apr_size_t want = a2 | (a3 << 8), have = (apr_size_t)(r.end - r.p);
            apr_size_t n = want < have ? want : have;
            char *body = malloc(n ? n : 1);
            FUZZ_CHECK(body != NULL);
            memcpy(body, r.p, n);
            r.p += n;
            if (pm_apply(&w->m, fe, body, n, w->now, it) == 0) {
                w->forged = 1;
            }
            free(body);
            break;
        }
        case 16:
            forged(w, a1, a2, a3, it);
            break;
        default:
            settle(w, it);
        }
        FUZZ_CHECK(t.n >= 0 && t.n <= (int)(sizeof(t.app) / sizeof(t.app[0])));
        invariants(w, it);
        apr_pool_destroy(it);
    }
    {
        apr_pool_t *it;
        apr_pool_create(&it, p);
        settle(w, it);
        apr_pool_destroy(it);
    }
    pm_free(&w->m);
    apr_pool_destroy(p);
    return 0;
}
