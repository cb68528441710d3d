/* The messaging modality of a conversation (common/ucwa/ucwa_conv.h says what a client
 * sees): the messaging, messagingInvitation, participantMessaging and typingParticipants
 * resources, the events of messages and typing, and the transitions that are messaging's own
 * (a message, typing, stopMessaging). The invitation state machine is ucwa_conv.c's. */
#include <string.h>
#include <apr_strings.h>

#include "mob_json.h"
#include "ucwa_av.h"
#include "ucwa_conv.h"
#include "ucwa_conv_int.h"
#include "ucwa_pool.h"
#include "ucwa_push.h"

/* The href of the view's messagingInvitation of messaging added to a call's conversation. */
static const char *ucwa_conv_added_msg_href(apr_pool_t *p, const ucwa_conv_view *v)
{
    return apr_pstrcat(p, v->base, "/communication/messagingInvitations/",
                       v->c->msg_invitation[v->side], NULL);
}

static int html_negotiated(const ucwa_conv *c)
{
    return c->party[0].html && c->party[1].html;
}

static json_t *messaging(apr_pool_t *p, const ucwa_conv_view *v)
{
    const ucwa_conv *c = v->c;
    json_t *r = json_object(), *links = json_object();
    ucwa_conv_hrefs h;
    ucwa_conv_phase ph;

    ucwa_conv_hrefs_of(p, v, &h);
    /* an IM conversation's messaging, or messaging added to a call's conversation */
    ph = c->kind == UCWA_CONV_KIND_MESSAGING ? (ucwa_conv_phase)c->phase
         : c->phase == UCWA_CONV_CONNECTED ? (ucwa_conv_phase)c->msg_phase : UCWA_CONV_ENDED;
    if (c->kind == UCWA_CONV_KIND_MESSAGING ? c->msg_off
        : ph != UCWA_CONV_INVITING && ph != UCWA_CONV_CONNECTED) {
        /* a call's conversation without messaging (it can be added while the call goes
         * on), or messaging stopped while a call goes on */
        json_object_set_new(r, "state", json_string("Disconnected"));
        json_object_set_new(links, "self", href(h.msg));
        json_object_set_new(links, "conversation", href(h.conv));
        if (c->kind == UCWA_CONV_KIND_AV && c->phase == UCWA_CONV_CONNECTED && !c->av_off) {
            json_object_set_new(links, "addMessaging",
                                href(apr_pstrcat(p, h.msg, "/addMessaging", NULL)));
        }
        json_object_set_new(r, "_links", links);
        json_object_set_new(r, "rel", json_string("messaging"));
        return r;
    }
    json_object_set_new(r, "state", json_string(ph == UCWA_CONV_INVITING ? "Connecting"
                                                : ph == UCWA_CONV_CONNECTED ? "Connected"
                                                : "Disconnected"));
    if (ph == UCWA_CONV_CONNECTED) {
        json_t *formats = json_pack("[s]", "Plain");
        if (html_negotiated(c)) {
            json_array_append_new(formats, json_string("Html"));
        }
        json_object_set_new(r, "negotiatedMessageFormats", formats);
    }
    json_object_set_new(links, "self", href(h.msg));
    json_object_set_new(links, "conversation", href(h.conv));
    if (ph != UCWA_CONV_ENDED) {
        json_object_set_new(links, "stopMessaging",
                            href(apr_pstrcat(p, h.msg, "/terminate", NULL)));
    }
    if (ph == UCWA_CONV_CONNECTED) {
        json_object_set_new(links, "sendMessage", href(apr_pstrcat(p, h.msg, "/messages", NULL)));
        json_object_set_new(links, "setIsTyping", href(apr_pstrcat(p, h.msg, "/typing", NULL)));
        json_object_set_new(links, "typingParticipants", href(h.typing));
    }
    json_object_set_new(r, "_links", links);
    json_object_set_new(r, "rel", json_string("messaging"));
    return r;
}

