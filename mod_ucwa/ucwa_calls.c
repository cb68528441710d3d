/* The HTTP side of calls between applications (UCWA 2.0 audioVideo): the offer read and
 * checked with the store unlocked (JSON with a data URI, application/sdp or multipart
 * with the parameters in the query), one transition of common/ucwa/ucwa_conv under the
 * lock, the wake-up after it; resources rendered from detached views. */
#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_ucwa.h"
#include "mob_form.h"
#include "mob_json.h"
#include "ucwa_app.h"
#include "ucwa_av.h"
#include "ucwa_conv_phone.h"
#include "ucwa_call_forwarding.h"
#include "ucwa_config.h"
#include "ucwa_sipd.h"
#include "ucwa_fwd_app.h"
#include "ucwa_voice.h"
#include "ucwa_calls.h"
#include "ucwa_conversation_logs.h"
#include "ucwa_conv.h"
#include "ucwa_conv_http.h"
#include "ucwa_input.h"
#include "ucwa_pool.h"
#include "ucwa_pool_db.h"
#include "ucwa_pool_relay.h"
#include "ucwa_sdp.h"
#include "ucwa_snr.h"

APLOG_USE_MODULE(ucwa);

/* --- inputs ------------------------------------------------------------------------ */

/* A session description as it came, checked. */
typedef struct {
    const char *ctype, *body;
    apr_size_t len;
    ucwa_sdp_body sdp;
    apr_table_t *query;            /* the query parameters (never NULL) */
} sdp_in;

static int forbidden_av(ucwa_req *q)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00560)
                  "%s: audio and video are off in the mobility policy", q->user);
    return ucwa_http_error(q, HTTP_FORBIDDEN, "Forbidden", NULL,
                           "Your mobility policy does not allow audio and video calls.");
}

/* 1 when the application's user may call (EnableIPAudioVideo), else 0 with the 403 (or
 * another error) sent in *rv. */
static int av_allowed(ucwa_req *q, int *rv)
{
    ucwa_app copy;

    if (ucwa_app_copy(q, &copy, NULL, rv) != OK) {
        return 0;
    }
    if (!ucwa_app_policy(q->conf->global, copy.policy_tag)->enable_ip_audio_video) {
        *rv = forbidden_av(q);
        return 0;
    }
    return 1;
}

static int bad_sdp(ucwa_req *q, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00561)
                  "%s: session description refused: %s", q->user, why);
    return ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", "ParameterValidationFailure",
                           apr_pstrcat(q->r->pool, "The session description (sdp) is not "
                                       "valid: ", why, ".", NULL));
}

static int is_sdp_type(const char *ctype)
{
    return ctype && (!strncasecmp(ctype, "application/sdp", 15)
                     || !strncasecmp(ctype, "multipart/", 10));
}

/* Reads a description sent as the body itself (application/sdp, multipart/...): 1, or 0
 * with the error sent in *rv. */
static int read_sdp(ucwa_req *q, sdp_in *in, int *rv)
{
    const char *why = NULL;
    apr_status_t st;
    char *body = NULL;

    in->ctype = apr_table_get(q->r->headers_in, "Content-Type");
    if (!is_sdp_type(in->ctype)) {
        *rv = ucwa_http_error(q, HTTP_UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType", NULL,
                              "Send the session description as application/sdp (or "
                              "multipart/alternative of application/sdp parts).");
        return 0;
    }
    st = ucwa_http_read_body(q->r, UCWA_SDP_MAX, &body, &in->len);
    if (st == APR_ENOSPC) {
        *rv = ucwa_http_error(q, HTTP_REQUEST_ENTITY_TOO_LARGE, "EntityTooLarge", NULL,
                              "A session description is at most 64 KiB.");
        return 0;
    }
    if (st != APR_SUCCESS) {
        *rv = ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", NULL,
                              "The request body could not be read.");
        return 0;
    }
    in->body = body ? body : "";
    if ((why = ucwa_sdp_parse(q->r->pool, in->ctype, in->body, in->len, &in->sdp)) != NULL) {
        *rv = bad_sdp(q, why);
        return 0;
    }
    return 1;
}

