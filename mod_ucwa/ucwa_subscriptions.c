#include <httpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_ucwa.h"
#include "mod_ucwa_core.h"
#include "mob_form.h"
#include "mob_json.h"
#include "ucwa_app.h"
#include "ucwa_input.h"
#include "ucwa_subs.h"
#include "ucwa_groups.h"
#include "ucwa_subscriptions.h"

APLOG_USE_MODULE(ucwa);

#define P_SUBS     "/people/presenceSubscriptions"
#define P_MEMBERS  "/people/presenceSubscriptionMemberships"
#define P_CONTACTS "/people/subscribedContacts"
#define MAX_URIS   (4 * UCWA_SUB_MEMBERS)   /* addresses read from one body, repeats included */

/* --- input -------------------------------------------------------------------------- */

/* duration: minutes, a number or a string of digits (query parameters and XML input are
 * strings). 1 with *minutes set, 0 when missing, -1 when not a whole number in range. */
static int duration_of(const json_t *in, int *minutes)
{
    json_t *v = ucwa_input_get(in, "duration");
    json_int_t n = -1;

    if (!v) {
        return 0;
    }
    if (json_is_integer(v)) {
        n = json_integer_value(v);
    }
    else if (json_is_real(v) && json_real_value(v) == (double)(json_int_t)json_real_value(v)) {
        n = (json_int_t)json_real_value(v);   /* 11.0 */
    }
    else if (json_is_string(v)) {
        const char *t = json_string_value(v);
        size_t len = strlen(t), i;
        if (len == 0 || len > 4) {
            return -1;
        }
        for (i = 0; i < len; i++) {
            if (!apr_isdigit(t[i])) {
                return -1;
            }
        }
        n = atoi(t);
    }
    if (n < UCWA_SUBS_MIN_MINUTES || n > UCWA_SUBS_MAX_MINUTES) {
        return -1;
    }
    *minutes = (int)n;
    return 1;
}

/* The addresses of uris (or contactUris, the memberships' documented name; or uri, one
 * address): an array of "sip:" URIs, or a single string. 1 with the normalized
 * addresses, once each; 0 when missing; -1 when one is not an address; -2 when there are
 * too many. */
static int addresses_of(apr_pool_t *p, const json_t *in, const char ***out, int *n)
{
    static const char *const names[] = { "uris", "contactUris", "uri" };
    apr_hash_t *seen = apr_hash_make(p);
    json_t *v = NULL, *item;
    const char **list;
    size_t i, count;
    int k = 0;

    for (i = 0; i < sizeof(names) / sizeof(names[0]) && !v; i++) {
        v = ucwa_input_get(in, names[i]);
    }
    if (!v) {
        return 0;
    }
    if (!json_is_array(v) && !json_is_string(v)) {
        return -1;
    }
    count = json_is_array(v) ? json_array_size(v) : 1;
    if (count > MAX_URIS) {
        return -2;
    }
    list = apr_palloc(p, sizeof(*list) * (count + 1));
    for (i = 0; i < count; i++) {
        const char *sip;
        item = json_is_array(v) ? json_array_get(v, i) : v;
        sip = json_is_string(item) ? ucwa_subs_address(p, json_string_value(item), 1) : NULL;
        if (!sip) {
            return -1;
        }
        if (!apr_hash_get(seen, sip, APR_HASH_KEY_STRING)) {
            apr_hash_set(seen, sip, APR_HASH_KEY_STRING, "");
            list[k++] = sip;
        }
    }
    if (k > UCWA_SUB_MEMBERS) {
        return -2;
    }
    *out = list;
    *n = k;
    return 1;
}

static int bad_addresses(ucwa_req *q, int got)
{
    if (got == -2) {
        return ucwa_http_error(q, HTTP_FORBIDDEN, "Forbidden", "LimitExceeded",
                               apr_psprintf(q->r->pool, "A presence subscription has at most "
                                            "%d contacts.", UCWA_SUB_MEMBERS));
    }
    return ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", "ParameterValidationFailure",
                           got == 0 ? "uris, a list of SIP URIs, is required."
                                    : "uris must be SIP URIs (sip:user@domain).");
}

