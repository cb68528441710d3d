/* Conversations (ucwa_conv.h): the table, the invitation state machine every modality
 * shares, the conversation's and participants' resources, the events' batch, and the remote
 * side of a conversation across Front Ends. Messaging's own part is ucwa_conv_messaging.c,
 * the audioVideo modality's transitions ucwa_conv_av.c; ucwa_conv_int.h is what they share. */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <openssl/rand.h>

#include "mob_json.h"
#include "ucwa_av.h"
#include "ucwa_conv.h"
#include "ucwa_conv_int.h"
#include "ucwa_conv_phone.h"
#include "ucwa_event.h"
#include "ucwa_pool.h"
#include "ucwa_push.h"

/* --- the table ------------------------------------------------------------------- */

static apr_uint32_t max_convs(ucwa_store *s)
{
    return ucwa_store_get_limits(s)->max_convs;
}

apr_uint32_t ucwa_conv_used_locked(ucwa_store *s)
{
    apr_uint32_t end = *ucwa_store_word(s, UCWA_WORD_CONVS_USED), n = max_convs(s);

    return end < n ? end : n;
}

/* digits random hex digits and a NUL into out. */
static void random_hex(char *out, int digits)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char r[32];
    int i;

    memset(r, 0, sizeof(r));
    (void)RAND_bytes(r, (digits + 1) / 2);
    for (i = 0; i < digits; i++) {
        out[i] = hex[(r[i / 2] >> (i % 2 ? 0 : 4)) & 15];
    }
    out[digits] = '\0';
}

/* 8 hex digits of the slot, then 24 random ones. */
void ucwa_conv_make_id(char *out, int idx)
{
    apr_snprintf(out, 9, "%08x", (unsigned)idx);
    random_hex(out + 8, 24);
}

/* The slot an id names (as make_id writes them), or -1. */
static int slot_of(ucwa_store *s, const char *id)
{
    apr_uint32_t v = 0;
    int i;

    for (i = 0; i < 32; i++) {
        char c = id[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) {
            return -1;
        }
        if (i < 8) {
            v = v * 16 + (apr_uint32_t)d;
        }
    }
    if (id[32] != '\0' || v >= max_convs(s)) {
        return -1;
    }
    return (int)v;
}

int ucwa_conv_find_locked(ucwa_store *s, const char *id)
{
    int idx = slot_of(s, id);
    ucwa_conv *c;

    if (idx < 0) {
        return -1;
    }
    c = ucwa_store_conv(s, idx);
    return c->state == UCWA_SLOT_LIVE && !strcmp(c->id, id) ? idx : -1;
}

int ucwa_conv_find_seen_locked(ucwa_store *s, const char *id, int app, int *side)
{
    int conv = ucwa_conv_find_locked(s, id);

    *side = conv >= 0 ? ucwa_conv_side(ucwa_store_conv(s, conv), app,
                                       ucwa_store_app(s, app)->gen) : -1;
    return *side < 0 ? -1 : conv;
}

/* The invitation ids of each kind of record: a conversation's own, those of messaging
 * added to a call's conversation, a call's (its own, or one added to an IM conversation);
 * NULL when the record has none of that kind. */
static const char *own_invitation(const ucwa_conv *c, int side)
{
    return c->party[side].invitation;
}

static const char *added_msg_invitation(const ucwa_conv *c, int side)
{
    return c->kind == UCWA_CONV_KIND_AV && c->msg_phase ? c->msg_invitation[side] : NULL;
}

static const char *av_invitation(const ucwa_conv *c, int side)
{
    return c->kind == UCWA_CONV_KIND_AV || c->av_phase ? ucwa_av_invitation_id(c, side) : NULL;
}

/* The live record whose invitation of that kind id names (*side: whose), or -1. */
static int find_invitation(ucwa_store *s, const char *id, int *side,
                           const char *(*ids)(const ucwa_conv *, int))
{
    int idx = slot_of(s, id), i;
    ucwa_conv *c;

    if (idx < 0) {
        return -1;
    }
    c = ucwa_store_conv(s, idx);
    if (c->state != UCWA_SLOT_LIVE) {
        return -1;
    }
    for (i = 0; i < 2; i++) {
        const char *mine = ids(c, i);
        if (mine && !strcmp(mine, id)) {
            *side = i;
            return idx;
        }
    }
    return -1;
}

int ucwa_conv_find_invitation_locked(ucwa_store *s, const char *id, int *side)
{
    return find_invitation(s, id, side, own_invitation);
}

int ucwa_conv_find_msg_invitation_locked(ucwa_store *s, const char *id, int *side)
{
    return find_invitation(s, id, side, added_msg_invitation);
}

int ucwa_conv_find_av_invitation_locked(ucwa_store *s, const char *id, int *side)
{
    return find_invitation(s, id, side, av_invitation);
}

int ucwa_conv_side(const ucwa_conv *c, int app, apr_uint32_t gen)
{
    if (c->state != UCWA_SLOT_LIVE || c->phase == UCWA_CONV_ENDED) {
        return -1;
    }
    if (app_is(&c->party[0], app, gen)) {
        return 0;
    }
    if (c->phase == UCWA_CONV_INVITING && endpoint_index(c, app, gen) >= 0) {
        return 1;
    }
    if (c->phase == UCWA_CONV_CONNECTED && app_is(&c->party[1], app, gen)) {
        return 1;
    }
    return -1;
}

int ucwa_conv_sees_invitation(const ucwa_conv *c, int side, int app, apr_uint32_t gen)
{
    if (c->state != UCWA_SLOT_LIVE) {
        return 0;
    }
    if (side == 0) {
        return app_is(&c->party[0], app, gen);
    }
    return endpoint_index(c, app, gen) >= 0 || app_is(&c->party[1], app, gen);
}

int ucwa_conv_count_locked(ucwa_store *s, int app, apr_uint32_t gen)
{
    apr_uint32_t i, n = ucwa_conv_used_locked(s);
    int count = 0;

    for (i = 0; i < n; i++) {
        ucwa_conv *c = ucwa_store_conv(s, (int)i);
        if (c->state == UCWA_SLOT_LIVE && c->phase != UCWA_CONV_ENDED
            && (app_is(&c->party[0], app, gen) || app_is(&c->party[1], app, gen))) {
            count++;
        }
    }
    return count;
}

/* A free record, else the ended one that ended first; -1 if there is none. */
static int free_slot(ucwa_store *s)
{
    apr_uint32_t i, n = ucwa_conv_used_locked(s);
    int best = -1;

    for (i = 0; i < n; i++) {
        ucwa_conv *c = ucwa_store_conv(s, (int)i);
        if (c->state != UCWA_SLOT_LIVE) {
            return (int)i;
        }
        if (c->phase == UCWA_CONV_ENDED
            && (best < 0 || c->ended < ucwa_store_conv(s, best)->ended)) {
            best = (int)i;
        }
    }
    if (n < max_convs(s)) {
        /* past the records in use every one is free */
        *ucwa_store_word(s, UCWA_WORD_CONVS_USED) = n + 1;
        return (int)n;
    }
    if (best >= 0) {
        /* the oldest ended record is recycled: its call record goes with it (else it would
         * stay in use, naming a conversation that is no more, and UcwaMaxCalls such
         * recycles would refuse every call) */
        ucwa_conv *c = ucwa_store_conv(s, best);
        ucwa_av_call_free_locked(s, c);
        c->state = UCWA_SLOT_FREE;
    }
    return best;
}

/* --- resources ------------------------------------------------------------------- */

void ucwa_conv_view_res_locked(ucwa_store *s, const ucwa_conv *c, int side, int app,
                               ucwa_conv_view *v)
{
    ucwa_conv_view_of_locked(s, c, side, app, v);
    v->base = ucwa_store_app(s, app)->base;
}

void ucwa_conv_view_of_locked(ucwa_store *s, const ucwa_conv *c, int side, int app,
                       ucwa_conv_view *v)
{
    ucwa_app *a = ucwa_store_app(s, app);

    memset(v, 0, sizeof(*v));
    v->c = c;
    v->side = side;
    v->base = "";              /* an event's: relative to the application (ucwa_event) */
    v->elsewhere = side == 1 && c->accepted && !app_is(&c->party[1], app, a->gen);
    v->calls = a->available && (a->modalities & (UCWA_MOD_AUDIO | UCWA_MOD_VIDEO));
    v->phone_ok = a->outside_voice != 0;
}