static void read_query(ucwa_req *q, sdp_in *in)
{
    const char *why = NULL;

    in->query = NULL;
    if (q->r->args) {
        mob_form_parse(q->r->pool, q->r->args, strlen(q->r->args), MOB_FORM_LENIENT,
                       &in->query, &why);
    }
    if (!in->query) {
        in->query = apr_table_make(q->r->pool, 1);
    }
}

/* An identifier parameter (operationId, sessionContext, processedOfferId): at most 50
 * printable characters without blanks; NULL when absent, "" (bad) when invalid. */
static const char *id_param(const char *v)
{
    if (!v) {
        return NULL;
    }
    if (!*v || strlen(v) > UCWA_CONV_OPID_CHARS || !ucwa_conv_http_token_ok(v)) {
        return "";
    }
    return v;
}

/* A pool of Front Ends: a description the other side's Front End needs goes through the
 * pool's table (its message names the key). 1 with *key, or 0 with the 503 in *rv. */
static int to_pool(ucwa_req *q, const sdp_in *in, const char **key, int *rv)
{
    if (ucwa_pool_sdp_put(q->r, in->ctype, in->body, in->len, key) != 0) {
        *rv = ucwa_pool_unavailable(q);
        return 0;
    }
    return 1;
}

/* A transaction found that the description goes to another Front End (NEED_KEY): it is
 * written to the pool's table, and the transaction runs again with its key. */
#define NEED_KEY 3

/* A description sent as the body, with two identifier parameters of its query (a, b: NULL
 * when absent): 1, or 0 with the error sent in *rv. */
static int sdp_input(ucwa_req *q, sdp_in *sdp, const char *a, const char **va, const char *b,
                     const char **vb, int *rv)
{
    read_query(q, sdp);
    if (!read_sdp(q, sdp, rv)) {
        return 0;
    }
    *va = id_param(apr_table_get(sdp->query, a));
    *vb = id_param(apr_table_get(sdp->query, b));
    if ((*va && !**va) || (*vb && !**vb)) {
        *rv = ucwa_conv_http_bad_input(q, apr_pstrcat(q->r->pool, a, " and ", b, " must be at "
                                                      "most 50 printable ASCII characters.",
                                                      NULL));
        return 0;
    }
    return 1;
}

/* --- start a call -------------------------------------------------------------------- */

static int number_refused(ucwa_req *q, int status, const char *error, const char *subcode,
                          const char *message)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00720)
                  "%s: call to a number refused: %s", q->user, message);
    return ucwa_http_error(q, status, error, subcode, message);
}

int ucwa_calls_voice_user(ucwa_req *q, ucwa_voice_user *vu, int *rv)
{
    const char *why = NULL;

    if (!ucwa_call_forwarding_voice(q->r, q->conf, q->r->pool, q->user, vu, &why)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r, UCWALOGNO(00721)
                      "%s: the voice policy could not be read: %s", q->user,
                      why ? why : "database error");
        apr_table_setn(q->r->err_headers_out, "Retry-After", "5");
        *rv = ucwa_http_error(q, HTTP_SERVICE_UNAVAILABLE, "ServiceUnavailable", NULL,
                              "The voice policy cannot be read now.");
        return 0;
    }
    return 1;
}

