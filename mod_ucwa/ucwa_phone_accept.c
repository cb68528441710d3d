/* acceptWithPhoneAudio (docs/extensions.md section 24): an incoming call from a SIP phone
 * or the PSTN answered on the user's own phone. The request checks what call via work
 * checks (EnableOutsideVoice and EnableMobility, the SIP side on, the number through the
 * user's dial plan and voice policy) with the store unlocked, then answers the invitation
 * as acceptWithAnswer does but without a description: the record carries the number
 * (ucwa_conv.phone_number, phone_gw; phone stays 0 until the phone answers), and the
 * claim that reaches ucwa-sipd makes it call that number (mod_ucwa/ucwa_sipd_fork.c);
 * the phone's answer, through rtpengine, is the caller's 200 and the claim's verdict. */
#include <httpd.h>
#include <string.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_ucwa.h"
#include "ucwa_app.h"
#include "ucwa_av.h"
#include "ucwa_calls.h"
#include "ucwa_conv.h"
#include "ucwa_conv_http.h"
#include "ucwa_conv_phone.h"
#include "ucwa_input.h"
#include "ucwa_phone.h"
#include "ucwa_pool.h"
#include "ucwa_voice.h"

APLOG_USE_MODULE(ucwa);

typedef struct {
    const char *id, *number, *gw;
    ucwa_conv_result res;
    const char *conv_id;
    int not_sip;                   /* the caller is an application, not the SIP side */
} accept_txn;

static int accept_locked(ucwa_txn *t, int idx, void *baton)
{
    accept_txn *x = baton;
    ucwa_store *s = t->store;
    apr_uint32_t gen = ucwa_store_app(s, idx)->gen;
    ucwa_conv_touched touched;
    ucwa_conv *c;
    int conv, side = -1;

    conv = ucwa_conv_find_av_invitation_locked(s, x->id, &side);
    c = conv >= 0 ? ucwa_store_conv(s, conv) : NULL;
    if (!c || c->phone || c->kind != UCWA_CONV_KIND_AV
        || !ucwa_conv_sees_invitation(c, side, idx, gen) || side == ucwa_av_caller(c)) {
        return 1;                  /* none, or not an invitation this application answers */
    }
    x->conv_id = apr_pstrdup(t->pool, c->id);
    if (!c->mirror || !ucwa_pool_is_any_sip(c->peer_fe)) {
        x->not_sip = 1;            /* no media anchor between two applications */
        return 0;
    }
    if (c->phone_number[0]) {
        x->res = UCWA_CONV_STATE;  /* accepted on a phone already */
        return 0;
    }
    apr_cpystrn(c->phone_number, x->number, sizeof(c->phone_number));
    apr_cpystrn(c->phone_gw, x->gw ? x->gw : "", sizeof(c->phone_gw));
    memset(&touched, 0, sizeof(touched));
    x->res = ucwa_conv_answer_locked(s, conv, idx, 0, "", "", 0, NULL, NULL, apr_time_now(),
                                     t->pool, &touched);
    if (x->res != UCWA_CONV_OK && x->res != UCWA_CONV_PENDING) {
        c->phone_number[0] = '\0';  /* not taken: another endpoint answered first */
        c->phone_gw[0] = '\0';
    }
    ucwa_conv_http_wake(t, &touched);
    return 0;
}

/* What acceptWithPhoneAudio and replaceWithPhoneAudio check before the store: the policy
 * gate (403), the number (phoneNumber, or makeMeAvailable's) through the dial plan and
 * voice route (400, 403). 1 with *number and *gw, or 0 with the answer in *rv. */