static int bad_duration(ucwa_req *q)
{
    return ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", "ParameterValidationFailure",
                           "duration, in minutes from 10 to 30, is required.");
}

static int not_found(ucwa_req *q, const char *what)
{
    return ucwa_http_error(q, HTTP_NOT_FOUND, "NotFound", "ResourceNotFound",
                           apr_psprintf(q->r->pool, "The %s does not exist (it may have "
                                        "expired).", what));
}

/* A query parameter (names in any case), or NULL. */
static const char *query_param(ucwa_req *q, const char *name)
{
    apr_table_t *t;
    const char *why;

    if (!q->r->args || mob_form_parse(q->r->pool, q->r->args, strlen(q->r->args),
                                      MOB_FORM_LENIENT, &t, &why) != APR_SUCCESS) {
        return NULL;
    }
    return apr_table_get(t, name);
}

/* The application's subscription with that id, or -1: past its end it is gone, even in
 * the second before the sweeper ends it. */
static int find_sub_locked(ucwa_store *s, int app, const char *id, apr_time_t now)
{
    int idx = ucwa_subs_find_locked(s, app, id);

    return idx >= 0 && ucwa_store_sub(s, idx)->expires > now ? idx : -1;
}

/* --- resources ---------------------------------------------------------------------- */

static const char *member_href(apr_pool_t *p, const char *base, const char *id,
                               const char *sip)
{
    return apr_psprintf(p, "%s" P_MEMBERS "/%s/%s", base, id, sip);
}

static json_t *membership(apr_pool_t *p, const char *base, const char *id, const char *sip)
{
    return json_pack("{s:{s:{s:s},s:{s:s},s:{s:s}},s:s}", "_links",
                     "self", "href", member_href(p, base, id, sip),
                     "contact", "href", apr_psprintf(p, "%s/people/%s", base, sip),
                     "presenceSubscription", "href",
                     apr_psprintf(p, "%s" P_SUBS "/%s", base, id),
                     "rel", "presenceSubscriptionMembership");
}

/* (subscription id, address) pairs copied out of the store */
typedef struct {
    const char *id, *sip;
} pair;

static json_t *memberships(apr_pool_t *p, const char *base, const char *id,
                           const apr_array_header_t *pairs)
{
    json_t *list = json_array();
    int i;

    for (i = 0; i < pairs->nelts; i++) {
        const pair *e = &APR_ARRAY_IDX(pairs, i, pair);
        json_array_append_new(list, membership(p, base, e->id, e->sip));
    }
    return mob_json_own(p, json_pack(
        "{s:{s:{s:s}},s:{s:o},s:s}", "_links", "self", "href",
        id ? apr_psprintf(p, "%s" P_MEMBERS "?presenceSubscriptionId=%s", base, id)
           : apr_pstrcat(p, base, P_MEMBERS, NULL),
        "_embedded", "presenceSubscriptionMembership", list,
        "rel", "presenceSubscriptionMemberships"));
}

/* The members of one subscription (idx >= 0) or of all the application's, in order. */
static apr_array_header_t *copy_pairs_locked(ucwa_store *s, int app, int idx,
                                             apr_time_t now, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 8, sizeof(pair));
    apr_uint32_t i, n = ucwa_subs_used_locked(s);
    int m;

    for (i = 0; i < n; i++) {
        ucwa_sub *sub = ucwa_store_sub(s, (int)i);
        if ((idx >= 0 && (int)i != idx) || sub->app != (apr_uint32_t)app
            || !ucwa_subs_live_locked(s, (int)i) || sub->expires <= now) {
            continue;
        }
        for (m = 0; m < (int)sub->count; m++) {
            pair *e = apr_array_push(out);
            e->id = apr_pstrdup(p, sub->id);
            e->sip = apr_pstrdup(p, ucwa_subs_member_sip(sub, m));
        }
    }
    return out;
}