int ucwa_calls_number(ucwa_req *q, const ucwa_voice_user *vu, const char *dialled,
                      const char **to, const char **gw_set, int *rv)
{
    apr_pool_t *p = q->r->pool;
    ucwa_voice_choice choice;
    const char *number = NULL;

    switch (ucwa_voice_check(vu, p, dialled, &number, &choice)) {
    case UCWA_VOICE_ALLOWED:
        break;
    case UCWA_VOICE_NOT_A_NUMBER:
        *rv = number_refused(q, HTTP_BAD_REQUEST, "BadRequest", "NormalizationFailed",
                             apr_psprintf(p, "%s is not a phone number the dial plan can "
                                          "normalise.", dialled));
        return 0;
    case UCWA_VOICE_NOT_ALLOWED:
        *rv = number_refused(q, HTTP_FORBIDDEN, "Forbidden", "NotAllowed",
                             apr_psprintf(p, "The voice policy allows no call to %s.", number));
        return 0;
    default:
        *rv = number_refused(q, HTTP_FORBIDDEN, "Forbidden", NULL,
                             "The user is not enabled for Enterprise Voice.");
        return 0;
    }
    *to = apr_pstrcat(p, "tel:", number, NULL);
    *gw_set = ucwa_snr_gw_set(&choice);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00722)
                  "%s calls %s as %s: route %s (usage %s), gateway set %s", q->user, dialled,
                  number, choice.route, choice.usage, *gw_set ? *gw_set : "(Kamailio's default)");
    return 1;
}

int ucwa_calls_sip_numbers(ucwa_req *q)
{
    return q->conf->global->sip->enabled;
}

