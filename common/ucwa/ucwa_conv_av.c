/* The audioVideo modality's transitions (docs/extensions.md section 19): its events (the
 * audioVideoInvitation, negotiation, renegotiation), a call's answers, renegotiations and
 * Suspended sides, and a call added to an IM conversation (on one Front End and across the
 * pool). The call record and the call's resources are common/ucwa/ucwa_av.c's; the invitation
 * state machine a call conversation shares with messaging is ucwa_conv.c's. */
#include <string.h>
#include <apr_strings.h>

#include "mob_json.h"
#include "ucwa_av.h"
#include "ucwa_conv.h"
#include "ucwa_conv_int.h"
#include "ucwa_conv_phone.h"
#include "ucwa_pool.h"
#include "ucwa_push.h"

/* A call's failure: a call conversation's own, or a call added to an IM conversation. */
static json_t *av_failure_reason(const ucwa_conv_view *v)
{
    const ucwa_conv *c = v->c;

    if (c->phone && c->phone_fail && v->side == 0) {
        return ucwa_conv_phone_reason(c);   /* call via work: which leg failed, and why */
    }
    return ucwa_conv_failure_reason_as(v, ucwa_av_caller(c),
                                       (ucwa_conv_end)(c->kind == UCWA_CONV_KIND_AV ? c->end
                                                                                    : c->av_end),
                                       1);
}

/* The call's audioVideoInvitation started, updated or completed. */
json_t *ucwa_conv_ev_av_invitation(apr_pool_t *p, const ucwa_conv_view *v, const char *type)
{
    const char *status = NULL, *rel = v->c->phone == UCWA_CONV_PHONE_CVW ? "phoneAudioInvitation"
                                                  : "audioVideoInvitation";
    json_t *why = NULL;

    if (!strcmp(type, "completed")) {
        if (ucwa_av_accepted(v->c) && !v->elsewhere) {
            status = "Success";
        }
        else {
            status = "Failure";
            why = av_failure_reason(v);
        }
    }
    return event(lnk(rel, ucwa_av_href_invitation(p, v), NULL), NULL, status, rel,
                 ucwa_av_invitation(p, v), why, type);
}

json_t *ucwa_conv_ev_av_modality(apr_pool_t *p, const ucwa_conv_view *v)
{
    const char *rel = v->c->phone ? "phoneAudio" : "audioVideo";

    return event(lnk(rel, ucwa_av_href_modality(p, v), NULL), NULL, NULL, rel,
                 ucwa_av_modality(p, v), NULL, "updated");
}

/* The caller's audioVideoNegotiation updated: the (provisional) answer is in. */
json_t *ucwa_conv_ev_negotiation(apr_pool_t *p, const ucwa_conv_view *v)
{
    return event(lnk("audioVideoNegotiation",
                     apr_pstrcat(p, ucwa_av_href_invitation(p, v), "/audioVideoNegotiation",
                                 NULL), NULL),
                 NULL, NULL, "audioVideoNegotiation", ucwa_av_negotiation(p, v), NULL,
                 "updated");
}

/* A renegotiation started (to the other side) or completed (to its originator). */
static json_t *ev_renegotiation(apr_pool_t *p, const ucwa_conv_view *v, const char *type,
                                int ok)
{
    json_t *why = NULL;

    if (!strcmp(type, "completed") && !ok) {
        why = v->c->reneg_done == UCWA_CONV_RENEG_CROSSED
              ? reason("RemoteFailure", "Conflict", "The other party's renegotiation crossed "
                       "this one and goes first: answer it, then renegotiate again.")
              : reason("RemoteFailure", "Declined", "The renegotiation was dismissed.");
    }
    return event(lnk("audioVideoRenegotiation", ucwa_av_href_renegotiation(p, v), NULL), NULL,
                 strcmp(type, "completed") ? NULL : ok ? "Success" : "Failure",
                 "audioVideoRenegotiation", ucwa_av_renegotiation(p, v), why, type);
}

