#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_autodiscover.h"
#include "ad_discover.h"
#include "ad_response.h"
#include "ad_signin.h"
#include "ad_token.h"
#include "ad_webticket.h"
#include "mob_form.h"
#include "mob_json.h"

APLOG_USE_MODULE(autodiscover);

/* Reads at most AD_TOKEN_BODY_MAX bytes; APR_EINVAL if the body is larger. */
static apr_status_t read_body(request_rec *r, char **out, apr_size_t *len)
{
    char *buf = apr_palloc(r->pool, AD_TOKEN_BODY_MAX + 1);
    apr_size_t n = 0;
    long got;

    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK) {
        return APR_EGENERAL;
    }
    if (r->remaining > AD_TOKEN_BODY_MAX) {
        return APR_EINVAL;
    }
    if (ap_should_client_block(r)) {
        while ((got = ap_get_client_block(r, buf + n, AD_TOKEN_BODY_MAX + 1 - n)) > 0) {
            n += (apr_size_t)got;
            if (n > AD_TOKEN_BODY_MAX) {
                return APR_EINVAL;
            }
        }
        if (got < 0) {
            return APR_EGENERAL;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return APR_SUCCESS;
}

static int is_form(const char *ctype)
{
    static const char form[] = "application/x-www-form-urlencoded";

    return ctype && !strncasecmp(ctype, form, sizeof(form) - 1)
           && (ctype[sizeof(form) - 1] == '\0' || ctype[sizeof(form) - 1] == ';'
               || ctype[sizeof(form) - 1] == ' ');
}

static int invalid(request_rec *r, const ad_server_conf *c, const char *what)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ADLOGNO(00060) "token request refused: %s", what);
    return ad_response_oauth_error(r, c, "invalid_request", 28020, "No valid security token.");
}

int ad_webticket_handle(request_rec *r, const ad_server_conf *c)
{
    apr_table_t *form;
    char *body;
    apr_size_t len;
    const char *why, *grant, *scope, *username, *password, *user, *token, *out;
    apr_status_t rv;
    json_t *j;

    if (r->method_number == M_OPTIONS) {
        /* what Lync 2013 answers to a CORS preflight here */
        return invalid(r, c, "OPTIONS");
    }
    if (r->method_number != M_POST) {
        r->allowed = AP_METHOD_BIT << M_POST;
        apr_table_setn(r->err_headers_out, "Allow", "POST");
        return ad_response_send(r, HTTP_METHOD_NOT_ALLOWED, "application/json; charset=utf-8",
                                "{\"error\":\"invalid_request\"}", 27);
    }
    if (c->site == MOB_SITE_EXTERNAL && !ad_is_https(r) && c->http_credentials != 1) {
        return invalid(r, c, "credentials over plain HTTP on the external site");
    }
    if (!is_form(apr_table_get(r->headers_in, "Content-Type"))) {
        return invalid(r, c, "not application/x-www-form-urlencoded");
    }
    rv = read_body(r, &body, &len);
    if (rv == APR_EINVAL) {
        return invalid(r, c, "body too large");
    }
    if (rv != APR_SUCCESS) {
        return invalid(r, c, "body could not be read");
    }
    if (mob_form_parse(r->pool, body, len, MOB_FORM_STRICT, &form, &why) != APR_SUCCESS) {
        return invalid(r, c, why);
    }
    grant = apr_table_get(form, "grant_type");
    if (!grant) {
        return invalid(r, c, "no grant_type");
    }
    if (strcmp(grant, "password") != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ADLOGNO(00061)
                      "unsupported grant_type '%.100s'", grant);
        return ad_response_oauth_error(r, c, "unsupported_grant_type", 28029,
                                       "Authentication type not allowed.");
    }
    scope = apr_table_get(form, "scope");
    if (scope && strcmp(scope, "all") != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ADLOGNO(00062) "invalid scope");
        return ad_response_oauth_error(r, c, "invalid_scope", 28020, "Invalid scope.");
    }
    username = apr_table_get(form, "username");
    password = apr_table_get(form, "password");
    if (!username || !*username || !password || !*password) {
        return invalid(r, c, "username or password missing");
    }
    user = ad_signin_normalize(r->pool, username);
    switch (ad_signin_check(r, c, user, password)) {
    case AD_SIGNIN_OK:
        break;
    case AD_SIGNIN_ERROR:
        return ad_response_oauth_error(r, c, "server_error", 28032, "Sign-in is unavailable.");
    default:
        return ad_response_oauth_error(r, c, "invalid_grant", 28020, "No valid security token.");
    }
    token = ad_token_issue(r, c, user);
    if (!token) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ADLOGNO(00063) "could not sign a token");
        return ad_response_oauth_error(r, c, "server_error", 28032, "Sign-in is unavailable.");
    }
    j = mob_json_own(r->pool, json_pack("{s:s,s:I,s:s,s:s}", "access_token", token,
                                        "expires_in", (json_int_t)apr_time_sec(c->global->token_lifetime),
                                        "ms_rtc_identityscope", "local", "token_type", "Bearer"));
    out = mob_json_dump(r->pool, j, &len);
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ADLOGNO(00064) "issued a token to %s", user);
    return ad_response_send(r, HTTP_OK, "application/json; charset=utf-8", out, len);
}