int ucwa_calls_start(ucwa_req *q, int what)
{
    apr_pool_t *p = q->r->pool;
    ucwa_conv_invite_in in;
    const char *to = NULL, *importance = NULL, *op = NULL, *ctx = NULL, *why = NULL;
    sdp_in sdp;
    ucwa_conv_http_invited x;
    apr_interval_time_t more = 0;
    int rv, bad = 0;

    (void)what;
    if (!av_allowed(q, &rv)) {
        return rv;
    }
    memset(&in, 0, sizeof(in));
    memset(&sdp, 0, sizeof(sdp));
    read_query(q, &sdp);
    if (is_sdp_type(apr_table_get(q->r->headers_in, "Content-Type"))) {
        /* the offer is the body; the rest comes in the query */
        if (!read_sdp(q, &sdp, &rv)) {
            return rv;
        }
        to = apr_table_get(sdp.query, "to");
        in.subject = apr_table_get(sdp.query, "subject");
        importance = apr_table_get(sdp.query, "importance");
        op = apr_table_get(sdp.query, "operationId");
        ctx = apr_table_get(sdp.query, "sessionContext");
        in.thread_id = apr_table_get(sdp.query, "threadId");
    }
    else {
        json_t *body = ucwa_http_input(q, &rv), *links, *offer;
        const char *uri = NULL;
        char *bytes;
        if (!body) {
            return rv;
        }
        to = ucwa_input_string(body, "to", UCWA_CONV_HTTP_SIP_INPUT_MAX, &bad);
        in.subject = ucwa_input_string(body, "subject", UCWA_CONV_SUBJECT_CHARS, &bad);
        importance = ucwa_input_string(body, "importance", 16, &bad);
        op = ucwa_input_string(body, "operationId", UCWA_CONV_OPID_CHARS, &bad);
        ctx = ucwa_input_string(body, "sessionContext", UCWA_CONV_OPID_CHARS, &bad);
        in.thread_id = ucwa_input_string(body, "threadId", UCWA_CONV_THREAD_MAX - 1, &bad);
        links = ucwa_input_get(body, "_links");
        offer = links && json_is_object(links) ? ucwa_input_get(links, "mediaOffer") : NULL;
        if (offer && json_is_object(offer)) {
            uri = ucwa_input_string(offer, "href", 2 * UCWA_SDP_MAX, &bad);
        }
        if (bad) {
            return ucwa_conv_http_bad_input(q, "to, subject, importance, operationId, "
                                            "sessionContext, threadId and the mediaOffer link "
                                            "must be strings of the documented lengths.");
        }
        if (!uri) {
            return ucwa_conv_http_bad_input(q, "The offer is required: _links.mediaOffer.href "
                                            "as a data:application/sdp URI.");
        }
        bytes = (char *)ucwa_sdp_from_data_uri(p, uri, &sdp.ctype, &sdp.len, &why);
        if (!bytes) {
            return bad_sdp(q, why ? why : "not a data URI");
        }
        if (sdp.len > UCWA_SDP_MAX) {
            return ucwa_http_error(q, HTTP_REQUEST_ENTITY_TOO_LARGE, "EntityTooLarge", NULL,
                                   "A session description is at most 64 KiB.");
        }
        sdp.body = bytes;
        if ((why = ucwa_sdp_parse(p, sdp.ctype, sdp.body, sdp.len, &sdp.sdp)) != NULL) {
            return bad_sdp(q, why);
        }
    }
    if (!to) {
        return ucwa_conv_http_bad_input(q, "to is required.");
    }
    if (!strncasecmp(to, "tel:", 4) && ucwa_calls_sip_numbers(q)) {
        ucwa_voice_user vu;
        if (!ucwa_calls_voice_user(q, &vu, &rv)
            || !ucwa_calls_number(q, &vu, to, &in.to, &in.gw_set, &rv)) {
            return rv;
        }
    }
    else if ((in.to = ucwa_conv_http_sip(p, to)) == NULL) {
        return ucwa_conv_http_bad_input(q, "to must be a SIP address such as "
                                           "sip:user@example.com.");
    }
    if (!strcmp(in.to, q->user)) {
        return ucwa_conv_http_bad_input(q, "You cannot call yourself.");
    }
    if (in.subject && (strlen(in.subject) > 4 * UCWA_CONV_SUBJECT_CHARS
                       || ucwa_conv_http_has_control(in.subject))) {
        return ucwa_conv_http_bad_input(q, "subject must be short and without control "
                                           "characters.");
    }
    if (importance && (in.importance = ucwa_conv_http_importance(importance)) == NULL) {
        return ucwa_conv_http_bad_input(q, "importance must be Normal, Urgent or Emergency.");
    }
    in.operation_id = id_param(op);
    in.session_context = id_param(ctx);
    if ((in.operation_id && !*in.operation_id) || (in.session_context && !*in.session_context)
        || (in.thread_id && (strlen(in.thread_id) >= UCWA_CONV_THREAD_MAX
                             || !ucwa_conv_http_token_ok(in.thread_id)))) {
        return ucwa_conv_http_bad_input(q, "operationId, sessionContext and threadId must be "
                                           "at most 50 printable ASCII characters without "
                                           "blanks.");
    }
    (void)ucwa_fwd_app_route(q, &in, &more);   /* the callee forwards: to the SIP side */
    in.kind = UCWA_CONV_KIND_AV;
    in.video = sdp.sdp.video;
    in.offer_type = sdp.ctype;
    in.offer = sdp.body;
    in.offer_len = sdp.len;
    if (ucwa_pool_name(q->r->server)) {
        /* the callee's Audio/Video endpoints on the pool's other Front Ends ring too; a
         * user homed on a linked pool rings there (the relay carries the offer) */
        apr_array_header_t *fes = apr_array_make(p, 1, sizeof(const char *));
        if (!(in.fwd_to && *in.fwd_to) && ucwa_pool_invitee_fes(q->r, in.to, &fes) != 0) {
            return ucwa_pool_unavailable(q);
        }
        ucwa_fwd_app_anchor_pool(q, &in, fes);   /* UcwaSipAnchorAppCalls on a pool */
        if (fes->nelts > 0 && !to_pool(q, &sdp, &in.offer_key, &rv)) {
            return rv;
        }
        in.remote_fes = (const char *const *)fes->elts;
        in.nremote = fes->nelts;
        if (fes->nelts == 0 && q->conf->global->sip->enabled) {
            /* nobody elsewhere: when nobody rings here either, this Front End's SIP side
             * (a member of the pool, reached through the pool's table) places the call;
             * so it does a call the callee forwards (ucwa_fwd_app.c): to the target, or
             * looped to itself, which rings the callee pool-wide as a call from SIP */
            if (!to_pool(q, &sdp, &in.offer_key, &rv)) {
                return rv;
            }
            in.sip_fe = ucwa_pool_sip_name(p, ucwa_pool_name(q->r->server));
        }
    }
    if (ucwa_conv_http_invite(q, &in, q->conf->global->ring_timeout + more,
                              "audioVideoInvitations",
                              &x, &rv) < 0) {
        return rv;
    }
    switch (x.res) {
    case UCWA_CONV_OK:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00562)
                      "%s called %s in conversation %s (%s, %u endpoints ringing here, %d "
                      "other Front Ends, offer of %" APR_SIZE_T_FMT " bytes)", q->user, in.to,
                      x.id, in.video ? "audio and video" : "audio", x.endpoints, in.nremote,
                      sdp.len);
        return ucwa_conv_http_created(q, x.location);
    case UCWA_CONV_TOO_LARGE:
        return ucwa_http_error(q, HTTP_REQUEST_ENTITY_TOO_LARGE, "EntityTooLarge", NULL,
                               "The session description is too large.");
    default:
        return ucwa_conv_http_not_invited(q, &x);
    }
}