static int phone_input(ucwa_req *q, const char *op, const char **number, const char **gw,
                       int *rv)
{
    apr_pool_t *p = q->r->pool;
    const ucwa_policy *pol;
    ucwa_voice_user vu;
    ucwa_app copy;
    json_t *body;
    const char *phone;
    int bad = 0;

    if (ucwa_app_copy(q, &copy, NULL, rv) != OK) {
        return 0;
    }
    pol = ucwa_app_policy(q->conf->global, copy.policy_tag);
    if (!ucwa_phone_available(q->conf->global, pol)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00761)
                      "%s: %s refused: %s", q->user, op,
                      ucwa_policy_call_via_work_enabled(pol)
                      ? "the SIP side is off (UcwaSip)"
                      : "EnableOutsideVoice or EnableMobility is off");
        *rv = ucwa_http_error(q, HTTP_FORBIDDEN, "Forbidden", NULL,
                              "Your policy does not allow you to move calls to a phone.");
        return 0;
    }
    if (!(body = ucwa_http_input(q, rv))) {
        return 0;
    }
    phone = ucwa_input_string(body, "phoneNumber", UCWA_CONV_HTTP_SIP_INPUT_MAX, &bad);
    (void)ucwa_input_string(body, "operationId", UCWA_CONV_HTTP_SIP_INPUT_MAX, &bad);
    if (bad) {
        *rv = ucwa_conv_http_bad_input(q, "phoneNumber and operationId must be strings.");
        return 0;
    }
    if (!phone || !*phone) {
        phone = copy.phone_number[0] ? apr_pstrdup(p, copy.phone_number) : NULL;
    }
    if (!phone) {
        *rv = ucwa_conv_http_bad_input(q, "phoneNumber is required: the number of the phone "
                                          "to use (or give it to makeMeAvailable).");
        return 0;
    }
    if (strlen(phone) > UCWA_VOICE_DIAL_MAX || ucwa_conv_http_has_control(phone)) {
        *rv = ucwa_conv_http_bad_input(q, "phoneNumber must be a phone number.");
        return 0;
    }
    if (!ucwa_calls_voice_user(q, &vu, rv) || !ucwa_calls_number(q, &vu, phone, number, gw, rv)) {
        return 0;
    }
    if (strlen(*number) >= UCWA_PHONE_MAX) {
        *rv = ucwa_conv_http_bad_input(q, "phoneNumber is too long once normalised.");
        return 0;
    }
    return 1;
}

int ucwa_phone_accept(ucwa_req *q, int what)
{
    accept_txn x;
    int rv, found;

    (void)what;
    memset(&x, 0, sizeof(x));
    x.id = q->id[0];
    if (!phone_input(q, "acceptWithPhoneAudio", &x.number, &x.gw, &rv)) {
        return rv;
    }
    x.res = UCWA_CONV_OK;
    found = ucwa_app_txn(q, accept_locked, &x, &rv);
    if (found < 0) {
        return rv;
    }
    if (found) {
        return ucwa_conv_http_not_found(q);
    }
    if (x.not_sip) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00762)
                      "%s: acceptWithPhoneAudio refused in conversation %s: the caller is an "
                      "application (no media anchor)", q->user, x.conv_id);
        return ucwa_http_error(q, HTTP_FORBIDDEN, "Forbidden", NULL,
                               "This call cannot be answered on a phone.");
    }
    switch (x.res) {
    case UCWA_CONV_OK:
    case UCWA_CONV_PENDING:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00763)
                      "%s accepted the call in conversation %s on phone %s (gateway set %s)",
                      q->user, x.conv_id, x.number, x.gw ? x.gw : "(Kamailio's default)");
        return ucwa_http_no_content(q);
    default:
        return ucwa_calls_not_answered(q, x.res);
    }
}

static int replace_locked(ucwa_txn *t, int idx, void *baton)
{
    accept_txn *x = baton;
    ucwa_store *s = t->store;
    ucwa_conv *c;
    int conv, side;

    if ((conv = ucwa_conv_find_seen_locked(s, x->id, idx, &side)) < 0) {
        return 1;
    }
    c = ucwa_store_conv(s, conv);
    x->conv_id = apr_pstrdup(t->pool, c->id);
    if (c->kind == UCWA_CONV_KIND_AV && !c->phone && !ucwa_pool_is_any_sip(c->peer_fe)) {
        x->not_sip = 1;            /* no media anchor between two applications */
        return 0;
    }
    x->res = ucwa_conv_phone_replace_locked(s, conv, side, x->number, x->gw, t->pool);
    return 0;
}

int ucwa_phone_replace(ucwa_req *q, int what)
{
    accept_txn x;
    int rv, found;

    (void)what;
    memset(&x, 0, sizeof(x));
    x.id = q->id[0];
    if (!phone_input(q, "replaceWithPhoneAudio", &x.number, &x.gw, &rv)) {
        return rv;
    }
    found = ucwa_app_txn(q, replace_locked, &x, &rv);
    if (found < 0) {
        return rv;
    }
    if (found) {
        return ucwa_conv_http_no_conversation(q);
    }
    if (x.not_sip) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00769)
                      "%s: replaceWithPhoneAudio refused in conversation %s: the other party "
                      "is an application (no media anchor)", q->user, x.conv_id);
        return ucwa_http_error(q, HTTP_FORBIDDEN, "Forbidden", NULL,
                               "This call cannot be moved to a phone.");
    }
    switch (x.res) {
    case UCWA_CONV_OK:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00765)
                      "%s moves the call in conversation %s to phone %s (gateway set %s)",
                      q->user, x.conv_id, x.number, x.gw ? x.gw : "(Kamailio's default)");
        return ucwa_http_no_content(q);
    case UCWA_CONV_BUSY:
        return ucwa_calls_not_answered(q, x.res);
    default:
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", NULL,
                               "The call is not connected, or is being moved already.");
    }
}
