/* The audioVideo modality of a conversation (ucwa_av.h). */
#include <string.h>
#include <apr_strings.h>

#include "mob_json.h"
#include "ucwa_av.h"
#include "ucwa_conv_phone.h"
#include "ucwa_pool.h"
#include "ucwa_sdp.h"

/* --- the call record --------------------------------------------------------------- */

int ucwa_av_call_new_locked(ucwa_store *s, int conv, apr_uint32_t conv_gen)
{
    apr_uint32_t i, n = ucwa_store_get_limits(s)->max_calls;

    for (i = 0; i < n; i++) {
        ucwa_call *k = ucwa_store_call(s, (int)i);
        if (k->state != UCWA_SLOT_LIVE) {
            apr_uint32_t gen = k->gen + 1;
            memset(k, 0, sizeof(*k));
            k->state = UCWA_SLOT_LIVE;
            k->gen = gen;
            k->conv = (apr_uint32_t)conv;
            k->conv_gen = conv_gen;
            return (int)i;
        }
    }
    return -1;
}

ucwa_conv_result ucwa_av_call_start_locked(ucwa_store *s, ucwa_conv *c, int slot, int video,
                                           const char *session_context, const char *ctype,
                                           const char *body, apr_size_t len)
{
    int k = ucwa_av_call_new_locked(s, slot, c->gen);

    if (k < 0) {
        return UCWA_CONV_NO_CALL;
    }
    c->call = (apr_uint32_t)k + 1;
    c->call_gen = ucwa_store_call(s, k)->gen;
    c->video = video ? 1 : 0;
    apr_cpystrn(c->session_context[0], session_context ? session_context : "",
                sizeof(c->session_context[0]));
    if (ucwa_av_put_locked(s, c, UCWA_SDP_OFFER, ctype ? ctype : "", body ? body : "",
                           body ? len : 0) < 0) {
        ucwa_av_call_free_locked(s, c);
        return UCWA_CONV_TOO_LARGE;
    }
    return UCWA_CONV_OK;
}

ucwa_call *ucwa_av_call_of_locked(ucwa_store *s, const ucwa_conv *c)
{
    ucwa_call *k;

    if (!c->call || c->call > ucwa_store_get_limits(s)->max_calls) {
        return NULL;
    }
    k = ucwa_store_call(s, (int)c->call - 1);
    return k->state == UCWA_SLOT_LIVE && k->gen == c->call_gen ? k : NULL;
}

void ucwa_av_call_free_locked(ucwa_store *s, ucwa_conv *c)
{
    ucwa_call *k = ucwa_av_call_of_locked(s, c);

    if (k) {
        k->state = UCWA_SLOT_FREE;
        ucwa_store_call_release(s, (int)c->call - 1);
    }
    c->call = 0;
}

int ucwa_av_put_locked(ucwa_store *s, const ucwa_conv *c, ucwa_sdp_kind kind,
                       const char *ctype, const char *body, apr_size_t len)
{
    ucwa_call *k = ucwa_av_call_of_locked(s, c);

    if (!k || len > UCWA_SDP_BLOB_MAX || (unsigned)kind >= UCWA_SDP_KINDS) {
        return -1;
    }
    memcpy(ucwa_store_call_blob(s, (int)c->call - 1, kind), body, len);
    k->len[kind] = (apr_uint32_t)len;
    apr_cpystrn(k->ctype[kind], ctype, sizeof(k->ctype[kind]));
    return 0;
}

void ucwa_av_pool_key_locked(ucwa_store *s, const ucwa_conv *c, ucwa_sdp_kind kind,
                             const char *key)
{
    ucwa_call *k = ucwa_av_call_of_locked(s, c);

    if (k && (unsigned)kind < UCWA_SDP_KINDS) {
        apr_cpystrn(k->pool_key[kind], key ? key : "", sizeof(k->pool_key[kind]));
    }
}

const char *ucwa_av_pool_key(ucwa_store *s, const ucwa_conv *c, ucwa_sdp_kind kind)
{
    ucwa_call *k = ucwa_av_call_of_locked(s, c);

    return k && (unsigned)kind < UCWA_SDP_KINDS ? k->pool_key[kind] : "";
}

const char *ucwa_av_uri_locked(ucwa_store *s, const ucwa_conv *c, ucwa_sdp_kind kind,
                               apr_pool_t *p)
{
    ucwa_call *k = ucwa_av_call_of_locked(s, c);

    if (!k || (unsigned)kind >= UCWA_SDP_KINDS || !k->len[kind]) {
        return NULL;
    }
    return ucwa_sdp_data_uri(p, k->ctype[kind], ucwa_store_call_blob(s, (int)c->call - 1, kind),
                             k->len[kind]);
}

