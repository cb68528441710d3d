/* ucwa_conv: 1:1 instant messaging and calls in the session store, driven the way mod_ucwa
 * drives them. The first byte picks the limits; the rest is a sequence of operations, each
 * an opcode byte (mod 19) and its argument bytes (missing bytes read as 0):
 *
 *   0 sign in       a user (four addresses), as a lurker, for Messaging, for PhoneAudio
 *                   only, for Audio and Video, or for Messaging and Audio (what
 *                   makeMeAvailable records)
 *   1 sign out      an application slot: its conversations end (app_gone), then delete
 *   2 expire        the same, ending as a tombstone
 *   3 invite        from a slot (live and available, as the HTTP side requires) to a user
 *                   or an unknown address, with no first message, a short one, a long
 *                   one or one too long for an event
 *   4 accept        a record (messaging), by an application slot
 *   5 decline / 6 cancel   a record
 *   7 leave         a record, a side
 *   8 message       a record, a side, plain or HTML, short, long or too long
 *   9 typing        a record, a side
 *  10 time          the clock moves on (0, 1 s, 5 s, 30 s, 61 s) and every record ticks;
 *                   connected calls whose side polled no more are Suspended (or not)
 *  11 poll          an application: its events so far, in one final package
 *  12 call          as 3, a call (kind AV): an offer of about 300 B, 2.5 KiB (aiortc),
 *                   6 KiB (video), one over UCWA_SDP_BLOB_MAX, or a multipart one
 *  13 answer        a record, an application slot: acceptWithAnswer or
 *                   sendProvisionalAnswer (ucwa_conv_answer_locked), answers of every size
 *  14 renegotiate   a record, a side, an offer (hold, video, too large)
 *  15 reneg answer  a record, a side, the open renegotiation's number or the next one:
 *                   answer (every size) or dismiss
 *  16 stop          a record, a side: stopAudioVideo (ucwa_conv_stop_av_locked: hang up
 *                   when connected, else cancel by the caller, decline by an endpoint)
 *  17 add a call    a record, a side: addAudio / addAudioVideo on an IM conversation
 *                   (offers as for 12)
 *  18 stopMessaging a record, a side (a call going on stays, messaging added to a call's
 *                   conversation ends alone); or addMessaging on a call's conversation
 *
 * Invariants: after every operation ucwa_conv_check_locked() and ucwa_store_check_locked() find the
 * store consistent; a live conversation's inviter (and, once connected, the accepter) is
 * a live application of that generation (applications always leave before they go); an
 * application takes part in at most UCWA_CONV_PER_APP live conversations; every record's
 * alerted endpoints belong to the invited user; a transition's result agrees with the
 * state it found (OK only from the right phase, and then the phase it promises; STATE
 * changes nothing); every event posted is a JSON object with link.rel, link.href under
 * the application's base and a type, and its sender is communication or the
 * conversation (or, for a call's negotiation, the audioVideoInvitation); the resources
 * of every view render.
 * Calls: a live call conversation (until its record is freed) holds a live call record of
 * its own generation that names it back; no call record is live without its conversation
 * (so none outlives the retain time); a messaging conversation holds none; a connected
 * call has a final answer; an open renegotiation has its offer; a free call record's
 * descriptions read as zeros; every description reaches the resources (data URIs)
 * byte for byte as the transition took it (a model of what was offered and answered). */
#include <apr_strings.h>
#include <jansson.h>

#include "fuzz_util.h"
#include "ucwa_av.h"
#include "ucwa_conv.h"
#include "ucwa_event.h"
#include "ucwa_sdp.h"

static const ucwa_store_limits configs[] = {
    /* max_apps, ring_len, event_size, max_users, max_subs, max_convs, max_push, max_calls */
    { 6, 64, 4096, 6, 1, 4, 0, 3 },
    { 4, 8, 2048, 4, 1, 2, 0, 1 },
    { 6, 32, 1024, 6, 1, 6, 0, 2 },   /* most invitations do not fit, calls go link-only */
    { 3, 4, 65536, 3, 1, 1, 0, 1 },
};

static const char *const users[4] = {
    "alice@contoso.test", "bob@contoso.test", "carol@contoso.test", "dave@contoso.test",
};

static int live_app(ucwa_store *s, int app, apr_uint32_t gen)
{
    ucwa_app *a;

    if (app < 0 || (apr_uint32_t)app >= ucwa_store_max_apps(s)) {
        return 0;
    }
    a = ucwa_store_app(s, app);
    return a->state == UCWA_SLOT_LIVE && a->gen == gen;
}

