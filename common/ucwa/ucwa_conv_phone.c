/* The phoneAudio modality: call via work (ucwa_conv_phone.h; docs/extensions.md section 23).
 * Its invitation runs on the shared state machine of ucwa_conv.c as a call to the SIP side;
 * what is phoneAudio's own is here. */
#include <string.h>
#include <apr_strings.h>

#include "ucwa_av.h"
#include "ucwa_conv.h"
#include "ucwa_conv_int.h"
#include "ucwa_conv_phone.h"
#include "ucwa_pool.h"

void ucwa_conv_phone_init(ucwa_conv *c, const char *number, const char *gw, const char *line)
{
    c->phone = 1;
    c->phone_held = 0;
    c->phone_fail = UCWA_PHONE_FAIL_NONE;
    c->phone_leg = UCWA_PHONE_LEG_CALLING;
    copy(c->phone_number, sizeof(c->phone_number), number);
    copy(c->phone_gw, sizeof(c->phone_gw), gw);
    copy(c->phone_line, sizeof(c->phone_line), line);
}

/* --- resources --------------------------------------------------------------------- */

static void add_link(json_t *links, const char *rel, const char *h)
{
    json_object_set_new(links, rel, href(h));
}

const char *ucwa_conv_phone_href_invitation(apr_pool_t *p, const ucwa_conv_view *v)
{
    return apr_pstrcat(p, v->base, "/communication/phoneAudioInvitations/",
                       v->c->party[v->side].invitation, NULL);
}

const char *ucwa_conv_phone_href_modality(apr_pool_t *p, const ucwa_conv_view *v)
{
    return apr_pstrcat(p, ucwa_conv_href(p, v), "/phoneAudio", NULL);
}

/* A party's address as a URI: a number is tel:, a user sip:. */
static const char *uri_of(apr_pool_t *p, const char *a)
{
    return strncmp(a, "tel:", 4) ? apr_pstrcat(p, "sip:", a, NULL) : a;
}

json_t *ucwa_conv_phone_invitation(apr_pool_t *p, const ucwa_conv_view *v)
{
    const ucwa_conv *c = v->c;
    const ucwa_conv_party *me = &c->party[0], *other = &c->party[1];
    const char *self = ucwa_conv_phone_href_invitation(p, v), *conv = ucwa_conv_href(p, v);
    const char *state;
    json_t *r = json_object(), *links = json_object();
    int open = c->phase == UCWA_CONV_INVITING;

    state = open ? "Connecting" : c->accepted ? "Connected"
            : c->end == UCWA_CONV_END_CANCELED || c->phone_fail == UCWA_PHONE_FAIL_CALLBACK_HUNG_UP
              ? "Cancelled" : "Failed";
    json_object_set_new(r, "direction", json_string("Outgoing"));
    json_object_set_new(r, "importance", json_string(c->importance));
    json_object_set_new(r, "threadId", json_string(c->thread_id));
    json_object_set_new(r, "state", json_string(state));
    if (me->operation_id[0]) {
        json_object_set_new(r, "operationId", json_string(me->operation_id));
    }
    json_object_set_new(r, "subject", json_string(c->subject));
    json_object_set_new(r, "phoneNumber", json_string(c->phone_number));
    json_object_set_new(r, "to", json_string(uri_of(p, other->sip)));
    add_link(links, "self", self);
    add_link(links, "from", apr_pstrcat(p, conv, "/participants/", me->sip, NULL));
    if (strncmp(other->sip, "tel:", 4)) {
        add_link(links, "to", apr_pstrcat(p, v->base, "/people/", other->sip, NULL));
    }
    if (open) {
        add_link(links, "cancel", apr_pstrcat(p, ucwa_conv_phone_href_modality(p, v),
                                              "/stopPhoneAudio", NULL));
    }
    add_link(links, "conversation", conv);
    add_link(links, "phoneAudio", ucwa_conv_phone_href_modality(p, v));
    json_object_set_new(r, "_links", links);
    if (c->accepted) {
        json_object_set_new(r, "_embedded", json_pack("{s:[O]}", "acceptedByParticipant",
                                                      ucwa_conv_res_participant(p, v, 0)));
    }
    json_object_set_new(r, "rel", json_string("phoneAudioInvitation"));
    return r;
}

