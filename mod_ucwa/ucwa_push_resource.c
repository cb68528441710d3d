#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mob_json.h"
#include "mod_ucwa.h"
#include "ucwa_app.h"
#include "ucwa_config.h"
#include "ucwa_input.h"
#include "ucwa_people_db.h"
#include "ucwa_push_reg.h"
#include "ucwa_push_resource.h"
#include "ucwa_shm.h"

APLOG_USE_MODULE(ucwa);

#define COLLECTION "/pushRegistrations"

static json_t *href(apr_pool_t *p, const char *base, const char *sub)
{
    return json_pack("{s:s}", "href", apr_pstrcat(p, base, sub, NULL));
}

/* A registration as a resource. The WebPush auth secret is never given back. */
static json_t *resource(apr_pool_t *p, const char *base, const ucwa_push_reg *r)
{
    json_t *o = json_object(), *links = json_object();

    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "provider", json_string(r->provider));
    if (r->endpoint) {
        json_object_set_new(o, "endpoint", json_string(r->endpoint));
        json_object_set_new(o, "keys", json_pack("{s:s}", "p256dh", r->p256dh ? r->p256dh : ""));
    }
    if (r->token) {
        json_object_set_new(o, "token", json_string(r->token));
    }
    if (r->language) {
        json_object_set_new(o, "language", json_string(r->language));
    }
    json_object_set_new(links, "self", href(p, base, apr_pstrcat(p, COLLECTION "/", r->id,
                                                                 NULL)));
    json_object_set_new(o, "_links", links);
    json_object_set_new(o, "rel", json_string("pushRegistration"));
    return mob_json_own(p, o);
}

/* The application, its user's policy allowing push; NULL (the error sent) otherwise. */
static int app_of(ucwa_req *q, ucwa_app *copy, int *rv)
{
    if (ucwa_app_copy(q, copy, NULL, rv) != OK) {
        return 0;
    }
    if (!ucwa_policy_push_enabled(ucwa_app_policy(q->conf->global, copy->policy_tag))) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00270)
                      "%s: push notifications are off in the mobility policy", q->user);
        *rv = ucwa_http_error(q, HTTP_FORBIDDEN, "Forbidden", "PushNotificationsDisabled",
                              "Your mobility policy does not allow push notifications.");
        return 0;
    }
    return 1;
}

static int db_of(ucwa_req *q, ucwa_db *db, int *rv)
{
    const char *why = NULL;

    memset(db, 0, sizeof(*db));
    if (!ucwa_people_db(q->r, q->r->pool, 1, db, &why)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r, UCWALOGNO(00271) "push: %s", why);
        apr_table_setn(q->r->err_headers_out, "Retry-After", "60");
        *rv = ucwa_http_error(q, HTTP_SERVICE_UNAVAILABLE, "ServiceUnavailable", NULL,
                              "Push registrations are unavailable now.");
        return 0;
    }
    return 1;
}

static int db_error(ucwa_req *q, ucwa_db *db)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r, UCWALOGNO(00272) "push: %s", db->err);
    return ucwa_http_error(q, HTTP_INTERNAL_SERVER_ERROR, "ServiceFailure", NULL,
                           "The push registration could not be stored.");
}

static int mark_locked(ucwa_txn *t, int idx, void *baton)
{
    ucwa_store_app(t->store, idx)->push = (apr_uint32_t)*(const int *)baton;
    return 0;
}

/* Marks the application (still the same one) registered or not. */
static void mark(ucwa_req *q, int push)
{
    int rv;

    ucwa_app_txn(q, mark_locked, &push, &rv);
}

/* The registration in the request body; NULL (the error sent) when it is not valid. */
static int read_reg(ucwa_req *q, const ucwa_app *a, ucwa_push_reg *r, int *rv)
{
    const ucwa_push_conf *c = q->conf->global->push;
    json_t *in = ucwa_http_input(q, rv), *keys;
    push_provider prov;
    const char *why;
    int bad = 0;

    if (!in) {
        return 0;
    }
    memset(r, 0, sizeof(*r));
    r->owner = q->user;
    r->endpoint_id = a->endpoint_id;
    r->provider = ucwa_input_string(in, "provider", 32, &bad);
    r->endpoint = ucwa_input_string(in, "endpoint", 1000, &bad);
    r->token = ucwa_input_string(in, "token", 4096, &bad);
    r->language = ucwa_input_string(in, "language", 64, &bad);
    keys = ucwa_input_get(in, "keys");
    if (json_is_object(keys)) {
        r->p256dh = ucwa_input_string(keys, "p256dh", 128, &bad);
        r->auth = ucwa_input_string(keys, "auth", 64, &bad);
    }
    else {
        /* flat, as the XML input and MCX give them */
        r->p256dh = ucwa_input_string(in, "p256dh", 128, &bad);
        r->auth = ucwa_input_string(in, "auth", 64, &bad);
    }
    if (bad) {
        *rv = ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", "ParameterValidationFailure",
                              "provider, endpoint, keys.p256dh, keys.auth, token and language "
                              "are strings, within their lengths.");
        return 0;
    }
    if (!r->provider || ucwa_push_reg_provider(r->provider, &prov, &r->provider) != APR_SUCCESS) {
        *rv = ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", "ParameterValidationFailure",
                              "provider is WebPush, UnifiedPush, APNs or FCM.");
        return 0;
    }
    if (!ucwa_push_enabled(c, prov)) {
        *rv = ucwa_http_error(q, HTTP_FORBIDDEN, "Forbidden", "ProviderDisabled",
                              apr_psprintf(q->r->pool, "%s notifications are not enabled on "
                                           "this server.", r->provider));
        return 0;
    }
    if ((why = ucwa_push_reg_check(q->r->pool, r, &c->policy)) != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00273)
                      "push registration of %s refused: %s", q->user, why);
        *rv = ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", "ParameterValidationFailure",
                              apr_pstrcat(q->r->pool, "The registration is not valid: ", why,
                                          ".", NULL));
        return 0;
    }
    return 1;
}