static void check_events(ucwa_store *s, int idx, apr_time_t now, apr_pool_t *p)
{
    ucwa_app *a = ucwa_store_app(s, idx);
    ucwa_windows w = { 0, 0 };
    ucwa_package pkg;
    int i;

    if (a->state != UCWA_SLOT_LIVE) {
        return;
    }
    FUZZ_CHECK(ucwa_store_poll_locked(s, idx, a->pkg + 1, &w, 1, now, p, &pkg) == UCWA_POLL_READY);
    for (i = 0; i < pkg.count; i++) {
        json_error_t err;
        const ucwa_event *e = &pkg.events[i];
        json_t *ev = json_loads(ucwa_event_json(p, a->base, e), 0, &err);
        json_t *sender = json_loads(apr_pstrcat(p, "{", ucwa_event_sender_json(p, a->base, e),
                                                "}", NULL), 0, &err);
        const char *rel, *href, *srel, *shref;
        /* the slot holds data relative to the application: no base was written in it */
        FUZZ_CHECK(e->href[0] == '/' && e->sender_href[0] == '/');
        FUZZ_CHECK(!strstr(e->href, a->base) && !strstr(e->sender_href, a->base)
                   && !strstr(e->extra, a->base) && !strstr(e->link_extra, a->base));
        FUZZ_CHECK(ev && json_is_object(ev) && sender);
        rel = json_string_value(json_object_get(json_object_get(ev, "link"), "rel"));
        href = json_string_value(json_object_get(json_object_get(ev, "link"), "href"));
        srel = json_string_value(json_object_get(sender, "rel"));
        shref = json_string_value(json_object_get(sender, "href"));
        FUZZ_CHECK(rel && href && json_string_value(json_object_get(ev, "type")));
        FUZZ_CHECK(!strncmp(href, a->base, strlen(a->base)));
        FUZZ_CHECK(srel && shref && !strncmp(shref, a->base, strlen(a->base)));
        FUZZ_CHECK(!strcmp(srel, "communication") || !strcmp(srel, "conversation")
                   || !strcmp(srel, "audioVideoInvitation"));
        json_decref(ev);
        json_decref(sender);
    }
}

static void invariants(ucwa_store *s, apr_time_t now, apr_pool_t *p)
{
    ucwa_conv_stats cs;
    ucwa_store_stats ss;
    apr_uint32_t i, n = ucwa_store_get_limits(s)->max_convs, k;

    FUZZ_CHECK(ucwa_conv_check_locked(s, &cs, p) == NULL);
    FUZZ_CHECK(ucwa_store_check_locked(s, &ss, p) == NULL);
    /* ucwa_conv_check_locked reads the records in use; past them none may be live */
    for (i = ucwa_conv_used_locked(s); i < n; i++) {
        FUZZ_CHECK(ucwa_store_conv(s, (int)i)->state != UCWA_SLOT_LIVE);
    }
    for (i = 0; i < n; i++) {
        ucwa_conv *c = ucwa_store_conv(s, (int)i);
        ucwa_conv_view v;
        if (c->state != UCWA_SLOT_LIVE || c->phase == UCWA_CONV_ENDED) {
            continue;
        }
        FUZZ_CHECK(live_app(s, c->party[0].app, c->party[0].app_gen));
        if (c->phase == UCWA_CONV_CONNECTED) {
            FUZZ_CHECK(live_app(s, c->party[1].app, c->party[1].app_gen));
        }
        for (k = 0; k < c->endpoints; k++) {
            ucwa_app *a = ucwa_store_app(s, c->endpoint[k]);
            if (live_app(s, c->endpoint[k], c->endpoint_gen[k])) {
                FUZZ_CHECK(!strcmp(ucwa_store_user(s, (int)a->user)->sip, c->party[1].sip));
            }
        }
        ucwa_conv_view_of_locked(s, c, 0, c->party[0].app, &v);
        FUZZ_CHECK(ucwa_conv_res_conversation(p, &v) && ucwa_conv_res_invitation(p, &v)
                   && ucwa_conv_res_messaging(p, &v) && ucwa_conv_res_participants(p, &v)
                   && ucwa_conv_res_typing(p, &v, now));
    }
    for (i = 0; i < ucwa_store_max_apps(s); i++) {
        ucwa_app *a = ucwa_store_app(s, (int)i);
        if (a->state == UCWA_SLOT_LIVE) {
            FUZZ_CHECK(ucwa_conv_count_locked(s, (int)i, a->gen) <= UCWA_CONV_PER_APP);
        }
    }
}

/* What the harness gave each call record's transitions: the descriptions the resources
 * must carry byte for byte (NULL: none). Indexed by conversation slot, valid for gen. */
typedef struct {
    apr_uint32_t gen;
    const char *d[UCWA_SDP_KINDS];
    apr_size_t len[UCWA_SDP_KINDS];
} call_model;

#define MODEL_MAX 8