/* --- presenceSubscriptions ---------------------------------------------------------- */

typedef struct {
    const char *const *sips;
    int n;
    apr_interval_time_t duration;
    apr_time_t now;
    int idx;
    char base[UCWA_BASE_MAX], id[UCWA_SUB_ID_MAX];
} subscribe_txn;

static int subscribe_locked(ucwa_txn *t, int app, void *baton)
{
    subscribe_txn *x = baton;
    ucwa_subs_result res;

    res = ucwa_subs_subscribe_locked(t->store, app, x->sips, x->n, x->duration, x->now,
                                     t->pool, t, &x->idx);
    apr_cpystrn(x->base, ucwa_store_app(t->store, app)->base, sizeof(x->base));
    if (res == UCWA_SUBS_OK) {
        apr_cpystrn(x->id, ucwa_store_sub(t->store, x->idx)->id, sizeof(x->id));
    }
    return (int)res;
}

int ucwa_subscriptions_create(ucwa_req *q, const char *const *sips, int n, int minutes)
{
    apr_pool_t *p = q->r->pool;
    subscribe_txn x;
    int res;
    const char **clean = apr_palloc(p, sizeof(*clean) * (apr_size_t)(n + 1));
    int rv, i, k = 0;

    /* what a caller other than create() passes is checked all the same; an address that
     * cannot be one is left out (a group's odd contact does not sink the others) */
    for (i = 0; i < n; i++) {
        const char *sip = ucwa_subs_address(p, sips[i], 0);
        if (sip) {
            clean[k++] = sip;
        }
    }
    sips = clean;
    n = k;
    if (minutes < UCWA_SUBS_MIN_MINUTES || minutes > UCWA_SUBS_MAX_MINUTES) {
        return bad_duration(q);
    }
    memset(&x, 0, sizeof(x));
    x.sips = sips;
    x.n = n;
    /* an internal call (mod_mcx) subscribes for as long as its session lives: the
     * subscription goes with the application */
    x.duration = apr_table_get(q->r->notes, UCWA_NOTE_SESSION_SUBSCRIPTION)
                 ? apr_time_from_sec(UCWA_SESSION_SUBSCRIPTION_SECONDS)
                 : apr_time_from_sec(minutes * 60);
    x.now = apr_time_now();
    x.idx = -1;
    if ((res = ucwa_app_txn(q, subscribe_locked, &x, &rv)) < 0) {
        return rv;
    }
    switch ((ucwa_subs_result)res) {
    case UCWA_SUBS_OK:
        break;
    case UCWA_SUBS_APP_LIMIT:
        return ucwa_http_error(q, HTTP_FORBIDDEN, "Forbidden", "LimitExceeded",
                               "This application has the most presence subscriptions it may "
                               "have: delete one, or add contacts to one.");
    case UCWA_SUBS_MEMBER_LIMIT:
        return bad_addresses(q, -2);
    case UCWA_SUBS_TABLE_FULL:
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r, UCWALOGNO(00190)
                      "the presence subscription table is full (%u)",
                      q->conf->global->limits.max_subs);
        apr_table_setn(q->r->err_headers_out, "Retry-After", "60");
        return ucwa_http_error(q, HTTP_SERVICE_UNAVAILABLE, "ServiceUnavailable", NULL,
                               "This server cannot take more presence subscriptions now.");
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00191)
                  "%s: application %s subscribed to the presence of %d contacts for %d min "
                  "(subscription %s)", q->user, q->app_id, n, minutes, x.id);
    return ucwa_http_resource(q, HTTP_CREATED, ucwa_subs_resource(p, x.base, x.id));
}

