#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_autodiscover.h"
#include "mod_ucwa.h"
#include "mod_ucwa_core.h"
#include "ucwa_app.h"
#include "ucwa_conversations.h"
#include "ucwa_directory.h"
#include "ucwa_input.h"
#include "ucwa_media_relay.h"
#include "ucwa_resources.h"
#include "ucwa_messaging.h"
#include "ucwa_pool_move.h"
#include "ucwa_push_resource.h"
#include "ucwa_shm.h"
#include "ucwa_phone.h"
#include "ucwa_subscriptions.h"

APLOG_USE_MODULE(ucwa);


const ucwa_policy *ucwa_app_policy(const ucwa_global *g, const char *tag)
{
    return ucwa_policy_resolve(g->policies, g->site, tag);
}

unsigned ucwa_app_features(const ucwa_global *g, const ucwa_app *a)
{
    unsigned f = 0;

    if (ucwa_phone_available(g, ucwa_app_policy(g, a->policy_tag))) {
        f |= UCWA_RES_CVW;
    }
    if (ucwa_app_policy(g, a->policy_tag)->enable_ip_audio_video) {
        f |= UCWA_RES_CALLS;
        if (ucwa_media_relay_on(g)) {
            f |= UCWA_RES_RELAY;
        }
    }
    return f;
}

typedef struct {
    ucwa_req *q;
    ucwa_app_txn_fn *fn;
    void *baton;
    int found;          /* 0 not found, 1 found, 2 expired */
    int result;
} app_txn;

static void app_txn_run(ucwa_txn *t, void *baton)
{
    app_txn *x = baton;
    int expired = 0, idx = ucwa_store_find_locked(t->store, x->q->app_id, &expired);
    ucwa_app *a = idx >= 0 ? ucwa_store_app(t->store, idx) : NULL;

    /* another user's application does not exist, as far as this user can tell */
    if (!a || strcmp(ucwa_store_user(t->store, (int)a->user)->sip, x->q->user) != 0) {
        x->found = 0;
    }
    else if (expired) {
        x->found = 2;
    }
    else {
        x->found = 1;
        x->result = x->fn(t, idx, x->baton);
    }
}

int ucwa_app_txn(ucwa_req *q, ucwa_app_txn_fn *fn, void *baton, int *rv)
{
    app_txn x = { q, fn, baton, 0, 0 };

    if (ucwa_txn_run(q->r->server, q->r->pool, app_txn_run, &x) != APR_SUCCESS) {
        *rv = ucwa_http_error(q, HTTP_INTERNAL_SERVER_ERROR, "ServiceFailure", NULL,
                              "The session store is unavailable.");
        return -1;
    }
    /* a pool: the load balancer may have moved the client here from the Front End that
     * holds its application, which then hands it over (ucwa_pool_move) */
    if (x.found == 0 && ucwa_pool_move_fetch(q) > 0
        && ucwa_txn_run(q->r->server, q->r->pool, app_txn_run, &x) != APR_SUCCESS) {
        *rv = ucwa_http_error(q, HTTP_INTERNAL_SERVER_ERROR, "ServiceFailure", NULL,
                              "The session store is unavailable.");
        return -1;
    }
    if (x.found == 0) {
        *rv = ucwa_http_error(q, HTTP_NOT_FOUND, "NotFound", "ApplicationNotFound",
                              "The application does not exist.");
        return -1;
    }
    if (x.found == 2) {
        *rv = ucwa_http_error(q, HTTP_GONE, "Gone", "InactiveApplicationExpired",
                              "The application expired after a period of inactivity.");
        return -1;
    }
    return x.result;
}

typedef struct {
    ucwa_app *copy;
    ucwa_user *user;
} app_copy;

static int copy_app(ucwa_txn *t, int idx, void *baton)
{
    app_copy *x = baton;

    *x->copy = *ucwa_store_app(t->store, idx);
    if (x->user) {
        *x->user = *ucwa_store_user(t->store, (int)x->copy->user);
    }
    return 0;
}

int ucwa_app_copy(ucwa_req *q, ucwa_app *copy, ucwa_user *user, int *rv)
{
    app_copy x = { copy, user };

    return ucwa_app_txn(q, copy_app, &x, rv) < 0 ? !OK : OK;
}

/* The photo cookie real servers set with the application, so <img> tags work. */
static void photo_cookie(ucwa_req *q, const ucwa_app *a)
{
    if (q->token && !strchr(q->token, ';')) {
        apr_table_addn(q->r->err_headers_out, "Set-Cookie",
                       apr_psprintf(q->r->pool, "cwt_ucwa=%s; path=%s/photos; secure; HttpOnly",
                                    q->token, a->base));
    }
}

/* A user gets applications only on the pool the directory homes them on (extensions.md
 * section 13): elsewhere their invitations would reach an application that the rest of
 * the topology does not route to. 1, or 0 with the error already sent in *rv. */