json_t *ucwa_conv_phone_modality(apr_pool_t *p, const ucwa_conv_view *v)
{
    const ucwa_conv *c = v->c;
    const char *self = ucwa_conv_phone_href_modality(p, v);
    json_t *r = json_object(), *links = json_object();
    ucwa_conv_phase ph = ucwa_av_phase(c);

    json_object_set_new(r, "state", json_string(ph == UCWA_CONV_INVITING ? "Connecting"
                                                : ph == UCWA_CONV_CONNECTED ? "Connected"
                                                : "Disconnected"));
    json_object_set_new(r, "phoneNumber", json_string(c->phone_number));
    json_object_set_new(r, "onHold", json_boolean(ph == UCWA_CONV_CONNECTED && c->phone_held));
    add_link(links, "self", self);
    add_link(links, "conversation", ucwa_conv_href(p, v));
    if (ph == UCWA_CONV_INVITING || ph == UCWA_CONV_CONNECTED) {
        add_link(links, "stopPhoneAudio", apr_pstrcat(p, self, "/stopPhoneAudio", NULL));
    }
    if (ph == UCWA_CONV_CONNECTED && c->phone == UCWA_CONV_PHONE_CVW) {
        add_link(links, c->phone_held ? "resumePhoneAudio" : "holdPhoneAudio",
                 apr_pstrcat(p, self, c->phone_held ? "/resumePhoneAudio" : "/holdPhoneAudio",
                             NULL));
    }
    json_object_set_new(r, "_links", links);
    json_object_set_new(r, "rel", json_string("phoneAudio"));
    return r;
}

static const char *const fail_names[UCWA_PHONE_FAIL_MAX] = {
    "", "CallbackNotAnswered", "CallbackBusy", "CallbackUnreachable", "TargetBusy",
    "TargetDeclined", "TargetNotAnswered", "TargetUnreachable", "MediaFailure",
    "CallbackNotAllowed", "TargetNotAllowed", "CallbackHungUp"
};

const char *ucwa_conv_phone_fail_name(ucwa_conv_phone_fail why)
{
    return (unsigned)why < UCWA_PHONE_FAIL_MAX ? fail_names[why] : "";
}

json_t *ucwa_conv_phone_reason(const ucwa_conv *c)
{
    switch ((ucwa_conv_phone_fail)c->phone_fail) {
    case UCWA_PHONE_FAIL_CALLBACK_NO_ANSWER:
        return reason("RemoteFailure", "Timeout", "Your phone did not answer, so the call "
                      "was not placed.");
    case UCWA_PHONE_FAIL_CALLBACK_BUSY:
        return reason("RemoteFailure", "Busy", "Your phone was busy, so the call was not "
                      "placed.");
    case UCWA_PHONE_FAIL_CALLBACK_UNREACHABLE:
        return reason("RemoteFailure", "Unreachable", "Your phone cannot be reached, so the "
                      "call was not placed.");
    case UCWA_PHONE_FAIL_TARGET_BUSY:
        return reason("RemoteFailure", "Busy", "The person you called is busy.");
    case UCWA_PHONE_FAIL_TARGET_DECLINED:
        return reason("RemoteFailure", "Declined", "Your call was declined.");
    case UCWA_PHONE_FAIL_TARGET_NO_ANSWER:
        return reason("RemoteFailure", "Timeout", "The person did not answer in time.");
    case UCWA_PHONE_FAIL_CALLBACK_NOT_ALLOWED:
        return reason("Forbidden", "NotAllowed", "Your voice policy does not allow calls to "
                      "your phone's number.");
    case UCWA_PHONE_FAIL_TARGET_NOT_ALLOWED:
        return reason("Forbidden", "NotAllowed", "Your voice policy does not allow calls to "
                      "this number.");
    case UCWA_PHONE_FAIL_CALLBACK_HUNG_UP:
        return reason("LocalFailure", "Canceled", "You hung up your phone before the person "
                      "answered, so the call was canceled.");
    case UCWA_PHONE_FAIL_MEDIA:
        return reason("ServiceFailure", "MediaFailure", "The two calls could not be "
                      "connected.");
    default:
        return reason("RemoteFailure", "Unreachable", "The person cannot be reached.");
    }
}

/* --- transitions ------------------------------------------------------------------- */

int ucwa_conv_phone_find_locked(ucwa_store *s, const char *kconv)
{
    int idx = kconv ? ucwa_conv_find_locked(s, kconv) : -1;

    return idx >= 0 && ucwa_store_conv(s, idx)->phone ? idx : -1;
}

/* One event to the caller of c (its application live). */
static void tell_caller(ucwa_store *s, const ucwa_conv *c, int modality, apr_time_t now,
                        apr_pool_t *p, ucwa_conv_touched *t)
{
    const ucwa_conv_party *pa = &c->party[0];
    ucwa_conv_batch b;
    ucwa_conv_view v;

    if (!app_live(s, pa->app, pa->app_gen)) {
        return;
    }
    ucwa_conv_batch_init(&b, s, p);
    ucwa_conv_view_of_locked(s, c, 0, pa->app, &v);
    ucwa_conv_add(&b, pa->app, &v, modality,
                  modality ? ucwa_conv_ev_av_modality(p, &v)
                           : ucwa_conv_ev_av_invitation(p, &v, "updated"));
    ucwa_conv_batch_post(&b, now, t);
}