int ucwa_av_caller(const ucwa_conv *c)
{
    return c->kind == UCWA_CONV_KIND_AV ? 0 : (int)c->av_side;
}

ucwa_conv_phase ucwa_av_phase(const ucwa_conv *c)
{
    if (c->kind == UCWA_CONV_KIND_AV) {
        /* a call hung up while messaging added to it goes on: the call has ended */
        return c->av_off ? UCWA_CONV_ENDED : (ucwa_conv_phase)c->phase;
    }
    return (ucwa_conv_phase)c->av_phase;
}

const char *ucwa_av_invitation_id(const ucwa_conv *c, int side)
{
    return c->kind == UCWA_CONV_KIND_AV ? c->party[side].invitation : c->av_invitation[side];
}

int ucwa_av_accepted(const ucwa_conv *c)
{
    return c->kind == UCWA_CONV_KIND_AV ? (int)c->accepted : (int)c->av_accepted;
}

static ucwa_conv_end av_end(const ucwa_conv *c)
{
    return (ucwa_conv_end)(c->kind == UCWA_CONV_KIND_AV ? c->end : c->av_end);
}

/* As ucwa_conv_invitation_state, for the call's invitation. */
static const char *invitation_state(const ucwa_conv_view *v)
{
    const ucwa_conv *c = v->c;

    if (ucwa_av_phase(c) == UCWA_CONV_INVITING) {
        return "Connecting";
    }
    if (ucwa_av_accepted(c)) {
        return v->side != ucwa_av_caller(c) && v->elsewhere ? "Cancelled" : "Connected";
    }
    switch (av_end(c)) {
    case UCWA_CONV_END_DECLINED:
        return v->side == ucwa_av_caller(c) ? "Failed" : "Declined";
    case UCWA_CONV_END_CANCELED:
        return "Cancelled";
    default:
        return "Failed";
    }
}

void ucwa_av_view_media_locked(ucwa_store *s, ucwa_conv_view *v, apr_pool_t *p)
{
    v->offer = ucwa_av_uri_locked(s, v->c, UCWA_SDP_OFFER, p);
    v->answer = ucwa_av_uri_locked(s, v->c, UCWA_SDP_ANSWER, p);
    v->reneg_offer = ucwa_av_uri_locked(s, v->c, UCWA_SDP_RENEG_OFFER, p);
    v->reneg_answer = ucwa_av_uri_locked(s, v->c, UCWA_SDP_RENEG_ANSWER, p);
}

/* --- resources --------------------------------------------------------------------- */

static void add_link(json_t *links, const char *rel, const char *href)
{
    json_object_set_new(links, rel, json_pack("{s:s}", "href", href));
}

const char *ucwa_av_href_invitation(apr_pool_t *p, const ucwa_conv_view *v)
{
    if (v->c->phone == UCWA_CONV_PHONE_CVW) {
        return ucwa_conv_phone_href_invitation(p, v);
    }
    return apr_pstrcat(p, v->base, "/communication/audioVideoInvitations/",
                       ucwa_av_invitation_id(v->c, v->side), NULL);
}

const char *ucwa_av_href_modality(apr_pool_t *p, const ucwa_conv_view *v)
{
    if (v->c->phone) {
        return ucwa_conv_phone_href_modality(p, v);
    }
    return apr_pstrcat(p, ucwa_conv_href(p, v), "/audioVideo", NULL);
}

static const char *href_session(apr_pool_t *p, const ucwa_conv_view *v)
{
    return apr_pstrcat(p, ucwa_av_href_modality(p, v), "/audioVideoSession", NULL);
}

const char *ucwa_av_href_renegotiation(apr_pool_t *p, const ucwa_conv_view *v)
{
    return apr_psprintf(p, "%s/renegotiations/%u", href_session(p, v), v->c->reneg_n);
}

static const char *modality_state(const ucwa_conv *c)
{
    ucwa_conv_phase ph = ucwa_av_phase(c);

    return ph == UCWA_CONV_INVITING ? "Connecting"
           : ph == UCWA_CONV_CONNECTED ? "Connected" : "Disconnected";
}

