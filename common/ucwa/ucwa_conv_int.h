/* What the conversation's files share, private to them: ucwa_conv.c (the record, the
 * invitation state machine every modality shares, the conversation's and participants'
 * resources, the events' batch), ucwa_conv_messaging.c (messaging's resources, events and
 * transitions) and ucwa_conv_av.c (the audioVideo modality's transitions; its call record
 * and resources are ucwa_av.c's). Nothing outside these three files includes it. The caller
 * holds the store lock, as for everything in ucwa_conv.h. */
#ifndef UCWA_CONV_INT_H
#define UCWA_CONV_INT_H

#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <jansson.h>

#include "ucwa_conv.h"
#include "ucwa_push.h"
#include "ucwa_store.h"

/* --- the record (ucwa_conv.c) ------------------------------------------------------- */

/* An id of record idx: 8 hex digits of the slot, then 24 random ones. */
void ucwa_conv_make_id(char *out, int idx);

/* Small helpers every file of the conversation uses, inline: a party is application app
 * (slot, generation); the index of app among c's alerted endpoints, or -1; application slot
 * app (may be -1) is live in generation gen; JSON of links and events (new references). */
static inline int app_is(const ucwa_conv_party *pa, int app, apr_uint32_t gen)
{
    return pa->app >= 0 && pa->app == app && pa->app_gen == gen;
}

static inline int endpoint_index(const ucwa_conv *c, int app, apr_uint32_t gen)
{
    apr_uint32_t i;

    for (i = 0; i < c->endpoints && i < UCWA_CONV_ENDPOINTS; i++) {
        if (c->endpoint[i] == app && c->endpoint_gen[i] == gen) {
            return (int)i;
        }
    }
    return -1;
}

static inline int app_live(ucwa_store *s, int app, apr_uint32_t gen)
{
    ucwa_app *a;

    if (app < 0 || (apr_uint32_t)app >= ucwa_store_max_apps(s)) {
        return 0;
    }
    a = ucwa_store_app(s, app);
    return a->state == UCWA_SLOT_LIVE && a->gen == gen;
}

/* --- resources and events (JSON: new references) ------------------------------------ */

static inline json_t *href(const char *h)
{
    json_t *o = json_object();

    json_object_set_new(o, "href", json_string(h));
    return o;
}

static inline json_t *href_title(const char *h, const char *title)
{
    json_t *o = href(h);

    json_object_set_new(o, "title", json_string(title));
    return o;
}

/* An event's link or in: {rel, href[, title]}. */
static inline json_t *lnk(const char *rel, const char *h, const char *title)
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
static inline json_t *event(json_t *link, json_t *in, const char *status,
                            const char *emb_key, json_t *emb, json_t *reason, const char *type)
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

static inline json_t *reason(const char *code, const char *subcode, const char *message)
{
    return json_pack("{s:s,s:s,s:s}", "code", code, "subcode", subcode, "message", message);
}

/* Whether c's messaging is connected: an IM conversation's (until stopMessaging beside a
 * call), or messaging added to a call's conversation. */
static inline int messaging_on(const ucwa_conv *c)
{
    if (c->state != UCWA_SLOT_LIVE || c->phase != UCWA_CONV_CONNECTED) {
        return 0;
    }
    return c->kind == UCWA_CONV_KIND_MESSAGING ? !c->msg_off
                                               : c->msg_phase == UCWA_CONV_CONNECTED;
}

/* src (NULL: "") into dst, cut to size. */
static inline void copy(char *dst, apr_size_t size, const char *src)
{
    apr_cpystrn(dst, src ? src : "", size);
}

typedef struct {
    const char *comm, *conv, *inv, *msg, *local, *remote, *typing;
} ucwa_conv_hrefs;

void ucwa_conv_hrefs_of(apr_pool_t *p, const ucwa_conv_view *v, ucwa_conv_hrefs *h);
/* The participant resource: the viewer's own (local) or the other one. */
json_t *ucwa_conv_json_participant(apr_pool_t *p, const ucwa_conv_view *v, int local);
/* Why an invitation (call: a call) failed, from this view: its inviter's (side caller),
 * or an alerted application's. */
json_t *ucwa_conv_failure_reason_as(const ucwa_conv_view *v, int caller, ucwa_conv_end end,
                                    int call);
json_t *ucwa_conv_ev_conversation(apr_pool_t *p, const ucwa_conv_view *v, const char *type);

/* --- the events of a transition, gathered then posted (ucwa_conv.c) ------------------ */

typedef struct {
    ucwa_store *s;
    apr_pool_t *p;
    apr_array_header_t *items;
} ucwa_conv_batch;

/* ucwa_conv_add's `from`: the sender is the view's audioVideoInvitation */
#define UCWA_CONV_FROM_AV_INVITATION 2

void ucwa_conv_batch_init(ucwa_conv_batch *b, ucwa_store *s, apr_pool_t *p);
/* Adds one event (taking the reference) from the sender communication, or from the
 * conversation when from is 1, or from the view's audioVideoInvitation
 * (UCWA_CONV_FROM_AV_INVITATION), to application app. */