int ucwa_subscriptions_new(ucwa_req *q, int what)
{
    const char **sips = NULL;
    int minutes = 0, n = 0, got, rv;
    json_t *in;

    if (query_param(q, "groupId")) {
        return ucwa_groups_subscribe(q);   /* subscribeToGroupPresence: a group's members */
    }
    in = ucwa_http_input(q, &rv);
    if (!in) {
        return rv;
    }
    if (duration_of(in, &minutes) != 1) {
        return bad_duration(q);
    }
    got = addresses_of(q->r->pool, in, &sips, &n);
    if (got != 1) {
        return bad_addresses(q, got);
    }
    if (ucwa_subs_names_bytes(sips, n) > UCWA_SUB_NAMES) {
        return bad_addresses(q, -2);
    }
    return ucwa_subscriptions_create(q, sips, n, minutes);
}

/* The application's base and the ids of its live subscriptions, rendered after. */
typedef struct {
    apr_time_t now;
    char base[UCWA_BASE_MAX];
    apr_array_header_t *ids;       /* const char * */
} list_txn;

static int list_locked(ucwa_txn *t, int app, void *baton)
{
    list_txn *x = baton;
    apr_uint32_t i, n = ucwa_subs_used_locked(t->store);

    apr_cpystrn(x->base, ucwa_store_app(t->store, app)->base, sizeof(x->base));
    for (i = 0; i < n; i++) {
        ucwa_sub *sub = ucwa_store_sub(t->store, (int)i);
        if (sub->app == (apr_uint32_t)app && ucwa_subs_live_locked(t->store, (int)i)
            && sub->expires > x->now) {
            APR_ARRAY_PUSH(x->ids, const char *) = apr_pstrdup(t->pool, sub->id);
        }
    }
    return 0;
}

int ucwa_subscriptions_list(ucwa_req *q, int what)
{
    apr_pool_t *p = q->r->pool;
    json_t *subs = json_array();
    list_txn x;
    int rv, i;

    mob_json_own(p, subs);
    x.now = apr_time_now();
    x.ids = apr_array_make(p, 4, sizeof(const char *));
    if (ucwa_app_txn(q, list_locked, &x, &rv) < 0) {
        return rv;
    }
    for (i = 0; i < x.ids->nelts; i++) {
        json_array_append(subs, ucwa_subs_resource(p, x.base, APR_ARRAY_IDX(x.ids, i,
                                                                            const char *)));
    }
    return ucwa_http_resource(q, HTTP_OK, mob_json_own(p, json_pack(
        "{s:{s:{s:s}},s:{s:O},s:s}", "_links", "self", "href",
        apr_pstrcat(p, x.base, P_SUBS, NULL), "_embedded", "presenceSubscription", subs,
        "rel", "presenceSubscriptions")));
}

/* GET, POST (extend) and DELETE of one subscription. */
typedef struct {
    int method, minutes;
    const char *id;                /* in: as asked; out: the subscription's own */
    apr_time_t now;
    char base[UCWA_BASE_MAX];
} one_txn;

static int one_locked(ucwa_txn *t, int app, void *baton)
{
    one_txn *x = baton;
    int idx = find_sub_locked(t->store, app, x->id, x->now);

    if (idx < 0) {
        return 1;
    }
    apr_cpystrn(x->base, ucwa_store_app(t->store, app)->base, sizeof(x->base));
    x->id = apr_pstrdup(t->pool, ucwa_store_sub(t->store, idx)->id);
    if (x->method == M_POST) {
        ucwa_subs_extend_locked(t->store, idx, apr_time_from_sec(x->minutes * 60), x->now);
    }
    else if (x->method == M_DELETE) {
        ucwa_subs_end_locked(t->store, idx, x->now, t->pool, t);
    }
    return 0;
}