/* A session description of about size bytes, unique by tag (CRLF lines as stacks send). */
static const char *sdp_of(apr_pool_t *p, unsigned which, unsigned tag, const char **ctype,
                          apr_size_t *len)
{
    static const apr_size_t sizes[] = { 300, 2600, 6200, UCWA_SDP_BLOB_MAX + 100 };
    apr_size_t want = sizes[which % 4];
    char *head = apr_psprintf(p, "v=0\r\no=- %u 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                              "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:f%u\r\n", tag, tag);
    apr_size_t n = strlen(head);
    char *out = apr_palloc(p, want + 200);
    unsigned i = 0;

    memcpy(out, head, n);
    while (n < want) {
        n += (apr_size_t)apr_snprintf(out + n, want + 200 - n, "a=candidate:%u 1 udp 2122260223 "
                                      "10.0.0.%u %u typ host\r\n", i, i % 250, 40000 + i);
        i++;
    }
    *ctype = "application/sdp";
    if (which & 4) {
        char *mp = apr_psprintf(p, "--b1\r\nContent-Type: application/sdp\r\nContent-ID: "
                                "<v6>\r\n\r\n%.*s\r\n--b1--\r\n", (int)n, out);
        *ctype = "multipart/alternative;boundary=b1";
        *len = strlen(mp);
        return mp;
    }
    *len = n;
    return out;
}

static void model_put(call_model *m, ucwa_sdp_kind kind, const char *d, apr_size_t len)
{
    m->d[kind] = d;
    m->len[kind] = len;
}

/* The data URI a resource carries against what the model says was given. */
static void check_uri(apr_pool_t *p, const char *uri, const call_model *m, ucwa_sdp_kind kind)
{
    const char *ctype, *why, *bytes;
    apr_size_t len;

    if (!m->d[kind]) {
        FUZZ_CHECK(uri == NULL);
        return;
    }
    FUZZ_CHECK(uri != NULL);
    bytes = ucwa_sdp_from_data_uri(p, uri, &ctype, &len, &why);
    FUZZ_CHECK(bytes && len == m->len[kind] && !memcmp(bytes, m->d[kind], len));
}

static void render_call(apr_pool_t *p, const ucwa_conv_view *v)
{
    json_t *r[5];
    int i;

    r[0] = ucwa_av_invitation(p, v);
    r[1] = ucwa_av_modality(p, v);
    r[2] = v->side == 0 ? ucwa_av_negotiation(p, v) : json_object();
    r[3] = ucwa_av_session(p, v);
    r[4] = v->c->reneg_n ? ucwa_av_renegotiation(p, v) : json_object();
    for (i = 0; i < 5; i++) {
        FUZZ_CHECK(r[i] && json_is_object(r[i]));
        json_decref(r[i]);
    }
}

/* The call records against the conversations, and what the resources carry. */
static void call_invariants(ucwa_store *s, const call_model *model, apr_pool_t *p)
{
    apr_uint32_t i, k, n = ucwa_store_get_limits(s)->max_convs;
    apr_uint32_t calls = ucwa_store_get_limits(s)->max_calls;

    for (i = 0; i < n; i++) {
        ucwa_conv *c = ucwa_store_conv(s, (int)i);
        ucwa_call *call;
        int side;
        if (c->state != UCWA_SLOT_LIVE) {
            continue;
        }
        /* a call conversation, or an IM conversation a call was added to, holds its call
         * record; an IM conversation may keep one after its added call ended (or after an
         * addAudio too large), never someone else's */
        call = ucwa_av_call_of_locked(s, c);
        FUZZ_CHECK(!c->call || call != NULL);
        if (c->kind != UCWA_CONV_KIND_AV && !c->av_phase) {
            if (i < MODEL_MAX && model[i].gen == c->gen) {
                FUZZ_CHECK(!call || !call->len[UCWA_SDP_OFFER] || model[i].d[UCWA_SDP_OFFER]);
            }
            continue;
        }
        FUZZ_CHECK(call != NULL && call->conv == i && call->conv_gen == c->gen);
        FUZZ_CHECK(call->len[UCWA_SDP_OFFER] > 0);
        if (ucwa_av_phase(c) == UCWA_CONV_CONNECTED) {
            FUZZ_CHECK(call->len[UCWA_SDP_ANSWER] > 0 && !c->provisional);
        }
        FUZZ_CHECK(c->suspended < 4);
        if (c->reneg && !c->reneg_done) {
            FUZZ_CHECK(call->len[UCWA_SDP_RENEG_OFFER] > 0 && c->reneg_n > 0);
        }
        for (side = 0; side < 2; side++) {
            ucwa_conv_view v;
            int app = c->party[side].app;
            if (side == 1 && app < 0) {
                app = c->endpoints ? c->endpoint[0] : -1;
            }
            if (app < 0) {
                continue;
            }
            ucwa_conv_view_of_locked(s, c, side, app, &v);
            ucwa_av_view_media_locked(s, &v, p);
            if (i < MODEL_MAX && model[i].gen == c->gen) {
                check_uri(p, v.offer, &model[i], UCWA_SDP_OFFER);
                check_uri(p, v.answer, &model[i], UCWA_SDP_ANSWER);
                check_uri(p, v.reneg_offer, &model[i], UCWA_SDP_RENEG_OFFER);
                check_uri(p, v.reneg_answer, &model[i], UCWA_SDP_RENEG_ANSWER);
            }
            render_call(p, &v);
        }
    }
    for (k = 0; k < calls; k++) {
        ucwa_call *call = ucwa_store_call(s, (int)k);
        ucwa_conv *c;
        int kind;
        if (call->state != UCWA_SLOT_LIVE) {
            FUZZ_CHECK(call->state == UCWA_SLOT_FREE);
            for (kind = 0; kind < UCWA_SDP_KINDS; kind++) {
                const char *b = ucwa_store_call_blob(s, (int)k, kind);
                FUZZ_CHECK(b[0] == 0 && b[UCWA_SDP_BLOB_MAX - 1] == 0);
            }
            continue;
        }
        /* no call record without its conversation, which names it back */
        FUZZ_CHECK(call->conv < n);
        c = ucwa_store_conv(s, (int)call->conv);
        FUZZ_CHECK(c->state == UCWA_SLOT_LIVE && c->gen == call->conv_gen
                   && c->call == k + 1 && c->call_gen == call->gen);
    }
}

static const char *text_of(apr_pool_t *p, unsigned which, apr_size_t *len)
{
    switch (which % 4) {
    case 0: *len = 0; return NULL;
    case 1: *len = 9; return "Hi Tosh\r\n";
    case 2: *len = 900; return memset(apr_palloc(p, 900), 'x', 900);
    default: *len = 60000; return memset(apr_palloc(p, 60000), ' ', 60000);
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
    const ucwa_store_limits *l;
    ucwa_store *s;
    void *mem;
    fuzz_reader r = { data, data + size };
    apr_time_t now = apr_time_from_sec(1700000000);
    int endpoint = 0, ops = 0;
    call_model model[MODEL_MAX];
    unsigned tag = 0;

    if (size == 0) {
        apr_pool_destroy(p);
        return 0;
    }
    l = &configs[fuzz_next(&r) % (sizeof(configs) / sizeof(configs[0]))];
    mem = calloc(1, ucwa_store_bytes(l));
    FUZZ_CHECK(mem != NULL);
    s = ucwa_store_init(mem, l);
    memset(model, 0, sizeof(model));
    while (r.p < r.end && ops++ < 400) {
        unsigned op = fuzz_next(&r) % 19, a1 = fuzz_next(&r), a2 = fuzz_next(&r);
        unsigned a3 = fuzz_next(&r);
        int app = (int)(a1 % l->max_apps), conv = (int)(a1 % l->max_convs), side = (int)(a2 % 2);
        ucwa_conv_touched t;
        apr_pool_t *it;

        apr_pool_create(&it, p);
        memset(&t, 0, sizeof(t));
        switch (op) {
        case 0: {
            ucwa_app_params in;
            int idx = -1;
            memset(&in, 0, sizeof(in));
            in.user = users[a1 % 4];
            in.endpoint_id = apr_psprintf(it, "ep%d", endpoint++);
            in.user_agent = "fuzz";
            in.culture = "en-US";
            in.instance_id = "";
            in.prefix = a3 % 2 ? "/ucwa/v1/applications" : "/ucwa/oauth/v1/applications";
            in.policy_tag = "";
            in.name = a3 % 3 ? "A \"Name\" \xc3\xa9" : "";
            if (ucwa_store_create_locked(s, &in, now, &idx) == UCWA_CREATE_NEW && a2 % 5) {
                static const apr_uint32_t mods[] = {
                    0, UCWA_MOD_MESSAGING, UCWA_MOD_PHONE, UCWA_MOD_AUDIO | UCWA_MOD_VIDEO,
                    UCWA_MOD_MESSAGING | UCWA_MOD_AUDIO,
                };
                ucwa_app *a = ucwa_store_app(s, idx);
                a->available = 1;
                a->modalities = mods[a2 % 5];
                a->html = a3 % 2;
                ucwa_store_user(s, (int)a->user)->available_apps++;
            }
            break;
        }
        case 1:
        case 2: {
            apr_uint32_t i;
            if (ucwa_store_app(s, app)->state != UCWA_SLOT_LIVE) {
                break;
            }
            for (i = 0; i < l->max_convs; i++) {
                ucwa_conv_app_gone_locked(s, (int)i, app, now, it, &t);
            }
            if (op == 1) {
                ucwa_store_delete_locked(s, app);
            }
            else {
                ucwa_store_expire_locked(s, app);
            }
            break;
        }
        case 3:
        case 12: {
            ucwa_app *a = ucwa_store_app(s, app);
            ucwa_conv_invite_in in;
            apr_size_t len;
            const char *txt = op == 3 ? text_of(it, a3, &len) : NULL;
            const char *to = a2 % 5 == 4 ? "ghost@contoso.test" : users[a2 % 5];
            ucwa_conv_result res;
            int idx = -1;
            if (a->state != UCWA_SLOT_LIVE || !a->available
                || !strcmp(ucwa_store_user(s, (int)a->user)->sip, to)) {
                break;
            }
            memset(&in, 0, sizeof(in));
            in.app = app;
            in.to = to;
            in.subject = a3 & 4 ? "subject \"quoted\"" : NULL;
            in.operation_id = a3 & 8 ? "op" : NULL;
            in.first_format = (ucwa_msg_format)((a3 >> 4) & 1);
            in.first = txt ? ucwa_message_data_uri(it, in.first_format, txt, len) : NULL;
            in.expires = now + apr_time_from_sec(30);
            if (op == 12) {
                /* a call: the offer copied out of the per-input pool (the model keeps it) */
                in.kind = UCWA_CONV_KIND_AV;
                in.offer = sdp_of(p, a3, tag++, &in.offer_type, &in.offer_len);
                in.video = (a3 >> 3) & 1;
                in.session_context = a3 & 16 ? "ctx-caller" : NULL;
                in.first = NULL;
                in.expires = now + apr_time_from_sec(20);
            }
            res = ucwa_conv_invite_locked(s, &in, now, it, &idx, &t);
            FUZZ_CHECK(res == UCWA_CONV_OK || res == UCWA_CONV_FULL || res == UCWA_CONV_TOO_MANY
                       || res == UCWA_CONV_TOO_LARGE || (op == 12 && res == UCWA_CONV_NO_CALL));
            if (res == UCWA_CONV_OK) {
                ucwa_conv *c = ucwa_store_conv(s, idx);
                FUZZ_CHECK(c->state == UCWA_SLOT_LIVE && c->party[0].app == app);
                FUZZ_CHECK(c->phase == (c->endpoints ? UCWA_CONV_INVITING : UCWA_CONV_ENDED));
                FUZZ_CHECK(c->kind == in.kind);
                if (idx < MODEL_MAX) {
                    memset(&model[idx], 0, sizeof(model[idx]));
                    model[idx].gen = c->gen;
                }
                if (op == 12) {
                    FUZZ_CHECK(in.offer_len <= UCWA_SDP_BLOB_MAX);
                    if (idx < MODEL_MAX) {
                        model_put(&model[idx], UCWA_SDP_OFFER, in.offer, in.offer_len);
                    }
                }
            }
            else {
                FUZZ_CHECK(t.n == 0);
                /* a call's own events go link-only when too big: at the default slot
                 * size only an offer over its bound refuses it (smaller slots may not
                 * hold the conversation's events, as for messaging) */
                FUZZ_CHECK(res != UCWA_CONV_TOO_LARGE || op == 3
                           || in.offer_len > UCWA_SDP_BLOB_MAX || l->event_size < 4096);
            }
            break;
        }
        case 13: {
            ucwa_conv *c = ucwa_store_conv(s, conv);
            int target = (int)(a2 % l->max_apps), provisional = a3 & 1, added, ep = 0;
            apr_uint32_t before = ucwa_av_phase(c), k;
            const char *ctype, *body;
            apr_size_t len;
            ucwa_conv_result res;
            if (c->state != UCWA_SLOT_LIVE || ucwa_store_app(s, target)->state != UCWA_SLOT_LIVE) {
                break;
            }
            /* who may answer: an alerted endpoint of a call conversation, the other party
             * of a call added to an IM conversation */
            added = c->kind == UCWA_CONV_KIND_MESSAGING;
            if (added) {
                const ucwa_conv_party *callee = &c->party[1 - ucwa_av_caller(c)];
                ep = callee->app == target && callee->app_gen == ucwa_store_app(s, target)->gen;
            }
            for (k = 0; !added && k < c->endpoints; k++) {
                ep |= c->endpoint[k] == target
                      && c->endpoint_gen[k] == ucwa_store_app(s, target)->gen;
            }
            body = sdp_of(p, a3 >> 1, tag++, &ctype, &len);
            res = ucwa_conv_answer_locked(s, conv, target, provisional, ctype, body, len,
                                          a3 & 32 ? "v6" : NULL, a3 & 64 ? "ctx-callee" : NULL,
                                          now, it, &t);
            if (res == UCWA_CONV_OK) {
                FUZZ_CHECK(before == UCWA_CONV_INVITING && ep && len <= UCWA_SDP_BLOB_MAX);
                FUZZ_CHECK(ucwa_av_phase(c) == (provisional ? UCWA_CONV_INVITING
                                                            : UCWA_CONV_CONNECTED));
                FUZZ_CHECK(c->provisional == (apr_uint32_t)provisional);
                if (!provisional) {
                    FUZZ_CHECK(c->party[1 - ucwa_av_caller(c)].app == target);
                }
                if (conv < MODEL_MAX && model[conv].gen == c->gen) {
                    model_put(&model[conv], UCWA_SDP_ANSWER, body, len);
                }
            }
            else {
                FUZZ_CHECK(ucwa_av_phase(c) == before && t.n == 0);
                FUZZ_CHECK((res == UCWA_CONV_STATE) == !(before == UCWA_CONV_INVITING && ep));
                FUZZ_CHECK(res == UCWA_CONV_STATE
                           || (res == UCWA_CONV_TOO_MANY && !provisional && !added)
                           || (res == UCWA_CONV_TOO_LARGE && len > UCWA_SDP_BLOB_MAX));
            }
            break;
        }
        case 14: {
            ucwa_conv *c = ucwa_store_conv(s, conv);
            apr_uint32_t before = ucwa_av_phase(c), n_before = c->reneg_n;
            int open = c->reneg && !c->reneg_done;
            const char *ctype, *body;
            apr_size_t len;
            ucwa_conv_result res;
            if (c->state != UCWA_SLOT_LIVE) {
                break;
            }
            body = sdp_of(p, a3, tag++, &ctype, &len);
            res = ucwa_conv_renegotiate_locked(s, conv, side, ctype, body, len,
                                               a3 & 8 ? "op-r" : NULL, now, it, &t);
            if (res == UCWA_CONV_OK) {
                FUZZ_CHECK(before == UCWA_CONV_CONNECTED && !open);
                FUZZ_CHECK(c->reneg == (apr_uint32_t)side + 1 && c->reneg_n == n_before + 1
                           && !c->reneg_done);
                if (conv < MODEL_MAX && model[conv].gen == c->gen) {
                    model_put(&model[conv], UCWA_SDP_RENEG_OFFER, body, len);
                    model_put(&model[conv], UCWA_SDP_RENEG_ANSWER, NULL, 0);
                }
            }
            else {
                FUZZ_CHECK(c->reneg_n == n_before && t.n == 0);
                FUZZ_CHECK(res == (before == UCWA_CONV_CONNECTED && !open ? UCWA_CONV_TOO_LARGE
                                                                         : UCWA_CONV_STATE));
            }
            break;
        }
        case 15: {
            ucwa_conv *c = ucwa_store_conv(s, conv);
            apr_uint32_t before = ucwa_av_phase(c), n = c->reneg_n + ((a3 >> 1) & 1);
            int open = c->reneg && !c->reneg_done, origin = (int)c->reneg - 1;
            const char *ctype = NULL, *body = NULL;
            apr_size_t len = 0;
            ucwa_conv_result res;
            if (c->state != UCWA_SLOT_LIVE) {
                break;
            }
            if (a3 & 1) {
                body = sdp_of(p, a3 >> 2, tag++, &ctype, &len);
            }
            res = ucwa_conv_reneg_answer_locked(s, conv, side, n, ctype, body, len, now, it, &t);
            if (res == UCWA_CONV_OK) {
                FUZZ_CHECK(before == UCWA_CONV_CONNECTED && open && n == c->reneg_n
                           && side != origin);
                FUZZ_CHECK(c->reneg_done == (body ? 1u : 2u));
                if (body && conv < MODEL_MAX && model[conv].gen == c->gen) {
                    model_put(&model[conv], UCWA_SDP_RENEG_ANSWER, body, len);
                }
            }
            else {
                FUZZ_CHECK(t.n == 0 && (c->reneg && !c->reneg_done) == open);
                FUZZ_CHECK(res == UCWA_CONV_STATE || (res == UCWA_CONV_TOO_LARGE && body
                                                      && len > UCWA_SDP_BLOB_MAX));
            }
            break;
        }
        case 16: {
            /* stopAudioVideo (or the invitation's cancel / decline) as mod_ucwa maps it */
            ucwa_conv *c = ucwa_store_conv(s, conv);
            apr_uint32_t before = ucwa_av_phase(c), phase = c->phase;
            int requester = c->party[side].app;
            ucwa_conv_result res;
            if (c->state != UCWA_SLOT_LIVE) {
                break;
            }
            if (requester < 0) {
                requester = c->endpoints ? c->endpoint[0] : -1;
            }
            res = ucwa_conv_stop_av_locked(s, conv, side, requester, now, it, &t);
            FUZZ_CHECK((res == UCWA_CONV_OK)
                       == (c->kind == UCWA_CONV_KIND_AV
                           ? phase != UCWA_CONV_ENDED
                           : before == UCWA_CONV_INVITING || before == UCWA_CONV_CONNECTED));
            if (res == UCWA_CONV_OK) {
                FUZZ_CHECK(ucwa_av_phase(c) == UCWA_CONV_ENDED);
            }
            else {
                FUZZ_CHECK(t.n == 0 && c->phase == phase);
            }
            break;
        }
        case 17: {
            /* addAudio / addAudioVideo on a conversation */
            ucwa_conv *c = ucwa_store_conv(s, conv);
            apr_uint32_t before = ucwa_av_phase(c);
            const char *ctype, *body;
            apr_size_t len;
            ucwa_conv_result res;
            if (c->state != UCWA_SLOT_LIVE) {
                break;
            }
            body = sdp_of(p, a3, tag++, &ctype, &len);
            res = ucwa_conv_add_av_locked(s, conv, side, (a3 >> 3) & 1, ctype, body, len,
                                          a3 & 16 ? "ctx-add" : NULL, a3 & 32 ? "op-add" : NULL,
                                          NULL, now + apr_time_from_sec(20), now, it, &t);
            if (res == UCWA_CONV_OK) {
                FUZZ_CHECK(c->kind == UCWA_CONV_KIND_MESSAGING && c->phase == UCWA_CONV_CONNECTED);
                FUZZ_CHECK(before != UCWA_CONV_INVITING && before != UCWA_CONV_CONNECTED);
                FUZZ_CHECK(ucwa_av_phase(c) == UCWA_CONV_INVITING && ucwa_av_caller(c) == side);
                FUZZ_CHECK(len <= UCWA_SDP_BLOB_MAX);
                if (conv < MODEL_MAX) {
                    memset(&model[conv], 0, sizeof(model[conv]));
                    model[conv].gen = c->gen;
                    model_put(&model[conv], UCWA_SDP_OFFER, body, len);
                }
            }
            else {
                FUZZ_CHECK(t.n == 0 && ucwa_av_phase(c) == before);
                FUZZ_CHECK(res == UCWA_CONV_STATE || res == UCWA_CONV_NO_CALL
                           || (res == UCWA_CONV_TOO_LARGE && len > UCWA_SDP_BLOB_MAX));
            }
            break;
        }
        case 4: {
            ucwa_conv *c = ucwa_store_conv(s, conv);
            int target = (int)(a2 % l->max_apps);
            apr_uint32_t before = c->phase;
            ucwa_conv_result res;
            /* a messagingInvitation's accept: an IM conversation's, or that of messaging
             * added to a call's conversation (addMessaging, op 18) */
            if (c->state != UCWA_SLOT_LIVE || ucwa_store_app(s, target)->state != UCWA_SLOT_LIVE) {
                break;
            }
            if (c->kind == UCWA_CONV_KIND_AV) {
                apr_uint32_t msg_before = c->msg_phase;
                if (before != UCWA_CONV_CONNECTED) {
                    break;    /* a ringing call's invitation is no messagingInvitation */
                }
                int callee = 1 - (int)c->msg_side;
                int ok = before == UCWA_CONV_CONNECTED && msg_before == UCWA_CONV_INVITING
                         && c->party[callee].app == target
                         && c->party[callee].app_gen == ucwa_store_app(s, target)->gen;
                res = ucwa_conv_accept_locked(s, conv, target, now, it, &t);
                FUZZ_CHECK((res == UCWA_CONV_OK) == ok);
                FUZZ_CHECK(c->msg_phase == (ok ? UCWA_CONV_CONNECTED : msg_before));
                break;
            }
            res = ucwa_conv_accept_locked(s, conv, target, now, it, &t);
            if (res == UCWA_CONV_OK) {
                FUZZ_CHECK(before == UCWA_CONV_INVITING && c->phase == UCWA_CONV_CONNECTED
                           && c->party[1].app == target);
            }
            else {
                FUZZ_CHECK(c->phase == before && t.n == 0);
            }
            break;
        }
        case 5:
        case 6: {
            ucwa_conv *c = ucwa_store_conv(s, conv);
            apr_uint32_t before = c->phase;
            ucwa_conv_result res;
            if (c->state != UCWA_SLOT_LIVE) {
                break;
            }
            res = op == 5 ? ucwa_conv_decline_locked(s, conv, now, it, &t)
                          : ucwa_conv_cancel_locked(s, conv, now, it, &t);
            FUZZ_CHECK((res == UCWA_CONV_OK) == (before == UCWA_CONV_INVITING));
            if (res == UCWA_CONV_OK) {
                FUZZ_CHECK(c->phase == UCWA_CONV_ENDED && !c->accepted);
            }
            break;
        }
        case 7:
        case 18: {
            /* leave; stopMessaging (a call going on stays) */
            ucwa_conv *c = ucwa_store_conv(s, conv);
            apr_uint32_t before = c->phase;
            ucwa_conv_result res;
            if (c->state != UCWA_SLOT_LIVE) {
                break;
            }
            if (op == 18 && (a3 & 1) && c->kind == UCWA_CONV_KIND_AV) {
                /* addMessaging to a call's conversation (the other party takes it or not) */
                apr_uint32_t msg_before = c->msg_phase;
                int live = msg_before == UCWA_CONV_INVITING || msg_before == UCWA_CONV_CONNECTED;
                res = ucwa_conv_add_messaging_locked(s, conv, side, a3 & 2 ? "op-m" : NULL,
                                                     now + apr_time_from_sec(20), now, it, &t);
                if (res == UCWA_CONV_OK) {
                    FUZZ_CHECK(before == UCWA_CONV_CONNECTED && !live && !c->av_off
                               && c->msg_phase == UCWA_CONV_INVITING
                               && c->msg_side == (apr_uint32_t)side);
                }
                else {
                    FUZZ_CHECK(res == UCWA_CONV_STATE && c->msg_phase == msg_before && t.n == 0);
                }
                break;
            }
            res = op == 7 ? ucwa_conv_leave_locked(s, conv, side, now, it, &t)
                          : ucwa_conv_stop_messaging_locked(s, conv, side, now, it, &t);
            FUZZ_CHECK((res == UCWA_CONV_OK) == (before == UCWA_CONV_CONNECTED));
            break;
        }
        case 8: {
            ucwa_conv *c = ucwa_store_conv(s, conv);
            apr_size_t len;
            const char *txt = text_of(it, a3 | 1, &len);
            apr_uint32_t n = 0, next_before = c->next_message, before = c->phase;
            /* messaging off: stopped beside a call, or a call's conversation without
             * messaging added to it */
            apr_uint32_t msg_off = c->kind == UCWA_CONV_KIND_MESSAGING
                                   ? c->msg_off : c->msg_phase != UCWA_CONV_CONNECTED;
            ucwa_conv_result res;
            if (c->state != UCWA_SLOT_LIVE) {
                break;
            }
            ucwa_msg_format fmt = (ucwa_msg_format)((a3 >> 2) & 1);
            /* the data URI made before the lock, as mod_ucwa does, or by the transition */
            res = ucwa_conv_message_locked(s, conv, side, fmt, txt, len,
                                           a3 & 16 ? ucwa_message_data_uri(it, fmt, txt, len)
                                                   : NULL,
                                           a3 & 8 ? "op-m" : NULL, now, it, &n, &t);
            if (res == UCWA_CONV_OK) {
                FUZZ_CHECK(before == UCWA_CONV_CONNECTED && !msg_off && n == next_before
                           && c->next_message == next_before + 1);
            }
            else {
                /* messaging stopped while a call goes on: no more messages */
                FUZZ_CHECK(c->next_message == next_before && t.n == 0);
                FUZZ_CHECK(res == (before == UCWA_CONV_CONNECTED && !msg_off
                                   ? UCWA_CONV_TOO_LARGE : UCWA_CONV_STATE));
            }
            break;
        }
        case 9: {
            ucwa_conv *c = ucwa_store_conv(s, conv);
            apr_uint32_t before = c->phase;
            apr_uint32_t msg_off = c->kind == UCWA_CONV_KIND_MESSAGING
                                   ? c->msg_off : c->msg_phase != UCWA_CONV_CONNECTED;
            if (c->state != UCWA_SLOT_LIVE) {
                break;
            }
            FUZZ_CHECK((ucwa_conv_typing_locked(s, conv, side, now, it, &t) == UCWA_CONV_OK)
                       == (before == UCWA_CONV_CONNECTED && !msg_off));
            break;
        }
        case 10: {
            static const apr_interval_time_t steps[] = { 0, 1, 5, 30, 61 };
            apr_uint32_t i;
            now += apr_time_from_sec(steps[a1 % 5]);
            for (i = 0; i < l->max_convs; i++) {
                ucwa_conv_tick_locked(s, (int)i, now, it, &t);
                /* the sweeper's watch of connected calls (UcwaCallSuspendAfter, or off) */
                ucwa_conv_av_watch_locked(s, (int)i, a2 % 2 ? apr_time_from_sec(20) : 0, now,
                                          it, &t);
            }
            break;
        }
        default:
            check_events(s, app, now, it);
        }
        FUZZ_CHECK(t.n >= 0 && t.n <= (int)(sizeof(t.app) / sizeof(t.app[0])));
        invariants(s, now, it);
        call_invariants(s, model, it);
        apr_pool_destroy(it);
    }
    {
        apr_uint32_t i;
        for (i = 0; i < l->max_apps; i++) {
            check_events(s, (int)i, now, p);
        }
    }
    free(mem);
    apr_pool_destroy(p);
    return 0;
}
