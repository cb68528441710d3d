/* The HTTP side of call via work: startPhoneAudio checked and normalised with the store
 * unlocked (the mobility policy's EnableOutsideVoice, the voice policy of both numbers),
 * then one transition of the conversation code (common/ucwa/ucwa_conv_phone: a call to the
 * SIP side, which calls the user's phone first); the phoneAudio operations. */
#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_ucwa.h"
#include "mob_json.h"
#include "ucwa_app.h"
#include "ucwa_av.h"
#include "ucwa_calls.h"
#include "ucwa_config.h"
#include "ucwa_conv.h"
#include "ucwa_conv_http.h"
#include "ucwa_conv_phone.h"
#include "ucwa_input.h"
#include "ucwa_phone.h"
#include "ucwa_policy.h"
#include "ucwa_pool.h"
#include "ucwa_pool_db.h"
#include "ucwa_sipd.h"
#include "ucwa_voice.h"

APLOG_USE_MODULE(ucwa);

int ucwa_phone_available(const ucwa_global *g, const ucwa_policy *pol)
{
    return ucwa_policy_call_via_work_enabled(pol) && g->sip && g->sip->enabled;
}

static int forbidden(ucwa_req *q, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00780)
                  "%s: call via work refused: %s", q->user, why);
    return ucwa_http_error(q, HTTP_FORBIDDEN, "Forbidden", NULL,
                           "Your policy does not allow you to call via work.");
}

/* A phone number as the user may type it (digits, '+', separators, tel:): the voice
 * module cleans and normalises it; this only bounds it. */
static int number_ok(const char *v)
{
    return v && *v && strlen(v) <= UCWA_VOICE_DIAL_MAX && !ucwa_conv_http_has_control(v);
}

/* 1 when dialled is a number the user's voice policy routes nowhere (*number: "tel:" and
 * it normalised), logged; 0 otherwise (allowed, or refused in another way: the caller's
 * ucwa_calls_number answers those). */
static int not_routed(ucwa_req *q, const ucwa_voice_user *vu, const char *dialled,
                      const char **number)
{
    ucwa_voice_choice choice;
    const char *n = NULL;

    if (ucwa_voice_check(vu, q->r->pool, dialled, &n, &choice) != UCWA_VOICE_NOT_ALLOWED) {
        return 0;
    }
    *number = apr_pstrcat(q->r->pool, "tel:", n, NULL);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00802)
                  "%s: call via work: the voice policy allows no call to %s", q->user, n);
    return 1;
}