void ucwa_conv_av_watch_locked(ucwa_store *s, int idx, apr_interval_time_t after, apr_time_t now,
                               apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    int side;

    if (c->state != UCWA_SLOT_LIVE || ucwa_av_phase(c) != UCWA_CONV_CONNECTED || after <= 0) {
        return;
    }
    for (side = 0; side < 2; side++) {
        ucwa_conv_party *pa = &c->party[side];
        ucwa_app *a;
        if ((c->suspended >> side) & 1 || !app_live(s, pa->app, pa->app_gen)) {
            continue;
        }
        a = ucwa_store_app(s, pa->app);
        if ((a->parked && now < a->parked_until) || now - a->last_seen < after) {
            continue;
        }
        c->suspended |= 1u << side;
        {
            ucwa_conv_view v;
            ucwa_conv_batch b;
            ucwa_conv_batch_init(&b, s, p);
            ucwa_conv_view_of_locked(s, c, side, pa->app, &v);
            ucwa_conv_add(&b, pa->app, &v, 1,
                          event(lnk("audioVideoSession",
                                    apr_pstrcat(p, ucwa_av_href_modality(p, &v),
                                                "/audioVideoSession", NULL), NULL),
                                NULL, NULL, "audioVideoSession", ucwa_av_session(p, &v), NULL,
                                "updated"));
            ucwa_conv_batch_post(&b, now, t);
        }
    }
}

/* A call added to an IM conversation ends (why), with the events of each side into b (but
 * to side `gone`, whose application is ending: -1 for none). */
void ucwa_conv_end_added(ucwa_store *s, ucwa_conv *c, ucwa_conv_end why, int gone,
                         apr_time_t now, apr_pool_t *p, ucwa_conv_batch *b)
{
    ucwa_conv_phase was = (ucwa_conv_phase)c->av_phase;
    int sd, caller = (int)c->av_side;
    ucwa_conv_view v;

    if (was == UCWA_CONV_INVITING && (why == UCWA_CONV_END_TIMEOUT
                                      || why == UCWA_CONV_END_CANCELED)) {
        c->logs |= UCWA_CONV_LOG_CALL_MISSED;
    }
    c->av_phase = UCWA_CONV_ENDED;
    c->av_end = why;
    c->reneg = 0;
    for (sd = 0; sd < 2; sd++) {
        ucwa_conv_party *pa = &c->party[sd];
        if (sd == gone || !app_live(s, pa->app, pa->app_gen)) {
            continue;
        }
        ucwa_conv_view_of_locked(s, c, sd, pa->app, &v);
        if (was == UCWA_CONV_INVITING) {
            if (sd == caller) {
                ucwa_conv_add(b, pa->app, &v, 1, ucwa_conv_ev_av_modality(p, &v));
            }
            ucwa_conv_add(b, pa->app, &v, 0, ucwa_conv_ev_av_invitation(p, &v, "completed"));
            if (sd != caller && (why == UCWA_CONV_END_TIMEOUT || why == UCWA_CONV_END_CANCELED)) {
                ucwa_conv_add_push(b, UCWA_PUSH_MISSED_CALL, c, c->party[caller].name, NULL, 0);
            }
        }
        else {
            ucwa_conv_add(b, pa->app, &v, 1, ucwa_conv_ev_av_modality(p, &v));
            if (c->phase == UCWA_CONV_CONNECTED) {
                ucwa_conv_add(b, pa->app, &v, 0, ucwa_conv_ev_conversation(p, &v, "updated"));
            }
        }
    }
    (void)now;
}

/* Keeps a call's (provisional) answer in c's record. -1 if it cannot be kept. */
int ucwa_conv_store_answer(ucwa_store *s, ucwa_conv *c, int provisional, const char *ctype,
                           const char *body, apr_size_t len, const char *cid,
                           const char *session_context)
{
    if (ucwa_av_put_locked(s, c, UCWA_SDP_ANSWER, ctype, body, len) < 0) {
        return -1;
    }
    c->provisional = provisional ? 1 : 0;
    copy(c->accepted_cid, sizeof(c->accepted_cid), cid);
    copy(c->session_context[1], sizeof(c->session_context[1]), session_context);
    return 0;
}

/* The caller (if here) gets the provisional answer in its negotiation. */
static void provisional_to_caller(ucwa_store *s, ucwa_conv *c, apr_time_t now, apr_pool_t *p,
                                  ucwa_conv_touched *t)
{
    ucwa_conv_view v;
    ucwa_conv_batch b;

    if (!app_live(s, c->party[0].app, c->party[0].app_gen)) {
        return;
    }
    ucwa_conv_batch_init(&b, s, p);
    ucwa_conv_view_of_locked(s, c, 0, c->party[0].app, &v);
    ucwa_av_view_media_locked(s, &v, p);
    ucwa_conv_add(&b, c->party[0].app, &v, UCWA_CONV_FROM_AV_INVITATION,
                  ucwa_conv_ev_negotiation(p, &v));
    ucwa_conv_batch_post(&b, now, t);
}