json_t *ucwa_conv_msg_invitation(apr_pool_t *p, const ucwa_conv_view *v)
{
    const ucwa_conv *c = v->c;
    const ucwa_conv_party *me = &c->party[v->side], *other = &c->party[1 - v->side];
    json_t *r, *links;
    ucwa_conv_hrefs h;
    const char *self, *op;
    int out, inviting, accepted;

    if (c->kind == UCWA_CONV_KIND_AV && !v->added_msg) {
        return ucwa_av_invitation(p, v);
    }
    r = json_object();
    links = json_object();
    ucwa_conv_hrefs_of(p, v, &h);
    /* the conversation's own invitation, or that of messaging added to a call's */
    self = v->added_msg ? ucwa_conv_added_msg_href(p, v) : h.inv;
    out = v->side == (v->added_msg ? (int)c->msg_side : 0);
    inviting = (v->added_msg ? c->msg_phase : c->phase) == UCWA_CONV_INVITING;
    accepted = (int)(v->added_msg ? c->msg_accepted : c->accepted);
    op = v->added_msg ? c->msg_operation_id : me->operation_id;
    json_object_set_new(r, "direction", json_string(out ? "Outgoing" : "Incoming"));
    json_object_set_new(r, "importance", json_string(c->importance));
    json_object_set_new(r, "threadId", json_string(c->thread_id));
    json_object_set_new(r, "state", json_string(ucwa_conv_invitation_state(v)));
    if (out && op[0]) {
        json_object_set_new(r, "operationId", json_string(op));
    }
    json_object_set_new(r, "subject", json_string(c->subject));
    json_object_set_new(links, "self", href(self));
    if (out) {
        json_object_set_new(links, "from", href_title(h.local, me->name));
        json_object_set_new(links, "to",
                            href(apr_pstrcat(p, v->base, "/people/", other->sip, NULL)));
        if (inviting) {
            json_object_set_new(links, "cancel",
                                href(apr_pstrcat(p, h.msg, "/terminate", NULL)));
        }
        json_object_set_new(links, "conversation", href(h.conv));
        json_object_set_new(links, "messaging", href(h.msg));
    }
    else {
        json_object_set_new(links, "to",
                            href(apr_pstrcat(p, v->base, "/people/", me->sip, NULL)));
        json_object_set_new(links, "conversation", href(h.conv));
        if (inviting && !v->answered) {
            json_object_set_new(links, "accept", href(apr_pstrcat(p, self, "/accept", NULL)));
            json_object_set_new(links, "decline", href(apr_pstrcat(p, self, "/decline", NULL)));
        }
        json_object_set_new(links, "messaging", href(h.msg));
    }
    if (c->first[0]) {
        json_object_set_new(links, "message", href(c->first));
    }
    json_object_set_new(r, "_links", links);
    if (out && accepted) {
        json_object_set_new(r, "_embedded", json_pack("{s:[o]}", "acceptedByParticipant",
                                                      ucwa_conv_json_participant(p, v, 0)));
    }
    else if (!out) {
        json_object_set_new(r, "_embedded", json_pack("{s:o}", "from",
                                                      ucwa_conv_json_participant(p, v, 0)));
    }
    json_object_set_new(r, "rel", json_string("messagingInvitation"));
    return r;
}

static json_t *participant_messaging(apr_pool_t *p, const ucwa_conv_view *v, int local)
{
    const ucwa_conv_party *pa = &v->c->party[local ? v->side : 1 - v->side];
    ucwa_conv_hrefs h;
    const char *who;

    ucwa_conv_hrefs_of(p, v, &h);
    who = local ? h.local : h.remote;
    return json_pack("{s:{s:o,s:o},s:s}", "_links",
                     "self", href(apr_pstrcat(p, who, "/messaging", NULL)),
                     "participant", href_title(who, pa->name),
                     "rel", "participantMessaging");
}

json_t *ucwa_conv_res_invitation(apr_pool_t *p, const ucwa_conv_view *v)
{
    return mob_json_own(p, ucwa_conv_msg_invitation(p, v));
}

json_t *ucwa_conv_res_messaging(apr_pool_t *p, const ucwa_conv_view *v)
{
    return mob_json_own(p, messaging(p, v));
}