static int homed_here(ucwa_req *q, int *rv)
{
    APR_OPTIONAL_FN_TYPE(autodiscover_home_pool) *home_pool =
        APR_RETRIEVE_OPTIONAL_FN(autodiscover_home_pool);
    APR_OPTIONAL_FN_TYPE(autodiscover_local_pool) *local_pool =
        APR_RETRIEVE_OPTIONAL_FN(autodiscover_local_pool);
    const char *home = NULL, *local = local_pool ? local_pool(q->r) : NULL;
    int st;

    if (!home_pool || !local) {
        return 1;   /* no topology on this virtual host: nothing to compare */
    }
    st = home_pool(q->r, q->user, &home);
    if (st == OK && home && !strcasecmp(home, local)) {
        return 1;
    }
    if (st != OK && st != HTTP_NOT_FOUND) {
        *rv = ucwa_http_error(q, HTTP_INTERNAL_SERVER_ERROR, "ServiceFailure", NULL,
                              "The directory is unavailable.");
        return 0;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00044)
                  "%s is homed on %s, not on this pool (%s): no application", q->user,
                  home ? home : "no pool (not in the directory)", local);
    *rv = ucwa_http_error(q, HTTP_FORBIDDEN, "Forbidden", "UserNotHomedHere",
                          "Your account is homed on another pool: discover it again "
                          "(Autodiscover) and sign in there.");
    return 0;
}

typedef struct {
    const ucwa_app_params *in;
    apr_time_t now;
    ucwa_create_result cr;
    int idx;
    ucwa_app copy;
} create_txn;

static void create_locked(ucwa_txn *t, void *baton)
{
    create_txn *x = baton;

    x->cr = ucwa_store_create_locked(t->store, x->in, x->now, &x->idx);
    if (x->cr == UCWA_CREATE_NEW || x->cr == UCWA_CREATE_EXISTING) {
        x->copy = *ucwa_store_app(t->store, x->idx);
    }
}

int ucwa_app_create(ucwa_req *q, int what)
{
    const ucwa_global *g = q->conf->global;
    ucwa_app_params in;
    ucwa_user_info info;
    const ucwa_policy *pol;
    json_t *body;
    create_txn x;
    const char *note;
    int rv = OK, bad = 0;

    body = ucwa_http_input(q, &rv);
    if (!body) {
        return rv;
    }
    memset(&in, 0, sizeof(in));
    in.user = q->user;
    in.user_agent = ucwa_input_string(body, "userAgent", UCWA_FIELD_CHARS, &bad);
    in.endpoint_id = ucwa_input_string(body, "endpointId", UCWA_FIELD_CHARS, &bad);
    in.culture = ucwa_input_string(body, "culture", UCWA_FIELD_CHARS, &bad);
    in.instance_id = ucwa_input_string(body, "instanceId", UCWA_FIELD_CHARS, &bad);
    if (bad || !in.user_agent || !*in.user_agent || !in.endpoint_id || !*in.endpoint_id
        || !in.culture || !*in.culture) {
        return ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", "ParameterValidationFailure",
                               "userAgent, endpointId and culture are required strings of at "
                               "most 100 characters.");
    }
    if (!homed_here(q, &rv)) {
        return rv;
    }
    if (ucwa_directory_user(q->r, g, q->user, &info) != OK) {
        return ucwa_http_error(q, HTTP_INTERNAL_SERVER_ERROR, "ServiceFailure", NULL,
                               "The directory is unavailable.");
    }
    pol = ucwa_app_policy(g, info.policy_tag);
    if (!ucwa_policy_mobility_enabled(pol)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00040)
                      "%s: mobility is disabled by policy %s", q->user,
                      ucwa_policy_identity(q->r->pool, pol));
        return ucwa_http_error(q, HTTP_FORBIDDEN, "Forbidden", "MobileApplicationNoLongerAllowed",
                               "Your mobility policy does not allow this application.");
    }
    in.prefix = q->prefix;
    in.policy_tag = info.policy_tag;
    in.name = info.display_name;
    in.policy_fp = ucwa_policy_fingerprint(pol);
    in.outside_voice = (apr_uint32_t)ucwa_phone_available(g, pol);
    in.per_user_max = g->per_user_max;
    /* only an internal call (mod_mcx) can set a note: its session's own lifetime */
    if ((note = apr_table_get(q->r->notes, UCWA_NOTE_IDLE_LIMIT)) != NULL) {
        in.idle_limit = (apr_uint32_t)apr_atoi64(note);
    }
    memset(&x, 0, sizeof(x));
    x.in = &in;
    x.now = apr_time_now();
    x.idx = -1;
    if (ucwa_txn_run(q->r->server, q->r->pool, create_locked, &x) != APR_SUCCESS) {
        return ucwa_http_error(q, HTTP_INTERNAL_SERVER_ERROR, "ServiceFailure", NULL,
                               "The session store is unavailable.");
    }
    switch (x.cr) {
    case UCWA_CREATE_FULL:
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r, UCWALOGNO(00041)
                      "the session store is full (UcwaMaxApplications %u)", g->limits.max_apps);
        apr_table_setn(q->r->err_headers_out, "Retry-After", "60");
        return ucwa_http_error(q, HTTP_SERVICE_UNAVAILABLE, "ServiceUnavailable", NULL,
                               "This server cannot take more applications now.");
    case UCWA_CREATE_TOO_MANY:
        return ucwa_http_error(q, HTTP_GONE, "Gone", "TooManyApplications",
                               "You have too many applications signed in.");
    default:
        break;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00042) "%s application %s for %s",
                  x.cr == UCWA_CREATE_NEW ? "created" : "found", x.copy.id, q->user);
    photo_cookie(q, &x.copy);
    if (x.cr == UCWA_CREATE_NEW) {
        apr_table_setn(q->r->headers_out, "Location", apr_pstrdup(q->r->pool, x.copy.base));
        ucwa_push_reg_app_created(q, x.idx, x.copy.gen, x.copy.endpoint_id);
    }
    return ucwa_http_resource(q, x.cr == UCWA_CREATE_NEW ? HTTP_CREATED : HTTP_OK,
                              ucwa_push_links(q, ucwa_res_application(
        q->r->pool, &x.copy, q->user, ucwa_app_features(q->conf->global, &x.copy)),
        x.copy.base));
}