json_t *ucwa_av_invitation(apr_pool_t *p, const ucwa_conv_view *v)
{
    const ucwa_conv *c = v->c;
    const ucwa_conv_party *me = &c->party[v->side], *other = &c->party[1 - v->side];
    const char *self = ucwa_av_href_invitation(p, v), *conv = ucwa_conv_href(p, v);
    json_t *r = json_object(), *links = json_object();
    int open = ucwa_av_phase(c) == UCWA_CONV_INVITING, caller = v->side == ucwa_av_caller(c);

    if (c->phone == UCWA_CONV_PHONE_CVW) {
        json_decref(r);
        json_decref(links);
        return ucwa_conv_phone_invitation(p, v);   /* call via work */
    }
    json_object_set_new(r, "direction", json_string(caller ? "Outgoing" : "Incoming"));
    json_object_set_new(r, "importance", json_string(c->importance));
    json_object_set_new(r, "threadId", json_string(c->thread_id));
    json_object_set_new(r, "state", json_string(invitation_state(v)));
    if (caller && c->kind == UCWA_CONV_KIND_AV && me->operation_id[0]) {
        json_object_set_new(r, "operationId", json_string(me->operation_id));
    }
    else if (caller && c->kind != UCWA_CONV_KIND_AV && c->av_operation_id[0]) {
        json_object_set_new(r, "operationId", json_string(c->av_operation_id));
    }
    if (c->session_context[v->side][0]) {
        json_object_set_new(r, "sessionContext", json_string(c->session_context[v->side]));
    }
    json_object_set_new(r, "subject", json_string(c->subject));
    add_link(links, "self", self);
    if (caller) {
        add_link(links, "from", apr_pstrcat(p, conv, "/participants/", me->sip, NULL));
        add_link(links, "to", apr_pstrcat(p, v->base, "/people/", other->sip, NULL));
        if (open) {
            add_link(links, "cancel", apr_pstrcat(p, self, "/cancel", NULL));
        }
        if (v->answer) {
            add_link(links, "audioVideoNegotiation", apr_pstrcat(p, self, "/audioVideoNegotiation",
                                                              NULL));
        }
    }
    else {
        add_link(links, "to", apr_pstrcat(p, v->base, "/people/", me->sip, NULL));
        if (open && !v->answered) {
            add_link(links, "acceptWithAnswer", apr_pstrcat(p, self, "/acceptWithAnswer", NULL));
            if (v->phone_ok && c->mirror && ucwa_pool_is_any_sip(c->peer_fe)
                && !c->phone_number[0]) {
                /* a call from a SIP phone or the PSTN: rtpengine anchors it, so it can be
                 * answered on the user's phone (mod_ucwa/ucwa_phone_accept.c) */
                add_link(links, "acceptWithPhoneAudio",
                         apr_pstrcat(p, self, "/acceptWithPhoneAudio", NULL));
            }
            add_link(links, "sendProvisionalAnswer",
                 apr_pstrcat(p, self, "/sendProvisionalAnswer", NULL));
            add_link(links, "decline", apr_pstrcat(p, self, "/decline", NULL));
        }
    }
    if (v->offer) {
        add_link(links, "mediaOffer", v->offer);
    }
    add_link(links, "conversation", conv);
    add_link(links, "audioVideo", ucwa_av_href_modality(p, v));
    json_object_set_new(r, "_links", links);
    if (caller && ucwa_av_accepted(c)) {
        json_object_set_new(r, "_embedded", json_pack("{s:[O]}", "acceptedByParticipant",
                                                      ucwa_conv_res_participant(p, v, 0)));
    }
    else if (!caller) {
        json_object_set_new(r, "_embedded", json_pack("{s:O}", "from",
                                                      ucwa_conv_res_participant(p, v, 0)));
    }
    json_object_set_new(r, "rel", json_string("audioVideoInvitation"));
    return r;
}

json_t *ucwa_av_modality(apr_pool_t *p, const ucwa_conv_view *v)
{
    const ucwa_conv *c = v->c;
    const char *self = ucwa_av_href_modality(p, v);
    json_t *r = json_object(), *links = json_object();

    ucwa_conv_phase ph = ucwa_av_phase(c);
    int live = ph == UCWA_CONV_INVITING || ph == UCWA_CONV_CONNECTED;

    if (c->phone) {
        json_decref(r);
        json_decref(links);
        return ucwa_conv_phone_modality(p, v);     /* call via work */
    }
    json_object_set_new(r, "state", json_string(modality_state(c)));
    json_object_set_new(r, "supportsReplaces", json_false());
    json_object_set_new(r, "videoSourcesAllowed", json_string(c->video ? "Camera" : "None"));
    add_link(links, "self", self);
    add_link(links, "conversation", ucwa_conv_href(p, v));
    if (!live && v->calls && c->kind == UCWA_CONV_KIND_MESSAGING
        && c->phase == UCWA_CONV_CONNECTED && !c->msg_off) {
        /* a call can be added to the IM conversation */
        add_link(links, "addAudio", apr_pstrcat(p, self, "/addAudio", NULL));
        add_link(links, "addVideo", apr_pstrcat(p, self, "/addAudioVideo", NULL));
        add_link(links, "addAudioVideo", apr_pstrcat(p, self, "/addAudioVideo", NULL));
    }
    if (live) {
        add_link(links, "stopAudioVideo", apr_pstrcat(p, self, "/stopAudioVideo", NULL));
        add_link(links, "stopAudio", apr_pstrcat(p, self, "/stopAudioVideo", NULL));
    }
    if (ph == UCWA_CONV_CONNECTED) {
        add_link(links, "audioVideoSession", href_session(p, v));
        if (v->phone_ok && c->kind == UCWA_CONV_KIND_AV && ucwa_pool_is_any_sip(c->peer_fe)
            && !c->phone_number[0]) {
            /* a call with a SIP phone or the PSTN: rtpengine anchors it, so it can move
             * to the user's phone (mod_ucwa/ucwa_phone_accept.c) */
            add_link(links, "replaceWithPhoneAudio",
                     apr_pstrcat(p, self, "/replaceWithPhoneAudio", NULL));
        }
    }
    json_object_set_new(r, "_links", links);
    json_object_set_new(r, "rel", json_string("audioVideo"));
    return r;
}