/* --- the invitation ---------------------------------------------------------------- */

typedef struct {
    int what;
    const char *id;
    const sdp_in *sdp;
    const char *cid, *ctx;
    const char *pool_key;          /* the answer's key in the pool's table, or NULL */
    ucwa_conv_result res;
    ucwa_conv_view v;              /* GETs: detached, with its media */
    const char *conv_id;
} invitation_txn;

static int invitation_locked(ucwa_txn *t, int idx, void *baton)
{
    invitation_txn *x = baton;
    ucwa_store *s = t->store;
    apr_uint32_t gen = ucwa_store_app(s, idx)->gen;
    ucwa_conv_touched touched;
    apr_time_t now = apr_time_now();
    ucwa_conv *c;
    int conv, side = -1, caller;

    conv = ucwa_conv_find_av_invitation_locked(s, x->id, &side);
    c = conv >= 0 ? ucwa_store_conv(s, conv) : NULL;
    if (!c || c->phone == UCWA_CONV_PHONE_CVW || !(c->kind == UCWA_CONV_KIND_AV ? ucwa_conv_sees_invitation(c, side, idx, gen)
                                             : ucwa_conv_side(c, idx, gen) == side)) {
        return 1;
    }
    caller = side == ucwa_av_caller(c);
    memset(&touched, 0, sizeof(touched));
    x->conv_id = apr_pstrdup(t->pool, c->id);
    switch (x->what) {
    case UCWA_AV_INVITATION:
    case UCWA_AV_NEGOTIATION:
        if (x->what == UCWA_AV_NEGOTIATION && !caller) {
            return 1;
        }
        ucwa_conv_view_res_locked(s, c, side, idx, &x->v);
        ucwa_av_view_media_locked(s, &x->v, t->pool);
        if (x->what == UCWA_AV_NEGOTIATION && !x->v.answer) {
            return 1;
        }
        ucwa_conv_http_detach(t->pool, &x->v);
        break;
    case UCWA_AV_ACCEPT:
    case UCWA_AV_PROVISIONAL:
        if (caller) {
            return 1;
        }
        if (c->peer_fe[0] && !ucwa_pool_is_sip(c->peer_fe) && !x->pool_key) {
            return NEED_KEY;       /* the caller is on another Front End */
        }
        ucwa_av_pool_key_locked(s, c, UCWA_SDP_ANSWER, x->pool_key);
        x->res = ucwa_conv_answer_locked(s, conv, idx, x->what == UCWA_AV_PROVISIONAL,
                                         x->sdp->ctype, x->sdp->body, x->sdp->len, x->cid,
                                         x->ctx, now, t->pool, &touched);
        break;
    default:   /* decline (the callee), cancel (the caller), while it rings */
        if (caller != (x->what == UCWA_AV_CANCEL)) {
            return 1;
        }
        x->res = ucwa_av_phase(c) == UCWA_CONV_INVITING
                 ? ucwa_conv_stop_av_locked(s, conv, side, idx, now, t->pool, &touched)
                 : UCWA_CONV_STATE;
    }
    ucwa_conv_http_wake(t, &touched);
    return 0;
}