json_t *ucwa_conv_res_participant_messaging(apr_pool_t *p, const ucwa_conv_view *v, int local)
{
    return mob_json_own(p, participant_messaging(p, v, local));
}

json_t *ucwa_conv_res_typing(apr_pool_t *p, const ucwa_conv_view *v, apr_time_t now)
{
    const ucwa_conv_party *other = &v->c->party[1 - v->side];
    json_t *links = json_object();
    ucwa_conv_hrefs h;

    ucwa_conv_hrefs_of(p, v, &h);
    json_object_set_new(links, "self", href(h.typing));
    if (v->c->phase == UCWA_CONV_CONNECTED && other->typing_until) {
        json_object_set_new(links, "participant",
                            json_pack("[o]", href_title(h.remote, other->name)));
    }
    (void)now;
    return mob_json_own(p, json_pack("{s:o,s:s}", "_links", links, "rel", "typingParticipants"));
}

json_t *ucwa_conv_ev_messaging(apr_pool_t *p, const ucwa_conv_view *v)
{
    ucwa_conv_hrefs h;

    ucwa_conv_hrefs_of(p, v, &h);
    return event(lnk("messaging", h.msg, NULL), NULL, NULL, "messaging", messaging(p, v), NULL,
                 "updated");
}

json_t *ucwa_conv_ev_participant_messaging(apr_pool_t *p, const ucwa_conv_view *v, int local)
{
    const ucwa_conv_party *pa = &v->c->party[local ? v->side : 1 - v->side];
    ucwa_conv_hrefs h;
    const char *who;

    ucwa_conv_hrefs_of(p, v, &h);
    who = local ? h.local : h.remote;
    return event(lnk("participantMessaging", apr_pstrcat(p, who, "/messaging", NULL), NULL),
                 lnk(local ? "localParticipant" : "participant", who, pa->name), NULL,
                 "participantMessaging", local ? participant_messaging(p, v, 1) : NULL, NULL,
                 "added");
}

json_t *ucwa_conv_ev_typing(apr_pool_t *p, const ucwa_conv_view *v, const char *type)
{
    ucwa_conv_hrefs h;

    ucwa_conv_hrefs_of(p, v, &h);
    return event(lnk("participant", h.remote, v->c->party[1 - v->side].name),
                 lnk("typingParticipants", h.typing, NULL), NULL, NULL, NULL, NULL, type);
}

json_t *ucwa_conv_ev_message(apr_pool_t *p, const ucwa_conv_view *v, apr_uint32_t n, int incoming,
                             const char *operation_id, ucwa_msg_format fmt, const char *uri,
                             apr_time_t now)
{
    json_t *m = json_object(), *links = json_object();
    const char *self;
    ucwa_conv_hrefs h;

    ucwa_conv_hrefs_of(p, v, &h);
    self = apr_psprintf(p, "%s/messages/%u", h.msg, n);
    json_object_set_new(m, "direction", json_string(incoming ? "Incoming" : "Outgoing"));
    json_object_set_new(m, "timeStamp", json_string(ucwa_conv_date(p, now)));
    if (operation_id && *operation_id) {
        json_object_set_new(m, "operationId", json_string(operation_id));
    }
    json_object_set_new(links, "self", href(self));
    if (incoming) {
        const ucwa_conv_party *from = &v->c->party[1 - v->side];
        json_object_set_new(links, "contact",
                            href(apr_pstrcat(p, v->base, "/people/", from->sip, NULL)));
        json_object_set_new(links, "participant", href_title(h.remote, from->name));
    }
    json_object_set_new(links, "messaging", href(h.msg));
    if (incoming) {
        json_object_set_new(links, fmt == UCWA_MSG_HTML ? "htmlMessage" : "plainMessage",
                            href(uri));
    }
    json_object_set_new(m, "_links", links);
    json_object_set_new(m, "rel", json_string("message"));
    return event(lnk("message", self, NULL), NULL, "Success", "message", m, NULL, "completed");
}

