/* callForwardingSettings (ucwa_call_forwarding.h): the model and its SQL in
 * common/ucwa/ucwa_callfwd, the voice policy in common/ucwa/ucwa_voice; here the requests,
 * the resources, the gates and the events. */
#include <httpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mob_json.h"
#include "mod_ucwa.h"
#include "ucwa_app.h"
#include "ucwa_call_forwarding.h"
#include "ucwa_callfwd.h"
#include "ucwa_events.h"
#include "ucwa_input.h"
#include "ucwa_people_db.h"
#include "ucwa_people_render.h"
#include "ucwa_pool.h"
#include "ucwa_pool_db.h"
#include "ucwa_resources.h"
#include "ucwa_shm.h"

APLOG_USE_MODULE(ucwa);

#define CFS "/me/callForwardingSettings"
#define IFS CFS "/immediateForwardSettings"
#define SRS CFS "/simultaneousRingSettings"
#define UCS CFS "/unansweredCallSettings"
#define TARGET_MAX 80   /* characters of a target, as the reference says */
#define ACTION_ATTEMPTS 5   /* an action whose write another change beat is run again */

int ucwa_call_forwarding_voice(request_rec *r, const ucwa_server_conf *conf, apr_pool_t *p,
                               const char *user, ucwa_voice_user *out, const char **why)
{
    ucwa_db db;
    int i;

    if (!ucwa_people_db(r, p, 1, &db, why)) {
        return 0;
    }
    if (ucwa_voice_load(&db, p, user, conf->global->site, out) != 0) {
        *why = db.err;
        return 0;
    }
    for (i = 0; i < out->warnings->nelts; i++) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, UCWALOGNO(00670)
                      "voice settings of %s: %s (skipped)", user,
                      APR_ARRAY_IDX(out->warnings, i, const char *));
    }
    return 1;
}

/* --- resources ------------------------------------------------------------------------- */

static json_t *href(apr_pool_t *p, const char *base, const char *sub)
{
    return json_pack("{s:s}", "href", apr_pstrcat(p, base, sub, NULL));
}

/* target, contactUri and the contact link of one setting */
static void target_of(apr_pool_t *p, json_t *res, json_t *links, const char *base,
                      const char *target, const char *uri)
{
    json_object_set_new(res, "target", json_string(target));
    if (strcmp(target, "Contact") || !uri) {
        return;
    }
    json_object_set_new(res, "contactUri", json_string(uri));
    if (!strncmp(uri, "sip:", 4)) {
        json_object_set_new(links, "contact", href(p, base, apr_pstrcat(p, "/people/", uri + 4,
                                                                         NULL)));
    }
}

static json_t *finish(apr_pool_t *p, json_t *res, json_t *links, const char *rel, int put)
{
    json_object_set_new(res, "_links", links);
    json_object_set_new(res, "rel", json_string(rel));
    mob_json_own(p, res);
    if (put) {
        json_object_set_new(res, "etag", json_string(ucwa_res_etag(p, res)));
    }
    return res;
}

/* One settings resource: rel at sub, ringDelay (delay < 0: none), the target, and the
 * actions (names under sub, up to the first NULL: a gated action comes last, NULL when the
 * policy does not allow it). PUT-able ones carry the GUID
 * property and an etag. */
static json_t *res_setting(apr_pool_t *p, const char *base, const char *rel, const char *sub,
                           int delay, const char *target, const char *uri,
                           const char *const *actions)
{
    int put = delay >= 0;
    json_t *res = put ? json_pack("{s:s,s:i}", UCWA_PUT_PROPERTY, UCWA_PUT_VALUE, "ringDelay",
                                  delay)
                      : json_object();
    json_t *links = json_object();

    json_object_set_new(links, "self", href(p, base, sub));
    target_of(p, res, links, base, target, uri);
    for (; *actions; actions++) {
        json_object_set_new(links, *actions,
                            href(p, base, apr_pstrcat(p, sub, "/", *actions, NULL)));
    }
    return finish(p, res, links, rel, put);
}

static json_t *res_immediate(apr_pool_t *p, const char *base, const ucwa_callfwd *f,
                             const ucwa_voice_policy *pol)
{
    const char *actions[] = { pol->allow_call_forwarding ? "immediateForwardToContact" : NULL,
                              NULL };

    return res_setting(p, base, "immediateForwardSettings", IFS, -1, f->immediate_target,
                       f->immediate_uri, actions);
}