/* The answer's Content-ID must name a part of the offer: checked against the request's
 * own parse of the answer is not possible, so only its form is checked here. */
int ucwa_calls_invitation(ucwa_req *q, int what)
{
    const char *action = NULL;
    invitation_txn x;
    sdp_in sdp;
    int rv, found;

    memset(&x, 0, sizeof(x));
    memset(&sdp, 0, sizeof(sdp));
    x.what = what;
    x.id = q->id[0];
    if (what == UCWA_AV_ACCEPT || what == UCWA_AV_PROVISIONAL) {
        if (!sdp_input(q, &sdp, "processedOfferId", &x.cid, "sessionContext", &x.ctx, &rv)) {
            return rv;
        }
        x.sdp = &sdp;
        action = what == UCWA_AV_ACCEPT ? "accepted" : "sent a provisional answer to";
    }
    else if (what == UCWA_AV_DECLINE || what == UCWA_AV_CANCEL) {
        /* their bodies (a decline reason) are only informative */
        if (!ucwa_http_input(q, &rv)) {
            return rv;
        }
        action = what == UCWA_AV_DECLINE ? "declined" : "canceled";
    }
    x.res = UCWA_CONV_OK;
    found = ucwa_app_txn(q, invitation_locked, &x, &rv);
    if (found == NEED_KEY) {
        if (!to_pool(q, &sdp, &x.pool_key, &rv)) {
            return rv;
        }
        found = ucwa_app_txn(q, invitation_locked, &x, &rv);
    }
    if (found < 0) {
        return rv;
    }
    if (found) {
        return ucwa_conv_http_not_found(q);
    }
    if (what == UCWA_AV_INVITATION) {
        return ucwa_http_resource(q, HTTP_OK, mob_json_own(q->r->pool, ucwa_av_invitation(q->r->pool, &x.v)));
    }
    if (what == UCWA_AV_NEGOTIATION) {
        return ucwa_http_resource(q, HTTP_OK, mob_json_own(q->r->pool, ucwa_av_negotiation(q->r->pool, &x.v)));
    }
    switch (x.res) {
    case UCWA_CONV_OK:
    case UCWA_CONV_PENDING:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00564)
                      "%s %s the call in conversation %s", q->user, action, x.conv_id);
        /* answered: Archived logs; canceled: the callee's Missed one */
        ucwa_conversation_logs_collect(q->r->server, q->r->pool);
        return ucwa_http_no_content(q);
    default:
        return ucwa_calls_not_answered(q, x.res);
    }
}

int ucwa_calls_conflict(ucwa_req *q, ucwa_conv_result res, const char *msg)
{
    switch (res) {
    case UCWA_CONV_BUSY:
        return ucwa_pool_busy(q);
    case UCWA_CONV_TOO_MANY:
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "TooManyConversations",
                               "This application has too many conversations.");
    default:
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", NULL, msg);
    }
}

int ucwa_calls_not_answered(ucwa_req *q, ucwa_conv_result res)
{
    return ucwa_calls_conflict(q, res, "The invitation is no longer open.");
}

/* --- the conversation's audioVideo ----------------------------------------------------- */