/* --- a call added to an IM conversation ------------------------------------------------ */

/* The side of an IM conversation across Front Ends whose application is here. */
static int here_side(const ucwa_conv *c)
{
    return 1 - ucwa_conv_remote_side(c);
}

/* What this side of an added call does, to the other side's Front End: the message names
 * the call by its offer's key in the pool's table (a message about an older call is
 * ignored there). sdp_kind: the description it carries, or -1. */
int ucwa_conv_added_tell(ucwa_store *s, const ucwa_conv *c, const char *kind, int sdp_kind,
                         json_t *extra, apr_pool_t *p)
{
    if (!extra) {
        extra = json_object();
    }
    json_object_set_new(extra, "call", json_string(ucwa_av_pool_key(s, c, UCWA_SDP_OFFER)));
    return ucwa_pool_call_tell_locked(s, c, kind, sdp_kind, extra, p);
}

/* Whether a message from the other side's Front End is about the call of c. */
static int added_is(ucwa_store *s, const ucwa_conv *c, const char *call)
{
    const char *key = ucwa_av_pool_key(s, c, UCWA_SDP_OFFER);

    return c->state == UCWA_SLOT_LIVE && c->kind == UCWA_CONV_KIND_MESSAGING && c->peer_fe[0]
           && call && *key && !strcmp(key, call);
}

/* The answer (final or provisional) to a call added to an IM conversation is in c: the
 * events of the sides whose applications are here. */
static void added_answered(ucwa_store *s, ucwa_conv *c, int provisional, const char *cid,
                           const char *session_context, apr_time_t now, apr_pool_t *p,
                           ucwa_conv_touched *t)
{
    int caller = (int)c->av_side, callee = 1 - caller;
    ucwa_conv_party *me = &c->party[callee], *other = &c->party[caller];
    ucwa_conv_view v;
    ucwa_conv_batch b;

    c->provisional = provisional ? 1 : 0;
    copy(c->accepted_cid, sizeof(c->accepted_cid), cid);
    copy(c->session_context[callee], sizeof(c->session_context[callee]), session_context);
    if (!provisional) {
        c->av_phase = UCWA_CONV_CONNECTED;
        c->av_accepted = 1;
        c->logs |= UCWA_CONV_LOG_CALL_ARCHIVED;
        c->last_activity = now;
    }
    ucwa_conv_batch_init(&b, s, p);
    if (!provisional && app_live(s, me->app, me->app_gen)) {
        ucwa_conv_view_of_locked(s, c, callee, me->app, &v);
        ucwa_conv_add(&b, me->app, &v, 0, ucwa_conv_ev_av_invitation(p, &v, "completed"));
        ucwa_conv_add(&b, me->app, &v, 1, ucwa_conv_ev_av_modality(p, &v));
        ucwa_conv_add(&b, me->app, &v, 0, ucwa_conv_ev_conversation(p, &v, "updated"));
    }
    if (app_live(s, other->app, other->app_gen)) {
        ucwa_conv_view_of_locked(s, c, caller, other->app, &v);
        ucwa_av_view_media_locked(s, &v, p);
        ucwa_conv_add(&b, other->app, &v, UCWA_CONV_FROM_AV_INVITATION,
                      ucwa_conv_ev_negotiation(p, &v));
        if (!provisional) {
            ucwa_conv_add(&b, other->app, &v, 0, ucwa_conv_ev_av_invitation(p, &v, "completed"));
            ucwa_conv_add(&b, other->app, &v, 1, ucwa_conv_ev_av_modality(p, &v));
            ucwa_conv_add(&b, other->app, &v, 0, ucwa_conv_ev_conversation(p, &v, "updated"));
        }
    }
    ucwa_conv_batch_post(&b, now, t);
}

/* The answer to a call added to an IM conversation: only the other party's application
 * rings, so there is no race to win (the caller on another Front End: told through the
 * pool, the answer's key in the pool's table). */