int ucwa_phone_start(ucwa_req *q, int what)
{
    apr_pool_t *p = q->r->pool;
    ucwa_conv_invite_in in;
    ucwa_conv_http_invited x;
    ucwa_voice_user vu;
    ucwa_app copy;
    json_t *body;
    const char *to, *phone, *importance, *op, *callback = NULL, *callback_gw = NULL;
    int rv, bad = 0;

    (void)what;
    if (ucwa_app_copy(q, &copy, NULL, &rv) != OK) {
        return rv;
    }
    if (!ucwa_phone_available(q->conf->global,
                              ucwa_app_policy(q->conf->global, copy.policy_tag))) {
        return forbidden(q, ucwa_policy_call_via_work_enabled(
                                ucwa_app_policy(q->conf->global, copy.policy_tag))
                            ? "the SIP side is off (UcwaSip)"
                            : "EnableOutsideVoice or EnableMobility is off");
    }
    if (!(body = ucwa_http_input(q, &rv))) {
        return rv;
    }
    memset(&in, 0, sizeof(in));
    to = ucwa_input_string(body, "to", UCWA_CONV_HTTP_SIP_INPUT_MAX, &bad);
    phone = ucwa_input_string(body, "phoneNumber", UCWA_CONV_HTTP_SIP_INPUT_MAX, &bad);
    in.subject = ucwa_input_string(body, "subject", UCWA_CONV_SUBJECT_CHARS * 4, &bad);
    importance = ucwa_input_string(body, "importance", 16, &bad);
    op = ucwa_input_string(body, "operationId", UCWA_CONV_OPID_CHARS, &bad);
    in.thread_id = ucwa_input_string(body, "threadId", UCWA_CONV_THREAD_MAX - 1, &bad);
    if (bad) {
        return ucwa_conv_http_bad_input(q, "to, phoneNumber, subject, importance, operationId "
                                           "and threadId must be strings of the documented "
                                           "lengths.");
    }
    if (!to || !*to) {
        return ucwa_conv_http_bad_input(q, "to is required: sip:user@example.com or a tel: "
                                           "number.");
    }
    if (!phone || !*phone) {
        phone = copy.phone_number[0] ? apr_pstrdup(p, copy.phone_number) : NULL;
    }
    if (!phone) {
        return ucwa_conv_http_bad_input(q, "phoneNumber is required: the number of the phone "
                                           "to call you on (or give it to makeMeAvailable).");
    }
    if (!number_ok(phone)) {
        return ucwa_conv_http_bad_input(q, "phoneNumber must be a phone number.");
    }
    if (in.subject && ucwa_conv_http_has_control(in.subject)) {
        return ucwa_conv_http_bad_input(q, "subject must be without control characters.");
    }
    if (importance && (in.importance = ucwa_conv_http_importance(importance)) == NULL) {
        return ucwa_conv_http_bad_input(q, "importance must be Normal, Urgent or Emergency.");
    }
    if ((op && (!*op || !ucwa_conv_http_token_ok(op)))
        || (in.thread_id && (!*in.thread_id || !ucwa_conv_http_token_ok(in.thread_id)))) {
        return ucwa_conv_http_bad_input(q, "operationId and threadId must be at most 50 "
                                           "printable ASCII characters without blanks.");
    }
    in.operation_id = op;
    /* both numbers: the dial plan normalises them, the voice policy must route them;
     * else nothing reaches SIP (a number no route allows: the invitation fails at once) */
    if (!ucwa_calls_voice_user(q, &vu, &rv)) {
        return rv;
    }
    if (not_routed(q, &vu, phone, &callback)) {
        in.phone_fail = UCWA_PHONE_FAIL_CALLBACK_NOT_ALLOWED;
    }
    else if (!ucwa_calls_number(q, &vu, phone, &callback, &callback_gw, &rv)) {
        return rv;
    }
    if (strlen(callback) >= UCWA_PHONE_MAX) {
        return ucwa_conv_http_bad_input(q, "phoneNumber is too long once normalised.");
    }
    if (!strncasecmp(to, "tel:", 4) || (to[0] && strchr("+0123456789", to[0]))) {
        if (not_routed(q, &vu, to, &in.to)) {
            in.phone_fail = in.phone_fail ? in.phone_fail : UCWA_PHONE_FAIL_TARGET_NOT_ALLOWED;
        }
        else if (!ucwa_calls_number(q, &vu, to, &in.to, &in.gw_set, &rv)) {
            return rv;
        }
    }
    else if ((in.to = ucwa_conv_http_sip(p, to)) == NULL) {
        return ucwa_conv_http_bad_input(q, "to must be a SIP address such as "
                                           "sip:user@example.com, or a tel: number.");
    }
    if (!strcmp(in.to, q->user) || !strcmp(in.to, callback)) {
        return ucwa_conv_http_bad_input(q, "You cannot call yourself.");
    }
    in.kind = UCWA_CONV_KIND_AV;
    in.phone = 1;
    in.phone_number = callback;
    in.phone_gw = callback_gw;
    if (ucwa_pool_name(q->r->server)) {
        /* on a pool: this Front End's own SIP side places both legs, as it does an
         * application's call to a phone (no description: nothing for the pool's table) */
        in.sip_fe = ucwa_pool_sip_name(p, ucwa_pool_name(q->r->server));
    }
    /* a LineURI that does not fit is not shown (rather than cut) */
    in.phone_line = vu.line_uri && strlen(vu.line_uri) < UCWA_PHONE_MAX ? vu.line_uri : NULL;
    /* two legs ring one after the other: the UCWA side waits for both */
    if (ucwa_conv_http_invite(q, &in, 2 * q->conf->global->ring_timeout,
                              "phoneAudioInvitations", &x, &rv) < 0) {
        return rv;
    }
    switch (x.res) {
    case UCWA_CONV_OK:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00781)
                      "%s calls %s via work in conversation %s: phone %s first (gateway set "
                      "%s)", q->user, in.to, x.id, callback,
                      callback_gw ? callback_gw : "(Kamailio's default)");
        return ucwa_conv_http_created(q, x.location);
    default:
        return ucwa_conv_http_not_invited(q, &x);
    }
}