static int same_channel(const ucwa_push_reg *a, const ucwa_push_reg *b)
{
    return !strcmp(a->provider, b->provider)
           && !strcmp(a->endpoint ? a->endpoint : "", b->endpoint ? b->endpoint : "")
           && !strcmp(a->token ? a->token : "", b->token ? b->token : "");
}

static int create(ucwa_req *q, const ucwa_app *a)
{
    apr_pool_t *p = q->r->pool;
    apr_array_header_t *regs;
    ucwa_push_reg r;
    ucwa_db db;
    int rv = OK, i;

    if (!read_reg(q, a, &r, &rv) || !db_of(q, &db, &rv)) {
        return rv;
    }
    if (ucwa_push_reg_list(&db, p, q->user, a->endpoint_id, &regs) != 0) {
        return db_error(q, &db);
    }
    r.updated = apr_time_sec(apr_time_now());
    for (i = 0; i < regs->nelts; i++) {
        ucwa_push_reg *old = &APR_ARRAY_IDX(regs, i, ucwa_push_reg);
        if (same_channel(old, &r)) {
            /* registering the same channel again (new keys, a new language) */
            r.id = old->id;
            r.created = old->created;
            if (ucwa_push_reg_update(&db, p, &r) != 0) {
                return db_error(q, &db);
            }
            mark(q, 1);
            return ucwa_http_resource(q, HTTP_OK, resource(p, a->base, &r));
        }
    }
    if (regs->nelts >= UCWA_PUSH_REGS_PER_DEVICE) {
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "TooManyRegistrations",
                               "This device has 4 push registrations: delete one first.");
    }
    r.id = ucwa_push_reg_new_id(p);
    r.created = r.updated;
    if (!r.id || ucwa_push_reg_insert(&db, p, &r) != 0) {
        return db_error(q, &db);
    }
    mark(q, 1);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00274)
                  "push registration %s (%s) for %s", r.id, r.provider, q->user);
    apr_table_setn(q->r->headers_out, "Location",
                   apr_pstrcat(p, a->base, COLLECTION "/", r.id, NULL));
    return ucwa_http_resource(q, HTTP_CREATED, resource(p, a->base, &r));
}

static int list(ucwa_req *q, const ucwa_app *a)
{
    apr_pool_t *p = q->r->pool;
    const ucwa_push_conf *c = q->conf->global->push;
    apr_array_header_t *regs;
    json_t *o, *arr = json_array(), *prov = json_array();
    ucwa_db db;
    int rv = OK, i;

    mob_json_own(p, arr);
    mob_json_own(p, prov);
    if (!db_of(q, &db, &rv)) {
        return rv;
    }
    if (ucwa_push_reg_list(&db, p, q->user, a->endpoint_id, &regs) != 0) {
        return db_error(q, &db);
    }
    for (i = 0; i < regs->nelts; i++) {
        json_array_append(arr, resource(p, a->base, &APR_ARRAY_IDX(regs, i, ucwa_push_reg)));
    }
    if (c->webpush) {
        json_array_append_new(prov, json_string("WebPush"));
        json_array_append_new(prov, json_string("UnifiedPush"));
    }
    if (c->apns) {
        json_array_append_new(prov, json_string("APNs"));
    }
    if (c->fcm) {
        json_array_append_new(prov, json_string("FCM"));
    }
    o = mob_json_own(p, json_object());
    json_object_set(o, "providers", prov);
    if (c->webpush) {
        json_object_set_new(o, "applicationServerKey", json_string(c->vapid_public));
    }
    json_object_set_new(o, "_links", json_pack("{s:o}", "self", href(p, a->base, COLLECTION)));
    json_object_set_new(o, "_embedded", json_pack("{s:O}", "pushRegistration", arr));
    json_object_set_new(o, "rel", json_string("pushRegistrations"));
    return ucwa_http_resource(q, HTTP_OK, o);
}