/* The first message of an invitation as text (NULL when there is none). */
const char *ucwa_conv_first_text(apr_pool_t *p, const ucwa_conv *c, apr_size_t *len)
{
    ucwa_msg_format fmt;
    char *text = NULL;
    const char *why;

    *len = 0;
    if (!c->first[0] || ucwa_message_parse_data_uri(p, c->first, UCWA_CONV_FIRST_MAX, &fmt,
                                                    &text, len, &why) != UCWA_MSG_OK) {
        return NULL;
    }
    return text;
}

/* --- messaging added to a call's conversation (addMessaging) ------------------------- */

/* The added messaging's messagingInvitation started, updated or completed (v->added_msg). */
static json_t *ev_added_invitation(apr_pool_t *p, const ucwa_conv_view *v, const char *type)
{
    const ucwa_conv *c = v->c;
    const char *status = NULL;
    json_t *why = NULL;

    if (!strcmp(type, "completed")) {
        if (c->msg_accepted) {
            status = "Success";
        }
        else {
            status = "Failure";
            why = ucwa_conv_failure_reason_as(v, (int)c->msg_side, (ucwa_conv_end)c->msg_end, 0);
        }
    }
    return event(lnk("messagingInvitation", ucwa_conv_added_msg_href(p, v), NULL), NULL, status,
                 "messagingInvitation", ucwa_conv_msg_invitation(p, v), why, type);
}

/* The view of side sd of c for an event about the added messaging; its application or -1. */
static int added_view(ucwa_store *s, const ucwa_conv *c, int sd, ucwa_conv_view *v)
{
    const ucwa_conv_party *pa = &c->party[sd];

    if (!app_live(s, pa->app, pa->app_gen)) {
        return -1;
    }
    ucwa_conv_view_of_locked(s, c, sd, pa->app, v);
    v->added_msg = 1;
    return pa->app;
}

/* Whether party pa's application (here) takes messaging. */
static int takes_messaging(ucwa_store *s, const ucwa_conv_party *pa)
{
    ucwa_app *a;

    if (!app_live(s, pa->app, pa->app_gen)) {
        return 0;
    }
    a = ucwa_store_app(s, pa->app);
    return a->available && (a->modalities & UCWA_MOD_MESSAGING);
}

/* side adds messaging to c (slot idx): its invitations, and the events of the sides here. */
static void start_added_msg(ucwa_store *s, ucwa_conv *c, int idx, int side,
                            const char *operation_id, apr_time_t expires, apr_time_t now,
                            apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv_view v;
    ucwa_conv_batch b;
    int sd, app;

    c->msg_phase = UCWA_CONV_INVITING;
    c->msg_side = (apr_uint32_t)side;
    c->msg_end = UCWA_CONV_END_NONE;
    c->msg_accepted = 0;
    c->msg_expires = expires;
    ucwa_conv_make_id(c->msg_invitation[0], idx);
    ucwa_conv_make_id(c->msg_invitation[1], idx);
    copy(c->msg_operation_id, sizeof(c->msg_operation_id), operation_id);
    c->party[0].typing_until = c->party[1].typing_until = 0;
    c->last_activity = now;
    ucwa_conv_batch_init(&b, s, p);
    for (sd = 0; sd < 2; sd++) {
        if ((app = added_view(s, c, sd, &v)) < 0) {
            continue;
        }
        ucwa_conv_add(&b, app, &v, 0, ev_added_invitation(p, &v, "started"));
        if (sd == side) {
            ucwa_conv_add(&b, app, &v, 1, ucwa_conv_ev_messaging(p, &v));
        }
    }
    ucwa_conv_batch_post(&b, now, t);
}