static json_t *res_simring(apr_pool_t *p, const char *base, const ucwa_callfwd *f,
                           const ucwa_voice_policy *pol)
{
    const char *actions[] = { pol->allow_simultaneous_ring ? "simultaneousRingToContact" : NULL,
                              NULL };

    return res_setting(p, base, "simultaneousRingSettings", SRS, f->simring_delay,
                       f->simring_target, f->simring_uri, actions);
}

static json_t *res_unanswered(apr_pool_t *p, const char *base, const ucwa_callfwd *f,
                              const ucwa_voice_policy *pol)
{
    const char *actions[] = { "resetUnansweredCallSettings",
                              pol->allow_call_forwarding ? "unansweredCallToContact" : NULL,
                              NULL };

    return res_setting(p, base, "unansweredCallSettings", UCS, f->unanswered_delay,
                       f->unanswered_target, f->unanswered_uri, actions);
}

static json_t *res_settings(apr_pool_t *p, const char *base, const ucwa_callfwd *f,
                            const ucwa_voice_policy *pol)
{
    json_t *res = json_pack("{s:s,s:s,s:s,s:s}", UCWA_PUT_PROPERTY, UCWA_PUT_VALUE,
                            "activePeriod", f->active_period, "activeSetting", f->active_setting,
                            "unansweredCallHandling",
                            f->unanswered_enabled ? "Enabled" : "Disabled");
    json_t *links = json_object();

    json_object_set_new(links, "self", href(p, base, CFS));
    json_object_set_new(links, "turnOffCallForwarding", href(p, base, CFS "/turnOffCallForwarding"));
    json_object_set_new(links, "immediateForwardSettings", href(p, base, IFS));
    json_object_set_new(links, "simultaneousRingSettings", href(p, base, SRS));
    json_object_set_new(links, "unansweredCallSettings", href(p, base, UCS));
    json_object_set_new(res, "_embedded", json_pack(
        "{s:O,s:O,s:O}", "immediateForwardSettings", res_immediate(p, base, f, pol),
        "simultaneousRingSettings", res_simring(p, base, f, pol),
        "unansweredCallSettings", res_unanswered(p, base, f, pol)));
    return finish(p, res, links, "callForwardingSettings", 1);
}

/* --- events ---------------------------------------------------------------------------- */

typedef struct {
    const char *user;
    const apr_array_header_t *fes;   /* other Front Ends of the pool to tell, or NULL */
    int untold;                      /* of those, the ones the outbox could not take */
} notify_txn;

static void notify_locked(ucwa_txn *t, void *baton)
{
    notify_txn *x = baton;
    int user = ucwa_store_user_find_locked(t->store, x->user, 0), i;

    for (i = 0; x->fes && i < x->fes->nelts; i++) {
        if (ucwa_pool_me_tell_locked(t->store, APR_ARRAY_IDX(x->fes, i, const char *), x->user,
                                     "callForwardingSettings", t->pool) < 0) {
            x->untold++;
        }
    }
    if (user < 0) {
        return;
    }
    if (ucwa_store_post_user_locked(t->store, user, 0, UCWA_PRIO_MEDIUM, "me", "/me",
                                    "callForwardingSettings", CFS, "updated", apr_time_now(),
                                    t->pool) > 0) {
        ucwa_events_wake_user_locked(t, user);
    }
}

/* --- requests -------------------------------------------------------------------------- */

typedef struct {
    ucwa_req *q;
    apr_pool_t *p;
    const char *base;
    ucwa_db db;
    ucwa_voice_user vu;
    ucwa_callfwd f;
    int lost;               /* commit found the settings changed since they were read */
} cf_req;

static int forbidden(ucwa_req *q, const char *subcode, const char *message)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00671)
                  "call forwarding of %s refused: %s", q->user, message);
    return ucwa_http_error(q, HTTP_FORBIDDEN, "Forbidden", subcode, message);
}

static int invalid(ucwa_req *q, const char *subcode, const char *message)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00672)
                  "call forwarding of %s: bad input: %s", q->user, message);
    return ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", subcode, message);
}

static int db_failed(cf_req *x, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, x->q->r, UCWALOGNO(00673)
                  "call forwarding of %s: %s", x->q->user, why ? why : "database error");
    return ucwa_http_error(x->q, HTTP_INTERNAL_SERVER_ERROR, "ServiceFailure", NULL,
                           "The call forwarding settings could not be read or changed.");
}

/* The application, the database, the voice settings, the stored settings. 1, or 0 with
 * the answer sent in *rv. */
