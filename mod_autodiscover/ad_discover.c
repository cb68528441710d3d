#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_optional.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>
#include <mod_ssl.h>

#include "mod_autodiscover.h"
#include "ad_directory.h"
#include "ad_discover.h"
#include "ad_response.h"
#include "ad_signin.h"
#include "ad_token.h"
#include "mob_discovery.h"
#include "mob_form.h"

APLOG_USE_MODULE(autodiscover);

int ad_is_https(request_rec *r)
{
    APR_OPTIONAL_FN_TYPE(ssl_is_https) *is_https = APR_RETRIEVE_OPTIONAL_FN(ssl_is_https);

    return is_https && is_https(r->connection);
}

/* The SIP domain the client asked about: originalDomain, Domain, sipuri's domain, or
 * the lyncdiscover host name. *bad is set for a malformed one. */
static const char *request_domain(request_rec *r, apr_table_t *q, int *bad)
{
    const char *d = apr_table_get(q, "originalDomain");
    const char *sipuri;

    *bad = 0;
    if (!d) {
        d = apr_table_get(q, "Domain");
    }
    if (!d && (sipuri = apr_table_get(q, "sipuri")) != NULL) {
        const char *at = strrchr(sipuri, '@');
        if (!at) {
            *bad = 1;
            return NULL;
        }
        d = at + 1;
    }
    if (!d) {
        d = mob_route_discovery_domain(r->hostname);
    }
    if (d && !mob_valid_fqdn(d)) {
        *bad = 1;
        return NULL;
    }
    return d ? apr_pstrdup(r->pool, d) : NULL;
}

static int send_doc(request_rec *r, const mob_doc *d, mob_format f)
{
    apr_size_t len = 0;
    const char *body = mob_discovery_render(r->pool, d, f, &len);

    if (!body) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ADLOGNO(00050)
                      "could not render the discovery document");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return ad_response_send(r, HTTP_OK, mob_format_content_type(f), body, len);
}

/* The authenticated user, from a bearer token or (where offered) Basic; otherwise the
 * 401 (or 403 for credentials over plain HTTP on the external site) is already sent. */
static int authenticate(request_rec *r, const ad_server_conf *c, mob_resource res,
                        mob_format f, const char **user)
{
    int basic = c->basic_auth == 1 && res == MOB_RES_USER;
    const char *why = NULL, *h = apr_table_get(r->headers_in, "Authorization");
    int rv;

    if (h && c->site == MOB_SITE_EXTERNAL && !ad_is_https(r) && c->http_credentials != 1) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ADLOGNO(00051)
                      "credentials refused over plain HTTP on the external site");
        return ad_response_error(r, HTTP_FORBIDDEN, f, "Forbidden",
                                 "Credentials are accepted over HTTPS only.");
    }
    rv = ad_token_bearer(r, c, user, &why);
    if (rv == OK) {
        return OK;
    }
    if (rv == HTTP_UNAUTHORIZED) {
        apr_table_setn(r->err_headers_out, "X-Ms-diagnostics",
                       apr_psprintf(r->pool, "28055;source=\"%s\";reason=\"%s\"",
                                    c->server_fqdn, why));
        return ad_response_unauthorized(r, c, basic);
    }
    if (basic && h && !strncasecmp(h, "Basic ", 6)) {
        const char *name = NULL, *pw = NULL, *u;
        if (ap_get_basic_auth_components(r, &name, &pw) == APR_SUCCESS) {
            ad_signin_result sr;
            u = ad_signin_normalize(r->pool, name);
            sr = ad_signin_check(r, c, u, pw);
            if (sr == AD_SIGNIN_OK) {
                *user = u;
                return OK;
            }
            if (sr == AD_SIGNIN_ERROR) {
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
        return ad_response_unauthorized(r, c, basic);
    }
    return ad_response_unauthorized(r, c, basic);
}

int ad_discover_handle(request_rec *r, const ad_server_conf *c, mob_resource res)
{
    mob_format f = mob_negotiate(apr_table_get(r->headers_in, "Accept"));
    apr_table_t *query;
    const char *why = NULL, *user = NULL;
    mob_discovery_req q;
    const mob_pool *home;
    int bad, rv;

    if (r->method_number != M_GET) {
        r->allowed = AP_METHOD_BIT << M_GET;
        apr_table_setn(r->err_headers_out, "Allow", "GET, HEAD");
        return ad_response_error(r, HTTP_METHOD_NOT_ALLOWED, f ? f : MOB_FMT_HAL_JSON,
                                 "MethodNotAllowed", "Only GET is supported here.");
    }
    if (f == MOB_FMT_NONE) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ADLOGNO(00052)
                      "no acceptable representation for Accept: %.200s",
                      apr_table_get(r->headers_in, "Accept"));
        return ad_response_error(r, HTTP_NOT_ACCEPTABLE, MOB_FMT_HAL_JSON, "NotAcceptable",
                                 "Acceptable types: application/json, "
                                 "application/vnd.microsoft.rtc.autodiscover+xml;v=1, "
                                 "application/vnd.microsoft.rtc.autodiscover+json;v=1.");
    }
    if (mob_form_parse(r->pool, r->args ? r->args : "", r->args ? strlen(r->args) : 0,
                       MOB_FORM_LENIENT, &query, &why) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ADLOGNO(00053) "bad query string: %s", why);
        return ad_response_error(r, HTTP_BAD_REQUEST, f, "BadRequest", "Malformed query string.");
    }
    q.local = c->local_pool;
    q.site = (mob_site)c->site;
    q.domain = request_domain(r, query, &bad);
    if (bad) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ADLOGNO(00054) "malformed domain in query");
        return ad_response_error(r, HTTP_BAD_REQUEST, f, "BadRequest", "Malformed domain.");
    }
    switch (res) {
    case MOB_RES_ROOT:
        return send_doc(r, mob_discovery_root(r->pool, &q), f);
    case MOB_RES_DOMAIN: {
        const mob_sipdomain *d = q.domain ? mob_topology_domain(c->global->topology, q.domain)
                                          : NULL;
        home = d ? mob_topology_pool(c->global->topology, d->pool) : c->local_pool;
        return send_doc(r, mob_discovery_domain(r->pool, &q, home), f);
    }
    case MOB_RES_USER:
    case MOB_RES_OAUTH_USER:
        rv = authenticate(r, c, res, f, &user);
        if (rv != OK || !user) {
            return rv;
        }
        rv = ad_directory_home_pool(r, c, user, &home);
        if (rv == HTTP_NOT_FOUND) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ADLOGNO(00055)
                          "%s signed in but is not in the directory", user);
            return ad_response_error(r, HTTP_NOT_FOUND, f, "NotFound",
                                     "The user is not enabled for this service.");
        }
        if (rv != OK) {
            return rv;
        }
        if (home->role == MOB_ROLE_DIRECTOR) {
            /* users are homed on Front End pools; a redirect there would loop */
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ADLOGNO(00056)
                          "the directory homes %s on %s, a Director: home users on a Front End "
                          "pool (AutodiscoverDirectoryQuery, or the pool of "
                          "AutodiscoverSipDomain)", user, home->fqdn);
            return ad_response_error(r, HTTP_NOT_FOUND, f, "NotFound",
                                     "The user is not enabled for this service.");
        }
        return send_doc(r, mob_discovery_user(r->pool, &q, home, res == MOB_RES_OAUTH_USER), f);
    default:
        return DECLINED;
    }
}