ucwa_conv_result ucwa_conv_add_messaging_locked(ucwa_store *s, int idx, int side,
                                                const char *operation_id, apr_time_t expires,
                                                apr_time_t now, apr_pool_t *p,
                                                ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);

    if (c->state != UCWA_SLOT_LIVE || c->kind != UCWA_CONV_KIND_AV
        || c->phase != UCWA_CONV_CONNECTED || c->av_off
        || c->msg_phase == UCWA_CONV_INVITING || c->msg_phase == UCWA_CONV_CONNECTED
        || c->party[side].app < 0) {
        return UCWA_CONV_STATE;
    }
    if (c->peer_fe[0]) {
        /* the other party's Front End decides whether its application takes it */
        if (ucwa_pool_room_locked(s) < 1) {
            return UCWA_CONV_BUSY;
        }
    }
    else if (!takes_messaging(s, &c->party[1 - side])) {
        return UCWA_CONV_STATE;
    }
    start_added_msg(s, c, idx, side, operation_id, expires, now, p, t);
    if (c->peer_fe[0]) {
        ucwa_pool_conv_tell_locked(s, c, "msg-add",
                                   json_pack("{s:I}", "expires", (json_int_t)expires), p);
    }
    return UCWA_CONV_OK;
}

void ucwa_conv_remote_add_messaging_locked(ucwa_store *s, int idx, apr_time_t expires,
                                           apr_time_t now, apr_pool_t *p,
                                           ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    int adder = ucwa_conv_remote_side(c);

    if (c->state != UCWA_SLOT_LIVE || c->kind != UCWA_CONV_KIND_AV || !c->peer_fe[0]
        || c->phase != UCWA_CONV_CONNECTED) {
        return;
    }
    if (!c->av_off && c->msg_phase != UCWA_CONV_INVITING
        && c->msg_phase != UCWA_CONV_CONNECTED && takes_messaging(s, &c->party[1 - adder])) {
        start_added_msg(s, c, idx, adder, NULL, expires, now, p, t);
        return;
    }
    /* not here (both added it at once: neither rings; an application that takes no
     * messaging): the adder's side fails as declined */
    ucwa_pool_conv_tell_locked(s, c, "msg-off", NULL, p);
}

/* The added messaging of c is connected: the events of the sides here. */
static void added_msg_connected(ucwa_store *s, ucwa_conv *c, apr_time_t now, apr_pool_t *p,
                                ucwa_conv_touched *t)
{
    ucwa_conv_view v;
    ucwa_conv_batch b;
    int sd, app;

    c->msg_phase = UCWA_CONV_CONNECTED;
    c->msg_accepted = 1;
    c->last_activity = now;
    ucwa_conv_batch_init(&b, s, p);
    for (sd = 0; sd < 2; sd++) {
        if ((app = added_view(s, c, sd, &v)) < 0) {
            continue;
        }
        ucwa_conv_add(&b, app, &v, 1, ucwa_conv_ev_messaging(p, &v));
        ucwa_conv_add(&b, app, &v, 0, ucwa_conv_ev_conversation(p, &v, "updated"));
        ucwa_conv_add(&b, app, &v, 1, ucwa_conv_ev_participant_messaging(p, &v, 1));
        ucwa_conv_add(&b, app, &v, 1, ucwa_conv_ev_participant_messaging(p, &v, 0));
        ucwa_conv_add(&b, app, &v, 0, ev_added_invitation(p, &v, "completed"));
    }
    ucwa_conv_batch_post(&b, now, t);
}

ucwa_conv_result ucwa_conv_accept_added_msg(ucwa_store *s, ucwa_conv *c, int app,
                                            apr_time_t now, apr_pool_t *p,
                                            ucwa_conv_touched *t)
{
    if (c->msg_phase != UCWA_CONV_INVITING
        || !app_is(&c->party[1 - (int)c->msg_side], app, ucwa_store_app(s, app)->gen)) {
        return UCWA_CONV_STATE;
    }
    if (c->peer_fe[0]) {
        if (ucwa_pool_room_locked(s) < 1) {
            return UCWA_CONV_BUSY;
        }
        ucwa_pool_conv_tell_locked(s, c, "msg-accept", NULL, p);
    }
    added_msg_connected(s, c, now, p, t);
    return UCWA_CONV_OK;
}

