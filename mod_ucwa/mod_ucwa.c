/* mod_ucwa: hooks; the handler checks the bearer token and the path, then dispatches
 * through the route table (ucwa_route). */
#include <httpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_optional.h>
#include <apr_strings.h>
#include <http_config.h>
#include <http_log.h>
#include <http_main.h>
#include <http_protocol.h>
#include <http_request.h>

#include "mod_autodiscover.h"
#include "mod_ucwa.h"
#include "mod_ucwa_core.h"
#include "ucwa_config.h"
#include "ucwa_conv.h"
#include "ucwa_subs.h"
#include "ucwa_events.h"
#include "ucwa_http.h"
#include "ucwa_people_db.h"
#include "ucwa_pool_db.h"
#include "ucwa_pool_relay.h"
#include "ucwa_photos.h"
#include "ucwa_push.h"
#include "ucwa_push_dispatch.h"
#include "ucwa_route.h"
#include "ucwa_shm.h"
#include "ucwa_sipd.h"
#include "ucwa_subreq.h"
#include "ucwa_synthetic.h"
#include "ucwa_watchdog.h"

#define HANDLER "ucwa"
#define POOL_HANDLER "ucwa-pool-link"
#define MAX_REVISION 2.0   /* resource revisions this server implements */

static int ucwa_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    ucwa_shm_register_mutex(pconf);
    return OK;
}

static int ucwa_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                             server_rec *s)
{
    server_rec *sp;
    int used = 0;

    for (sp = s; sp; sp = sp->next) {
        used |= ucwa_config_get(sp)->engine == 1;
    }
    if (used && !APR_RETRIEVE_OPTIONAL_FN(autodiscover_bearer_user)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, UCWALOGNO(00004)
                     "Ucwa is On but mod_autodiscover is not loaded: it issues the tokens "
                     "UCWA requests carry");
        return !OK;
    }
    if (ucwa_config_check(pconf, ptemp, s) != OK) {
        return !OK;
    }
    return ucwa_synthetic_check(pconf, ptemp, s);
}

static int ucwa_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                            server_rec *s)
{
    const ucwa_global *g = ucwa_config_get(s)->global;
    server_rec *sp;
    int used = 0, rv;

    for (sp = s; sp; sp = sp->next) {
        used |= ucwa_config_get(sp)->engine == 1;
    }
    if (!used) {
        return ucwa_sipd_post_config(pconf, s, 0);   /* one that ran is stopped */
    }
    if (ucwa_shm_post_config(pconf, s, &g->limits) != OK
        || ucwa_events_post_config(pconf, s) != OK) {
        return !OK;
    }
    ucwa_people_post_config(pconf, ptemp, s);   /* the schema, before any child starts */
    rv = ucwa_push_post_config(pconf, s);
    if (rv != OK) {
        return rv;
    }
    if (ucwa_watchdog_post_config(pconf, s) != OK || ucwa_pool_post_config(pconf, s) != OK
        || ucwa_pool_link_post_config(pconf, s) != OK) {
        return !OK;
    }
    if (ucwa_synthetic_post_config(pconf, s) != OK) {
        return !OK;
    }
    return ucwa_sipd_post_config(pconf, s, 1);   /* last: it forks */
}

static void ucwa_child_init(apr_pool_t *pchild, server_rec *s)
{
    ucwa_shm_child_init(pchild, s);
    ucwa_events_child_init(pchild, s);
    ucwa_people_child_init(pchild, s);
}

static int ucwa_translate(request_rec *r)
{
    if (ucwa_config_get(r->server)->engine != 1 || r->proxyreq) {
        return DECLINED;
    }
    if (!strncmp(r->uri, "/ucwa-pool/", 11)) {
        /* another pool's Front End relaying (signed: ucwa_pool_relay checks) */
        r->handler = POOL_HANDLER;
        r->filename = apr_pstrcat(r->pool, POOL_HANDLER ":", r->uri, NULL);
        return OK;
    }
    if (strncasecmp(r->uri, "/ucwa/", 6)) {
        return DECLINED;
    }
    r->handler = HANDLER;
    r->filename = apr_pstrcat(r->pool, HANDLER ":", r->uri, NULL);
    return OK;
}