void ucwa_conv_hrefs_of(apr_pool_t *p, const ucwa_conv_view *v, ucwa_conv_hrefs *h)
{
    const ucwa_conv *c = v->c;

    h->comm = apr_pstrcat(p, v->base, "/communication", NULL);
    h->conv = apr_pstrcat(p, h->comm, "/conversations/", c->id, NULL);
    h->inv = apr_pstrcat(p, h->comm, c->phone == UCWA_CONV_PHONE_CVW ? "/phoneAudioInvitations/"
                                     : c->kind == UCWA_CONV_KIND_AV ? "/audioVideoInvitations/"
                                     : "/messagingInvitations/",
                         c->party[v->side].invitation, NULL);
    h->msg = apr_pstrcat(p, h->conv, "/messaging", NULL);
    h->local = apr_pstrcat(p, h->conv, "/participants/", c->party[v->side].sip, NULL);
    h->remote = apr_pstrcat(p, h->conv, "/participants/", c->party[1 - v->side].sip, NULL);
    h->typing = apr_pstrcat(p, h->msg, "/typingParticipants", NULL);
}

const char *ucwa_conv_date(apr_pool_t *p, apr_time_t t)
{
    return apr_psprintf(p, "/Date(%" APR_INT64_T_FMT ")/", (apr_int64_t)(t / 1000));
}

static int remote_in(const ucwa_conv_view *v)
{
    /* the inviter is in the invited user's conversation from the start; the invited
     * user joins the inviter's once connected */
    return v->side == 1 || v->c->phase == UCWA_CONV_CONNECTED;
}

json_t *ucwa_conv_json_participant(apr_pool_t *p, const ucwa_conv_view *v, int local)
{
    const ucwa_conv *c = v->c;
    const ucwa_conv_party *pa = &c->party[local ? v->side : 1 - v->side];
    json_t *r = json_object(), *links = json_object();
    ucwa_conv_hrefs h;
    const char *self;

    ucwa_conv_hrefs_of(p, v, &h);
    self = local ? h.local : h.remote;
    json_object_set_new(r, "sourceNetwork", json_string("SameEnterprise"));
    json_object_set_new(r, "anonymous", json_false());
    json_object_set_new(r, "name", json_string(pa->name));
    /* a party from the PSTN (the SIP side) is its number, "tel:+E164" */
    json_object_set_new(r, "uri", json_string(strncmp(pa->sip, "tel:", 4)
                                              ? apr_pstrcat(p, "sip:", pa->sip, NULL)
                                              : pa->sip));
    json_object_set_new(links, "self", href(self));
    json_object_set_new(links, "conversation", href(h.conv));
    if (local) {
        json_object_set_new(links, "me", href(apr_pstrcat(p, v->base, "/me", NULL)));
    }
    else {
        const char *people = apr_pstrcat(p, v->base, "/people/", pa->sip, NULL);
        json_object_set_new(links, "contact", href(people));
        json_object_set_new(links, "contactPresence",
                            href(apr_pstrcat(p, people, "/presence", NULL)));
        json_object_set_new(links, "contactPhoto",
                            href(apr_pstrcat(p, v->base, "/photos/", pa->sip, NULL)));
    }
    if (c->phase == UCWA_CONV_CONNECTED
        && (c->kind == UCWA_CONV_KIND_MESSAGING || c->msg_phase == UCWA_CONV_CONNECTED)) {
        json_object_set_new(links, "participantMessaging",
                            href(apr_pstrcat(p, self, "/messaging", NULL)));
    }
    json_object_set_new(r, "_links", links);
    json_object_set_new(r, "rel", json_string("participant"));
    return r;
}

static json_t *conversation(apr_pool_t *p, const ucwa_conv_view *v)
{
    const ucwa_conv *c = v->c;
    json_t *r = json_object(), *links = json_object(), *mods = json_array();
    const char *state;
    ucwa_conv_hrefs h;

    ucwa_conv_hrefs_of(p, v, &h);
    switch (c->phase) {
    case UCWA_CONV_INVITING:
        state = v->side == 0 ? "Connecting" : "Incoming";
        break;
    case UCWA_CONV_CONNECTED:
        state = "Connected";
        break;
    default:
        state = "Disconnected";
    }
    if (c->phase == UCWA_CONV_CONNECTED || (c->phase == UCWA_CONV_INVITING && v->side == 1)) {
        if (c->kind == UCWA_CONV_KIND_AV) {
            if (c->msg_phase == UCWA_CONV_CONNECTED) {
                json_array_append_new(mods, json_string("Messaging"));   /* added to it */
            }
            if (c->phone) {
                json_array_append_new(mods, json_string("PhoneAudio"));
            }
            else if (!c->av_off) {
                json_array_append_new(mods, json_string("Audio"));
                if (c->video) {
                    json_array_append_new(mods, json_string("Video"));
                }
            }
        }
        else {
            if (!c->msg_off) {
                json_array_append_new(mods, json_string("Messaging"));
            }
            if (c->av_phase == UCWA_CONV_CONNECTED) {
                json_array_append_new(mods, json_string("Audio"));
                if (c->video) {
                    json_array_append_new(mods, json_string("Video"));
                }
            }
        }
    }
    json_object_set_new(r, "state", json_string(state));
    json_object_set_new(r, "threadId", json_string(c->thread_id));
    json_object_set_new(r, "subject", json_string(c->subject));
    json_object_set_new(r, "activeModalities", mods);
    json_object_set_new(r, "importance", json_string(c->importance));
    json_object_set_new(r, "recording", json_false());
    json_object_set_new(links, "self", href(h.conv));
    json_object_set_new(links, "messaging", href(h.msg));
    if (c->phone) {
        json_object_set_new(links, "phoneAudio", href(apr_pstrcat(p, h.conv, "/phoneAudio", NULL)));
    }
    else {
        json_object_set_new(links, "audioVideo",
                            href(apr_pstrcat(p, h.conv, "/audioVideo", NULL)));
    }
    json_object_set_new(links, "participants",
                        href(apr_pstrcat(p, h.conv, "/participants", NULL)));
    if (c->phase == UCWA_CONV_CONNECTED) {
        json_object_set_new(links, "localParticipant",
                            href_title(h.local, c->party[v->side].name));
    }
    json_object_set_new(r, "_links", links);
    json_object_set_new(r, "rel", json_string("conversation"));
    return r;
}

const char *ucwa_conv_href(apr_pool_t *p, const ucwa_conv_view *v)
{
    return apr_pstrcat(p, v->base, "/communication/conversations/", v->c->id, NULL);
}

const char *ucwa_conv_invitation_state(const ucwa_conv_view *v)
{
    const ucwa_conv *c = v->c;
    /* the conversation's own invitation, or that of messaging added to a call's */
    int inviter = v->added_msg ? (int)c->msg_side : 0;

    if ((v->added_msg ? c->msg_phase : c->phase) == UCWA_CONV_INVITING) {
        return "Connecting";
    }
    if (v->added_msg ? c->msg_accepted : c->accepted) {
        return v->side != inviter && v->elsewhere ? "Cancelled" : "Connected";
    }
    switch (v->added_msg ? c->msg_end : c->end) {
    case UCWA_CONV_END_DECLINED:
        return v->side == inviter ? "Failed" : "Declined";
    case UCWA_CONV_END_CANCELED:
        return "Cancelled";
    default:
        return "Failed";
    }
}

json_t *ucwa_conv_res_conversation(apr_pool_t *p, const ucwa_conv_view *v)
{
    return mob_json_own(p, conversation(p, v));
}

json_t *ucwa_conv_res_participant(apr_pool_t *p, const ucwa_conv_view *v, int local)
{
    return mob_json_own(p, ucwa_conv_json_participant(p, v, local));
}

json_t *ucwa_conv_res_participants(apr_pool_t *p, const ucwa_conv_view *v)
{
    const ucwa_conv *c = v->c;
    json_t *links = json_object(), *list = json_array();
    ucwa_conv_hrefs h;

    ucwa_conv_hrefs_of(p, v, &h);
    json_object_set_new(links, "self", href(apr_pstrcat(p, h.conv, "/participants", NULL)));
    json_array_append_new(list, href_title(h.local, c->party[v->side].name));
    if (remote_in(v)) {
        json_array_append_new(list, href_title(h.remote, c->party[1 - v->side].name));
    }
    json_object_set_new(links, "participant", list);
    return mob_json_own(p, json_pack("{s:o,s:s}", "_links", links, "rel", "participants"));
}

int ucwa_conv_participant_of(const ucwa_conv_view *v, const char *sip)
{
    if (!strcasecmp(sip, v->c->party[v->side].sip)) {
        return 1;
    }
    if (remote_in(v) && !strcasecmp(sip, v->c->party[1 - v->side].sip)) {
        return 0;
    }
    return -1;
}

/* --- events ----------------------------------------------------------------------- */

/* Why an invitation (call: a call) failed, from this view: its inviter's (side caller),
 * or an alerted application's. */