void ucwa_conv_remote_msg_accepted_locked(ucwa_store *s, int idx, apr_time_t now,
                                          apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);

    if (c->state != UCWA_SLOT_LIVE || c->kind != UCWA_CONV_KIND_AV || !c->peer_fe[0]
        || c->phase != UCWA_CONV_CONNECTED) {
        return;
    }
    if (c->msg_phase == UCWA_CONV_INVITING && (int)c->msg_side != ucwa_conv_remote_side(c)) {
        added_msg_connected(s, c, now, p, t);
        return;
    }
    /* it ended here (canceled, no answer by this clock) as it was accepted there: the
     * acceptor's side ends too */
    ucwa_pool_conv_tell_locked(s, c, "msg-off", NULL, p);
}

void ucwa_conv_end_added_msg(ucwa_store *s, ucwa_conv *c, ucwa_conv_end why, int gone,
                             ucwa_conv_batch *b)
{
    ucwa_conv_phase was = (ucwa_conv_phase)c->msg_phase;
    ucwa_conv_view v;
    int sd, app;

    c->msg_phase = UCWA_CONV_ENDED;
    c->msg_end = why;
    c->party[0].typing_until = c->party[1].typing_until = 0;
    for (sd = 0; sd < 2; sd++) {
        if (sd == gone || (app = added_view(s, c, sd, &v)) < 0) {
            continue;
        }
        if (was == UCWA_CONV_INVITING) {
            if (sd == (int)c->msg_side) {
                ucwa_conv_add(b, app, &v, 1, ucwa_conv_ev_messaging(b->p, &v));
            }
            ucwa_conv_add(b, app, &v, 0, ev_added_invitation(b->p, &v, "completed"));
        }
        else {
            ucwa_conv_add(b, app, &v, 1, ucwa_conv_ev_messaging(b->p, &v));
            if (c->phase == UCWA_CONV_CONNECTED) {
                ucwa_conv_add(b, app, &v, 0, ucwa_conv_ev_conversation(b->p, &v, "updated"));
            }
        }
    }
}

/* side ends the messaging added to call conversation c: cancels it (its adder, ringing),
 * declines it (the other side, ringing) or stops it (connected); the call goes on. */
static ucwa_conv_result stop_added_msg(ucwa_store *s, ucwa_conv *c, int side, apr_time_t now,
                                       apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv_end why = c->msg_phase == UCWA_CONV_CONNECTED ? UCWA_CONV_END_LEFT
                        : side == (int)c->msg_side ? UCWA_CONV_END_CANCELED
                        : UCWA_CONV_END_DECLINED;
    ucwa_conv_batch b;

    if (c->peer_fe[0] && c->party[side].app >= 0) {
        /* the other side's Front End ends it there too */
        if (ucwa_pool_room_locked(s) < 1) {
            return UCWA_CONV_BUSY;
        }
        ucwa_pool_conv_tell_locked(s, c, "msg-off", NULL, p);
    }
    ucwa_conv_batch_init(&b, s, p);
    ucwa_conv_end_added_msg(s, c, why, -1, &b);
    c->last_activity = now;
    ucwa_conv_batch_post(&b, now, t);
    return UCWA_CONV_OK;
}

ucwa_conv_result ucwa_conv_stop_messaging_locked(ucwa_store *s, int idx, int side,
                                                 apr_time_t now, apr_pool_t *p,
                                                 ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);

    if (c->state == UCWA_SLOT_LIVE && c->kind == UCWA_CONV_KIND_AV
        && c->phase == UCWA_CONV_CONNECTED) {
        if (c->msg_phase == UCWA_CONV_INVITING
            || (c->msg_phase == UCWA_CONV_CONNECTED && !c->av_off)) {
            return stop_added_msg(s, c, side, now, p, t);
        }
        if (c->party[side].app < 0) {
            return UCWA_CONV_STATE;    /* a late word from the other side's Front End */
        }
        /* no messaging beside the call (or the call ended before it): leaving */
    }
    if (c->state != UCWA_SLOT_LIVE || c->kind != UCWA_CONV_KIND_MESSAGING
        || c->phase != UCWA_CONV_CONNECTED || c->av_phase != UCWA_CONV_CONNECTED
        || c->msg_off) {
        return ucwa_conv_leave_locked(s, idx, side, now, p, t);
    }
    if (c->peer_fe[0] && c->party[side].app >= 0) {
        /* the other side's Front End ends messaging there too */
        if (ucwa_pool_room_locked(s) < 1) {
            return UCWA_CONV_BUSY;
        }
        ucwa_conv_added_tell(s, c, "msg-off", -1, NULL, p);
    }
    /* the call goes on: messaging alone ends */
    c->msg_off = 1;
    c->party[0].typing_until = c->party[1].typing_until = 0;
    c->last_activity = now;
    ucwa_conv_modality_off(s, c, ucwa_conv_ev_messaging, now, p, t);
    return UCWA_CONV_OK;
}