typedef struct {
    int what;
    const char *id;
    apr_uint32_t n;                /* a renegotiation's number */
    const sdp_in *sdp;
    const char *op, *ctx;
    apr_interval_time_t ring;      /* addAudio*: UcwaCallRingTimeout */
    const char *pool_key;          /* the description's key in the pool's table, or NULL */
    ucwa_conv_result res;
    ucwa_conv_view v;
    const char *location;
} av_txn;

static int av_locked(ucwa_txn *t, int idx, void *baton)
{
    av_txn *x = baton;
    ucwa_store *s = t->store;
    ucwa_conv_touched touched;
    apr_time_t now = apr_time_now();
    ucwa_conv *c;
    int conv, side;

    if ((conv = ucwa_conv_find_seen_locked(s, x->id, idx, &side)) < 0) {
        return 1;
    }
    c = ucwa_store_conv(s, conv);
    if (c->phone) {
        return 2;                  /* call via work: its modality is phoneAudio */
    }
    memset(&touched, 0, sizeof(touched));
    ucwa_conv_view_res_locked(s, c, side, idx, &x->v);
    if (x->sdp && c->peer_fe[0] && !ucwa_pool_is_sip(c->peer_fe) && !x->pool_key) {
        return NEED_KEY;           /* the other side is on another Front End */
    }
    if ((x->what == UCWA_AV_RENEGOTIATE || x->what == UCWA_AV_RENEG_ANSWER) && x->sdp) {
        ucwa_av_pool_key_locked(s, c, x->what == UCWA_AV_RENEGOTIATE ? UCWA_SDP_RENEG_OFFER
                                                                     : UCWA_SDP_RENEG_ANSWER,
                                x->pool_key);
    }
    switch (x->what) {
    case UCWA_AV_ADD:
        x->res = ucwa_conv_add_av_locked(s, conv, side, x->sdp->sdp.video, x->sdp->ctype,
                                         x->sdp->body, x->sdp->len, x->ctx, x->op,
                                         x->pool_key, now + x->ring, now, t->pool, &touched);
        if (x->res == UCWA_CONV_OK) {
            x->location = ucwa_av_href_invitation(t->pool, &x->v);
        }
        break;
    case UCWA_AV_STOP:
        x->res = ucwa_conv_stop_av_locked(s, conv, side, idx, now, t->pool, &touched);
        break;
    case UCWA_AV_RENEGOTIATE:
        x->res = ucwa_conv_renegotiate_locked(s, conv, side, x->sdp->ctype, x->sdp->body,
                                              x->sdp->len, x->op, now, t->pool, &touched);
        if (x->res == UCWA_CONV_OK) {
            x->location = ucwa_av_href_renegotiation(t->pool, &x->v);
        }
        break;
    case UCWA_AV_RENEG_ANSWER:
    case UCWA_AV_RENEG_DISMISS:
        x->res = ucwa_conv_reneg_answer_locked(s, conv, side, x->n,
                                               x->sdp ? x->sdp->ctype : NULL,
                                               x->sdp ? x->sdp->body : NULL,
                                               x->sdp ? x->sdp->len : 0, now, t->pool,
                                               &touched);
        break;
    case UCWA_AV_SESSION:
        if (ucwa_av_phase(c) != UCWA_CONV_CONNECTED) {
            return 2;
        }
        /* fall through */
    case UCWA_AV_RENEGOTIATION:
        if (x->what == UCWA_AV_RENEGOTIATION && (!c->reneg || x->n != c->reneg_n)) {
            return 2;
        }
        /* fall through */
    default:   /* the modality */
        ucwa_av_view_media_locked(s, &x->v, t->pool);
        ucwa_conv_http_detach(t->pool, &x->v);
    }
    ucwa_conv_http_wake(t, &touched);
    return 0;
}

static int renegotiation_number(const char *v, apr_uint32_t *n)
{
    char *end;
    apr_int64_t i = apr_strtoi64(v, &end, 10);

    if (!*v || *end || i < 1 || i > 0x7fffffff) {
        return 0;
    }
    *n = (apr_uint32_t)i;
    return 1;
}