json_t *ucwa_conv_failure_reason_as(const ucwa_conv_view *v, int caller, ucwa_conv_end end,
                                    int call)
{
    const char *what = call ? "call" : "invitation";
    char msg[64];

    if (v->side == caller) {
        switch (end) {
        case UCWA_CONV_END_DECLINED:
            apr_snprintf(msg, sizeof(msg), "Your %s was declined.", what);
            return reason("RemoteFailure", "Declined", msg);
        case UCWA_CONV_END_TIMEOUT:
            return reason("RemoteFailure", "Timeout", "The person did not answer in time.");
        case UCWA_CONV_END_CANCELED:
            apr_snprintf(msg, sizeof(msg), "The %s was canceled.", what);
            return reason("LocalFailure", "Canceled", msg);
        default:
            return reason("RemoteFailure", "Unreachable", "The person cannot be reached.");
        }
    }
    if (v->elsewhere) {
        return reason("Informational", "ConnectedElsewhere", call
                      ? "The call was answered on another device."
                      : "The invitation was accepted on another device.");
    }
    if (end == UCWA_CONV_END_DECLINED) {
        apr_snprintf(msg, sizeof(msg), "The %s was declined.", what);
        return reason("Informational", "Declined", msg);
    }
    return reason("Informational", "Missed", call ? "You missed a call."
                                                  : "You missed a conversation.");
}

static json_t *failure_reason(const ucwa_conv_view *v)
{
    return ucwa_conv_failure_reason_as(v, 0, (ucwa_conv_end)v->c->end, 0);
}

static json_t *ev_invitation(apr_pool_t *p, const ucwa_conv_view *v, const char *type)
{
    ucwa_conv_hrefs h;
    const char *status = NULL, *rel;
    json_t *why = NULL;

    if (v->c->kind == UCWA_CONV_KIND_AV) {
        return ucwa_conv_ev_av_invitation(p, v, type);
    }
    ucwa_conv_hrefs_of(p, v, &h);
    if (!strcmp(type, "completed")) {
        if (v->c->accepted && !v->elsewhere) {
            status = "Success";
        }
        else {
            status = "Failure";
            why = failure_reason(v);
        }
    }
    rel = v->c->kind == UCWA_CONV_KIND_AV ? "audioVideoInvitation" : "messagingInvitation";
    return event(lnk(rel, h.inv, NULL), NULL, status, rel, ucwa_conv_msg_invitation(p, v), why,
                 type);
}

json_t *ucwa_conv_ev_conversation(apr_pool_t *p, const ucwa_conv_view *v, const char *type)
{
    ucwa_conv_hrefs h;

    ucwa_conv_hrefs_of(p, v, &h);
    return event(lnk("conversation", h.conv, NULL), NULL, NULL, "conversation",
                 strcmp(type, "deleted") ? conversation(p, v) : NULL, NULL, type);
}

static json_t *ev_local_participant(apr_pool_t *p, const ucwa_conv_view *v)
{
    ucwa_conv_hrefs h;

    ucwa_conv_hrefs_of(p, v, &h);
    return event(lnk("localParticipant", h.local, v->c->party[v->side].name), NULL, NULL,
                 "localParticipant", ucwa_conv_json_participant(p, v, 1), NULL, "added");
}

/* The conversation's modality updated: messaging, or a call's audioVideo. */
static json_t *ev_modality(apr_pool_t *p, const ucwa_conv_view *v)
{
    if (v->c->kind == UCWA_CONV_KIND_AV) {
        return ucwa_conv_ev_av_modality(p, v);
    }
    return ucwa_conv_ev_messaging(p, v);
}

static json_t *ev_participant(apr_pool_t *p, const ucwa_conv_view *v, const char *type)
{
    ucwa_conv_hrefs h;

    ucwa_conv_hrefs_of(p, v, &h);
    return event(lnk("participant", h.remote, v->c->party[1 - v->side].name), NULL, NULL, NULL,
                 NULL, NULL, type);
}

/* Events are gathered first, then posted together: a transition that must fit its
 * events in the slots checks them all before it changes anything. */
typedef struct {
    int app;
    int ok;                        /* ev holds the event (else it was not an event) */
    ucwa_event ev;
    /* the push notification this event makes while the application is in the
     * background (common/push/ucwa_push): kind 0 for none */
    ucwa_push_kind push;
    const char *conversation, *push_sender, *push_text;
    apr_size_t push_len;
} pending;

void ucwa_conv_batch_init(ucwa_conv_batch *b, ucwa_store *s, apr_pool_t *p)
{
    b->s = s;
    b->p = p;
    b->items = apr_array_make(p, 16, sizeof(pending));
}

/* Adds one event (taking the reference) from the sender communication, or from the
 * conversation when from is 1, or from the view's audioVideoInvitation
 * (FROM_AV_INVITATION), to application app. The view is an event's (hrefs relative to
 * the application): the event is kept as data (ucwa_event). A call's event too big for a
 * slot (an offer or answer of several KiB) goes without its _embedded resource: the
 * client GETs its link. */
void ucwa_conv_add(ucwa_conv_batch *b, int app, const ucwa_conv_view *v, int from, json_t *ev)
{
    pending *e = apr_array_push(b->items);
    const char *rel, *sender_rel, *sender_href;
    ucwa_conv_hrefs h;

    memset(e, 0, sizeof(*e));
    ucwa_conv_hrefs_of(b->p, v, &h);
    e->app = app;
    sender_rel = from == UCWA_CONV_FROM_AV_INVITATION
                 ? (v->c->phone == UCWA_CONV_PHONE_CVW ? "phoneAudioInvitation"
                                                       : "audioVideoInvitation")
                 : from ? "conversation" : "communication";
    sender_href = from == UCWA_CONV_FROM_AV_INVITATION ? ucwa_av_href_invitation(b->p, v)
                  : from ? h.conv : h.comm;
    e->ok = ev && ucwa_event_from_json(b->p, sender_rel, sender_href, ev, &e->ev) == 0;
    rel = json_string_value(json_object_get(json_object_get(ev, "link"), "rel"));
    if (e->ok && rel && (!strncmp(rel, "audioVideo", 10) || !strncmp(rel, "phoneAudio", 10))
        && ucwa_event_bytes(&e->ev) > ucwa_store_get_limits(b->s)->event_size) {
        json_object_del(ev, "_embedded");
        e->ok = ucwa_event_from_json(b->p, sender_rel, sender_href, ev, &e->ev) == 0;
    }
    json_decref(ev);
}

/* The last event added also makes a push notification (text: NULL or len bytes). */
void ucwa_conv_add_push(ucwa_conv_batch *b, ucwa_push_kind kind, const ucwa_conv *c,
                        const char *sender, const char *text, apr_size_t len)
{
    pending *e = &APR_ARRAY_IDX(b->items, b->items->nelts - 1, pending);

    e->push = kind;
    e->conversation = c->id;
    e->push_sender = sender;
    e->push_text = text;
    e->push_len = len;
}

int ucwa_conv_batch_fits(const ucwa_conv_batch *b)
{
    apr_size_t size = ucwa_store_get_limits(b->s)->event_size;
    int i;

    for (i = 0; i < b->items->nelts; i++) {
        const pending *e = &APR_ARRAY_IDX(b->items, i, pending);
        if (!e->ok || ucwa_event_bytes(&e->ev) > size) {
            return 0;
        }
    }
    return 1;
}

static void touch(ucwa_conv_touched *t, int app)
{
    int i;

    for (i = 0; i < t->n; i++) {
        if (t->app[i] == app) {
            return;
        }
    }
    if (t->n < (int)(sizeof(t->app) / sizeof(t->app[0]))) {
        t->app[t->n++] = app;
    }
}

void ucwa_conv_batch_post(ucwa_conv_batch *b, apr_time_t now, ucwa_conv_touched *t)
{
    int i;

    for (i = 0; i < b->items->nelts; i++) {
        const pending *e = &APR_ARRAY_IDX(b->items, i, pending);
        if (e->ok) {
            ucwa_store_post_locked(b->s, e->app, UCWA_PRIO_HIGH, &e->ev, now);
        }
        if (e->push) {
            ucwa_push_note_locked(b->s, e->app, e->push, e->conversation, e->push_sender,
                           e->push_text, e->push_len, now);
        }
        touch(t, e->app);
    }
}

/* Every application of user that is available for Messaging becomes an endpoint of c
 * (UCWA_CONV_ENDPOINTS at most); the first one's name names party 1. */
static void gather_endpoints(ucwa_store *s, ucwa_conv *c, int user)
{
    apr_uint32_t want = c->kind == UCWA_CONV_KIND_AV ? (UCWA_MOD_AUDIO | UCWA_MOD_VIDEO)
                                                     : UCWA_MOD_MESSAGING;
    int e;

    for (e = user >= 0 ? ucwa_store_first_app(s, user) : -1;
         e >= 0 && c->endpoints < UCWA_CONV_ENDPOINTS; e = ucwa_store_next_app(s, e)) {
        ucwa_app *a = ucwa_store_app(s, e);
        if (!a->available || !(a->modalities & want)) {
            continue;
        }
        if (!c->party[1].name[0]) {
            copy(c->party[1].name, sizeof(c->party[1].name), a->name);
        }
        c->endpoint[c->endpoints] = (apr_int32_t)e;
        c->endpoint_gen[c->endpoints] = a->gen;
        c->endpoints++;
    }
}