static int one(ucwa_req *q, const ucwa_app *a, const char *id)
{
    apr_pool_t *p = q->r->pool;
    ucwa_push_reg r, in;
    apr_array_header_t *left;
    ucwa_db db;
    int rv = OK, found;

    if (!ucwa_push_reg_id_valid(id)) {
        return ucwa_http_error(q, HTTP_NOT_FOUND, "NotFound", "ResourceNotFound",
                               "There is no such push registration.");
    }
    if (!db_of(q, &db, &rv)) {
        return rv;
    }
    found = ucwa_push_reg_get(&db, p, q->user, id, &r);
    if (found < 0) {
        return db_error(q, &db);
    }
    /* another device's registration of the same user is not this application's */
    if (!found || strcmp(r.endpoint_id, a->endpoint_id)) {
        return ucwa_http_error(q, HTTP_NOT_FOUND, "NotFound", "ResourceNotFound",
                               "There is no such push registration.");
    }
    switch (q->r->method_number) {
    case M_GET:
        return ucwa_http_resource(q, HTTP_OK, resource(p, a->base, &r));
    case M_PUT:
        if (!read_reg(q, a, &in, &rv)) {
            return rv;
        }
        in.id = r.id;
        in.created = r.created;
        in.updated = apr_time_sec(apr_time_now());
        if (ucwa_push_reg_update(&db, p, &in) != 0) {
            return db_error(q, &db);
        }
        return ucwa_http_resource(q, HTTP_OK, resource(p, a->base, &in));
    default:   /* DELETE: the route table lets only GET, PUT and DELETE in */
        if (ucwa_push_reg_delete(&db, p, q->user, id) < 0
            || ucwa_push_reg_list(&db, p, q->user, a->endpoint_id, &left) != 0) {
            return db_error(q, &db);
        }
        if (left->nelts == 0) {
            mark(q, 0);
        }
        return ucwa_http_no_content(q);
    }
}

static int background_locked(ucwa_txn *t, int idx, void *baton)
{
    ucwa_store_app(t->store, idx)->background = 1;
    return 0;
}

int ucwa_push_resource_background(ucwa_req *q, int what)
{
    int rv;

    if (ucwa_app_txn(q, background_locked, NULL, &rv) < 0) {
        return rv;
    }
    return ucwa_http_no_content(q);
}

int ucwa_push_resource_list(ucwa_req *q, int what)
{
    ucwa_app a;
    int rv = OK;

    return app_of(q, &a, &rv) ? list(q, &a) : rv;
}

int ucwa_push_resource_create(ucwa_req *q, int what)
{
    ucwa_app a;
    int rv = OK;

    return app_of(q, &a, &rv) ? create(q, &a) : rv;
}

int ucwa_push_resource_one(ucwa_req *q, int what)
{
    ucwa_app a;
    int rv = OK;

    return app_of(q, &a, &rv) ? one(q, &a, q->id[0]) : rv;
}

json_t *ucwa_push_links(ucwa_req *q, json_t *app, const char *base)
{
    const ucwa_push_conf *c = q->conf->global->push;
    json_t *links = json_object_get(app, "_links");

    if ((c->webpush || c->apns || c->fcm) && json_is_object(links)) {
        json_object_set_new(links, "pushRegistrations", href(q->r->pool, base, COLLECTION));
        json_object_set_new(links, "reportBackground",
                            href(q->r->pool, base, "/reportBackground"));
    }
    return app;
}

/* A new application whose device has registrations: marked (if still the same one). */
typedef struct {
    int idx;
    apr_uint32_t gen;
} created_app;

static void created_locked(ucwa_txn *t, void *baton)
{
    const created_app *x = baton;
    ucwa_app *a = ucwa_store_app(t->store, x->idx);

    if (a->gen == x->gen && a->state == UCWA_SLOT_LIVE) {
        a->push = 1;
    }
}

void ucwa_push_reg_app_created(ucwa_req *q, int idx, apr_uint32_t gen,
                               const char *endpoint_id)
{
    const ucwa_push_conf *c = q->conf->global->push;
    apr_array_header_t *regs;
    const char *why = NULL;
    ucwa_db db;

    if (!(c->webpush || c->apns || c->fcm)) {
        return;
    }
    memset(&db, 0, sizeof(db));
    if (!ucwa_people_db(q->r, q->r->pool, 1, &db, &why)
        || ucwa_push_reg_list(&db, q->r->pool, q->user, endpoint_id, &regs) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r, UCWALOGNO(00275)
                      "push: cannot read the registrations of %s: %s", q->user,
                      why ? why : db.err);
        return;
    }
    if (regs->nelts) {
        created_app x = { idx, gen };
        ucwa_txn_run(q->r->server, q->r->pool, created_locked, &x);
    }
}