static ucwa_conv_result answer_added(ucwa_store *s, ucwa_conv *c, int app, int provisional,
                                     const char *ctype, const char *body, apr_size_t len,
                                     const char *cid, const char *session_context,
                                     apr_time_t now, apr_pool_t *p, ucwa_conv_touched *t)
{
    int callee = 1 - (int)c->av_side;

    if (c->av_phase != UCWA_CONV_INVITING
        || !app_is(&c->party[callee], app, ucwa_store_app(s, app)->gen)) {
        return UCWA_CONV_STATE;
    }
    if (c->peer_fe[0] && ucwa_pool_room_locked(s) < 1) {
        return UCWA_CONV_BUSY;
    }
    if (ucwa_av_put_locked(s, c, UCWA_SDP_ANSWER, ctype, body, len) < 0) {
        return UCWA_CONV_TOO_LARGE;
    }
    added_answered(s, c, provisional, cid, session_context, now, p, t);
    if (c->peer_fe[0]) {
        ucwa_conv_added_tell(s, c, "av-answer", UCWA_SDP_ANSWER,
                             json_pack("{s:s,s:s,s:i}", "cid", c->accepted_cid, "ctx",
                                       c->session_context[callee], "prov", provisional ? 1 : 0), p);
    }
    return UCWA_CONV_OK;
}

/* A call added to IM conversation c (slot idx) by side starts ringing: its record and
 * offer, and the events of the sides whose applications are here. */
static ucwa_conv_result start_added(ucwa_store *s, ucwa_conv *c, int idx, int side, int video,
                                    const char *ctype, const char *body, apr_size_t len,
                                    const char *session_context, const char *operation_id,
                                    const char *offer_key, apr_time_t expires, apr_time_t now,
                                    apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_call *k;
    ucwa_conv_view v;
    ucwa_conv_batch b;
    int sd;

    if ((k = ucwa_av_call_of_locked(s, c)) == NULL) {
        int n = ucwa_av_call_new_locked(s, idx, c->gen);
        if (n < 0) {
            return UCWA_CONV_NO_CALL;
        }
        c->call = (apr_uint32_t)n + 1;
        c->call_gen = ucwa_store_call(s, n)->gen;
        k = ucwa_store_call(s, n);
    }
    if (ucwa_av_put_locked(s, c, UCWA_SDP_OFFER, ctype, body, len) < 0) {
        return UCWA_CONV_TOO_LARGE;
    }
    k->len[UCWA_SDP_ANSWER] = k->len[UCWA_SDP_RENEG_OFFER] = k->len[UCWA_SDP_RENEG_ANSWER] = 0;
    ucwa_av_pool_key_locked(s, c, UCWA_SDP_OFFER, offer_key);
    c->av_phase = UCWA_CONV_INVITING;
    c->av_side = (apr_uint32_t)side;
    c->av_end = UCWA_CONV_END_NONE;
    c->av_accepted = 0;
    c->av_expires = expires;
    c->video = video ? 1 : 0;
    c->provisional = 0;
    c->reneg = c->reneg_n = c->reneg_done = 0;
    c->suspended = 0;
    c->accepted_cid[0] = '\0';
    ucwa_conv_make_id(c->av_invitation[0], idx);
    ucwa_conv_make_id(c->av_invitation[1], idx);
    copy(c->session_context[side], sizeof(c->session_context[side]), session_context);
    c->session_context[1 - side][0] = '\0';
    copy(c->av_operation_id, sizeof(c->av_operation_id), operation_id);
    c->last_activity = now;
    ucwa_conv_batch_init(&b, s, p);
    for (sd = 0; sd < 2; sd++) {
        ucwa_conv_party *pa = &c->party[sd];
        if (!app_live(s, pa->app, pa->app_gen)) {
            continue;
        }
        ucwa_conv_view_of_locked(s, c, sd, pa->app, &v);
        if (sd == side) {
            ucwa_conv_add(&b, pa->app, &v, 0, ucwa_conv_ev_av_invitation(p, &v, "started"));
        }
        else {
            ucwa_av_view_media_locked(s, &v, p);
            ucwa_conv_add(&b, pa->app, &v, 0, ucwa_conv_ev_av_invitation(p, &v, "started"));
            ucwa_conv_add_push(&b, UCWA_PUSH_CALL, c, c->party[side].name, "Incoming call",
                               strlen("Incoming call"));
        }
        ucwa_conv_add(&b, pa->app, &v, 1, ucwa_conv_ev_av_modality(p, &v));
    }
    ucwa_conv_batch_post(&b, now, t);
    return UCWA_CONV_OK;
}