/* The invitation's events to each endpoint of c, with the push of an incoming one. */
static void add_alerts(ucwa_conv_batch *b, const ucwa_conv *c)
{
    ucwa_conv_view v;
    apr_uint32_t i;

    for (i = 0; i < c->endpoints; i++) {
        int app = c->endpoint[i];
        apr_size_t flen;
        const char *ftext = ucwa_conv_first_text(b->p, c, &flen);
        ucwa_conv_view_of_locked(b->s, c, 1, app, &v);
        if (c->kind == UCWA_CONV_KIND_AV) {
            ucwa_av_view_media_locked(b->s, &v, b->p);
            ftext = "Incoming call";
            flen = strlen(ftext);
        }
        ucwa_conv_add(b, app, &v, 0, ev_invitation(b->p, &v, "started"));
        ucwa_conv_add_push(b, c->kind == UCWA_CONV_KIND_AV ? UCWA_PUSH_CALL
                                                           : UCWA_PUSH_INVITATION,
                           c, c->party[0].name, ftext, flen);
        ucwa_conv_add(b, app, &v, 0, ucwa_conv_ev_conversation(b->p, &v, "added"));
        ucwa_conv_add(b, app, &v, 1, ev_local_participant(b->p, &v));
        ucwa_conv_add(b, app, &v, 1, ev_participant(b->p, &v, "added"));
    }
}

/* The inviter's events once its invitation is accepted (here or on another Front End). */
static void add_inviter_connected(ucwa_conv_batch *b, const ucwa_conv *c, apr_time_t now)
{
    int inviter = c->party[0].app;
    ucwa_conv_view v;

    if (!app_live(b->s, inviter, c->party[0].app_gen)) {
        return;
    }
    ucwa_conv_view_of_locked(b->s, c, 0, inviter, &v);
    if (c->phone) {
        /* call via work: no negotiation; the order of calling.md §2.4 */
        ucwa_conv_add(b, inviter, &v, 1, ev_participant(b->p, &v, "added"));
        ucwa_conv_add(b, inviter, &v, 0, ev_invitation(b->p, &v, "completed"));
        ucwa_conv_add(b, inviter, &v, 1, ev_modality(b->p, &v));
        ucwa_conv_add(b, inviter, &v, 0, ucwa_conv_ev_conversation(b->p, &v, "updated"));
        return;
    }
    if (c->kind == UCWA_CONV_KIND_AV) {
        ucwa_av_view_media_locked(b->s, &v, b->p);
        ucwa_conv_add(b, inviter, &v, UCWA_CONV_FROM_AV_INVITATION,
                      ucwa_conv_ev_negotiation(b->p, &v));
        ucwa_conv_add(b, inviter, &v, 0, ucwa_conv_ev_conversation(b->p, &v, "updated"));
        ucwa_conv_add(b, inviter, &v, 1, ev_participant(b->p, &v, "added"));
        ucwa_conv_add(b, inviter, &v, 1, ev_modality(b->p, &v));
        ucwa_conv_add(b, inviter, &v, 0, ev_invitation(b->p, &v, "completed"));
        return;
    }
    ucwa_conv_add(b, inviter, &v, 0, ucwa_conv_ev_conversation(b->p, &v, "updated"));
    ucwa_conv_add(b, inviter, &v, 1, ev_participant(b->p, &v, "added"));
    ucwa_conv_add(b, inviter, &v, 1, ucwa_conv_ev_participant_messaging(b->p, &v, 0));
    ucwa_conv_add(b, inviter, &v, 1, ucwa_conv_ev_participant_messaging(b->p, &v, 1));
    ucwa_conv_add(b, inviter, &v, 1, ev_modality(b->p, &v));
    ucwa_conv_add(b, inviter, &v, 0, ev_invitation(b->p, &v, "completed"));
    if (c->first_number) {
        ucwa_conv_add(b, inviter, &v, 1,
                      ucwa_conv_ev_message(b->p, &v, c->first_number, 0, c->party[0].operation_id,
                                           (ucwa_msg_format)c->first_format, NULL, now));
    }
}

/* The invitation closes for every live endpoint but `except` (-1: none): answered
 * elsewhere, its view says so. */
static void add_endpoints_closed(ucwa_conv_batch *b, const ucwa_conv *c, int except)
{
    ucwa_conv_view v;
    apr_uint32_t i;

    for (i = 0; i < c->endpoints; i++) {
        int other = c->endpoint[i];
        if (other == except || !app_live(b->s, other, c->endpoint_gen[i])) {
            continue;
        }
        ucwa_conv_view_of_locked(b->s, c, 1, other, &v);
        ucwa_conv_add(b, other, &v, 0, ev_invitation(b->p, &v, "completed"));
        ucwa_conv_add(b, other, &v, 0, ucwa_conv_ev_conversation(b->p, &v, "deleted"));
    }
}

/* --- transitions ------------------------------------------------------------------ */

/* The events of an invitation that fails: to the inviter (if still there) and to every
 * endpoint still there. The record must already say ENDED and why. */
static void post_failure(ucwa_store *s, ucwa_conv *c, apr_time_t now, apr_pool_t *p,
                         ucwa_conv_touched *t, int endpoints)
{
    ucwa_conv_view v;
    apr_uint32_t i;
    ucwa_conv_batch b;

    ucwa_conv_batch_init(&b, s, p);
    if (app_live(s, c->party[0].app, c->party[0].app_gen)) {
        int app = c->party[0].app;
        ucwa_conv_view_of_locked(s, c, 0, app, &v);
        ucwa_conv_add(&b, app, &v, 1, ev_modality(p, &v));
        ucwa_conv_add(&b, app, &v, 0, ev_invitation(p, &v, "completed"));
        ucwa_conv_add(&b, app, &v, 0, ucwa_conv_ev_conversation(p, &v, "deleted"));
    }
    for (i = 0; endpoints && i < c->endpoints; i++) {
        int app = c->endpoint[i];
        if (!app_live(s, app, c->endpoint_gen[i])
            || app_is(&c->party[1], app, c->endpoint_gen[i])) {
            continue;
        }
        ucwa_conv_view_of_locked(s, c, 1, app, &v);
        ucwa_conv_add(&b, app, &v, 0, ev_invitation(p, &v, "completed"));
        if (c->end == UCWA_CONV_END_TIMEOUT || c->end == UCWA_CONV_END_CANCELED) {
            ucwa_conv_add_push(&b, c->kind == UCWA_CONV_KIND_AV ? UCWA_PUSH_MISSED_CALL
                                                                : UCWA_PUSH_MISSED,
                               c, c->party[0].name, NULL, 0);
        }
        ucwa_conv_add(&b, app, &v, 0, ucwa_conv_ev_conversation(p, &v, "deleted"));
    }
    ucwa_conv_batch_post(&b, now, t);
}

static void end_invitation(ucwa_store *s, ucwa_conv *c, ucwa_conv_end why, apr_time_t now,
                           apr_pool_t *p, ucwa_conv_touched *t)
{
    /* what the rest of the pool must learn (a timeout is seen by every side's clock) */
    if (c->mirror && why == UCWA_CONV_END_UNREACHABLE) {
        ucwa_pool_conv_tell_locked(s, c, "gone", NULL, p);    /* nobody left to alert here */
    }
    else if (!c->mirror && c->remote_invited && why == UCWA_CONV_END_CANCELED) {
        const char *kfe, *kconv;
        json_t *m = json_object();
        ucwa_pool_conv_key(s, c, &kfe, &kconv);
        json_object_set_new(m, "k", json_string("canceled"));
        json_object_set_new(m, "fe", json_string(kfe));
        json_object_set_new(m, "conv", json_string(kconv));
        ucwa_pool_queue_locked(s, UCWA_POOL_TO_INVITED, kfe, kconv,
                               mob_json_dump(p, m, NULL), NULL);
        json_decref(m);
    }
    if ((why == UCWA_CONV_END_TIMEOUT || why == UCWA_CONV_END_CANCELED) && !c->accepted
        && c->endpoints > 0) {
        c->logs |= UCWA_CONV_LOG_MISSED;
    }
    c->remote_invited = 0;
    c->claiming = 0;
    c->phase = UCWA_CONV_ENDED;
    c->end = why;
    c->ended = now;
    c->party[0].typing_until = c->party[1].typing_until = 0;
    post_failure(s, c, now, p, t, 1);
}

