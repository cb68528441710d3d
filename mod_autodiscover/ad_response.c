#include <httpd.h>
#include <string.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "mod_autodiscover.h"
#include "ad_response.h"
#include "mob_json.h"
#include "mob_discovery.h"

#define GRANT_TYPES "password"

void ad_response_headers(request_rec *r, const ad_server_conf *c)
{
    apr_table_t *h = r->err_headers_out;

    apr_table_setn(h, "X-MS-Server-Fqdn", c->server_fqdn);
    apr_table_setn(h, "Cache-Control", "no-cache");
    apr_table_setn(h, "Pragma", "no-cache");
    apr_table_setn(h, "Expires", "-1");
    apr_table_setn(h, "X-Content-Type-Options", "nosniff");
}

int ad_response_send(request_rec *r, int status, const char *ctype, const char *body,
                     apr_size_t len)
{
    r->status = status;
    ap_set_content_type(r, ctype);
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only) {
        ap_rwrite(body, (int)len, r);
    }
    return OK;
}

int ad_response_oauth_error(request_rec *r, const ad_server_conf *c, const char *error,
                            int diag_code, const char *reason)
{
    const char *body = apr_psprintf(r->pool, "{\"error\":\"%s\"}", error);

    apr_table_setn(r->err_headers_out, "X-Ms-diagnostics",
                   apr_psprintf(r->pool, "%d;source=\"%s\";reason=\"%s\"", diag_code,
                                c->server_fqdn, reason));
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    return ad_response_send(r, HTTP_BAD_REQUEST, "application/json; charset=utf-8", body,
                            strlen(body));
}

int ad_response_error(request_rec *r, int status, mob_format f, const char *code,
                      const char *message)
{
    const char *body;

    if (f == MOB_FMT_AD_XML || f == MOB_FMT_UCWA_XML) {
        body = apr_psprintf(r->pool, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                            "<reason xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\">"
                            "<code>%s</code><message>%s</message></reason>\n",
                            code, ap_escape_html(r->pool, message));
        return ad_response_send(r, status, f == MOB_FMT_AD_XML ? mob_format_content_type(f)
                                : "application/xml; charset=utf-8", body, strlen(body));
    }
    body = mob_json_dump(r->pool, mob_json_own(r->pool, json_pack("{s:s,s:s}", "code", code,
                                                                  "message", message)), NULL);
    return ad_response_send(r, status, "application/json; charset=utf-8", body, strlen(body));
}

void ad_response_challenge(request_rec *r, const ad_server_conf *c, int offer_basic)
{
    const mob_pool *pool = c->local_pool;
    const char *base = c->site == MOB_SITE_INTERNAL ? pool->internal_url : pool->external_url;
    const mob_sipdomain *d = APR_ARRAY_IDX(c->global->topology->domains, 0, const mob_sipdomain *);

    /* no href in the Bearer challenge: some clients take the first href= of all headers */
    apr_table_addn(r->err_headers_out, "WWW-Authenticate",
                   apr_psprintf(r->pool, "Bearer trusted_issuers=\"00000002-0000-0ff1-ce00-"
                                "000000000000@%s\", client_id=\"00000004-0000-0ff1-ce00-"
                                "000000000000\"", d->domain));
    apr_table_addn(r->err_headers_out, "WWW-Authenticate",
                   apr_psprintf(r->pool, "MsRtcOAuth href=\"%s" MOB_WEBTICKET_OAUTH
                                "\",grant_type=\"" GRANT_TYPES "\"", base));
    if (offer_basic) {
        apr_table_addn(r->err_headers_out, "WWW-Authenticate",
                       apr_psprintf(r->pool, "Basic realm=\"%s\"", c->local_pool->fqdn));
    }
    apr_table_setn(r->err_headers_out, "X-MS-WebTicketURL",
                   apr_pstrcat(r->pool, base, MOB_WEBTICKET_SVC, NULL));
}

int ad_response_unauthorized(request_rec *r, const ad_server_conf *c, int offer_basic)
{
    static const char page[] =
        "<!DOCTYPE html>\n<html><head><title>401 - Unauthorized: Access is denied due to "
        "invalid credentials.</title></head>\n<body><h1>401 - Unauthorized</h1>\n"
        "<p>You do not have permission to view this resource using the credentials that "
        "you supplied.</p></body></html>\n";

    ad_response_challenge(r, c, offer_basic);
    return ad_response_send(r, HTTP_UNAUTHORIZED, "text/html", page, sizeof(page) - 1);
}