static int begin(cf_req *x, ucwa_req *q, int *rv)
{
    const char *why = NULL;

    memset(x, 0, sizeof(*x));
    x->q = q;
    x->p = q->r->pool;
    if (!ucwa_people_db_app(q, &x->db, &x->base, "call forwarding",
                            "Call forwarding settings are unavailable now.", rv)) {
        return 0;
    }
    if (!ucwa_call_forwarding_voice(q->r, q->conf, x->p, q->user, &x->vu, &why)
        || ucwa_callfwd_get(&x->db, x->p, q->user, &x->f) < 0) {
        *rv = db_failed(x, why ? why : x->db.err);
        return 0;
    }
    return 1;
}

/* Writes the settings, tells the user's applications; the answer of the change. When
 * another request changed them since begin read them: nothing written or answered,
 * x->lost set. */
static int commit(cf_req *x, const char *what, json_t *res)
{
    apr_array_header_t *fes = NULL;
    notify_txn n;

    switch (ucwa_callfwd_put(&x->db, x->p, x->q->user, &x->f,
                             apr_time_as_msec(apr_time_now()))) {
    case 1:
        break;
    case 0:
        x->lost = 1;   /* another request changed them since begin read them */
        return OK;
    default:
        return db_failed(x, x->db.err);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->q->r, UCWALOGNO(00675)
                  "call forwarding of %s: %s (now %s, unanswered %s)", x->q->user, what,
                  x->f.active_setting, x->f.unanswered_enabled ? "Enabled" : "Disabled");
    memset(&n, 0, sizeof(n));
    n.user = x->q->user;
    if (ucwa_pool_name(x->q->r->server) && ucwa_pool_user_fes(x->q->r, x->q->user, &fes) == 0) {
        n.fes = fes;   /* else logged: the others see it at their next GET */
    }
    if (ucwa_txn_run(x->q->r->server, x->p, notify_locked, &n) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, x->q->r, UCWALOGNO(00676)
                      "call forwarding of %s changed, but its event was not posted (the "
                      "session store is unavailable)", x->q->user);
    }
    else if (n.untold) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, x->q->r, UCWALOGNO(00680)
                      "call forwarding of %s changed: the pool's outbox is full, %d other "
                      "Front Ends not told (their applications see it at their next GET)",
                      x->q->user, n.untold);
    }
    return res ? ucwa_http_etagged(x->q, res) : ucwa_http_no_content(x->q);
}

/* A target as the client gave it (a SIP address, a tel URI or a number a user typed) as
 * stored: "sip:..." lower case, or "tel:" and the number normalised by the user's dial
 * plan, which the voice policy must route. NULL with the answer sent in *rv. */
static const char *resolve_target(cf_req *x, const char *target, int *rv)
{
    ucwa_voice_choice choice;
    const char *number = NULL;

    if (!strncasecmp(target, "sip:", 4)) {
        const char *sip = ucwa_people_address(x->p, target);
        if (!sip) {
            *rv = invalid(x->q, "ParameterValidationFailure", "The target is not a SIP address.");
            return NULL;
        }
        return apr_pstrcat(x->p, "sip:", sip, NULL);
    }
    switch (ucwa_voice_check(&x->vu, x->p, target, &number, &choice)) {
    case UCWA_VOICE_ALLOWED:
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, x->q->r, UCWALOGNO(00677)
                      "call forwarding of %s: %s is %s, route %s (usage %s)", x->q->user,
                      target, number, choice.route, choice.usage);
        return apr_pstrcat(x->p, "tel:", number, NULL);
    case UCWA_VOICE_NOT_A_NUMBER:
        *rv = invalid(x->q, "NormalizationFailed",
                      "The target is neither a SIP address nor a phone number.");
        return NULL;
    case UCWA_VOICE_NOT_ALLOWED:
        *rv = forbidden(x->q, "NotAllowed",
                        apr_psprintf(x->p, "The voice policy allows no call to %s.", number));
        return NULL;
    default:
        *rv = forbidden(x->q, NULL, "The user is not enabled for Enterprise Voice.");
        return NULL;
    }
}

/* The target of an action's body (or query), checked and resolved; NULL with *rv. */
static const char *action_target(cf_req *x, json_t *in, int *rv)
{
    int bad = 0;
    const char *t = ucwa_input_string(in, "target", TARGET_MAX, &bad);

    if (bad || !t || !*t) {
        *rv = invalid(x->q, "ParameterValidationFailure",
                      "target is required: a SIP address or a phone number of at most 80 "
                      "characters.");
        return NULL;
    }
    return resolve_target(x, t, rv);
}

