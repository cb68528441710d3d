#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <openssl/rand.h>

#include "mob_json.h"
#include "ucwa_av.h"
#include "ucwa_conv.h"
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
static void make_id(char *out, int idx)
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

int ucwa_conv_find_invitation_locked(ucwa_store *s, const char *id, int *side)
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
        if (!strcmp(c->party[i].invitation, id)) {
            *side = i;
            return idx;
        }
    }
    return -1;
}

int ucwa_conv_find_av_invitation_locked(ucwa_store *s, const char *id, int *side)
{
    int idx = slot_of(s, id), i;
    ucwa_conv *c;

    if (idx < 0) {
        return -1;
    }
    c = ucwa_store_conv(s, idx);
    if (c->state != UCWA_SLOT_LIVE || (c->kind != UCWA_CONV_KIND_AV && !c->av_phase)) {
        return -1;
    }
    for (i = 0; i < 2; i++) {
        if (!strcmp(ucwa_av_invitation_id(c, i), id)) {
            *side = i;
            return idx;
        }
    }
    return -1;
}

static int app_is(const ucwa_conv_party *pa, int app, apr_uint32_t gen)
{
    return pa->app >= 0 && pa->app == app && pa->app_gen == gen;
}

static int endpoint_index(const ucwa_conv *c, int app, apr_uint32_t gen)
{
    apr_uint32_t i;

    for (i = 0; i < c->endpoints && i < UCWA_CONV_ENDPOINTS; i++) {
        if (c->endpoint[i] == app && c->endpoint_gen[i] == gen) {
            return (int)i;
        }
    }
    return -1;
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

static int app_live(ucwa_store *s, int app, apr_uint32_t gen)
{
    ucwa_app *a;

    if (app < 0 || (apr_uint32_t)app >= ucwa_store_max_apps(s)) {
        return 0;
    }
    a = ucwa_store_app(s, app);
    return a->state == UCWA_SLOT_LIVE && a->gen == gen;
}

/* --- resources ------------------------------------------------------------------- */

void ucwa_conv_view_of_locked(ucwa_store *s, const ucwa_conv *c, int side, int app,
                       ucwa_conv_view *v)
{
    ucwa_app *a = ucwa_store_app(s, app);

    memset(v, 0, sizeof(*v));
    v->c = c;
    v->side = side;
    v->base = a->base;
    v->elsewhere = side == 1 && c->accepted && !app_is(&c->party[1], app, a->gen);
    v->calls = a->available && (a->modalities & (UCWA_MOD_AUDIO | UCWA_MOD_VIDEO));
}

typedef struct {
    const char *comm, *conv, *inv, *msg, *local, *remote, *typing;
} hrefs;

static void hrefs_of(apr_pool_t *p, const ucwa_conv_view *v, hrefs *h)
{
    const ucwa_conv *c = v->c;

    h->comm = apr_pstrcat(p, v->base, "/communication", NULL);
    h->conv = apr_pstrcat(p, h->comm, "/conversations/", c->id, NULL);
    h->inv = apr_pstrcat(p, h->comm, c->kind == UCWA_CONV_KIND_AV ? "/audioVideoInvitations/"
                                     : "/messagingInvitations/",
                         c->party[v->side].invitation, NULL);
    h->msg = apr_pstrcat(p, h->conv, "/messaging", NULL);
    h->local = apr_pstrcat(p, h->conv, "/participants/", c->party[v->side].sip, NULL);
    h->remote = apr_pstrcat(p, h->conv, "/participants/", c->party[1 - v->side].sip, NULL);
    h->typing = apr_pstrcat(p, h->msg, "/typingParticipants", NULL);
}

static json_t *href(const char *h)
{
    json_t *o = json_object();

    json_object_set_new(o, "href", json_string(h));
    return o;
}

static json_t *href_title(const char *h, const char *title)
{
    json_t *o = href(h);

    json_object_set_new(o, "title", json_string(title));
    return o;
}

/* An event's link or in: {rel, href[, title]}. */
static json_t *lnk(const char *rel, const char *h, const char *title)
{
    json_t *o = json_object();

    json_object_set_new(o, "rel", json_string(rel));
    json_object_set_new(o, "href", json_string(h));
    if (title) {
        json_object_set_new(o, "title", json_string(title));
    }
    return o;
}

/* Takes the references it is given (NULL ones are left out). */
static json_t *event(json_t *link, json_t *in, const char *status, const char *emb_key,
                     json_t *emb, json_t *reason, const char *type)
{
    json_t *e = json_object();

    json_object_set_new(e, "link", link);
    if (in) {
        json_object_set_new(e, "in", in);
    }
    if (status) {
        json_object_set_new(e, "status", json_string(status));
    }
    if (emb) {
        json_t *o = json_object();
        json_object_set_new(o, emb_key, emb);
        json_object_set_new(e, "_embedded", o);
    }
    if (reason) {
        json_object_set_new(e, "reason", reason);
    }
    json_object_set_new(e, "type", json_string(type));
    return e;
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

static json_t *participant(apr_pool_t *p, const ucwa_conv_view *v, int local)
{
    const ucwa_conv *c = v->c;
    const ucwa_conv_party *pa = &c->party[local ? v->side : 1 - v->side];
    json_t *r = json_object(), *links = json_object();
    hrefs h;
    const char *self;

    hrefs_of(p, v, &h);
    self = local ? h.local : h.remote;
    json_object_set_new(r, "sourceNetwork", json_string("SameEnterprise"));
    json_object_set_new(r, "anonymous", json_false());
    json_object_set_new(r, "name", json_string(pa->name));
    json_object_set_new(r, "uri", json_string(apr_pstrcat(p, "sip:", pa->sip, NULL)));
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
    if (c->phase == UCWA_CONV_CONNECTED && c->kind == UCWA_CONV_KIND_MESSAGING) {
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
    hrefs h;

    hrefs_of(p, v, &h);
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
            json_array_append_new(mods, json_string("Audio"));
            if (c->video) {
                json_array_append_new(mods, json_string("Video"));
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
    json_object_set_new(links, "audioVideo", href(apr_pstrcat(p, h.conv, "/audioVideo", NULL)));
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

static int html_negotiated(const ucwa_conv *c)
{
    return c->party[0].html && c->party[1].html;
}

static json_t *messaging(apr_pool_t *p, const ucwa_conv_view *v)
{
    const ucwa_conv *c = v->c;
    json_t *r = json_object(), *links = json_object();
    hrefs h;

    hrefs_of(p, v, &h);
    if (c->kind != UCWA_CONV_KIND_MESSAGING || c->msg_off) {
        /* a call's conversation, or messaging stopped while a call goes on (addMessaging
         * is not served) */
        json_object_set_new(r, "state", json_string("Disconnected"));
        json_object_set_new(links, "self", href(h.msg));
        json_object_set_new(links, "conversation", href(h.conv));
        json_object_set_new(r, "_links", links);
        json_object_set_new(r, "rel", json_string("messaging"));
        return r;
    }
    json_object_set_new(r, "state", json_string(c->phase == UCWA_CONV_INVITING ? "Connecting"
                                                : c->phase == UCWA_CONV_CONNECTED ? "Connected"
                                                : "Disconnected"));
    if (c->phase == UCWA_CONV_CONNECTED) {
        json_t *formats = json_pack("[s]", "Plain");
        if (html_negotiated(c)) {
            json_array_append_new(formats, json_string("Html"));
        }
        json_object_set_new(r, "negotiatedMessageFormats", formats);
    }
    json_object_set_new(links, "self", href(h.msg));
    json_object_set_new(links, "conversation", href(h.conv));
    if (c->phase != UCWA_CONV_ENDED) {
        json_object_set_new(links, "stopMessaging",
                            href(apr_pstrcat(p, h.msg, "/terminate", NULL)));
    }
    if (c->phase == UCWA_CONV_CONNECTED) {
        json_object_set_new(links, "sendMessage", href(apr_pstrcat(p, h.msg, "/messages", NULL)));
        json_object_set_new(links, "setIsTyping", href(apr_pstrcat(p, h.msg, "/typing", NULL)));
        json_object_set_new(links, "typingParticipants", href(h.typing));
    }
    json_object_set_new(r, "_links", links);
    json_object_set_new(r, "rel", json_string("messaging"));
    return r;
}

const char *ucwa_conv_href(apr_pool_t *p, const ucwa_conv_view *v)
{
    return apr_pstrcat(p, v->base, "/communication/conversations/", v->c->id, NULL);
}

const char *ucwa_conv_invitation_state(const ucwa_conv_view *v)
{
    const ucwa_conv *c = v->c;

    if (c->phase == UCWA_CONV_INVITING) {
        return "Connecting";
    }
    if (c->accepted) {
        return v->side == 1 && v->elsewhere ? "Cancelled" : "Connected";
    }
    switch (c->end) {
    case UCWA_CONV_END_DECLINED:
        return v->side == 0 ? "Failed" : "Declined";
    case UCWA_CONV_END_CANCELED:
        return "Cancelled";
    default:
        return "Failed";
    }
}

static json_t *invitation(apr_pool_t *p, const ucwa_conv_view *v)
{
    const ucwa_conv *c = v->c;
    const ucwa_conv_party *me = &c->party[v->side], *other = &c->party[1 - v->side];
    json_t *r, *links;
    hrefs h;

    if (c->kind == UCWA_CONV_KIND_AV) {
        return ucwa_av_invitation(p, v);
    }
    r = json_object();
    links = json_object();
    hrefs_of(p, v, &h);
    json_object_set_new(r, "direction", json_string(v->side == 0 ? "Outgoing" : "Incoming"));
    json_object_set_new(r, "importance", json_string(c->importance));
    json_object_set_new(r, "threadId", json_string(c->thread_id));
    json_object_set_new(r, "state", json_string(ucwa_conv_invitation_state(v)));
    if (v->side == 0 && me->operation_id[0]) {
        json_object_set_new(r, "operationId", json_string(me->operation_id));
    }
    json_object_set_new(r, "subject", json_string(c->subject));
    json_object_set_new(links, "self", href(h.inv));
    if (v->side == 0) {
        json_object_set_new(links, "from", href_title(h.local, me->name));
        json_object_set_new(links, "to",
                            href(apr_pstrcat(p, v->base, "/people/", other->sip, NULL)));
        if (c->phase == UCWA_CONV_INVITING) {
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
        if (c->phase == UCWA_CONV_INVITING && !v->answered) {
            json_object_set_new(links, "accept", href(apr_pstrcat(p, h.inv, "/accept", NULL)));
            json_object_set_new(links, "decline", href(apr_pstrcat(p, h.inv, "/decline", NULL)));
        }
        json_object_set_new(links, "messaging", href(h.msg));
    }
    if (c->first[0]) {
        json_object_set_new(links, "message", href(c->first));
    }
    json_object_set_new(r, "_links", links);
    if (v->side == 0 && c->accepted) {
        json_object_set_new(r, "_embedded", json_pack("{s:[o]}", "acceptedByParticipant",
                                                      participant(p, v, 0)));
    }
    else if (v->side == 1) {
        json_object_set_new(r, "_embedded", json_pack("{s:o}", "from", participant(p, v, 0)));
    }
    json_object_set_new(r, "rel", json_string("messagingInvitation"));
    return r;
}

static json_t *participant_messaging(apr_pool_t *p, const ucwa_conv_view *v, int local)
{
    const ucwa_conv_party *pa = &v->c->party[local ? v->side : 1 - v->side];
    hrefs h;
    const char *who;

    hrefs_of(p, v, &h);
    who = local ? h.local : h.remote;
    return json_pack("{s:{s:o,s:o},s:s}", "_links",
                     "self", href(apr_pstrcat(p, who, "/messaging", NULL)),
                     "participant", href_title(who, pa->name),
                     "rel", "participantMessaging");
}

json_t *ucwa_conv_res_conversation(apr_pool_t *p, const ucwa_conv_view *v)
{
    return mob_json_own(p, conversation(p, v));
}

json_t *ucwa_conv_res_invitation(apr_pool_t *p, const ucwa_conv_view *v)
{
    return mob_json_own(p, invitation(p, v));
}

json_t *ucwa_conv_res_messaging(apr_pool_t *p, const ucwa_conv_view *v)
{
    return mob_json_own(p, messaging(p, v));
}

json_t *ucwa_conv_res_participant(apr_pool_t *p, const ucwa_conv_view *v, int local)
{
    return mob_json_own(p, participant(p, v, local));
}

json_t *ucwa_conv_res_participant_messaging(apr_pool_t *p, const ucwa_conv_view *v, int local)
{
    return mob_json_own(p, participant_messaging(p, v, local));
}

json_t *ucwa_conv_res_participants(apr_pool_t *p, const ucwa_conv_view *v)
{
    const ucwa_conv *c = v->c;
    json_t *links = json_object(), *list = json_array();
    hrefs h;

    hrefs_of(p, v, &h);
    json_object_set_new(links, "self", href(apr_pstrcat(p, h.conv, "/participants", NULL)));
    json_array_append_new(list, href_title(h.local, c->party[v->side].name));
    if (remote_in(v)) {
        json_array_append_new(list, href_title(h.remote, c->party[1 - v->side].name));
    }
    json_object_set_new(links, "participant", list);
    return mob_json_own(p, json_pack("{s:o,s:s}", "_links", links, "rel", "participants"));
}

json_t *ucwa_conv_res_typing(apr_pool_t *p, const ucwa_conv_view *v, apr_time_t now)
{
    const ucwa_conv_party *other = &v->c->party[1 - v->side];
    json_t *links = json_object();
    hrefs h;

    hrefs_of(p, v, &h);
    json_object_set_new(links, "self", href(h.typing));
    if (v->c->phase == UCWA_CONV_CONNECTED && other->typing_until) {
        json_object_set_new(links, "participant",
                            json_pack("[o]", href_title(h.remote, other->name)));
    }
    (void)now;
    return mob_json_own(p, json_pack("{s:o,s:s}", "_links", links, "rel", "typingParticipants"));
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

static json_t *reason(const char *code, const char *subcode, const char *message)
{
    return json_pack("{s:s,s:s,s:s}", "code", code, "subcode", subcode, "message", message);
}

/* Why an invitation (call: a call) failed, from this view: its inviter's (side caller),
 * or an alerted application's. */
static json_t *failure_reason_as(const ucwa_conv_view *v, int caller, ucwa_conv_end end,
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
    return failure_reason_as(v, 0, (ucwa_conv_end)v->c->end, 0);
}

/* A call's failure: a call conversation's own, or a call added to an IM conversation. */
static json_t *av_failure_reason(const ucwa_conv_view *v)
{
    const ucwa_conv *c = v->c;

    return failure_reason_as(v, ucwa_av_caller(c),
                             (ucwa_conv_end)(c->kind == UCWA_CONV_KIND_AV ? c->end : c->av_end),
                             1);
}

/* The call's audioVideoInvitation started, updated or completed. */
static json_t *ev_av_invitation(apr_pool_t *p, const ucwa_conv_view *v, const char *type)
{
    const char *status = NULL;
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
    return event(lnk("audioVideoInvitation", ucwa_av_href_invitation(p, v), NULL), NULL,
                 status, "audioVideoInvitation", ucwa_av_invitation(p, v), why, type);
}

static json_t *ev_invitation(apr_pool_t *p, const ucwa_conv_view *v, const char *type)
{
    hrefs h;
    const char *status = NULL, *rel;
    json_t *why = NULL;

    if (v->c->kind == UCWA_CONV_KIND_AV) {
        return ev_av_invitation(p, v, type);
    }
    hrefs_of(p, v, &h);
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
    return event(lnk(rel, h.inv, NULL), NULL, status, rel, invitation(p, v), why, type);
}

static json_t *ev_conversation(apr_pool_t *p, const ucwa_conv_view *v, const char *type)
{
    hrefs h;

    hrefs_of(p, v, &h);
    return event(lnk("conversation", h.conv, NULL), NULL, NULL, "conversation",
                 strcmp(type, "deleted") ? conversation(p, v) : NULL, NULL, type);
}

static json_t *ev_local_participant(apr_pool_t *p, const ucwa_conv_view *v)
{
    hrefs h;

    hrefs_of(p, v, &h);
    return event(lnk("localParticipant", h.local, v->c->party[v->side].name), NULL, NULL,
                 "localParticipant", participant(p, v, 1), NULL, "added");
}

static json_t *ev_messaging(apr_pool_t *p, const ucwa_conv_view *v)
{
    hrefs h;

    hrefs_of(p, v, &h);
    return event(lnk("messaging", h.msg, NULL), NULL, NULL, "messaging", messaging(p, v), NULL,
                 "updated");
}

static json_t *ev_av_modality(apr_pool_t *p, const ucwa_conv_view *v)
{
    return event(lnk("audioVideo", ucwa_av_href_modality(p, v), NULL), NULL, NULL,
                 "audioVideo", ucwa_av_modality(p, v), NULL, "updated");
}

/* The conversation's modality updated: messaging, or a call's audioVideo. */
static json_t *ev_modality(apr_pool_t *p, const ucwa_conv_view *v)
{
    if (v->c->kind == UCWA_CONV_KIND_AV) {
        return ev_av_modality(p, v);
    }
    return ev_messaging(p, v);
}

/* The caller's audioVideoNegotiation updated: the (provisional) answer is in. */
static json_t *ev_negotiation(apr_pool_t *p, const ucwa_conv_view *v)
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
    return event(lnk("audioVideoRenegotiation", ucwa_av_href_renegotiation(p, v), NULL), NULL,
                 strcmp(type, "completed") ? NULL : ok ? "Success" : "Failure",
                 "audioVideoRenegotiation", ucwa_av_renegotiation(p, v),
                 !strcmp(type, "completed") && !ok
                 ? reason("RemoteFailure", "Declined", "The renegotiation was dismissed.")
                 : NULL, type);
}

static json_t *ev_participant(apr_pool_t *p, const ucwa_conv_view *v, const char *type)
{
    hrefs h;

    hrefs_of(p, v, &h);
    return event(lnk("participant", h.remote, v->c->party[1 - v->side].name), NULL, NULL, NULL,
                 NULL, NULL, type);
}

static json_t *ev_participant_messaging(apr_pool_t *p, const ucwa_conv_view *v, int local)
{
    const ucwa_conv_party *pa = &v->c->party[local ? v->side : 1 - v->side];
    hrefs h;
    const char *who;

    hrefs_of(p, v, &h);
    who = local ? h.local : h.remote;
    return event(lnk("participantMessaging", apr_pstrcat(p, who, "/messaging", NULL), NULL),
                 lnk(local ? "localParticipant" : "participant", who, pa->name), NULL,
                 "participantMessaging", local ? participant_messaging(p, v, 1) : NULL, NULL,
                 "added");
}

static json_t *ev_typing(apr_pool_t *p, const ucwa_conv_view *v, const char *type)
{
    hrefs h;

    hrefs_of(p, v, &h);
    return event(lnk("participant", h.remote, v->c->party[1 - v->side].name),
                 lnk("typingParticipants", h.typing, NULL), NULL, NULL, NULL, NULL, type);
}

static json_t *ev_message(apr_pool_t *p, const ucwa_conv_view *v, apr_uint32_t n, int incoming,
                          const char *operation_id, ucwa_msg_format fmt, const char *uri,
                          apr_time_t now)
{
    json_t *m = json_object(), *links = json_object();
    const char *self;
    hrefs h;

    hrefs_of(p, v, &h);
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

/* Events are gathered first, then posted together: a transition that must fit its
 * events in the slots checks them all before it changes anything. */
typedef struct {
    int app;
    const char *sender, *event;
    /* the push notification this event makes while the application is in the
     * background (common/push/ucwa_push): kind 0 for none */
    ucwa_push_kind push;
    const char *conversation, *push_sender, *push_text;
    apr_size_t push_len;
} pending;

typedef struct {
    ucwa_store *s;
    apr_pool_t *p;
    apr_array_header_t *items;
} batch;

static void batch_init(batch *b, ucwa_store *s, apr_pool_t *p)
{
    b->s = s;
    b->p = p;
    b->items = apr_array_make(p, 16, sizeof(pending));
}

#define FROM_AV_INVITATION 2

/* Adds one event (taking the reference) from the sender communication, or from the
 * conversation when from is 1, or from the view's audioVideoInvitation
 * (FROM_AV_INVITATION), to application app. A call's event too big for a slot (an offer or
 * answer of several KiB) goes without its _embedded resource: the client GETs its link. */
static void add(batch *b, int app, const ucwa_conv_view *v, int from, json_t *ev)
{
    pending *e = apr_array_push(b->items);
    const char *rel;
    hrefs h;

    memset(e, 0, sizeof(*e));
    hrefs_of(b->p, v, &h);
    e->app = app;
    e->sender = apr_psprintf(b->p, "\"rel\":\"%s\",\"href\":\"%s\"",
                             from == FROM_AV_INVITATION ? "audioVideoInvitation"
                             : from ? "conversation" : "communication",
                             from == FROM_AV_INVITATION ? ucwa_av_href_invitation(b->p, v)
                             : from ? h.conv : h.comm);
    e->event = mob_json_dump(b->p, ev, NULL);
    rel = json_string_value(json_object_get(json_object_get(ev, "link"), "rel"));
    if (e->event && rel && !strncmp(rel, "audioVideo", 10)
        && strlen(e->sender) + strlen(e->event) + UCWA_CONV_EVENT_SLACK
           > ucwa_store_get_limits(b->s)->event_size) {
        json_object_del(ev, "_embedded");
        e->event = mob_json_dump(b->p, ev, NULL);
    }
    json_decref(ev);
    if (!e->event) {
        e->event = "";
    }
}

/* The last event added also makes a push notification (text: NULL or len bytes). */
static void add_push(batch *b, ucwa_push_kind kind, const ucwa_conv *c, const char *sender,
                     const char *text, apr_size_t len)
{
    pending *e = &APR_ARRAY_IDX(b->items, b->items->nelts - 1, pending);

    e->push = kind;
    e->conversation = c->id;
    e->push_sender = sender;
    e->push_text = text;
    e->push_len = len;
}

/* The first message of an invitation as text (NULL when there is none). */
static const char *first_text(apr_pool_t *p, const ucwa_conv *c, apr_size_t *len)
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

static int batch_fits(const batch *b)
{
    apr_size_t size = ucwa_store_get_limits(b->s)->event_size;
    int i;

    for (i = 0; i < b->items->nelts; i++) {
        const pending *e = &APR_ARRAY_IDX(b->items, i, pending);
        if (!*e->event || strlen(e->sender) + strlen(e->event) + UCWA_CONV_EVENT_SLACK > size) {
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

static void batch_post(batch *b, apr_time_t now, ucwa_conv_touched *t)
{
    int i;

    for (i = 0; i < b->items->nelts; i++) {
        const pending *e = &APR_ARRAY_IDX(b->items, i, pending);
        if (*e->event) {
            ucwa_store_post_locked(b->s, e->app, UCWA_PRIO_HIGH, e->sender, e->event, now);
        }
        if (e->push) {
            ucwa_push_note_locked(b->s, e->app, e->push, e->conversation, e->push_sender,
                           e->push_text, e->push_len, now);
        }
        touch(t, e->app);
    }
}

static void copy(char *dst, apr_size_t size, const char *src)
{
    apr_cpystrn(dst, src ? src : "", size);
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
static void add_alerts(batch *b, const ucwa_conv *c)
{
    ucwa_conv_view v;
    apr_uint32_t i;

    for (i = 0; i < c->endpoints; i++) {
        int app = c->endpoint[i];
        apr_size_t flen;
        const char *ftext = first_text(b->p, c, &flen);
        ucwa_conv_view_of_locked(b->s, c, 1, app, &v);
        if (c->kind == UCWA_CONV_KIND_AV) {
            ucwa_av_view_media_locked(b->s, &v, b->p);
            ftext = "Incoming call";
            flen = strlen(ftext);
        }
        add(b, app, &v, 0, ev_invitation(b->p, &v, "started"));
        add_push(b, c->kind == UCWA_CONV_KIND_AV ? UCWA_PUSH_CALL : UCWA_PUSH_INVITATION, c,
                 c->party[0].name, ftext, flen);
        add(b, app, &v, 0, ev_conversation(b->p, &v, "added"));
        add(b, app, &v, 1, ev_local_participant(b->p, &v));
        add(b, app, &v, 1, ev_participant(b->p, &v, "added"));
    }
}

/* The inviter's events once its invitation is accepted (here or on another Front End). */
static void add_inviter_connected(batch *b, const ucwa_conv *c, apr_time_t now)
{
    int inviter = c->party[0].app;
    ucwa_conv_view v;

    if (!app_live(b->s, inviter, c->party[0].app_gen)) {
        return;
    }
    ucwa_conv_view_of_locked(b->s, c, 0, inviter, &v);
    if (c->kind == UCWA_CONV_KIND_AV) {
        ucwa_av_view_media_locked(b->s, &v, b->p);
        add(b, inviter, &v, FROM_AV_INVITATION, ev_negotiation(b->p, &v));
        add(b, inviter, &v, 0, ev_conversation(b->p, &v, "updated"));
        add(b, inviter, &v, 1, ev_participant(b->p, &v, "added"));
        add(b, inviter, &v, 1, ev_modality(b->p, &v));
        add(b, inviter, &v, 0, ev_invitation(b->p, &v, "completed"));
        return;
    }
    add(b, inviter, &v, 0, ev_conversation(b->p, &v, "updated"));
    add(b, inviter, &v, 1, ev_participant(b->p, &v, "added"));
    add(b, inviter, &v, 1, ev_participant_messaging(b->p, &v, 0));
    add(b, inviter, &v, 1, ev_participant_messaging(b->p, &v, 1));
    add(b, inviter, &v, 1, ev_modality(b->p, &v));
    add(b, inviter, &v, 0, ev_invitation(b->p, &v, "completed"));
    if (c->first_number) {
        add(b, inviter, &v, 1, ev_message(b->p, &v, c->first_number, 0,
                                          c->party[0].operation_id,
                                          (ucwa_msg_format)c->first_format, NULL, now));
    }
}

/* The invitation closes for every live endpoint but `except` (-1: none): answered
 * elsewhere, its view says so. */
static void add_endpoints_closed(batch *b, const ucwa_conv *c, int except)
{
    ucwa_conv_view v;
    apr_uint32_t i;

    for (i = 0; i < c->endpoints; i++) {
        int other = c->endpoint[i];
        if (other == except || !app_live(b->s, other, c->endpoint_gen[i])) {
            continue;
        }
        ucwa_conv_view_of_locked(b->s, c, 1, other, &v);
        add(b, other, &v, 0, ev_invitation(b->p, &v, "completed"));
        add(b, other, &v, 0, ev_conversation(b->p, &v, "deleted"));
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
    batch b;

    batch_init(&b, s, p);
    if (app_live(s, c->party[0].app, c->party[0].app_gen)) {
        int app = c->party[0].app;
        ucwa_conv_view_of_locked(s, c, 0, app, &v);
        add(&b, app, &v, 1, ev_modality(p, &v));
        add(&b, app, &v, 0, ev_invitation(p, &v, "completed"));
        add(&b, app, &v, 0, ev_conversation(p, &v, "deleted"));
    }
    for (i = 0; endpoints && i < c->endpoints; i++) {
        int app = c->endpoint[i];
        if (!app_live(s, app, c->endpoint_gen[i]) || app_is(&c->party[1], app, c->endpoint_gen[i])) {
            continue;
        }
        ucwa_conv_view_of_locked(s, c, 1, app, &v);
        add(&b, app, &v, 0, ev_invitation(p, &v, "completed"));
        if (c->end == UCWA_CONV_END_TIMEOUT || c->end == UCWA_CONV_END_CANCELED) {
            add_push(&b, c->kind == UCWA_CONV_KIND_AV ? UCWA_PUSH_MISSED_CALL : UCWA_PUSH_MISSED,
                     c, c->party[0].name, NULL, 0);
        }
        add(&b, app, &v, 0, ev_conversation(p, &v, "deleted"));
    }
    batch_post(&b, now, t);
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
            batch b;
            batch_init(&b, s, p);
            ucwa_conv_view_of_locked(s, c, side, pa->app, &v);
            add(&b, pa->app, &v, 1, event(lnk("audioVideoSession",
                                              apr_pstrcat(p, ucwa_av_href_modality(p, &v),
                                                          "/audioVideoSession", NULL), NULL),
                                          NULL, NULL, "audioVideoSession",
                                          ucwa_av_session(p, &v), NULL, "updated"));
            batch_post(&b, now, t);
        }
    }
}

/* A call added to an IM conversation ends (why), with the events of each side into b (but
 * to side `gone`, whose application is ending: -1 for none). */
static void end_added(ucwa_store *s, ucwa_conv *c, ucwa_conv_end why, int gone,
                      apr_time_t now, apr_pool_t *p, batch *b)
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
                add(b, pa->app, &v, 1, ev_av_modality(p, &v));
            }
            add(b, pa->app, &v, 0, ev_av_invitation(p, &v, "completed"));
            if (sd != caller && (why == UCWA_CONV_END_TIMEOUT || why == UCWA_CONV_END_CANCELED)) {
                add_push(b, UCWA_PUSH_MISSED_CALL, c, c->party[caller].name, NULL, 0);
            }
        }
        else {
            add(b, pa->app, &v, 1, ev_av_modality(p, &v));
            if (c->phase == UCWA_CONV_CONNECTED) {
                add(b, pa->app, &v, 0, ev_conversation(p, &v, "updated"));
            }
        }
    }
    (void)now;
}

/* A connected conversation ends because side left (gone: its application is ending and
 * gets no event). */
static void end_connected(ucwa_store *s, ucwa_conv *c, int side, int gone, apr_time_t now,
                          apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv_party *leaver = &c->party[side], *other = &c->party[1 - side];
    int was_typing = leaver->typing_until != 0;
    ucwa_conv_view v;
    batch b;

    if (leaver->app >= 0) {
        ucwa_pool_conv_tell_locked(s, c, "left", NULL, p);   /* the leaver is here */
    }
    c->phase = UCWA_CONV_ENDED;
    c->end = UCWA_CONV_END_LEFT;
    c->ended = now;
    leaver->typing_until = other->typing_until = 0;
    batch_init(&b, s, p);
    if (c->kind == UCWA_CONV_KIND_MESSAGING
        && (c->av_phase == UCWA_CONV_INVITING || c->av_phase == UCWA_CONV_CONNECTED)) {
        /* a call added to it ends with it */
        end_added(s, c, UCWA_CONV_END_LEFT, gone ? side : -1, now, p, &b);
    }
    if (!gone && app_live(s, leaver->app, leaver->app_gen)) {
        ucwa_conv_view_of_locked(s, c, side, leaver->app, &v);
        add(&b, leaver->app, &v, 1, ev_modality(p, &v));
        add(&b, leaver->app, &v, 0, ev_conversation(p, &v, "deleted"));
    }
    if (app_live(s, other->app, other->app_gen)) {
        ucwa_conv_view_of_locked(s, c, 1 - side, other->app, &v);
        if (was_typing) {
            add(&b, other->app, &v, 1, ev_typing(p, &v, "deleted"));
        }
        add(&b, other->app, &v, 1, ev_participant(p, &v, "deleted"));
        add(&b, other->app, &v, 1, ev_modality(p, &v));
        add(&b, other->app, &v, 0, ev_conversation(p, &v, "deleted"));
    }
    if (gone) {
        leaver->app = -1;
    }
    batch_post(&b, now, t);
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
    batch b;

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
    make_id(c->id, slot);
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
    c->party[0].user = (apr_int32_t)from->user;
    c->party[0].app = in->app;
    c->party[0].app_gen = from->gen;
    c->party[0].html = from->html;
    make_id(c->party[0].invitation, slot);
    copy(c->party[0].operation_id, sizeof(c->party[0].operation_id), in->operation_id);
    copy(c->party[0].sip, sizeof(c->party[0].sip), ucwa_store_user(s, (int)from->user)->sip);
    copy(c->party[0].name, sizeof(c->party[0].name), from->name);
    to_user = ucwa_store_user_find_locked(s, in->to, 0);
    c->party[1].user = to_user;
    c->party[1].app = -1;
    make_id(c->party[1].invitation, slot);
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
    gather_endpoints(s, c, to_user);
    /* a call with nobody to ring here nor on other Front Ends goes to the SIP side (a
     * phone, or nobody: Kamailio answers), as to one more Front End */
    sip = c->kind == UCWA_CONV_KIND_AV && c->endpoints == 0 && in->nremote == 0
          && ucwa_pool_sip_on(s);
    if (sip && ucwa_pool_room_locked(s) < 1) {
        ucwa_av_call_free_locked(s, c);
        return UCWA_CONV_BUSY;
    }

    batch_init(&b, s, p);
    ucwa_conv_view_of_locked(s, c, 0, in->app, &v);
    add(&b, in->app, &v, 0, ev_invitation(p, &v, "started"));
    add(&b, in->app, &v, 0, ev_conversation(p, &v, "added"));
    add(&b, in->app, &v, 1, ev_local_participant(p, &v));
    add(&b, in->app, &v, 1, ev_modality(p, &v));
    add_alerts(&b, c);
    if (c->first[0]) {
        /* the events that carry the first message later must fit as well */
        batch later;
        int ok;
        batch_init(&later, s, p);
        for (i = 0; i < c->endpoints; i++) {
            int app = c->endpoint[i];
            ucwa_conv_view_of_locked(s, c, 1, app, &v);
            add(&later, app, &v, 0, ev_invitation(p, &v, "completed"));
            add(&later, app, &v, 1, ev_message(p, &v, c->first_number, 1, NULL,
                                               (ucwa_msg_format)c->first_format, c->first,
                                               now));
        }
        ok = batch_fits(&later);
        if (!ok) {
            return UCWA_CONV_TOO_LARGE;
        }
    }
    if (!batch_fits(&b)) {
        ucwa_av_call_free_locked(s, c);
        return UCWA_CONV_TOO_LARGE;
    }
    *ucwa_store_conv(s, slot) = *c;
    c = ucwa_store_conv(s, slot);
    batch_post(&b, now, t);
    if (in->nremote > 0) {
        /* the other Front Ends of the pool alerting the user too */
        c->remote_invited = (apr_uint32_t)in->nremote;
        ucwa_pool_conv_invite_locked(s, c, in->remote_fes, in->nremote, in->expires, p);
    }
    else if (sip) {
        const char *fe = UCWA_POOL_SIP_FE;
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
static int pooled(const ucwa_conv *c)
{
    return c->mirror || c->remote_invited > 0;
}

/* An answer that the pool must arbitrate: kept in claiming, decided by
 * ucwa_conv_claimed_locked. STATE while another endpoint's claim is out. */
static ucwa_conv_result claim(ucwa_store *s, ucwa_conv *c, int app, int accept, apr_pool_t *p)
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

static ucwa_conv_result accept_now(ucwa_store *s, int idx, int app, apr_time_t now,
                                   apr_pool_t *p, ucwa_conv_touched *t);

ucwa_conv_result ucwa_conv_accept_locked(ucwa_store *s, int idx, int app, apr_time_t now,
                                  apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    ucwa_app *a = ucwa_store_app(s, app);

    if (c->state != UCWA_SLOT_LIVE || c->phase != UCWA_CONV_INVITING
        || endpoint_index(c, app, a->gen) < 0) {
        return UCWA_CONV_STATE;
    }
    if (ucwa_conv_count_locked(s, app, a->gen) >= UCWA_CONV_PER_APP) {
        return UCWA_CONV_TOO_MANY;
    }
    if (pooled(c)) {
        return claim(s, c, app, 1, p);
    }
    return accept_now(s, idx, app, now, p, t);
}

static ucwa_conv_result accept_now(ucwa_store *s, int idx, int app, apr_time_t now,
                                   apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    ucwa_app *a = ucwa_store_app(s, app);
    ucwa_conv_view v;
    batch b;

    c->claiming = 0;
    c->remote_invited = 0;
    batch_init(&b, s, p);
    ucwa_conv_view_of_locked(s, c, 1, app, &v);
    v.answered = 1;
    add(&b, app, &v, 0, ev_invitation(p, &v, "updated"));

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
    add(&b, app, &v, 1, ev_modality(p, &v));
    add(&b, app, &v, 0, ev_conversation(p, &v, "updated"));
    if (c->kind == UCWA_CONV_KIND_MESSAGING) {
        add(&b, app, &v, 1, ev_participant_messaging(p, &v, 1));
        add(&b, app, &v, 1, ev_participant_messaging(p, &v, 0));
    }
    add(&b, app, &v, 1, ev_participant(p, &v, "updated"));
    add(&b, app, &v, 0, ev_invitation(p, &v, "completed"));
    if (c->first_number) {
        add(&b, app, &v, 1, ev_message(p, &v, c->first_number, 1, NULL,
                                       (ucwa_msg_format)c->first_format, c->first, now));
    }
    add_inviter_connected(&b, c, now);
    add_endpoints_closed(&b, c, app);
    batch_post(&b, now, t);
    return UCWA_CONV_OK;
}

/* Keeps a call's (provisional) answer in c's record. -1 if it cannot be kept. */
static int store_answer(ucwa_store *s, ucwa_conv *c, int provisional, const char *ctype,
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
    batch b;

    if (!app_live(s, c->party[0].app, c->party[0].app_gen)) {
        return;
    }
    batch_init(&b, s, p);
    ucwa_conv_view_of_locked(s, c, 0, c->party[0].app, &v);
    ucwa_av_view_media_locked(s, &v, p);
    add(&b, c->party[0].app, &v, FROM_AV_INVITATION, ev_negotiation(p, &v));
    batch_post(&b, now, t);
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
static int added_tell(ucwa_store *s, const ucwa_conv *c, const char *kind, int sdp_kind,
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
    batch b;

    c->provisional = provisional ? 1 : 0;
    copy(c->accepted_cid, sizeof(c->accepted_cid), cid);
    copy(c->session_context[callee], sizeof(c->session_context[callee]), session_context);
    if (!provisional) {
        c->av_phase = UCWA_CONV_CONNECTED;
        c->av_accepted = 1;
        c->logs |= UCWA_CONV_LOG_CALL_ARCHIVED;
        c->last_activity = now;
    }
    batch_init(&b, s, p);
    if (!provisional && app_live(s, me->app, me->app_gen)) {
        ucwa_conv_view_of_locked(s, c, callee, me->app, &v);
        add(&b, me->app, &v, 0, ev_av_invitation(p, &v, "completed"));
        add(&b, me->app, &v, 1, ev_av_modality(p, &v));
        add(&b, me->app, &v, 0, ev_conversation(p, &v, "updated"));
    }
    if (app_live(s, other->app, other->app_gen)) {
        ucwa_conv_view_of_locked(s, c, caller, other->app, &v);
        ucwa_av_view_media_locked(s, &v, p);
        add(&b, other->app, &v, FROM_AV_INVITATION, ev_negotiation(p, &v));
        if (!provisional) {
            add(&b, other->app, &v, 0, ev_av_invitation(p, &v, "completed"));
            add(&b, other->app, &v, 1, ev_av_modality(p, &v));
            add(&b, other->app, &v, 0, ev_conversation(p, &v, "updated"));
        }
    }
    batch_post(&b, now, t);
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
        added_tell(s, c, "av-answer", UCWA_SDP_ANSWER,
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
    batch b;
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
    make_id(c->av_invitation[0], idx);
    make_id(c->av_invitation[1], idx);
    copy(c->session_context[side], sizeof(c->session_context[side]), session_context);
    c->session_context[1 - side][0] = '\0';
    copy(c->av_operation_id, sizeof(c->av_operation_id), operation_id);
    c->last_activity = now;
    batch_init(&b, s, p);
    for (sd = 0; sd < 2; sd++) {
        ucwa_conv_party *pa = &c->party[sd];
        if (!app_live(s, pa->app, pa->app_gen)) {
            continue;
        }
        ucwa_conv_view_of_locked(s, c, sd, pa->app, &v);
        if (sd == side) {
            add(&b, pa->app, &v, 0, ev_av_invitation(p, &v, "started"));
        }
        else {
            ucwa_av_view_media_locked(s, &v, p);
            add(&b, pa->app, &v, 0, ev_av_invitation(p, &v, "started"));
            add_push(&b, UCWA_PUSH_CALL, c, c->party[side].name, "Incoming call",
                     strlen("Incoming call"));
        }
        add(&b, pa->app, &v, 1, ev_av_modality(p, &v));
    }
    batch_post(&b, now, t);
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
        added_tell(s, c, "av-add", UCWA_SDP_OFFER,
                   json_pack("{s:i,s:s,s:I}", "video", video ? 1 : 0, "ctx",
                             c->session_context[side], "expires", (json_int_t)expires), p);
    }
    return r;
}

ucwa_conv_result ucwa_conv_stop_av_locked(ucwa_store *s, int idx, int side, int app,
                                          apr_time_t now, apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    ucwa_conv_end why;
    batch b;

    if (c->state != UCWA_SLOT_LIVE) {
        return UCWA_CONV_STATE;
    }
    if (c->kind == UCWA_CONV_KIND_AV) {
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
        added_tell(s, c, "av-stop", -1, NULL, p);
    }
    batch_init(&b, s, p);
    end_added(s, c, why, -1, now, p, &b);
    c->last_activity = now;
    batch_post(&b, now, t);
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
            added_tell(s, c, "av-stop", -1, NULL, p);
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
    batch b;

    if (!added_is(s, c, call)
        || (c->av_phase != UCWA_CONV_INVITING && c->av_phase != UCWA_CONV_CONNECTED)) {
        return;
    }
    batch_init(&b, s, p);
    end_added(s, c, c->av_phase == UCWA_CONV_CONNECTED ? UCWA_CONV_END_LEFT
                    : remote == (int)c->av_side ? UCWA_CONV_END_CANCELED
                    : UCWA_CONV_END_DECLINED, -1, now, p, &b);
    c->last_activity = now;
    batch_post(&b, now, t);
}

ucwa_conv_result ucwa_conv_stop_messaging_locked(ucwa_store *s, int idx, int side,
                                                 apr_time_t now, apr_pool_t *p,
                                                 ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    ucwa_conv_view v;
    batch b;
    int sd;

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
        added_tell(s, c, "msg-off", -1, NULL, p);
    }
    /* the call goes on: messaging alone ends */
    c->msg_off = 1;
    c->party[0].typing_until = c->party[1].typing_until = 0;
    c->last_activity = now;
    batch_init(&b, s, p);
    for (sd = 0; sd < 2; sd++) {
        ucwa_conv_party *pa = &c->party[sd];
        if (app_live(s, pa->app, pa->app_gen)) {
            ucwa_conv_view_of_locked(s, c, sd, pa->app, &v);
            add(&b, pa->app, &v, 1, ev_messaging(p, &v));
            add(&b, pa->app, &v, 0, ev_conversation(p, &v, "updated"));
        }
    }
    batch_post(&b, now, t);
    return UCWA_CONV_OK;
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
    if (!provisional && pooled(c) && c->claiming) {
        return UCWA_CONV_STATE;    /* another endpoint's answer is before the pool */
    }
    if (provisional && c->mirror && ucwa_pool_room_locked(s) < 1) {
        return UCWA_CONV_BUSY;
    }
    if (store_answer(s, c, provisional, ctype, body, len, cid, session_context) < 0) {
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
    if (pooled(c)) {
        /* the first answer in the pool wins: the claim carries this one's key */
        return claim(s, c, app, 1, p);
    }
    return accept_now(s, idx, app, now, p, t);
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
    int app;
    batch b;

    if (c->state != UCWA_SLOT_LIVE || ucwa_av_phase(c) != UCWA_CONV_CONNECTED
        || (c->reneg && !c->reneg_done)) {
        return UCWA_CONV_STATE;
    }
    if (told_to_pool(c, side) && ucwa_pool_room_locked(s) < 1) {
        return UCWA_CONV_BUSY;
    }
    if (ucwa_av_put_locked(s, c, UCWA_SDP_RENEG_OFFER, ctype, body, len) < 0) {
        return UCWA_CONV_TOO_LARGE;
    }
    ucwa_av_call_of_locked(s, c)->len[UCWA_SDP_RENEG_ANSWER] = 0;
    c->reneg = (apr_uint32_t)side + 1;
    c->reneg_n++;
    c->reneg_done = 0;
    c->suspended &= ~(1u << side);     /* its new offer is its way back */
    copy(c->reneg_op, sizeof(c->reneg_op), operation_id);
    c->last_activity = now;
    if (told_to_pool(c, side)) {
        /* the other side is on another Front End: it starts there with the same number */
        ucwa_pool_call_tell_locked(s, c, "reneg", UCWA_SDP_RENEG_OFFER,
                                   json_pack("{s:s}", "op", c->reneg_op), p);
    }
    if ((app = side_view(s, c, 1 - side, p, &v)) >= 0) {
        batch_init(&b, s, p);
        add(&b, app, &v, 0, ev_renegotiation(p, &v, "started", 1));
        batch_post(&b, now, t);
    }
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
    batch b;

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
        batch_init(&b, s, p);
        add(&b, app, &v, 0, ev_renegotiation(p, &v, "completed", body != NULL));
        batch_post(&b, now, t);
    }
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

    if (c->state != UCWA_SLOT_LIVE || c->phase != UCWA_CONV_INVITING) {
        return UCWA_CONV_STATE;
    }
    if (pooled(c) && app >= 0) {
        return claim(s, c, app, 0, p);
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

ucwa_conv_result ucwa_conv_message_locked(ucwa_store *s, int idx, int side, ucwa_msg_format fmt,
                                          const char *text, apr_size_t len, const char *uri,
                                          const char *operation_id, apr_time_t now,
                                          apr_pool_t *p, apr_uint32_t *number,
                                          ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    ucwa_conv_party *me, *other;
    ucwa_conv_view v;
    batch b;

    if (c->state != UCWA_SLOT_LIVE || c->phase != UCWA_CONV_CONNECTED || c->msg_off) {
        return UCWA_CONV_STATE;
    }
    me = &c->party[side];
    other = &c->party[1 - side];
    if (!uri) {
        uri = ucwa_message_data_uri(p, fmt, text, len);
    }
    batch_init(&b, s, p);
    if (app_live(s, me->app, me->app_gen)) {
        ucwa_conv_view_of_locked(s, c, side, me->app, &v);
        add(&b, me->app, &v, 1, ev_message(p, &v, c->next_message, 0, operation_id, fmt, NULL,
                                           now));
    }
    if (app_live(s, other->app, other->app_gen)) {
        ucwa_conv_view_of_locked(s, c, 1 - side, other->app, &v);
        if (me->typing_until) {
            add(&b, other->app, &v, 1, ev_typing(p, &v, "deleted"));
        }
        add(&b, other->app, &v, 1, ev_message(p, &v, c->next_message, 1, NULL, fmt, uri, now));
        add_push(&b, UCWA_PUSH_MESSAGE, c, me->name, text, len);
    }
    if (!batch_fits(&b)) {
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
    batch_post(&b, now, t);
    return UCWA_CONV_OK;
}

ucwa_conv_result ucwa_conv_typing_locked(ucwa_store *s, int idx, int side, apr_time_t now,
                                  apr_pool_t *p, ucwa_conv_touched *t)
{
    ucwa_conv *c = ucwa_store_conv(s, idx);
    ucwa_conv_party *me, *other;
    ucwa_conv_view v;
    batch b;

    if (c->state != UCWA_SLOT_LIVE || c->phase != UCWA_CONV_CONNECTED || c->msg_off) {
        return UCWA_CONV_STATE;
    }
    me = &c->party[side];
    other = &c->party[1 - side];
    if (!me->typing_until && c->peer_fe[0] && me->app >= 0
        && ucwa_pool_conv_tell_locked(s, c, "typing", NULL, p) < 0) {
        return UCWA_CONV_BUSY;
    }
    if (!me->typing_until && app_live(s, other->app, other->app_gen)) {
        batch_init(&b, s, p);
        ucwa_conv_view_of_locked(s, c, 1 - side, other->app, &v);
        add(&b, other->app, &v, 1, ev_typing(p, &v, "added"));
        batch_post(&b, now, t);
    }
    me->typing_until = now + UCWA_CONV_TYPING;
    c->last_activity = now;
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
            batch b;
            batch_init(&b, s, p);
            end_added(s, c, UCWA_CONV_END_TIMEOUT, -1, now, p, &b);
            batch_post(&b, now, t);
        }
        for (side = 0; side < 2; side++) {
            ucwa_conv_party *me = &c->party[side], *other = &c->party[1 - side];
            if (me->typing_until && now >= me->typing_until) {
                me->typing_until = 0;
                if (app_live(s, other->app, other->app_gen)) {
                    ucwa_conv_view v;
                    batch b;
                    batch_init(&b, s, p);
                    ucwa_conv_view_of_locked(s, c, 1 - side, other->app, &v);
                    add(&b, other->app, &v, 1, ev_typing(p, &v, "deleted"));
                    batch_post(&b, now, t);
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
    batch b;

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
    make_id(c->id, slot);
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
    make_id(c->party[0].invitation, slot);
    copy(c->party[0].sip, sizeof(c->party[0].sip), in->from);
    copy(c->party[0].name, sizeof(c->party[0].name), in->from_name);
    c->party[1].user = to_user;
    c->party[1].app = -1;
    make_id(c->party[1].invitation, slot);
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
    batch_init(&b, s, p);
    add_alerts(&b, c);
    if (!batch_fits(&b)) {
        ucwa_av_call_free_locked(s, c);
        return UCWA_CONV_TOO_LARGE;
    }
    *ucwa_store_conv(s, slot) = *c;
    c = ucwa_store_conv(s, slot);
    batch_post(&b, now, t);
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
    batch b;

    if (c->state != UCWA_SLOT_LIVE || c->phase != UCWA_CONV_INVITING || c->mirror) {
        return UCWA_CONV_STATE;
    }
    if (c->kind == UCWA_CONV_KIND_AV && answer) {
        /* the answer that won, for the caller's negotiation */
        store_answer(s, c, 0, answer->ctype, answer->body, answer->len, answer->cid,
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
    batch_init(&b, s, p);
    add_inviter_connected(&b, c, now);
    add_endpoints_closed(&b, c, -1);
    batch_post(&b, now, t);
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
    if (store_answer(s, c, 1, answer->ctype, answer->body, answer->len, answer->cid,
                     answer->session_context) < 0) {
        return UCWA_CONV_TOO_LARGE;
    }
    provisional_to_caller(s, c, now, p, t);
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
    batch b;

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
    batch_init(&b, s, p);
    add_endpoints_closed(&b, c, -1);
    batch_post(&b, now, t);
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
    if (accept && app_live(s, app, c->claiming_gen) && endpoint_index(c, app, c->claiming_gen) >= 0) {
        accept_now(s, idx, app, now, p, t);
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
    apr_uint32_t i, n = ucwa_conv_used_locked(s);

    for (i = 0; i < n; i++) {
        ucwa_conv *c = ucwa_store_conv(s, (int)i);
        if (c->state != UCWA_SLOT_LIVE || c->phase == UCWA_CONV_ENDED
            || strcmp(c->peer_fe, fe) != 0) {
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