void ucwa_conv_modality_off(ucwa_store *s, const ucwa_conv *c,
                            json_t *(*modality)(apr_pool_t *, const ucwa_conv_view *),
                            apr_time_t now, apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv_view v;
    ucwa_conv_batch b;
    int sd;

    ucwa_conv_batch_init(&b, s, p);
    for (sd = 0; sd < 2; sd++) {
        const ucwa_conv_party *pa = &c->party[sd];
        if (app_live(s, pa->app, pa->app_gen)) {
            ucwa_conv_view_of_locked(s, c, sd, pa->app, &v);
            ucwa_conv_add(&b, pa->app, &v, 1, modality(p, &v));
            ucwa_conv_add(&b, pa->app, &v, 0, ucwa_conv_ev_conversation(p, &v, "updated"));
        }
    }
    ucwa_conv_batch_post(&b, now, t);
}

/* A connected conversation ends because side left (gone: its application is ending and
 * gets no event). */
static void end_connected(ucwa_store *s, ucwa_conv *c, int side, int gone, apr_time_t now,
                          apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv_party *leaver = &c->party[side], *other = &c->party[1 - side];
    int was_typing = leaver->typing_until != 0;
    ucwa_conv_view v;
    ucwa_conv_batch b;

    if (leaver->app >= 0) {
        ucwa_pool_conv_tell_locked(s, c, "left", NULL, p);   /* the leaver is here */
    }
    c->phase = UCWA_CONV_ENDED;
    c->end = UCWA_CONV_END_LEFT;
    c->ended = now;
    leaver->typing_until = other->typing_until = 0;
    ucwa_conv_batch_init(&b, s, p);
    if (c->kind == UCWA_CONV_KIND_MESSAGING
        && (c->av_phase == UCWA_CONV_INVITING || c->av_phase == UCWA_CONV_CONNECTED)) {
        /* a call added to it ends with it */
        ucwa_conv_end_added(s, c, UCWA_CONV_END_LEFT, gone ? side : -1, now, p, &b);
    }
    if (c->kind == UCWA_CONV_KIND_AV
        && (c->msg_phase == UCWA_CONV_INVITING || c->msg_phase == UCWA_CONV_CONNECTED)) {
        /* so does messaging added to a call's conversation */
        ucwa_conv_end_added_msg(s, c, UCWA_CONV_END_LEFT, gone ? side : -1, &b);
    }
    if (!gone && app_live(s, leaver->app, leaver->app_gen)) {
        ucwa_conv_view_of_locked(s, c, side, leaver->app, &v);
        ucwa_conv_add(&b, leaver->app, &v, 1, ev_modality(p, &v));
        ucwa_conv_add(&b, leaver->app, &v, 0, ucwa_conv_ev_conversation(p, &v, "deleted"));
    }
    if (app_live(s, other->app, other->app_gen)) {
        ucwa_conv_view_of_locked(s, c, 1 - side, other->app, &v);
        if (was_typing) {
            ucwa_conv_add(&b, other->app, &v, 1, ucwa_conv_ev_typing(p, &v, "deleted"));
        }
        ucwa_conv_add(&b, other->app, &v, 1, ev_participant(p, &v, "deleted"));
        ucwa_conv_add(&b, other->app, &v, 1, ev_modality(p, &v));
        ucwa_conv_add(&b, other->app, &v, 0, ucwa_conv_ev_conversation(p, &v, "deleted"));
    }
    if (gone) {
        leaver->app = -1;
    }
    ucwa_conv_batch_post(&b, now, t);
}

ucwa_conv_result ucwa_conv_invite_locked(ucwa_store *s, const ucwa_conv_invite_in *in,
                                  apr_time_t now, apr_pool_t *p, int *idx,
                                  ucwa_conv_touched *t)
{
    ucwa_app *from = ucwa_store_app(s, in->app);
    apr_uint32_t i;
    ucwa_conv *c;
    ucwa_conv_view v;
    int slot, to_user, sip;
    ucwa_conv_batch b;

    if (ucwa_conv_count_locked(s, in->app, from->gen) >= UCWA_CONV_PER_APP) {
        return UCWA_CONV_TOO_MANY;
    }
    if (in->first && strlen(in->first) >= UCWA_CONV_FIRST_MAX) {
        return UCWA_CONV_TOO_LARGE;
    }
    if (in->nremote > 0 && ucwa_pool_room_locked(s) < in->nremote) {
        return UCWA_CONV_BUSY;
    }
    slot = free_slot(s);
    if (slot < 0) {
        return UCWA_CONV_FULL;
    }
    /* the record is built aside, and stored only if its events fit */
    c = apr_pcalloc(p, sizeof(*c));
    c->state = UCWA_SLOT_LIVE;
    c->gen = ucwa_store_conv(s, slot)->gen + 1;
    c->phase = UCWA_CONV_INVITING;
    ucwa_conv_make_id(c->id, slot);
    if (in->thread_id && *in->thread_id) {
        copy(c->thread_id, sizeof(c->thread_id), in->thread_id);
    }
    else {
        random_hex(c->thread_id, 32);
    }
    copy(c->subject, sizeof(c->subject), in->subject);
    copy(c->importance, sizeof(c->importance), in->importance ? in->importance : "Normal");
    copy(c->gw_set, sizeof(c->gw_set), in->gw_set);
    c->created = c->last_activity = now;
    c->invite_expires = in->expires;
    c->next_message = 1;
    if (in->first && *in->first) {
        copy(c->first, sizeof(c->first), in->first);
        c->first_format = in->first_format;
        c->first_number = c->next_message++;
    }
    c->party[0].user = (apr_int32_t)from->user;
    c->party[0].app = in->app;
    c->party[0].app_gen = from->gen;
    c->party[0].html = from->html;
    ucwa_conv_make_id(c->party[0].invitation, slot);
    copy(c->party[0].operation_id, sizeof(c->party[0].operation_id), in->operation_id);
    copy(c->party[0].sip, sizeof(c->party[0].sip), ucwa_store_user(s, (int)from->user)->sip);
    copy(c->party[0].name, sizeof(c->party[0].name), from->name);
    to_user = ucwa_store_user_find_locked(s, in->to, 0);
    c->party[1].user = to_user;
    c->party[1].app = -1;
    ucwa_conv_make_id(c->party[1].invitation, slot);
    copy(c->party[1].sip, sizeof(c->party[1].sip), in->to);
    c->kind = in->kind;
    if (c->kind == UCWA_CONV_KIND_AV) {
        ucwa_conv_result r = ucwa_av_call_start_locked(s, c, slot, in->video,
                                                       in->session_context, in->offer_type,
                                                       in->offer, in->offer_len);
        if (r != UCWA_CONV_OK) {
            return r;
        }
        ucwa_av_pool_key_locked(s, c, UCWA_SDP_OFFER, in->offer_key);
    }
    if (in->phone) {
        /* call via work: the SIP side calls the user's phone, then the target */
        ucwa_conv_phone_init(c, in->phone_number, in->phone_gw, in->phone_line);
        c->phone_fail = (apr_uint32_t)in->phone_fail;
    }
    else if (in->fwd_to && *in->fwd_to) {
        /* the callee forwards (mod_ucwa/ucwa_fwd_app.c): nobody rings here, the SIP side
         * calls the target, or rings the callee as for a call from SIP */
        copy(c->fwd_to, sizeof(c->fwd_to), in->fwd_to);
        copy(c->fwd_line, sizeof(c->fwd_line), in->fwd_line);
    }
    else {
        gather_endpoints(s, c, to_user);
        if (c->endpoints > 0 && in->anchor && (ucwa_pool_sip_on(s) || in->sip_fe)) {
            /* anchored: the SIP side rings them, as a call from SIP (mod_ucwa/ucwa_fwd_app.c) */
            c->endpoints = 0;
            apr_snprintf(c->fwd_to, sizeof(c->fwd_to), "sip:%s", in->to);
        }
    }
    /* a call with nobody to ring here nor on other Front Ends goes to the SIP side (a
     * phone, or nobody: Kamailio answers), as to one more Front End */
    sip = c->kind == UCWA_CONV_KIND_AV && c->endpoints == 0 && in->nremote == 0
          && (ucwa_pool_sip_on(s) || in->sip_fe) && !c->phone_fail;
    if (sip && ucwa_pool_room_locked(s) < 1) {
        ucwa_av_call_free_locked(s, c);
        return UCWA_CONV_BUSY;
    }

    ucwa_conv_batch_init(&b, s, p);
    ucwa_conv_view_of_locked(s, c, 0, in->app, &v);
    ucwa_conv_add(&b, in->app, &v, 0, ev_invitation(p, &v, "started"));
    ucwa_conv_add(&b, in->app, &v, 0, ucwa_conv_ev_conversation(p, &v, "added"));
    ucwa_conv_add(&b, in->app, &v, 1, ev_local_participant(p, &v));
    ucwa_conv_add(&b, in->app, &v, 1, ev_modality(p, &v));
    add_alerts(&b, c);
    if (c->first[0]) {
        /* the events that carry the first message later must fit as well */
        ucwa_conv_batch later;
        int ok;
        ucwa_conv_batch_init(&later, s, p);
        for (i = 0; i < c->endpoints; i++) {
            int app = c->endpoint[i];
            ucwa_conv_view_of_locked(s, c, 1, app, &v);
            ucwa_conv_add(&later, app, &v, 0, ev_invitation(p, &v, "completed"));
            ucwa_conv_add(&later, app, &v, 1,
                          ucwa_conv_ev_message(p, &v, c->first_number, 1, NULL,
                                               (ucwa_msg_format)c->first_format, c->first, now));
        }
        ok = ucwa_conv_batch_fits(&later);
        if (!ok) {
            return UCWA_CONV_TOO_LARGE;
        }
    }
    if (!ucwa_conv_batch_fits(&b)) {
        ucwa_av_call_free_locked(s, c);
        return UCWA_CONV_TOO_LARGE;
    }
    *ucwa_store_conv(s, slot) = *c;
    c = ucwa_store_conv(s, slot);
    ucwa_conv_batch_post(&b, now, t);
    if (in->nremote > 0) {
        /* the other Front Ends of the pool alerting the user too */
        c->remote_invited = (apr_uint32_t)in->nremote;
        ucwa_pool_conv_invite_locked(s, c, in->remote_fes, in->nremote, in->expires, p);
    }
    else if (sip) {
        const char *fe = in->sip_fe ? in->sip_fe : UCWA_POOL_SIP_FE;
        c->remote_invited = 1;
        ucwa_pool_conv_invite_locked(s, c, &fe, 1, in->expires, p);
    }
    if (c->endpoints == 0 && c->remote_invited == 0) {
        end_invitation(s, c, UCWA_CONV_END_UNREACHABLE, now, p, t);
    }
    *idx = slot;
    return UCWA_CONV_OK;
}