/* Whether the application can take a call added to a conversation. */
static int takes_calls(ucwa_store *s, const ucwa_conv_party *pa)
{
    ucwa_app *a;

    if (!app_live(s, pa->app, pa->app_gen)) {
        return 0;
    }
    a = ucwa_store_app(s, pa->app);
    return a->available && (a->modalities & (UCWA_MOD_AUDIO | UCWA_MOD_VIDEO));
}

ucwa_conv_result ucwa_conv_add_av_locked(ucwa_store *s, int idx, int side, int video,
                                         const char *ctype, const char *body, apr_size_t len,
                                         const char *session_context, const char *operation_id,
                                         const char *offer_key, apr_time_t expires,
                                         apr_time_t now, apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    ucwa_conv_result r;

    if (c->state != UCWA_SLOT_LIVE || c->kind != UCWA_CONV_KIND_MESSAGING
        || c->phase != UCWA_CONV_CONNECTED || c->msg_off
        || c->av_phase == UCWA_CONV_INVITING || c->av_phase == UCWA_CONV_CONNECTED) {
        return UCWA_CONV_STATE;
    }
    if (c->peer_fe[0]) {
        /* the other party's Front End decides whether its application takes the call */
        if (!offer_key || !*offer_key || side != here_side(c)) {
            return UCWA_CONV_STATE;
        }
        if (ucwa_pool_room_locked(s) < 1) {
            return UCWA_CONV_BUSY;
        }
    }
    else if (!takes_calls(s, &c->party[1 - side])) {
        return UCWA_CONV_STATE;    /* the other party's application takes no calls */
    }
    r = start_added(s, c, idx, side, video, ctype, body, len, session_context, operation_id,
                    c->peer_fe[0] ? offer_key : NULL, expires, now, p, t);
    if (r == UCWA_CONV_OK && c->peer_fe[0]) {
        ucwa_conv_added_tell(s, c, "av-add", UCWA_SDP_OFFER,
                             json_pack("{s:i,s:s,s:I}", "video", video ? 1 : 0, "ctx",
                                       c->session_context[side], "expires",
                                       (json_int_t)expires), p);
    }
    return r;
}

/* side hangs up call conversation c while messaging added to it goes on: the call alone
 * ends (the other side's Front End is told "av-off"), the conversation is messaging's. */
static ucwa_conv_result stop_call_beside_messaging(ucwa_store *s, ucwa_conv *c, int side,
                                                   apr_time_t now, apr_pool_t *p,
                                                   ucwa_conv_touched *t)
{
    if (c->peer_fe[0] && c->party[side].app >= 0) {
        if (ucwa_pool_room_locked(s) < 1) {
            return UCWA_CONV_BUSY;    /* the other side's call would go on */
        }
        ucwa_pool_conv_tell_locked(s, c, "av-off", NULL, p);
    }
    c->av_off = 1;
    c->reneg = 0;
    c->suspended = 0;
    c->last_activity = now;
    ucwa_conv_modality_off(s, c, ucwa_conv_ev_av_modality, now, p, t);
    return UCWA_CONV_OK;
}

