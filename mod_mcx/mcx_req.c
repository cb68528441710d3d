#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_optional.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mcx_req.h"
#include "mob_json.h"
#include "mod_ucwa_core.h"

APLOG_USE_MODULE(mcx);

#define XML_TYPE "text/xml; charset=utf-8"

const char *mcx_app_path(mcx_req *m, const char *sub)
{
    return apr_pstrcat(m->r->pool, m->app, sub, NULL);
}

static int call(mcx_req *m, const char *method, const char *path, const char *ctype,
                const char *body, apr_size_t len, apr_table_t *notes, mcx_res *res)
{
    APR_OPTIONAL_FN_TYPE(ucwa_core_call) *core = APR_RETRIEVE_OPTIONAL_FN(ucwa_core_call);
    apr_table_t *h = apr_table_copy(m->r->pool, m->headers);
    ucwa_core_response out;
    int rv;

    memset(res, 0, sizeof(*res));
    if (!core) {
        return 0;
    }
    if (ctype) {
        apr_table_setn(h, "Content-Type", ctype);
    }
    rv = core(m->r, method, path, h, body, len, notes, &out);
    if (rv != OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, m->r, MCXLOGNO(00010)
                      "%s %s: the UCWA core could not answer (%d)%s", method, path, rv,
                      rv == HTTP_NOT_FOUND ? ": is Ucwa On on this site?" : "");
        return 0;
    }
    res->status = out.status;
    res->headers = out.headers;
    res->body = out.body;
    if (out.len && out.content_type && strstr(out.content_type, "json")) {
        res->json = mob_json_own(m->r->pool, json_loadb(out.body, out.len, 0, NULL));
    }
    return res->status;
}

int mcx_ucwa(mcx_req *m, const char *method, const char *path, json_t *body,
             apr_table_t *notes, mcx_res *res)
{
    const char *text = NULL;
    apr_size_t len = 0;

    if (body) {
        text = mob_json_dump(m->r->pool, body, &len);
    }
    return call(m, method, path, body ? "application/json" : NULL, text, len, notes, res);
}

int mcx_ucwa_text(mcx_req *m, const char *method, const char *path, const char *ctype,
                  const char *text, mcx_res *res)
{
    return call(m, method, path, ctype, text, text ? strlen(text) : 0, NULL, res);
}

static int write_xml(mcx_req *m, int status, const char *body, apr_size_t len)
{
    request_rec *r = m->r;

    r->status = status;
    ap_set_content_type(r, XML_TYPE);
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-cache");
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only) {
        ap_rwrite(body, (int)len, r);
    }
    return OK;
}

int mcx_fault(mcx_req *m, int http, const char *code, int ucwa_status, const char *message)
{
    apr_size_t len = 0;
    int client = strcmp(code, "ServiceBusy") && strcmp(code, "ServiceFailure");
    const char *body = mcx_soap_fault(m->r->pool, client, code, ucwa_status, message, &len);

    /* a busy server is load, not a fault of ours: only ServiceFailure is a warning */
    ap_log_rerror(APLOG_MARK, strcmp(code, "ServiceFailure") ? APLOG_INFO : APLOG_WARNING, 0,
                  m->r, MCXLOGNO(00011)
                  "%s: fault %s (%s)", m->in.op ? m->in.op : "request", code, message);
    if (!body) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return write_xml(m, http, body, len);
}

static const char *ucwa_message(const mcx_res *res, const char *fallback)
{
    const json_t *v = res->json ? json_object_get(res->json, "message") : NULL;

    return json_is_string(v) ? json_string_value(v) : fallback;
}

static int copy_challenge(void *rec, const char *key, const char *value)
{
    apr_table_add(rec, key, value);
    return 1;
}