/* Other Front Ends alert the invited user too: the pool decides whose answer counts. */
int ucwa_conv_pooled(const ucwa_conv *c)
{
    return c->mirror || c->remote_invited > 0;
}

/* An answer that the pool must arbitrate: kept in claiming, decided by
 * ucwa_conv_claimed_locked. STATE while another endpoint's claim is out. */
ucwa_conv_result ucwa_conv_claim(ucwa_store *s, ucwa_conv *c, int app, int accept, apr_pool_t *p)
{
    ucwa_app *a;

    if (c->claiming) {
        return UCWA_CONV_STATE;
    }
    a = ucwa_store_app(s, app);
    if (ucwa_pool_conv_claim_locked(s, c, accept, a->name, (int)a->html, p) < 0) {
        return UCWA_CONV_BUSY;
    }
    c->claiming = (apr_uint32_t)app + 1;
    c->claiming_gen = ucwa_store_app(s, app)->gen;
    return UCWA_CONV_PENDING;
}

ucwa_conv_result ucwa_conv_accept_locked(ucwa_store *s, int idx, int app, apr_time_t now,
                                  apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    ucwa_app *a = ucwa_store_app(s, app);

    if (c->state == UCWA_SLOT_LIVE && c->kind == UCWA_CONV_KIND_AV
        && c->phase == UCWA_CONV_CONNECTED) {
        /* messaging added to the call's conversation */
        return ucwa_conv_accept_added_msg(s, c, app, now, p, t);
    }
    if (c->state != UCWA_SLOT_LIVE || c->phase != UCWA_CONV_INVITING
        || endpoint_index(c, app, a->gen) < 0) {
        return UCWA_CONV_STATE;
    }
    if (ucwa_conv_count_locked(s, app, a->gen) >= UCWA_CONV_PER_APP) {
        return UCWA_CONV_TOO_MANY;
    }
    if (ucwa_conv_pooled(c)) {
        return ucwa_conv_claim(s, c, app, 1, p);
    }
    return ucwa_conv_accept_now(s, idx, app, now, p, t);
}

ucwa_conv_result ucwa_conv_accept_now(ucwa_store *s, int idx, int app, apr_time_t now,
                                      apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    ucwa_app *a = ucwa_store_app(s, app);
    ucwa_conv_view v;
    ucwa_conv_batch b;

    c->claiming = 0;
    c->remote_invited = 0;
    ucwa_conv_batch_init(&b, s, p);
    ucwa_conv_view_of_locked(s, c, 1, app, &v);
    v.answered = 1;
    ucwa_conv_add(&b, app, &v, 0, ev_invitation(p, &v, "updated"));

    c->phase = UCWA_CONV_CONNECTED;
    c->accepted = 1;
    c->logs |= UCWA_CONV_LOG_ARCHIVED;
    c->last_activity = now;
    c->party[1].user = (apr_int32_t)a->user;
    c->party[1].app = app;
    c->party[1].app_gen = a->gen;
    c->party[1].html = a->html;
    copy(c->party[1].name, sizeof(c->party[1].name), a->name);

    ucwa_conv_view_of_locked(s, c, 1, app, &v);
    ucwa_conv_add(&b, app, &v, 1, ev_modality(p, &v));
    ucwa_conv_add(&b, app, &v, 0, ucwa_conv_ev_conversation(p, &v, "updated"));
    if (c->kind == UCWA_CONV_KIND_MESSAGING) {
        ucwa_conv_add(&b, app, &v, 1, ucwa_conv_ev_participant_messaging(p, &v, 1));
        ucwa_conv_add(&b, app, &v, 1, ucwa_conv_ev_participant_messaging(p, &v, 0));
    }
    ucwa_conv_add(&b, app, &v, 1, ev_participant(p, &v, "updated"));
    ucwa_conv_add(&b, app, &v, 0, ev_invitation(p, &v, "completed"));
    if (c->first_number) {
        ucwa_conv_add(&b, app, &v, 1,
                      ucwa_conv_ev_message(p, &v, c->first_number, 1, NULL,
                                           (ucwa_msg_format)c->first_format, c->first, now));
    }
    add_inviter_connected(&b, c, now);
    add_endpoints_closed(&b, c, app);
    ucwa_conv_batch_post(&b, now, t);
    return UCWA_CONV_OK;
}

ucwa_conv_result ucwa_conv_decline_locked(ucwa_store *s, int idx, apr_time_t now, apr_pool_t *p,
                                   ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);

    if (c->state != UCWA_SLOT_LIVE || c->phase != UCWA_CONV_INVITING) {
        return UCWA_CONV_STATE;
    }
    end_invitation(s, c, UCWA_CONV_END_DECLINED, now, p, t);
    return UCWA_CONV_OK;
}

ucwa_conv_result ucwa_conv_decline_by_locked(ucwa_store *s, int idx, int app, apr_time_t now,
                                             apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);

    if (c->state == UCWA_SLOT_LIVE && c->kind == UCWA_CONV_KIND_AV
        && c->phase == UCWA_CONV_CONNECTED) {
        /* messaging added to the call's conversation: its invitation's other side */
        int callee = 1 - (int)c->msg_side;
        if (c->msg_phase != UCWA_CONV_INVITING || app < 0
            || !app_is(&c->party[callee], app, ucwa_store_app(s, app)->gen)) {
            return UCWA_CONV_STATE;
        }
        return ucwa_conv_stop_messaging_locked(s, idx, callee, now, p, t);
    }
    if (c->state != UCWA_SLOT_LIVE || c->phase != UCWA_CONV_INVITING) {
        return UCWA_CONV_STATE;
    }
    if (ucwa_conv_pooled(c) && app >= 0) {
        return ucwa_conv_claim(s, c, app, 0, p);
    }
    end_invitation(s, c, UCWA_CONV_END_DECLINED, now, p, t);
    return UCWA_CONV_OK;
}

ucwa_conv_result ucwa_conv_cancel_locked(ucwa_store *s, int idx, apr_time_t now, apr_pool_t *p,
                                  ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);

    if (c->state != UCWA_SLOT_LIVE || c->phase != UCWA_CONV_INVITING) {
        return UCWA_CONV_STATE;
    }
    if (!c->mirror && c->remote_invited && ucwa_pool_room_locked(s) < 1) {
        return UCWA_CONV_BUSY;    /* the other Front Ends would keep ringing */
    }
    end_invitation(s, c, UCWA_CONV_END_CANCELED, now, p, t);
    return UCWA_CONV_OK;
}

ucwa_conv_result ucwa_conv_leave_locked(ucwa_store *s, int idx, int side, apr_time_t now,
                                 apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);

    if (c->state != UCWA_SLOT_LIVE || c->phase != UCWA_CONV_CONNECTED) {
        return UCWA_CONV_STATE;
    }
    if (c->peer_fe[0] && c->party[side].app >= 0 && ucwa_pool_room_locked(s) < 1) {
        return UCWA_CONV_BUSY;    /* the other side would stay connected to nobody */
    }
    end_connected(s, c, side, 0, now, p, t);
    return UCWA_CONV_OK;
}