static int ucwa_map_to_storage(request_rec *r)
{
    return (r->handler && (!strcmp(r->handler, HANDLER) || !strcmp(r->handler, POOL_HANDLER)))
           ? OK : DECLINED;
}

static int wants_xml(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");

    return accept && strcasestr(accept, "xml") && !strcasestr(accept, "json");
}

/* SetHandler ucwa-status: the store's counts and consistency, for admins (protect it
 * with Require like server-status) and for the tests. */
typedef struct {
    ucwa_store_stats st;
    ucwa_conv_stats cs;
    apr_uint32_t subs, members, push_queued, push_sending;
    const char *problem;
    const char *synthetic;         /* the last scheduled synthetic transaction, as JSON */
    const char *sip;               /* ucwa-sipd's status, or "" */
    const char *pool;              /* the pool's part, or "" */
    server_rec *server;
} status_txn;

static void status_locked(ucwa_txn *t, void *baton)
{
    status_txn *x = baton;
    const char *problem, *sub_problem, *conv_problem;

    ucwa_push_counts_locked(t->store, &x->push_queued, &x->push_sending);
    problem = ucwa_store_check_locked(t->store, &x->st, t->pool);
    sub_problem = ucwa_subs_check_locked(t->store, &x->subs, &x->members, t->pool);
    conv_problem = ucwa_conv_check_locked(t->store, &x->cs, t->pool);
    x->problem = problem ? problem : sub_problem ? sub_problem : conv_problem;
    x->synthetic = ucwa_synthetic_status_locked(t->pool, x->server, t->store);
    x->pool = ucwa_pool_status_locked(t->store, t->pool);
}

static int ucwa_status(request_rec *r)
{
    status_txn x;
    const char *problem, *body, *per_child;

    memset(&x, 0, sizeof(x));
    x.server = r->server;
    if (ucwa_txn_run(r->server, r->pool, status_locked, &x) != APR_SUCCESS) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    problem = x.problem;
    x.sip = ucwa_sipd_status(r->pool, r->server);   /* not under the store's lock */
    x.sip = x.sip ? apr_pstrcat(r->pool, ",\"sip\":", x.sip, NULL) : "";
    ucwa_events_parked_per_child(r->pool, &per_child);
    body = apr_psprintf(r->pool, "{\"applications\":%u,\"expired\":%u,\"available\":%u,"
                        "\"users\":%u,\"queuedEvents\":%u,\"parked\":%u,"
                        "\"parkedPerChild\":%s,"
                        "\"subscriptions\":%u,\"subscribedMembers\":%u,\"conversations\":%u,"
                        "\"pushQueued\":%u,\"pushSending\":%u,\"consistent\":%s%s%s%s%s%s%s}\n",
                        x.st.apps_live, x.st.apps_expired, x.st.apps_available,
                        x.st.users_live, x.st.events_queued, x.st.parked, per_child, x.subs,
                        x.members, x.cs.live, x.push_queued, x.push_sending,
                        problem ? "false" : "true",
                        problem ? ",\"problem\":\"" : "",
                        problem ? ap_escape_quotes(r->pool, problem) : "", problem ? "\"" : "",
                        x.synthetic, x.pool, x.sip);
    if (problem) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, UCWALOGNO(00006)
                      "session store inconsistent: %s", problem);
    }
    ap_set_content_type(r, "application/json");
    ap_rputs(body, r);
    return OK;
}