void ucwa_conv_phone_progress_locked(ucwa_store *s, int idx, ucwa_conv_phone_leg leg,
                                     apr_time_t now, apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);

    if (c->state != UCWA_SLOT_LIVE || !c->phone || c->phase != UCWA_CONV_INVITING
        || (apr_uint32_t)leg <= c->phone_leg) {
        return;
    }
    c->phone_leg = (apr_uint32_t)leg;
    c->last_activity = now;
    tell_caller(s, c, 0, now, p, t);
}

void ucwa_conv_phone_failing_locked(ucwa_store *s, int idx, ucwa_conv_phone_fail why)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);

    if (c->state == UCWA_SLOT_LIVE && c->phone && c->phase == UCWA_CONV_INVITING
        && (unsigned)why < UCWA_PHONE_FAIL_MAX) {
        c->phone_fail = (apr_uint32_t)why;
    }
}

ucwa_conv_result ucwa_conv_phone_hold_locked(ucwa_store *s, int idx, int side, int hold,
                                             apr_time_t now, apr_pool_t *p,
                                             ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);

    if (c->state != UCWA_SLOT_LIVE || !c->phone || side != 0
        || ucwa_av_phase(c) != UCWA_CONV_CONNECTED) {
        return UCWA_CONV_STATE;
    }
    if ((c->phone_held != 0) == (hold != 0)) {
        return UCWA_CONV_OK;       /* already so: nothing to tell */
    }
    if (ucwa_pool_room_locked(s) < 1
        || ucwa_pool_conv_tell_locked(s, c, hold ? "hold" : "resume", NULL, p) < 0) {
        return UCWA_CONV_BUSY;
    }
    c->phone_held = hold ? 1 : 0;
    c->last_activity = now;
    tell_caller(s, c, 1, now, p, t);
    return UCWA_CONV_OK;
}

/* --- replaceWithPhoneAudio ------------------------------------------------------------- */

ucwa_conv_result ucwa_conv_phone_replace_locked(ucwa_store *s, int idx, int side,
                                                const char *number, const char *gw,
                                                apr_pool_t *p)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    json_t *m;

    if (c->state != UCWA_SLOT_LIVE || c->kind != UCWA_CONV_KIND_AV || c->phone
        || ucwa_av_phase(c) != UCWA_CONV_CONNECTED || !ucwa_pool_is_any_sip(c->peer_fe)
        || c->phone_number[0] || c->party[side].app < 0) {
        return UCWA_CONV_STATE;
    }
    if (ucwa_pool_room_locked(s) < 1) {
        return UCWA_CONV_BUSY;
    }
    copy(c->phone_number, sizeof(c->phone_number), number);
    copy(c->phone_gw, sizeof(c->phone_gw), gw);
    m = json_pack("{s:s,s:s,s:s}", "pa", c->phone_number, "pgw", c->phone_gw,
                  "user", c->party[side].sip);
    ucwa_pool_conv_tell_locked(s, c, "replace", m, p);
    return UCWA_CONV_OK;
}

void ucwa_conv_phone_replaced_locked(ucwa_store *s, int idx, int ok, apr_time_t now,
                                     apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    int side = c->party[0].app >= 0 ? 0 : 1, app = c->party[side].app;
    ucwa_conv_batch b;
    ucwa_conv_view v;

    if (c->state != UCWA_SLOT_LIVE || c->phone || ucwa_av_phase(c) != UCWA_CONV_CONNECTED) {
        return;
    }
    if (!ok) {
        c->phone_number[0] = c->phone_gw[0] = '\0';   /* it may be asked again */
        return;
    }
    ucwa_conv_batch_init(&b, s, p);
    if (app_live(s, app, c->party[side].app_gen)) {
        ucwa_conv_view_of_locked(s, c, side, app, &v);
        c->av_off = 1;             /* rendered as ended, for its last event */
        ucwa_conv_add(&b, app, &v, 1, ucwa_conv_ev_av_modality(p, &v));
        c->av_off = 0;
    }
    c->phone = UCWA_CONV_PHONE_ANSWERED;
    c->last_activity = now;
    if (app_live(s, app, c->party[side].app_gen)) {
        ucwa_conv_view_of_locked(s, c, side, app, &v);
        ucwa_conv_add(&b, app, &v, 1, ucwa_conv_ev_av_modality(p, &v));
        ucwa_conv_add(&b, app, &v, 0, ucwa_conv_ev_conversation(p, &v, "updated"));
    }
    ucwa_conv_batch_post(&b, now, t);
}