ucwa_conv_result ucwa_conv_stop_av_locked(ucwa_store *s, int idx, int side, int app,
                                          apr_time_t now, apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    ucwa_conv_end why;
    ucwa_conv_batch b;

    if (c->state != UCWA_SLOT_LIVE) {
        return UCWA_CONV_STATE;
    }
    if (c->kind == UCWA_CONV_KIND_AV) {
        if (c->phase == UCWA_CONV_CONNECTED && c->msg_phase == UCWA_CONV_CONNECTED
            && !c->av_off) {
            return stop_call_beside_messaging(s, c, side, now, p, t);
        }
        /* the call is the conversation */
        if (c->phase == UCWA_CONV_CONNECTED) {
            return ucwa_conv_leave_locked(s, idx, side, now, p, t);
        }
        return side == 0 ? ucwa_conv_cancel_locked(s, idx, now, p, t)
                         : ucwa_conv_decline_by_locked(s, idx, app, now, p, t);
    }
    if (c->av_phase == UCWA_CONV_CONNECTED && c->msg_off) {
        /* the call was all that was left */
        return ucwa_conv_leave_locked(s, idx, side, now, p, t);
    }
    if (c->av_phase != UCWA_CONV_INVITING && c->av_phase != UCWA_CONV_CONNECTED) {
        return UCWA_CONV_STATE;
    }
    if (c->peer_fe[0] && ucwa_pool_room_locked(s) < 1) {
        return UCWA_CONV_BUSY;    /* the other side's call would go on */
    }
    why = c->av_phase == UCWA_CONV_CONNECTED ? UCWA_CONV_END_LEFT
          : side == (int)c->av_side ? UCWA_CONV_END_CANCELED : UCWA_CONV_END_DECLINED;
    if (c->peer_fe[0]) {
        ucwa_conv_added_tell(s, c, "av-stop", -1, NULL, p);
    }
    ucwa_conv_batch_init(&b, s, p);
    ucwa_conv_end_added(s, c, why, -1, now, p, &b);
    c->last_activity = now;
    ucwa_conv_batch_post(&b, now, t);
    return UCWA_CONV_OK;
}

void ucwa_conv_remote_add_av_locked(ucwa_store *s, int idx, const char *call, int video,
                                    const char *ctype, const char *body, apr_size_t len,
                                    const char *session_context, apr_time_t expires,
                                    apr_time_t now, apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    int caller = ucwa_conv_remote_side(c);
    json_t *m;

    if (c->state != UCWA_SLOT_LIVE || c->kind != UCWA_CONV_KIND_MESSAGING || !c->peer_fe[0]
        || c->phase != UCWA_CONV_CONNECTED || !call || !*call) {
        return;
    }
    if (!c->msg_off && c->av_phase != UCWA_CONV_INVITING && c->av_phase != UCWA_CONV_CONNECTED
        && takes_calls(s, &c->party[1 - caller])
        && start_added(s, c, idx, caller, video, ctype, body, len, session_context, NULL, call,
                       expires, now, p, t) == UCWA_CONV_OK) {
        return;
    }
    /* not here: a call already in it (both added at once: neither rings), an application
     * that takes no calls, no call record: the caller's side fails as declined */
    {
        const char *kfe, *kconv;
        ucwa_pool_conv_key(s, c, &kfe, &kconv);
        m = json_pack("{s:s,s:s,s:s,s:s}", "k", "av-stop", "fe", kfe, "conv", kconv, "call",
                      call);
    }
    ucwa_pool_queue_locked(s, UCWA_POOL_SEND, c->peer_fe, NULL, mob_json_dump(p, m, NULL),
                           NULL);
    json_decref(m);
}

void ucwa_conv_remote_answer_added_locked(ucwa_store *s, int idx, const char *call,
                                          int provisional, const ucwa_conv_answer_in *answer,
                                          apr_time_t now, apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);

    if (!added_is(s, c, call) || c->phase != UCWA_CONV_CONNECTED) {
        return;
    }
    if (c->av_phase != UCWA_CONV_INVITING || (int)c->av_side != here_side(c)
        || ucwa_av_put_locked(s, c, UCWA_SDP_ANSWER, answer->ctype, answer->body,
                              answer->len) < 0) {
        if (!provisional) {
            /* it ended here (canceled, no answer by this clock) as it was answered there:
             * the answerer's side ends too */
            ucwa_conv_added_tell(s, c, "av-stop", -1, NULL, p);
        }
        return;
    }
    added_answered(s, c, provisional, answer->cid, answer->session_context, now, p, t);
}

void ucwa_conv_remote_stop_av_locked(ucwa_store *s, int idx, const char *call, apr_time_t now,
                                     apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    int remote = ucwa_conv_remote_side(c);
    ucwa_conv_batch b;

    if (!added_is(s, c, call)
        || (c->av_phase != UCWA_CONV_INVITING && c->av_phase != UCWA_CONV_CONNECTED)) {
        return;
    }
    ucwa_conv_batch_init(&b, s, p);
    ucwa_conv_end_added(s, c, c->av_phase == UCWA_CONV_CONNECTED ? UCWA_CONV_END_LEFT
                    : remote == (int)c->av_side ? UCWA_CONV_END_CANCELED
                    : UCWA_CONV_END_DECLINED, -1, now, p, &b);
    c->last_activity = now;
    ucwa_conv_batch_post(&b, now, t);
}