int mcx_fault_ucwa(mcx_req *m, const mcx_res *res)
{
    const json_t *sc = res->json ? json_object_get(res->json, "subcode") : NULL;
    const char *sub = json_is_string(sc) ? json_string_value(sc) : "";
    const char *h;

    switch (res->status) {
    case 0:
        return mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "ServiceFailure", 0,
                         "The mobility service is not available on this site.");
    case HTTP_UNAUTHORIZED:
        if (res->headers) {
            /* every challenge (the token service's, and Bearer) */
            apr_table_do(copy_challenge, m->r->err_headers_out, res->headers,
                         "WWW-Authenticate", NULL);
        }
        return mcx_fault(m, HTTP_UNAUTHORIZED, "Unauthorized", 401,
                         "Sign in with a web ticket from the WebTicket service.");
    case HTTP_FORBIDDEN:
        if (!strcmp(sub, "MobileApplicationNoLongerAllowed")) {
            return mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "MobilityDisabled", 403,
                             "Your organization does not allow mobile clients for your "
                             "account. Contact your administrator.");
        }
        if (!strcmp(sub, "ProviderDisabled") || !strcmp(sub, "PushNotificationsDisabled")) {
            return mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "NotSupported", 403,
                             ucwa_message(res, "Push notifications are not available."));
        }
        break;
    case HTTP_NOT_FOUND:
        if (!strcmp(sub, "ApplicationNotFound")) {
            return mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "SessionNotFound", 404,
                             "There is no such session. Sign in again.");
        }
        return mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "NotFound", 404,
                         ucwa_message(res, "There is no such item."));
    case HTTP_GONE:
        if (!strcmp(sub, "TooManyApplications")) {
            return mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "TooManySessions", 410,
                             "You are signed in on too many devices.");
        }
        return mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "SessionExpired", 410,
                         "The session expired after a period of inactivity. Sign in again.");
    case HTTP_CONFLICT:
        return mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "Conflict", 409,
                         ucwa_message(res, "Not possible now."));
    case HTTP_REQUEST_ENTITY_TOO_LARGE:
        return mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "MessageTooLarge", 413,
                         ucwa_message(res, "The message is too long."));
    case HTTP_BAD_REQUEST:
    case HTTP_UNSUPPORTED_MEDIA_TYPE:
        return mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "InvalidParameter", res->status,
                         ucwa_message(res, "A value is not valid."));
    case HTTP_SERVICE_UNAVAILABLE:
    case HTTP_TOO_MANY_REQUESTS:
        h = res->headers ? apr_table_get(res->headers, "Retry-After") : NULL;
        apr_table_setn(m->r->err_headers_out, "Retry-After", h ? h : "30");
        return mcx_fault(m, HTTP_SERVICE_UNAVAILABLE, "ServiceBusy", res->status,
                         "The server is busy. Try again later.");
    default:
        break;
    }
    return mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "ServiceFailure", res->status,
                     ucwa_message(res, "The request failed."));
}

int mcx_send(mcx_req *m, mcx_out *o)
{
    apr_size_t len = 0;
    const char *body = mcx_out_finish(o, &len);

    if (!body) {
        return mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "ServiceFailure", 0,
                         "The answer could not be written.");
    }
    return write_xml(m, HTTP_OK, body, len);
}

const char *mcx_need(mcx_req *m, const char *name, apr_size_t max, int *rv)
{
    const char *v = mcx_field(&m->in, name);

    if (!v || !*v || strlen(v) > 4 * max) {
        *rv = mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "InvalidParameter", 0,
                        apr_psprintf(m->r->pool, "%s is required (at most %" APR_SIZE_T_FMT
                                     " characters).", name, max));
        return NULL;
    }
    return v;
}

int mcx_ok(const mcx_res *res)
{
    return res->status >= 200 && res->status < 300;
}

/* A contact's availability and note as UCWA gives them (presence: its href). */
void mcx_presence_of(mcx_req *m, const char *presence, const char **av, const char **note)
{
    mcx_res res;
    size_t n = presence ? strlen(presence) : 0;

    *av = "Offline";
    if (note) {
        *note = NULL;
    }
    if (!n) {
        return;
    }
    if (mcx_ok((mcx_ucwa(m, "GET", presence, NULL, NULL, &res), &res))
        && mob_json_str(res.json, "availability")) {
        *av = mob_json_str(res.json, "availability");
    }
    if (note && n > 9 && !strcmp(presence + n - 9, "/presence")) {
        const char *nh = apr_pstrcat(m->r->pool, apr_pstrmemdup(m->r->pool, presence, n - 9),
                                     "/note", NULL);
        if (mcx_ok((mcx_ucwa(m, "GET", nh, NULL, NULL, &res), &res))) {
            *note = mob_json_str(res.json, "message");
        }
    }
}