/* ringDelay of a body: a number or a string of digits in [lo, hi]; absent leaves *out.
 * 0 when present and wrong. */
static int ring_delay(json_t *in, int lo, int hi, int *out)
{
    json_t *v = ucwa_input_get(in, "ringDelay");
    long n;
    char *end;

    if (!v || json_is_null(v)) {
        return 1;
    }
    if (json_is_integer(v)) {
        n = (long)json_integer_value(v);
    }
    else if (json_is_string(v) && *json_string_value(v)) {
        /* digits only: strtol alone would also take " 5", "+5" and "-0" */
        const char *sv = json_string_value(v);
        if (strspn(sv, "0123456789") != strlen(sv) || strlen(sv) > 4) {
            return 0;
        }
        n = strtol(sv, &end, 10);
    }
    else {
        return 0;
    }
    if (n < lo || n > hi) {
        return 0;
    }
    *out = (int)n;
    return 1;
}

/* An enumeration member of a body: absent leaves *out; 0 when present and not a name. */
static int enum_of(json_t *in, const char *name, const char *const *names, const char **out)
{
    int bad = 0;
    const char *v = ucwa_input_string(in, name, 32, &bad);

    if (bad) {
        return 0;
    }
    if (!v) {
        return 1;
    }
    return (*out = ucwa_callfwd_enum(v, names)) != NULL;
}

static const char *const handling_names[] = { "Disabled", "Enabled", NULL };
static const char *const simring_names[] = { "None", "Contact", "Delegates", "Team", NULL };
static const char *const unanswered_names[] = { "None", "Contact", "Voicemail", NULL };

static int put_settings(cf_req *x, json_t *in, int *rv)
{
    const char *period = x->f.active_period, *setting = x->f.active_setting, *handling = NULL;
    int was_enabled = x->f.unanswered_enabled;
    const char *why;

    if (!enum_of(in, "activePeriod", ucwa_callfwd_periods, &period)
        || !enum_of(in, "activeSetting", ucwa_callfwd_settings, &setting)
        || !enum_of(in, "unansweredCallHandling", handling_names, &handling)) {
        *rv = invalid(x->q, "ParameterValidationFailure", "activePeriod, activeSetting or "
                      "unansweredCallHandling is not one of its values.");
        return 0;
    }
    if (!strcmp(setting, "ImmediateForward") && strcmp(x->f.active_setting, setting)
        && !x->vu.policy->allow_call_forwarding) {
        *rv = forbidden(x->q, NULL, "The voice policy does not allow call forwarding.");
        return 0;
    }
    if (!strcmp(setting, "SimultaneousRing") && strcmp(x->f.active_setting, setting)
        && !x->vu.policy->allow_simultaneous_ring) {
        *rv = forbidden(x->q, NULL, "The voice policy does not allow simultaneous ringing.");
        return 0;
    }
    x->f.active_period = period;
    x->f.active_setting = setting;
    if (handling) {
        x->f.unanswered_enabled = !strcmp(handling, "Enabled");
        if (x->f.unanswered_enabled && !was_enabled && !x->vu.policy->allow_call_forwarding) {
            *rv = forbidden(x->q, NULL, "The voice policy does not allow call forwarding.");
            return 0;
        }
    }
    else if (!strcmp(setting, "ImmediateForward")) {
        x->f.unanswered_enabled = 0;   /* "disabled when the active setting is ImmediateForward" */
    }
    if (x->f.unanswered_enabled && !strcmp(setting, "ImmediateForward")) {
        *rv = forbidden(x->q, NULL, "Unanswered calls cannot be forwarded while every call "
                        "is forwarded at once.");
        return 0;
    }
    if ((why = ucwa_callfwd_check(&x->f)) != NULL) {
        *rv = invalid(x->q, "ParameterValidationFailure",
                      apr_pstrcat(x->p, "The settings are not consistent: ", why, ".", NULL));
        return 0;
    }
    return 1;
}