ucwa_conv_result ucwa_conv_answer_locked(ucwa_store *s, int idx, int app, int provisional,
                                         const char *ctype, const char *body, apr_size_t len,
                                         const char *cid, const char *session_context,
                                         apr_time_t now, apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    ucwa_app *a = ucwa_store_app(s, app);

    if (c->state == UCWA_SLOT_LIVE && c->kind == UCWA_CONV_KIND_MESSAGING) {
        return answer_added(s, c, app, provisional, ctype, body, len, cid, session_context, now,
                            p, t);
    }
    if (c->state != UCWA_SLOT_LIVE || c->phase != UCWA_CONV_INVITING
        || c->kind != UCWA_CONV_KIND_AV || endpoint_index(c, app, a->gen) < 0) {
        return UCWA_CONV_STATE;
    }
    if (!provisional && ucwa_conv_count_locked(s, app, a->gen) >= UCWA_CONV_PER_APP) {
        return UCWA_CONV_TOO_MANY;
    }
    if (!provisional && ucwa_conv_pooled(c) && c->claiming) {
        return UCWA_CONV_STATE;    /* another endpoint's answer is before the pool */
    }
    if (provisional && c->mirror && ucwa_pool_room_locked(s) < 1) {
        return UCWA_CONV_BUSY;
    }
    if (ucwa_conv_store_answer(s, c, provisional, ctype, body, len, cid, session_context) < 0) {
        return UCWA_CONV_TOO_LARGE;
    }
    if (provisional) {
        /* early media: the caller hears it while the call keeps ringing (the caller on
         * another Front End: told through the pool) */
        if (c->mirror) {
            json_t *m = json_object();
            json_object_set_new(m, "cid", json_string(c->accepted_cid));
            json_object_set_new(m, "ctx", json_string(c->session_context[1]));
            ucwa_pool_call_tell_locked(s, c, "provisional", UCWA_SDP_ANSWER, m, p);
        }
        provisional_to_caller(s, c, now, p, t);
        return UCWA_CONV_OK;
    }
    if (ucwa_conv_pooled(c)) {
        /* the first answer in the pool wins: the claim carries this one's key */
        return ucwa_conv_claim(s, c, app, 1, p);
    }
    return ucwa_conv_accept_now(s, idx, app, now, p, t);
}

/* What side gives in connected call c goes to the other side's Front End (side is here,
 * the other elsewhere). */
static int told_to_pool(const ucwa_conv *c, int side)
{
    return c->peer_fe[0] && c->party[side].app >= 0;
}

/* The view of a call's side, with its media, for an event to it; its application or -1. */
static int side_view(ucwa_store *s, const ucwa_conv *c, int side, apr_pool_t *p,
                     ucwa_conv_view *v)
{
    const ucwa_conv_party *pa = &c->party[side];

    if (!app_live(s, pa->app, pa->app_gen)) {
        return -1;
    }
    ucwa_conv_view_of_locked(s, c, side, pa->app, v);
    ucwa_av_view_media_locked(s, v, p);
    return pa->app;
}