int ucwa_subscriptions_one(ucwa_req *q, int what)
{
    const char *id = q->id[0];
    apr_pool_t *p = q->r->pool;
    one_txn x;
    int rv, res;

    memset(&x, 0, sizeof(x));
    x.method = q->r->method_number;
    x.id = id;
    x.now = apr_time_now();
    if (x.method == M_POST) {
        json_t *in = ucwa_http_input(q, &rv);   /* duration may come as ?duration= */
        if (!in) {
            return rv;
        }
        if (duration_of(in, &x.minutes) != 1) {
            return bad_duration(q);
        }
    }
    if ((res = ucwa_app_txn(q, one_locked, &x, &rv)) < 0) {
        return rv;
    }
    if (res) {
        return not_found(q, "presence subscription");
    }
    if (x.method == M_DELETE) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00192)
                      "%s: application %s deleted presence subscription %s", q->user,
                      q->app_id, x.id);
        return ucwa_http_no_content(q);
    }
    return ucwa_http_resource(q, HTTP_OK, ucwa_subs_resource(p, x.base, x.id));
}

/* --- memberships -------------------------------------------------------------------- */

typedef struct {
    int post, n, added;
    const char *const *sips;
    const char *id;                /* in: as asked (NULL: every subscription); out: its own */
    apr_time_t now;
    ucwa_subs_result res;
    char base[UCWA_BASE_MAX];
    apr_array_header_t *pairs;
} memberships_txn;

static int memberships_locked(ucwa_txn *t, int app, void *baton)
{
    memberships_txn *x = baton;
    int idx = -1;

    if (x->id) {
        idx = find_sub_locked(t->store, app, x->id, x->now);
        if (idx < 0) {
            return 1;
        }
        x->id = apr_pstrdup(t->pool, ucwa_store_sub(t->store, idx)->id);
    }
    if (x->post) {
        x->res = ucwa_subs_add_members_locked(t->store, idx, x->sips, x->n, x->now, t->pool, t,
                                              &x->added);
    }
    apr_cpystrn(x->base, ucwa_store_app(t->store, app)->base, sizeof(x->base));
    x->pairs = copy_pairs_locked(t->store, app, idx, x->now, t->pool);
    return 0;
}

int ucwa_subscriptions_memberships(ucwa_req *q, int what)
{
    apr_pool_t *p = q->r->pool;
    const char **sips = NULL;
    memberships_txn x;
    int rv, res, got, bad = 0;

    memset(&x, 0, sizeof(x));
    x.post = q->r->method_number == M_POST;
    x.now = apr_time_now();
    x.res = UCWA_SUBS_OK;
    if (x.post) {
        json_t *in = ucwa_http_input(q, &rv);   /* presenceSubscriptionId from the query */
        if (!in) {
            return rv;
        }
        x.id = ucwa_input_string(in, "presenceSubscriptionId", 64, &bad);
        if (bad || !x.id) {
            return ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest",
                                   "ParameterValidationFailure",
                                   "presenceSubscriptionId is required.");
        }
        got = addresses_of(p, in, &sips, &x.n);
        if (got != 1) {
            return bad_addresses(q, got);
        }
        x.sips = sips;
    }
    else {
        x.id = query_param(q, "presenceSubscriptionId");
    }
    if ((res = ucwa_app_txn(q, memberships_locked, &x, &rv)) < 0) {
        return rv;
    }
    if (res) {
        return not_found(q, "presence subscription");
    }
    if (x.res != UCWA_SUBS_OK) {
        return bad_addresses(q, -2);
    }
    return ucwa_http_resource(q, x.added ? HTTP_CREATED : HTTP_OK,
                              memberships(p, x.base, x.id, x.pairs));
}

/* {S}/{address} or {S},{address} (the form of Microsoft's samples) */
typedef struct {
    int del;
    const char *id, *sip;
    apr_time_t now;
    char base[UCWA_BASE_MAX];
} membership_txn;