void ucwa_conv_add(ucwa_conv_batch *b, int app, const ucwa_conv_view *v, int from, json_t *ev);
/* The last event added also makes a push notification (text: NULL or len bytes). */
void ucwa_conv_add_push(ucwa_conv_batch *b, ucwa_push_kind kind, const ucwa_conv *c,
                        const char *sender, const char *text, apr_size_t len);
/* Whether every event gathered fits an event slot. */
int ucwa_conv_batch_fits(const ucwa_conv_batch *b);
void ucwa_conv_batch_post(ucwa_conv_batch *b, apr_time_t now, ucwa_conv_touched *t);

/* --- the invitation state machine (ucwa_conv.c) -------------------------------------- */

/* Other Front Ends alert the invited user too: the pool decides whose answer counts. */
int ucwa_conv_pooled(const ucwa_conv *c);
/* An answer that the pool must arbitrate: kept in claiming, decided by
 * ucwa_conv_claimed_locked. STATE while another endpoint's claim is out. */
ucwa_conv_result ucwa_conv_claim(ucwa_store *s, ucwa_conv *c, int app, int accept,
                                 apr_pool_t *p);
/* One modality of connected conversation c ended and the other goes on: each side here gets
 * its modality updated (the event modality makes) and the conversation updated. */
void ucwa_conv_modality_off(ucwa_store *s, const ucwa_conv *c,
                            json_t *(*modality)(apr_pool_t *, const ucwa_conv_view *),
                            apr_time_t now, apr_pool_t *p, ucwa_conv_touched *t);
/* Endpoint app takes the invitation of record idx, now. */
ucwa_conv_result ucwa_conv_accept_now(ucwa_store *s, int idx, int app, apr_time_t now,
                                      apr_pool_t *p, ucwa_conv_touched *t);

/* --- messaging (ucwa_conv_messaging.c) ------------------------------------------------ */

/* The messagingInvitation resource (a call conversation's: its audioVideoInvitation). */
json_t *ucwa_conv_msg_invitation(apr_pool_t *p, const ucwa_conv_view *v);
json_t *ucwa_conv_ev_messaging(apr_pool_t *p, const ucwa_conv_view *v);
json_t *ucwa_conv_ev_participant_messaging(apr_pool_t *p, const ucwa_conv_view *v, int local);
json_t *ucwa_conv_ev_typing(apr_pool_t *p, const ucwa_conv_view *v, const char *type);
json_t *ucwa_conv_ev_message(apr_pool_t *p, const ucwa_conv_view *v, apr_uint32_t n,
                             int incoming, const char *operation_id, ucwa_msg_format fmt,
                             const char *uri, apr_time_t now);
/* The first message of an invitation as text (NULL when there is none). */
const char *ucwa_conv_first_text(apr_pool_t *p, const ucwa_conv *c, apr_size_t *len);
/* Messaging added to a call's conversation (c, kind AV): the accept of application app, the
 * decline of side, and its end (why) with the events of each side into b but to side gone
 * (its application is ending; -1: none). */
ucwa_conv_result ucwa_conv_accept_added_msg(ucwa_store *s, ucwa_conv *c, int app,
                                            apr_time_t now, apr_pool_t *p,
                                            ucwa_conv_touched *t);
void ucwa_conv_end_added_msg(ucwa_store *s, ucwa_conv *c, ucwa_conv_end why, int gone,
                             ucwa_conv_batch *b);

/* --- audioVideo (ucwa_conv_av.c) ------------------------------------------------------ */

/* The call's audioVideoInvitation started, updated or completed. */
json_t *ucwa_conv_ev_av_invitation(apr_pool_t *p, const ucwa_conv_view *v, const char *type);
json_t *ucwa_conv_ev_av_modality(apr_pool_t *p, const ucwa_conv_view *v);
/* The caller's audioVideoNegotiation updated: the (provisional) answer is in. */
json_t *ucwa_conv_ev_negotiation(apr_pool_t *p, const ucwa_conv_view *v);
/* A call added to an IM conversation ends (why), with the events of each side into b (but
 * to side `gone`, whose application is ending: -1 for none). */
void ucwa_conv_end_added(ucwa_store *s, ucwa_conv *c, ucwa_conv_end why, int gone,
                         apr_time_t now, apr_pool_t *p, ucwa_conv_batch *b);
/* Keeps a call's (provisional) answer in c's record. -1 if it cannot be kept. */
int ucwa_conv_store_answer(ucwa_store *s, ucwa_conv *c, int provisional, const char *ctype,
                           const char *body, apr_size_t len, const char *cid,
                           const char *session_context);
/* What this side of an added call does, to the other side's Front End (kind, the
 * description of sdp_kind or -1, extra: more members or NULL, taken). */
int ucwa_conv_added_tell(ucwa_store *s, const ucwa_conv *c, const char *kind, int sdp_kind,
                         json_t *extra, apr_pool_t *p);

#endif