ucwa_conv_result ucwa_conv_message_locked(ucwa_store *s, int idx, int side, ucwa_msg_format fmt,
                                          const char *text, apr_size_t len, const char *uri,
                                          const char *operation_id, apr_time_t now,
                                          apr_pool_t *p, apr_uint32_t *number,
                                          ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    ucwa_conv_party *me, *other;
    ucwa_conv_view v;
    ucwa_conv_batch b;

    if (!messaging_on(c)) {
        return UCWA_CONV_STATE;
    }
    me = &c->party[side];
    other = &c->party[1 - side];
    if (!uri) {
        uri = ucwa_message_data_uri(p, fmt, text, len);
    }
    ucwa_conv_batch_init(&b, s, p);
    if (app_live(s, me->app, me->app_gen)) {
        ucwa_conv_view_of_locked(s, c, side, me->app, &v);
        ucwa_conv_add(&b, me->app, &v, 1, ucwa_conv_ev_message(p, &v, c->next_message, 0,
                                                               operation_id, fmt, NULL, now));
    }
    if (app_live(s, other->app, other->app_gen)) {
        ucwa_conv_view_of_locked(s, c, 1 - side, other->app, &v);
        if (me->typing_until) {
            ucwa_conv_add(&b, other->app, &v, 1, ucwa_conv_ev_typing(p, &v, "deleted"));
        }
        ucwa_conv_add(&b, other->app, &v, 1, ucwa_conv_ev_message(p, &v, c->next_message, 1,
                                                                  NULL, fmt, uri, now));
        ucwa_conv_add_push(&b, UCWA_PUSH_MESSAGE, c, me->name, text, len);
    }
    if (!ucwa_conv_batch_fits(&b)) {
        return UCWA_CONV_TOO_LARGE;
    }
    if (c->peer_fe[0] && me->app >= 0) {
        json_t *m = json_object();
        json_object_set_new(m, "uri", json_string(uri));
        json_object_set_new(m, "fmt", json_integer(fmt));
        if (ucwa_pool_conv_tell_locked(s, c, "message", m, p) < 0) {
            return UCWA_CONV_BUSY;
        }
    }
    *number = c->next_message++;
    me->typing_until = 0;
    c->last_activity = now;
    ucwa_conv_batch_post(&b, now, t);
    return UCWA_CONV_OK;
}

ucwa_conv_result ucwa_conv_typing_locked(ucwa_store *s, int idx, int side, apr_time_t now,
                                  apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    ucwa_conv_party *me, *other;
    ucwa_conv_view v;
    ucwa_conv_batch b;

    if (!messaging_on(c)) {
        return UCWA_CONV_STATE;
    }
    me = &c->party[side];
    other = &c->party[1 - side];
    if (!me->typing_until && c->peer_fe[0] && me->app >= 0
        && ucwa_pool_conv_tell_locked(s, c, "typing", NULL, p) < 0) {
        return UCWA_CONV_BUSY;
    }
    if (!me->typing_until && app_live(s, other->app, other->app_gen)) {
        ucwa_conv_batch_init(&b, s, p);
        ucwa_conv_view_of_locked(s, c, 1 - side, other->app, &v);
        ucwa_conv_add(&b, other->app, &v, 1, ucwa_conv_ev_typing(p, &v, "added"));
        ucwa_conv_batch_post(&b, now, t);
    }
    me->typing_until = now + UCWA_CONV_TYPING;
    c->last_activity = now;
    return UCWA_CONV_OK;
}
