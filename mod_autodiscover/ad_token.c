#include <httpd.h>
#include <strings.h>
#include <apr_lib.h>
#include <http_log.h>

#include "mod_autodiscover.h"
#include "ad_token.h"

APLOG_USE_MODULE(autodiscover);

const char *ad_token_issue(request_rec *r, const ad_server_conf *c, const char *user)
{
    const mob_token_key *key = &APR_ARRAY_IDX(c->global->keys, 0, mob_token_key);

    return mob_token_issue(r->pool, key, user, apr_time_now(), c->global->token_lifetime);
}

int ad_token_bearer(request_rec *r, const ad_server_conf *c, const char **user,
                    const char **why)
{
    const char *h = apr_table_get(r->headers_in, "Authorization");
    mob_token_claims claims;
    apr_status_t rv;

    if (!h || strncasecmp(h, "Bearer", 6) || (h[6] != ' ' && h[6] != '\t')) {
        return DECLINED;
    }
    h += 6;
    while (*h == ' ' || *h == '\t') {
        h++;
    }
    rv = mob_token_verify(r->pool, c->global->keys, h, apr_time_now(), &claims);
    if (rv == APR_TIMEUP) {
        *why = "The OAuth token has expired.";
        return HTTP_UNAUTHORIZED;
    }
    if (rv != APR_SUCCESS) {
        *why = "The OAuth token is invalid.";
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ADLOGNO(00040)
                      "rejected a forged or malformed bearer token");
        return HTTP_UNAUTHORIZED;
    }
    *user = claims.user;
    return OK;
}