typedef struct {
    int what;
    const char *id;
    ucwa_conv_result res;
    ucwa_conv_view v;
    const char *conv_id;
} phone_txn;

static int phone_locked(ucwa_txn *t, int idx, void *baton)
{
    phone_txn *x = baton;
    ucwa_store *s = t->store;
    apr_uint32_t gen = ucwa_store_app(s, idx)->gen;
    ucwa_conv_touched touched;
    apr_time_t now = apr_time_now();
    ucwa_conv *c;
    int conv, side = -1;

    if (x->what == UCWA_PHONE_INVITATION) {
        conv = ucwa_conv_find_av_invitation_locked(s, x->id, &side);
        c = conv >= 0 ? ucwa_store_conv(s, conv) : NULL;
        if (!c || ucwa_conv_side(c, idx, gen) != side) {
            return 1;
        }
    }
    else {
        conv = ucwa_conv_find_seen_locked(s, x->id, idx, &side);
        c = conv >= 0 ? ucwa_store_conv(s, conv) : NULL;
    }
    if (!c || !c->phone
        || side != (c->phone == UCWA_CONV_PHONE_CVW ? 0 : ucwa_av_caller(c) ^ 1)) {
        return 1;                  /* none, not a phoneAudio call, or not this application's */
    }
    if (c->phone == UCWA_CONV_PHONE_ANSWERED && x->what == UCWA_PHONE_INVITATION) {
        return 1;                  /* answered on a phone: its invitation is audioVideo's */
    }
    if (c->phone == UCWA_CONV_PHONE_ANSWERED
        && (x->what == UCWA_PHONE_HOLD || x->what == UCWA_PHONE_RESUME)) {
        x->conv_id = apr_pstrdup(t->pool, c->id);
        x->res = UCWA_CONV_STATE;  /* not offered: the phone holds on its own */
        return 0;
    }
    memset(&touched, 0, sizeof(touched));
    x->conv_id = apr_pstrdup(t->pool, c->id);
    switch (x->what) {
    case UCWA_PHONE_HOLD:
    case UCWA_PHONE_RESUME:
        x->res = ucwa_conv_phone_hold_locked(s, conv, side, x->what == UCWA_PHONE_HOLD, now,
                                             t->pool, &touched);
        break;
    case UCWA_PHONE_STOP:
        x->res = ucwa_conv_stop_av_locked(s, conv, side, idx, now, t->pool, &touched);
        break;
    default:
        ucwa_conv_view_res_locked(s, c, side, idx, &x->v);
        ucwa_conv_http_detach(t->pool, &x->v);
    }
    ucwa_conv_http_wake(t, &touched);
    return 0;
}

int ucwa_phone_call(ucwa_req *q, int what)
{
    static const char *const done[] = { "", "", "put on hold", "resumed", "stopped" };
    apr_pool_t *p = q->r->pool;
    phone_txn x;
    int rv, found;

    memset(&x, 0, sizeof(x));
    x.what = what;
    x.id = q->id[0];
    if (what >= UCWA_PHONE_HOLD && !ucwa_http_input(q, &rv)) {
        return rv;                 /* their bodies say nothing, but must be well formed */
    }
    x.res = UCWA_CONV_OK;
    found = ucwa_app_txn(q, phone_locked, &x, &rv);
    if (found < 0) {
        return rv;
    }
    if (found) {
        return what == UCWA_PHONE_INVITATION ? ucwa_conv_http_not_found(q)
                                             : ucwa_conv_http_no_conversation(q);
    }
    if (what == UCWA_PHONE_INVITATION) {
        return ucwa_http_resource(q, HTTP_OK, mob_json_own(p, ucwa_conv_phone_invitation(p, &x.v)));
    }
    if (what == UCWA_PHONE_MODALITY) {
        return ucwa_http_resource(q, HTTP_OK, mob_json_own(p, ucwa_conv_phone_modality(p, &x.v)));
    }
    switch (x.res) {
    case UCWA_CONV_OK:
    case UCWA_CONV_PENDING:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00783)
                      "%s %s the call via work in conversation %s", q->user, done[what],
                      x.conv_id);
        return ucwa_http_no_content(q);
    default:
        return ucwa_calls_conflict(q, x.res, what == UCWA_PHONE_STOP
                                   ? "The call has already ended." : "The call is not connected.");
    }
}
