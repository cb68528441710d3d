/* mod_autodiscover: hooks. Requests for the Autodiscover and WebTicket resources are
 * recognised at translate_name (case-insensitively, as IIS does), so admins only switch
 * the service on per virtual host ("Autodiscover On") instead of writing Locations. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "mod_autodiscover.h"
#include "ad_config.h"
#include "ad_directory.h"
#include "ad_discover.h"
#include "ad_lockout.h"
#include "ad_response.h"
#include "ad_token.h"
#include "ad_webticket.h"
#include "mob_discovery.h"
#include "mob_route.h"

#define HANDLER "autodiscover"
#define NOTE_RESOURCE "autodiscover-resource"

static int ad_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    ad_lockout_register_mutex(pconf);
    return OK;
}

static int ad_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                           server_rec *s)
{
    return ad_config_check(pconf, ptemp, s);
}

static int ad_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                          server_rec *s)
{
    const ad_global *g = ad_config_get(s)->global;
    int rv = ad_lockout_post_config(pconf, s, g->lockout_entries);

    if (rv == OK && g->lockout_store == AD_LOCKOUT_DBD) {
        ad_lockout_make_table(ptemp, s);
    }
    return rv;
}

static void ad_child_init(apr_pool_t *pchild, server_rec *s)
{
    ad_lockout_child_init(pchild, s);
}

static int ad_translate(request_rec *r)
{
    const ad_server_conf *c = ad_config_get(r->server);
    mob_resource res;

    if (c->engine != 1 || r->proxyreq) {
        return DECLINED;
    }
    res = mob_route(r->uri, mob_route_discovery_domain(r->hostname) != NULL);
    if (res == MOB_RES_NONE) {
        return DECLINED;
    }
    if (res == MOB_RES_XFRAME) {
        /* a static page from htdocs, whatever the spelling or alias used */
        r->uri = apr_pstrdup(r->pool, MOB_AD_XFRAME_PATH);
        return DECLINED;
    }
    r->handler = HANDLER;
    r->filename = apr_pstrcat(r->pool, HANDLER ":", r->uri, NULL);
    apr_table_setn(r->notes, NOTE_RESOURCE, apr_itoa(r->pool, (int)res));
    return OK;
}

static int ad_map_to_storage(request_rec *r)
{
    /* no file behind these resources: skip the filesystem walk */
    return (r->handler && !strcmp(r->handler, HANDLER)) ? OK : DECLINED;
}

static int ad_handler(request_rec *r)
{
    const ad_server_conf *c;
    const char *note;
    mob_resource res;

    if (!r->handler || strcmp(r->handler, HANDLER)) {
        return DECLINED;
    }
    note = apr_table_get(r->notes, NOTE_RESOURCE);
    if (!note) {
        return DECLINED;
    }
    c = ad_config_get(r->server);
    res = (mob_resource)atoi(note);
    ad_response_headers(r, c);
    if (res == MOB_RES_TOKEN) {
        return ad_webticket_handle(r, c);
    }
    return ad_discover_handle(r, c, res);
}

/* Optional functions for mod_ucwa and mod_mcx. */
static int autodiscover_bearer_user(request_rec *r, const char **user)
{
    const char *why;
    int rv = ad_token_bearer(r, ad_config_get(r->server), user, &why);

    return rv == OK ? OK : HTTP_UNAUTHORIZED;
}

static int autodiscover_home_pool(request_rec *r, const char *user, const char **pool)
{
    const mob_pool *p = NULL;
    int rv = ad_directory_home_pool(r, ad_config_get(r->server), user, &p);

    *pool = p ? p->fqdn : NULL;
    return rv;
}

static const char *autodiscover_local_pool(request_rec *r)
{
    const ad_server_conf *c = ad_config_get(r->server);

    return c->local_pool ? c->local_pool->fqdn : NULL;
}

static int autodiscover_site(request_rec *r)
{
    return ad_config_get(r->server)->site;
}

static const char *autodiscover_server_pool(server_rec *s)
{
    const ad_server_conf *c = ad_config_get(s);

    /* resolved only where Autodiscover is On; the main server has the name */
    return c->local_pool ? c->local_pool->fqdn : c->local_pool_name;
}

static void autodiscover_challenge(request_rec *r)
{
    const ad_server_conf *c = ad_config_get(r->server);

    if (c->local_pool) {
        ad_response_challenge(r, c, 0);
    }
}

static void ad_register_hooks(apr_pool_t *p)
{
    static const char *const after_dbd[] = { "mod_dbd.c", "mod_authn_core.c", NULL };

    ap_hook_pre_config(ad_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(ad_check_config, after_dbd, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(ad_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(ad_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_translate_name(ad_translate, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_map_to_storage(ad_map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(ad_handler, NULL, NULL, APR_HOOK_MIDDLE);
    APR_REGISTER_OPTIONAL_FN(autodiscover_bearer_user);
    APR_REGISTER_OPTIONAL_FN(autodiscover_home_pool);
    APR_REGISTER_OPTIONAL_FN(autodiscover_local_pool);
    APR_REGISTER_OPTIONAL_FN(autodiscover_server_pool);
    APR_REGISTER_OPTIONAL_FN(autodiscover_challenge);
    APR_REGISTER_OPTIONAL_FN(autodiscover_site);
}

AP_DECLARE_MODULE(autodiscover) = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    ad_config_create_server,
    ad_config_merge_server,
    ad_cmds,
    ad_register_hooks
};