void ucwa_conv_app_gone_locked(ucwa_store *s, int idx, int app, apr_time_t now, apr_pool_t *p,
                        ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    apr_uint32_t gen = ucwa_store_app(s, app)->gen;
    int e;

    if (c->state != UCWA_SLOT_LIVE || c->phase == UCWA_CONV_ENDED) {
        return;
    }
    if (app_is(&c->party[0], app, gen)) {
        if (c->phase == UCWA_CONV_INVITING) {
            c->party[0].app = -1;
            end_invitation(s, c, UCWA_CONV_END_CANCELED, now, p, t);
        }
        else {
            end_connected(s, c, 0, 1, now, p, t);
        }
        return;
    }
    if (c->phase == UCWA_CONV_CONNECTED && app_is(&c->party[1], app, gen)) {
        end_connected(s, c, 1, 1, now, p, t);
        return;
    }
    e = endpoint_index(c, app, gen);
    if (c->phase == UCWA_CONV_INVITING && e >= 0) {
        memmove(&c->endpoint[e], &c->endpoint[e + 1],
                sizeof(c->endpoint[0]) * (c->endpoints - (apr_uint32_t)e - 1));
        memmove(&c->endpoint_gen[e], &c->endpoint_gen[e + 1],
                sizeof(c->endpoint_gen[0]) * (c->endpoints - (apr_uint32_t)e - 1));
        c->endpoints--;
        if (c->endpoints == 0) {
            end_invitation(s, c, UCWA_CONV_END_UNREACHABLE, now, p, t);
        }
    }
}

void ucwa_conv_tick_locked(ucwa_store *s, int idx, apr_time_t now, apr_pool_t *p,
                    ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    int side;

    if (c->state != UCWA_SLOT_LIVE) {
        return;
    }
    switch (c->phase) {
    case UCWA_CONV_ENDED:
        if (now - c->ended >= UCWA_CONV_RETAIN) {
            apr_uint32_t *used = ucwa_store_word(s, UCWA_WORD_CONVS_USED);
            ucwa_av_call_free_locked(s, c);
            c->state = UCWA_SLOT_FREE;
            /* the last records free: the scans stop sooner */
            while (*used > 0 && ucwa_store_conv(s, (int)*used - 1)->state != UCWA_SLOT_LIVE) {
                (*used)--;
            }
        }
        break;
    case UCWA_CONV_INVITING:
        if (now >= c->invite_expires) {
            end_invitation(s, c, UCWA_CONV_END_TIMEOUT, now, p, t);
        }
        break;
    case UCWA_CONV_CONNECTED:
        if (c->av_phase == UCWA_CONV_INVITING && now >= c->av_expires) {
            ucwa_conv_batch b;
            ucwa_conv_batch_init(&b, s, p);
            ucwa_conv_end_added(s, c, UCWA_CONV_END_TIMEOUT, -1, now, p, &b);
            ucwa_conv_batch_post(&b, now, t);
        }
        if (c->kind == UCWA_CONV_KIND_AV && c->msg_phase == UCWA_CONV_INVITING
            && now >= c->msg_expires) {
            ucwa_conv_batch b;
            ucwa_conv_batch_init(&b, s, p);
            ucwa_conv_end_added_msg(s, c, UCWA_CONV_END_TIMEOUT, -1, &b);
            c->last_activity = now;
            ucwa_conv_batch_post(&b, now, t);
        }
        for (side = 0; side < 2; side++) {
            ucwa_conv_party *me = &c->party[side], *other = &c->party[1 - side];
            if (me->typing_until && now >= me->typing_until) {
                me->typing_until = 0;
                if (app_live(s, other->app, other->app_gen)) {
                    ucwa_conv_view v;
                    ucwa_conv_batch b;
                    ucwa_conv_batch_init(&b, s, p);
                    ucwa_conv_view_of_locked(s, c, 1 - side, other->app, &v);
                    ucwa_conv_add(&b, other->app, &v, 1, ucwa_conv_ev_typing(p, &v, "deleted"));
                    ucwa_conv_batch_post(&b, now, t);
                }
            }
        }
        break;
    default:
        break;
    }
}

/* --- a pool of Front Ends -------------------------------------------------------- */

int ucwa_conv_remote_side(const ucwa_conv *c)
{
    return c->mirror ? 0 : 1;
}

int ucwa_conv_find_mirror_locked(ucwa_store *s, const char *fe, const char *conv)
{
    apr_uint32_t i, n = ucwa_conv_used_locked(s);

    for (i = 0; i < n; i++) {
        ucwa_conv *c = ucwa_store_conv(s, (int)i);
        if (c->state == UCWA_SLOT_LIVE && c->mirror && !strcmp(c->peer_fe, fe)
            && !strcmp(c->peer_id, conv)) {
            return (int)i;
        }
    }
    return -1;
}

ucwa_conv_result ucwa_conv_mirror_locked(ucwa_store *s, const ucwa_conv_mirror_in *in,
                                         apr_time_t now, apr_pool_t *p, int *idx,
                                         ucwa_conv_touched *t)
{
    ucwa_conv *c;
    int slot, to_user;
    ucwa_conv_batch b;

    to_user = ucwa_store_user_find_locked(s, in->to, 0);
    if (to_user < 0) {
        return UCWA_CONV_STATE;
    }
    if (in->first && strlen(in->first) >= UCWA_CONV_FIRST_MAX) {
        return UCWA_CONV_TOO_LARGE;
    }
    slot = free_slot(s);
    if (slot < 0) {
        return UCWA_CONV_FULL;
    }
    c = apr_pcalloc(p, sizeof(*c));
    c->state = UCWA_SLOT_LIVE;
    c->gen = ucwa_store_conv(s, slot)->gen + 1;
    c->phase = UCWA_CONV_INVITING;
    c->mirror = 1;
    ucwa_conv_make_id(c->id, slot);
    copy(c->peer_fe, sizeof(c->peer_fe), in->fe);
    copy(c->peer_id, sizeof(c->peer_id), in->conv);
    if (in->thread_id && *in->thread_id) {
        copy(c->thread_id, sizeof(c->thread_id), in->thread_id);
    }
    else {
        random_hex(c->thread_id, 32);
    }
    copy(c->subject, sizeof(c->subject), in->subject);
    copy(c->importance, sizeof(c->importance), in->importance ? in->importance : "Normal");
    c->created = c->last_activity = now;
    c->invite_expires = in->expires;
    c->next_message = 1;
    if (in->first && *in->first) {
        copy(c->first, sizeof(c->first), in->first);
        c->first_format = in->first_format;
        c->first_number = c->next_message++;
    }
    c->party[0].user = -1;
    c->party[0].app = -1;      /* on the inviter's Front End */
    c->party[0].html = (apr_uint32_t)(in->from_html != 0);
    ucwa_conv_make_id(c->party[0].invitation, slot);
    copy(c->party[0].sip, sizeof(c->party[0].sip), in->from);
    copy(c->party[0].name, sizeof(c->party[0].name), in->from_name);
    c->party[1].user = to_user;
    c->party[1].app = -1;
    ucwa_conv_make_id(c->party[1].invitation, slot);
    copy(c->party[1].sip, sizeof(c->party[1].sip), in->to);
    c->kind = in->kind == UCWA_CONV_KIND_AV ? UCWA_CONV_KIND_AV : UCWA_CONV_KIND_MESSAGING;
    gather_endpoints(s, c, to_user);
    if (c->endpoints == 0) {
        return UCWA_CONV_STATE;
    }
    if (c->kind == UCWA_CONV_KIND_AV) {
        /* the call's own record here, with the caller's offer */
        ucwa_conv_result r = ucwa_av_call_start_locked(s, c, slot, in->video,
                                                       in->session_context, in->offer_type,
                                                       in->offer, in->offer_len);
        if (r != UCWA_CONV_OK) {
            return r;
        }
    }
    ucwa_conv_batch_init(&b, s, p);
    add_alerts(&b, c);
    if (!ucwa_conv_batch_fits(&b)) {
        ucwa_av_call_free_locked(s, c);
        return UCWA_CONV_TOO_LARGE;
    }
    *ucwa_store_conv(s, slot) = *c;
    c = ucwa_store_conv(s, slot);
    ucwa_conv_batch_post(&b, now, t);
    *idx = slot;
    return UCWA_CONV_OK;
}