static int put_simring(cf_req *x, json_t *in, int *rv)
{
    const char *target = x->f.simring_target, *why;

    if (!ring_delay(in, 0, UCWA_CALLFWD_SIMRING_DELAY_MAX, &x->f.simring_delay)
        || !enum_of(in, "target", simring_names, &target)) {
        *rv = invalid(x->q, "ParameterValidationFailure", "ringDelay (0 to 55) or target "
                      "(None, Contact, Delegates, Team) is not valid.");
        return 0;
    }
    if (!strcmp(target, "Delegates")) {
        *rv = forbidden(x->q, "NoDelegatesConfigured", "The user has no delegates.");
        return 0;
    }
    if (!strcmp(target, "Team")) {
        *rv = forbidden(x->q, "NoTeamMembersConfigured", "The user has no team members.");
        return 0;
    }
    if (!strcmp(target, "Contact") && !x->f.simring_uri) {
        *rv = invalid(x->q, "ParameterValidationFailure", "No simultaneous ring contact is set: "
                      "use simultaneousRingToContact.");
        return 0;
    }
    x->f.simring_target = target;
    if (!strcmp(target, "None") && !strcmp(x->f.active_setting, "SimultaneousRing")) {
        x->f.active_setting = "None";
    }
    if ((why = ucwa_callfwd_check(&x->f)) != NULL) {
        *rv = invalid(x->q, "ParameterValidationFailure", why);
        return 0;
    }
    return 1;
}

static int put_unanswered(cf_req *x, json_t *in, int *rv)
{
    const char *target = x->f.unanswered_target, *why;

    if (!ring_delay(in, UCWA_CALLFWD_UNANSWERED_DELAY_MIN, UCWA_CALLFWD_UNANSWERED_DELAY_MAX,
                    &x->f.unanswered_delay)
        || !enum_of(in, "target", unanswered_names, &target)) {
        *rv = invalid(x->q, "ParameterValidationFailure", "ringDelay (5 to 60) or target "
                      "(None, Contact, Voicemail) is not valid.");
        return 0;
    }
    if (!strcmp(target, "Voicemail")) {
        *rv = forbidden(x->q, NULL, "The user has no voicemail.");
        return 0;
    }
    if (strcmp(target, "None") && !strcmp(x->f.active_setting, "ImmediateForward")) {
        *rv = forbidden(x->q, NULL, "Unanswered calls cannot be forwarded while every call "
                        "is forwarded at once.");
        return 0;
    }
    if (!strcmp(target, "Contact") && !x->f.unanswered_uri) {
        *rv = invalid(x->q, "ParameterValidationFailure", "No unanswered call contact is set: "
                      "use unansweredCallToContact.");
        return 0;
    }
    x->f.unanswered_target = target;
    x->f.unanswered_enabled = strcmp(target, "None") != 0;
    if ((why = ucwa_callfwd_check(&x->f)) != NULL) {
        *rv = invalid(x->q, "ParameterValidationFailure", why);
        return 0;
    }
    return 1;
}

typedef json_t *render_fn(apr_pool_t *p, const char *base, const ucwa_callfwd *f,
                          const ucwa_voice_policy *pol);
typedef int put_fn(cf_req *x, json_t *in, int *rv);

/* GET, or PUT with UCWA's contract, of one PUT-able resource (GET only when put is NULL). */
static int get_or_put(cf_req *x, render_fn *render, put_fn *put, const char *what)
{
    json_t *res = render(x->p, x->base, &x->f, x->vu.policy), *in;
    int rv;

    if (x->q->r->method_number != M_PUT) {
        return put ? ucwa_http_etagged(x->q, res) : ucwa_http_resource(x->q, HTTP_OK, res);
    }
    if ((in = ucwa_http_put_input(x->q, res, &rv)) == NULL || !put(x, in, &rv)) {
        return rv;
    }
    rv = commit(x, what, render(x->p, x->base, &x->f, x->vu.policy));
    if (x->lost) {
        /* the ETag was current when read, but another change was written first */
        return ucwa_http_error(x->q, HTTP_PRECONDITION_FAILED, "PreconditionFailed", NULL,
                               "The resource changed: GET it again.");
    }
    return rv;
}