/* GET: a copy of the application; an internal KeepAlive (mod_mcx) counts as seen. */
typedef struct {
    int keepalive;
    apr_time_t now;
    apr_uint32_t idle_limit;       /* the application's own, or 0 */
    ucwa_app copy;
} get_txn;

static int get_locked(ucwa_txn *t, int idx, void *baton)
{
    get_txn *x = baton;
    ucwa_app *a = ucwa_store_app(t->store, idx);

    if (x->keepalive) {
        a->last_seen = x->now;
    }
    x->copy = *a;
    return 0;
}

int ucwa_app_get(ucwa_req *q, int what)
{
    get_txn x;
    int rv;

    memset(&x, 0, sizeof(x));
    x.keepalive = apr_table_get(q->r->notes, UCWA_NOTE_KEEPALIVE) != NULL;
    x.now = apr_time_now();
    if (ucwa_app_txn(q, get_locked, &x, &rv) < 0) {
        return rv;
    }
    if (x.keepalive) {
        /* an internal call (mod_mcx's KeepAlive): the session counts as seen now, and
         * is told how long it now has */
        apr_table_setn(q->r->headers_out, UCWA_HEADER_IDLE_LIMIT,
                       apr_psprintf(q->r->pool, "%" APR_TIME_T_FMT,
                                    x.copy.idle_limit ? (apr_time_t)x.copy.idle_limit
                                    : apr_time_sec(q->conf->global->idle_timeout)));
    }
    photo_cookie(q, &x.copy);
    return ucwa_http_resource(q, HTTP_OK, ucwa_push_links(q, ucwa_res_application(
        q->r->pool, &x.copy, q->user, ucwa_app_features(q->conf->global, &x.copy)),
        x.copy.base));
}

typedef struct {
    const ucwa_idle_rules *rules;
    apr_time_t now;
} delete_txn;

void ucwa_app_gone_locked(ucwa_txn *t, int idx, const ucwa_idle_rules *rules, apr_time_t now)
{
    ucwa_store *s = t->store;
    int user = (int)ucwa_store_app(s, idx)->user;
    ucwa_availability before, after;

    before = ucwa_store_availability(ucwa_store_user(s, user), rules, now);
    ucwa_subscriptions_app_gone_locked(t, idx);
    ucwa_conversations_app_gone_locked(t, idx, now);
    ucwa_store_delete_locked(s, idx);
    ucwa_txn_wake_app(t, idx);   /* a parked event request of this application answers now */
    after = ucwa_store_availability(ucwa_store_user(s, user), rules, now);
    if (before != after) {
        /* the user's other devices see the presence their departure causes */
        ucwa_store_user(s, user)->published = after;
        ucwa_store_post_user_locked(s, user, 1, UCWA_PRIO_MEDIUM, "me", "/me", "presence",
                                    "/me/presence", "updated", now, t->pool);
        ucwa_subscriptions_notify_locked(t, user, "presence", now);
    }
}

static int delete_locked(ucwa_txn *t, int idx, void *baton)
{
    const delete_txn *x = baton;

    ucwa_app_gone_locked(t, idx, x->rules, x->now);
    return 0;
}

int ucwa_app_delete(ucwa_req *q, int what)
{
    delete_txn x = { &q->conf->global->idle_rules, apr_time_now() };
    int rv;

    if (ucwa_app_txn(q, delete_locked, &x, &rv) < 0) {
        return rv;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00043)
                  "deleted application %s of %s", q->app_id, q->user);
    return ucwa_http_no_content(q);
}

int ucwa_app_policies(ucwa_req *q, int what)
{
    ucwa_app copy;
    int rv;

    if (ucwa_app_copy(q, &copy, NULL, &rv) != OK) {
        return rv;
    }
    return ucwa_http_resource(q, HTTP_OK, ucwa_policy_resource(
        q->r->pool, ucwa_app_policy(q->conf->global, copy.policy_tag),
        apr_pstrcat(q->r->pool, copy.base, "/policies", NULL)));
}