static int membership_locked(ucwa_txn *t, int app, void *baton)
{
    membership_txn *x = baton;
    int idx = find_sub_locked(t->store, app, x->id, x->now), m = -1;

    if (idx >= 0 && x->sip) {
        m = ucwa_subs_member_find(ucwa_store_sub(t->store, idx), x->sip);
    }
    if (m < 0) {
        return 1;
    }
    apr_cpystrn(x->base, ucwa_store_app(t->store, app)->base, sizeof(x->base));
    x->id = apr_pstrdup(t->pool, ucwa_store_sub(t->store, idx)->id);
    if (x->del) {
        ucwa_subs_remove_member_locked(t->store, idx, m, x->now, t->pool, t);
    }
    return 0;
}

int ucwa_subscriptions_membership(ucwa_req *q, int what)
{
    apr_pool_t *p = q->r->pool;
    const char *rest = q->id[1] ? apr_pstrcat(p, q->id[0], "/", q->id[1], NULL) : q->id[0];
    const char *sep = rest + strcspn(rest, "/,");
    membership_txn x;
    int rv, res;

    memset(&x, 0, sizeof(x));
    x.del = q->r->method_number == M_DELETE;
    x.now = apr_time_now();
    if (!*sep) {
        return not_found(q, "membership");
    }
    x.id = apr_pstrndup(p, rest, (apr_size_t)(sep - rest));
    x.sip = ucwa_subs_address(p, sep + 1, 0);
    if ((res = ucwa_app_txn(q, membership_locked, &x, &rv)) < 0) {
        return rv;
    }
    if (res) {
        return not_found(q, "membership");
    }
    if (x.del) {
        return ucwa_http_no_content(q);
    }
    return ucwa_http_resource(q, HTTP_OK, mob_json_own(p, membership(p, x.base, x.id, x.sip)));
}

/* --- subscribedContacts ------------------------------------------------------------- */

int ucwa_subscriptions_contacts(ucwa_req *q, int what)
{
    apr_pool_t *p = q->r->pool;
    char base[UCWA_BASE_MAX];
    apr_array_header_t *pairs;
    apr_hash_t *seen = apr_hash_make(p);
    json_t *links = json_array();
    memberships_txn x;
    int rv, i;

    mob_json_own(p, links);
    memset(&x, 0, sizeof(x));
    x.now = apr_time_now();   /* GET, every subscription: the pairs and the base only */
    if (ucwa_app_txn(q, memberships_locked, &x, &rv) < 0) {
        return rv;
    }
    pairs = x.pairs;
    apr_cpystrn(base, x.base, sizeof(base));
    for (i = 0; i < pairs->nelts; i++) {
        const char *sip = APR_ARRAY_IDX(pairs, i, pair).sip;
        if (!apr_hash_get(seen, sip, APR_HASH_KEY_STRING)) {
            apr_hash_set(seen, sip, APR_HASH_KEY_STRING, "");
            json_array_append_new(links, json_pack("{s:s}", "href",
                                                   apr_psprintf(p, "%s/people/%s", base, sip)));
        }
    }
    return ucwa_http_resource(q, HTTP_OK, mob_json_own(p, json_pack(
        "{s:{s:{s:s},s:O},s:s}", "_links", "self", "href",
        apr_pstrcat(p, base, P_CONTACTS, NULL), "contact", links, "rel", "subscribedContacts")));
}

/* --- hooks of the other parts ------------------------------------------------------- */

void ucwa_subscriptions_notify_locked(ucwa_txn *t, int user, const char *what, apr_time_t now)
{
    ucwa_subs_notify_locked(t->store, user, what, now, t->pool, t);
}

void ucwa_subscriptions_app_gone_locked(ucwa_txn *t, int app)
{
    ucwa_subs_app_gone_locked(t->store, app);
}

void ucwa_subscriptions_sweep_locked(ucwa_txn *t, apr_time_t now)
{
    ucwa_subs_sweep_locked(t->store, now, t->pool, t);
}