int ucwa_calls_conversation(ucwa_req *q, int what)
{
    apr_pool_t *p = q->r->pool;
    av_txn x;
    sdp_in sdp;
    int rv, found;

    memset(&x, 0, sizeof(x));
    memset(&sdp, 0, sizeof(sdp));
    x.what = what;
    x.id = q->id[0];
    if ((what == UCWA_AV_RENEGOTIATION || what == UCWA_AV_RENEG_ANSWER
         || what == UCWA_AV_RENEG_DISMISS) && !renegotiation_number(q->id[1], &x.n)) {
        return ucwa_conv_http_not_found(q);
    }
    if (what == UCWA_AV_ADD && !av_allowed(q, &rv)) {
        return rv;
    }
    if (what == UCWA_AV_RENEGOTIATE || what == UCWA_AV_RENEG_ANSWER || what == UCWA_AV_ADD) {
        if (!sdp_input(q, &sdp, "operationId", &x.op, "sessionContext", &x.ctx, &rv)) {
            return rv;
        }
        x.sdp = &sdp;
        x.ring = q->conf->global->ring_timeout;
    }
    else if ((what == UCWA_AV_STOP || what == UCWA_AV_RENEG_DISMISS)
             && !ucwa_http_input(q, &rv)) {
        return rv;
    }
    x.res = UCWA_CONV_OK;
    found = ucwa_app_txn(q, av_locked, &x, &rv);
    if (found == NEED_KEY) {
        if (!to_pool(q, &sdp, &x.pool_key, &rv)) {
            return rv;
        }
        found = ucwa_app_txn(q, av_locked, &x, &rv);
    }
    if (found < 0) {
        return rv;
    }
    if (found == 1) {
        return ucwa_conv_http_no_conversation(q);
    }
    if (found == 2) {
        return ucwa_conv_http_not_found(q);
    }
    switch (what) {
    case UCWA_AV_MODALITY:
        return ucwa_http_resource(q, HTTP_OK, mob_json_own(p, ucwa_av_modality(p, &x.v)));
    case UCWA_AV_SESSION:
        return ucwa_http_resource(q, HTTP_OK, mob_json_own(p, ucwa_av_session(p, &x.v)));
    case UCWA_AV_RENEGOTIATION:
        return ucwa_http_resource(q, HTTP_OK, mob_json_own(p, ucwa_av_renegotiation(p, &x.v)));
    default:
        break;
    }
    switch (x.res) {
    case UCWA_CONV_OK:
    case UCWA_CONV_PENDING:
        if (what == UCWA_AV_STOP) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00565)
                          "%s hung up in conversation %s", q->user, x.id);
        }
        return x.location ? ucwa_conv_http_created(q, x.location) : ucwa_http_no_content(q);
    case UCWA_CONV_BUSY:
        return ucwa_pool_busy(q);
    case UCWA_CONV_TOO_LARGE:
        return ucwa_http_error(q, HTTP_REQUEST_ENTITY_TOO_LARGE, "EntityTooLarge", NULL,
                               "The session description is too large.");
    case UCWA_CONV_NO_CALL:
        apr_table_setn(q->r->err_headers_out, "Retry-After", "30");
        return ucwa_http_error(q, HTTP_SERVICE_UNAVAILABLE, "ServiceUnavailable", NULL,
                               "This server cannot take more calls now.");
    default:
        if (what == UCWA_AV_ADD) {
            return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", NULL,
                                   "A call cannot be added now: messaging is not connected, "
                                   "a call is already in the conversation, or the other "
                                   "party's application takes no calls.");
        }
        if (what == UCWA_AV_RENEGOTIATE) {
            return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "AlreadyExists",
                                   "The call is not connected, or a renegotiation is in "
                                   "progress.");
        }
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", NULL,
                               "The call is not in a state for this.");
    }
}
