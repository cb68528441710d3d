#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_log.h>
#include <mod_auth.h>

#include "mod_autodiscover.h"
#include "ad_lockout.h"
#include "ad_signin.h"

APLOG_USE_MODULE(autodiscover);

const char *ad_signin_normalize(apr_pool_t *p, const char *username)
{
    char *u, *c;
    size_t n;

    if (!strncasecmp(username, "sip:", 4)) {
        username += 4;
    }
    n = strlen(username);
    if (n == 0 || n > MOB_TOKEN_USER_MAX) {
        return NULL;
    }
    u = apr_pstrdup(p, username);
    for (c = u; *c; c++) {
        /* printable ASCII or UTF-8; no separators that would confuse logs or SQL */
        if ((unsigned char)*c < 0x21 || *c == 0x7f || *c == '"' || *c == '\\') {
            return NULL;
        }
        *c = (char)apr_tolower(*c);
    }
    return u;
}

static authn_status run_providers(request_rec *r, const ad_server_conf *c, const char *user,
                                  const char *password)
{
    authn_status st = AUTH_USER_NOT_FOUND;
    int i;

    for (i = 0; i < c->providers->nelts && st == AUTH_USER_NOT_FOUND; i++) {
        const authn_provider *prov = APR_ARRAY_IDX(c->providers, i, const authn_provider *);
        apr_table_setn(r->notes, AUTHN_PROVIDER_NAME_NOTE,
                       APR_ARRAY_IDX(c->provider_names, i, const char *));
        st = prov->check_password(r, user, password);
        apr_table_unset(r->notes, AUTHN_PROVIDER_NAME_NOTE);
    }
    return st;
}

/* Failures end on a multiple of the delay after the request began: an unknown user, a
 * locked account and a wrong password (however slow the password hash) cost the same. */
static void pad_failure(request_rec *r, const ad_server_conf *c)
{
    apr_interval_time_t q = c->global->failure_delay;
    apr_time_t elapsed = apr_time_now() - r->request_time;

    if (q > 0 && elapsed >= 0) {
        apr_sleep((elapsed / q + 1) * q - elapsed);
    }
}

ad_signin_result ad_signin_check(request_rec *r, const ad_server_conf *c, const char *user,
                                 const char *password)
{
    const ad_global *g = c->global;
    authn_status st;

    if (!user) {
        /* a name that cannot be a user: a failure like any other, same cost, counted
         * against the client address */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ADLOGNO(00023)
                      "sign-in with a malformed user name failed");
        ad_lockout_failed(r, NULL, &g->account_lockout, &g->address_lockout);
        pad_failure(r, c);
        return AD_SIGNIN_FAILED;
    }
    if (ad_lockout_locked(r, user)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ADLOGNO(00020)
                      "sign-in for %s refused: locked", user);
        ad_lockout_failed(r, user, &g->account_lockout, &g->address_lockout);
        pad_failure(r, c);
        return AD_SIGNIN_FAILED;
    }
    st = run_providers(r, c, user, password);
    if (st == AUTH_GRANTED) {
        r->user = apr_pstrdup(r->pool, user);
        ad_lockout_succeeded(r, user);
        return AD_SIGNIN_OK;
    }
    if (st == AUTH_GENERAL_ERROR) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ADLOGNO(00021)
                      "sign-in for %s: the authn provider failed", user);
        return AD_SIGNIN_ERROR;
    }
    /* one message for both causes: the log must not become an enumeration oracle either */
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ADLOGNO(00022)
                  "sign-in for %s failed", user);
    ad_lockout_failed(r, user, &g->account_lockout, &g->address_lockout);
    pad_failure(r, c);
    return AD_SIGNIN_FAILED;
}