static int ucwa_handler(request_rec *r)
{
    APR_OPTIONAL_FN_TYPE(autodiscover_bearer_user) *bearer =
        APR_RETRIEVE_OPTIONAL_FN(autodiscover_bearer_user);
    APR_OPTIONAL_FN_TYPE(autodiscover_challenge) *challenge =
        APR_RETRIEVE_OPTIONAL_FN(autodiscover_challenge);
    const char *min_rev, *auth;
    ucwa_req q;

    if (r->handler && !strcmp(r->handler, "ucwa-status")) {
        return ucwa_status(r);
    }
    if (r->handler && !strcmp(r->handler, POOL_HANDLER)) {
        return ucwa_pool_link_handler(r);
    }
    if (!r->handler || strcmp(r->handler, HANDLER)) {
        return DECLINED;
    }
    memset(&q, 0, sizeof(q));
    q.r = r;
    q.conf = ucwa_config_get(r->server);
    if (!q.conf->server_fqdn) {
        ((ucwa_server_conf *)q.conf)->server_fqdn = ap_server_conf->server_hostname;
    }
    q.xml = wants_xml(r);
    if (!bearer || bearer(r, &q.user) != OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, UCWALOGNO(00005)
                      "no valid bearer token for %s", r->uri);
        if (challenge) {
            challenge(r);
        }
        apr_table_setn(r->err_headers_out, "X-Ms-diagnostics",
                       "28055;reason=\"The OAuth token is invalid.\"");
        return HTTP_UNAUTHORIZED;
    }
    auth = apr_table_get(r->headers_in, "Authorization");
    q.token = auth ? auth + 7 : NULL;   /* after "Bearer " */
    if (!ucwa_http_route(&q, r)) {
        return ucwa_http_error(&q, HTTP_NOT_FOUND, "NotFound", "ResourceNotFound",
                               "There is no such resource.");
    }
    min_rev = apr_table_get(r->headers_in, "X-MS-RequiresMinResourceVersion");
    if (min_rev && (atof(min_rev) > MAX_REVISION || atof(min_rev) < 0)) {
        return ucwa_http_error(&q, HTTP_NOT_FOUND, "NotFound", "APIVersionNotSupported",
                               "This server implements resource revisions up to 2.");
    }
    return ucwa_route_dispatch(&q);
}

/* Exported to mod_mcx (mod_ucwa_core.h). */
static int ucwa_core_call(request_rec *r, const char *method, const char *path,
                          apr_table_t *headers, const char *body, apr_size_t len,
                          apr_table_t *notes, ucwa_core_response *out)
{
    return ucwa_subreq_call(r, method, path, headers, body, len, notes, out);
}

static apr_status_t ucwa_core_read_body(request_rec *r, apr_size_t max, char **out,
                                        apr_size_t *len)
{
    return ucwa_http_read_body(r, max, out, len);
}

static void ucwa_register_hooks(apr_pool_t *p)
{
    static const char *const after[] = { "mod_autodiscover.c", "mod_dbd.c", NULL };
    static const char *const before[] = { "mod_dbd.c", NULL };

    APR_REGISTER_OPTIONAL_FN(ucwa_core_call);
    APR_REGISTER_OPTIONAL_FN(ucwa_core_read_body);
    ap_hook_pre_config(ucwa_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(ucwa_check_config, after, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(ucwa_post_config, after, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(ucwa_people_sqlite_child_init, NULL, before, APR_HOOK_MIDDLE);
    ap_hook_child_init(ucwa_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_status(ucwa_events_child_status, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_translate_name(ucwa_translate, NULL, NULL, APR_HOOK_FIRST);
    /* the photo cookie becomes a bearer token before the handler checks one */
    ap_hook_header_parser(ucwa_photos_cookie, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_map_to_storage(ucwa_map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(ucwa_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ucwa_sipd_register_hooks();   /* mod_status's server-status */
}

AP_DECLARE_MODULE(ucwa) = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    ucwa_config_create_server,
    ucwa_config_merge_server,
    ucwa_cmds,
    ucwa_register_hooks
};