ucwa_conv_result ucwa_conv_remote_accepted_locked(ucwa_store *s, int idx, const char *fe,
                                                  const char *peer, const char *name, int html,
                                                  const ucwa_conv_answer_in *answer,
                                                  apr_time_t now, apr_pool_t *p,
                                                  ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    ucwa_conv_batch b;

    if (c->state != UCWA_SLOT_LIVE || c->phase != UCWA_CONV_INVITING || c->mirror) {
        return UCWA_CONV_STATE;
    }
    if (c->kind == UCWA_CONV_KIND_AV && answer) {
        /* the answer that won, for the caller's negotiation */
        ucwa_conv_store_answer(s, c, 0, answer->ctype, answer->body, answer->len, answer->cid,
                               answer->session_context);
    }
    c->phase = UCWA_CONV_CONNECTED;
    c->accepted = 1;
    c->logs |= UCWA_CONV_LOG_ARCHIVED;
    c->remote_invited = 0;
    c->claiming = 0;
    c->last_activity = now;
    c->party[1].app = -1;      /* on fe */
    c->party[1].html = (apr_uint32_t)(html != 0);
    if (name && *name) {
        copy(c->party[1].name, sizeof(c->party[1].name), name);
    }
    copy(c->peer_fe, sizeof(c->peer_fe), fe);
    copy(c->peer_id, sizeof(c->peer_id), peer);
    ucwa_conv_batch_init(&b, s, p);
    add_inviter_connected(&b, c, now);
    add_endpoints_closed(&b, c, -1);
    ucwa_conv_batch_post(&b, now, t);
    return UCWA_CONV_OK;
}

void ucwa_conv_remote_gone_locked(ucwa_store *s, int idx, apr_time_t now, apr_pool_t *p,
                                  ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    apr_uint32_t i;
    int live = 0;

    if (c->state != UCWA_SLOT_LIVE || c->phase != UCWA_CONV_INVITING || c->mirror
        || c->remote_invited == 0) {
        return;
    }
    c->remote_invited--;
    for (i = 0; i < c->endpoints; i++) {
        live += app_live(s, c->endpoint[i], c->endpoint_gen[i]);
    }
    if (c->remote_invited == 0 && !live) {
        end_invitation(s, c, UCWA_CONV_END_UNREACHABLE, now, p, t);
    }
}

void ucwa_conv_elsewhere_locked(ucwa_store *s, int idx, apr_time_t now, apr_pool_t *p,
                                ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    ucwa_conv_batch b;

    if (c->state != UCWA_SLOT_LIVE || c->phase != UCWA_CONV_INVITING) {
        return;
    }
    /* ended as answered elsewhere: the endpoints see ConnectedElsewhere */
    c->accepted = 1;
    c->phase = UCWA_CONV_ENDED;
    c->end = UCWA_CONV_END_LEFT;
    c->ended = now;
    c->claiming = 0;
    c->remote_invited = 0;
    ucwa_conv_batch_init(&b, s, p);
    add_endpoints_closed(&b, c, -1);
    ucwa_conv_batch_post(&b, now, t);
}

void ucwa_conv_claimed_locked(ucwa_store *s, int idx, int accept, int won, apr_time_t now,
                              apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    int app = (int)c->claiming - 1;

    if (won && accept && c->state == UCWA_SLOT_LIVE && c->mirror
        && c->phase == UCWA_CONV_ENDED) {
        /* it ended here (timeout) while the claim was out, but the pool told the inviter
         * it was accepted: the inviter's side ends as this one leaves */
        ucwa_pool_conv_tell_locked(s, c, "left", NULL, p);
        return;
    }
    if (c->state != UCWA_SLOT_LIVE || c->phase != UCWA_CONV_INVITING || !c->claiming) {
        return;
    }
    c->claiming = 0;
    if (!won) {
        return;   /* the winner's message ends this side (elsewhere, declined) */
    }
    if (accept && app_live(s, app, c->claiming_gen)
        && endpoint_index(c, app, c->claiming_gen) >= 0) {
        ucwa_conv_accept_now(s, idx, app, now, p, t);
        return;
    }
    if (accept) {
        /* the endpoint went away meanwhile: nobody takes the conversation here (and the
         * inviter, told it was accepted, sees the accepter leave) */
        c->accepted = 1;
        end_invitation(s, c, UCWA_CONV_END_CANCELED, now, p, t);
        if (c->mirror) {
            ucwa_pool_conv_tell_locked(s, c, "left", NULL, p);
        }
        return;
    }
    c->remote_invited = 0;     /* the others were told by the pool */
    end_invitation(s, c, UCWA_CONV_END_DECLINED, now, p, t);
}

void ucwa_conv_fe_gone_locked(ucwa_store *s, const char *fe, apr_time_t now, apr_pool_t *p,
                              ucwa_conv_touched *t)
{
    ucwa_conv_fe_gone_keep_locked(s, fe, NULL, NULL, now, p, t);
}

void ucwa_conv_fe_gone_keep_locked(ucwa_store *s, const char *fe, ucwa_conv_keep_fn *keep,
                                   void *arg, apr_time_t now, apr_pool_t *p,
                                   ucwa_conv_touched *t)
{
    apr_uint32_t i, n = ucwa_conv_used_locked(s);

    for (i = 0; i < n; i++) {
        ucwa_conv *c = ucwa_store_conv(s, (int)i);
        const char *kfe, *kconv;
        if (c->state != UCWA_SLOT_LIVE || c->phase == UCWA_CONV_ENDED
            || strcmp(c->peer_fe, fe) != 0) {
            continue;
        }
        ucwa_pool_conv_key(s, c, &kfe, &kconv);
        if (keep && c->phase == UCWA_CONV_CONNECTED && keep(kconv, arg)) {
            continue;
        }
        if (c->phase == UCWA_CONV_CONNECTED) {
            /* a Front End that joins again with its store (it had only lost the database)
             * may still hold its side, connected by an accept that crossed this: it ends
             * there too (a Front End really gone drops the message) */
            ucwa_pool_conv_tell_locked(s, c, "left", NULL, p);
        }
        c->peer_fe[0] = '\0';  /* nobody there to tell any more */
        if (c->phase == UCWA_CONV_CONNECTED) {
            end_connected(s, c, ucwa_conv_remote_side(c), 1, now, p, t);
        }
        else if (c->mirror) {
            c->mirror = 0;
            end_invitation(s, c, UCWA_CONV_END_CANCELED, now, p, t);
        }
    }
}

/* --- consistency ------------------------------------------------------------------ */

const char *ucwa_conv_check_locked(ucwa_store *s, ucwa_conv_stats *st, apr_pool_t *p)
{
    /* the records in use only: reading the rest would make the whole table resident */
    apr_uint32_t i, n = ucwa_conv_used_locked(s);
    const char *bad = NULL;

    memset(st, 0, sizeof(*st));
    for (i = 0; i < n; i++) {
        ucwa_conv *c = ucwa_store_conv(s, (int)i);
        int k;
        if (c->state == UCWA_SLOT_FREE) {
            continue;
        }
        if (c->state != UCWA_SLOT_LIVE) {
            bad = apr_psprintf(p, "conversation slot %u in state %u", i, c->state);
            continue;
        }
        st->live++;
        if (slot_of(s, c->id) != (int)i || slot_of(s, c->party[0].invitation) != (int)i
            || slot_of(s, c->party[1].invitation) != (int)i) {
            bad = apr_psprintf(p, "conversation %s is in slot %u", c->id, i);
        }
        if (c->endpoints > UCWA_CONV_ENDPOINTS) {
            bad = apr_psprintf(p, "conversation %s has %u endpoints", c->id, c->endpoints);
            continue;
        }
        for (k = 0; k < (int)c->endpoints; k++) {
            if (c->endpoint[k] < 0 || (apr_uint32_t)c->endpoint[k] >= ucwa_store_max_apps(s)) {
                bad = apr_psprintf(p, "conversation %s: endpoint out of range", c->id);
            }
        }
        switch (c->phase) {
        case UCWA_CONV_INVITING:
            st->inviting++;
            if (c->party[1].app != -1 || c->accepted || (c->party[0].app < 0 && !c->mirror)
                || (c->endpoints == 0 && !c->remote_invited)) {
                bad = apr_psprintf(p, "inviting conversation %s: parties out of order", c->id);
            }
            break;
        case UCWA_CONV_CONNECTED:
            st->connected++;
            if ((c->party[0].app < 0 && !c->mirror) || (c->party[1].app < 0 && c->mirror)
                || (!c->peer_fe[0] && c->party[1].app < 0) || !c->accepted) {
                bad = apr_psprintf(p, "connected conversation %s: parties out of order", c->id);
            }
            break;
        case UCWA_CONV_ENDED:
            st->ended++;
            if (c->end == UCWA_CONV_END_NONE) {
                bad = apr_psprintf(p, "ended conversation %s: no reason", c->id);
            }
            break;
        default:
            bad = apr_psprintf(p, "conversation %s in phase %u", c->id, c->phase);
        }
    }
    return bad;
}