ucwa_conv_result ucwa_conv_renegotiate_locked(ucwa_store *s, int idx, int side,
                                              const char *ctype, const char *body,
                                              apr_size_t len, const char *operation_id,
                                              apr_time_t now, apr_pool_t *p,
                                              ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    ucwa_conv_view v;
    int app, crossed = 0;
    ucwa_conv_batch b;

    if (c->state != UCWA_SLOT_LIVE || ucwa_av_phase(c) != UCWA_CONV_CONNECTED) {
        return UCWA_CONV_STATE;
    }
    ucwa_conv_batch_init(&b, s, p);
    if (c->reneg && !c->reneg_done) {
        /* one is open: a second one here is refused (409). Told by the other side's Front
         * End, it is one that crossed the open one on its way (both sides renegotiated at
         * once, each on its Front End): the caller's wins everywhere. The caller's side
         * refuses the callee's (its own stays open); the callee's side fails its own with
         * Conflict, as SIP's 491 makes one side try again, and takes the caller's under the
         * same number, the one the caller's side gave it. */
        if (!c->peer_fe[0] || c->party[side].app >= 0 || side != ucwa_av_caller(c)
            || (int)c->reneg - 1 != 1 - side) {
            return UCWA_CONV_STATE;
        }
        crossed = 1;
        c->reneg_done = UCWA_CONV_RENEG_CROSSED;
        if ((app = side_view(s, c, 1 - side, p, &v)) >= 0) {
            ucwa_conv_add(&b, app, &v, 0, ev_renegotiation(p, &v, "completed", 0));
        }
        c->reneg_done = 0;
    }
    if (told_to_pool(c, side) && ucwa_pool_room_locked(s) < 1) {
        return UCWA_CONV_BUSY;
    }
    if (ucwa_av_put_locked(s, c, UCWA_SDP_RENEG_OFFER, ctype, body, len) < 0) {
        return UCWA_CONV_TOO_LARGE;
    }
    ucwa_av_call_of_locked(s, c)->len[UCWA_SDP_RENEG_ANSWER] = 0;
    c->reneg = (apr_uint32_t)side + 1;
    if (!crossed) {
        c->reneg_n++;
    }
    c->reneg_done = 0;
    c->suspended &= ~(1u << side);     /* its new offer is its way back */
    copy(c->reneg_op, sizeof(c->reneg_op), operation_id);
    c->last_activity = now;
    if (told_to_pool(c, side)) {
        /* the other side is on another Front End: it starts there with the same number
         * (named too, for a SIP side, which keeps no record of the call: ucwa-sipd) */
        ucwa_pool_call_tell_locked(s, c, "reneg", UCWA_SDP_RENEG_OFFER,
                                   json_pack("{s:s,s:I}", "op", c->reneg_op,
                                             "n", (json_int_t)c->reneg_n), p);
    }
    if ((app = side_view(s, c, 1 - side, p, &v)) >= 0) {
        ucwa_conv_add(&b, app, &v, 0, ev_renegotiation(p, &v, "started", 1));
    }
    ucwa_conv_batch_post(&b, now, t);
    return UCWA_CONV_OK;
}

ucwa_conv_result ucwa_conv_reneg_answer_locked(ucwa_store *s, int idx, int side, apr_uint32_t n,
                                               const char *ctype, const char *body,
                                               apr_size_t len, apr_time_t now, apr_pool_t *p,
                                               ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    int origin = (int)c->reneg - 1, app;
    ucwa_conv_view v;
    ucwa_conv_batch b;

    if (c->state != UCWA_SLOT_LIVE || ucwa_av_phase(c) != UCWA_CONV_CONNECTED || !c->reneg
        || c->reneg_done || n != c->reneg_n || side == origin) {
        return UCWA_CONV_STATE;
    }
    if (told_to_pool(c, side) && ucwa_pool_room_locked(s) < 1) {
        return UCWA_CONV_BUSY;
    }
    if (body && ucwa_av_put_locked(s, c, UCWA_SDP_RENEG_ANSWER, ctype, body, len) < 0) {
        return UCWA_CONV_TOO_LARGE;
    }
    c->reneg_done = body ? 1 : 2;
    c->last_activity = now;
    if (told_to_pool(c, side)) {
        ucwa_pool_call_tell_locked(s, c, "reneg-answer", body ? (int)UCWA_SDP_RENEG_ANSWER : -1,
                                   json_pack("{s:I}", "n", (json_int_t)n), p);
    }
    if ((app = side_view(s, c, origin, p, &v)) >= 0) {
        ucwa_conv_batch_init(&b, s, p);
        ucwa_conv_add(&b, app, &v, 0, ev_renegotiation(p, &v, "completed", body != NULL));
        ucwa_conv_batch_post(&b, now, t);
    }
    return UCWA_CONV_OK;
}

ucwa_conv_result ucwa_conv_remote_provisional_locked(ucwa_store *s, int idx,
                                                     const ucwa_conv_answer_in *answer,
                                                     apr_time_t now, apr_pool_t *p,
                                                     ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);

    if (c->state != UCWA_SLOT_LIVE || c->phase != UCWA_CONV_INVITING || c->mirror
        || c->kind != UCWA_CONV_KIND_AV) {
        return UCWA_CONV_STATE;
    }
    if (ucwa_conv_store_answer(s, c, 1, answer->ctype, answer->body, answer->len, answer->cid,
                               answer->session_context) < 0) {
        return UCWA_CONV_TOO_LARGE;
    }
    provisional_to_caller(s, c, now, p, t);
    return UCWA_CONV_OK;
}