static int action(cf_req *x, int what, json_t *in)
{
    const char *uri;
    int rv;

    switch (what) {
    case UCWA_CF_TURN_OFF:
        x->f.active_setting = "None";
        return commit(x, "turned off", NULL);
    case UCWA_CF_IMMEDIATE_CONTACT:
        if (!x->vu.policy->allow_call_forwarding) {
            return forbidden(x->q, NULL, "The voice policy does not allow call forwarding.");
        }
        if ((uri = action_target(x, in, &rv)) == NULL) {
            return rv;
        }
        x->f.immediate_target = "Contact";
        x->f.immediate_uri = uri;
        x->f.active_setting = "ImmediateForward";
        x->f.unanswered_enabled = 0;
        return commit(x, apr_pstrcat(x->p, "forward at once to ", uri, NULL), NULL);
    case UCWA_CF_SIMRING_CONTACT:
        if (!x->vu.policy->allow_simultaneous_ring) {
            return forbidden(x->q, NULL, "The voice policy does not allow simultaneous ringing.");
        }
        if ((uri = action_target(x, in, &rv)) == NULL) {
            return rv;
        }
        x->f.simring_target = "Contact";
        x->f.simring_uri = uri;
        x->f.active_setting = "SimultaneousRing";
        return commit(x, apr_pstrcat(x->p, "ring at once ", uri, NULL), NULL);
    case UCWA_CF_UNANSWERED_CONTACT:
        if (!x->vu.policy->allow_call_forwarding) {
            return forbidden(x->q, NULL, "The voice policy does not allow call forwarding.");
        }
        if (!strcmp(x->f.active_setting, "ImmediateForward")) {
            return forbidden(x->q, NULL, "Unanswered calls cannot be forwarded while every "
                             "call is forwarded at once.");
        }
        if (!ring_delay(in, UCWA_CALLFWD_UNANSWERED_DELAY_MIN, UCWA_CALLFWD_UNANSWERED_DELAY_MAX,
                        &x->f.unanswered_delay)) {
            return invalid(x->q, "ParameterValidationFailure",
                           "ringDelay must be 5 to 60 seconds.");
        }
        if ((uri = action_target(x, in, &rv)) == NULL) {
            return rv;
        }
        x->f.unanswered_target = "Contact";
        x->f.unanswered_uri = uri;
        x->f.unanswered_enabled = 1;
        return commit(x, apr_pstrcat(x->p, "unanswered calls to ", uri, NULL), NULL);
    default:   /* UCWA_CF_UNANSWERED_RESET */
        x->f.unanswered_target = "None";
        x->f.unanswered_uri = NULL;
        x->f.unanswered_delay = UCWA_CALLFWD_UNANSWERED_DELAY_DEFAULT;
        x->f.unanswered_enabled = 0;
        return commit(x, "unanswered call settings reset", NULL);
    }
}

int ucwa_call_forwarding(ucwa_req *q, int what)
{
    cf_req x;
    json_t *in;
    int rv, attempt;

    if (!begin(&x, q, &rv)) {
        return rv;
    }
    if (!x.vu.policy) {
        /* not enabled for Enterprise Voice: the settings read as nothing forwarded and
         * cannot be changed (the reference's 403 for such users) */
        json_t *res = ucwa_res_call_forwarding(x.p, x.base);
        if (what != UCWA_CF_SETTINGS) {
            return forbidden(q, NULL, "The user is not enabled for Enterprise Voice.");
        }
        if (q->r->method_number != M_PUT) {
            return ucwa_http_etagged(q, res);
        }
        if (!ucwa_http_put_input(q, res, &rv)) {
            return rv;
        }
        return forbidden(q, NULL, "The user is not enabled for Enterprise Voice.");
    }
    switch (what) {
    case UCWA_CF_SETTINGS:
        return get_or_put(&x, res_settings, put_settings, "settings changed");
    case UCWA_CF_IMMEDIATE:
        return get_or_put(&x, res_immediate, NULL, NULL);
    case UCWA_CF_SIMRING:
        return get_or_put(&x, res_simring, put_simring, "simultaneous ring settings changed");
    case UCWA_CF_UNANSWERED:
        return get_or_put(&x, res_unanswered, put_unanswered,
                          "unanswered call settings changed");
    }
    /* an action: applied to the settings as read, again if another change came first */
    if ((in = ucwa_http_input(q, &rv)) == NULL) {
        return rv;
    }
    for (attempt = 1;; attempt++) {
        rv = action(&x, what, in);
        if (!x.lost) {
            return rv;
        }
        if (attempt == ACTION_ATTEMPTS) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00679)
                          "call forwarding of %s: changed by other requests %d times in a row "
                          "(409)", q->user, ACTION_ATTEMPTS);
            return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", NULL, "The call forwarding "
                                   "settings are being changed by another request: try again.");
        }
        if (!begin(&x, q, &rv)) {
            return rv;
        }
        if (!x.vu.policy) {
            return forbidden(q, NULL, "The user is not enabled for Enterprise Voice.");
        }
    }
}
