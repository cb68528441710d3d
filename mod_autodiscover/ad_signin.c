#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_log.h>
#include <mod_auth.h>
#include <util_cookies.h>

#include "mob_dbd.h"
#include "mod_autodiscover.h"
#include "ad_discover.h"
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

    if (mob_dbd_config(r->server)) {
        /* the request's connection, with mod_dbd's statements valid, before
         * mod_authn_dbd takes the same one */
        mob_dbd_acquire(r);
    }
    for (i = 0; i < c->providers->nelts && st == AUTH_USER_NOT_FOUND; i++) {
        const authn_provider *prov = APR_ARRAY_IDX(c->providers, i, const authn_provider *);
        apr_table_setn(r->notes, AUTHN_PROVIDER_NAME_NOTE,
                       APR_ARRAY_IDX(c->provider_names, i, const char *));
        st = prov->check_password(r, user, password);
        apr_table_unset(r->notes, AUTHN_PROVIDER_NAME_NOTE);
    }
    return st;
}

/* The device identity: a random value a successful sign-in gives the client in a
 * cookie, which it sends back with its next sign-ins. The token endpoint's form carries
 * nothing that names the device (grant_type, username, password, scope), and what a
 * client says of itself (User-Agent) an attacker can copy; this value he cannot guess.
 * Only its keyed hash is kept, in the account's list of familiar origins. */
#define DEVICE_COOKIE "MobilityDevice"
#define DEVICE_ID_BYTES 16
#define DEVICE_MAX_AGE (90 * 24 * 3600)

/* The device identity the request carries, or NULL when it carries none that we could
 * have given (any other value is ignored). */
static const char *device_of(request_rec *r)
{
    const char *v = NULL;
    size_t i;

    if (ap_cookie_read(r, DEVICE_COOKIE, &v, 0) != APR_SUCCESS || !v
        || strlen(v) != 2 * DEVICE_ID_BYTES) {
        return NULL;
    }
    for (i = 0; v[i]; i++) {
        if (!apr_isxdigit(v[i]) || apr_isupper(v[i])) {
            return NULL;
        }
    }
    return v;
}

/* After a success: the client keeps (or gets) its device identity. */
static const char *give_device(request_rec *r, const char *device)
{
    unsigned char raw[DEVICE_ID_BYTES];
    char *hex;

    if (!device) {
        if (apr_generate_random_bytes(raw, sizeof(raw)) != APR_SUCCESS) {
            return NULL;
        }
        hex = apr_palloc(r->pool, 2 * DEVICE_ID_BYTES + 1);
        ap_bin2hex(raw, sizeof(raw), hex);
        device = hex;
    }
    apr_table_addn(r->err_headers_out, "Set-Cookie",
                   apr_psprintf(r->pool, DEVICE_COOKIE "=%s; Path=/; Max-Age=%d; HttpOnly; "
                                "SameSite=Strict%s", device, DEVICE_MAX_AGE,
                                ad_is_https(r) ? "; Secure" : ""));
    return device;
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
    const char *device = device_of(r);
    authn_status st;

    if (!user) {
        /* a name that cannot be a user: a failure like any other, same cost, counted
         * against the client address */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ADLOGNO(00023)
                      "sign-in with a malformed user name failed");
        ad_lockout_failed(r, NULL, NULL, NULL, &g->account_lockout, &g->address_lockout);
        pad_failure(r, c);
        return AD_SIGNIN_FAILED;
    }
    if (ad_lockout_locked(r, user, device)) {
        /* not a failure: it neither counts nor extends the lock, so a phone that keeps
         * retrying gets in once the lock has run out */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ADLOGNO(00020)
                      "sign-in for %s refused: locked", user);
        pad_failure(r, c);
        return AD_SIGNIN_FAILED;
    }
    st = run_providers(r, c, user, password);
    if (st == AUTH_GRANTED) {
        r->user = apr_pstrdup(r->pool, user);
        ad_lockout_succeeded(r, user, give_device(r, device));
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
    ad_lockout_failed(r, user, device, password, &g->account_lockout, &g->address_lockout);
    pad_failure(r, c);
    return AD_SIGNIN_FAILED;
}