json_t *ucwa_av_negotiation(apr_pool_t *p, const ucwa_conv_view *v)
{
    const ucwa_conv *c = v->c;
    json_t *r = json_object(), *links = json_object();

    if (c->session_context[ucwa_av_caller(c)][0]) {
        json_object_set_new(r, "sessionContext",
                            json_string(c->session_context[ucwa_av_caller(c)]));
    }
    if (c->accepted_cid[0]) {
        json_object_set_new(r, "msAcceptedContentId", json_string(c->accepted_cid));
    }
    add_link(links, "self", apr_pstrcat(p, ucwa_av_href_invitation(p, v), "/audioVideoNegotiation",
                                    NULL));
    if (v->answer) {
        add_link(links, c->provisional ? "mediaProvisionalAnswer" : "mediaAnswer", v->answer);
    }
    json_object_set_new(r, "_links", links);
    json_object_set_new(r, "rel", json_string("audioVideoNegotiation"));
    return r;
}

json_t *ucwa_av_renegotiation(apr_pool_t *p, const ucwa_conv_view *v)
{
    const ucwa_conv *c = v->c;
    const char *self = ucwa_av_href_renegotiation(p, v);
    int mine = (int)c->reneg - 1 == v->side, open = c->reneg && !c->reneg_done;
    json_t *r = json_object(), *links = json_object();

    json_object_set_new(r, "direction", json_string(mine ? "Outgoing" : "Incoming"));
    if (c->reneg_op[0] && mine) {
        json_object_set_new(r, "operationId", json_string(c->reneg_op));
    }
    json_object_set_new(r, "state", json_string(open ? "Started"
                                                : c->reneg_done == 1 ? "Completed"
                                                : "Dismissed"));
    add_link(links, "self", self);
    if (v->reneg_offer) {
        add_link(links, "mediaOffer", v->reneg_offer);
    }
    if (v->reneg_answer && !open) {
        add_link(links, "mediaAnswer", v->reneg_answer);
    }
    if (open && !mine) {
        add_link(links, "answer", apr_pstrcat(p, self, "/answer", NULL));
        add_link(links, "dismiss", apr_pstrcat(p, self, "/dismiss", NULL));
    }
    add_link(links, "audioVideoSession", href_session(p, v));
    json_object_set_new(r, "_links", links);
    json_object_set_new(r, "rel", json_string("audioVideoRenegotiation"));
    return r;
}

json_t *ucwa_av_session(apr_pool_t *p, const ucwa_conv_view *v)
{
    const char *self = href_session(p, v);
    json_t *r = json_object(), *links = json_object();
    int suspended = (v->c->suspended >> v->side) & 1;

    json_object_set_new(r, "state", json_string(suspended ? "Suspended" : "Established"));
    if (v->c->session_context[v->side][0]) {
        json_object_set_new(r, "sessionContext", json_string(v->c->session_context[v->side]));
    }
    add_link(links, "self", self);
    add_link(links, "renegotiations", apr_pstrcat(p, self, "/renegotiations", NULL));
    if (suspended) {
        /* an offer with new candidates (an ICE restart) brings it back */
        add_link(links, "resumeAudio", apr_pstrcat(p, self, "/resumeAudio", NULL));
        add_link(links, "resumeAudioVideo", apr_pstrcat(p, self, "/resumeAudioVideo", NULL));
    }
    add_link(links, "audioVideo", ucwa_av_href_modality(p, v));
    add_link(links, "conversation", ucwa_conv_href(p, v));
    json_object_set_new(r, "_links", links);
    json_object_set_new(r, "rel", json_string("audioVideoSession"));
    return r;
}
